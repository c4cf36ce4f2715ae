"""no_grad and detect_anomaly: what they change, as context managers and decorators,
nested, after exceptions, and only in the thread or asyncio task that entered them."""

from __future__ import annotations

import asyncio
import gc
import math
import threading

import pytest

import autograd
from autograd import Value, detect_anomaly, is_anomaly_enabled, is_grad_enabled, modes, no_grad

INF, NAN = math.inf, math.nan


def _records(v: Value) -> bool:
    return v.parents != () and v.op != ""


# --- no_grad ----------------------------------------------------------------------------------

def _every_op(a: Value, b: Value) -> list:
    return [a + b, a - b, a * b, a / b, a ** b, a ** 2, 2 ** a, -a, a.exp(), a.log(), a.sqrt(),
            a.tanh(), a.sigmoid(), a.relu(), a.leaky_relu(0.1), abs(a), 2 * a, 1 / a,
            autograd.sum([a, b, 1.0]), autograd.dot([a, b], [b, 2.0], bias=a)]


def test_no_grad_results_are_parentless_leaves_with_the_same_data():
    a, b = Value(1.5), Value(0.5)
    recorded = _every_op(a, b)
    with no_grad():
        assert not is_grad_enabled()
        plain = _every_op(a, b)
    assert is_grad_enabled()
    assert all(_records(v) for v in recorded)
    for r, p in zip(recorded, plain):
        assert p.parents == () and p.op == "" and p.local_grads == () and p.arg is None
        assert p.data == r.data


def test_no_grad_cuts_the_graph_at_its_results():
    x = Value(3.0)
    with no_grad():
        y = x * 2  # a leaf holding 6.0
    z = y * x
    z.backward()
    assert x.grad == 6.0  # only the direct path: ∂z/∂x = y
    assert y.grad == 3.0


def test_no_grad_as_decorator():
    @no_grad()
    def predict(v: Value) -> Value:
        """Docstring kept."""
        assert not is_grad_enabled()
        return v * 2 + 1

    out = predict(Value(1.0))
    assert out.data == 3.0 and out.parents == ()
    assert predict.__name__ == "predict" and predict.__doc__ == "Docstring kept."
    assert is_grad_enabled()
    assert predict(Value(2.0)).parents == ()  # each call enters a fresh scope


def test_no_grad_nests_and_restores_after_exceptions():
    before = modes.active
    with no_grad():
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()  # leaving the inner scope keeps the outer one
        assert (Value(1.0) * 2).parents == ()
    assert is_grad_enabled()
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()

    @no_grad()
    def fails():
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fails()
    assert is_grad_enabled() and _records(Value(1.0) * 2)
    assert modes.active == before  # ops are back on their fast path


def test_a_mode_object_cannot_be_entered_twice_at_once_but_can_be_reused():
    ng = no_grad()
    with ng:
        with pytest.raises(RuntimeError, match="already entered"):
            with ng:
                pass
    assert is_grad_enabled()
    with ng:
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_in_a_thread_does_not_affect_the_main_thread():
    inside, main_done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with no_grad():
            inside.set()
            main_done.wait(10)
            seen["value"] = Value(1.0) * 2
            seen["enabled"] = is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        y = Value(1.0) * 2  # made while the worker sits inside no_grad
        assert is_grad_enabled() and _records(y)
    finally:
        main_done.set()
        t.join(10)
    assert seen["enabled"] is False and seen["value"].parents == ()


def test_no_grad_in_the_main_thread_does_not_affect_a_thread():
    seen = {}

    def worker():
        seen["enabled"] = is_grad_enabled()
        seen["value"] = Value(1.0) * 2

    with no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
        assert (Value(1.0) * 2).parents == ()
    assert seen["enabled"] is True and _records(seen["value"])


def test_no_grad_is_private_to_an_asyncio_task():
    async def main():
        inside, go = asyncio.Event(), asyncio.Event()

        async def quiet():
            with no_grad():
                inside.set()
                await go.wait()  # the other task runs while this one is inside no_grad
                return Value(1.0) * 2, is_grad_enabled()

        async def loud():
            await inside.wait()
            out = Value(1.0) * 2, is_grad_enabled()
            go.set()
            return out

        return await asyncio.gather(quiet(), loud())

    (q, q_enabled), (r, r_enabled) = asyncio.run(main())
    assert q.parents == () and q_enabled is False
    assert _records(r) and r_enabled is True


# --- detect_anomaly: forward ---------------------------------------------------------------

@pytest.mark.parametrize("make, words", [
    (lambda: Value(INF) - Value(INF), ["sub", "inf", "nan"]),
    (lambda: Value(NAN) * 2, ["mul", "nan", "2.0"]),
    (lambda: Value(1e308) * 10, ["mul", "1e+308", "10.0", "inf"]),
    (lambda: Value(NAN).tanh(), ["tanh", "nan"]),
    (lambda: Value(INF).exp(), ["exp", "inf"]),
    (lambda: Value(NAN).leaky_relu(0.2), ["leaky_relu", "nan", "k=0.2"]),
    (lambda: Value(NAN).relu(), ["relu", "nan"]),  # NaN is not silently turned into 0
    (lambda: Value(NAN).abs(), ["abs", "nan"]),
    (lambda: autograd.sum([Value(INF), 1.0, Value(-INF)]), ["sum", "inf, 1.0, -inf"]),
    (lambda: autograd.dot([Value(1e200)], [Value(1e200)]), ["dot", "1e+200"]),
])
def test_detect_anomaly_raises_at_the_first_non_finite_forward_value(make, words):
    with detect_anomaly():
        assert is_anomaly_enabled()
        with pytest.raises(FloatingPointError) as info:
            make()
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    assert not is_anomaly_enabled()
    out = make()  # outside the mode the same computation just gives inf/nan
    assert not math.isfinite(out.data)


def test_detect_anomaly_lets_finite_work_through_unchanged():
    with detect_anomaly():
        a, b = Value(0.7), Value(-1.3)
        out = (a * b).tanh() + b.exp()
        out.backward()
    t = math.tanh(0.7 * -1.3)
    assert a.grad == pytest.approx((1 - t * t) * -1.3, rel=1e-12)
    assert b.grad == pytest.approx((1 - t * t) * 0.7 + math.exp(-1.3), rel=1e-12)


# --- detect_anomaly: backward --------------------------------------------------------------

def test_detect_anomaly_names_the_node_whose_backward_went_non_finite():
    x = Value(0.0)
    y = x.sqrt()  # √ at 0: local derivative +inf
    y.label = "root of x"
    assert y.local_grads == (INF,)
    with detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            y.backward()
    message = str(info.value)
    assert "sqrt" in message and "'root of x'" in message and "inf" in message
    assert gc.isenabled()  # backward restored the collector on the way out


def test_detect_anomaly_backward_catches_nan_gradients():
    a, b = Value(-2.0), Value(3.0)
    out = a ** b  # ∂/∂b = a^b·ln a is nan for a < 0
    with detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            out.backward()
    assert "powv" in str(info.value) and "nan" in str(info.value)


def test_anomaly_check_applies_when_backward_runs_not_when_the_graph_was_built():
    with detect_anomaly():
        y = Value(0.0).sqrt()
    x = Value(0.0)
    z = x.sqrt()
    y.backward()  # built inside, backward outside: no check
    assert y.parents[0].grad == INF
    with detect_anomaly():  # built outside, backward inside: checked
        with pytest.raises(FloatingPointError):
            z.backward()


def test_detect_anomaly_stopping_backward_gives_back_gradients_held_before():
    a = Value(0.0)
    mid = a.sqrt()
    out = mid * 2.0
    mid.grad = 5.0  # left over from an earlier backward through mid
    with detect_anomaly():
        with pytest.raises(FloatingPointError):
            out.backward()
    assert mid.grad == 5.0 + 2.0  # this call's 2.0 on top of the 5.0 it held


def test_without_detect_anomaly_non_finite_gradients_pass_silently():
    x = Value(0.0)
    x.sqrt().backward()
    assert x.grad == INF


def test_a_zero_gradient_passes_nothing_on_even_through_an_infinite_local_derivative():
    # backward's documented rule: 0·(local derivative) is skipped, so no 0·inf = nan appears
    x = Value(0.0)
    out = x.sqrt() * 0.0
    with detect_anomaly():
        out.backward()
    assert x.grad == 0.0


def test_detect_anomaly_decorator_nesting_exceptions_and_threads():
    before = modes.active

    @detect_anomaly()
    def subtract(a, b):
        return a - b

    with pytest.raises(FloatingPointError):
        subtract(Value(INF), Value(INF))
    assert not is_anomaly_enabled()
    with detect_anomaly(), no_grad():
        assert is_anomaly_enabled() and not is_grad_enabled()
        with pytest.raises(FloatingPointError):
            Value(INF) * 0
    assert is_anomaly_enabled() is False and is_grad_enabled()

    inside, main_done = threading.Event(), threading.Event()

    def worker():
        with detect_anomaly():
            inside.set()
            main_done.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        assert math.isnan((Value(INF) - Value(INF)).data)  # the worker's mode is not ours
    finally:
        main_done.set()
        t.join(10)
    assert modes.active == before
