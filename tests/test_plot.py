"""nn.plot: loss/accuracy curves and decision boundaries as PNG/SVG, and the missing-matplotlib message."""

from __future__ import annotations

import math
import sys
import xml.etree.ElementTree as ET

import pytest

import nn
from nn.module import MLP
from nn.plot import PlotUnavailable, plot_decision_boundary, plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


def history(loss, accuracy=None) -> nn.History:
    h = nn.History()
    h.loss = list(loss)
    h.accuracy = list(accuracy) if accuracy is not None else [None] * len(h.loss)
    return h


def svg_text(path) -> str:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == SVG_ROOT
    return "".join(root.itertext())


def test_missing_matplotlib_is_a_one_line_install_hint(monkeypatch, tmp_path):
    # CI installs only the test extra, so simulate the import failure rather than rely on it.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends",
                 "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PlotUnavailable) as e:
        plot_history(history([1.0, 0.5]), tmp_path / "h.png")
    message = str(e.value)
    assert isinstance(e.value, ImportError)
    assert "pip install 'deltagrad[plot]'" in message and "\n" not in message
    with pytest.raises(PlotUnavailable, match=r"deltagrad\[plot\]"):
        plot_decision_boundary(MLP(2, [1], seed=0), [[0, 0], [1, 1]], [0, 1], tmp_path / "d.svg")
    assert not (tmp_path / "h.png").exists()


def test_bad_arguments_are_clear_errors_before_any_drawing(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot_history(history([1.0]), tmp_path / "h.jpg")
    with pytest.raises(ValueError, match="no epochs"):
        plot_history(history([]), tmp_path / "h.png")
    model = MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match="2-D"):
        plot_decision_boundary(model, [[0, 0, 0]], [0], tmp_path / "d.png")
    with pytest.raises(ValueError, match="3 points but 2 labels"):
        plot_decision_boundary(model, [[0, 0], [1, 1], [2, 2]], [0, 1], tmp_path / "d.png")
    with pytest.raises(ValueError, match="resolution"):
        plot_decision_boundary(model, [[0, 0]], [0], tmp_path / "d.png", resolution=1)


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_history_from_fit_renders_loss_and_accuracy(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    X, y = nn.data.make_moons(20, seed=1, labels="pm1")
    model = MLP(2, [4, 1], seed=1)
    h = nn.fit(model, X, y, loss="hinge", optimizer="sgd", lr=0.1, epochs=5, verbose=False)
    path = tmp_path / f"history.{suffix}"
    assert plot_history(h, path, title="moons") == str(path)
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    else:
        text = svg_text(path)
        assert "accuracy" in text and "loss" in text and "moons" in text


def test_history_without_accuracy_and_with_non_finite_epochs(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "h.svg"
    plot_history(history([1.0, math.nan, 0.5, math.inf, 0.25]), path)
    text = svg_text(path)
    assert "2 non-finite epochs left out" in text and "accuracy" not in text


def test_svg_output_is_deterministic(tmp_path):
    pytest.importorskip("matplotlib")
    h = history([1.0, 0.4, 0.2], [0.5, 0.75, 1.0])
    plot_history(h, tmp_path / "a.svg")
    plot_history(h, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def _pixel(image, fx: float, fy: float):
    rows, cols = image.shape[0], image.shape[1]
    return image[int(fy * (rows - 1)), int(fx * (cols - 1))][:3]


def test_decision_boundary_shades_each_side_with_its_class_colour(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    # score = x[0]: class +1 right of the line x[0] = 0, class −1 left of it.
    model = MLP(2, [1], activation="linear", output_activation="linear", seed=0)
    model.layers[0].neurons[0].w[0].data, model.layers[0].neurons[0].w[1].data = 1.0, 0.0
    X = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
    y = [-1, -1, 1, 1]
    path = tmp_path / "boundary.png"
    plot_decision_boundary(model, X, y, path, resolution=40)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = imread(str(path))
    left, right = _pixel(image, 0.3, 0.5), _pixel(image, 0.8, 0.5)
    assert left[2] > left[0]  # class −1 (first label): blue
    assert right[0] > right[2]  # class +1: orange


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_multiclass_and_sigmoid_boundaries_render(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    X, y = nn.data.make_blobs(30, centers=3, seed=2)
    path = tmp_path / f"multi.{suffix}"
    plot_decision_boundary(MLP(2, [4, 3], seed=2), X, y, path, resolution=20, title="blobs")
    if suffix == "png":
        assert path.read_bytes().startswith(PNG_SIGNATURE)
    else:
        text = svg_text(path)
        assert "blobs" in text and "class 2" in text
    sigmoid = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=2)
    out = tmp_path / f"sigmoid.{suffix}"
    plot_decision_boundary(sigmoid, X, [v % 2 for v in y], out, resolution=20)
    assert out.stat().st_size > 1000


def test_train_plot_options_write_both_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from deltagrad.cli import main

    curves, boundary = tmp_path / "curves.png", tmp_path / "boundary.svg"
    status = main(["train", "--samples", "30", "--layers", "4", "--epochs", "3", "--quiet",
                   "--plot", str(curves), "--plot-boundary", str(boundary)])
    out = capsys.readouterr().out
    assert status == 0
    assert f"plot:  {curves}" in out and f"plot:  {boundary}" in out
    assert curves.read_bytes().startswith(PNG_SIGNATURE)
    assert "moons, MLP 2-4-1, hinge" in svg_text(boundary)


def test_train_plot_problems_stop_before_training(tmp_path, capsys, monkeypatch):
    from deltagrad.cli import main

    status = main(["train", "--epochs", "1", "--quiet", "--plot", str(tmp_path / "c.jpg")])
    err = capsys.readouterr()
    assert status == 2 and "--plot: can't tell the image format" in err.err and "data:" not in err.out
    status = main(["train", "--epochs", "1", "--quiet", "--plot-boundary", str(tmp_path / "no" / "b.png")])
    assert status == 2 and "does not exist" in capsys.readouterr().err
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends",
                 "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    status = main(["train", "--epochs", "1", "--quiet", "--plot", str(tmp_path / "c.png")])
    captured = capsys.readouterr()
    assert status == 2 and "pip install 'deltagrad[plot]'" in captured.err
    assert captured.err.count("\n") == 1 and "data:" not in captured.out
