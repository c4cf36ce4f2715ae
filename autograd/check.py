"""``gradcheck``: backward's gradients against central finite differences."""

from __future__ import annotations

import math
from typing import Callable

from .graph import zero_grad
from .modes import no_grad
from .value import Value

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message holds a table of both."""


def gradcheck(f: Callable[..., Value], *values: Value, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check ``f``'s gradients at ``values``: backward against (f(x+ε) − f(x−ε)) / 2ε.

    ``f`` takes the Values and returns one Value.  Returns True when every input
    agrees within ``atol + rtol·|numeric|``; otherwise raises ``GradcheckError``
    with a table naming each input, the analytic and the numeric value.
    The inputs' ``data`` is restored and their ``grad`` left holding the analytic gradient.
    """
    for i, v in enumerate(values):
        if v.__class__ is not Value:
            raise TypeError(f"gradcheck: input {i} is a {type(v).__name__}, not a Value")
    if not values:
        raise ValueError("gradcheck: give at least one Value to check")
    out = f(*values)
    if out.__class__ is not Value:
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    zero_grad(out)
    zero_grad(values)
    out.backward()
    analytic = [v.grad for v in values]

    numeric = []
    with no_grad():
        for v in values:
            x = v.data
            try:
                v.data = x + eps
                up = f(*values).data
                v.data = x - eps
                down = f(*values).data
            finally:
                v.data = x
            numeric.append((up - down) / (2.0 * eps))

    rows, bad = [], False
    for i, (v, a, n) in enumerate(zip(values, analytic, numeric)):
        ok = math.isfinite(a) and math.isfinite(n) and abs(a - n) <= atol + rtol * abs(n)
        bad |= not ok
        name = v.label or f"input {i}"
        rows.append(f"  {name:<12} {a:>+16.8e} {n:>+16.8e}  {'ok' if ok else 'MISMATCH'}")
    if bad:
        header = f"  {'input':<12} {'analytic':>16} {'numeric':>16}"
        raise GradcheckError("gradcheck failed (eps={}, atol={}, rtol={}):\n{}\n{}".format(
            eps, atol, rtol, header, "\n".join(rows)))
    return True
