"""Modes that change what ops do: ``no_grad``, ``detect_anomaly`` and compile's tracing.

Each mode is a ``contextvars.ContextVar``, so it is private to the thread or asyncio
task that entered it.  Ops must stay fast when no mode is on anywhere, so a plain
counter, ``active``, says whether any mode is entered in any context; only then do
ops read the context variables (see ``Value``'s slow path).
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, Optional, TypeVar

__all__ = ["no_grad", "detect_anomaly", "is_grad_enabled", "is_anomaly_enabled"]

F = TypeVar("F", bound=Callable[..., Any])

#: How many mode scopes are open right now, over all threads and tasks.  Zero means
#: every op can take its fast path without looking at the context variables.
active = 0
_lock = threading.Lock()

_no_grad: contextvars.ContextVar[bool] = contextvars.ContextVar("deltagrad_no_grad", default=False)
_anomaly: contextvars.ContextVar[bool] = contextvars.ContextVar("deltagrad_anomaly", default=False)
#: The tracer of ``autograd.compile`` while it records a function, else None.
_tracing: contextvars.ContextVar[Optional[object]] = contextvars.ContextVar(
    "deltagrad_tracing", default=None)


def _open() -> None:
    global active
    with _lock:
        active += 1


def _close() -> None:
    global active
    with _lock:
        active -= 1


class _Mode:
    """A context manager that is also a decorator; each use gets its own token."""

    _var: contextvars.ContextVar
    _value: Any = True

    def __init__(self) -> None:
        self._token: Optional[contextvars.Token] = None

    def __enter__(self) -> _Mode:
        if self._token is not None:
            raise RuntimeError(f"{type(self).__name__}() is already entered; make a new one")
        _open()
        self._token = self._var.set(self._value)
        return self

    def __exit__(self, *exc: object) -> None:
        self._var.reset(self._token)
        self._token = None
        _close()

    def __call__(self, func: F) -> F:
        import functools

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_Mode):
    """Ops inside record no graph: results are leaves with no parents.

    Use it for inference and for updates you do not want to differentiate::

        with no_grad():
            prediction = model(x)

    It also works as a decorator, ``@no_grad()``.  Safe across threads and asyncio tasks.
    """

    _var = _no_grad


class detect_anomaly(_Mode):
    """Raise ``FloatingPointError`` at the first NaN or infinity an op or backward makes.

    The message names the op and its inputs (and, in backward, the node whose
    gradient went bad), so you find where a value first broke instead of seeing
    ``nan`` at the end.  Slower: use it while debugging.
    """

    _var = _anomaly


def is_grad_enabled() -> bool:
    """False inside ``no_grad()`` in this thread or task."""
    return not _no_grad.get()


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` in this thread or task."""
    return _anomaly.get()
