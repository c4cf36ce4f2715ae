"""deltagrad explain / deltagrad health: exit codes, checks, and numbers against manual_backprop."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import nn.manual
from deltagrad.cli import main
from nn.manual import manual_backprop
from nn.module import MLP

DELTA_HEAD = re.compile(r"^  δ\[(\d+),(\d+)\] = ")
RESULT = re.compile(r"= (\S+)\s+✓$")


def run(capsys, *argv: str):
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def printed_deltas(text: str) -> dict:
    """{(t, i): δ} read from the walk-through: the ✓-marked result after each δ[t,i] header."""
    deltas, current = {}, None
    for line in text.splitlines():
        m = DELTA_HEAD.match(line)
        if m:
            current = (int(m.group(1)), int(m.group(2)))
        r = RESULT.search(line)
        if current is not None and r:
            deltas[current] = float(r.group(1))
            current = None
    return deltas


def test_explain_defaults_exit_0_with_every_check_passing(capsys):
    status, out, err = run(capsys, "explain")
    assert status == 0, err
    assert "✗" not in out
    m = re.search(r"checks: (\d+) passed, 0 failed", out)
    assert m and int(m.group(1)) >= 30  # u, o, ŷ, Err, δ, 9 gradients, 9 updates, Err after
    assert "MLP 2-2-1 (sigmoid on every neuron)" in out and "Err = (y − ŷ)²" in out
    assert "δ_i = σ'(u_i) · Σ_j δ_j·θ_ji" in out and "θ ← θ − η·∂Err/∂θ" in out


def test_printed_deltas_equal_manual_backprop(capsys):
    status, out, _ = run(capsys, "explain", "--seed", "7", "--x=0.8,-1.1", "--y", "0.2")
    assert status == 0
    model = MLP(2, [2, 1], activation="sigmoid", output_activation="sigmoid", init="uniform", seed=7)
    want = manual_backprop(model, [0.8, -1.1], 0.2, "mse").delta
    got = printed_deltas(out)
    assert sorted(got) == [(0, 0), (0, 1), (1, 0)]
    for (t, i), value in got.items():
        assert value == pytest.approx(want[t][i], abs=5e-5)  # printed to 4 decimals


def test_deeper_network_hidden_sums_show_every_term(capsys):
    status, out, _ = run(capsys, "explain", "--layers", "3,2", "--activation", "tanh", "--lr", "0.1")
    assert status == 0 and "0 failed" in out
    model = MLP(2, [3, 2, 1], activation="tanh", output_activation="tanh", seed=1337)
    want = manual_backprop(model, [0.5, -0.3], 1.0).delta
    got = printed_deltas(out)
    assert len(got) == 6
    for (t, i), value in got.items():
        assert value == pytest.approx(want[t][i], abs=5e-5)
    # Layer 0's δ sums over both neurons j of layer 1: δ_i = σ'(u_i)·(δ[1,0]·θ[1,0,i] + δ[1,1]·θ[1,1,i]).
    assert "δ[0,2] = σ'(u[0,2]) × (δ[1,0]·θ[1,0,2] + δ[1,1]·θ[1,1,2])" in out


@pytest.mark.parametrize("argv", [
    ("--loss", "hinge", "--y", "-1"),
    ("--loss", "bce_with_logits", "--y", "0", "--activation", "relu"),
    ("--loss", "cross_entropy", "--y", "2", "--classes", "3"),
    ("--y", "1,0"),
    ("--layers", "none"),
    ("--x=1,2,3", "--layers", "1", "--init", "he", "--activation", "leaky_relu"),
])
def test_explain_variants_all_check_out(capsys, argv):
    status, out, err = run(capsys, "explain", *argv)
    assert status == 0, err
    assert re.search(r"checks: \d+ passed, 0 failed", out) and "✗" not in out


def test_a_disagreement_is_marked_and_exits_1(capsys, monkeypatch):
    real = nn.manual.manual_backprop

    def off_by_a_bit(model, x, y, loss="mse"):
        result = real(model, x, y, loss)
        result.delta[0][1] += 1e-3
        return result

    monkeypatch.setattr(nn.manual, "manual_backprop", off_by_a_bit)
    status, out, _ = run(capsys, "explain")
    assert status == 1
    bad = [line for line in out.splitlines() if "✗" in line]
    assert len(bad) == 1 and "off by 0.001" in bad[0]
    assert "checks: 29 passed, 1 failed" in out


def test_explain_svg_draws_the_step_graph(capsys, tmp_path):
    path = tmp_path / "step.svg"
    status, out, err = run(capsys, "explain", "--svg", str(path))
    assert status == 0, err
    assert f"graph of this step (δ on every u): {path}" in out
    root = ET.fromstring(path.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = "".join(root.itertext())
    assert "δ" in texts and "u[0,1]" in texts


def test_explain_bad_input_is_one_line_and_status_2(capsys):
    status, _, err = run(capsys, "explain", "--loss", "hinge", "--y", "2")
    assert status == 2 and "--y for hinge must be -1 or 1" in err and err.count("\n") == 1
    status, _, err = run(capsys, "explain", "--loss", "cross_entropy", "--y", "5")
    assert status == 2 and "class in 0..2" in err
    with pytest.raises(SystemExit) as e:
        main(["explain", "--x", "a,b"])
    assert e.value.code == 2
    assert "--x: expected comma-separated numbers" in capsys.readouterr().err


def test_health_default_compares_vanishing_sigmoid_with_healthy_relu(capsys):
    status, out, err = run(capsys, "health")
    assert status == 0, err
    assert "[1/2] 8 hidden sigmoid layers, uniform init" in out
    assert "[2/2] 8 hidden relu layers, he init" in out
    summary = out.split("How much of δ reaches the first layer")[1]
    sigmoid_line, relu_line = [line for line in summary.splitlines() if "first layer's" in line]
    assert sigmoid_line.rstrip().endswith("vanishing")
    assert relu_line.rstrip().endswith("healthy")
    assert "verdict: vanishing" in out and "verdict: healthy" in out
    assert "nan" not in out.lower()


def test_health_clip_shows_the_norm_before_and_after(capsys):
    status, out, _ = run(capsys, "health", "--activation", "relu", "--init", "uniform",
                         "--layers", "16,16", "--clip", "0.5")
    assert status == 0
    m = re.search(r"clip_grad_norm\(max_norm=0.5\): total ‖∂Err/∂θ‖ \(all parameters\) (\S+), "
                  r"scaled to (\S+)", out)
    assert m and float(m.group(1)) > 0.5 and float(m.group(2)) == pytest.approx(0.5)


def test_health_options_and_errors(capsys):
    status, out, _ = run(capsys, "health", "--dataset", "spirals", "--activation", "tanh",
                         "--init", "xavier", "--layers", "4", "--samples", "30")
    assert status == 0 and "loss cross_entropy" in out and "[1/1]" in out
    status, _, err = run(capsys, "health", "--activation", "relu,tanh,sigmoid", "--init", "he,xavier")
    assert status == 2 and "3 networks but --init 2" in err
    with pytest.raises(SystemExit):
        main(["health", "--activation", "swish"])
    assert "unknown activation 'swish'" in capsys.readouterr().err


def test_explain_html_writes_the_steps_page(capsys, tmp_path):
    path = tmp_path / "step.html"
    status, out, err = run(capsys, "explain", "--html", str(path))
    assert status == 0, err
    assert f"this step's backward pass, one node at a time, in a browser: {path}" in out
    page = path.read_text(encoding="utf-8")
    assert "<title>Backprop step by step: " in page
    assert "u[0,1]" in page


def test_explain_html_is_the_walk_through_as_a_network_page_with_its_sgd_step(capsys, tmp_path):
    import json

    path = tmp_path / "step.html"
    status, out, _ = run(capsys, "explain", "--lr", "0.5", "--html", str(path))
    assert status == 0
    page = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dg-data">(.*?)</script>', page, re.S).group(1))
    assert data["mode"] == "network"
    kinds = [s["kind"] for s in data["steps"]]
    assert kinds.count("delta") == 3 and kinds.count("grad") == 3 and kinds[-1] == "sgd"
    after = float(re.search(r"Err before the step [\d.]+, after ([\d.]+)", out).group(1))
    shown = float(dict(data["steps"][data["sgd"]]["set"])["err_e"].split()[-1])
    assert shown == pytest.approx(after, rel=1e-3)  # the page's SGD step is the walk-through's update
