"""Modes that change what ops do: ``no_grad``, ``detect_anomaly`` and compile's tracing;
and ``paused_gc``, the one safe way to pause Python's cyclic garbage collector.

What a mode means, everywhere
-----------------------------
A mode is in force while the ``with`` block (or decorated call) that entered it is
open, and only in code that runs in that block's context: the block itself, and any
asyncio task, ``contextvars.copy_context()`` or ``asyncio.to_thread`` call started
inside it.  When the block exits, the mode ends for all of them at once, even for a
task that is still running: from then on that task's ``is_grad_enabled()`` says True
*and* its ops record a graph.  Threads started with a fresh context (``threading``'s
default before Python 3.14) and tasks started elsewhere are never affected.  Nested
blocks stack: the innermost block still open decides (compile's tracing turns recording
back on inside a ``no_grad``).

How: each mode's context variable holds the *scope* (one per entry) that set it, and
each scope points at the one it shadowed.  A scope counts only while it is open; when
it closes, readers fall through to the next open scope out.  Ops stay fast when no mode
is on anywhere: ``active`` counts open scopes over the whole process, and only when it
is non-zero do ops take their slow path, which asks ``is_grad_enabled()``,
``is_anomaly_enabled()`` and ``current_tracer()``, the same functions users call.

As decorators, ``@no_grad`` and ``@no_grad()`` both work, on plain functions, ``async
def`` functions, generators and async generators; for the last three the mode is entered
afresh around each resume (each step between two ``yield`` / ``await`` suspensions), so
it holds whenever the decorated code runs and never leaks into its caller's code.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import inspect
import platform
import threading
from typing import Any, Callable, Generator, Optional, Tuple, TypeVar

__all__ = ["no_grad", "detect_anomaly", "is_grad_enabled", "is_anomaly_enabled",
           "current_tracer", "is_creating_graph", "paused_gc"]

F = TypeVar("F", bound=Callable[..., Any])

#: How many mode scopes are open right now, over all threads and tasks.  Zero means
#: every op can take its fast path without looking at the context variables.
active = 0
_lock = threading.Lock()


class _Scope:
    """One entry of a mode: its value, the scope it shadows, and whether it is still open."""

    __slots__ = ("value", "outer", "open")

    def __init__(self, value: Any, outer: Optional[_Scope]) -> None:
        self.value = value
        self.outer = outer
        self.open = True


#: Scope saying whether ops record a graph: False under no_grad, True under compile's trace.
_grad: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar(
    "deltagrad_grad", default=None)
_anomaly: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar(
    "deltagrad_anomaly", default=None)
#: Scope holding the tracer of ``autograd.compile`` while it records a function.
_tracing: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar(
    "deltagrad_tracing", default=None)

#: Scope set while ``autograd.grad(..., create_graph=True)`` builds a derivative's graph.
_creating: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar(
    "deltagrad_creating_graph", default=None)

_Var = contextvars.ContextVar[Optional[_Scope]]
_Entry = Tuple[_Var, _Scope, contextvars.Token[Optional[_Scope]]]


def _enter(var: _Var, value: Any) -> _Entry:
    """Open a scope setting ``var`` to ``value`` in the current context."""
    global active
    with _lock:
        active += 1
    scope = _Scope(value, var.get())
    return var, scope, var.set(scope)


def _leave(entry: _Entry) -> None:
    """Close the scope ``_enter`` opened: it stops counting in every context that holds it."""
    global active
    var, scope, token = entry
    scope.open = False
    try:
        var.reset(token)
    finally:
        with _lock:
            active -= 1


def _reader(var: _Var, default: Any, name: str, doc: str) -> Callable[[], Any]:
    """A function returning the value of the innermost open scope of ``var`` that this
    context sees (``default`` if none).  One call deep: ops' slow path calls it."""
    get = var.get

    def read() -> Any:  # typed where it is bound (is_grad_enabled: Callable[[], bool])
        if not active:
            return default
        scope = get()
        while scope is not None:
            if scope.open:
                return scope.value
            scope = scope.outer
        return default

    read.__name__ = read.__qualname__ = name
    read.__doc__ = doc
    return read


_SEE = " (see the ``autograd.modes`` docstring for threads and tasks)."
is_grad_enabled: Callable[[], bool] = _reader(
    _grad, True, "is_grad_enabled", "False inside ``no_grad()``" + _SEE)
is_anomaly_enabled: Callable[[], bool] = _reader(
    _anomaly, False, "is_anomaly_enabled", "True inside ``detect_anomaly()``" + _SEE)
current_tracer: Callable[[], Optional[Any]] = _reader(
    _tracing, None, "current_tracer", "The tracer ``autograd.compile`` is recording into here, "
    "else None" + _SEE)
is_creating_graph: Callable[[], bool] = _reader(
    _creating, False, "is_creating_graph", "True while ``autograd.grad(..., create_graph=True)`` "
    "builds a derivative's graph (``float(Value)`` is refused then)" + _SEE)


class _Mode:
    """A context manager that is also a decorator (``@mode`` or ``@mode()``)."""

    _var: _Var
    _value: Any

    def __new__(cls, func: Optional[Callable[..., Any]] = None) -> Any:
        if func is None:
            return super().__new__(cls)
        if not callable(func):
            raise TypeError(f"{cls.__name__}() takes no arguments (as a decorator: "
                            f"@{cls.__name__} or @{cls.__name__}()), got {func!r}")
        return _decorate(cls, func)

    def __init__(self) -> None:
        self._entry: Optional[_Entry] = None

    def __enter__(self) -> _Mode:
        if self._entry is not None:
            raise RuntimeError(f"{type(self).__name__}() is already entered; make a new one")
        self._entry = _enter(self._var, self._value)
        return self

    def __exit__(self, *exc: object) -> None:
        entry, self._entry = self._entry, None
        _leave(entry)  # type: ignore[arg-type]

    def __call__(self, func: F) -> F:
        return _decorate(type(self), func)


def _decorate(mode: type, func: F) -> F:
    """``func`` run inside a fresh ``mode()``: per call, or per resume for the lazy kinds."""
    if inspect.isasyncgenfunction(func):
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _async_steps(mode, func(*args, **kwargs))
    elif inspect.isgeneratorfunction(func):
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _steps(mode, func(*args, **kwargs))
    elif inspect.iscoroutinefunction(func):
        # (a coroutine function: its type differs from the other variants', which wraps hides)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return await _Stepped(mode, func(*args, **kwargs))
    else:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return func(*args, **kwargs)
    return functools.wraps(func)(wrapper)  # type: ignore[return-value]


def _steps(mode: type, gen: Any) -> Generator[Any, Any, Any]:
    """Drive ``gen`` (a generator, coroutine or awaitable's iterator) step by step, each
    step inside a fresh ``mode()``; values, sends, throws and close pass straight through."""
    try:
        with mode():
            value = gen.send(None)
        while True:
            try:
                request = yield value
            except GeneratorExit:
                with mode():
                    gen.close()
                raise
            except BaseException as e:
                with mode():
                    value = gen.throw(e)
            else:
                with mode():
                    value = gen.send(request)
    except StopIteration as stop:
        return stop.value


class _Stepped:
    """An awaitable running a coroutine with ``mode`` entered around each of its steps."""

    __slots__ = ("mode", "coro")

    def __init__(self, mode: type, coro: Any) -> None:
        self.mode, self.coro = mode, coro

    def __await__(self) -> Generator[Any, Any, Any]:
        return _steps(self.mode, self.coro)


async def _async_steps(mode: type, agen: Any) -> Any:
    """An async generator yielding what ``agen`` yields, each of its steps inside ``mode()``."""
    try:
        value = await _Stepped(mode, agen.asend(None))
        while True:
            try:
                request = yield value
            except GeneratorExit:
                await _Stepped(mode, agen.aclose())
                raise
            except BaseException as e:
                value = await _Stepped(mode, agen.athrow(e))
            else:
                value = await _Stepped(mode, agen.asend(request))
    except StopAsyncIteration:
        return


class no_grad(_Mode):
    """Ops inside record no graph: results are leaves with no parents.

    Use it for inference and for updates you do not want to differentiate::

        with no_grad():
            prediction = model(x)

    It also works as a decorator, ``@no_grad`` or ``@no_grad()``, on functions, ``async
    def`` functions and generators.  Safe across threads and asyncio tasks.
    """

    _var = _grad
    _value = False


class detect_anomaly(_Mode):
    """Raise ``FloatingPointError`` at the first NaN or infinity an op or backward makes.

    The message names the op and its inputs (and, in backward, the node whose
    gradient went bad), so you find where a value first broke instead of seeing
    ``nan`` at the end.  Slower: use it while debugging.
    """

    _var = _anomaly
    _value = True


class tracing:
    """While compile traces a function: ops report to ``tracer`` and record a graph,
    even inside an enclosing ``no_grad``."""

    def __init__(self, tracer: object) -> None:
        self._tracer = tracer
        self._entries: Tuple[_Entry, ...] = ()

    def __enter__(self) -> None:
        self._entries = (_enter(_tracing, self._tracer), _enter(_grad, True))

    def __exit__(self, *exc: object) -> None:
        for entry in reversed(self._entries):
            _leave(entry)
        self._entries = ()


class creating_graph:
    """While ``grad(..., create_graph=True)`` evaluates local derivatives on Values."""

    def __init__(self) -> None:
        self._entry: Optional[_Entry] = None

    def __enter__(self) -> None:
        self._entry = _enter(_creating, True)

    def __exit__(self, *exc: object) -> None:
        entry, self._entry = self._entry, None
        _leave(entry)  # type: ignore[arg-type]


# --- pausing the cyclic garbage collector ------------------------------------------------

#: PyPy has no reference counting: with its collector paused nothing is freed at all.
_PAUSES_GC = platform.python_implementation() == "CPython"
_gc_lock = threading.Lock()
_gc_acquire, _gc_release = _gc_lock.acquire, _gc_lock.release
_gc_pauses = 0
_gc_was_enabled = False


class paused_gc:
    """Pause Python's cyclic garbage collector inside the block, safely from any thread.

    Backward and a training step allocate many nodes that all survive until the end and
    hold no reference cycles; the cyclic collector would rescan them again and again.
    Pauses are counted under a lock, so with several threads the collector comes back
    when the last pause ends, and only if it was on when the first began (a ``gc.disable()``
    of your own stands).  Only on CPython: elsewhere (PyPy) the block runs unchanged,
    since there the collector is the only thing that frees memory.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        global _gc_pauses, _gc_was_enabled
        if _PAUSES_GC:
            _gc_acquire()  # acquire/release: half the cost of ``with _gc_lock``
            try:
                if not _gc_pauses:
                    _gc_was_enabled = gc.isenabled()
                    gc.disable()
                _gc_pauses += 1
            finally:
                _gc_release()

    def __exit__(self, *exc: object) -> None:
        global _gc_pauses
        if _PAUSES_GC:
            _gc_acquire()
            try:
                _gc_pauses -= 1
                if not _gc_pauses and _gc_was_enabled:
                    gc.enable()
            finally:
                _gc_release()
