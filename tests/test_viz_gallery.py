"""The gallery's network diagram and small expression graph are what their documented Python
lines draw (the command-line pictures, graph.svg and network.svg, are checked in
test_cli_graph.py)."""

from pathlib import Path

import nn
import viz
from autograd import Value

GALLERY = Path(__file__).resolve().parents[1] / "viz" / "gallery"


def network_diagram() -> viz.Drawing:
    """The demo model's shape (2-16-16-1, relu, seed 1337) on x = (0.5, 0.2), y = 1, hinge loss."""
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=1337)
    return viz.network(model, [0.5, 0.2], y=1.0, loss="hinge")


def expression() -> Value:
    """micrograd's L = (a*b + c)*f, after ``L.backward()``."""
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return L


def test_gallery_expression_is_what_the_documented_lines_draw(tmp_path, monkeypatch):
    """Regenerate with: python -c "import sys; sys.path.insert(0, 'tests'); import test_viz_gallery as g;
    import viz; viz.render(g.expression(), 'viz/gallery/expression.svg')"."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the bundled renderer, as on a fresh install
    out = viz.render(expression(), tmp_path / "expression.svg")
    assert Path(out).read_bytes() == (GALLERY / "expression.svg").read_bytes()


def test_gallery_network_diagram_is_what_the_documented_lines_draw(tmp_path, monkeypatch):
    """Regenerate with: python -c "import sys; sys.path.insert(0, 'tests'); import test_viz_gallery as g;
    import viz; viz.render(g.network_diagram(), 'viz/gallery/network_diagram.svg')"."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the bundled renderer, as on a fresh install
    out = viz.render(network_diagram(), tmp_path / "network_diagram.svg")
    assert Path(out).read_bytes() == (GALLERY / "network_diagram.svg").read_bytes()
