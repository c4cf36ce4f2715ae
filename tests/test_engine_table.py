"""The op table as the one description of each op: the methods it gives Value, its rules per
operand, dot's operand layout, the one graph walk, and no module branching on op names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import autograd
from autograd import OPS, Value, topological_order
from autograd import value as value_module
from autograd.graph import walk
from autograd.ops import nary_parts

ROOT = Path(__file__).resolve().parent.parent


def test_every_method_a_row_declares_is_made_from_that_row():
    declared = {}
    for op in OPS.values():
        for method in op.methods + op.reflected:
            declared.setdefault(method, []).append(op.name)
    assert declared["__mul__"] == ["mul", "mulk"] and declared["__rmul__"] == ["mul", "mulk"]
    assert declared["__pow__"] == ["powv", "pow"] and declared["__abs__"] == ["abs"]
    for method, names in declared.items():
        func = getattr(Value, method)
        assert func.__name__ == method and func.__qualname__ == f"Value.{method}"
        for name in names:  # its docstring is the row's forward and local derivatives
            assert f"{name}: out = {OPS[name].forward};" in func.__doc__


@pytest.mark.parametrize("make, op, parents, arg", [
    (lambda v, w: v ** w, "powv", 2, None),      # a Value exponent: the two-operand row
    (lambda v, w: v ** 3, "pow", 1, 3.0),        # a number: the row with a k
    (lambda v, w: 2 ** v, "rpow", 1, 2.0),
    (lambda v, w: v.leaky_relu(), "leaky_relu", 1, 0.01),  # the row's default k
    (lambda v, w: 3 - v, "rsubk", 1, 3.0),       # a number operand: carried as k
    (lambda v, w: w - v, "sub", 2, None),
    (lambda v, w: -v, "neg", 1, None),
    (lambda v, w: abs(v), "abs", 1, None),
])
def test_each_operator_reaches_the_row_that_declares_it(make, op, parents, arg):
    v, w = Value(1.5), Value(2.0)
    out = make(v, w)
    assert (out.op, len(out.parents), out.arg) == (op, parents, arg)


def test_an_operator_given_to_two_rows_of_one_kind_is_refused():
    with pytest.raises(TypeError, match=r"__add__.*\['add', 'mul'\]"):
        value_module._method_source("__add__", [(OPS["add"], False), (OPS["mul"], False)])


def test_rules_are_one_entry_per_operand_and_dot_rules_follow_its_layout():
    assert OPS["mul"].rules == ("∂/∂a = b", "∂/∂b = a")
    assert OPS["tanh"].rule == "tanh: 1−o²"  # the one-line form the command line prints
    dot = OPS["dot"]
    # θ_1, θ_2, o_1, o_2, b
    assert [dot.rule_of(i, 5) for i in range(5)] == [
        "∂u/∂θ = o", "∂u/∂θ = o", "∂u/∂o = θ", "∂u/∂o = θ", "∂u/∂b = 1"]
    assert [dot.rule_of(i, 4) for i in range(4)] == ["∂u/∂θ = o"] * 2 + ["∂u/∂o = θ"] * 2
    assert dot.rule_of(0, 1) == "∂u/∂b = 1"  # dot([], [], b)
    assert [OPS["sum"].rule_of(i, 3) for i in range(3)] == ["1 each"] * 3


def test_eager_dot_builds_the_layout_the_table_splits():
    w = [Value(0.5), Value(-1.0), Value(2.0)]
    x = [Value(3.0), Value(0.25), Value(-0.5)]
    b = Value(0.1)
    u = autograd.dot(w, x, b)
    assert nary_parts(u.parents, OPS["dot"].width) == ([tuple(w), tuple(x)], (b,))
    # each operand's local derivative is the one its part's rule names: o for θ, θ for o, 1 for b
    assert u.local_grads == (3.0, 0.25, -0.5, 0.5, -1.0, 2.0, 1.0)
    assert nary_parts(autograd.dot(w, x).parents, 2) == ([tuple(w), tuple(x)], ())
    assert OPS["dot"].write(["t1", "t2", "o1", "o2", "b"]) == "t1·o1 + t2·o2 + b"


def test_walk_follows_the_given_parents_and_shares_what_it_has_seen():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = a * b
    d = c + a
    e = d.tanh()
    assert walk((e,)) == [a, b, c, d, e] == topological_order(e)
    # stopping at c: its operands are not visited
    assert topological_order(e, lambda v: () if v is c else v.parents) == [c, a, d, e]
    seen = set()
    first = walk((c,), seen=seen)
    assert first == [a, b, c] and walk((e, c), seen=seen) == [d, e]


def test_walk_of_a_deep_chain_needs_no_recursion():
    x = Value(1.0)
    y = x
    for _ in range(100_000):  # a hundred times Python's recursion limit
        y = y + 1.0
    order = walk((y,))
    assert len(order) == 100_001 and order[0] is x and order[-1] is y


def _op_name_comparisons(tree: ast.AST) -> list:
    """``x.op == "mul"``-style comparisons: an attribute named op, _op or name against a row's name."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        attrs = [s.attr for s in sides if isinstance(s, ast.Attribute)]
        texts = [s.value for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)]
        texts += [e.value for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set))
                  for e in s.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if set(attrs) & {"op", "_op", "name"} and set(texts) & set(OPS):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_library_module_branches_on_an_op_name():
    files = [p for package in ("autograd", "nn", "viz", "deltagrad")
             for p in sorted((ROOT / package).glob("*.py"))]
    assert len(files) > 20
    offending = {}
    for path in files:
        found = _op_name_comparisons(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offending[str(path.relative_to(ROOT))] = found
    assert offending == {}
