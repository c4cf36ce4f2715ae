"""The op table: every operation, completely, in one place.

Each row gives an op's forward expression and its local derivatives ∂out/∂a (and
∂out/∂b) as Python expressions over the names ``a``, ``b`` (the operands' data),
``k`` (a numeric constant the op carries, such as leaky_relu's slope) and ``out``
(the forward result); which ``Value`` methods and operators it provides; and how it is
shown (its symbol, its rule per operand in words, how ``explain`` writes it).  Nothing
else in deltagrad knows a derivative rule or branches on an op's name: the eager
``Value`` methods are generated from these rows (searching for ``__mul__`` lands on mul's
row), backward multiplies the stored local derivatives, ``explain`` and ``viz`` print
the rules, ``compile`` pastes the same expressions into straight-line code, and
``autograd.grad(..., create_graph=True)`` evaluates them again on Values (with
``VALUE_HELPERS``) so that derivatives have derivatives.  ``autograd.define_op`` adds rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

__all__ = ["Op", "OPS", "BUILTINS", "HELPERS", "VALUE_HELPERS", "nary_parts"]

T = TypeVar("T")


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
    return r  # type: ignore[no-any-return]  # float ** float is typed Any (it may be complex: refused above)


def _base(a: float) -> str:
    """A base as Python would need it written: (-2.0) ** 0.5, not -2.0 ** 0.5."""
    return f"({a!r})" if a < 0.0 else repr(a)


def _dpow(a: float, b: float) -> float:
    """∂(a^b)/∂a = b·a^(b−1); +inf at a = 0 for 0 < b < 1, where the slope is vertical."""
    if b == 0.0:
        return 0.0
    try:
        return b * a ** (b - 1.0)  # type: ignore[no-any-return]  # real: a < 0 only with an integer b
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
    "tanh": math.tanh, "sin": math.sin, "cos": math.cos, "tan": math.tan, "atan": math.atan,
    "log2": math.log2, "log10": math.log10, "_LN2": math.log(2.0), "_LN10": math.log(10.0),
    "inf": math.inf, "nan": math.nan,
}


# --- the same helpers on Values, for derivatives of derivatives ---------------------------
#
# ``autograd.grad(..., create_graph=True)`` evaluates each row's ``local`` expressions again
# with Values for a, b and out, so the local derivatives become graph nodes themselves.  The
# expressions are the rows' own; only the names they call are bound to these Value-aware
# versions, which give the float helper's result for a number and the matching Value op
# for a Value.  Eager ops and compiled code keep the float helpers above (no test per call:
# higher-order support costs nothing when it is not used).  Comparisons inside the rows
# (relu's ``a <= 0.0``, abs's sign, sqrt's ``if out``) read ``.data`` (see Value.__lt__):
# a piecewise rule picks its piece by value, so relu's and abs's second derivative is 0,
# at the kink too (as in PyTorch).

def _number(x: object) -> bool:
    return x.__class__ is float or x.__class__ is int


def _on_values(name: str, fn: Callable[[float], float], method: str) -> Callable[[Any], Any]:
    """``fn`` for a number, ``x.<method>()`` for a Value."""
    def helper(a: Any) -> Any:
        return fn(a) if _number(a) else getattr(a, method)()
    helper.__name__ = helper.__qualname__ = name
    helper.__doc__ = f"{name}: the float helper on numbers, Value.{method}() on a Value."
    return helper


def _value_pow(a: Any, b: Any) -> Any:
    """a ** b: the float helper on numbers, the Value operator otherwise."""
    return _pow(a, b) if _number(a) and _number(b) else a ** b


def _value_dpow(a: Any, b: Any) -> Any:
    """∂(a^b)/∂a = b·a^(b−1) on Values.

    Where the float rule has a special case (b = 0: 0; a^(b−1) not finite: ±inf, a vertical
    slope at 0) the special value is returned as a constant, as ``_dpow`` returns it.
    """
    if _number(a) and _number(b):
        return _dpow(a, b)
    ad = a if _number(a) else a.data
    bd = b if _number(b) else b.data
    if _number(b) and b == 0.0:
        return 0.0
    try:
        _pow(ad, bd - 1.0)
    except (ZeroDivisionError, OverflowError, ValueError):
        return _dpow(ad, bd)
    return b * a ** (b - 1.0)


def _value_dpow_exponent(a: Any, out: Any) -> Any:
    """∂(a^b)/∂b = a^b·ln a on Values; 0 at a = 0 and nan for a < 0, as constants."""
    if _number(a) and _number(out):
        return _dpow_exponent(a, out)
    ad = a if _number(a) else a.data
    if ad > 0.0:
        return out * (math.log(a) if _number(a) else a.log())
    return 0.0 if ad == 0.0 else math.nan


#: HELPERS with every function made Value-aware: the names row expressions are evaluated
#: with when their operands are Values.  ``define_op`` adds each new op's functions to both.
VALUE_HELPERS: Dict[str, object] = dict(HELPERS)
VALUE_HELPERS.update(
    {name: _on_values(name, HELPERS[name], method) for name, method in (  # type: ignore[arg-type]
        ("_exp", "exp"), ("_sigmoid", "sigmoid"), ("log", "log"), ("sqrt", "sqrt"),
        ("tanh", "tanh"), ("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("atan", "atan"),
        ("log2", "log2"), ("log10", "log10"))},
    _pow=_value_pow, _dpow=_value_dpow, _dpow_exponent=_value_dpow_exponent)


@dataclass(frozen=True)
class Op:
    """One row of the table: everything about one op.

    Computing it: ``forward`` and ``local`` (∂out/∂operand, one per operand) are
    expressions (see the module docstring); ``guard`` is an optional ``(condition,
    exception, message)`` checked before the forward value, the message formatted with
    ``a``, ``b`` and ``k``.

    What ``Value`` gets from it: ``methods`` are generated from the row (``def __mul__(self,
    other)`` from mul's, with ``self`` as ``a``); ``reflected`` ones get their operands
    swapped (``w - v`` may call ``v.__rsub__(w)``, with ``self`` as ``b``).  A row with ``k``,
    a ``(parameter, default)`` pair, takes its constant k from the method's argument
    (``leaky_relu(slope=0.01)``); an operator with a k row and a two-operand row both
    (``__mul__``, ``__pow__``) uses the first for a plain number and the second for a
    ``Value``; a k row's operators all have ``self`` as ``a`` (``2 * v`` is mulk's a·k).

    Showing it: ``symbol`` names the op in graphs; ``rules`` says each local derivative in
    words, one entry per operand (for sum and dot, per part of the operand layout);
    ``written`` is how ``explain`` writes the op applied to its operands, a format string
    over ``{a}``, ``{b}``, ``{k}`` (or, for sum and dot, a function of the operand list).

    N-ary ops (``sum``, ``dot``) have ``arity=0``; ``width`` is how many operands one term
    has (see ``nary_parts``) and ``expand`` writes the forward expression and local
    derivatives for a given list of operand names.  They are made by ``autograd.sum`` and
    ``autograd.dot``, not by methods.
    """

    name: str
    arity: int
    forward: str
    local: Tuple[str, ...]
    symbol: str
    rules: Tuple[str, ...]
    written: Union[str, Callable[[Sequence[str]], str]]
    methods: Tuple[str, ...] = ()
    reflected: Tuple[str, ...] = ()
    k: Optional[Tuple[str, Optional[float]]] = None
    guard: Optional[Tuple[str, type, str]] = None
    width: int = 0
    expand: Optional[Callable[[Sequence[str]], Tuple[str, Tuple[str, ...]]]] = None

    @property
    def rule(self) -> str:
        """The local derivatives in words on one line, e.g. ``tanh: 1−o²``."""
        return f"{self.symbol}: {', '.join(self.rules)}"

    def rule_of(self, position: int, count: int) -> str:
        """The entry of ``rules`` for the operand at ``position`` of ``count`` operands."""
        if not self.width:
            return self.rules[position]
        n = count // self.width
        part = position // n if position < self.width * n else self.width + position - self.width * n
        return self.rules[part]

    def write(self, operands: Sequence[str], k: str = "k") -> str:
        """This op applied to ``operands`` (names or numbers as text), as ``explain`` writes it."""
        if callable(self.written):
            return self.written(operands)
        b = operands[1] if len(operands) > 1 else ""
        return self.written.format(a=operands[0], b=b, k=k)

    def parts(self, operands: Sequence[T]) -> Tuple[List[Sequence[T]], Sequence[T]]:
        """An n-ary op's operands split by part (see ``nary_parts``)."""
        return nary_parts(operands, self.width)


def nary_parts(operands: Sequence[T], width: int) -> Tuple[List[Sequence[T]], Sequence[T]]:
    """The operand layout of the n-ary ops, written once: ``width`` runs, then a tail.

    An n-ary op is a sum of terms, each the product of ``width`` operands, plus an
    optional tail of plain addends.  Its operands are laid out part by part: every term's
    first operand, then every term's second, ..., then the tail.  For dot (width 2) that is
    θ_1..θ_n, o_1..o_n, then b when there is one (an odd count); sum has width 1.
    ``autograd.dot`` builds this layout, and ``expand``, ``compile`` and ``explain`` read it.
    """
    n = len(operands) // width
    return [operands[i * n:(i + 1) * n] for i in range(width)], operands[width * n:]


def _expand_sum(names: Sequence[str]) -> Tuple[str, Tuple[str, ...]]:
    """out = Σ_ℓ a_ℓ;  ∂out/∂a_ℓ = 1."""
    return "(" + (" + ".join(names) or "0.0") + ")", ("1.0",) * len(names)


def _expand_dot(names: Sequence[str]) -> Tuple[str, Tuple[str, ...]]:
    """u = Σ_ℓ θ_ℓ·o_ℓ (+ b);  ∂u/∂θ_ℓ = o_ℓ,  ∂u/∂o_ℓ = θ_ℓ,  ∂u/∂b = 1.

    The sum runs left to right, as the eager ``dot`` adds its terms.
    """
    (theta, o), bias = nary_parts(names, 2)
    forward = "(" + (" + ".join(f"{t} * {x}" for t, x in zip(theta, o)) or "0.0") + ")"
    if bias:
        return forward + " + " + bias[0], tuple(o) + tuple(theta) + ("1.0",)
    return forward, tuple(o) + tuple(theta)


def _write_sum(operands: Sequence[str]) -> str:
    return "Σ(" + ", ".join(operands) + ")"


def _write_dot(operands: Sequence[str]) -> str:
    (theta, o), bias = nary_parts(operands, 2)
    return " + ".join([f"{t}·{x}" for t, x in zip(theta, o)] + list(bias)) or "0"


_ROWS = (
    # Two operands a, b.  The last columns are the Value methods generated from the row:
    # def __mul__(self, other) is mul's (a = self, b = other); the reflected ones swap the
    # operands (w - v calls v.__rsub__(w) only if w's __sub__ gave up).  For a plain number
    # operand the operators take the k rows below instead (v - 2 is subk, 2 - v is rsubk).
    #  name   arity forward   local ∂out/∂a, ∂out/∂b  symbol  rules (in words)          explain writes  Value methods
    Op("add",  2, "a + b",    ("1.0", "1.0"),      "+", ("∂/∂a = 1", "∂/∂b = 1"),      "{a} + {b}", ("__add__",), ("__radd__",)),
    Op("sub",  2, "a - b",    ("1.0", "-1.0"),     "−", ("∂/∂a = 1", "∂/∂b = −1"),     "{a} − {b}", ("__sub__",), ("__rsub__",)),
    Op("mul",  2, "a * b",    ("b", "a"),          "×", ("∂/∂a = b", "∂/∂b = a"),      "{a} × {b}", ("__mul__",), ("__rmul__",)),
    Op("div",  2, "a / b",    ("1.0 / b", "-out / b"), "÷", ("∂/∂a = 1/b", "∂/∂b = −a/b²"), "{a} ÷ {b}", ("__truediv__",), ("__rtruediv__",),
       guard=("b == 0.0", ZeroDivisionError, "div: division by zero ({a!r} / 0)")),
    Op("powv", 2, "_pow(a, b)", ("_dpow(a, b)", "_dpow_exponent(a, out)"), "^",
       ("∂/∂a = b·a^(b−1)", "∂/∂b = a^b·ln a"), "{a} ^ {b}", ("__pow__",)),       # v ** w, w a Value
    # One operand a; k is a number the op carries, from the method's argument (parameter, default).
    # An operator with a plain number operand takes these rows, so the number is carried on the
    # node as k instead of being wrapped as a Value (x * 2.0 is mulk; 1 - x is rsubk, k − a).
    #  name         arity forward                  local ∂out/∂a                  symbol  rule       explain writes    Value methods
    Op("addk",       1, "a + k",                    ("1.0",),                      "+k",   ("1",),         "{a} + {k}",      ("__add__", "__radd__"), k=("other", None)),
    Op("subk",       1, "a - k",                    ("1.0",),                      "−k",   ("1",),         "{a} − {k}",      ("__sub__",), k=("other", None)),
    Op("rsubk",      1, "k - a",                    ("-1.0",),                     "k−",   ("−1",),        "{k} − {a}",      ("__rsub__",), k=("other", None)),
    Op("mulk",       1, "a * k",                    ("k",),                        "×k",   ("k",),         "{a} × {k}",      ("__mul__", "__rmul__"), k=("other", None)),
    Op("divk",       1, "a / k",                    ("1.0 / k",),                  "÷k",   ("1/k",),       "{a} ÷ {k}",      ("__truediv__",), k=("other", None),
       guard=("k == 0.0", ZeroDivisionError, "div: division by zero ({a!r} / 0)")),
    Op("rdivk",      1, "k / a",                    ("-out / a",),                 "k÷",   ("−k/a²",),     "{k} ÷ {a}",      ("__rtruediv__",), k=("other", None),
       guard=("a == 0.0", ZeroDivisionError, "div: division by zero ({k!r} / 0)")),
    Op("pow",        1, "_pow(a, k)",               ("_dpow(a, k)",),              "^k",   ("k·a^(k−1)",), "{a}^{k}",        ("__pow__",), k=("exponent", None)),  # v ** 3
    Op("rpow",       1, "_pow(k, a)",               ("_dpow_exponent(k, out)",),   "k^",   ("k^a·ln k",),  "{k}^{a}",        ("__rpow__",), k=("base", None)),     # 2 ** v
    Op("neg",        1, "-a",                       ("-1.0",),                     "−",    ("−1",),        "−{a}",           ("__neg__",)),
    Op("exp",        1, "_exp(a)",                  ("out",),                      "exp",  ("e^a",),       "exp({a})",       ("exp",)),
    Op("log",        1, "log(a)",                   ("1.0 / a",),                  "log",  ("1/a",),       "log({a})",       ("log",),
       guard=("a <= 0.0", ValueError, "log: input must be > 0, got {a!r}")),
    Op("sqrt",       1, "sqrt(a)",                  ("0.5 / out if out else inf",), "√",   ("1/(2√a)",),   "√({a})",         ("sqrt",),
       guard=("a < 0.0", ValueError, "sqrt: input must be >= 0, got {a!r}")),
    Op("tanh",       1, "tanh(a)",                  ("1.0 - out * out",),          "tanh", ("1−o²",),      "tanh({a})",      ("tanh",)),
    Op("sigmoid",    1, "_sigmoid(a)",              ("out * (1.0 - out)",),        "σ",    ("σ(1−σ)",),    "σ({a})",         ("sigmoid",)),
    Op("relu",       1, "0.0 if a <= 0.0 else a",   ("0.0 if a <= 0.0 else 1.0",), "relu", ("[u>0]",),     "relu({a})",      ("relu",)),
    Op("leaky_relu", 1, "k * a if a <= 0.0 else a", ("k if a <= 0.0 else 1.0",),   "leaky", ("1 or k",),   "leaky({a}, k={k})", ("leaky_relu",), k=("slope", 0.01)),
    Op("softplus",   1, "(a if a > 0.0 else 0.0) + log1p(_exp(-abs(a)))", ("_sigmoid(a)",), "softplus", ("σ(a)",), "softplus({a})", ("softplus",)),
    Op("abs",        1, "abs(a)",                   ("1.0 if a > 0.0 else -1.0 if a < 0.0 else 0.0",), "|·|", ("sign(a)",), "|{a}|", ("abs", "__abs__")),
    # The elementary functions.  sin, cos and tan of ±inf raise as math's do (sin(inf) has no
    # value); tan at a float next to an odd multiple of π/2 is a huge finite number (about
    # 1.6e16 at math.pi / 2), which is tan of that float exactly: no float is π/2 itself.
    Op("sin",        1, "sin(a)",                   ("cos(a)",),                   "sin",  ("cos a",),     "sin({a})",       ("sin",),
       guard=("abs(a) == inf", ValueError, "sin: input must be finite, got {a!r}")),
    Op("cos",        1, "cos(a)",                   ("-sin(a)",),                  "cos",  ("−sin a",),    "cos({a})",       ("cos",),
       guard=("abs(a) == inf", ValueError, "cos: input must be finite, got {a!r}")),
    Op("tan",        1, "tan(a)",                   ("1.0 + out * out",),          "tan",  ("1+o²",),      "tan({a})",       ("tan",),
       guard=("abs(a) == inf", ValueError, "tan: input must be finite, got {a!r}")),
    Op("atan",       1, "atan(a)",                  ("1.0 / (1.0 + a * a)",),      "atan", ("1/(1+a²)",),  "atan({a})",      ("atan",)),
    Op("log2",       1, "log2(a)",                  ("1.0 / (a * _LN2)",),         "log₂", ("1/(a·ln 2)",), "log₂({a})",     ("log2",),
       guard=("a <= 0.0", ValueError, "log2: input must be > 0, got {a!r}")),
    Op("log10",      1, "log10(a)",                 ("1.0 / (a * _LN10)",),        "log₁₀", ("1/(a·ln 10)",), "log₁₀({a})",  ("log10",),
       guard=("a <= 0.0", ValueError, "log10: input must be > 0, got {a!r}")),
    # Any number of operands (made by autograd.sum and autograd.dot); rules per part of the layout.
    Op("sum",        0, "", (), "Σ",    ("1 each",),                              _write_sum, width=1, expand=_expand_sum),
    Op("dot",        0, "", (), "Σθ·o", ("∂u/∂θ = o", "∂u/∂o = θ", "∂u/∂b = 1"), _write_dot, width=2, expand=_expand_dot),
)

# softplus, ln(1 + e^a), is written max(a, 0) + ln(1 + e^−|a|) so that e is only raised to
# a power ≤ 0 (no overflow at any |a|); its derivative is exactly σ(a), smooth at 0.
# relu and leaky_relu test ``a <= 0`` rather than ``a > 0`` so that a NaN input comes out
# as NaN (and detect_anomaly sees it) instead of being silently turned into 0.

#: The table, by op name.  Leaves have op "" (made by the user) or "const" (a plain
#: number that ``autograd.sum`` or ``dot`` wrapped; operators carry theirs as k instead).
OPS: Dict[str, Op] = {op.name: op for op in _ROWS}
#: The names of the table's own rows (``autograd.define_op`` adds rows to ``OPS``, never here).
BUILTINS = frozenset(OPS)
