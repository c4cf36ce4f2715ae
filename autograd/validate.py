"""Argument checks shared by autograd, nn, viz and the command line (not part of the public API).

One rule for every package: a wrong *type* raises ``TypeError``, a value of the right type
that is out of range raises ``ValueError``, and both messages read
``"<what> must be <expected>, got <value>"`` (the TypeError also names the type), so
``MLP(2, [1.5])`` and ``make_moons(1.5)`` fail alike.  ``bool`` is never a number here,
though Python counts it as one: ``lr=True`` is a mistake, not 1.0.

The engine's hot loops (``Value``'s op methods, ``dot``) keep their own inline
``__class__ is float`` fast paths; everything else checks through this module.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Literal, Optional, overload

if TYPE_CHECKING:  # typing.TypeGuard is Python 3.10+; the annotations are never evaluated
    from typing import TypeGuard

__all__ = ["is_real", "is_integer", "integer", "real", "flag"]


def is_real(x: object) -> TypeGuard[float]:
    """Whether ``x`` is a real number (int, float, Fraction, numpy scalar...) and not a bool."""
    cls = x.__class__
    return cls is float or cls is int or (cls is not bool and isinstance(x, numbers.Real))


def is_integer(x: object) -> TypeGuard[int]:
    """Whether ``x`` is an integer (int, numpy integer...) and not a bool."""
    cls = x.__class__
    return cls is int or (cls is not bool and isinstance(x, numbers.Integral))


def _none_or(optional: bool) -> str:
    return "None or " if optional else ""


def _int_range(minimum: Optional[int], maximum: Optional[int], optional: bool) -> str:
    """The allowed range in words: "a positive integer", ">= 2", "in [0, 5]"; after "None or",
    the type is named too ("None or an int >= 0")."""
    if minimum == 1 and maximum is None:
        return "None or a positive integer" if optional else "a positive integer"
    if maximum is None:
        words = f">= {minimum}"
    else:
        words = f"in [{minimum}, {maximum}]" if minimum is not None else f"<= {maximum}"
    return f"None or an int {words}" if optional else words


@overload
def integer(x: object, what: str, minimum: Optional[int] = None, maximum: Optional[int] = None,
            *, optional: Literal[False] = False) -> int: ...
@overload
def integer(x: object, what: str, minimum: Optional[int] = None, maximum: Optional[int] = None,
            *, optional: bool) -> Optional[int]: ...
def integer(x: object, what: str, minimum: Optional[int] = None, maximum: Optional[int] = None,
            *, optional: bool = False) -> Optional[int]:
    """``x`` as an int within [minimum, maximum] (either bound may be None); ``None`` passes
    when ``optional``.  TypeError for a non-integer, ValueError for one out of range."""
    if x is None and optional:
        return None
    if not is_integer(x):
        kind = "a positive integer" if minimum == 1 and maximum is None else "an int"
        raise TypeError(f"{what} must be {_none_or(optional)}{kind}, got {type(x).__name__}: {x!r:.80}")
    if (minimum is not None and x < minimum) or (maximum is not None and x > maximum):
        raise ValueError(f"{what} must be {_int_range(minimum, maximum, optional)}, got {x!r}")
    return int(x)


def _real_range(minimum: Optional[float], maximum: Optional[float], strict: bool) -> str:
    low, high = ("(", ")") if strict else ("[", "]")
    if minimum is not None and maximum is not None:
        return f"in {low}{minimum:g}, {maximum:g}{high}"
    if minimum is not None:
        return f"{'>' if strict else '>='} {minimum:g}"
    return f"{'<' if strict else '<='} {maximum:g}"


@overload
def real(x: object, what: str, minimum: Optional[float] = None, maximum: Optional[float] = None,
         *, strict: bool = False, finite: bool = True, optional: Literal[False] = False) -> float: ...
@overload
def real(x: object, what: str, minimum: Optional[float] = None, maximum: Optional[float] = None,
         *, strict: bool = False, finite: bool = True, optional: bool) -> Optional[float]: ...
def real(x: object, what: str, minimum: Optional[float] = None, maximum: Optional[float] = None,
         *, strict: bool = False, finite: bool = True, optional: bool = False) -> Optional[float]:
    """``x`` as a float within [minimum, maximum] ((minimum, maximum) when ``strict``), finite
    unless ``finite=False`` (then nan and ±inf pass); ``None`` passes when ``optional``.
    TypeError for a non-number, ValueError for a number out of range."""
    if x is None and optional:
        return None
    if not is_real(x):
        raise TypeError(f"{what} must be {_none_or(optional)}a real number, "
                        f"got {type(x).__name__}: {x!r:.80}")
    try:
        value = float(x)
    except OverflowError:
        raise ValueError(f"{what} is too large for a float") from None
    if finite and not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    if strict:
        bad = (minimum is not None and not value > minimum) or (maximum is not None and not value < maximum)
    else:
        bad = (minimum is not None and not value >= minimum) or (maximum is not None and not value <= maximum)
    if bad:
        raise ValueError(f"{what} must be {_none_or(optional)}{_real_range(minimum, maximum, strict)}, "
                         f"got {value!r}")
    return value


def flag(x: object, what: str) -> bool:
    """``x`` if it is True or False; a TypeError for anything else (1, "yes", None)."""
    if x.__class__ is not bool:
        raise TypeError(f"{what} must be True or False, got {type(x).__name__}: {x!r:.80}")
    return x
