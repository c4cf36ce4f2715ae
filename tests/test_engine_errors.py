"""Bad input and domain errors: each raises the right exception type with a message that
names what went wrong (the type received, or the op and the offending value)."""

from __future__ import annotations

import contextlib

import pytest

import autograd
from autograd import Value, detect_anomaly, no_grad


@pytest.mark.parametrize("bad, type_name", [
    ("2.0", "str"), (1 + 2j, "complex"), (None, "NoneType"), ([1.0], "list"),
    (True, "bool"), (False, "bool"), ((1.0,), "tuple"), ({"x": 1}, "dict"),
])
def test_value_rejects_non_real_data_naming_the_type(bad, type_name):
    with pytest.raises(TypeError, match=type_name):
        Value(bad)


def test_value_wrapping_a_value_is_rejected():
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))


def test_label_must_be_a_string():
    with pytest.raises(TypeError, match="label.*int"):
        Value(1.0, label=3)


@pytest.mark.parametrize("expr", [
    lambda v: v + "a", lambda v: "a" + v, lambda v: v * None, lambda v: None * v,
    lambda v: v * True, lambda v: True * v, lambda v: v - False, lambda v: v * 1j,
    lambda v: 1j * v, lambda v: v / [1.0], lambda v: v ** "2", lambda v: v ** True,
    lambda v: v ** 1j, lambda v: 2j ** v, lambda v: True ** v, lambda v: v + (1.0,),
])
def test_operators_reject_non_real_operands(expr):
    with pytest.raises(TypeError):
        expr(Value(1.5))


@pytest.mark.parametrize("slope, type_name", [("0.1", "str"), (True, "bool"), (None, "NoneType")])
def test_leaky_relu_slope_must_be_a_real_number(slope, type_name):
    with pytest.raises(TypeError, match=f"slope.*{type_name}"):
        Value(1.0).leaky_relu(slope)


def test_fused_nodes_name_the_bad_item():
    v = Value(1.0)
    with pytest.raises(TypeError, match=r"sum values\[1\].*str"):
        autograd.sum([v, "x"])
    with pytest.raises(TypeError, match=r"dot weights\[0\].*NoneType"):
        autograd.dot([None], [v])
    with pytest.raises(TypeError, match=r"dot inputs\[1\].*bool"):
        autograd.dot([v, v], [v, True])
    with pytest.raises(TypeError, match=r"dot bias.*str"):
        autograd.dot([v], [v], bias="b")
    with pytest.raises(ValueError, match="dot: 2 weights but 3 inputs"):
        autograd.dot([v, v], [v, v, v])


def test_graph_functions_reject_non_values():
    v = Value(1.0) * 2
    with pytest.raises(TypeError, match="str"):
        v.backward(grad="1")
    with pytest.raises(TypeError, match="bool"):
        v.backward(grad=True)
    with pytest.raises(TypeError, match="complex"):
        autograd.backward(v, 1j)
    with pytest.raises(TypeError, match="float"):
        autograd.backward(3.0)
    with pytest.raises(TypeError, match="item 1 is a int"):
        autograd.zero_grad([v, 3])
    with pytest.raises(TypeError, match="float"):
        autograd.topological_order(1.0)
    # nothing was changed by the rejected calls
    assert v.grad == 0.0


# --- domain errors: the type, the op and the offending value ------------------------------

@contextlib.contextmanager
def _raises(exc, op, *values):
    """pytest.raises that also checks the message names the op and every offending value."""
    with pytest.raises(exc) as info:
        yield info
    message = str(info.value)
    for word in (op, *values):
        assert word in message, (word, message)


def test_division_by_zero():
    with _raises(ZeroDivisionError, "div", "3.0"):
        Value(3.0) / 0
    with _raises(ZeroDivisionError, "div", "3.0"):
        Value(3.0) / Value(0.0)
    with _raises(ZeroDivisionError, "div", "1.0"):
        1 / Value(0)
    with _raises(ZeroDivisionError, "div", "-2.5"):
        Value(-2.5) / -0.0


@pytest.mark.parametrize("x", [0.0, -1.0, -1e-300])
def test_log_of_non_positive(x):
    with _raises(ValueError, "log", repr(x)):
        Value(x).log()


def test_sqrt_of_negative():
    with _raises(ValueError, "sqrt", "-1.0"):
        Value(-1.0).sqrt()
    assert Value(0.0).sqrt().data == 0.0  # the boundary itself is fine


def test_negative_base_to_non_integer_power_is_a_value_error_never_complex():
    with _raises(ValueError, "pow", "-8.0", "0.333"):
        Value(-8) ** (1 / 3)
    with _raises(ValueError, "pow", "-8.0", "0.5"):
        Value(-8.0) ** Value(0.5)
    with _raises(ValueError, "pow", "-2", "0.5"):
        (-2) ** Value(0.5)


def test_zero_to_a_negative_power():
    with _raises(ZeroDivisionError, "pow", "0.0", "-1.0"):
        Value(0) ** -1
    with _raises(ZeroDivisionError, "pow", "0.0", "-0.5"):
        Value(0.0) ** Value(-0.5)
    with _raises(ZeroDivisionError, "pow", "0.0", "-2.0"):
        0 ** Value(-2.0)


def test_overflow_names_the_op_and_input():
    with _raises(OverflowError, "exp", "1000.0"):
        Value(1000).exp()
    with _raises(OverflowError, "pow", "10.0", "400.0"):
        Value(10.0) ** 400
    with _raises(OverflowError, "pow", "2.0", "5000.0"):
        2 ** Value(5000.0)
    assert Value(-1000.0).exp().data == 0.0  # underflow is not an error


def test_domain_errors_keep_their_type_in_every_mode():
    with no_grad():
        with pytest.raises(ZeroDivisionError, match="div"):
            Value(1.0) / 0
        with pytest.raises(ValueError, match="log"):
            Value(-1.0).log()
    with detect_anomaly():
        with pytest.raises(ZeroDivisionError, match="div"):
            Value(1.0) / 0
        with pytest.raises(OverflowError, match="exp"):
            Value(1000.0).exp()
        with pytest.raises(ValueError, match="pow"):
            Value(-8.0) ** 0.5

