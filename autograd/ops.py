"""The op table: every operation's forward value and local derivatives, in one place.

Each row gives an op's forward expression and its local derivatives ∂out/∂a (and
∂out/∂b) as Python expressions over the names ``a``, ``b`` (the operands' data),
``k`` (a numeric constant the op carries, such as leaky_relu's slope) and ``out``
(the forward result).  Nothing else in deltagrad knows a derivative rule: the eager
``Value`` methods are generated from these rows, backward multiplies the stored local
derivatives, ``explain`` and ``viz`` print the ``rule`` text, and ``compile`` pastes
the same expressions into straight-line code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

__all__ = ["Op", "OPS", "HELPERS"]


# --- numerically careful helpers the expressions may call -------------------------

def _exp(a: float) -> float:
    """exp that names itself when it overflows (math.exp only says 'math range error')."""
    try:
        return math.exp(a)
    except OverflowError:
        raise OverflowError(
            f"exp: overflow, exp({a!r}) is larger than the largest float (about 1.8e308)"
        ) from None


def _sigmoid(a: float) -> float:
    """σ(a) = 1/(1+e^−a) without overflow: e^x is only taken of x ≤ 0."""
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _pow(a: float, b: float) -> float:
    """a ** b on real numbers only: clear errors instead of complex results."""
    try:
        r = a ** b
    except ZeroDivisionError:
        raise ZeroDivisionError(
            f"pow: 0 cannot be raised to a negative power ({_base(a)} ** {b!r})") from None
    except OverflowError:
        raise OverflowError(f"pow: {_base(a)} ** {b!r} is too large for a float") from None
    if r.__class__ is complex:
        raise ValueError(
            f"pow: a negative base to a non-integer power has no real value ({_base(a)} ** {b!r})")
    return r


def _base(a: float) -> str:
    """A base as Python would need it written: (-2.0) ** 0.5, not -2.0 ** 0.5."""
    return f"({a!r})" if a < 0.0 else repr(a)


def _dpow(a: float, b: float) -> float:
    """∂(a^b)/∂a = b·a^(b−1); +inf at a = 0 for 0 < b < 1, where the slope is vertical."""
    if b == 0.0:
        return 0.0
    try:
        return b * a ** (b - 1.0)
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.copysign(math.inf, b)


def _dpow_exponent(a: float, out: float) -> float:
    """∂(a^b)/∂b = a^b·ln a; 0 at a = 0 (the limit), undefined (nan) for a < 0."""
    if a > 0.0:
        return out * math.log(a)
    return 0.0 if a == 0.0 else math.nan


#: Names the op expressions may use.  ``compile`` runs its generated code with these.
HELPERS: Dict[str, object] = {
    "_exp": _exp, "_sigmoid": _sigmoid, "_pow": _pow, "_dpow": _dpow,
    "_dpow_exponent": _dpow_exponent, "log": math.log, "log1p": math.log1p, "sqrt": math.sqrt,
    "tanh": math.tanh, "inf": math.inf, "nan": math.nan,
}


@dataclass(frozen=True)
class Op:
    """One row of the table.

    ``forward`` and ``local`` are expressions (see the module docstring); ``guard`` is an
    optional ``(condition, exception, message)`` checked before the forward value, the
    message formatted with ``a``, ``b`` and ``k``.  ``symbol`` is how graphs show the op,
    ``rule`` its local derivatives in words, for ``explain`` and ``viz``.  N-ary ops
    (``sum``, ``dot``) have ``arity=0`` and ``expand``, which writes the forward
    expression and local derivatives for a given list of operand names.
    """

    name: str
    arity: int
    forward: str
    local: Tuple[str, ...]
    symbol: str
    rule: str
    guard: Optional[Tuple[str, type, str]] = None
    expand: Optional[Callable[[Sequence[str]], Tuple[str, Tuple[str, ...]]]] = None


def _expand_sum(names: Sequence[str]) -> Tuple[str, Tuple[str, ...]]:
    """out = Σ_ℓ a_ℓ;  ∂out/∂a_ℓ = 1."""
    return "(" + (" + ".join(names) or "0.0") + ")", ("1.0",) * len(names)


def _expand_dot(names: Sequence[str]) -> Tuple[str, Tuple[str, ...]]:
    """u = Σ_ℓ θ_ℓ·o_ℓ (+ b);  ∂u/∂θ_ℓ = o_ℓ,  ∂u/∂o_ℓ = θ_ℓ,  ∂u/∂b = 1.

    Operands are laid out θ_1..θ_n, o_1..o_n, then the bias b when there is one (an odd
    count).  The sum runs left to right, as the eager ``dot`` adds its terms.
    """
    n = len(names) // 2
    theta, o = names[:n], names[n:2 * n]
    forward = "(" + (" + ".join(f"{t} * {x}" for t, x in zip(theta, o)) or "0.0") + ")"
    if len(names) % 2:
        return forward + " + " + names[-1], tuple(o) + tuple(theta) + ("1.0",)
    return forward, tuple(o) + tuple(theta)


_ROWS = (
    #  name          arity forward                    local derivatives ∂out/∂a (, ∂out/∂b)      symbol  rule
    Op("add",        2, "a + b",                      ("1.0", "1.0"),                           "+",    "∂/∂a = 1, ∂/∂b = 1"),
    Op("sub",        2, "a - b",                      ("1.0", "-1.0"),                          "−",    "∂/∂a = 1, ∂/∂b = −1"),
    Op("mul",        2, "a * b",                      ("b", "a"),                               "×",    "∂/∂a = b, ∂/∂b = a"),
    Op("div",        2, "a / b",                      ("1.0 / b", "-out / b"),                  "÷",    "∂/∂a = 1/b, ∂/∂b = −a/b²",
       guard=("b == 0.0", ZeroDivisionError, "div: division by zero ({a!r} / 0)")),
    Op("powv",       2, "_pow(a, b)",                 ("_dpow(a, b)", "_dpow_exponent(a, out)"), "^",   "∂/∂a = b·a^(b−1), ∂/∂b = a^b·ln a"),
    Op("pow",        1, "_pow(a, k)",                 ("_dpow(a, k)",),                         "^k",   "k·a^(k−1)"),
    Op("rpow",       1, "_pow(k, a)",                 ("_dpow_exponent(k, out)",),              "k^",   "k^a·ln k"),
    Op("neg",        1, "-a",                         ("-1.0",),                                "−",    "−1"),
    Op("exp",        1, "_exp(a)",                    ("out",),                                 "exp",  "exp: e^a"),
    Op("log",        1, "log(a)",                     ("1.0 / a",),                             "log",  "log: 1/a",
       guard=("a <= 0.0", ValueError, "log: input must be > 0, got {a!r}")),
    Op("sqrt",       1, "sqrt(a)",                    ("0.5 / out if out else inf",),           "√",    "√: 1/(2√a)",
       guard=("a < 0.0", ValueError, "sqrt: input must be >= 0, got {a!r}")),
    Op("tanh",       1, "tanh(a)",                    ("1.0 - out * out",),                     "tanh", "tanh: 1−o²"),
    Op("sigmoid",    1, "_sigmoid(a)",                ("out * (1.0 - out)",),                   "σ",    "σ: σ(1−σ)"),
    Op("relu",       1, "0.0 if a <= 0.0 else a",     ("0.0 if a <= 0.0 else 1.0",),            "relu", "relu: [u>0]"),
    Op("leaky_relu", 1, "k * a if a <= 0.0 else a",   ("k if a <= 0.0 else 1.0",),              "leaky", "leaky: 1 or k"),
    Op("softplus",   1, "(a if a > 0.0 else 0.0) + log1p(_exp(-abs(a)))", ("_sigmoid(a)",),  "softplus", "softplus: σ(a)"),
    Op("abs",        1, "abs(a)",                     ("1.0 if a > 0.0 else -1.0 if a < 0.0 else 0.0",), "|·|", "|·|: sign(a)"),
    Op("sum",        0, "",                           (),                                       "Σ",    "Σ: 1 each",  expand=_expand_sum),
    Op("dot",        0, "",                           (),                                       "Σθ·o", "∂u/∂θ = o, ∂u/∂o = θ, ∂u/∂b = 1", expand=_expand_dot),
)

# softplus, ln(1 + e^a), is written max(a, 0) + ln(1 + e^−|a|) so that e is only raised to
# a power ≤ 0 (no overflow at any |a|); its derivative is exactly σ(a), smooth at 0.
# relu and leaky_relu test ``a <= 0`` rather than ``a > 0`` so that a NaN input comes out
# as NaN (and detect_anomaly sees it) instead of being silently turned into 0.

#: The table, by op name.  Leaves have op "" (made by the user) or "const" (a plain
#: number that an operator wrapped, such as the 2 in ``2 * v``).
OPS: Dict[str, Op] = {op.name: op for op in _ROWS}
