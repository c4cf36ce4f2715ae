"""viz drawings: the SVG, parsed as XML, shows every value's label, data and grad, the
local derivatives on the edges (checked against derivatives worked out by hand), neuron
clusters with δ, escaped labels, colours, options; output is byte-for-byte repeatable."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Dict, List, Tuple

import pytest

import nn
import viz
from autograd import Value, dot, topological_order
from autograd import sum as vsum
from viz.dot import fmt

SVG = "{http://www.w3.org/2000/svg}"


# --- reading the SVG back -------------------------------------------------------------

def groups(svg_text: str, cls: str) -> Dict[str, List[str]]:
    """title -> the texts shown, for every <g class=cls> (node, edge or cluster)."""
    root = ET.fromstring(svg_text)
    out: Dict[str, List[str]] = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == cls:
            title = g.find(f"{SVG}title").text
            out.setdefault(title, []).extend(
                "".join(t.itertext()) for t in g.iter(f"{SVG}text"))
    return out


def edge_labels(svg_text: str) -> List[Tuple[str, str]]:
    """(title "tail->head", label) for every labelled edge, one entry per edge (the head's
    port, ``:i0`` where an op with several inputs takes each at its own place, left out)."""
    root = ET.fromstring(svg_text)
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            title = re.sub(r":i\d+$", "", g.find(f"{SVG}title").text)
            for t in g.iter(f"{SVG}text"):
                out.append((title, "".join(t.itertext())))
    return out


def number_after(prefix: str, texts: List[str]) -> float:
    """The number in the text that starts with ``prefix`` (exactly one must)."""
    hits = [t[len(prefix):] for t in texts if t.startswith(prefix)]
    assert len(hits) == 1, (prefix, texts)
    return float(hits[0])


def close(shown: float, expected: float) -> bool:
    """Equal to the 4 significant digits a drawing shows."""
    return math.isclose(shown, expected, rel_tol=6e-4, abs_tol=1e-12)


# --- a known expression: micrograd's neuron with a squared error -----------------------

def neuron_expression():
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    err = (o - 1) ** 2
    err.label = "L"
    err.backward()
    return err, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, n=n, o=o, err=err)


def test_every_value_shows_label_data_and_grad_matching_hand_derivatives():
    err, v = neuron_expression()
    nodes = groups(viz.svg(err), "node")
    # By hand: n = x1·w1 + x2·w2 + b, o = tanh n, L = (o − 1)²
    n = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    o = math.tanh(n)
    dL_do = 2 * (o - 1)
    dL_dn = dL_do * (1 - o * o)
    expected = {
        "x1": (2.0, dL_dn * -3.0), "w1": (-3.0, dL_dn * 2.0), "x2": (0.0, dL_dn * 1.0),
        "w2": (1.0, dL_dn * 0.0), "b": (6.8813735870195432, dL_dn), "n": (n, dL_dn),
        "o": (o, dL_do), "L": ((o - 1) ** 2, 1.0),
    }
    order = topological_order(err)
    for label, (data, grad) in expected.items():
        texts = nodes[f"n{order.index(v['err' if label == 'L' else label])}"]
        assert label in texts
        assert close(number_after("data ", texts), data), (label, texts)
        assert close(number_after("grad ", texts), grad), (label, texts)
    # every value is drawn: unlabelled intermediates too, and the constant 1
    for i, node in enumerate(order):
        texts = nodes[f"n{i}"]
        if node.op == "const":
            assert texts == [fmt(node.data)]
        else:
            assert close(number_after("data ", texts), node.data)
            assert close(number_after("grad ", texts), node.grad)


def test_edges_carry_the_local_derivatives_worked_out_by_hand():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    ab = a * b            # ∂/∂a = b = -3, ∂/∂b = a = 2
    aa = a * a            # a twice: two edges, each ∂ = a = 2
    s = ab + aa           # ∂ = 1, 1
    t = s.tanh()          # ∂ = 1 − tanh²(s)
    c = t ** 3            # ∂ = 3·t²
    c.backward()
    order = topological_order(c)
    name = {node: f"n{i}" for i, node in enumerate(order)}
    labels = edge_labels(viz.svg(c))

    def shown(tail: Value, head: Value) -> List[float]:
        title = f"{name[tail]}->{name[head]}op"
        return sorted(float(text[2:]) for t, text in labels if t == title)

    sv = -6.0 + 4.0
    assert shown(a, ab) == [-3.0]
    assert shown(b, ab) == [2.0]
    assert shown(a, aa) == [2.0, 2.0]
    assert shown(ab, s) == [1.0] and shown(aa, s) == [1.0]
    assert close(shown(s, t)[0], 1 - math.tanh(sv) ** 2)
    assert close(shown(t, c)[0], 3 * math.tanh(sv) ** 2)
    # the op -> result edges carry no number
    assert not [x for x in labels if x[0].endswith(f"op->{name[c]}")]


def test_op_nodes_show_symbol_constant_and_rule_from_the_op_table():
    x = Value(0.5, "x")
    y = (x ** 3).leaky_relu(0.01) + (2 ** x).sigmoid()
    nodes = groups(viz.svg(y), "node")
    order = topological_order(y)
    ops = {node.op: nodes[f"n{i}op"] for i, node in enumerate(order) if node.parents}
    assert ops["pow"][0] == "^3" and "k = 3" in ops["pow"]
    assert ops["leaky_relu"][0] == "leaky 0.01" and "k = 0.01" in ops["leaky_relu"]
    assert ops["rpow"][0] == "2^"
    assert ops["sigmoid"] == ["σ", "∂: σ(1−σ)"]
    assert ops["add"] == ["+", "∂/∂a = 1", "∂/∂b = 1"]
    plain = groups(viz.svg(y, show_rules=False), "node")
    assert plain[f"n{order.index(y)}op"] == ["+"]


# --- neurons from nn -----------------------------------------------------------------

def test_nn_model_draws_a_cluster_per_layer_and_neuron_with_delta_on_every_u():
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    x, y = [0.5, 0.2], 1.0
    pred = model(x)
    err = nn.mse([pred], [y])
    err.backward()
    svg_text = viz.svg(err)
    clusters = groups(svg_text, "cluster")
    assert set(clusters) == {"cluster_layer0", "cluster_layer1", "cluster_layer0_neuron0",
                             "cluster_layer0_neuron1", "cluster_layer0_neuron2",
                             "cluster_layer1_neuron0"}
    assert clusters["cluster_layer1"] == ["layer 1"]
    assert clusters["cluster_layer0_neuron2"] == ["neuron 2"]

    # δ by the textbook, from the forward values alone: output layer (linear) δ = −2(y − ŷ),
    # hidden δ_i = (1 − tanh² u_i) · δ_out · θ_out,i
    hidden, out = model.layers[0].neurons, model.layers[1].neurons[0]
    u_hidden = [n.w[0].data * x[0] + n.w[1].data * x[1] + n.b.data for n in hidden]
    o_hidden = [math.tanh(u) for u in u_hidden]
    y_hat = sum(w.data * o for w, o in zip(out.w, o_hidden)) + out.b.data
    delta_out = -2 * (y - y_hat)
    expected = {(1, 0): delta_out}
    for i, u in enumerate(u_hidden):
        expected[(0, i)] = (1 - math.tanh(u) ** 2) * delta_out * out.w[i].data

    nodes = groups(svg_text, "node")
    order = topological_order(err)
    seen = set()
    for i, node in enumerate(order):
        if isinstance(node.tag, tuple) and node.tag[0] == "u":
            _, layer, neuron = node.tag
            texts = nodes[f"n{i}"]
            delta = number_after("δ = ∂Err/∂u = ", texts)
            assert close(delta, node.grad)
            assert close(delta, expected[(layer, neuron)])
            seen.add((layer, neuron))
    assert seen == set(expected)


def _bbox(points: str) -> Tuple[float, float, float, float]:
    nums = [float(p) for p in re.findall(r"-?\d+(?:\.\d+)?", points)]
    xs, ys = nums[0::2], nums[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def test_neuron_nodes_lie_inside_their_cluster():
    model = nn.MLP(2, [2, 1], activation="relu", seed=3)
    err = nn.mse([model([1.0, -1.0])], [0.0])
    err.backward()
    root = ET.fromstring(viz.svg(err))
    boxes, texts_at = {}, {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title").text
        if g.get("class") == "cluster":
            boxes[title] = _bbox(g.find(f"{SVG}path").get("d"))
        elif g.get("class") == "node":
            texts_at[title] = [(float(t.get("x")), float(t.get("y"))) for t in g.iter(f"{SVG}text")]
    order = topological_order(err)
    for i, node in enumerate(order):
        if isinstance(node.tag, tuple) and node.tag[0] in ("u", "o", "theta", "bias"):
            x0, y0, x1, y1 = boxes[f"cluster_layer{node.tag[1]}_neuron{node.tag[2]}"]
            for x, y in texts_at[f"n{i}"]:
                assert x0 <= x <= x1 and y0 <= y <= y1, (node.label, node.tag)


# --- labels, numbers, colours --------------------------------------------------------

@pytest.mark.parametrize("label", ['a{b}|<c> "d" \\e &f', "<b>not bold</b>", "]; x -> y; //", "x\ny\t"])
def test_labels_render_exactly_as_typed(label):
    v = Value(1.5, label)
    w = v * 2
    w.backward()
    texts = groups(viz.svg(w), "node")["n0"]
    typed = label.replace("\n", "\\n").replace("\t", "\\t")  # control characters shown escaped
    assert texts[0] == typed
    assert "data 1.5" in texts and "grad 2" in texts


def test_numbers_are_short():
    assert [fmt(x) for x in (0.0, -0.0, 1.0, -3.0, 0.12345678, 123456.0, 1e-5, 2.5e10)] == [
        "0", "0", "1", "-3", "0.1235", "1.235e5", "1e-5", "2.5e10"]
    assert [fmt(x) for x in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]


def _node_line(drawing, name: str) -> str:
    """The DOT statement of node ``name``, wherever (top level or a cluster) it is."""
    return next(line.strip() for line in drawing.body if line.strip().startswith(f"{name} ["))


def test_grad_cells_are_coloured_by_magnitude_on_a_log_scale():
    leaves = [Value(1.0, f"v{i}") for i in range(7)]
    root = leaves[0] + leaves[1] + leaves[2] + leaves[3] + leaves[4] + leaves[5] + leaves[6]
    for v, g in zip(leaves, (1e-6, 1e-3, 0.5, 50.0, 1e4, 0.0, math.nan)):
        v.grad = g
    root.grad = 1.0
    d = viz.to_dot(root)
    order = topological_order(root)
    fills = [re.search(r'<td bgcolor="(#[0-9a-f]+)"( style="dashed")?>grad',
                       _node_line(d, f"n{order.index(v)}")) for v in leaves]
    # each order of magnitude band its own colour, growing darker, then orange for large
    assert [m.group(1) for m in fills] == [
        "#f0f7fd", "#d4e8f8", "#a8d0f0", "#6fb0e4", "#fdba74", "#d1d5db", "#f87171"]
    assert [bool(m.group(2)) for m in fills] == [False] * 5 + [True, False]  # exactly 0: dashed
    assert "legend" in d.source and "exactly 0: no signal" in d.source


def test_dead_relu_grad_is_marked_zero():
    u = Value(-2.0, "u")
    r = u.relu()
    r.backward()
    line = _node_line(viz.to_dot(r), "n0")
    assert 'bgcolor="#d1d5db" style="dashed">grad 0<' in line


def test_health_off_and_before_backward():
    err, _ = neuron_expression()
    plain = viz.to_dot(err, health=False)
    assert "legend" not in plain.source and "#d1d5db" not in plain.source
    fresh = Value(1.0, "a") * Value(2.0, "b")
    d = viz.to_dot(fresh)
    assert "call backward() to see them" in d.source
    assert 'style="dashed">grad' not in d.source  # nothing marked dead before backward


def test_roles_look_different():
    model = nn.MLP(2, [1], seed=0)
    err = nn.mse([model([0.5, 0.2])], [1.0])
    err.backward()
    d = viz.to_dot(err)
    order = topological_order(err)
    fill = {}
    for i, v in enumerate(order):
        if v.op != "const":
            m = re.search(r'<tr><td( bgcolor="(#[0-9a-f]+)")?>', _node_line(d, f"n{i}"))
            fill[v.label] = m.group(2)
    assert fill["θ[0,0,0]"] == fill["b[0,0]"] == "#fde68a"      # parameters
    assert fill["x[0]"] == fill["x[1]"] == "#bbf7d0"             # inputs
    assert fill["u[0,0]"] is None and fill["Err"] is None        # computed
    made = vsum([Value(3.0), 2])                                  # a leaf you made, a constant
    d2 = viz.to_dot(made)
    assert 'bgcolor="#e0e7ff"' in _node_line(d2, "n0")
    assert "shape=box" in _node_line(d2, "n1") and "label=2 " in _node_line(d2, "n1")
    carried = Value(3.0) * 2 + 1                                  # numbers an op carries: in its box
    d3 = viz.to_dot(carried)
    assert "<b>×2</b>" in _node_line(d3, "n1op") and "k = 2" in _node_line(d3, "n1op")
    assert "<b>+1</b>" in _node_line(d3, "n2op") and "k = 1" in _node_line(d3, "n2op")


def test_show_local_off_draws_no_edge_numbers():
    err, _ = neuron_expression()
    assert edge_labels(viz.svg(err, show_local=False)) == []
    assert len(edge_labels(viz.svg(err))) == 11  # 2+2+2+2 for ×, ×, +, +; 1 tanh; 1 −1; 1 ^2


def test_rankdir_and_option_errors():
    err, _ = neuron_expression()
    assert "rankdir=TB" in viz.to_dot(err, rankdir="TB").source
    with pytest.raises(TypeError, match="expected an autograd Value"):
        viz.to_dot(3.0)
    with pytest.raises(ValueError, match="rankdir must be one of"):
        viz.to_dot(err, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        viz.to_dot(err, max_nodes=0)
    with pytest.raises(ValueError, match="depth must be None or an int >= 0"):
        viz.to_dot(err, depth=-1)
    with pytest.raises(TypeError, match="apply to a Value"):
        viz.svg(viz.to_dot(err), rankdir="TB")


# --- big graphs ------------------------------------------------------------------------

def chain(n: int) -> Value:
    x = Value(0.1, "x")
    for _ in range(n):
        x = x.tanh()
    return x


def test_max_nodes_error_says_how_many_and_what_to_do():
    root = chain(30)
    with pytest.raises(viz.GraphTooLargeError) as info:
        viz.to_dot(root, max_nodes=10)
    message = str(info.value)
    assert "31 values" in message and "max_nodes=10" in message
    assert "max_nodes=31" in message and "depth=" in message
    assert isinstance(info.value, ValueError)
    viz.to_dot(root, max_nodes=31)


def test_depth_draws_the_part_near_a_value_and_marks_where_it_stops():
    root = chain(30)
    root.backward()
    d = viz.to_dot(root, depth=2, max_nodes=10)
    nodes = groups(viz.svg(d), "node")
    values = [t for t in nodes if re.fullmatch(r"n\d+", t)]
    assert len(values) == 3          # root and two values up
    assert nodes["n0op"] == ["tanh", "∂: 1−o²", "inputs beyond depth"]
    assert not [e for e in edge_labels(viz.svg(d)) if e[0].endswith("->n0op")]
    only_root = groups(viz.svg(root, depth=0), "node")
    assert [t for t in only_root if t != "legend"] == ["n0", "n0op"]


# --- the same graph, the same bytes ------------------------------------------------------

_SCRIPT = """
import sys, nn, viz
model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
err = nn.mse([model([0.5, 0.2])], [1.0])
err.backward()
sys.stdout.write(viz.svg(err))
"""


def test_output_is_byte_identical_across_runs_and_processes():
    first = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, check=True).stdout
    second = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, check=True).stdout
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    err = nn.mse([model([0.5, 0.2])], [1.0])
    err.backward()
    here = viz.svg(err).encode("utf-8")
    assert first == second == here
    assert b"0x" not in here  # nothing id()-like in names


def test_fused_dot_node_edges():
    w, x = [Value(0.5, "w0"), Value(-1.0, "w1")], [Value(2.0, "x0"), Value(3.0, "x1")]
    u = dot(w, x, 0.25)
    u.backward()
    order = topological_order(u)
    labels = edge_labels(viz.svg(u))
    by_tail = {title.split("->")[0]: float(text[2:]) for title, text in labels}
    name = {v: f"n{i}" for i, v in enumerate(order)}
    # ∂u/∂θ_ℓ = o_ℓ, ∂u/∂o_ℓ = θ_ℓ, ∂u/∂b = 1
    assert [by_tail[name[v]] for v in (*w, *x)] == [2.0, 3.0, 0.5, -1.0]
    assert by_tail[name[u.parents[-1]]] == 1.0


# --- operands in order ---------------------------------------------------------------------


def _label_positions(svg_text: str) -> Dict[str, Tuple[float, float]]:
    """The (x, y) of each value record's name (its first text), keyed by that name."""
    out = {}
    for g in ET.fromstring(svg_text).iter(f"{SVG}g"):
        first = next(g.iter(f"{SVG}text"), None) if g.get("class") == "node" else None
        if first is not None:
            out["".join(first.itertext())] = (float(first.get("x")), float(first.get("y")))
    return out


def _operands_in_order(svg_text: str, sizes: List[int], layers: range, axis: int) -> int:
    """Asserts that every drawn neuron of ``layers`` has θ_1 … θ_n then b, and its inputs,
    in order along ``axis`` (1: top to bottom, 0: left to right); returns how many it checked."""
    at = _label_positions(svg_text)
    checked = 0
    for k in layers:
        inputs = ([f"x[{j}]" for j in range(sizes[0])] if k == 0
                  else [f"o[{k - 1},{j}]" for j in range(sizes[k])])
        for i in range(sizes[k + 1]):
            params = [f"θ[{k},{i},{j}]" for j in range(len(inputs))] + [f"b[{k},{i}]"]
            for group in (params, inputs):
                coords = [at[name][axis] for name in group]
                assert all(a < b for a, b in zip(coords, coords[1:])), (group, coords)
            checked += 1
    return checked


@pytest.mark.parametrize("rankdir, axis", [("LR", 1), ("TB", 0)])
def test_a_neurons_operands_come_out_in_order_theta_then_b(rankdir, axis):
    """θ_1 … θ_n, then b, top to bottom (left to right for TB), and the inputs in order,
    in every neuron; the same bytes on every run."""
    model = nn.MLP(2, [4, 1], activation="tanh", seed=1)
    err = model.trace([0.5, -0.2], 1.0, "mse").err
    first = viz.svg(err, rankdir=rankdir)
    assert _operands_in_order(first, [2, 4, 1], range(2), axis) == 5
    assert viz.svg(err, rankdir=rankdir) == first


def test_operands_in_order_in_the_demo_models_graph_at_depth_3():
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=1337)
    out = model([0.5, 0.2])
    out.backward()
    svg_text = viz.svg(out, depth=3)   # u[2,0], and every u[1,i] with its θ, b and inputs o[0,ℓ]
    assert _operands_in_order(svg_text, [2, 16, 16, 1], range(1, 3), 1) == 17
