"""autograd.compile: compiled code agrees with eager mode, and with independent oracles.

Eager ``backward()`` defines what a compiled call must do, so most tests build the same
graph eagerly and compare every number (they are expected to be the same floats; the
check allows 1e-12 relative).  Independent oracles (hand-derived derivatives, finite
differences, the textbook's formulas in ``nn.manual_backprop``) check that both are right.
"""

from __future__ import annotations

import ast
import gc
import os
import linecache
import math
import random
import re
import struct
import sys
import traceback

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import Value, dot, no_grad
from autograd import sum as vsum

codegen = sys.modules["autograd._codegen"]


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    if a != a or b != b:
        return a != a and b != b
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def eager_grads(fn, xs, variables, start=None):
    """Eager reference: output value, variables' grads, inputs' grads (or the exception)."""
    for i, v in enumerate(variables):
        v.grad = 0.0 if start is None else start[i]
    inputs = [Value(x) for x in xs]
    try:
        out = fn(*inputs)
        out.backward()
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        return e
    return out.data, [v.grad for v in variables], [x.grad for x in inputs]


def compiled_grads(compiled, xs, variables, start=None):
    for i, v in enumerate(variables):
        v.grad = 0.0 if start is None else start[i]
    try:
        out, gx = compiled(*xs, input_grads=True)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        return e
    return out, [v.grad for v in variables], list(gx)


def assert_same(eager, compiled):
    if isinstance(eager, Exception):
        assert isinstance(compiled, Exception), f"eager raised {eager!r}, compiled returned {compiled}"
        assert type(compiled) is type(eager) and str(compiled) == str(eager)
        return
    assert not isinstance(compiled, Exception), f"compiled raised {compiled!r}, eager gave {eager}"
    (ev, eg, ex), (cv, cg, cx) = eager, compiled
    assert close(ev, cv), (ev, cv)
    for a, b in zip(eg + ex, cg + cx):
        assert close(a, b), (eg, cg, ex, cx)


# --- hypothesis: random programs over every op ----------------------------------------

UNARY = ["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "abs", "leaky_relu", "pow",
         "rpow"]
BINARY = ["add", "sub", "mul", "div", "powv", "radd", "rsub", "rmul", "rdiv"]
NARY = ["sum", "dot"]
interesting = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, 1e-3, 10.0])
numbers_ = st.one_of(interesting, st.floats(-4.0, 4.0, allow_nan=False))


@st.composite
def programs(draw):
    """A straight-line program: inputs, variables, then steps (op, operands, k)."""
    n_inputs = draw(st.integers(1, 3))
    n_vars = draw(st.integers(0, 3))
    pool = n_inputs + n_vars
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(UNARY + BINARY + NARY))
        ref = st.integers(0, pool - 1)
        operand = st.one_of(ref, ref, numbers_.map(lambda c: ("c", c)))
        if op in UNARY:
            args = [draw(ref)]
            k = {"pow": st.sampled_from([2.0, 3.0, 0.5, -1.0, 1.5, 0.0, -2.0]),
                 "rpow": st.sampled_from([2.0, 0.5, 1.0, 0.0, -2.0, math.e]),
                 "leaky_relu": st.sampled_from([0.01, 0.2, 0.0])}.get(op, st.none())
            k = draw(k)
        elif op in BINARY:
            args, k = [draw(ref), draw(operand)], None
        else:
            n = draw(st.integers(1, 4))
            args = [draw(ref)] + [draw(operand) for _ in range(2 * n - 1 + draw(st.integers(0, 1)))]
            k = None
        steps.append((op, args, k))
        pool += 1
    return n_inputs, n_vars, steps


def run(steps, inputs, variables):
    """Build the program's graph eagerly; the output sums every step, so all are live."""
    pool = list(inputs) + list(variables)
    made = []

    def get(a):
        return a[1] if isinstance(a, tuple) else pool[a]

    for op, args, k in steps:
        a = get(args[0])
        b = get(args[1]) if len(args) > 1 else None
        if op in ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "abs"):
            r = -a if op == "neg" else getattr(a, op)()
        elif op == "leaky_relu":
            r = a.leaky_relu(k)
        elif op == "pow":
            r = a ** k
        elif op == "rpow":
            r = k ** a
        elif op == "add":
            r = a + b
        elif op == "sub":
            r = a - b
        elif op == "mul":
            r = a * b
        elif op == "div":
            r = a / b
        elif op == "powv":
            r = a ** b if isinstance(b, Value) else a ** b
        elif op == "radd":
            r = b + a
        elif op == "rsub":
            r = b - a
        elif op == "rmul":
            r = b * a
        elif op == "rdiv":
            r = b / a
        elif op == "sum":
            r = vsum([get(x) for x in args])
        else:
            vals = [get(x) for x in args]
            n = len(vals) // 2
            r = dot(vals[:n], vals[n:2 * n], vals[2 * n] if len(vals) % 2 else None)
        pool.append(r)
        made.append(r)
    return vsum(made)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs(), data=st.data())
def test_random_programs_over_every_op_agree_with_eager(prog, data):
    n_inputs, n_vars, steps = prog
    variables = [Value(data.draw(numbers_), f"w{i}") for i in range(n_vars)]
    trace_at = [data.draw(numbers_) for _ in range(n_inputs)]
    try:
        compiled = autograd.compile(lambda *xs: run(steps, xs, variables), trace_at)
    except (ValueError, ZeroDivisionError, OverflowError):
        assume(False)  # fn fails eagerly at the trace point: nothing to compile
    fn = lambda *xs: run(steps, xs, variables)  # noqa: E731
    for _ in range(2):
        call_at = [data.draw(numbers_) for _ in range(n_inputs)]
        start = [data.draw(numbers_) for _ in range(n_vars)]  # gradients accumulate onto these
        assert_same(eager_grads(fn, call_at, variables, start),
                    compiled_grads(compiled, call_at, variables, start))
        for v in variables:  # an optimiser step between calls
            v.data -= 0.1 * v.grad if math.isfinite(v.grad) else 0.0


@pytest.mark.parametrize("x", [-1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0])
@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu"])
def test_piecewise_ops_decide_per_call_around_zero(name, x):
    w = Value(2.0)

    def f(a):
        y = w * a
        return y.leaky_relu(0.1) if name == "leaky_relu" else getattr(y, name)()

    compiled = autograd.compile(f, [5.0])  # traced on the positive side
    assert_same(eager_grads(f, [x], [w]), compiled_grads(compiled, [x], [w]))


# --- hand-derived derivatives and finite differences (independent oracles) -------------

def test_hand_derived_gradients_of_a_small_function():
    a, b = Value(1.5, "a"), Value(-0.5, "b")
    step = autograd.compile(lambda x, y: a * x * x + b * y.exp() + (x * y).tanh(), [0.0, 0.0])
    x, y = 0.7, -1.2
    out, (dx, dy) = step(x, y, input_grads=True)
    t = math.tanh(x * y)
    assert out == pytest.approx(1.5 * x * x - 0.5 * math.exp(y) + t, rel=1e-14)
    assert a.grad == pytest.approx(x * x, rel=1e-14)
    assert b.grad == pytest.approx(math.exp(y), rel=1e-14)
    assert dx == pytest.approx(2 * 1.5 * x + (1 - t * t) * y, rel=1e-14)
    assert dy == pytest.approx(-0.5 * math.exp(y) + (1 - t * t) * x, rel=1e-14)


def test_gradients_match_finite_differences_of_the_compiled_forward():
    w = [Value(0.3), Value(-0.8), Value(1.1)]

    def f(x, y):
        u = dot(w[:2], [x, y], w[2])
        return (u.sigmoid() * (x * x + 1.0).log() + (y.abs() + 0.5).sqrt() ** 1.5 + 2.0 ** u) / (1.0 + u * u)

    step = autograd.compile(f, [0.4, 0.9])
    x, y, eps = -0.6, 1.3, 1e-6
    _, (dx, dy) = step(x, y, input_grads=True)
    assert dx == pytest.approx((step.forward(x + eps, y) - step.forward(x - eps, y)) / (2 * eps), rel=1e-6)
    assert dy == pytest.approx((step.forward(x, y + eps) - step.forward(x, y - eps)) / (2 * eps), rel=1e-6)
    for v in w:
        v.grad = 0.0
    step(x, y)
    for v in w:
        grad, d = v.grad, v.data
        v.data = d + eps
        up = step.forward(x, y)
        v.data = d - eps
        down = step.forward(x, y)
        v.data = d
        assert grad == pytest.approx((up - down) / (2 * eps), rel=1e-6)


# --- MLPs ------------------------------------------------------------------------------

def tiny_mlp(sizes, activation, rng):
    """A dot-based MLP independent of nn: list of layers of (weights, bias) Values."""
    layers = []
    for nin, nout in zip(sizes, sizes[1:]):
        layers.append([([Value(rng.uniform(-1, 1)) for _ in range(nin)], Value(rng.uniform(-0.5, 0.5)))
                       for _ in range(nout)])

    def forward(x):
        for t, layer in enumerate(layers):
            x = [dot(w, x, b) for w, b in layer]
            if t < len(layers) - 1:
                x = [getattr(u, activation)() for u in x]
        return x

    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    return forward, params


@pytest.mark.parametrize("sizes,activation", [([2, 4, 1], "tanh"), ([3, 5, 5, 2], "relu"),
                                              ([1, 3, 1], "sigmoid"), ([4, 8, 3], "abs")])
def test_dot_based_mlp_batch_loss_agrees_with_eager(sizes, activation):
    rng = random.Random(sum(sizes))
    forward, params = tiny_mlp(sizes, activation, rng)
    X = [[rng.uniform(-2, 2) for _ in range(sizes[0])] for _ in range(6)]
    Y = [[rng.uniform(-1, 1) for _ in range(sizes[-1])] for _ in range(6)]

    def err(X, Y):
        return vsum([(y - o) ** 2 for x, t in zip(X, Y) for o, y in zip(forward(x), t)])

    step = autograd.compile(err, (X, Y))
    for _ in range(3):  # new data each call, parameters updated in between
        X = [[rng.uniform(-2, 2) for _ in range(sizes[0])] for _ in range(6)]
        for p in params:
            p.grad = 0.0
        e = err(X, Y)
        e.backward()
        expected = [p.grad for p in params]
        for p in params:
            p.grad = 0.0
        assert close(step(X, Y), e.data)
        assert all(close(a, b) for a, b in zip(expected, [p.grad for p in params]))
        for p in params:
            p.data -= 0.05 * p.grad


@pytest.mark.parametrize("nouts,activation", [([3, 1], "tanh"), ([4, 4, 1], "relu"),
                                              ([5, 2], "sigmoid"), ([3, 3, 1], "leaky_relu"),
                                              ([2, 1], "linear")])
def test_nn_mlp_gradients_equal_eager_and_the_textbook_formulas(nouts, activation):
    model = nn.MLP(3, nouts, activation=activation, seed=len(nouts) * 7 + nouts[0])
    rng = random.Random(3)
    target = [0.5] * nouts[-1] if nouts[-1] > 1 else 0.5

    def err(x, y):
        return nn.mse([model(x)], [y], reduction="sum")

    step = autograd.compile(err, ([0.1, 0.2, 0.3], target))
    for _ in range(3):
        x = [rng.uniform(-2, 2) for _ in range(3)]
        y = [rng.uniform(-1, 1) for _ in nouts[-1:] * nouts[-1]] if nouts[-1] > 1 else rng.uniform(-1, 1)
        manual = nn.manual_backprop(model, x, y, "mse")
        model.zero_grad()
        assert step(x, y) == pytest.approx(manual.err, rel=1e-12)
        for name, p in model.named_parameters():
            assert p.grad == pytest.approx(manual.grads[name], rel=1e-9, abs=1e-14)
        compiled = [p.grad for p in model.parameters()]
        model.zero_grad()
        err([Value(v) for v in x], y if isinstance(y, float) else [Value(v) for v in y]).backward()
        assert all(close(a, p.grad) for a, p in zip(compiled, model.parameters()))
        for p in model.parameters():
            p.data -= 0.1 * p.grad


def test_micrograd_demo_step_with_aux_predictions_matches_eager():
    X, y = nn.data.make_moons(20, noise=0.1, seed=0, labels="pm1")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()

    def loss(X):  # labels captured as constants: hinge branches on them
        preds = [model(x) for x in X]
        return nn.hinge(preds, y) + 1e-4 * dot(params, params), preds

    step = autograd.compile(loss, (X,), has_aux=True)
    assert set(step.variables) == set(params)
    for _ in range(3):
        model.zero_grad()
        err, preds = loss(X)
        err.backward()
        expected = [p.grad for p in params]
        model.zero_grad()
        value, scores = step(X)
        assert value == err.data and scores == [p.data for p in preds]
        assert [p.grad for p in params] == expected
        for p in params:
            p.data -= 0.5 * p.grad


# --- shared subexpressions ----------------------------------------------------------------

def test_square_diamond_and_reuse_agree_with_hand_derived_values():
    w = Value(0.5, "w")

    def f(x):
        a = w * x
        sq = a * a  # the same operand twice
        left, right = sq.tanh(), sq.exp()  # a diamond: sq feeds both, they meet again
        return left * right + a * a * a + vsum([a] * 4)

    step = autograd.compile(f, [1.0])
    x = 1.3
    out, (dx,) = step(x, input_grads=True)
    a = 0.5 * x
    s = a * a
    d_s = (1 - math.tanh(s) ** 2) * math.exp(s) + math.tanh(s) * math.exp(s)
    d_a = d_s * 2 * a + 3 * a * a + 4
    assert out == pytest.approx(math.tanh(s) * math.exp(s) + a ** 3 + 4 * a, rel=1e-14)
    assert w.grad == pytest.approx(d_a * x, rel=1e-13)
    assert dx == pytest.approx(d_a * 0.5, rel=1e-13)
    assert_same(eager_grads(f, [x], [w]), compiled_grads(step, [x], [w]))


# --- variables, constants, frozen control flow ---------------------------------------------

def test_variables_are_read_live_and_constants_are_frozen():
    w = Value(2.0, "w")

    def f(x):
        c = Value(10.0, "c")  # made inside fn: a constant
        return w * x + c + 3.0

    step = autograd.compile(f, [1.0])
    assert step.variables == (w,)
    assert [c.data for c in step.constants] == [10.0]  # (the 3.0 is its node's k)
    assert [c.op for c in step.constants] == [""]
    assert step(1.0) == 15.0
    w.data = 5.0  # an optimiser update between calls takes effect
    assert step(1.0) == 18.0
    step.constants[0].data = 0.0  # constants were frozen into the code
    assert step(1.0) == 18.0
    assert w.grad == 3.0  # three calls, ∂out/∂w = x = 1 each: accumulated


def test_python_branches_on_data_are_frozen_at_trace_time():
    def f(x):
        return x * 2.0 if x.data > 0 else x * -3.0  # reads .data: decided once, while tracing

    step = autograd.compile(f, [1.0])
    assert step(-1.0) == -2.0  # eager would take the other branch and give 3.0
    assert "-3.0" not in step.source


@pytest.mark.parametrize("body,words", [
    (lambda x: x * 2.0 if x else x, "bool(Value) while compiling"),
    (lambda x: x if x > 0 else -x, "compared a Value"),
    (lambda x: max(x, 0.0), "compared a Value"),
    (lambda x: Value(math.exp(x)), "float(Value) while compiling"),
])
def test_branching_on_a_traced_value_is_a_clear_type_error(body, words):
    with pytest.raises(TypeError, match=re.escape(words)):
        autograd.compile(body, [1.0])


def test_values_computed_under_no_grad_inside_fn_are_refused():
    w = Value(1.0)

    def f(x):
        with no_grad():
            scale = w * 2.0
        return x * scale

    with pytest.raises(TypeError, match="inside no_grad"):
        autograd.compile(f, [1.0])


def test_tracing_records_the_graph_even_inside_no_grad_and_calls_there_add_no_gradient():
    w = Value(3.0)
    with no_grad():
        step = autograd.compile(lambda x: w * x, [1.0])
        assert step(2.0) == 6.0
        with pytest.raises(RuntimeError, match="no_grad"):
            step(2.0, input_grads=True)
    assert w.grad == 0.0
    assert step(2.0) == 6.0 and w.grad == 2.0


def test_a_computed_value_captured_from_outside_backpropagates_like_eager():
    w = Value(0.7)
    outside = (w * 3.0).tanh()  # made before compiling: a fixed number with a history

    def f(x):
        return outside * x + w * x

    step = autograd.compile(f, [1.0])
    assert step.variables == (outside, w) or step.variables == (w, outside)
    assert_same(eager_grads(f, [2.0], [w, outside]), compiled_grads(step, [2.0], [w, outside]))


def test_output_can_be_an_input_a_variable_or_a_constant():
    w = Value(4.0)
    out, (g,) = autograd.compile(lambda x: x, [1.0])(5.0, input_grads=True)
    assert (out, g) == (5.0, 1.0)
    assert autograd.compile(lambda x: w, [1.0])(5.0) == 4.0 and w.grad == 1.0
    out, (g,) = autograd.compile(lambda x: Value(7.0), [1.0])(5.0, input_grads=True)
    assert (out, g) == (7.0, 0.0)


# --- inputs: structure, errors, aux --------------------------------------------------------

def test_nested_inputs_and_input_gradients_keep_their_shape():
    step = autograd.compile(lambda X, y: vsum([a * b for a, b in X]) * y, ([[1, 2], [3, 4]], 2))
    out, (gX, gy) = step([[1.0, 2.0], [3.0, 4.0]], 0.5, input_grads=True)
    assert out == 7.0
    assert gX == ((1.0, 0.5), (2.0, 1.5)) and gy == 14.0


def test_aux_values_come_back_shaped_like_fn_returned_them():
    w = Value(3.0)
    step = autograd.compile(lambda x, ys: (w * x * ys[0], [w * x, [ys[1], 2.5]]), [1.0, [2.0, 4.0]],
                            has_aux=True)
    assert step(2.0, [1.0, 5.0]) == (6.0, [6.0, [5.0, 2.5]])
    assert step(2.0, [1.0, 5.0], input_grads=True) == ((6.0, [6.0, [5.0, 2.5]]), (3.0, (6.0, 0.0)))
    assert step.forward(2.0, [1.0, 5.0]) == (6.0, [6.0, [5.0, 2.5]])
    assert w.grad == 4.0  # two calls with gradients, ∂out/∂w = x·y_0 = 2 each
    with pytest.raises(TypeError, match=r"aux\[1\] must be a Value"):
        autograd.compile(lambda x: (x, [x, "no"]), [1.0], has_aux=True)


@pytest.mark.parametrize("call,words", [
    (lambda s: s(1.0), "takes 2 inputs (numbers), got 1"),
    (lambda s: s(1.0, 2.0, 3.0), "takes 2 inputs"),
    (lambda s: s(1.0, "2"), "input 1 must be a real number (int or float), got str"),
    (lambda s: s(True, 2.0), "input 0 must be a real number"),
    (lambda s: s(1.0, None), "got NoneType"),
])
def test_calling_with_the_wrong_inputs_is_a_type_error_naming_what_was_expected(call, words):
    step = autograd.compile(lambda x, y: x * y, [1.0, 2.0])
    with pytest.raises(TypeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(step)


def test_wrong_nested_structure_names_the_place_and_the_shape():
    step = autograd.compile(lambda X: vsum([a * b for a, b in X]), ([[1, 2], [3, 4]],))
    with pytest.raises(TypeError, match=r"input 0\[1\] must be a list of 2 numbers, got 3 items"):
        step([[1, 2], [3, 4, 5]])
    with pytest.raises(TypeError, match=r"input 0\[0\]\[1\] must be a real number"):
        step([[1, "x"], [3, 4]])
    with pytest.raises(TypeError, match="each a list of 2 numbers"):
        step()


def test_bad_arguments_to_compile_are_type_errors():
    with pytest.raises(TypeError, match="fn must be callable"):
        autograd.compile(3, [1.0])
    with pytest.raises(TypeError, match="example_inputs must be a sequence"):
        autograd.compile(lambda x: x, 1.0)
    with pytest.raises(TypeError, match="must return a Value"):
        autograd.compile(lambda x: 1.0, [1.0])
    with pytest.raises(TypeError, match="has_aux"):
        autograd.compile(lambda x: (x, x), [1.0])
    with pytest.raises(TypeError, match="example input 0 must be a number"):
        autograd.compile(lambda x: x, ["a"])


def test_ints_and_other_real_numbers_are_accepted_as_floats():
    step = autograd.compile(lambda x, y: x / y, [1.0, 2.0])
    assert step(1, 3) == 1 / 3
    from fractions import Fraction
    assert step(Fraction(1, 2), 2) == 0.25


# --- domain errors: same type and message as eager ----------------------------------------

@pytest.mark.parametrize("f,x", [
    (lambda x: x.log(), 0.0), (lambda x: x.log(), -1.0), (lambda x: 1.0 / x, 0.0),
    (lambda x: x.sqrt(), -4.0), (lambda x: x.exp(), 1000.0), (lambda x: x ** 0.5, -2.0),
    (lambda x: x ** -1.0, 0.0), (lambda x: (-2.0) ** x, 0.5), (lambda x: x ** x, -0.5),
])
def test_domain_errors_have_eager_types_and_messages_and_leave_grads_alone(f, x):
    w = Value(1.0)
    g = lambda x: f(x * w)  # noqa: E731
    step = autograd.compile(g, [3.0])
    with pytest.raises(Exception) as eager:
        g(Value(x))
    with pytest.raises(type(eager.value)) as compiled:
        step(x)
    assert str(compiled.value) == str(eager.value)
    assert w.grad == 0.0


def test_tracebacks_show_the_generated_line():
    step = autograd.compile(lambda x: (x - 1.0).log(), [3.0])
    with pytest.raises(ValueError) as info:
        step(1.0)
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    assert "raise _err_log(" in text


# --- the generated source is safe and readable ---------------------------------------------

EVIL = ['x"; import os; os.system("echo pwned") #', "a\nimport os\nb", "'''", "abs", "tanh",
        "_V", "d_x", "x_0", "1st", "None", "return", "ünïcödé", "", "_" * 100, "\\", "\r\nq=1"]


def test_labels_and_tags_cannot_change_what_the_generated_code_does():
    def build(labels):
        ws = [Value(0.1 * (i + 1), label) for i, label in enumerate(labels)]
        for i, w in enumerate(ws):
            w.tag = (labels[-1 - i], i, "\n") if i % 2 else None

        def f(x):
            terms = []
            for i, w in enumerate(ws):
                t = (w * x).tanh().abs()
                t.label = labels[i]
                t.tag = (labels[i],)
                terms.append(t)
            return vsum(terms)
        return f, ws

    f, ws = build(EVIL)
    step = autograd.compile(f, [1.0])
    plain = autograd.compile(build([""] * len(EVIL))[0], [1.0])
    tree = ast.parse(step.source)
    # The same code as with no labels at all, up to the names of locals ...
    assert ast.dump(_anonymous(tree)) == ast.dump(_anonymous(ast.parse(plain.source)))
    # ... which are plain ASCII identifiers that shadow nothing the code calls.
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert called == {"tanh", "abs"} and not called & {n.id for n in ast.walk(tree)
                                                       if isinstance(n, ast.Name)
                                                       and isinstance(n.ctx, ast.Store)}
    assert_same(eager_grads(f, [0.7], ws), compiled_grads(step, [0.7], ws))


def _anonymous(tree: ast.AST) -> ast.AST:
    """``tree`` with every local name replaced by its order of first appearance."""
    order: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            order.setdefault(node.id, f"n{len(order)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in order:
            node.id = order[node.id]
    return tree


def test_source_reads_like_the_textbook():
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    step = autograd.compile(lambda a, b: model([a, b]), [0.0, 0.0])
    src = step.source
    assert "u_0_0 = (theta_0_0_0 * x_0 + theta_0_0_1 * x_1) + bias_0_0" in src
    assert "o_0_0 = tanh(u_0_0)" in src
    assert "d_o_0_1 += d_u_1_0 * theta_1_0_1" in src  # δ_j·θ_ji, summed into d_o
    assert "d_u_0_1 = d_o_0_1 * (1.0 - o_0_1 * o_0_1) if d_o_0_1 else 0.0" in src  # σ'(u)·Σ
    assert "d_theta_0_1_0 += d_u_0_1 * x_0" in src  # ∂Err/∂θ = δ·o
    assert "def forward" in step.source_for(backward=False)
    assert "return" in step.source_for(input_grads=True)
    assert repr(step) == "<compiled <lambda>: 2 inputs, 13 variables, 7 computed nodes>"


def test_numbers_with_no_literal_are_written_by_name():
    w = Value(1.0)
    step = autograd.compile(lambda x: vsum([w * x, x * math.inf, x * -math.inf, (x * math.nan)]), [1.0])
    assert "inf" in step.source and "nan" in step.source
    assert_same(eager_grads(lambda x: vsum([w * x, x * math.inf, x * -math.inf, (x * math.nan)]),
                            [2.0], [w]), compiled_grads(step, [2.0], [w]))


# --- scale -----------------------------------------------------------------------------------

def test_a_100000_node_graph_compiles_and_runs(monkeypatch):
    monkeypatch.setattr(codegen, "MAX_LINES", 20_000)  # parts of 20,000 lines compile faster
    w = Value(0.5, "w")

    def chain(x):
        y = x * w  # w first: backward runs through the whole chain to reach it
        for _ in range(50_000):  # two nodes per step
            y = (y * 0.9999).tanh()
        return y

    step = autograd.compile(chain, [1.0])
    assert sum(1 for n in step._graph.nodes if n.kind == "computed") == 100_001
    assert "def _step_1(" in step.source  # too long for one function: split into parts
    eager = chain(Value(0.8))
    eager.backward()
    expected, w.grad = w.grad, 0.0
    assert step(0.8) == eager.data and w.grad == expected != 0.0


def test_wide_nodes_become_chained_partial_sums_that_add_left_to_right():
    rng = random.Random(5)
    ws = [Value(rng.uniform(-1, 1)) for _ in range(1000)]
    big = [rng.choice([1e16, -1e16, 1.0, 3.0, -7.5]) for _ in range(1000)]  # order shows
    xs = [rng.uniform(-1, 1) for _ in range(1000)]

    wide_dot = autograd.compile(lambda *v: dot(ws, [x * b for x, b in zip(v, big)], ws[0]), xs)
    out, gx = wide_dot(*xs, input_grads=True)
    expected = 0.0  # the op table's order: θ_1·o_1 + θ_2·o_2 + ... left to right, then + b
    for w, x, b in zip(ws, xs, big):
        expected += w.data * (x * b)
    assert out == expected + ws[0].data
    assert list(gx) == [w.data * b for w, b in zip(ws, big)]  # ∂u/∂x_ℓ = θ_ℓ·b_ℓ
    assert [w.grad for w in ws[1:]] == [x * b for x, b in zip(xs[1:], big[1:])]  # ∂u/∂θ_ℓ = o_ℓ
    assert ws[0].grad == xs[0] * big[0] + 1.0  # θ_1 is also the bias

    def wide_sum(*v):
        return vsum([x * w for x, w in zip(v, ws)] + big)

    assert_same(eager_grads(wide_sum, xs, ws), compiled_grads(autograd.compile(wide_sum, xs), xs, ws))


def test_code_split_into_parts_gives_the_same_floats(monkeypatch):
    monkeypatch.setattr(codegen, "MAX_LINES", 40)
    forward, params = tiny_mlp([3, 6, 6, 2], "tanh", random.Random(1))

    def err(*x):
        return vsum([o * o for o in forward(list(x))])

    step = autograd.compile(err, [0.1, 0.2, 0.3])
    assert "def _step_3(" in step.source and "_S[" in step.source
    assert_same(eager_grads(err, [0.5, -0.2, 1.5], params),
                compiled_grads(step, [0.5, -0.2, 1.5], params))
    assert close(step.forward(0.5, -0.2, 1.5), err(0.5, -0.2, 1.5).data)


def test_generated_sources_are_dropped_from_linecache_with_the_compiled_function():
    step = autograd.compile(lambda x: x * 2.0, [1.0])
    names = [name for name in linecache.cache if name.startswith("<deltagrad.compile")]
    assert any("lambda" in name for name in names)
    gc.collect()  # on PyPy (no reference counting) earlier tests' functions go at a collection:
    before = len(linecache.cache)  # let them go first, then count
    del step
    gc.collect()
    assert len(linecache.cache) == before - 1


def test_accumulator_adds_into_a_list_what_the_step_adds_into_grad():
    a, b, c = Value(0.7, "a"), Value(-1.2, "b"), Value(0.3, "c")

    def fn(x, y):
        return ((a * x + b * y).tanh() * c + a * a) * y

    compiled = autograd.compile(fn, [0.5, 2.0])
    params = [c, b, a, Value(9.0)]  # any order; an unused one stays untouched
    accumulate = compiled.accumulator(params)
    grads = [1.0, 2.0, 3.0, 4.0]
    for x, y in ((0.5, 2.0), (-1.5, 0.25)):
        out = accumulate([x, y], ([p.data for p in params], grads))
        assert out == compiled.forward(x, y)
    for p, g in zip(params, (1.0, 2.0, 3.0)):
        p.grad = g
    for x, y in ((0.5, 2.0), (-1.5, 0.25)):  # the oracle: eager backward, accumulating too
        fn(Value(x), Value(y)).backward()
    assert grads == [c.grad, b.grad, a.grad, 4.0]
    with pytest.raises(ValueError, match="mode must be"):
        compiled.function("backwards")
    assert compiled.accumulator([a, b]) is None  # c is a variable it was not given
    assert compiled.function("forward")([0.5, 2.0], compiled.variables) == compiled.forward(0.5, 2.0)
# --- reliability: the splitter at its boundaries, zero signs, unused ops ----------------------

def bits(x: float) -> bytes:
    """A float's exact bits: 0.0 and -0.0 differ, every NaN equals itself."""
    return struct.pack("<d", x) if x == x else b"nan"


def exact(eager, compiled) -> None:
    """Eager and compiled agree bit for bit: output, variables' grads, inputs' grads."""
    (ev, eg, ex), (cv, cg, cx) = eager, compiled
    assert [bits(v) for v in [ev, *eg, *ex]] == [bits(v) for v in [cv, *cg, *cx]], (eager, compiled)


def random_recipe(rng: random.Random, n_inputs: int, n_vars: int, terms: int):
    """A random program as (op, operands) rows over a pool of inputs, variables and results.

    Wide nodes get sizes around multiples of ``terms`` (the chunk limit of one + chain);
    rows over inputs only have a backward that step mode skips entirely; some results are
    never used (compiled code still computes them).
    """
    pool = n_inputs + n_vars
    rows = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.choice(["dot", "sum", "mul", "add", "tanh", "relu", "square", "inputs_only"])
        if kind in ("dot", "sum"):
            width = max(1, rng.choice([terms - 1, terms, terms + 1, 2 * terms - 1, 2 * terms,
                                       2 * terms + 1, 3 * terms]) // (2 if kind == "dot" else 1))
            operands = [rng.randrange(pool) for _ in range(2 * width if kind == "dot" else width)]
        elif kind == "inputs_only":
            operands = [rng.randrange(n_inputs), rng.randrange(n_inputs)]
        else:
            operands = [rng.randrange(pool) for _ in range(1 if kind in ("tanh", "relu", "square") else 2)]
        rows.append((kind, operands))
        pool += 1
    return rows


def run_recipe(rows, xs, ws):
    pool = list(xs) + list(ws)
    for kind, ops in rows:
        a = [pool[i] for i in ops]
        if kind == "dot":
            h = len(a) // 2
            pool.append(dot(a[:h], a[h:]))
        elif kind == "sum":
            pool.append(vsum(a))
        elif kind in ("mul", "inputs_only"):
            pool.append(a[0] * a[1])
        elif kind == "add":
            pool.append(a[0] + a[1])
        elif kind == "tanh":
            pool.append(a[0].tanh())
        elif kind == "relu":
            pool.append(a[0].relu())
        else:
            pool.append(a[0] ** 2)
    used = pool[len(xs) + len(ws):]
    return vsum(used[len(used) // 2:])  # the first half of the results may go unused


@pytest.mark.parametrize("seed", range(60))
def test_the_splitter_at_its_boundaries_gives_eagers_bits(monkeypatch, seed):
    rng = random.Random(seed)
    max_terms = rng.choice([2, 3, 4, 5, 8])
    monkeypatch.setattr(codegen, "MAX_TERMS", max_terms)
    monkeypatch.setattr(codegen, "MAX_LINES", rng.choice([1, 2, 3, 4, 5, 6, 8, 11, 16, 25, 40]))
    n_inputs, n_vars = rng.randint(1, 6), rng.randint(0, 6)
    ws = [Value(rng.uniform(-1, 1)) for _ in range(n_vars)]
    rows = random_recipe(rng, n_inputs, n_vars, max_terms)
    xs = [rng.choice([0.0, -0.0, rng.uniform(-2, 2)]) for _ in range(n_inputs)]

    def fn(*x):
        return run_recipe(rows, x, ws)

    step = autograd.compile(fn, [0.3] * n_inputs)
    ast.parse(step.source_for(input_grads=True))  # every part has a body
    exact(eager_grads(fn, xs, ws), compiled_grads(step, xs, ws))
    for w in ws:
        w.grad = 0.0
    out = step(*xs)  # step mode: inputs need no gradient, some nodes no backward at all
    eager = fn(*[Value(x) for x in xs])
    assert bits(out) == bits(eager.data)


@pytest.mark.parametrize("n", [299, 300, 301])
def test_a_dot_as_long_as_a_part_compiles(monkeypatch, n):
    """The 100,000-term dot that made a part holding only a comment (an IndentationError),
    at 1/333 of the size: MAX_LINES = 300 terms, and one term fewer and more."""
    monkeypatch.setattr(codegen, "MAX_LINES", 300)
    rng = random.Random(n)
    ws = [Value(rng.uniform(-1, 1)) for _ in range(n)]
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    step = autograd.compile(lambda *x: dot(ws, list(x)), [0.5] * n)
    assert "def _step_1(" in step.source
    exact(eager_grads(lambda *x: dot(ws, list(x)), xs, ws),
          compiled_grads(step, xs, ws))


@pytest.mark.skipif(not os.environ.get("DELTAGRAD_SLOW_TESTS"),
                    reason="slow (10 s to minutes): set DELTAGRAD_SLOW_TESTS=1")
def test_a_100000_term_dot_compiles_and_runs():  # SLOW: the issue's own case, at full size
    n = 100_000
    ws = [Value(0.001 * (i % 7)) for i in range(n)]
    xs = [0.5 + 0.001 * (i % 11) for i in range(n)]
    step = autograd.compile(lambda *x: dot(ws, list(x)), [0.5] * n)
    out = step(*xs)
    expected = 0.0
    for w, x in zip(ws, xs):
        expected += w.data * x
    assert out == expected and [w.grad for w in ws] == xs


def test_input_gradients_keep_eagers_zero_signs():
    step = autograd.compile(lambda x: (x ** 0) * -1.0, [1.5])
    out, (gx,) = step(1.5, input_grads=True)
    assert out == -1.0 and bits(gx) == bits(0.0)  # not -0.0: eager adds -1.0·0 to 0.0

    w = Value(2.0)
    programs = [  # each gives some input a product that is a signed zero
        lambda x, y: (x * 0.0) * -3.0 + y,
        lambda x, y: (x * -1.0).relu() * y,  # relu' = 0 where x > 0
        lambda x, y: (x - x) * -y,
        lambda x, y: (x ** 0) * (-y) + w * x,
        lambda x, y: dot([x, y], [-0.0, w]),
    ]
    for fn in programs:
        step = autograd.compile(fn, [1.0, 2.0])
        for xs in ([1.0, 2.0], [-1.0, 0.0], [0.0, -0.0], [-0.0, 3.0]):
            exact(eager_grads(fn, xs, [w]), compiled_grads(step, xs, [w]))


def test_an_unused_op_that_raises_in_eager_raises_compiled():
    def f(x):
        x.log()  # the result is thrown away
        return x * 2.0

    step = autograd.compile(f, [1.0])
    assert step(3.0) == 6.0
    with pytest.raises(ValueError, match="log: input must be > 0, got -1.0") as compiled:
        step(-1.0)
    with pytest.raises(ValueError) as eager:
        f(Value(-1.0))
    assert str(compiled.value) == str(eager.value)
    with pytest.raises(ValueError, match="log"):
        step.forward(-1.0)


def test_of_two_ops_that_raise_the_one_eager_meets_first_raises():
    def g(x, y):
        a = x.log()
        b = y.sqrt()
        return b + a  # the walk from the output meets sqrt first; eager runs log first

    step = autograd.compile(g, [1.0, 1.0])
    assert_same(eager_grads(g, [-1.0, -1.0], []), compiled_grads(step, [-1.0, -1.0], []))
    with pytest.raises(ValueError, match="log"):
        step(-1.0, -1.0)
