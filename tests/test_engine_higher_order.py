"""Derivatives as values: ``grad`` to third order for every op row against closed forms,
Hessians against finite differences of the gradient (random expressions, a small MLP),
``jvp`` against the reverse-mode gradient, and the rules around them (float() refused while
a derivative's graph is built, comparisons and bool on .data, no Value.zero_grad)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import OPS, Value, grad, hessian, hvp, jvp
from autograd.functional import local_values
from autograd.ops import BUILTINS

LN2, LN10 = math.log(2.0), math.log(10.0)


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def derivatives(f, x: float, order: int = 3):
    """f(x) and its first ``order`` derivatives, by grad with create_graph, as floats."""
    v = Value(x)
    d = f(v)
    out = [d.data]
    for _ in range(order):
        d = grad(d, [v], create_graph=True)[0]
        out.append(d.data)
    return out


def _tanh(x):
    t = math.tanh(x)
    return [t, 1 - t * t, -2 * t * (1 - t * t), -2 * (1 - t * t) * (1 - 3 * t * t)]


def _sigmoid(x):
    s = _sig(x)
    return [s, s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s)]


def _tan(x):
    t = math.tan(x)
    return [t, 1 + t * t, 2 * t * (1 + t * t), (1 + t * t) * (2 + 6 * t * t)]


def _atan(x):
    q = 1 + x * x
    return [math.atan(x), 1 / q, -2 * x / q ** 2, (6 * x * x - 2) / q ** 3]


def _power(k):
    return lambda x: [x ** k, k * x ** (k - 1), k * (k - 1) * x ** (k - 2),
                      k * (k - 1) * (k - 2) * x ** (k - 3)]


ANY = [-1.7, -0.4, 0.3, 1.2]
POS = [0.3, 1.0, 2.5]

# (id, op row, the engine's f, closed forms [f, f', f'', f'''], points)
UNARY = [
    ("neg", "neg", lambda v: -v, lambda x: [-x, -1, 0, 0], ANY),
    ("exp", "exp", lambda v: v.exp(), lambda x: [math.exp(x)] * 4, ANY),
    ("log", "log", lambda v: v.log(), lambda x: [math.log(x), 1 / x, -1 / x ** 2, 2 / x ** 3], POS),
    ("log2", "log2", lambda v: v.log2(),
     lambda x: [math.log2(x), 1 / (x * LN2), -1 / (x * x * LN2), 2 / (x ** 3 * LN2)], POS),
    ("log10", "log10", lambda v: v.log10(),
     lambda x: [math.log10(x), 1 / (x * LN10), -1 / (x * x * LN10), 2 / (x ** 3 * LN10)], POS),
    ("sqrt", "sqrt", lambda v: v.sqrt(), _power(0.5), POS),
    ("tanh", "tanh", lambda v: v.tanh(), _tanh, ANY),
    ("sigmoid", "sigmoid", lambda v: v.sigmoid(), _sigmoid, ANY),
    ("softplus", "softplus", lambda v: v.softplus(),
     lambda x: [math.log1p(math.exp(x))] + _sigmoid(x)[:3], ANY),
    ("relu", "relu", lambda v: v.relu(), lambda x: [max(x, 0.0), float(x > 0), 0, 0], ANY),
    ("leaky_relu", "leaky_relu", lambda v: v.leaky_relu(0.1),
     lambda x: [x if x > 0 else 0.1 * x, 1.0 if x > 0 else 0.1, 0, 0], ANY),
    ("abs", "abs", lambda v: abs(v), lambda x: [abs(x), math.copysign(1, x), 0, 0], ANY),
    ("sin", "sin", lambda v: v.sin(),
     lambda x: [math.sin(x), math.cos(x), -math.sin(x), -math.cos(x)], ANY),
    ("cos", "cos", lambda v: v.cos(),
     lambda x: [math.cos(x), -math.sin(x), -math.cos(x), math.sin(x)], ANY),
    ("tan", "tan", lambda v: v.tan(), _tan, ANY),
    ("atan", "atan", lambda v: v.atan(), _atan, ANY),
    ("v ** 3", "pow", lambda v: v ** 3, _power(3.0), ANY),
    ("v ** 2.5", "pow", lambda v: v ** 2.5, _power(2.5), POS),
    ("v ** -2", "pow", lambda v: v ** -2, _power(-2.0), ANY),
    ("v ** 1", "pow", lambda v: v ** 1, _power(1.0), ANY),
    ("2 ** v", "rpow", lambda v: 2 ** v, lambda x: [2.0 ** x * LN2 ** n for n in range(4)], ANY),
    ("0.5 ** v", "rpow", lambda v: 0.5 ** v,
     lambda x: [0.5 ** x * (-LN2) ** n for n in range(4)], ANY),
    ("v + 2", "addk", lambda v: v + 2, lambda x: [x + 2, 1, 0, 0], ANY),
    ("v - 2", "subk", lambda v: v - 2, lambda x: [x - 2, 1, 0, 0], ANY),
    ("2 - v", "rsubk", lambda v: 2 - v, lambda x: [2 - x, -1, 0, 0], ANY),
    ("v * 3", "mulk", lambda v: v * 3, lambda x: [3 * x, 3, 0, 0], ANY),
    ("v / 4", "divk", lambda v: v / 4, lambda x: [x / 4, 0.25, 0, 0], ANY),
    ("1 / v", "rdivk", lambda v: 1 / v, _power(-1.0), ANY),
    ("v + v * v", "add", lambda v: v + v * v, lambda x: [x + x * x, 1 + 2 * x, 2, 0], ANY),
    ("v - v * v", "sub", lambda v: v - v * v, lambda x: [x - x * x, 1 - 2 * x, -2, 0], ANY),
    ("v * v", "mul", lambda v: v * v, lambda x: [x * x, 2 * x, 2, 0], ANY),
    ("v / v.exp()", "div", lambda v: v / v.exp(),
     lambda x: [x * math.exp(-x), (1 - x) * math.exp(-x), (x - 2) * math.exp(-x),
                (3 - x) * math.exp(-x)], ANY),
    ("sum", "sum", lambda v: autograd.sum([v, v * v, 3.0]),
     lambda x: [x + x * x + 3, 1 + 2 * x, 2, 0], ANY),
    ("dot", "dot", lambda v: autograd.dot([v, 2.0], [v, v], v),
     lambda x: [x * x + 3 * x, 2 * x + 3, 2, 0], ANY),
    ("v ** v", "powv", lambda v: v ** v,
     lambda x: [x ** x, x ** x * (math.log(x) + 1), x ** x * ((math.log(x) + 1) ** 2 + 1 / x),
                x ** x * ((math.log(x) + 1) ** 3 + 3 * (math.log(x) + 1) / x - 1 / x ** 2)], POS),
]


@pytest.mark.parametrize("name, row, f, closed, points", UNARY, ids=[u[0] for u in UNARY])
def test_first_second_and_third_derivatives_of_each_row_match_closed_forms(name, row, f, closed, points):
    assert any(n.op == row for n in autograd.topological_order(f(Value(points[0]))))
    for x in points:
        assert derivatives(f, x) == pytest.approx(closed(x), rel=1e-9, abs=1e-12), (name, x)


def test_every_builtin_row_is_covered_to_third_order():
    covered = {row for _, row, *_ in UNARY}
    assert covered == set(BUILTINS)


# Two operands: the whole Hessian and third derivatives of a, b against closed forms.
def _mixed(f, x: float, y: float):
    a, b = Value(x), Value(y)
    ga, gb = grad(f(a, b), [a, b], create_graph=True)
    (haa, hab), (hba, hbb) = grad(ga, [a, b], create_graph=True), grad(gb, [a, b], create_graph=True)
    return ([ga.data, gb.data], [[haa.data, hab.data], [hba.data, hbb.data]],
            [grad(haa, [a])[0], grad(hab, [b])[0], grad(hbb, [b])[0]])


@pytest.mark.parametrize("x, y", [(1.5, -0.8), (0.4, 2.0), (-2.0, 3.0)])
def test_two_operand_rows_have_the_closed_form_hessian_and_third_derivatives(x, y):
    g, h, t = _mixed(lambda a, b: a * b, x, y)
    assert (g, h, t) == ([y, x], [[0, 1], [1, 0]], [0, 0, 0])
    g, h, t = _mixed(lambda a, b: a / b, x, y)
    assert g == pytest.approx([1 / y, -x / y ** 2], rel=1e-12)
    assert sum(h, []) == pytest.approx([0, -1 / y ** 2, -1 / y ** 2, 2 * x / y ** 3], rel=1e-12)
    assert t == pytest.approx([0, 2 / y ** 3, -6 * x / y ** 4], rel=1e-12)
    g, h, t = _mixed(lambda a, b: a - b + a * 2, x, y)
    assert (g, h, t) == ([3, -1], [[0, 0], [0, 0]], [0, 0, 0])


@pytest.mark.parametrize("x, y", [(1.5, -0.8), (0.4, 2.0), (2.0, 3.0)])
def test_v_to_a_value_power_has_the_closed_form_mixed_derivatives(x, y):
    g, h, t = _mixed(lambda a, b: a ** b, x, y)
    ln = math.log(x)
    assert g == pytest.approx([y * x ** (y - 1), x ** y * ln], rel=1e-12)
    hxy = x ** (y - 1) * (1 + y * ln)
    assert sum(h, []) == pytest.approx([y * (y - 1) * x ** (y - 2), hxy, hxy, x ** y * ln * ln], rel=1e-12)
    assert t == pytest.approx([y * (y - 1) * (y - 2) * x ** (y - 3),
                               x ** (y - 1) * ln * (2 + y * ln), x ** y * ln ** 3], rel=1e-12)


def test_value_level_local_derivatives_are_the_stored_ones_exactly():
    a, b = Value(0.7), Value(1.9)
    nodes = [a + b, a - b, a * b, a / b, a ** b, a ** 3, 2 ** a, -a, a.exp(), a.log(), a.sqrt(),
             a.tanh(), a.sigmoid(), a.relu(), (-a).relu(), a.leaky_relu(0.3), (-a).leaky_relu(0.3),
             a.softplus(), abs(a), abs(-a), a.sin(), a.cos(), a.tan(), a.atan(), a.log2(),
             a.log10(), autograd.sum([a, b, 2.0]), autograd.dot([a, b], [b, 3.0], a), a + 2, a - 2,
             2 - a, a * 2, a / 2, 2 / a]
    assert {n.op for n in nodes} == set(BUILTINS)
    for n in nodes:
        values = tuple(d.data if d.__class__ is Value else d for d in local_values(n))
        assert values == n.local_grads, n.op


def test_conventions_at_kinks_and_special_points():
    # relu and abs: the second derivative is 0 everywhere, the kink included (as PyTorch)
    assert derivatives(lambda v: v.relu(), 0.0) == [0.0, 0.0, 0.0, 0.0]
    assert derivatives(lambda v: abs(v), 0.0) == [0.0, 0.0, 0.0, 0.0]
    # sqrt at 0: vertical slope, +inf; its derivative is a constant there
    v = Value(0.0)
    assert grad(v.sqrt(), [v], create_graph=True)[0].data == math.inf
    # x ** 2 at 0: the first derivative is 0 but varies; the second is 2
    assert derivatives(lambda v: v ** 2, 0.0) == [0.0, 0.0, 2.0, 0.0]
    # 2 ** v with base 0 and 1 edge cases of ∂(k^a): 0^a has derivative 0 (the limit)
    assert derivatives(lambda v: 0.0 ** v, 2.0, 2) == [0.0, 0.0, 0.0]


def test_a_zero_gradient_that_varies_still_carries_its_derivative():
    # f = x·y at y = 0: ∂f/∂x = y is 0 here, yet ∂²f/∂x∂y = 1
    x, y = Value(3.0), Value(0.0)
    z = (x * y) * (x * y)  # ∂z/∂x = 2xy² = 0 and its gradient 4xy = 0, but ∂³z/∂x∂y∂y = 4x
    gx = grad(z, [x], create_graph=True)[0]
    gxy = grad(gx, [y], create_graph=True)[0]
    assert (gx.data, gxy.data) == (0.0, 0.0)
    assert grad(gxy, [y])[0] == 4 * 3.0
    assert hessian(lambda a, b: a * b, [3.0, 0.0]) == [[0.0, 1.0], [1.0, 0.0]]


# --- grad ------------------------------------------------------------------------------

def test_grad_leaves_every_grad_untouched_and_matches_backward():
    x, y = Value(0.5), Value(-1.5)
    z = (x * y).tanh() + x ** 3
    gx, gy = grad(z, [x, y])
    assert type(gx) is float and (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)
    t = math.tanh(0.5 * -1.5)
    assert gx == pytest.approx((1 - t * t) * -1.5 + 3 * 0.25, rel=1e-14)
    assert gy == pytest.approx((1 - t * t) * 0.5, rel=1e-14)
    z.backward()
    assert (x.grad, y.grad) == (gx, gy)  # the same products, the same floats


def test_grad_with_a_seed_an_unused_input_an_intermediate_and_the_output_itself():
    x, y, w = Value(2.0), Value(3.0), Value(5.0)
    m = x * y
    z = m + x
    assert grad(z, [x, w, m, z], grad_output=2.0) == (8.0, 0.0, 2.0, 2.0)
    assert grad(x, x) == (1.0,)
    gx, gw = grad(z, [x, w], create_graph=True)
    assert gx.__class__ is Value and gw.__class__ is Value and gw.data == 0.0
    seed = Value(2.0)
    gx = grad(z, [x], grad_output=seed, create_graph=True)[0]  # d/dseed of seed·(y+1) = y+1
    assert gx.data == 8.0 and grad(gx, [seed, y]) == (4.0, 2.0)


def test_grad_refuses_what_it_cannot_use():
    x = Value(1.0)
    with pytest.raises(TypeError, match="output must be a Value"):
        grad(1.0, [x])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value, got float"):
        grad(x * 2, [x, 2.0])
    with pytest.raises(TypeError, match="grad_output must be a real number"):
        grad(x * 2, [x], grad_output="1")
    with pytest.raises(TypeError, match="create_graph must be True or False"):
        grad(x * 2, [x], create_graph=1)


def test_float_of_a_value_is_refused_while_a_derivatives_graph_is_built():
    from autograd.modes import creating_graph, is_creating_graph
    v = Value(1.0)
    with creating_graph():
        assert is_creating_graph()
        with pytest.raises(TypeError, match="create_graph=True.*math.exp"):
            math.exp(v)
    assert not is_creating_graph() and math.exp(v) == math.e


def test_grad_of_grad_to_fifth_order():
    x = Value(0.3)
    d = x.sin()
    for n in range(1, 6):
        d = grad(d, [x], create_graph=True)[0]
        assert d.data == pytest.approx(math.sin(0.3 + n * math.pi / 2), rel=1e-12)


def test_higher_order_works_through_no_grad_free_mlp_and_rejects_inside_compile():
    x = Value(1.0)

    def f(t):
        return grad(t * t * t, [t], create_graph=True)[0]

    with pytest.raises(TypeError, match="compar|bool|float"):
        autograd.compile(lambda t: f(t.relu()), [1.0])
    assert f(x).data == 3.0


# --- Hessians against finite differences of the gradient -------------------------------

def _fd_hessian(f, xs, h=1e-5):
    values = [Value(x) for x in xs]
    rows = []
    for i in range(len(xs)):
        x0 = values[i].data
        values[i].data = x0 + h
        up = grad(f(*values), values)
        values[i].data = x0 - h
        down = grad(f(*values), values)
        values[i].data = x0
        rows.append([(u - d) / (2 * h) for u, d in zip(up, down)])
    return rows


def _close(a, b, tol=1e-4):
    return all(abs(x - y) <= tol * (1 + abs(y)) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


_UNARY_SMOOTH = [lambda v: v.tanh(), lambda v: v.sigmoid(), lambda v: v.sin(), lambda v: v.cos(),
                 lambda v: v.atan(), lambda v: v.softplus(), lambda v: v * v,
                 lambda v: (v * v + 1).log(), lambda v: (v * v + 0.5).sqrt(), lambda v: v.tanh().exp(),
                 lambda v: 1 / (v * v + 1), lambda v: v ** 3, lambda v: (v * v + 1) ** 0.5]
_BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
           lambda a, b: a / (b * b + 1), lambda a, b: autograd.dot([a, b], [b, a], a),
           lambda a, b: autograd.sum([a, b, a * b])]


def _expressions():
    leaf = st.integers(0, 2)
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.tuples(st.just("u"), st.integers(0, len(_UNARY_SMOOTH) - 1), kids),
            st.tuples(st.just("b"), st.integers(0, len(_BINARY) - 1), kids, kids)),
        max_leaves=6)


def _build(tree, xs):
    if isinstance(tree, int):
        return xs[tree]
    if tree[0] == "u":
        return _UNARY_SMOOTH[tree[1]](_build(tree[2], xs))
    return _BINARY[tree[1]](_build(tree[2], xs), _build(tree[3], xs))


@settings(max_examples=60, deadline=None)
@given(_expressions(), st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_hessians_of_random_expressions_match_finite_differences_of_the_gradient(tree, xs):
    f = lambda *v: _build(tree, v) * 1.0  # noqa: E731  (a computed node even for a bare leaf)
    h = hessian(f, xs)
    assert all(abs(h[i][j] - h[j][i]) <= 1e-9 * (1 + abs(h[i][j])) for i in range(3) for j in range(3))
    fd = _fd_hessian(f, xs)
    assert _close(h, fd), (tree, xs, h, fd)
    v = [0.3, -1.1, 0.7]
    hv = hvp(f, xs, v)
    assert hv == pytest.approx([sum(r[j] * v[j] for j in range(3)) for r in h], rel=1e-9, abs=1e-12)


def test_hessian_of_a_small_mlps_loss_is_symmetric_and_matches_finite_differences():
    model = nn.MLP(2, [3, 1], activation="tanh", seed=4)
    X, y = [[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]], [1.0, -1.0, 0.5]
    params = model.parameters()

    def loss(*ps):
        return nn.mse([model(x) for x in X], y)

    h = hessian(loss, params)
    n = len(params)
    assert n == 13 and len(h) == n and all(len(r) == n for r in h)
    assert all(h[i][j] == pytest.approx(h[j][i], rel=1e-9, abs=1e-14) for i in range(n) for j in range(n))
    values = params
    fd = []
    for i in range(n):
        x0 = values[i].data
        values[i].data = x0 + 1e-5
        up = grad(loss(), values)
        values[i].data = x0 - 1e-5
        down = grad(loss(), values)
        values[i].data = x0
        fd.append([(u - d) / 2e-5 for u, d in zip(up, down)])
    assert _close(h, fd, 1e-5)
    assert all(p.grad == 0.0 for p in params)  # no .grad was touched


def test_hessian_and_hvp_check_their_arguments():
    with pytest.raises(TypeError, match="xs must be a non-empty list"):
        hessian(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="f must return one Value"):
        hessian(lambda x: 1.0, [1.0])
    with pytest.raises(ValueError, match="v has 1 entries but xs has 2"):
        hvp(lambda x, y: x * y, [1.0, 2.0], [1.0])
    assert hessian(lambda x, y: x + 3.0, [1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]


# --- newton's method and forward mode ------------------------------------------------

def test_newtons_method_converges_quadratically():
    x = 1.0  # minimise f(x) = x⁴/4 − 2x + cos(x)/10: Newton on f' with f'' from grad
    f = lambda v: v ** 4 / 4 - 2 * v + v.cos() * 0.1  # noqa: E731
    for _ in range(6):
        v = Value(x)
        g = grad(f(v), [v], create_graph=True)[0]
        h = grad(g, [v])[0]
        x -= g.data / h
    v = Value(x)
    assert abs(grad(f(v), [v])[0]) < 1e-14


@settings(max_examples=60, deadline=None)
@given(_expressions(), st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_jvp_equals_the_reverse_gradient_dotted_with_the_tangent(tree, xs, t):
    f = lambda *v: _build(tree, v) * 1.0  # noqa: E731
    value, directional = jvp(f, xs, t)
    values = [Value(x) for x in xs]
    out = f(*values)
    g = grad(out, values)
    assert value == out.data
    assert directional == pytest.approx(sum(a * b for a, b in zip(g, t)), rel=1e-9, abs=1e-12)


def test_jvp_against_finite_differences_and_its_errors():
    f = lambda x, y: (x * y).sin() + x.exp()  # noqa: E731
    value, d = jvp(f, [0.3, 1.2], [1.0, -0.5])
    h = 1e-6
    fd = (math.sin((0.3 + h) * (1.2 - h / 2)) + math.exp(0.3 + h)
          - math.sin((0.3 - h) * (1.2 + h / 2)) - math.exp(0.3 - h)) / (2 * h)
    assert value == math.sin(0.36) + math.exp(0.3) and d == pytest.approx(fd, rel=1e-7)
    with pytest.raises(ValueError, match="tangents has 1 entries but xs has 2"):
        jvp(f, [0.3, 1.2], [1.0])
    with pytest.raises(TypeError, match=r"tangents\[0\] must be a real number"):
        jvp(f, [0.3, 1.2], ["a", 1.0])


# --- comparisons, bool and zero_grad ---------------------------------------------------

def test_comparisons_read_data_and_return_plain_bools():
    a, b = Value(1.0), Value(2.0)
    assert (a < b, a <= b, a > b, a >= b) == (True, True, False, False)
    assert (a < 1.5, 0.5 < a, a >= 1, 2 <= a) == (True, True, True, False)
    assert type(a < b) is bool
    assert max([a, b]) is b and sorted([b, a]) == [a, b]
    with pytest.raises(TypeError):
        a < "x"  # noqa: B015
    with pytest.raises(TypeError):
        a < True  # noqa: B015  (bools are refused, as Value(True) is)
    assert a == a and not (a == Value(1.0))  # == is still identity
    (a * b).backward()  # no gradient through a comparison: it is a plain bool
    assert (a < b) is True


def test_bool_is_the_truth_of_data():
    assert bool(Value(0.0)) is False and bool(Value(-0.0)) is False
    assert bool(Value(0.1)) and bool(Value(math.nan))
    loss = Value(1.0) - 1.0
    assert not loss


def test_comparisons_are_refused_while_compiling():
    with pytest.raises(TypeError, match=r"compared a Value .*'<' not supported"):
        autograd.compile(lambda x: x * 2.0 if x < 1.0 else x, [0.5])
    with pytest.raises(TypeError, match="compared a Value"):
        autograd.compile(lambda x: x * 2.0 if 1.0 >= x else x, [0.5])


def test_value_has_no_zero_grad_and_attribute_lookup_stays_plain():
    # No Value.zero_grad (docs/engine.md says where to reset), and no __getattr__ hook to
    # explain it: a class with __getattr__ pays for it on every attribute read (v.data,
    # v._prev), which measured 15-40% slower on the micrograd demo's eager step.
    v = Value(1.0)
    assert not hasattr(v, "zero_grad") and "__getattr__" not in vars(Value)
    with pytest.raises(AttributeError, match="no attribute 'gradient'"):
        v.gradient  # noqa: B018


def test_saturated_sigmoid_derivative_is_exactly_zero_from_37():
    # σ(1−σ) in floating point: σ(37) rounds to 1, so the derivative is 0, not 8.5e-17
    assert Value(36.0).sigmoid().local_grads[0] > 0.0
    assert Value(37.0).sigmoid().local_grads[0] == 0.0
    assert math.exp(-37.0) / (1 + math.exp(-37.0)) ** 2 == pytest.approx(8.5e-17, rel=0.01)


def test_derivatives_of_random_points_agree_with_finite_differences_for_every_unary_row():
    rng = random.Random(7)
    for name, _row, f, _closed, points in UNARY:
        x = rng.choice(points) + 0.05
        d2 = derivatives(f, x, 2)[2]
        h = 1e-4
        fd = (f(Value(x + h)).data - 2 * f(Value(x)).data + f(Value(x - h)).data) / h ** 2
        assert d2 == pytest.approx(fd, rel=1e-3, abs=1e-4), name
    assert set(OPS) >= set(BUILTINS)
