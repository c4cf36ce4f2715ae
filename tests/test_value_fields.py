"""A Value's two user-written fields, ``data`` and ``label``, are checked where they are set:
a bad one is a clear error at the assignment (naming the value), not nonsense or a deep
traceback later in a picture, a page or compiled code."""

from __future__ import annotations

import math
import pickle
import re
from fractions import Fraction

import pytest

import nn
from autograd import Value, compile, explain

viz = pytest.importorskip("viz")


# --- data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, kind", [([1, 2], "list"), ("1.5", "str"), (True, "bool"),
                                       (None, "NoneType"), (1 + 2j, "complex"),
                                       (Value(2.0), "Value")])
def test_data_refuses_what_is_not_a_real_number_and_keeps_the_old_one(bad, kind):
    v = Value(1.5)
    with pytest.raises(TypeError, match=rf"\.data needs a real number .*got {kind}"):
        v.data = bad
    assert v.data == 1.5 and type(v.data) is float


@pytest.mark.parametrize("number, expected", [(3, 3.0), (Fraction(1, 4), 0.25), (-0.0, -0.0),
                                              (math.inf, math.inf)])
def test_data_takes_real_numbers_as_floats(number, expected):
    v = Value(0.0)
    v.data = number
    assert type(v.data) is float and v.data == expected
    assert math.copysign(1.0, v.data) == math.copysign(1.0, expected)


def test_data_too_large_for_a_float_is_named():
    v = Value(0.0)
    with pytest.raises(OverflowError, match=r"\.data: 1000.* \(401 digits\) is too large for a float"):
        v.data = 10 ** 400


def test_data_set_by_hand_flows_into_later_ops_and_their_gradients():
    x = Value(1.0)
    x.data = 3  # an int, as a user types it: 3.0 from here on
    y = x * x + x  # y = x² + x, dy/dx = 2x + 1 = 7 at x = 3
    y.backward()
    assert (y.data, x.grad) == (12.0, 7.0)


def test_an_optimizer_still_updates_data_in_place():
    model = nn.MLP(2, [1], seed=0)
    before = [p.data for p in model.parameters()]
    for p in model.parameters():
        p.grad = 1.0
    nn.SGD(model.parameters(), lr=0.5).step()
    assert [p.data for p in model.parameters()] == [b - 0.5 for b in before]


def test_numpy_scalars_are_stored_as_plain_floats():
    np = pytest.importorskip("numpy")
    v = Value(0.0)
    v.data = np.float32(0.5)
    assert type(v.data) is float and v.data == 0.5


# --- label ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, kind", [(5, "int"), (b"xx", "bytes"), (None, "NoneType"),
                                       (["a"], "list")])
def test_label_refuses_what_is_not_text_and_keeps_the_old_one(bad, kind):
    v = Value(1.0, "a")
    with pytest.raises(TypeError, match=re.escape(f".label must be a str, got {kind}: {bad!r}")):
        v.label = bad
    assert v.label == "a"
    with pytest.raises(TypeError, match=rf"Value\(\) label must be a str, got {kind}"):
        Value(1.0, bad)


def test_a_label_that_cannot_be_written_as_utf8_is_refused_where_it_is_set():
    v = Value(1.0, "a")
    with pytest.raises(ValueError, match=r"\.label '\\ud800x' cannot be written as UTF-8 .*position 0"):
        v.label = "\ud800x"
    assert v.label == "a"
    with pytest.raises(ValueError, match="Value\\(\\) label .* cannot be written as UTF-8"):
        Value(1.0, "ok\udfff")


def test_a_str_subclass_label_is_kept_as_plain_text():
    class Name(str):
        pass

    v = Value(1.0)
    v.label = Name("θ")
    assert v.label == "θ" and type(v.label) is str


def test_unicode_labels_reach_every_picture_explain_and_compile():
    """Labels are checked, not restricted: the textbook's θ, δ and subscripts pass everywhere."""
    a, b = Value(2.0), Value(-3.0)
    a.label, b.label = "θ₁₂", "o_ℓ"
    y = (a * b).tanh()
    y.label = "ŷ"
    y.backward()
    assert "θ₁₂" in viz.to_dot(y).source and "ŷ" in viz.html(y)
    lines = []
    explain(y, file=_Lines(lines))
    assert any("θ₁₂" in line for line in lines)
    f = compile(lambda s: (a * b * s).tanh(), [1.0])  # a and b captured: variables
    assert f(1.0) == y.data


def test_labels_checked_when_a_pickle_is_loaded():
    """A pickle is input: a leaf whose label was tampered with is refused, not stored."""
    v = Value(1.0, "x")
    data = pickle.dumps(v, protocol=0).replace(b"Vx\n", b"I5\n")
    assert data != pickle.dumps(v, protocol=0)
    with pytest.raises(TypeError, match=r"\.label must be a str, got int: 5"):
        pickle.loads(data)


class _Lines:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.extend(text.splitlines())
        return len(text)

    def flush(self):
        pass


def test_data_of_and_assign_read_and_write_many_values_with_the_same_checks():
    from autograd.value import assign, data_of
    vs = [Value(1.0), Value(-2.0), Value(0.5)]
    assert data_of(vs) == [1.0, -2.0, 0.5]
    assign(vs, [3, Fraction(1, 2), -0.0])
    assert [type(v.data) for v in vs] == [float] * 3 and data_of(vs) == [3.0, 0.5, 0.0]
    with pytest.raises(TypeError, match=r"\.data needs a real number .*got str: 'x'"):
        assign(vs, [1.0, "x", 2.0])


def test_descend_moves_each_value_against_its_step_and_keeps_the_numbers_floats():
    from autograd.value import descend

    class Wide(float):  # a float subclass (numpy's float64 is one): its product is its own
        def __rmul__(self, other):
            return Wide(float(self) * other)

    vs = [Value(1.0), Value(-2.0), Value(0.5)]
    descend(vs, [0.25, 3, True], 0.1)  # ints and bools are plain numbers too
    assert [v.data for v in vs] == [1.0 - 0.1 * 0.25, -2.0 - 0.1 * 3, 0.5 - 0.1]
    descend(vs, [Wide(1.0), Fraction(1, 2), 0.0], 0.5)
    assert [type(v.data) for v in vs] == [float] * 3
    assert [v.data for v in vs] == [1.0 - 0.1 * 0.25 - 0.5, -2.0 - 0.1 * 3 - 0.25, 0.5 - 0.1]
    before = [v.data for v in vs]
    with pytest.raises(TypeError, match=r"\.data needs a real number .*got Value"):
        descend(vs, [1.0, Value(1.0), 2.0], 1.0)
    assert [v.data for v in vs] == before  # checked before any is written
