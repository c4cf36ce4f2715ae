"""Every op of the engine: forward value against ``math`` and gradient against its
hand-derived closed form, at several points; the fused ``sum``/``dot`` nodes; and what a
``Value`` exposes (data, grad, parents, op, local_grads, label, repr, identity)."""

from __future__ import annotations

import math
import re
import sys
from fractions import Fraction

import pytest

import autograd
from autograd import OPS, Value
from autograd.ops import BUILTINS

ANY = [-2.5, -1.0, -0.3, 0.4, 1.0, 3.7]
POSITIVE = [0.05, 0.5, 1.0, 2.0, 7.5]
NONZERO = [-3.0, -0.7, 0.25, 1.0, 4.0]


def _sech2(x: float) -> float:
    return 1.0 / math.cosh(x) ** 2


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# (id, how the engine computes it from v, forward in math, derivative by hand, points)
UNARY = [
    ("neg", lambda v: -v, lambda x: -x, lambda x: -1.0, ANY),
    ("exp", lambda v: v.exp(), math.exp, math.exp, ANY),
    ("log", lambda v: v.log(), math.log, lambda x: 1.0 / x, POSITIVE),
    ("sqrt", lambda v: v.sqrt(), math.sqrt, lambda x: 0.5 / math.sqrt(x), POSITIVE),
    ("tanh", lambda v: v.tanh(), math.tanh, _sech2, ANY),
    ("sigmoid", lambda v: v.sigmoid(), _sigmoid,
     lambda x: math.exp(-x) / (1.0 + math.exp(-x)) ** 2, ANY),
    ("relu", lambda v: v.relu(), lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0, ANY),
    ("softplus", lambda v: v.softplus(), lambda x: math.log(1.0 + math.exp(x)), _sigmoid, ANY),
    ("leaky_relu default", lambda v: v.leaky_relu(), lambda x: x if x > 0 else 0.01 * x,
     lambda x: 1.0 if x > 0 else 0.01, ANY),
    ("leaky_relu 0.2", lambda v: v.leaky_relu(0.2), lambda x: x if x > 0 else 0.2 * x,
     lambda x: 1.0 if x > 0 else 0.2, ANY),
    ("abs method", lambda v: v.abs(), abs, lambda x: math.copysign(1.0, x), ANY),
    ("abs builtin", lambda v: abs(v), abs, lambda x: math.copysign(1.0, x), ANY),
    ("v ** 3", lambda v: v ** 3, lambda x: x * x * x, lambda x: 3.0 * x * x, ANY),
    ("v ** 2.0", lambda v: v ** 2.0, lambda x: x * x, lambda x: 2.0 * x, ANY),
    ("v ** 0.5", lambda v: v ** 0.5, math.sqrt, lambda x: 0.5 / math.sqrt(x), POSITIVE),
    ("v ** -2", lambda v: v ** -2, lambda x: 1.0 / (x * x), lambda x: -2.0 / x ** 3, NONZERO),
    ("v ** 0", lambda v: v ** 0, lambda x: 1.0, lambda x: 0.0, ANY),
    ("v ** 1", lambda v: v ** 1, lambda x: x, lambda x: 1.0, ANY),
    ("2 ** v", lambda v: 2 ** v, lambda x: 2.0 ** x, lambda x: 2.0 ** x * math.log(2.0), ANY),
    ("0.5 ** v", lambda v: 0.5 ** v, lambda x: 0.5 ** x, lambda x: -(0.5 ** x) * math.log(2.0), ANY),
    ("v + 2", lambda v: v + 2, lambda x: x + 2.0, lambda x: 1.0, ANY),
    ("2 + v", lambda v: 2 + v, lambda x: 2.0 + x, lambda x: 1.0, ANY),
    ("v - 2", lambda v: v - 2, lambda x: x - 2.0, lambda x: 1.0, ANY),
    ("2 - v", lambda v: 2 - v, lambda x: 2.0 - x, lambda x: -1.0, ANY),
    ("v * 2", lambda v: v * 2, lambda x: 2.0 * x, lambda x: 2.0, ANY),
    ("2 * v", lambda v: 2 * v, lambda x: 2.0 * x, lambda x: 2.0, ANY),
    ("v * -1.5", lambda v: v * -1.5, lambda x: -1.5 * x, lambda x: -1.5, ANY),
    ("v / 4", lambda v: v / 4, lambda x: x / 4.0, lambda x: 0.25, ANY),
    ("2 / v", lambda v: 2 / v, lambda x: 2.0 / x, lambda x: -2.0 / (x * x), NONZERO),
    ("v / v", lambda v: v / v, lambda x: 1.0, lambda x: 0.0, NONZERO),
    ("v * v", lambda v: v * v, lambda x: x * x, lambda x: 2.0 * x, ANY),
    ("v + v", lambda v: v + v, lambda x: 2.0 * x, lambda x: 2.0, ANY),
    ("v - v", lambda v: v - v, lambda x: 0.0, lambda x: 0.0, ANY),
    ("sin", lambda v: v.sin(), math.sin, math.cos, ANY),
    ("cos", lambda v: v.cos(), math.cos, lambda x: -math.sin(x), ANY),
    ("tan", lambda v: v.tan(), math.tan, lambda x: 1.0 / math.cos(x) ** 2, ANY),
    ("atan", lambda v: v.atan(), math.atan, lambda x: 1.0 / (1.0 + x * x), ANY),
    ("log2", lambda v: v.log2(), math.log2, lambda x: 1.0 / (x * math.log(2.0)), POSITIVE),
    ("log10", lambda v: v.log10(), math.log10, lambda x: 1.0 / (x * math.log(10.0)), POSITIVE),
]


@pytest.mark.parametrize("make, words", [
    (lambda: Value(math.inf).sin(), "sin: input must be finite, got inf"),
    (lambda: Value(-math.inf).cos(), "cos: input must be finite, got -inf"),
    (lambda: Value(math.inf).tan(), "tan: input must be finite, got inf"),
    (lambda: Value(0.0).log2(), "log2: input must be > 0, got 0.0"),
    (lambda: Value(-1.0).log10(), "log10: input must be > 0, got -1.0"),
])
def test_elementary_functions_name_their_domain_errors(make, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        make()


def test_elementary_functions_at_the_edges_of_their_domains():
    # tan next to π/2: no float is π/2, so tan of the nearest float is huge but finite
    t = Value(math.pi / 2).tan()
    assert t.data == math.tan(math.pi / 2) and 1e16 < t.data < 2e16
    assert math.isfinite(t.local_grads[0])  # 1 + tan², about 2.7e32
    assert Value(math.inf).atan().data == math.pi / 2
    assert math.isnan(Value(math.nan).sin().data)  # NaN passes through (detect_anomaly sees it)
    assert Value(1024.0).log2().data == 10.0 and Value(1e-5).log10().data == -5.0


def test_elementary_functions_compile_to_the_same_floats():
    f = lambda x: (x.sin() * x.cos() + x.atan()).tan() + (x * x + 1).log2() - (x * x + 2).log10()  # noqa: E731
    step = autograd.compile(f, [0.3])
    for x0 in (-1.2, 0.3, 0.9):
        x = Value(x0)
        out = f(x)
        out.backward()
        assert step(x0, input_grads=True) == (out.data, (x.grad,))
    with pytest.raises(ValueError, match="log2: input must be > 0"):
        autograd.compile(lambda x: x.log2(), [1.0])(-1.0)


@pytest.mark.parametrize("name, make, f, df, points", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_and_gradient_match_closed_forms(name, make, f, df, points):
    for x in points:
        v = Value(x)
        out = make(v)
        assert out.data == pytest.approx(f(x), rel=1e-12, abs=1e-15), (name, x)
        out.backward()
        assert out.grad == 1.0
        assert v.grad == pytest.approx(df(x), rel=1e-12, abs=1e-15), (name, x)


# (id, engine, forward, ∂/∂a, ∂/∂b, points (a, b))
PAIRS = [(-2.0, 0.5), (-0.3, -1.7), (0.4, 3.0), (1.0, 1.0), (2.5, -0.8)]
POSITIVE_BASE = [(0.3, -1.2), (0.5, 2.0), (1.0, 0.7), (2.5, 3.0), (4.0, -0.5)]
BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0, PAIRS),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0, PAIRS),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, lambda a, b: b, lambda a, b: a, PAIRS),
    ("div", lambda a, b: a / b, lambda a, b: a / b, lambda a, b: 1.0 / b,
     lambda a, b: -a / (b * b), PAIRS),
    ("powv", lambda a, b: a ** b, lambda a, b: a ** b, lambda a, b: b * a ** (b - 1.0),
     lambda a, b: a ** b * math.log(a), POSITIVE_BASE),
]


@pytest.mark.parametrize("name, make, f, dfa, dfb, points", BINARY, ids=[b[0] for b in BINARY])
def test_binary_forward_and_both_gradients_match_closed_forms(name, make, f, dfa, dfb, points):
    for x, y in points:
        a, b = Value(x), Value(y)
        out = make(a, b)
        assert out.parents == (a, b)
        assert out.data == pytest.approx(f(x, y), rel=1e-12), (name, x, y)
        out.backward()
        assert a.grad == pytest.approx(dfa(x, y), rel=1e-12, abs=1e-15), (name, x, y)
        assert b.grad == pytest.approx(dfb(x, y), rel=1e-12, abs=1e-15), (name, x, y)


@pytest.mark.parametrize("make, op, f, df", [
    (lambda v: 2 - v, "rsubk", lambda x: 2.0 - x, lambda x: -1.0),
    (lambda v: v - 2, "subk", lambda x: x - 2.0, lambda x: 1.0),
    (lambda v: 2 / v, "rdivk", lambda x: 2.0 / x, lambda x: -2.0 / x ** 2),
    (lambda v: v / 2, "divk", lambda x: x / 2.0, lambda x: 0.5),
    (lambda v: 2 * v, "mulk", lambda x: 2.0 * x, lambda x: 2.0),
    (lambda v: v * 2, "mulk", lambda x: 2.0 * x, lambda x: 2.0),
    (lambda v: 2 + v, "addk", lambda x: 2.0 + x, lambda x: 1.0),
    (lambda v: v + 2, "addk", lambda x: 2.0 + x, lambda x: 1.0),
])
def test_plain_numbers_are_carried_as_the_nodes_k_not_wrapped(make, op, f, df):
    x = 1.5
    v = Value(x)
    out = make(v)
    # one operand, the Value; the number is the node's arg, as a float
    assert out.op == op and out.parents == (v,) and out.arg == 2.0 and type(out.arg) is float
    assert out.data == f(x) and out.local_grads == pytest.approx((df(x),), rel=1e-15)
    out.backward()
    assert v.grad == pytest.approx(df(x), rel=1e-15)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="tracemalloc is CPython's")
def test_a_chain_of_products_by_a_number_costs_one_value_and_its_float_per_op():
    # The node layout issue #14 asks for (≤ 160 B per op; 344 B when the number was wrapped
    # as a Value and the operand and derivative kept in tuples): the node, its result float,
    # and nothing else (the derivative is k itself, shared).
    x = Value(1.0)
    import tracemalloc  # here: PyPy has no tracemalloc to import

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            x = x * 1.0001
        per_op = (tracemalloc.get_traced_memory()[0] - before) / 10_000
    finally:
        tracemalloc.stop()
    assert per_op <= sys.getsizeof(x) + sys.getsizeof(1.0) + 1 <= 160 + 1  # 104 + 24 B on 3.11
    assert x.parents[0].local_grads == (1.0001,) and x.parents[0].arg == 1.0001


def test_number_exponent_and_number_base_are_stored_as_arg_not_parents():
    v = Value(3.0)
    p = v ** 3
    assert p.op == "pow" and p.parents == (v,) and p.arg == 3.0
    r = 2 ** v
    assert r.op == "rpow" and r.parents == (v,) and r.arg == 2.0
    assert v.leaky_relu(0.2).arg == 0.2
    assert v.leaky_relu().arg == 0.01
    assert v.exp().arg is None and (v * v).arg is None


def test_relu_and_abs_derivative_at_exactly_zero_is_zero():
    for make in (lambda v: v.relu(), lambda v: v.abs(), abs):
        v = Value(0.0)
        out = make(v)
        assert out.data == 0.0
        out.backward()
        assert v.grad == 0.0


def test_leaky_relu_at_zero_takes_the_left_slope_like_relu():
    v = Value(0.0)
    out = v.leaky_relu(0.3)
    assert out.data == 0.0
    out.backward()
    assert v.grad == 0.3


@pytest.mark.parametrize("x", [750.0, 1000.0, 1e300])
def test_sigmoid_and_tanh_saturate_exactly_without_overflow(x):
    # e^x overflows a float here (and e^-x underflows to 0): still 0/1 and ±1, slope 0
    for sign, sig in ((1.0, 1.0), (-1.0, 0.0)):
        v = Value(sign * x)
        s = v.sigmoid()
        s.backward()
        assert s.data == sig and v.grad == 0.0
        w = Value(sign * x)
        t = w.tanh()
        t.backward()
        assert t.data == sign and w.grad == 0.0


@pytest.mark.parametrize("x", [750.0, 1000.0, 1e300])
def test_softplus_is_finite_and_exact_far_out(x):
    # ln(1 + e^x) = x for large x (e^x itself would overflow), ≈ e^-x → 0 for large −x
    v, w = Value(x), Value(-x)
    up, down = v.softplus(), w.softplus()
    up.backward()
    down.backward()
    assert up.data == x and v.grad == 1.0
    assert down.data == 0.0 and w.grad == 0.0


def test_softplus_slope_at_zero_is_one_half():
    # smooth at 0, unlike relu: the derivative is σ(0) = 1/2, not a kink's 0
    v = Value(0.0)
    out = v.softplus()
    out.backward()
    assert out.data == pytest.approx(math.log(2.0), rel=1e-15) and v.grad == 0.5


@pytest.mark.parametrize("x", [-50.0, -300.0, -700.0])
def test_sigmoid_keeps_relative_accuracy_in_the_negative_tail(x):
    # σ(x) ≈ e^x there; σ'(x) = e^-x/(1+e^-x)² ≈ e^x as well
    v = Value(x)
    s = v.sigmoid()
    s.backward()
    assert s.data == pytest.approx(math.exp(x), rel=1e-12)
    assert v.grad == pytest.approx(math.exp(x), rel=1e-12)


def test_pow_at_zero_base():
    v = Value(0.0)
    out = v ** 2
    out.backward()
    assert out.data == 0.0 and v.grad == 0.0
    v = Value(0.0)
    out = v ** 0
    out.backward()
    assert out.data == 1.0 and v.grad == 0.0
    a, b = Value(0.0), Value(2.0)
    out = a ** b
    out.backward()
    assert out.data == 0.0 and a.grad == 0.0
    assert b.grad == 0.0  # lim a→0+ of a^b·ln a = 0 for b > 0


def test_negative_base_to_an_integer_value_power():
    a, b = Value(-2.0), Value(3.0)
    out = a ** b
    assert out.data == -8.0
    out.backward()
    assert a.grad == 12.0  # 3·(−2)²
    assert math.isnan(b.grad)  # a^b·ln a has no real value for a < 0
    v = Value(-2.0)
    out = v ** 3
    out.backward()
    assert out.data == -8.0 and v.grad == 12.0


# --- fused nodes --------------------------------------------------------------------

def test_sum_is_one_node_with_unit_local_gradients_and_const_for_numbers():
    a, b, c = Value(1.5), Value(-2.0), Value(0.25)
    out = autograd.sum([a, 3.0, b, c, 2])
    assert out.data == pytest.approx(1.5 + 3.0 - 2.0 + 0.25 + 2.0, rel=1e-15)
    assert out.op == "sum"
    assert len(out.parents) == 5
    assert out.parents[0] is a and out.parents[2] is b and out.parents[3] is c
    assert out.parents[1].op == "const" and out.parents[1].data == 3.0
    assert out.parents[4].op == "const" and out.parents[4].data == 2.0
    assert out.local_grads == (1.0,) * 5
    out.backward()
    assert (a.grad, b.grad, c.grad) == (1.0, 1.0, 1.0)
    assert out.parents[1].grad == 1.0


def test_sum_of_many_terms_is_still_one_node():
    xs = [Value(0.001 * i) for i in range(1000)]
    out = autograd.sum(xs)
    assert out.data == pytest.approx(0.001 * 999 * 1000 / 2, rel=1e-12)
    assert len(out.parents) == 1000
    assert all(p.op == "" for p in out.parents)
    out.backward()
    assert all(x.grad == 1.0 for x in xs)


def test_sum_edge_cases():
    a, b = Value(2.0), Value(5.0)
    out = autograd.sum(x for x in (a, a, b))  # any iterable; a repeated counts twice
    out.backward()
    assert out.data == 9.0 and a.grad == 2.0 and b.grad == 1.0
    empty = autograd.sum([])
    assert empty.data == 0.0 and empty.op == "sum" and empty.parents == ()
    assert autograd.sum([a]).data == 2.0


THETA = [0.5, -1.5, 2.0]
O_PREV = [1.0, 3.0, -0.25]


def test_dot_is_one_node_with_documented_layout_and_gradients():
    theta = [Value(t) for t in THETA]
    o = [Value(x) for x in O_PREV]
    u = autograd.dot(theta, o)
    assert u.op == "dot"
    assert u.data == pytest.approx(sum(t * x for t, x in zip(THETA, O_PREV)), rel=1e-15)
    assert u.parents == (*theta, *o)
    assert u.local_grads == (*O_PREV, *THETA)
    u.backward()
    for t, x, tv, xv in zip(THETA, O_PREV, theta, o):
        assert tv.grad == x  # ∂u/∂θ_ℓ = o_ℓ
        assert xv.grad == t  # ∂u/∂o_ℓ = θ_ℓ


def test_dot_with_bias():
    theta = [Value(t) for t in THETA]
    o = [Value(x) for x in O_PREV]
    b = Value(0.75)
    u = autograd.dot(theta, o, bias=b)
    assert u.data == pytest.approx(sum(t * x for t, x in zip(THETA, O_PREV)) + 0.75, rel=1e-15)
    assert u.parents == (*theta, *o, b)
    assert u.local_grads == (*O_PREV, *THETA, 1.0)
    u.backward()
    assert b.grad == 1.0
    assert [t.grad for t in theta] == O_PREV
    assert [x.grad for x in o] == THETA


def test_dot_mixes_plain_numbers_and_values():
    w1, x2 = Value(-0.5), Value(4.0)
    u = autograd.dot([w1, 2.0], [1.5, x2], bias=0.5)
    assert u.data == pytest.approx(-0.5 * 1.5 + 2.0 * 4.0 + 0.5, rel=1e-15)
    assert len(u.parents) == 5
    assert u.parents[0] is w1 and u.parents[3] is x2
    assert [p.op for p in u.parents] == ["", "const", "const", "", "const"]
    assert [p.data for p in u.parents] == [-0.5, 2.0, 1.5, 4.0, 0.5]
    u.backward()
    assert w1.grad == 1.5 and x2.grad == 2.0
    # all-number weights, a constant input vector, int items
    x, y = Value(3.0), Value(-1.0)
    u = autograd.dot([1, 2], [x, y])
    u.backward()
    assert u.data == 1.0 and x.grad == 1.0 and y.grad == 2.0


def test_dot_with_a_value_used_as_weight_and_input():
    a = Value(3.0)
    u = autograd.dot([a, a], [a, 2.0], bias=a)  # a² + 2a + a
    assert u.data == 9.0 + 6.0 + 3.0
    u.backward()
    assert a.grad == 2 * 3.0 + 2.0 + 1.0


def test_dot_accepts_iterators_like_sum_does():
    theta = [Value(t) for t in THETA]
    o = [Value(x) for x in O_PREV]
    u = autograd.dot(iter(theta), (x for x in o), bias=1.0)
    assert u.parents[:6] == (*theta, *o)
    u.backward()
    assert [t.grad for t in theta] == O_PREV
    assert [x.grad for x in o] == THETA
    v = autograd.dot((t for t in [1.0, 2.0]), [Value(3.0), Value(4.0)])
    assert v.data == 11.0


def test_dot_of_nothing_is_its_bias():
    b = Value(0.3)
    assert autograd.dot([], []).data == 0.0
    u = autograd.dot([], [], bias=b)
    u.backward()
    assert u.data == 0.3 and b.grad == 1.0


# --- what a Value exposes ---------------------------------------------------------------

def test_data_is_stored_as_float():
    for given, expected in ((3, 3.0), (2.5, 2.5), (-7, -7.0), (Fraction(1, 4), 0.25), (0, 0.0)):
        v = Value(given)
        assert type(v.data) is float and v.data == expected
    assert math.isnan(Value(float("nan")).data)
    assert Value(float("-inf")).data == -math.inf


def test_fresh_value_fields():
    v = Value(2.0)
    assert type(v.grad) is float and v.grad == 0.0
    assert v.op == "" and v.parents == () and v.local_grads == () and v.arg is None
    assert v.label == "" and v.tag is None and v.is_leaf
    assert Value(1.0, label="x").label == "x"
    v.label, v.tag, v.data, v.grad = "w", ("theta", 0, 1, 2), 5.0, 0.5
    assert (v.label, v.tag, v.data, v.grad) == ("w", ("theta", 0, 1, 2), 5.0, 0.5)


def test_parents_are_an_ordered_tuple_and_repeat_a_reused_operand():
    a, b = Value(2.0), Value(3.0)
    assert (a * b).parents == (a, b)
    assert (b * a).parents == (b, a)
    sq = a * a
    assert type(sq.parents) is tuple and sq.parents == (a, a) and sq.parents[0] is a
    assert (a - b).parents == (a, b) and (b - a).parents == (b, a)
    assert not sq.is_leaf


def test_local_grads_are_stored_at_forward_time():
    a, b = Value(2.0), Value(-4.0)
    assert (a * b).local_grads == (-4.0, 2.0)
    assert (a / b).local_grads == pytest.approx((1.0 / -4.0, -2.0 / 16.0), rel=1e-15)
    assert (a + b).local_grads == (1.0, 1.0)
    assert (a - b).local_grads == (1.0, -1.0)
    t = a.tanh()
    assert type(t.local_grads) is tuple
    assert t.local_grads[0] == pytest.approx(_sech2(2.0), rel=1e-12)
    a.data = 100.0  # changing data later does not rewrite what the node stored
    assert t.local_grads[0] == pytest.approx(_sech2(2.0), rel=1e-12)


def test_op_names_cover_the_whole_op_table():
    a, b = Value(2.0), Value(0.5)
    made = {
        "add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "powv": a ** b,
        "pow": a ** 2, "rpow": 2 ** a, "neg": -a, "exp": a.exp(), "log": a.log(),
        "sqrt": a.sqrt(), "tanh": a.tanh(), "sigmoid": a.sigmoid(), "relu": a.relu(),
        "leaky_relu": a.leaky_relu(), "softplus": a.softplus(), "abs": abs(a), "sum": autograd.sum([a, b]),
        "dot": autograd.dot([a], [b]), "sin": a.sin(), "cos": a.cos(), "tan": a.tan(),
        "atan": a.atan(), "log2": a.log2(), "log10": a.log10(), "addk": a + 2, "subk": a - 2,
        "rsubk": 2 - a, "mulk": a * 2, "divk": a / 2, "rdivk": 2 / a,
    }
    for name, node in made.items():
        assert node.op == name
    # the table's own rows (define_op adds user rows to OPS, never to BUILTINS)
    assert set(made) == set(BUILTINS) and BUILTINS <= set(OPS)


def test_computed_properties_are_read_only():
    v = Value(1.0) * 2
    for attr in ("op", "parents", "local_grads", "arg", "is_leaf"):
        with pytest.raises(AttributeError):
            setattr(v, attr, None)


def test_value_uses_slots():
    v = Value(1.0)
    assert not hasattr(v, "__dict__")
    with pytest.raises(AttributeError):
        v.gradient = 1.0  # a typo must not silently create a new field


def test_repr_and_float():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2, label="x")) == "Value(data=2.0, grad=0.0, label='x')"
    v = Value(-1.25)
    v.grad = 0.5
    assert repr(v) == "Value(data=-1.25, grad=0.5)"
    assert float(v) == -1.25 and type(float(v)) is float
    assert float(Value(3) * 2) == 6.0


def test_values_hash_and_compare_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a is not b and a == a and a != b and not (a == b)
    d = {a: "a", b: "b"}
    assert len(d) == 2 and d[a] == "a" and d[b] == "b"
    assert len({a, b, a}) == 2
    assert (a == 1.0) is False  # no numeric equality with plain numbers either
    h = hash(a)
    a.data = 42.0  # the hash does not depend on data, so dicts keyed by nodes stay valid
    assert hash(a) == h and d[a] == "a"


def test_dot_takes_objects_whose_data_is_not_a_number_as_numbers():
    # a numpy scalar has a .data attribute (a memoryview): dot must not mistake it for a Value
    class Scalar(float):
        data = memoryview(b"")

    w = Value(1.5)
    u = autograd.dot([w], [Scalar(2.0)])
    u.backward()
    assert u.data == 3.0 and w.grad == 2.0
