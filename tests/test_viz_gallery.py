"""The gallery's network diagram and small expression graph are what their documented Python
lines draw (the command-line pictures, graph.svg and network.svg, are checked in
test_cli_graph.py)."""

from pathlib import Path

import nn
import viz
from graphs import micrograd_L

GALLERY = Path(__file__).resolve().parents[1] / "viz" / "gallery"


def network_diagram() -> viz.Drawing:
    """The demo model's shape (2-16-16-1, relu, seed 1337) on x = (0.5, 0.2), y = 1, hinge loss."""
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=1337)
    return viz.network(model, [0.5, 0.2], y=1.0, loss="hinge")


def test_gallery_expression_is_what_the_documented_lines_draw(tmp_path, monkeypatch):
    """Regenerate with: python -c "import sys; sys.path.insert(0, 'tests'); import graphs;
    import viz; viz.render(graphs.micrograd_L(), 'viz/gallery/expression.svg')"."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the bundled renderer, as on a fresh install
    out = viz.render(micrograd_L(), tmp_path / "expression.svg")
    assert Path(out).read_bytes() == (GALLERY / "expression.svg").read_bytes()


def test_gallery_network_diagram_is_what_the_documented_lines_draw(tmp_path, monkeypatch):
    """Regenerate with: python -c "import sys; sys.path.insert(0, 'tests'); import test_viz_gallery as g;
    import viz; viz.render(g.network_diagram(), 'viz/gallery/network_diagram.svg')"."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the bundled renderer, as on a fresh install
    out = viz.render(network_diagram(), tmp_path / "network_diagram.svg")
    assert Path(out).read_bytes() == (GALLERY / "network_diagram.svg").read_bytes()
