"""Notebook display (viz.display_svg) never raises and stays small; every Drawing method
renders through the same renderer lookup; colours, names and δ agree with what is printed."""

from __future__ import annotations

import importlib
import io
import re

import pytest

import nn
import viz
from autograd import Value, explain, topological_order
from viz import display as display_module


@pytest.fixture
def no_system_dot(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def chain(n: int) -> Value:
    x = Value(0.3, "x")
    for _ in range(n):
        x = x.tanh()
    x.backward()
    return x


def test_a_big_graph_shows_the_part_nearest_the_root_and_says_how_to_draw_all():
    text = viz.display_svg(chain(900))
    assert "showing 100 of 901 values" in text and "max_nodes=901" in text
    assert text.count('class="node"') == 2 * 100  # 100 values, each with its op
    with pytest.raises(viz.GraphTooLargeError):
        viz.to_dot(chain(1000))  # the explicit call still refuses


def test_too_large_svgs_are_not_embedded(monkeypatch):
    monkeypatch.setattr(display_module, "MAX_EMBED_BYTES", 2_000)
    text = viz.display_svg(chain(3))
    assert len(text) < 1_000 and "too big to embed" in text and "viz.render(value" in text


def test_a_model_displays_as_its_network_diagram():
    text = viz.display_svg(nn.MLP(2, [3, 1], seed=0))
    assert "layer 0" in text and "x[1] = 0" in text and "δ" not in text.split("<svg")[1].split("each box")[0]


def test_what_viz_cannot_draw_or_render_gives_none(monkeypatch, no_system_dot):
    assert viz.display_svg(3.0) is None
    monkeypatch.setattr(importlib.import_module("viz.render"), "bundled_renderer", lambda: None)
    assert viz.display_svg(chain(2)) is None


def test_drawing_render_and_view_use_the_bundled_renderer(no_system_dot, tmp_path, monkeypatch):
    drawing = viz.to_dot(chain(2))
    out = drawing.render(outfile=tmp_path / "g.svg")
    assert out == str(tmp_path / "g.svg") and (tmp_path / "g.svg").read_text().startswith("<?xml")
    assert drawing.render(tmp_path / "g.gv", format="png").endswith("g.gv.png")
    assert (tmp_path / "g.gv.png").read_bytes()[:4] == b"\x89PNG"
    opened = []
    monkeypatch.setattr(type(drawing), "_view_linux", staticmethod(lambda path, **kw: opened.append(path)),
                        raising=False)
    monkeypatch.setattr("graphviz.backend.viewing.PLATFORM", "linux")
    drawing.view(tmp_path / "v.gv")
    assert opened and str(opened[0]).endswith("v.gv.svg") and (tmp_path / "v.gv.svg").stat().st_size > 0


def test_a_network_drawing_renders_with_its_own_engine(no_system_dot, tmp_path):
    drawing = viz.network(nn.MLP(2, [2, 1], seed=0), [0.5, 0.5], y=1.0)
    assert drawing.engine == "neato"
    path = viz.render(drawing, tmp_path / "n.png")
    assert open(path, "rb").read(4) == b"\x89PNG"
    assert drawing._repr_mimebundle_()["image/svg+xml"] == viz.svg(drawing)


def test_grad_colour_is_the_bin_of_the_printed_number():
    a, b = Value(1.0, "a"), Value(1.0, "b")
    c = a + b
    c.backward()
    a.grad, b.grad = 0.9999999999999996, 1.0
    source = viz.to_dot(c).source
    cells = re.findall(r'<td bgcolor="(#\w+)">(grad [^<]+)<', source)
    assert [text for _, text in cells[:2]] == ["grad 1", "grad 1"] and cells[0][0] == cells[1][0]
    assert viz.dot.grad_fill(0.9999999999999996) == viz.dot.grad_fill(1.0) == "#6fb0e4"


def test_unlabelled_values_have_explains_names():
    a = Value(2.0, "a")
    c = (a * 3 + 1).tanh()
    c.backward()
    out = io.StringIO()
    explain(c, file=out)
    named = set(re.findall(r"\bn\d+\b", out.getvalue()))
    shown = set(re.findall(r"<b>(n\d+)</b>", viz.to_dot(c).source))
    assert named == {"n1", "n2", "n3"}  # the 3 and the 1 are carried by their nodes n1, n2
    assert shown == {"n1", "n2", "n3"}  # drawn as records
    order = topological_order(c)
    assert [order.index(v) for v in order if not v.label and v.op not in ("", "const")] == [1, 2, 3]
    deep = set(re.findall(r"<b>(n\d+)</b>", viz.to_dot(c, depth=1).source))
    assert deep == {"n2", "n3"}  # cut to the part near the root, the same names


def test_without_a_loss_no_cell_claims_to_be_delta():
    model = nn.MLP(2, [2, 1], seed=0)
    out = model([0.5, 0.2])
    out.backward()
    source = viz.to_dot(out).source
    assert "δ" not in source and "u[1,0]" in source
    err = nn.mse([model([0.5, 0.2])], [1.0])
    err.backward()
    assert "δ = ∂Err/∂u = " in viz.to_dot(err).source


def test_too_large_error_names_both_ways_out():
    with pytest.raises(viz.GraphTooLargeError, match=r"pass max_nodes=21 .* with depth=, e\.g\. "):
        viz.to_dot(chain(20), max_nodes=5)
    with pytest.raises(viz.GraphTooLargeError, match=r"; for a model, viz\.network\(model, x, y\) draws"):
        viz.to_dot(chain(20), max_nodes=5)
