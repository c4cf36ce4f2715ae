"""``deltagrad graph``: the demo drawings, a saved model's graph with its loss, and every
user mistake ending in one clear line (exit status 2)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import pytest

import nn
from deltagrad.cli import main

SVG = "{http://www.w3.org/2000/svg}"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def node_texts(path: Path) -> Dict[str, List[str]]:
    root = ET.parse(path).getroot()
    return {g.find(f"{SVG}title").text: ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
            for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def by_label(nodes: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """Value records keyed by the label in their first cell."""
    return {texts[0]: texts for name, texts in nodes.items()
            if name != "legend" and len(texts) == 3}


def shown(texts: List[str], prefix: str) -> float:
    return float(next(t for t in texts if t.startswith(prefix))[len(prefix):])


def test_default_draws_micrograds_neuron_and_prints_the_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "graph")
    assert status == 0 and err == ""
    assert out == "deltagrad-graph.svg\n"
    values = by_label(node_texts(tmp_path / "deltagrad-graph.svg"))
    # o = tanh(x1·w1 + x2·w2 + b); by hand, do/dn = 1 − tanh²(n)
    n = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    dn = 1 - math.tanh(n) ** 2
    assert math.isclose(shown(values["o"], "data "), math.tanh(n), rel_tol=1e-3)
    assert math.isclose(shown(values["n"], "grad "), dn, rel_tol=1e-3)
    assert math.isclose(shown(values["x1"], "grad "), -3.0 * dn, rel_tol=1e-3)
    assert math.isclose(shown(values["w1"], "grad "), 2.0 * dn, rel_tol=1e-3)
    assert shown(values["w2"], "grad ") == 0.0


def test_network_demo_png(capsys, tmp_path):
    out_path = tmp_path / "net.png"
    status, out, _ = run(capsys, "graph", "--demo", "network", "-o", str(out_path))
    assert status == 0 and out.strip() == str(out_path)
    assert out_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _saved_model(tmp_path: Path) -> nn.MLP:
    model = nn.MLP(2, [3, 1], activation="tanh", seed=4)
    model.save(tmp_path / "m.json")
    return model


def test_model_with_target_draws_the_loss_with_delta_on_every_u(capsys, tmp_path):
    model = _saved_model(tmp_path)
    out_path = tmp_path / "g.svg"
    status, out, _ = run(capsys, "graph", "--model", str(tmp_path / "m.json"), "--x", "0.5,0.2",
                         "--y", "1", "--ops", "-o", str(out_path))
    assert status == 0 and out.strip() == str(out_path)
    values = by_label(node_texts(out_path))
    # the textbook's δ by hand from the saved weights: δ_out = −2(y − ŷ) (linear output),
    # δ_i = (1 − tanh² u_i)·δ_out·θ_out,i
    hidden, last = model.layers[0].neurons, model.layers[1].neurons[0]
    u = [n.w[0].data * 0.5 + n.w[1].data * 0.2 + n.b.data for n in hidden]
    y_hat = sum(w.data * math.tanh(ui) for w, ui in zip(last.w, u)) + last.b.data
    delta_out = -2 * (1.0 - y_hat)
    assert math.isclose(shown(values["Err"], "data "), (1.0 - y_hat) ** 2, rel_tol=1e-3)
    assert math.isclose(shown(values["u[1,0]"], "δ = ∂Err/∂u = "), delta_out, rel_tol=1e-3)
    for i, ui in enumerate(u):
        expected = (1 - math.tanh(ui) ** 2) * delta_out * last.w[i].data
        assert math.isclose(shown(values[f"u[0,{i}]"], "δ = ∂Err/∂u = "), expected, rel_tol=1e-3)


def test_model_without_target_ends_at_the_output(capsys, tmp_path):
    _saved_model(tmp_path)
    out_path = tmp_path / "g.svg"
    status, _, _ = run(capsys, "graph", "--model", str(tmp_path / "m.json"), "--x=-0.5,0.2",
                       "-o", str(out_path), "--no-health", "--ops")
    assert status == 0
    values = by_label(node_texts(out_path))
    # without a target there is no Err, so u shows its grad, not a δ (issue 10: no "δ = ∂u[1,0]/∂u")
    assert "Err" not in values and shown(values["u[1,0]"], "grad ") == 1.0
    assert not any(t.startswith("δ") for texts in values.values() for t in texts)
    assert "legend" not in node_texts(out_path)


def test_depth_and_max_nodes(capsys, tmp_path):
    _saved_model(tmp_path)
    model = str(tmp_path / "m.json")
    status, _, err = run(capsys, "graph", "--model", model, "--x", "1,2", "--y", "0", "--ops",
                         "--max-nodes", "5", "-o", str(tmp_path / "a.svg"))
    assert status == 2 and "more than --max-nodes 5" in err and "--depth" in err
    status, _, _ = run(capsys, "graph", "--model", model, "--x", "1,2", "--y", "0", "--ops",
                       "--max-nodes", "5", "--depth", "1", "-o", str(tmp_path / "b.svg"))
    assert status == 0


def test_a_model_is_drawn_as_its_network_diagram_by_default(capsys, tmp_path):
    model = _saved_model(tmp_path)
    out_path = tmp_path / "n.svg"
    status, out, _ = run(capsys, "graph", "--model", str(tmp_path / "m.json"), "--x", "0.5,0.2",
                         "--y", "1", "--loss", "hinge", "-o", str(out_path))
    assert status == 0 and out.strip() == str(out_path)
    nodes = node_texts(out_path)
    assert "loss hinge" in nodes["err"]
    # hinge with a linear output: Err = max(0, 1 − y·ŷ), so δ_out = −y where 1 − y·ŷ > 0
    hidden, last = model.layers[0].neurons, model.layers[1].neurons[0]
    u = [n.w[0].data * 0.5 + n.w[1].data * 0.2 + n.b.data for n in hidden]
    y_hat = sum(w.data * math.tanh(ui) for w, ui in zip(last.w, u)) + last.b.data
    assert y_hat < 1 and shown(nodes["n1_0"], "δ ") == -1.0
    assert math.isclose(shown(nodes["err"], "Err "), 1 - y_hat, rel_tol=1e-3)
    assert [n for n in nodes if n.startswith("n0_")] == ["n0_0", "n0_1", "n0_2"]


def test_op_level_options_draw_the_op_level_graph(capsys, tmp_path):
    _saved_model(tmp_path)
    out_path = tmp_path / "g.svg"
    status, _, _ = run(capsys, "graph", "--model", str(tmp_path / "m.json"), "--x", "1,2",
                       "--depth", "1", "-o", str(out_path))
    assert status == 0 and "u[1,0]" in by_label(node_texts(out_path))  # values, not neurons
    status, _, err = run(capsys, "graph", "--model", str(tmp_path / "m.json"), "--x", "1,2", "--ops",
                         "--max-nodes", "3", "-o", str(out_path))
    assert status == 2 and "--depth N; without --ops, --max-nodes and --depth it draws the network" in err


@pytest.mark.parametrize("argv, message", [
    (["--x", "1,2"], "--x and --y go with --model FILE"),
    (["--model", "{dir}/m.json"], "--model needs the input to draw"),
    (["--model", "{dir}/m.json", "--x", "1,2,3"], "--x has 3 numbers but the model in"),
    (["--model", "{dir}/m.json", "--x", "1,2", "--y", "1,2"], "--y has 2 numbers but the model"),
    (["--model", "{dir}/missing.json", "--x", "1,2"], "cannot read the model file"),
    (["--model", "{dir}/broken.json", "--x", "1,2"], "broken.json"),
    (["-o", "{dir}/graph.pdf"], "must end in .svg or .png"),
    (["-o", "{dir}/no/such/dir/g.svg"], "does not exist"),
    (["--x", "1,nan", "--model", "{dir}/m.json"], "expected finite numbers"),
    (["--x", "a,b", "--model", "{dir}/m.json"], "expected comma-separated numbers"),
    (["--depth", "-1"], "expected an integer >= 0"),
    (["--max-nodes", "0"], "expected an integer >= 1"),
])
def test_mistakes_end_in_one_clear_line(capsys, tmp_path, argv, message):
    _saved_model(tmp_path)
    (tmp_path / "broken.json").write_text('{"format": "deltagrad-mlp"')
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "g.svg")]
    try:  # argparse's own errors exit; the command's errors return 2
        status = main(["graph", *argv])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, name", [([], "graph.svg"), (["--demo", "network"], "network.svg")])
def test_gallery_svgs_are_what_the_documented_commands_draw(capsys, tmp_path, monkeypatch, argv, name):
    """The README's pictures stay current.  Regenerate them with
    `deltagrad graph -o viz/gallery/graph.svg` and
    `deltagrad graph --demo network -o viz/gallery/network.svg`."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the bundled renderer, as on a fresh install
    out_path = tmp_path / name
    assert run(capsys, "graph", *argv, "-o", str(out_path))[0] == 0
    gallery = Path(__file__).resolve().parents[1] / "viz" / "gallery" / name
    assert out_path.read_bytes() == gallery.read_bytes()


def test_graph_to_an_html_file_writes_the_step_through_page(capsys, tmp_path):
    path = tmp_path / "page.html"
    status, out, err = run(capsys, "graph", "--demo", "network", "-o", str(path))
    assert (status, out, err) == (0, f"{path}\n", "")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'id="dg-data"' in page
    status, _, err = run(capsys, "graph", "--depth", "2", "-o", str(path))
    assert status == 2 and "--depth, --no-local and --no-health are for pictures" in err
    status, _, err = run(capsys, "graph", "--max-nodes", "3", "-o", str(path))
    assert status == 2 and "pass --max-nodes 10, or draw a picture of the part" in err


def test_graph_html_of_a_network_is_its_neuron_by_neuron_page(capsys, tmp_path):
    import json
    import re

    def data(path):
        text = path.read_text(encoding="utf-8")
        return json.loads(re.search(r'id="dg-data">(.*?)</script>', text, re.S).group(1))

    path = tmp_path / "page.html"
    assert run(capsys, "graph", "--demo", "network", "--lr", "0.3", "-o", str(path))[0] == 0
    got = data(path)
    assert got["mode"] == "network" and "η = 0.3" in got["steps"][got["sgd"]]["say"]
    # the SGD step's new Err, by hand: manual_backprop on the demo network after θ ← θ − 0.3·∂Err/∂θ
    model = nn.MLP(2, [2, 1], activation="tanh", seed=1)
    grads = nn.manual_backprop(model, [0.5, -0.2], 1.0).grads
    for name, p in model.named_parameters():
        p.data -= 0.3 * grads[name]
    after = nn.manual_backprop(model, [0.5, -0.2], 1.0).err
    shown = dict(got["steps"][got["sgd"]]["set"])["err_e"]
    assert float(shown.split()[-1]) == pytest.approx(after, rel=1e-3)
    assert run(capsys, "graph", "--demo", "network", "--ops", "-o", str(path))[0] == 0
    assert data(path)["mode"] == "expression"
    status, _, err = run(capsys, "graph", "--demo", "network", "--lr", "0.3", "-o", str(tmp_path / "n.svg"))
    assert status == 2 and "--lr is the learning rate of the SGD step" in err
    saved = tmp_path / "model.json"
    nn.MLP(2, [3, 1], seed=0).save(saved)
    status, _, err = run(capsys, "graph", "--model", str(saved), "--x", "1,2", "-o", str(path))
    assert status == 2 and "give --y (the target), or --ops" in err
