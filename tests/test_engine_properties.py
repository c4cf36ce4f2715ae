"""Randomly built expressions (hypothesis): backward's gradients agree with central finite
differences computed on a separate pure-``math`` evaluation of the same expression; and
``gradcheck`` itself, on correct and deliberately wrong gradients."""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd
from autograd import GradcheckError, Value, gradcheck, is_grad_enabled, no_grad, topological_order

# --- expressions: one tree, two evaluators --------------------------------------------------
# A tree is ("x", i) for input i, ("c", number) for a constant, (op, child) or
# (op, left, right).  Every op is built so it has no domain error anywhere (log(t² + 1),
# √(t² + 0.5), division by t² + 1, a positive base to a Value power); the float evaluator
# rejects the rare example whose values grow too large or whose kink (relu, abs) lies within
# reach of the finite-difference step.

BOUND = 100.0
KINK_MARGIN = 1e-3


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# name: (engine form on a Value, the same function on floats, has a kink at 0)
UNARY: Dict[str, Tuple[Callable, Callable, bool]] = {
    "neg": (lambda v: -v, lambda x: -x, False),
    "exp": (lambda v: v.exp(), math.exp, False),
    "log": (lambda v: (v * v + 1).log(), lambda x: math.log(x * x + 1), False),
    "sqrt": (lambda v: (v * v + 0.5).sqrt(), lambda x: math.sqrt(x * x + 0.5), False),
    "tanh": (lambda v: v.tanh(), math.tanh, False),
    "sigmoid": (lambda v: v.sigmoid(), _sigmoid, False),
    "relu": (lambda v: v.relu(), lambda x: max(x, 0.0), True),
    "leaky": (lambda v: v.leaky_relu(0.1), lambda x: x if x > 0 else 0.1 * x, True),
    "abs": (lambda v: abs(v), abs, True),
    "square": (lambda v: v ** 2, lambda x: x * x, False),
    "cube": (lambda v: v ** 3, lambda x: x * x * x, False),
    "pow1.5": (lambda v: (v * v + 1) ** 1.5, lambda x: (x * x + 1) ** 1.5, False),
    "rpow": (lambda v: 2 ** v, lambda x: 2.0 ** x, False),
    "rsub": (lambda v: 2 - v, lambda x: 2.0 - x, False),
    "rdiv": (lambda v: 1 / (v * v + 1), lambda x: 1.0 / (x * x + 1), False),
    "half": (lambda v: 0.5 * v, lambda x: 0.5 * x, False),
}

# name: (engine form, float form); the engine form also takes plain numbers on either side
BINARY: Dict[str, Tuple[Callable, Callable]] = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "pow": (lambda a, b: (a * a + 0.5) ** b, lambda a, b: (a * a + 0.5) ** b),
    "sum": (lambda a, b: autograd.sum([a, b, 1.5]), lambda a, b: a + b + 1.5),
    "dot": (lambda a, b: autograd.dot([a, b], [b, 2.0], bias=a), lambda a, b: a * b + b * 2.0 + a),
}


class _Reject(Exception):
    """The example is outside the region where finite differences are trustworthy."""


def evaluate_float(tree, xs: List[float], strict: bool = True) -> Tuple[float, bool]:
    """The expression on plain floats: (value, whether it depends on any input).

    ``strict`` rejects the example (at its base point; the perturbed points then follow).
    """
    kind = tree[0]
    if kind == "x":
        return xs[tree[1] % len(xs)], True
    if kind == "c":
        return tree[1], False
    try:
        if kind in UNARY:
            x, dep = evaluate_float(tree[1], xs, strict)
            if strict and UNARY[kind][2] and dep and abs(x) < KINK_MARGIN:
                raise _Reject
            out = UNARY[kind][1](x)
        else:
            (a, da), (b, db) = evaluate_float(tree[1], xs, strict), evaluate_float(tree[2], xs, strict)
            out, dep = BINARY[kind][1](a, b), da or db
    except OverflowError:
        raise _Reject from None
    if strict and not abs(out) <= BOUND:
        raise _Reject
    return out, dep


def evaluate_engine(tree, values: List[Value]):
    """The expression with the engine: a Value, or a float for input-free subtrees."""
    kind = tree[0]
    if kind == "x":
        return values[tree[1] % len(values)]
    if kind == "c":
        return tree[1]
    if kind in UNARY:
        x = evaluate_engine(tree[1], values)
        return UNARY[kind][0 if isinstance(x, Value) else 1](x)
    a, b = evaluate_engine(tree[1], values), evaluate_engine(tree[2], values)
    return BINARY[kind][0](a, b)


leaves = st.one_of(
    st.tuples(st.just("x"), st.integers(0, 3)),
    st.tuples(st.just("c"), st.floats(-2.0, 2.0)),
)
trees = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), kids),
        st.tuples(st.sampled_from(sorted(BINARY)), kids, kids),
    ),
    max_leaves=10,
)
inputs = st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=4)

PROPERTY = settings(max_examples=150, deadline=None)


def _graph(tree, values: List[Value]) -> Value:
    """The expression as a graph over ``values``; an input-free one is added to 0·x0."""
    out = evaluate_engine(tree, values)
    return out if isinstance(out, Value) else autograd.sum([values[0] * 0.0, out])


def _build(tree, xs: List[float]):
    """Check the example is usable, then build it: (output Value, input Values, float value)."""
    try:
        expected, _ = evaluate_float(tree, xs)
    except _Reject:
        assume(False)
    values = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
    return _graph(tree, values), values, expected


def _finite_differences(tree, xs: List[float], h: float = 1e-6) -> List[float]:
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        f_up, f_down = evaluate_float(tree, up, False)[0], evaluate_float(tree, down, False)[0]
        grads.append((f_up - f_down) / (2 * h))
    return grads


@PROPERTY
@given(trees, inputs)
def test_backward_agrees_with_finite_differences(tree, xs):
    out, values, expected = _build(tree, xs)
    assert out.data == pytest.approx(expected, rel=1e-9, abs=1e-12)
    out.backward()
    numeric = _finite_differences(tree, xs)
    for v, n in zip(values, numeric):
        assert math.isfinite(v.grad)
        assert abs(v.grad - n) <= 1e-5 + 1e-4 * abs(n), (tree, xs, v.label, v.grad, n)


@PROPERTY
@given(trees, inputs)
def test_gradcheck_accepts_every_random_expression(tree, xs):
    _, values, _ = _build(tree, xs)
    assert gradcheck(lambda *vs: _graph(tree, list(vs)), *values)
    assert [v.data for v in values] == xs  # inputs restored


@PROPERTY
@given(trees, inputs, st.sampled_from([0.5, 2.0, -4.0]))
def test_random_graph_invariants(tree, xs, seed):
    out, values, _ = _build(tree, xs)
    order = topological_order(out)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order) and order[-1] is out
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    with no_grad():
        again = evaluate_engine(tree, values)
    if isinstance(again, Value):
        assert again.parents == () and again.data == out.data
    out.backward()
    once = [v.grad for v in values]
    out.backward()
    assert [v.grad for v in values] == pytest.approx([2.0 * g for g in once], rel=1e-12)
    autograd.zero_grad(out)
    assert all(n.grad == 0.0 for n in order)
    out.backward(seed)
    assert [v.grad for v in values] == pytest.approx([seed * g for g in once], rel=1e-12, abs=1e-300)


# --- gradcheck ------------------------------------------------------------------------------

def test_gradcheck_passes_on_a_correct_function_of_several_inputs():
    a, b, c = Value(0.7, "a"), Value(-1.2, "b"), Value(2.5, "c")

    def f(a, b, c):
        return (a * b + c.log()).tanh() * c + a / (b * b + 1) + 2 ** a

    assert gradcheck(f, a, b, c) is True
    assert (a.data, b.data, c.data) == (0.7, -1.2, 2.5)
    t = math.tanh(0.7 * -1.2 + math.log(2.5))
    s = 1.0 - t * t
    expected = (s * -1.2 * 2.5 + 1 / 2.44 + 2 ** 0.7 * math.log(2),
                s * 0.7 * 2.5 - 0.7 * 2 * -1.2 / 2.44 ** 2,
                s * 2.5 / 2.5 + t)
    assert [v.grad for v in (a, b, c)] == pytest.approx(expected, rel=1e-9)  # analytic kept
    assert is_grad_enabled()


def _wrong_mul(x: Value, y: Value) -> Value:
    """x·y with ∂/∂x deliberately stored as 2y instead of y (gradcheck's no_grad calls record none)."""
    out = x * y
    if out.parents:
        out._local = (2.0 * y.data, x.data)
    return out


def _table(message: str) -> Dict[str, Tuple[float, float, str]]:
    rows = {}
    for line in message.splitlines()[2:]:
        *name, analytic, numeric, status = line.split()
        rows[" ".join(name)] = (float(analytic), float(numeric), status)
    return rows


def test_gradcheck_reports_a_wrong_gradient_in_a_table():
    x, y = Value(1.5, "x"), Value(-0.75, "y")
    with pytest.raises(GradcheckError) as info:
        gradcheck(_wrong_mul, x, y)
    message = str(info.value)
    header = message.splitlines()[1]
    assert "input" in header and "analytic" in header and "numeric" in header
    rows = _table(message)
    assert set(rows) == {"x", "y"}
    ax, nx, status_x = rows["x"]
    assert ax == pytest.approx(-1.5, rel=1e-6) and nx == pytest.approx(-0.75, rel=1e-6)
    assert status_x == "MISMATCH"
    ay, ny, status_y = rows["y"]
    assert ay == pytest.approx(1.5, rel=1e-6) and ny == pytest.approx(1.5, rel=1e-6)
    assert status_y == "ok"
    assert (x.data, y.data) == (1.5, -0.75)  # data restored
    assert isinstance(info.value, AssertionError)


def test_gradcheck_names_unlabelled_inputs_by_position():
    with pytest.raises(GradcheckError) as info:
        gradcheck(_wrong_mul, Value(1.0), Value(2.0))
    assert set(_table(str(info.value))) == {"input 0", "input 1"}


def test_gradcheck_tolerances_are_honoured():
    def slightly_wrong(x):
        out = x * 3.0
        if out.parents:
            out._local = 3.0 * (1 + 5e-4)  # 5e-4 relative error (one operand: no tuple)
        return out

    assert gradcheck(slightly_wrong, Value(1.0))  # within rtol=1e-3
    with pytest.raises(GradcheckError):
        gradcheck(slightly_wrong, Value(1.0), rtol=1e-4, atol=0.0)
    assert gradcheck(slightly_wrong, Value(1.0), rtol=0.0, atol=2e-3)


def test_gradcheck_rejects_non_finite_analytic_gradients():
    # √|x| at 0: backward gives 0·inf = nan; the finite difference is 0
    with pytest.raises(GradcheckError, match="MISMATCH"):
        gradcheck(lambda x: abs(x).sqrt(), Value(0.0))


def test_gradcheck_restores_data_when_f_fails_at_a_perturbed_point():
    x = Value(5e-7)
    with pytest.raises(ValueError, match="log"):
        gradcheck(lambda v: v.log(), x, eps=1e-6)  # x − eps < 0
    assert x.data == 5e-7 and is_grad_enabled()


def test_gradcheck_argument_errors():
    with pytest.raises(TypeError, match="input 1 is a float"):
        gradcheck(lambda a, b: a, Value(1.0), 2.0)
    with pytest.raises(TypeError, match="must return a Value, got float"):
        gradcheck(lambda a: a.data, Value(1.0))
    with pytest.raises(ValueError, match="at least one"):
        gradcheck(lambda: Value(1.0))
