"""The shared argument checks (autograd.validate) and number formatter (autograd.format):
the same mistake raises the same exception type in every package, worded alike."""

from __future__ import annotations

import doctest
import fractions
import math

import pytest

import autograd.format
from autograd.format import factor, fmt
from autograd.validate import flag, integer, is_integer, is_real, real


def test_bool_is_never_a_number_and_other_reals_are():
    assert [is_real(x) for x in (1, 2.5, fractions.Fraction(1, 3), True, "1", None)] == [
        True, True, True, False, False, False]
    assert [is_integer(x) for x in (1, 2.0, False, "1")] == [True, False, False, False]


@pytest.mark.parametrize("call, kind, message", [
    (lambda: integer(1.5, "epochs", 1), TypeError, "epochs must be a positive integer, got float: 1.5"),
    (lambda: integer(True, "seed"), TypeError, "seed must be an int, got bool: True"),
    (lambda: integer(0, "epochs", 1), ValueError, "epochs must be a positive integer, got 0"),
    (lambda: integer(1, "n_samples", 2), ValueError, "n_samples must be >= 2, got 1"),
    (lambda: integer(1, "depth", 2, optional=True), ValueError, "depth must be None or an int >= 2, got 1"),
    (lambda: integer("2", "depth", 0, optional=True), TypeError,
     "depth must be None or an int, got str: '2'"),
    (lambda: integer(9, "k", 0, 5), ValueError, r"k must be in \[0, 5\], got 9"),
    (lambda: real("fast", "lr", 0), TypeError, "lr must be a real number, got str: 'fast'"),
    (lambda: real(-0.1, "lr", 0), ValueError, "lr must be >= 0, got -0.1"),
    (lambda: real(1.0, "p", 0, 1, strict=True), ValueError, r"p must be in \(0, 1\), got 1.0"),
    (lambda: real(math.inf, "lr", 0), ValueError, "lr must be finite, got inf"),
    (lambda: real(math.nan, "lr"), ValueError, "lr must be finite, got nan"),
    (lambda: real(10 ** 400, "lr"), ValueError, "lr is too large for a float"),
    (lambda: flag(1, "health"), TypeError, "health must be True or False, got int: 1"),
])
def test_a_wrong_type_is_a_type_error_and_a_bad_value_a_value_error(call, kind, message):
    with pytest.raises(kind, match=f"^{message}$"):
        call()


def test_checks_return_the_value_in_its_plain_type():
    assert integer(None, "depth", 0, optional=True) is None
    assert type(integer(3, "n", 1)) is int and integer(3, "n", 1) == 3
    assert real(fractions.Fraction(1, 4), "x") == 0.25 and type(real(2, "x")) is float
    assert math.isinf(real(math.inf, "grad", finite=False))
    assert flag(False, "f") is False


def test_the_formatter_writes_numbers_one_way():
    assert [fmt(x) for x in (0.0, -0.0, 1.0, -3.0, 0.12345678, 123456.0, 1e-5, 2.5e10)] == [
        "0", "0", "1", "-3", "0.1235", "1.235e5", "1e-5", "2.5e10"]
    assert fmt(0.123456789, 6) == "0.123457" and fmt(1234567.0, 6) == "1.23457e6"
    assert [fmt(x, 3, sci=True) for x in (6.77e-05, 0.675, 1.0)] == ["6.77e-05", "6.75e-01", "1.00e+00"]
    assert [fmt(x) for x in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]
    assert [fmt(x, loud=True) for x in (math.nan, math.inf, -math.inf)] == [
        "nan (not a number!)", "+inf (not finite!)", "-inf (not finite!)"]
    assert (factor(-0.5), factor(0.5), factor(-math.inf, loud=True)) == (
        "(-0.5)", "0.5", "(-inf (not finite!))")


def test_the_formatter_docstring_examples_hold():
    assert doctest.testmod(autograd.format).failed == 0
