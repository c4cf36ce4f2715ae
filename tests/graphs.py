"""Graphs that several test files draw, step through or check (importable from any test:
setup.cfg puts tests/ on pytest's path)."""

from __future__ import annotations

from autograd import Value


def micrograd_L(backward: bool = True) -> Value:
    """micrograd's lecture example, L = (a·b + c)·f at a = 2, b = −3, c = 10, f = −2, labelled
    as in the lecture (e = a·b, d = e + c); after ``L.backward()`` unless ``backward`` is False."""
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    if backward:
        L.backward()
    return L
