"""autograd.explain: the chain rule written out, checked against hand-derived gradients."""

from __future__ import annotations

import dataclasses
import io
import math
import re

import pytest

import autograd
from autograd import Value, explain, no_grad
from autograd import ops as ops_module

TERM = re.compile(r"^    (\S+)\.grad × ∂\1/∂(\S+) = (\S+) × (\S+) = (\S+)\s+\[(.*)\]$")
TOTAL = re.compile(r"^    (\S+)\.grad = (?:.* = )?(\S+)$")


def text_of(root: Value, **kw) -> str:
    buf = io.StringIO()
    explain(root, file=buf, **kw)
    return buf.getvalue()


def blocks(text: str) -> dict:
    """{node name: {"head": line, "terms": [(consumer, grad, local, term, rule)], "total": float}}."""
    out: dict = {}
    current = None
    body = text.split("\n\n", 1)[1]  # after the two header lines
    for line in body.splitlines():
        if line and not line.startswith((" ", "...")):
            name = line.split(" = ")[0]
            current = out[name] = {"head": line, "terms": [], "total": None}
            continue
        m = TERM.match(line)
        if m and current is not None:
            c, _, g, loc, t, rule = m.groups()
            current["terms"].append((c, float(g), float(loc.strip("()")), float(t), rule))
            continue
        m = TOTAL.match(line)
        if m and current is not None:
            current["total"] = float(m.group(2))
    return out


def test_fan_out_shows_one_term_per_use_with_hand_computed_numbers():
    # e = d², d = c + a, c = a·b, at a = 2, b = 3.  By hand: ∂e/∂d = 2d = 16,
    # ∂e/∂c = 16, ∂e/∂b = 16·a = 32, ∂e/∂a = 16·1 (through d) + 16·b (through c) = 64.
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    e = d * d
    e.label = "e"
    e.backward()
    got = blocks(text_of(e))
    assert list(got) == ["e", "d", "c", "b", "a"]  # reverse topological order
    assert "e.grad = 1  (where backward starts" in text_of(e)
    # d is used twice by the same consumer (d·d): two terms, one per operand slot.
    assert [(t[0], t[1], t[2], t[3]) for t in got["d"]["terms"]] == [("e", 1, 8, 8), ("e", 1, 8, 8)]
    assert [t[4] for t in got["d"]["terms"]] == ["×: ∂/∂a = b", "×: ∂/∂b = a"]
    assert got["d"]["total"] == 16
    assert [(t[0], t[3]) for t in got["c"]["terms"]] == [("d", 16)]
    assert got["b"]["terms"] == [("c", 16, 2, 32, "×: ∂/∂b = a")]
    # a feeds two consumers: two terms, summed.
    assert sorted((t[0], t[2], t[3]) for t in got["a"]["terms"]) == [("c", 3, 48), ("d", 1, 16)]
    assert got["a"]["total"] == 64
    assert "a.grad = 16 + 48 = 64" in text_of(e)


def test_numbers_of_a_transcendental_expression_match_the_calculus():
    # y = tanh(2x) + x³ at x = 0.5:  dy/dx = 2(1 − tanh(1)²) + 3x².
    x = Value(0.5, "x")
    y = (x * 2).tanh() + x ** 3
    y.backward()
    got = blocks(text_of(y))
    terms = {t[4]: t[3] for t in got["x"]["terms"]}
    assert terms["^k: k·a^(k−1)"] == pytest.approx(0.75, abs=1e-6)
    assert terms["×k: k"] == pytest.approx(2 * (1 - math.tanh(1.0) ** 2), abs=1e-6)
    assert got["x"]["total"] == pytest.approx(2 * (1 - math.tanh(1.0) ** 2) + 0.75, abs=1e-5)
    # tanh's local derivative 1 − tanh(1)² appears with tanh's rule from the op table.
    tanh_terms = [t for blk in got.values() for t in blk["terms"] if t[4].startswith("tanh")]
    assert len(tanh_terms) == 1 and tanh_terms[0][2] == pytest.approx(1 - math.tanh(1.0) ** 2, abs=1e-6)


def test_dot_node_terms_name_the_weight_input_and_bias_parts_of_its_rule():
    w1, w2, bias, o1 = Value(0.5, "w1"), Value(-1.0, "w2"), Value(0.25, "bias"), Value(2.0, "o1")
    u = autograd.dot([w1, w2], [o1, 3.0], bias)
    u.label = "u"
    loss = u * u  # ∂loss/∂u = 2u = 2·(1 − 3 + 0.25) = −3.5
    loss.label = "loss"
    loss.backward()
    got = blocks(text_of(loss))
    assert got["u"]["total"] == -3.5
    assert got["w1"]["terms"] == [("u", -3.5, 2.0, -7.0, "Σθ·o: ∂u/∂θ = o")]
    assert got["o1"]["terms"] == [("u", -3.5, 0.5, -1.75, "Σθ·o: ∂u/∂o = θ")]
    assert got["bias"]["terms"] == [("u", -3.5, 1.0, -3.5, "Σθ·o: ∂u/∂b = 1")]
    assert got["u"]["head"] == "u = w1·o1 + w2·n3 + bias = 0.5·2 + (-1)·3 + 0.25 = -1.75"


def test_rule_text_is_read_from_the_op_table(monkeypatch):
    row = dataclasses.replace(ops_module.OPS["tanh"], rules=("RULE FROM THE TABLE",))
    monkeypatch.setitem(ops_module.OPS, "tanh", row)
    x = Value(0.3, "x")
    y = x.tanh()
    y.backward()
    assert "[tanh: RULE FROM THE TABLE]" in text_of(y)


def test_unlabelled_nodes_get_stable_topological_names():
    def build():
        x = Value(1.5)
        y = x * x + 2 * x
        y.backward()
        return y
    first, second = text_of(build()), text_of(build())
    assert first == second
    order_names = list(blocks(first))
    assert order_names == ["n3", "n2", "n1", "n0"]
    # the 2 is carried by its node (2 * x is x × 2), not a node of its own
    assert "n2 = n0 × 2 = 1.5 × 2 = 3" in first and "n0 = 1.5  (leaf)" in first
    # ∂y/∂x = 2x + 2 = 5, from three terms (x·x twice, 2·x once).
    assert blocks(first)["n0"]["total"] == 5 and len(blocks(first)["n0"]["terms"]) == 3


def test_limit_cuts_long_graphs_with_a_count_of_the_rest():
    x = Value(1.0, "x")
    y = x
    for _ in range(99):
        y = y * 1.01
    y.backward()  # 1 leaf + 99 products (each carrying its 1.01) = 100 nodes
    text = text_of(y, limit=10)
    assert len(blocks(text)) == 10
    assert text.rstrip().splitlines()[-1].startswith("... 90 more nodes")
    assert "more node" not in text_of(y, limit=None)
    assert len(blocks(text_of(y, limit=None))) == 100
    default = text_of(y)
    assert len(blocks(default)) == 40 and "... 60 more nodes" in default
    for bad, kind in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(kind, match="limit"):
            text_of(y, limit=bad)


def test_clear_messages_before_backward_under_no_grad_and_for_non_values():
    x = Value(2.0, "x")
    y = x * 3
    with pytest.raises(ValueError, match=r"backward\(\)"):
        text_of(y)
    with no_grad():
        z = x * 3
    z.grad = 1.0
    with pytest.raises(ValueError, match="no_grad"):
        text_of(z)
    with pytest.raises(TypeError, match="float"):
        explain(2.0)  # type: ignore[arg-type]


def test_gradient_from_outside_the_graph_is_pointed_out():
    a, b = Value(2.0, "a"), Value(5.0, "b")
    y = a * b
    y.backward()
    (a + 1).backward()  # a second graph also adds to a.grad: 5 + 1
    text = text_of(y)
    assert "a.grad = 5" in text and "holds 6" in text


def test_non_finite_values_are_spelled_out():
    x, c = Value(math.inf, "x"), Value(0.0, "c")
    z = x * c  # inf·0 is nan; ∂z/∂c = x = inf
    z.label = "z"
    z.backward()
    text = text_of(z)
    assert "z = x × c = +inf (not finite!) × 0 = nan (not a number!)" in text
    assert "c.grad = +inf (not finite!)" in text
    w = x * 0.0  # the same with the 0 carried by the node
    w.backward()
    assert "n1 = x × 0 = +inf (not finite!) × 0 = nan (not a number!)" in text_of(w)


def test_a_zero_gradient_passes_nothing_on_even_times_infinity():
    # √x at 0 has an infinite slope, but nothing flows into it (z = √x · 0), so backward
    # adds nothing to x.grad; explain shows the same 0, not 0·inf = nan.
    x = Value(0.0, "x")
    y = x.sqrt()
    y.label = "y"
    z = y * 0.0
    z.backward()
    text = text_of(z)
    assert "y.grad × ∂y/∂x = 0 × +inf (not finite!) = 0 (a zero grad passes nothing on)" in text
    assert x.grad == 0.0 and blocks(text)["x"]["total"] == 0.0


def test_value_method_delegates_and_prints_to_stdout(capsys):
    a = Value(-1.0, "a")
    r = a.relu() + a.sigmoid()
    r.backward()
    r.explain(limit=2)
    out = capsys.readouterr().out
    assert out.startswith("Chain rule from n3 = ") and "... 2 more nodes" in out
    buf = io.StringIO()
    r.explain(file=buf)
    assert buf.getvalue() == text_of(r)
