"""``autograd.define_op``: a user's op becomes a row like the built-in ones and works in
backward, explain, viz, compile, grad (any order), jvp and gradcheck; bad definitions are
refused when they are made.  (Each test defines ops under its own names: the table is global.)"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import autograd
from autograd import OPS, GradcheckError, Value, define_op, grad
from autograd.ops import BUILTINS

ROOT = Path(__file__).resolve().parents[1]


def _softsign(name):
    return define_op(name, lambda a: a / (1 + abs(a)), lambda a, out: (1 / (1 + abs(a)) ** 2,))


def _ss(x):
    return x / (1 + abs(x))


def _dss(x):
    return 1 / (1 + abs(x)) ** 2


def test_a_defined_op_is_a_row_of_the_table_and_makes_nodes():
    op = _softsign("softsign_row")
    assert OPS["softsign_row"] is op.row and "softsign_row" not in BUILTINS
    assert op.row.arity == 1 and op.row.rules == ("1 / (1 + abs(a)) ** 2",)
    assert op.row.rule == "softsign_row: 1 / (1 + abs(a)) ** 2"
    x = Value(-0.5, "x")
    y = op(x)
    assert (y.op, y.parents, y.data, y.local_grads) == ("softsign_row", (x,), _ss(-0.5), (_dss(-0.5),))
    assert op(2).data == _ss(2.0) and op(2).parents[0].op == "const"
    assert repr(op) == "<op softsign_row: 1 operand, softsign_row: 1 / (1 + abs(a)) ** 2>"


def test_backward_explain_and_viz_read_the_row():
    op = _softsign("softsign_show")
    x = Value(0.5, "x")
    z = op(x) * 3.0
    z.backward()
    assert x.grad == 3 * _dss(0.5)
    text = io.StringIO()
    z.explain(file=text)
    assert "softsign_show(x) = softsign_show(0.5)" in text.getvalue()
    assert "[softsign_show: 1 / (1 + abs(a)) ** 2]" in text.getvalue()
    viz = pytest.importorskip("viz")
    source = viz.to_dot(z).source
    assert "softsign_show" in source and "1 / (1 + abs(a)) ** 2" in source.replace("&nbsp;", " ")


def test_compiled_code_calls_the_same_functions_and_matches_eager():
    op = _softsign("softsign_compiled")
    w = Value(0.8)
    step = autograd.compile(lambda x: op(x * w) + op(w), [0.5])
    assert "_fwd_softsign_compiled(" in step.source and "_der_softsign_compiled(" in step.source
    for x in (-2.0, 0.5, 3.0):
        w.grad = 0.0
        out, (gx,) = step(x, input_grads=True)
        assert out == _ss(x * 0.8) + _ss(0.8)
        assert gx == _dss(x * 0.8) * 0.8
        assert w.grad == pytest.approx(_dss(x * 0.8) * x + _dss(0.8), rel=1e-15)


def test_second_and_third_derivatives_through_a_value_compatible_derivative():
    op = _softsign("softsign_higher")
    for x0 in (-1.5, 0.25, 2.0):
        x = Value(x0)
        d1 = grad(op(x), [x], create_graph=True)[0]
        d2 = grad(d1, [x], create_graph=True)[0]
        d3 = grad(d2, [x])[0]
        s = math.copysign(1.0, x0)
        q = 1 + abs(x0)
        assert (d1.data, d2.data, d3) == pytest.approx((1 / q ** 2, -2 * s / q ** 3, 6 / q ** 4), rel=1e-12)


def test_a_derivative_written_with_math_is_a_clear_error_naming_the_op_under_create_graph():
    op = define_op("expish", lambda a: math.exp(a), lambda a, out: (math.exp(a),))
    x = Value(0.3)
    y = op(x)
    assert grad(y, [x]) == (math.exp(0.3),)  # first order only reads stored floats: fine
    with pytest.raises(TypeError, match=r"derivative of op 'expish'.*Value-compatible"):
        grad(y, [x], create_graph=True)


def test_two_operand_ops_and_gradcheck_in_one_call():
    hyp = define_op("hypot2", lambda a, b: (a * a + b * b) ** 0.5,
                    lambda a, b, out: (a / out, b / out))
    assert hyp.row.rules == ("a / out", "b / out")
    assert hyp.gradcheck(3.0, 4.0) is True
    assert autograd.gradcheck(hyp, Value(1.0), Value(-2.0)) is True
    h = autograd.hessian(hyp, [3.0, 4.0])  # ∂²r/∂a² = b²/r³, ∂²r/∂a∂b = −ab/r³
    assert sum(h, []) == pytest.approx([16 / 125, -12 / 125, -12 / 125, 9 / 125], rel=1e-12)
    value, d = autograd.jvp(hyp, [3.0, 4.0], [1.0, 1.0])
    assert (value, d) == (5.0, pytest.approx(7 / 5, rel=1e-15))
    wrong = define_op("hypot_wrong", lambda a, b: (a * a + b * b) ** 0.5,
                      lambda a, b, out: (a / out, a / out))
    with pytest.raises(GradcheckError, match="MISMATCH"):
        wrong.gradcheck(3.0, 4.0)


def test_rules_and_symbol_can_be_given():
    cube = define_op("cube_named", lambda a: a ** 3, lambda a, out: (3 * a * a,),
                     rules=["3a²"], symbol="³")
    assert cube.row.rule == "³: 3a²" and cube.row.symbol == "³"
    with pytest.raises(TypeError, match="rules must be 1 string"):
        define_op("cube_badrules", lambda a: a ** 3, lambda a, out: (3 * a * a,), rules="3a²")


@pytest.mark.parametrize("args, error, words", [
    (("sin", abs, lambda a, out: (1.0,)), ValueError, "'sin' is a built-in op"),
    (("not a name", abs, lambda a, out: (1.0,)), ValueError, "must be a Python identifier"),
    (("for", abs, lambda a, out: (1.0,)), ValueError, "must be a Python identifier"),
    (("d_arity", lambda a: a, lambda a: (1.0,)), TypeError,
     "derivative takes 1 argument but must take 2: (a, out)"),
    (("d_arity2", lambda a, b: a, lambda a, out: (1.0,)), TypeError, "must take 3: (a, b, out)"),
    (("f_arity", lambda a, b, c: a, lambda a, b, c, out: (1.0,) * 3), TypeError, "an op has 1 or 2 operands"),
    (("f_star", lambda *a: a[0], lambda a, out: (1.0,)), TypeError, "not take *args"),
    (("d_count", lambda a: a, lambda a, out: (1.0, 2.0)), TypeError, "returned 2 values for 1 operand"),
    (("d_bare", lambda a: a, lambda a, out: 1.0), TypeError, "must return a tuple of 1 number"),
    (("d_text", lambda a: a, lambda a, out: ("1",)), TypeError,
     "derivative's value 0 must be a real number, got str"),
    (("f_text", lambda a: "a", lambda a, out: (1.0,)), TypeError,
     "forward's value must be a real number, got str"),
    (("f_callable", 3.0, lambda a, out: (1.0,)), TypeError, "forward must be callable"),
])
def test_bad_definitions_are_refused_when_they_are_made(args, error, words):
    with pytest.raises(error, match=_escape(words)):
        define_op(*args)
    assert args[0] not in OPS or args[0] == "sin"


def _escape(text):
    import re
    return re.escape(text)


def test_a_name_is_defined_once_and_calls_check_their_operands():
    op = _softsign("softsign_once")
    with pytest.raises(ValueError, match="'softsign_once' is already defined"):
        _softsign("softsign_once")
    with pytest.raises(TypeError, match=r"softsign_once\(\) takes 1 operand, got 2"):
        op(Value(1.0), Value(2.0))
    with pytest.raises(TypeError, match="operand 0 must be a Value or a real number, got str"):
        op("x")


def test_probing_skips_points_outside_the_domain():
    # forward raises at every negative probe point and at 0.5: definition still succeeds
    op = define_op("log_shifted", lambda a: math.log(a - 1.0), lambda a, out: (1 / (a - 1.0),))
    assert op(3.0).data == math.log(2.0) and op.gradcheck(2.5)


def test_defined_ops_work_under_no_grad_and_detect_anomaly():
    op = _softsign("softsign_modes")
    x = Value(1.0)
    with autograd.no_grad():
        assert op(x).is_leaf
    inverse = define_op("inverse_anomaly", lambda a: 1.0 / a if a else math.inf,
                        lambda a, out: (-out * out,))
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match="inverse_anomaly"):
            inverse(Value(0.0))


DRAWING = '''
import sys
import autograd, viz
from autograd import Value
softsign = autograd.define_op(
    "softsign", lambda a: a / (1 + abs(a)), lambda a, out: (1 / (1 + abs(a)) ** 2,))
x = Value(1.0, label="x")
y = softsign(x * 3)
y.backward()
viz.render(y, sys.argv[1])
'''


def test_the_docs_drawing_of_a_defined_op_is_what_its_documented_lines_draw(tmp_path):
    """docs/images/softsign.svg; regenerate with the bundled renderer (PATH without dot) by
    running DRAWING with the path as its argument.  A fresh process: "softsign" is free there."""
    pytest.importorskip("viz")
    empty = tmp_path / "bin"
    empty.mkdir()
    script = tmp_path / "draw.py"
    script.write_text(DRAWING, encoding="utf-8")
    out = tmp_path / "softsign.svg"
    env = dict(os.environ, PATH=str(empty), PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, str(script), str(out)], check=True, env=env, cwd=ROOT)
    expected = (ROOT / "docs" / "images" / "softsign.svg").read_bytes()
    assert out.read_bytes() == expected
    text = expected.decode("utf-8")
    assert ">softsign<" in text and "1 / (1 + abs(a)) ** 2" in text
