"""viz.network: the textbook's network diagram drawn from a model's trace protocol.

δ and ∂Err/∂θ in the picture are checked against central finite differences of the loss
(perturbing a bias moves u by exactly the same amount, so ∂Err/∂b_i = δ_i); viz's own
independence from nn is checked with a model that is not an nn model at all.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import pytest

import nn
import viz
from autograd import Value

SVG = "{http://www.w3.org/2000/svg}"


def node_texts(svg_text: str) -> Dict[str, List[str]]:
    """node name -> its texts, for every node of the SVG."""
    out: Dict[str, List[str]] = {}
    for g in ET.fromstring(svg_text).iter(f"{SVG}g"):
        if g.get("class") == "node":
            out[g.find(f"{SVG}title").text] = ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
    return out


def edge_tooltips(svg_text: str) -> Dict[str, str]:
    """edge ("tail->head", from the comment Graphviz writes before it) -> the tooltip the
    browser shows on it: the text of the edge group's own <title>."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.fromstring(svg_text, parser=parser)
    out = {}
    for parent in root.iter():
        name = None
        for child in parent:
            if child.tag is ET.Comment:
                name = html.unescape(child.text.strip())
            elif child.get("class") == "edge":
                assert child.find(f".//{SVG}a") is None  # no link: the title is the edge's own
                out[name] = child.find(f"{SVG}title").text
    return out


def after(prefix: str, texts: List[str]) -> float:
    hits = [t[len(prefix):] for t in texts if t.startswith(prefix)]
    assert len(hits) == 1, (prefix, texts)
    return float(hits[0])


def close(shown: float, expected: float) -> bool:
    return math.isclose(shown, expected, rel_tol=6e-4, abs_tol=1e-9)


def loss_of(model: nn.MLP, x: List[float], y: float, loss: str) -> float:
    """The loss as a plain number, from a fresh forward pass."""
    return nn.LOSSES[loss]([model(x)], [y]).data


def finite_difference(model: nn.MLP, p: Value, x: List[float], y: float, loss: str) -> float:
    h = 1e-6
    old = p.data
    p.data = old + h
    up = loss_of(model, x, y, loss)
    p.data = old - h
    down = loss_of(model, x, y, loss)
    p.data = old
    return (up - down) / (2 * h)


@pytest.mark.parametrize("loss", ["mse", "hinge"])
def test_delta_and_weight_gradients_match_finite_differences(loss):
    model = nn.MLP(2, [3, 2, 1], activation="tanh", seed=4)
    x, y = [0.5, -0.2], 1.0
    svg_text = viz.svg(viz.network(model, x, y=y, loss=loss))
    nodes, tips = node_texts(svg_text), edge_tooltips(svg_text)
    for k, layer in enumerate(model.layers):
        for i, neuron in enumerate(layer.neurons):
            texts = nodes[f"n{k}_{i}"]
            assert close(after("δ ", texts), finite_difference(model, neuron.b, x, y, loss))
            assert close(after("b ", texts), neuron.b.data)
            for ell, theta in enumerate(neuron.w):
                src = f"x{ell}" if k == 0 else f"n{k - 1}_{ell}"
                tip = tips[f"{src}->n{k}_{i}"]
                assert tip.startswith(f"θ[{k},{i},{ell}] = ")
                shown = float(tip.rsplit("= ", 1)[1])
                assert close(shown, finite_difference(model, theta, x, y, loss)), tip
    err = nodes["err"]
    assert f"loss {loss}" in err and "y 1" in err
    assert close(after("Err ", err), loss_of(model, x, y, loss))


def test_u_and_o_are_the_forward_values_by_hand():
    model = nn.MLP(2, [2, 1], activation="relu", seed=2)
    x = [1.5, -0.5]
    nodes = node_texts(viz.svg(viz.network(model, x)))
    hidden = model.layers[0].neurons
    u = [n.w[0].data * x[0] + n.w[1].data * x[1] + n.b.data for n in hidden]
    o = [max(v, 0.0) for v in u]
    for i in range(2):
        assert close(after("u ", nodes[f"n0_{i}"]), u[i]) and close(after("o ", nodes[f"n0_{i}"]), o[i])
    out = model.layers[1].neurons[0]
    y_hat = out.w[0].data * o[0] + out.w[1].data * o[1] + out.b.data
    assert close(after("o ", nodes["n1_0"]), y_hat)
    assert nodes["x0"] == ["x[0] = 1.5"] and nodes["x1"] == ["x[1] = -0.5"]


def test_without_a_target_there_is_no_delta_and_no_error_node():
    model = nn.MLP(2, [2, 1], seed=0)
    source = viz.network(model, [0.1, 0.2]).source
    assert "δ " not in source.replace("δ = ∂Err/∂u", "") and "err" not in re.findall(r"\b\w+\b", source)
    before = [p.grad for p in model.parameters()]
    viz.network(model, [0.1, 0.2])
    assert [p.grad for p in model.parameters()] == before  # no backward without a target


def test_columns_left_to_right_and_neurons_top_to_bottom():
    svg_text = viz.svg(viz.network(nn.MLP(2, [4, 3, 1], seed=0), [0.5, 0.5], y=0.0))
    centre = {}
    for g in ET.fromstring(svg_text).iter(f"{SVG}g"):
        if g.get("class") == "node":
            xs = [float(t.get("x")) for t in g.iter(f"{SVG}text")]
            ys = [float(t.get("y")) for t in g.iter(f"{SVG}text")]
            centre[g.find(f"{SVG}title").text] = (min(xs), min(ys))
    columns = [["x0", "x1"], [f"n0_{i}" for i in range(4)], [f"n1_{i}" for i in range(3)], ["n2_0"], ["err"]]
    for left, right in zip(columns, columns[1:]):
        assert max(centre[n][0] for n in left) < min(centre[n][0] for n in right)
    for col in columns:
        ys = [centre[n][1] for n in col]
        assert ys == sorted(ys)


def test_wide_layers_are_elided_with_a_count():
    model = nn.MLP(2, [64, 1], seed=0)
    nodes = node_texts(viz.svg(viz.network(model, [0.5, 0.2], y=1.0)))
    layer0 = [n for n in nodes if re.fullmatch(r"n0_\d+", n)]
    assert len(layer0) == 16 and "n0_63" in nodes and "n0_15" not in nodes
    assert nodes["n0_more"] == ["… 48 more", "(neurons 15–62)"]
    everything = node_texts(viz.svg(viz.network(model, [0.5, 0.2], max_neurons=None)))
    assert len([n for n in everything if re.fullmatch(r"n0_\d+", n)]) == 64
    with pytest.raises(ValueError, match="max_neurons must be None or an int >= 2"):
        viz.network(model, [0.5, 0.2], max_neurons=1)


def test_edges_encode_sign_and_size_of_theta():
    model = nn.MLP(1, [2], seed=0)
    model.layers[0].neurons[0].w[0].data = 2.0
    model.layers[0].neurons[1].w[0].data = -0.5
    source = viz.network(model, [1.0]).source
    big = re.search(r'x0 -> n0_0 \[color="(#\w+)" penwidth=([\d.]+)', source)
    small = re.search(r'x0 -> n0_1 \[color="(#\w+)" penwidth=([\d.]+)', source)
    assert big.group(1).startswith("#2563eb") and small.group(1).startswith("#dc2626")
    assert float(big.group(2)) > float(small.group(2))


class _Record:
    """A trace record built by hand: one input, one linear neuron, a loss viz has never heard of."""

    def __init__(self, y):
        self.inputs = [Value(2.0, "x")]
        theta, b = Value(0.5, "w"), Value(0.25, "bias")
        u = theta * self.inputs[0] + b
        layer = type("L", (), {})()
        layer.u, layer.o, layer.theta, layer.b, layer.activation = [u], [u], [[theta]], [b], "identity"
        self.layers = [layer]
        self.loss, self.err, self.y = None, None, y
        if y is not None:
            self.err = (u - y).abs()
            self.loss = "absolute error"
            self.err.backward()


class NotAnNNModel:
    """Any library's model: it only has to provide trace(x, y, loss)."""

    def trace(self, x, y=None, loss=None):
        return _Record(y)


def test_any_library_can_be_drawn_through_the_protocol():
    nodes = node_texts(viz.svg(viz.network(NotAnNNModel(), [2.0], y=3.0, loss="whatever")))
    assert "loss absolute error" in nodes["err"] and "Err 1.75" in nodes["err"]
    assert nodes["n0_0"] == ["u 1.25", "o 1.25", "b 0.25", "δ -1"]
    assert nodes["heading1"] == ["layer 0", "1 identity → ŷ"]


def test_protocol_mistakes_say_what_is_wrong():
    with pytest.raises(TypeError, match="a int has no trace"):
        viz.network(3, [1.0])

    class Broken:
        def trace(self, x, y=None, loss=None):
            record = _Record(None)
            record.layers[0].theta = [[]]
            return record

    with pytest.raises(ValueError, match="neuron 0 of layer 0 has 0 weights but the layer before has 1"):
        viz.network(Broken(), [1.0])

    class NoLayers:
        def trace(self, x, y=None, loss=None):
            return object()

    with pytest.raises(TypeError, match="has no 'inputs'"):
        viz.network(NoLayers(), [1.0])


def test_trace_with_a_target_records_loss_err_and_delta():
    model = nn.MLP(2, [3, 1], activation="tanh", seed=1)
    record = model.trace([0.5, 0.2], [1.0], "mse")
    assert record.loss == "mse" and record.y == 1.0
    assert close(record.err.data, loss_of(model, [0.5, 0.2], 1.0, "mse"))
    assert record.layers[0].theta[2] is model.layers[0].neurons[2].w
    assert record.layers[1].b[0] is model.layers[1].neurons[0].b
    assert [layer.activation for layer in record.layers] == ["tanh", "linear"]
    for k, layer in enumerate(model.layers):
        for i, neuron in enumerate(layer.neurons):
            assert close(record.deltas()[k][i], finite_difference(model, neuron.b, [0.5, 0.2], 1.0, "mse"))
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        model.trace([0.5, 0.2], 1.0, "nope")


def test_every_way_to_get_the_svg_gives_edges_their_tooltip_as_title(tmp_path):
    """viz.svg, viz.render, Drawing.pipe and Drawing.render write the same SVG, in which
    each weight's tooltip is its edge's <title>; a PNG is what the renderer wrote."""
    drawing = viz.network(nn.MLP(2, [2, 1], activation="tanh", seed=1), [0.5, -0.2], y=1.0)
    text = viz.svg(drawing)
    assert drawing.pipe(format="svg", encoding="utf-8") == text
    assert Path(viz.render(drawing, tmp_path / "a.svg")).read_text(encoding="utf-8") == text
    assert Path(drawing.render(tmp_path / "b.gv", format="svg")).read_text(encoding="utf-8") == text
    tips = edge_tooltips(text)
    assert tips["x0->n0_0"].startswith("θ[0,0,0] = ") and "\n∂Err/∂θ = δ·o = " in tips["x0->n0_0"]
    assert "xlink:title" not in text.split('class="edge"', 1)[1].split('class="node"', 1)[0]
    assert drawing.pipe(format="png")[:4] == b"\x89PNG"
