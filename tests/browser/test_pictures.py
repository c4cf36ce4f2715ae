"""The pictures as a person sees them: each SVG opened in headless Chromium at 100% zoom,
its canvas measured and every text box checked (at least 10 px, none overlapping another,
none outside the canvas)."""

from __future__ import annotations

import math
import re

from pathlib import Path
from typing import Callable, Dict

import pytest

import nn
import viz
from graphs import micrograd_L

GALLERY = Path(__file__).resolve().parents[2] / "viz" / "gallery"
README_COLUMN = 880  # px: the width GitHub gives a README's pictures


def network(sizes, **options) -> viz.Drawing:
    model = nn.MLP(2, sizes, activation="tanh", seed=1)
    return viz.network(model, [0.5, -0.2], y=1.0, **options)


def demo_model_depth3() -> viz.Drawing:
    """The op-level graph of the demo model's shape (2-16-16-1), 3 ops up from its output."""
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=1337)
    out = model([0.5, 0.2])
    out.backward()
    return viz.to_dot(out, depth=3)


#: name -> (what draws it, the widest its canvas may be in CSS px at 100% zoom)
PICTURES: Dict[str, tuple] = {
    "L = (a*b + c)*f": (lambda: viz.to_dot(micrograd_L()), 1200),
    "network 2-2-1": (lambda: network([2, 1]), README_COLUMN),
    "network 2-4-1": (lambda: network([4, 1]), README_COLUMN),
    "network 2-16-16-1": (lambda: network([16, 16, 1]), README_COLUMN),
    "network 2-64-64-2 (elided)": (lambda: viz.network(nn.MLP(2, [64, 64, 2], seed=0), [0.5, 0.2],
                                                       y=[1.0, 0.0]), README_COLUMN),
    "network 2-64-1, all 64 drawn": (lambda: network([64, 1], max_neurons=None), README_COLUMN),
    "op graph of 2-16-16-1, depth 3": (demo_model_depth3, 1800),
}


def check(page, measure, path: Path, max_width: float) -> dict:
    page.goto(path.as_uri())
    canvas = page.evaluate("() => { const r = document.querySelector('svg').getBoundingClientRect();"
                           " return {w: r.width, h: r.height}; }")
    boxes = measure.text_boxes(page)
    assert boxes, f"{path.name}: no text"
    small = [(b["text"], round(b["px"], 1)) for b in boxes if b["px"] < 10]
    outside = [b["text"] for b in boxes if b["x"] < 0 or b["y"] < 0 or b["x"] + b["w"] > canvas["w"] + 0.5
               or b["y"] + b["h"] > canvas["h"] + 0.5]
    assert not small, f"{path.name}: text under 10 px: {small[:5]}"
    assert not outside, f"{path.name}: text outside the canvas: {outside[:5]}"
    assert not measure.overlaps(boxes), f"{path.name}: overlapping text: {measure.overlaps(boxes)[:5]}"
    assert canvas["w"] <= max_width, f"{path.name}: {canvas['w']:.0f} px wide, more than {max_width}"
    assert not page.console_errors
    return canvas


@pytest.mark.parametrize("name", list(PICTURES))
def test_pictures_fit_and_every_text_is_readable(page, measure, tmp_path, name):
    draw: Callable[[], viz.Drawing]
    draw, max_width = PICTURES[name]
    path = Path(viz.render(draw(), tmp_path / "picture.svg"))
    check(page, measure, path, max_width)


@pytest.mark.parametrize("name, max_width", [
    ("graph.svg", 1200), ("network_diagram.svg", README_COLUMN), ("network.svg", README_COLUMN),
    ("expression.svg", README_COLUMN)])
def test_gallery_pictures_fit_and_every_text_is_readable(page, measure, name, max_width):
    check(page, measure, GALLERY / name, max_width)


def test_readme_pictures_are_readable_in_a_readme_column(page, measure):
    """Every SVG the README shows, scaled down to fit a README column as GitHub does, keeps
    its text at least 10 px high."""
    readme = (GALLERY.parents[1] / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"\]\((viz/gallery/[^)]+\.svg)\)", readme)
    assert "viz/gallery/network_diagram.svg" in shown and len(shown) >= 2
    for name in shown:
        page.goto((GALLERY.parents[1] / name).as_uri())
        width = page.evaluate("() => document.querySelector('svg').getBoundingClientRect().width")
        scale = min(1.0, README_COLUMN / width)
        smallest = min(b["px"] for b in measure.text_boxes(page)) * scale
        assert smallest >= 10, f"{name}: {width:.0f} px wide, text {smallest:.1f} px in the README"


def test_edge_tooltips_are_what_the_browser_shows(page, tmp_path):
    """Pointing at a weight shows θ and ∂Err/∂θ = δ·o: each edge group's own <title>
    (the element browsers show on hover), with no link around the line."""
    model = nn.MLP(2, [2, 1], activation="tanh", seed=1)
    path = Path(viz.render(viz.network(model, [0.5, -0.2], y=1.0), tmp_path / "n.svg"))
    page.goto(path.as_uri())
    titles = page.evaluate("() => Array.from(document.querySelectorAll('g.edge'))"
                           ".map(g => (g.querySelector(':scope > title') || {}).textContent)")
    assert page.evaluate("() => document.querySelectorAll('g.edge a').length") == 0
    assert len(titles) == 2 * 2 + 2 * 1 + 1
    thetas = {f"θ[{k},{i},{ell}]": w for k, layer in enumerate(model.layers)
              for i, neuron in enumerate(layer.neurons) for ell, w in enumerate(neuron.w)}
    for title in titles[:-1]:
        name, rest = title.split(" = ", 1)
        assert float(rest.split()[0]) == float(viz.dot.fmt(thetas.pop(name).data))
        gradient = title.split("\n∂Err/∂θ = δ·o = ")[1]
        delta, o, product = re.fullmatch(r"(\S+) × (\S+) = (\S+)", gradient).groups()
        assert math.isclose(float(product), float(delta) * float(o), rel_tol=1e-3, abs_tol=1e-9)
    assert not thetas  # every weight has its edge
    assert titles[-1].startswith("ŷ = o = ")
