"""How numbers are written for people: the one formatter behind ``explain``, the pictures in
``viz``, ``nn.health``'s table and the command line's walk-throughs (not part of the public API).

>>> [fmt(x) for x in (0.0, -3.0, 0.12345678, 123456.0, 1e-5, float("nan"))]
['0', '-3', '0.1235', '1.235e5', '1e-5', 'nan']
>>> fmt(0.000123456, 3, sci=True), fmt(float("inf"), loud=True)
('1.23e-04', '+inf (not finite!)')
"""

from __future__ import annotations

import math

__all__ = ["fmt", "factor", "detailed", "detailed_factor", "DETAILED_DIGITS"]

#: Significant digits of the chain-rule walk-throughs (``autograd.explain``, ``deltagrad explain``).
DETAILED_DIGITS = 6


def _non_finite(x: float, loud: bool) -> str:
    if math.isnan(x):
        return "nan (not a number!)" if loud else "nan"
    sign = "+" if x > 0 else "-"
    return f"{sign}inf (not finite!)" if loud else ("inf" if x > 0 else "-inf")


def fmt(x: float, digits: int = 4, *, sci: bool = False, loud: bool = False) -> str:
    """``x`` in ``digits`` significant digits: ``0`` for ±0, whole numbers without a point,
    short exponents (``1e-5``).  ``sci`` writes every number as ``d.dde-05`` (equal widths,
    for tables); ``loud`` spells nan and inf out so that they cannot be missed."""
    if x == 0.0:
        return "0"
    if not math.isfinite(x):
        return _non_finite(x, loud)
    if sci:
        return f"{x:.{digits - 1}e}"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mantissa, exponent = s.split("e")
        s = f"{mantissa}e{int(exponent)}"
    return s


def factor(x: float, digits: int = 4, *, loud: bool = False) -> str:
    """``x`` as a factor inside a product or a sum: negative numbers in parentheses."""
    return f"({fmt(x, digits, loud=loud)})" if x < 0 else fmt(x, digits, loud=loud)


def detailed(x: float) -> str:
    """A number in a chain-rule walk-through: ``DETAILED_DIGITS`` digits, nan and inf loud."""
    return fmt(x, DETAILED_DIGITS, loud=True)


def detailed_factor(x: float) -> str:
    """``detailed(x)`` inside a product: negative numbers in parentheses."""
    return factor(x, DETAILED_DIGITS, loud=True)
