"""The handwritten digits: the shipped copy against the UCI description, nothing downloaded,
and ``deltagrad train --dataset digits`` / ``predict`` end to end."""

from __future__ import annotations

import re
import socket
from collections import Counter

import pytest

import nn
from deltagrad.cli import main
from nn.data import load_digits, train_test_split

# Per-class counts of the UCI test set (optdigits.tes), as the data set's description lists them.
UCI_COUNTS = {0: 178, 1: 182, 2: 177, 3: 183, 4: 181, 5: 182, 6: 181, 7: 179, 8: 174, 9: 180}
# The first image (a 0) as raw counts 0..16, row by row.
FIRST_IMAGE = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
               0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
               0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_digits_match_the_uci_description():
    X, y = load_digits()
    assert len(X) == len(y) == 1797
    assert all(len(x) == 64 for x in X)
    assert Counter(y) == UCI_COUNTS
    # pixels are counts 0..16 divided by 16: in 0..1, each a multiple of 1/16
    assert all(0.0 <= v <= 1.0 and (16 * v).is_integer() for x in X for v in x)
    assert max(max(x) for x in X) == 1.0
    assert X[0] == [v / 16 for v in FIRST_IMAGE] and y[0] == 0


def test_loading_the_digits_needs_no_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_digits opened a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert len(load_digits()[0]) == 1797


def test_train_digits_reaches_95_percent_and_predict_classifies_a_digit(capsys, tmp_path):
    path = tmp_path / "digits.json"
    status, out, err = run(capsys, "train", "--dataset", "digits", "--quiet", "--save", str(path))
    assert status == 0, err
    assert "1437 samples, 64 features, 10 classes; 360 held out" in out
    assert "MLP 64-32-10 (relu hidden, linear output, he init, 2410 parameters)" in out
    assert "cross_entropy" in out and "adam lr 0.03" in out and "batches of 32" in out
    match = re.search(r"test accuracy (\d+\.\d)% \((\d+)/360\), (\d+\.\d) s$", out, re.M)
    assert match and float(match.group(1)) >= 95.0
    # the reported figure is the saved model's accuracy on the split the seed gives
    model = nn.load(path)
    X, y = load_digits()
    _, X_test, _, y_test = train_test_split(X, y, test_size=360, seed=1337)
    right = sum(1 for x, c in zip(X_test, y_test) if _argmax(model(x)) == c)
    assert right == int(match.group(2))
    # predict: one digit from its 64 numbers
    x = X_test[0]
    status, out, err = run(capsys, "predict", "--model", str(path), ",".join(f"{v:g}" for v in x))
    assert status == 0, err
    assert f"class {_argmax(model(x))} (p=" in out and out.count("\n") == 1
    assert out.startswith(",".join(f"{v:g}" for v in x)[:37] + "...")


def _argmax(logits):
    values = [v.data for v in logits]
    return values.index(max(values))


@pytest.mark.parametrize("argv, text", [
    (["--samples", "50"], "--samples is for the generated data sets"),
    (["--classes", "4"], "--classes is for the generated data sets"),
    (["--plot-boundary", "b.svg"], "--plot-boundary draws 2-D data, but digits has 64 features"),
    (["--loss", "hinge"], "needs two classes but digits has 10"),
    (["--test-fraction", "1"], "--test-fraction: expected a fraction"),
])
def test_digits_refuse_what_does_not_apply(capsys, argv, text):
    if "--plot-boundary" in argv:  # checked after the plot options, which need matplotlib
        pytest.importorskip("matplotlib", reason="--plot-boundary needs matplotlib (no PyPy wheel)")
    try:
        status = main(["train", "--dataset", "digits", *argv])
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2 and text in err and err.count("\n") == 1
    assert "final:" not in out


def test_predict_names_a_point_with_the_wrong_count_for_a_digits_model(capsys, tmp_path):
    path = tmp_path / "m.json"
    nn.MLP(64, [32, 10], seed=0).save(path)
    status, _, err = run(capsys, "predict", "--model", str(path), ",".join(["0"] * 63))
    assert status == 2 and "has 63 numbers but the model takes 64 inputs" in err
