"""autograd.compile's loop over many calls (batch_accumulator) and inputs computed as a
maximum (input_is_max), checked against eager backward and finite differences."""

from __future__ import annotations

import math
import random

import pytest

import autograd
from autograd import Value
from autograd import sum as vsum
from autograd.compile import batch_accumulator, input_is_max, traced


def test_a_loop_over_rows_adds_eagers_gradients_in_eagers_order():
    a, b, c = Value(0.7, "a"), Value(-1.2, "b"), Value(0.3, "c")

    def fn(x, y):
        return ((a * x + b * y).tanh() * c + a * a) * y, [a * x]

    compiled = autograd.compile(fn, [0.5, 2.0], has_aux=True)
    params = [c, b, a, Value(9.0)]  # any order; an unused one keeps its number
    batch = batch_accumulator([compiled], params)
    rows = [[0.5, 2.0], [-1.5, 0.25], [3.0, -1.0]]
    grads = [1.0, 2.0, 3.0, 4.0]
    out = batch(rows, [p.data for p in params], grads)
    assert out == [(0.7 * x,) for x, _ in rows]  # each row's aux values
    for p, g in zip(params, (1.0, 2.0, 3.0)):  # the oracle: eager backward, accumulating
        p.grad = g
    for x, y in rows:
        fn(Value(x), Value(y))[0].backward()
    assert grads == [c.grad, b.grad, a.grad, 4.0]  # bit for bit: the same products in order
    assert batch_accumulator([compiled], [a, b]) is None  # c is a variable it was not given


def test_several_compiled_functions_in_one_loop_run_by_row():
    w = Value(1.5, "w")
    first = traced(lambda x: (w * x).relu(), [1.0])
    second = traced(lambda x: (w - x) * (w - x), [1.0])
    batch = batch_accumulator([first, second], [w])
    rows = [(0, [2.0]), (1, [0.5]), (0, [-1.0]), (1, [3.0])]
    grads = [0.0]
    out = batch(rows, [w.data], grads)
    assert out == [3.0, 1.0, 0.0, 2.25]  # no aux: each row's output
    w.grad = 0.0
    for k, (x,) in rows:  # eager, same order
        ((w * x).relu() if k == 0 else (w - x) * (w - x)).backward()
    assert grads == [w.grad] and w.grad == 2.0 + 2 * (1.5 - 0.5) + 0.0 + 2 * (1.5 - 3.0)


def test_a_loop_too_long_for_one_function_is_not_made(monkeypatch):
    from autograd import _codegen
    w = Value(0.5, "w")
    compiled = traced(lambda x: (w * x).tanh().tanh(), [1.0])
    monkeypatch.setattr(_codegen, "MAX_LINES", 3)
    assert batch_accumulator([compiled], [w]) is None


def lse(zs):
    m = max(z.data for z in zs)  # eager: the shift is a plain number
    return vsum([(z - m).exp() for z in zs]).log()


def test_input_is_max_follows_the_values_where_a_frozen_shift_would_not():
    ws = [Value(0.5, "w0"), Value(-0.25, "w1"), Value(2.0, "w2")]

    def fn(x, m):
        zs = [w * x for w in ws]
        input_is_max(m, zs)
        return vsum([(z - m).exp() for z in zs]).log()

    compiled = autograd.compile(fn, [1.0, 0.0])
    assert "max(" in compiled.source
    for x in (1.0, -3.0, 400.0, -400.0):  # ±400: e^(z - frozen m) would overflow or vanish
        for w in ws:
            w.grad = 0.0
        got = compiled(x, 12345.0)  # the number given for m is ignored
        grads = [w.grad for w in ws]
        for w in ws:
            w.grad = 0.0
        expected = lse([w * x for w in ws])
        expected.backward()
        assert got == expected.data and grads == [w.grad for w in ws]  # eager's, bit for bit
        # and ∂/∂w_k = x·softmax_k, the closed form
        zs = [w.data * x for w in ws]
        top = max(zs)
        total = sum(math.exp(z - top) for z in zs)
        for g, z in zip(grads, zs):
            assert g == pytest.approx(x * math.exp(z - top) / total, rel=1e-12, abs=1e-300)


def test_input_is_max_gets_no_gradient_and_checks_its_use():
    w = Value(1.0, "w")

    def fn(x, m):
        input_is_max(m, [w * x, -(w * x)])
        return w * x - m

    compiled = autograd.compile(fn, [2.0, 0.0])
    w.grad = 0.0
    out, (dx, dm) = compiled(-3.0, 0.0, input_grads=True)
    assert out == -3.0 - 3.0 and dm == 0.0 and dx == 1.0  # m = |x·w| passes nothing back
    assert w.grad == -3.0
    with pytest.raises(RuntimeError, match="only while autograd.compile traces"):
        input_is_max(Value(1.0), [w])

    def not_an_input(x):
        z = w * x
        input_is_max(z, [w])
        return z

    with pytest.raises(TypeError, match="must be one of fn's inputs"):
        autograd.compile(not_an_input, [1.0])


def test_a_random_mlp_loop_matches_eager_bit_for_bit():
    import nn
    rng = random.Random(3)
    model = nn.MLP(3, [5, 4, 2], activation="tanh", seed=7)
    params = model.parameters()

    def fn(x0, x1, x2, c, seed):
        zs = model([x0, x1, x2])
        input_is_max(c, zs)  # a softmax cross-entropy of class 1, its shift per call
        shifted = [z - c for z in zs]
        return (vsum([s.exp() for s in shifted]).log() - shifted[1]) * seed

    compiled = traced(fn, [0.1, 0.2, 0.3, 0.0, 1.0])
    batch = batch_accumulator([compiled], params)
    rows = [[rng.uniform(-2, 2) for _ in range(3)] + [0.0, 0.25] for _ in range(4)]
    grads = [0.0] * len(params)
    out = batch(rows, [p.data for p in params], grads)
    for p in params:
        p.grad = 0.0
    expected = []
    for row in rows:
        zs = model(row[:3])
        m = max(z.data for z in zs)  # as nn.cross_entropy does
        shifted = [z - m for z in zs]
        err = (vsum([s.exp() for s in shifted]).log() - shifted[1]) * 0.25
        err.backward()
        expected.append(err.data)
    assert out == expected and grads == [p.grad for p in params]


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_an_in_place_loop_is_zero_grad_then_eager_backward_of_the_penalised_sum(l2):
    from autograd import dot
    a, b, c = Value(0.7, "a"), Value(-0.0, "b"), Value(0.0, "c")
    unused = Value(-2.5, "unused")  # not read by fn: its gradient is the penalty's alone
    params = [c, unused, a, b]

    def fn(x, seed):
        return (a * x + b).relu() * c * seed + (a - x) * (a - x) * seed

    compiled = traced(fn, [0.5, 1.0])
    batch = batch_accumulator([compiled], params, in_place=True, l2=l2)
    rows = [[0.5, 0.25], [-1.5, 0.25], [3.0, 0.25], [0.0, 0.25]]
    for p in params:
        p.grad = 123.0  # stale gradients are replaced, not added to
    out, squares = batch(rows[::-1])  # eager's tape meets the last row first
    got = [p.grad for p in params]
    for p in params:  # the oracle: zero_grad, then eager backward of Σ rows + l2·θ·θ
        p.grad = 0.0
    err = vsum([fn(Value(x), Value(s)) for x, s in rows])
    if l2:
        penalty = dot(params, params)
        err = err + l2 * penalty
        assert squares == penalty.data == 0.7 ** 2 + 2.5 ** 2
    else:
        assert squares == 0.0
    err.backward()
    assert out == [fn(Value(x), Value(s)).data for x, s in rows[::-1]]
    assert got == [p.grad for p in params]  # bit for bit ...
    assert [math.copysign(1.0, g) for g in got] == [math.copysign(1.0, p.grad) for p in params]
    assert got[1] == (2 * l2 * -2.5 if l2 else 0.0)  # ... and by the closed form


def test_a_row_whose_gradient_stops_at_a_relu_ends_early_with_eagers_gradients():
    w, b = Value(0.5, "w"), Value(-1.0, "b")

    def fn(x):  # a hinge, whose relu all of its gradient flows through, and a penalty
        s = (w * x + b).tanh()
        return w * b * 0.5 + (1.0 - s * x).relu(), [s]  # the penalty's gradient comes last

    compiled = traced(fn, [1.0], has_aux=True)
    batch = batch_accumulator([compiled], [w, b])
    assert ": continue" in batch.source
    rows = [[4.0], [-0.5], [0.1], [30.0]]  # the 1st and 4th rows are past the margin: relu' = 0
    grads = [0.25, -0.5]
    out = batch(rows, [w.data, b.data], grads)
    w.grad, b.grad = 0.25, -0.5
    expected = []
    for (x,) in rows:
        loss, (s,) = fn(Value(x))
        loss.backward()
        expected.append((s.data,))
    assert out == expected  # every row's results, the early-ended ones too
    assert grads == [w.grad, b.grad]
    assert [1.0 - math.tanh(0.5 * x - 1.0) * x > 0 for (x,) in rows] == [False, True, True, False]
