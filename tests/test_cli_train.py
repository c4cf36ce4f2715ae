"""``deltagrad train`` and ``deltagrad predict``, run in-process through ``deltagrad.cli.main``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

import nn
from deltagrad.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_defaults_train_micrograds_demo_to_100_percent(capsys, tmp_path):
    path = tmp_path / "moons.json"
    status, out, err = run(capsys, "train", "--save", str(path))
    assert status == 0
    assert "moons, 100 samples" in out and "MLP 2-16-16-1" in out
    assert "hinge + 0.0001·Σθ²" in out and "sgd lr 1 -> 0.1" in out and "100 epochs, full batch" in out
    assert "training accuracy 100.0% (100/100)" in out
    assert "epoch 100/100" in err  # progress goes to stderr
    model = nn.load(path)
    assert model.nouts == [16, 16, 1]
    # the saved model separates the data it was trained on, as the CLI reported
    X, y = nn.data.make_moons(100, noise=0.1, seed=1337, labels="pm1")
    assert nn.evaluate(model, X, y, loss="hinge")[1] == 1.0


def test_compile_trains_the_default_demo_to_100_percent(capsys):
    status, out, err = run(capsys, "train", "--compile")
    assert status == 0
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["data", "model", "train", "compile", "final"]
    assert "100 epochs, full batch" in lines[2]
    assert re.fullmatch(r"compile: autograd\.compile made the training step once, in \d+\.\d\d s",
                        lines[3])  # one sample, its label ±1 an input
    assert "training accuracy 100.0% (100/100)" in lines[4]
    assert "epoch 100/100" in err and "warning" not in err


# five classes in batches of 10: almost every batch has a new mix of labels
MANY_MIXES = ["train", "--compile", "--dataset", "spirals", "--classes", "5", "--samples", "50",
              "--layers", "4", "--batch-size", "10", "--epochs", "4"]


def test_compile_of_many_label_mixes_compiles_once_per_class(capsys):
    status, out, err = run(capsys, *MANY_MIXES, "--quiet")
    assert status == 0
    assert re.search(r"^compile: autograd\.compile made the one-sample training step 5 times", out,
                     re.M)
    assert err == ""  # labels are no longer written into a batch's code: nothing to warn about


def test_a_fit_warning_on_a_terminal_replaces_the_progress_line(capsys, monkeypatch):
    import warnings

    import deltagrad.train

    real_fit = deltagrad.train.fit

    def fit(*args, **kwargs):
        warnings.warn("fit(compile=True): something to say", RuntimeWarning, stacklevel=2)
        return real_fit(*args, **kwargs)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    monkeypatch.setattr(deltagrad.train, "fit", fit)
    assert main(MANY_MIXES) == 0
    text = screen.getvalue()
    assert "\r\x1b[Kdeltagrad train: warning: fit(compile=True)" in text
    assert text.endswith("\n") and "epoch 4/4" in text.split("\n")[-2]


def test_save_then_predict_round_trip(capsys, tmp_path):
    path = tmp_path / "m.json"
    assert run(capsys, "train", "--epochs", "3", "--layers", "4", "--quiet", "--save", str(path))[0] == 0
    model = nn.load(path)
    points = [[0.5, 0.2], [-1.0, 0.25]]
    status, out, err = run(capsys, "predict", "--model", str(path), "0.5,0.2", "--", "-1,0.25")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    for line, x in zip(lines, points):
        score = model(x).data
        match = re.search(r"output (\S+)  class ([+-]1)$", line)
        assert float(match.group(1)) == pytest.approx(score, abs=5e-7)
        assert match.group(2) == ("+1" if score > 0 else "-1")


def test_predict_with_several_outputs_prints_the_argmax_class(capsys, tmp_path):
    path = tmp_path / "spirals.json"
    argv = ["train", "--dataset", "spirals", "--samples", "30", "--layers", "6", "--optimizer", "adam",
            "--epochs", "5", "--quiet", "--save", str(path)]
    status, out, _ = run(capsys, *argv)
    assert status == 0 and "cross_entropy" in out and "MLP 2-6-3" in out
    model = nn.load(path)
    logits = [v.data for v in model([0.1, 0.9])]
    status, out, _ = run(capsys, "predict", "--model", str(path), "0.1,0.9")
    assert status == 0
    assert f"class {logits.index(max(logits))} (p=" in out


@pytest.mark.parametrize("argv", [
    ["--dataset", "circles", "--loss", "bce_with_logits", "--optimizer", "adam", "--epochs", "5"],
    ["--dataset", "xor", "--loss", "mse", "--batch-size", "10", "--epochs", "2", "--activation", "tanh"],
    ["--dataset", "blobs", "--classes", "4", "--noise", "0.3", "--epochs", "2", "--init", "he"],
    ["--dataset", "moons", "--loss", "cross_entropy", "--epochs", "2", "--layers", "none", "--l2", "0"],
    ["--dataset", "circles", "--loss", "bce_with_logits", "--epochs", "5", "--batch-size", "8", "--compile"],
    ["--dataset", "xor", "--loss", "mse", "--batch-size", "10", "--epochs", "2", "--compile"],
])
def test_other_recipes_run(capsys, argv):
    status, out, err = run(capsys, "train", "--samples", "40", "--quiet", *argv)
    assert status == 0, err
    assert re.search(r"training accuracy \d+\.\d% \(\d+/40\)", out)
    assert err == ""


@pytest.mark.parametrize("argv, text", [
    (["train", "--samples", "0"], "--samples: expected a positive integer"),
    (["train", "--layers", "16,x"], "--layers: expected hidden layer sizes"),
    (["train", "--dataset", "mnist"], "invalid choice"),
    (["train", "--lr", "-1"], "--lr: expected a finite number >= 0"),
    (["train", "--dataset", "spirals", "--loss", "hinge"], "use --loss cross_entropy"),
    (["train", "--dataset", "blobs", "--classes", "1"], "--classes must be at least 2"),
    (["train", "--save", "/no/such/folder/m.json"], "does not exist"),
    (["predict", "--model", "/no/such/file.json", "1,2"], "No such file"),
    (["predict"], "required"),
    (["train", "--compile", "--lr", "-1"], "--lr: expected a finite number >= 0"),
    (["train", "--compile", "--dataset", "spirals", "--loss", "hinge"], "use --loss cross_entropy"),
    (["train", "--compile=yes"], "ignored explicit argument"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, text):
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's own errors
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2
    assert text in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("content, text", [
    ("", "empty"),
    ('{"format": "deltagrad-mlp", "version": 1, "architec', "not valid JSON"),
    ("hello", "not valid JSON"),
    (json.dumps({"format": "deltagrad-mlp", "version": 99}), "version"),
    ("[" * 100_000, "nested too deeply"),
])
def test_predict_with_bad_model_files(capsys, tmp_path, content, text):
    path = tmp_path / "bad.json"
    path.write_text(content)
    status, out, err = run(capsys, "predict", "--model", str(path), "1,2")
    assert status == 2 and out == ""
    assert text in err and str(path) in err and err.count("\n") == 1


def test_save_to_a_folder_is_refused_before_training(capsys, tmp_path):
    status, out, err = run(capsys, "train", "--save", str(tmp_path))
    assert status == 2 and out == "" and "that is a folder" in err


def test_points_may_start_with_a_minus_sign(capsys, tmp_path):
    path = tmp_path / "m.json"
    assert run(capsys, "train", "--epochs", "2", "--quiet", "--save", str(path))[0] == 0
    status, out, err = run(capsys, "predict", "--model", str(path), "-0.8,0.5", "-1e-3,2")
    assert status == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == ["-0.8,0.5", "-1e-3,2"]


def test_training_that_diverges_ends_in_one_line(capsys):
    status, out, err = run(capsys, "train", "--lr", "1e300", "--epochs", "3", "--quiet")
    assert status == 2
    assert "SGD.step()" in err and "final:" not in out  # no claim that training finished
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("point, text", [
    ("1,2,3", "has 3 numbers but the model takes 2 inputs"),
    ("a,b", "not comma-separated numbers"),
    ("1,nan", "finite"),
])
def test_predict_with_bad_points(capsys, tmp_path, point, text):
    path = tmp_path / "m.json"
    nn.MLP(2, [1], seed=0).save(path)
    status, _, err = run(capsys, "predict", "--model", str(path), point)
    assert status == 2 and text in err and err.count("\n") == 1


def test_python_dash_m_deltagrad_train(tmp_path):
    result = subprocess.run([sys.executable, "-m", "deltagrad", "train", "--epochs", "2", "--samples", "20",
                             "--layers", "4"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "training accuracy" in result.stdout
    assert "epoch 2/2" in result.stderr and "\r" not in result.stderr  # a pipe: plain lines
