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


# --- a mode's state and its ops agree in every thread, task and copied context --------------

def _state_and_ops() -> tuple:
    """What code sees here: (is_grad_enabled, ops record, is_anomaly_enabled, NaN raises)."""
    recorded = _records(Value(1.0) * 2)
    try:
        nan_raises = not math.isnan((Value(INF) - Value(INF)).data)
    except FloatingPointError:
        nan_raises = True
    return is_grad_enabled(), recorded, is_anomaly_enabled(), nan_raises


ON, OFF = (True, True, False, False), (False, False, True, True)  # grad on / no_grad+anomaly


def test_a_task_created_inside_the_block_that_runs_after_it_sees_the_modes_ended():
    async def main():
        go = asyncio.Event()

        async def later():
            before = _state_and_ops()  # runs while the creator is still inside the block
            await go.wait()
            return before, _state_and_ops()

        with no_grad(), detect_anomaly():
            task = asyncio.create_task(later())
            await asyncio.sleep(0)
            assert _state_and_ops() == OFF
        go.set()
        return await task

    before = modes.active
    inside, after = asyncio.run(main())
    assert inside == OFF
    assert after == ON  # not "is_grad_enabled() False while ops record" as before
    assert modes.active == before


def test_copy_context_run_after_the_block_sees_the_modes_ended():
    import contextvars

    with no_grad(), detect_anomaly():
        ctx = contextvars.copy_context()
        assert ctx.run(_state_and_ops) == OFF  # while the block is open: in force
    assert ctx.run(_state_and_ops) == ON
    assert _state_and_ops() == ON


def test_a_copied_context_falls_back_to_the_innermost_scope_still_open():
    import contextvars

    with no_grad():
        with no_grad():
            ctx = contextvars.copy_context()
        assert ctx.run(_state_and_ops)[:2] == (False, False)  # the outer block still holds
        with detect_anomaly():
            assert ctx.run(_state_and_ops) == (False, False, False, False)  # not ctx's mode
    assert ctx.run(_state_and_ops) == ON


def test_asyncio_to_thread_inside_the_block_sees_it():
    async def main():
        with no_grad():
            return await asyncio.to_thread(_state_and_ops)

    assert asyncio.run(main())[:2] == (False, False)  # to_thread copies the caller's context


def test_compile_tracing_records_inside_no_grad_and_its_copied_contexts_agree():
    import contextvars

    seen = {}

    def f(x):
        seen["ctx"] = contextvars.copy_context()
        seen["inside"] = _state_and_ops()[:2]
        return x * 3.0

    with no_grad():
        fn = autograd.compile(f, [1.0])
    assert seen["inside"] == (True, True)  # the trace turns recording back on
    assert seen["ctx"].run(_state_and_ops) == ON  # and its scope is closed now
    assert fn(2.0) == 6.0


def test_modes_in_many_threads_at_once_agree_with_their_ops():
    import sys

    before, interval = modes.active, sys.getswitchinterval()
    failures = []

    def worker(i):
        for _ in range(200):
            with no_grad():
                if _state_and_ops()[:2] != (False, False):
                    failures.append(i)
                if i % 2:
                    with detect_anomaly():
                        if _state_and_ops() != OFF:
                            failures.append(i)
            if _state_and_ops() != ON:
                failures.append(i)

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert modes.active == before


# --- decorators: bare, on generators, coroutines and async generators ----------------------

def test_bare_no_grad_and_detect_anomaly_decorate_too():
    @no_grad
    def predict(v):
        """Kept."""
        return v * 2, is_grad_enabled()

    out, enabled = predict(Value(1.0))
    assert out.parents == () and enabled is False and is_grad_enabled()
    assert predict.__name__ == "predict" and predict.__doc__ == "Kept."

    @detect_anomaly
    def subtract(a, b):
        return a - b

    with pytest.raises(FloatingPointError):
        subtract(Value(INF), Value(INF))
    with pytest.raises(TypeError, match="takes no arguments"):
        no_grad(5)


def test_no_grad_on_a_generator_holds_at_each_resume_and_not_between():
    @no_grad()
    def steps(v):
        """Kept."""
        got = yield v * 2, is_grad_enabled()
        while got is not None:
            try:
                got = yield got * 2, is_grad_enabled()
            except KeyError:
                got = yield "caught", is_grad_enabled()
        return "done"

    gen = steps(Value(1.0))
    assert steps.__doc__ == "Kept."
    first, enabled = next(gen)
    assert first.parents == () and enabled is False
    assert is_grad_enabled() and _records(Value(1.0) * 2)  # between resumes: the caller's mode
    second, enabled = gen.send(Value(3.0))
    assert second.data == 6.0 and second.parents == () and enabled is False
    assert gen.throw(KeyError("k")) == ("caught", False)
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == "done"
    assert [v.parents for v, _ in no_grad()(lambda: (yield from steps(Value(1.0))))()] == [()]
    closing = steps(Value(1.0))
    next(closing)
    closing.close()
    assert is_grad_enabled()


def test_no_grad_on_an_async_function_holds_while_it_runs_and_only_there():
    @no_grad
    async def predict(v, other_saw):
        first = v * 2
        await asyncio.sleep(0)  # another task runs here, in its own mode
        return first, v * 3, is_grad_enabled(), other_saw

    async def other(seen):
        seen.append(_state_and_ops()[:2])

    async def main():
        seen = []
        both = asyncio.gather(predict(Value(1.0), seen), other(seen))
        (a, b, enabled, _), _ = await both
        return a, b, enabled, seen

    a, b, enabled, seen = asyncio.run(main())
    assert a.parents == () and b.parents == () and enabled is False
    assert seen == [(True, True)]

    coro = predict(Value(1.0), [])  # driven by hand: the mode must not leak to the driver
    coro.send(None)
    assert is_grad_enabled() and _records(Value(1.0) * 2)
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    assert stop.value.value[2] is False


def test_no_grad_on_an_async_generator_holds_at_each_resume():
    @no_grad()
    async def stream(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield Value(float(i)) * 2, is_grad_enabled()

    async def main():
        out = []
        async for v, enabled in stream(3):
            out.append((v.parents, enabled, is_grad_enabled()))
        return out

    assert asyncio.run(main()) == [((), False, True)] * 3
    assert is_grad_enabled()


# --- paused_gc: the one pause of the cyclic collector ---------------------------------------

def _backward_in_threads(n_threads: int = 4, rounds: int = 1500) -> None:
    import sys

    def worker():
        x = Value(0.5)
        y = x * x
        for _ in range(rounds):  # tiny backwards: as many pauses as possible
            y.backward()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        threads = [threading.Thread(target=worker) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)


def test_concurrent_backward_leaves_the_collector_enabled():
    # the old check-then-disable left it off in about 1 run in 7 of these
    assert gc.isenabled()
    for run in range(20):
        _backward_in_threads()
        assert gc.isenabled(), f"collector left disabled after run {run}"


def test_concurrent_backward_leaves_a_users_gc_disable_alone():
    gc.disable()
    try:
        _backward_in_threads(rounds=500)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_paused_gc_nests_counts_and_is_a_no_op_where_it_would_stop_all_freeing(monkeypatch):
    monkeypatch.setattr(modes, "_PAUSES_GC", True)  # as on CPython, also when run on PyPy
    with modes.paused_gc():
        assert not gc.isenabled()
        with modes.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with modes.paused_gc():
            raise ValueError("inside")
    assert gc.isenabled()
    monkeypatch.setattr(modes, "_PAUSES_GC", False)  # as on PyPy: no reference counting
    with modes.paused_gc():
        assert gc.isenabled()
