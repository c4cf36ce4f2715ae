"""fit when the loss stops being a number: where, why (data or learning rate), and the
on_nonfinite option; progress that cannot be written never stops training; the model
file keeps the loss it was trained with."""

from __future__ import annotations

import io
import json
import math
import warnings

import pytest

import nn
from nn.train import TrainingDiverged, _Progress


def xor():
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    return X, [-1.0, 1.0, 1.0, -1.0]


def test_a_learning_rate_too_high_is_named_with_the_epoch():
    X, y = xor()
    model = nn.MLP(2, [8, 1], seed=0)
    with pytest.raises(TrainingDiverged) as info:
        nn.fit(model, X, y, loss="mse", lr=5.0, epochs=200, verbose=False)
    e = info.value
    assert e.cause == "lr" and e.epoch > 1 and not math.isfinite(e.loss)
    assert f"in epoch {e.epoch}" in str(e) and "learning rate (5) is probably too high" in str(e)
    assert "(mse)" in str(e)
    assert e.history.epochs == e.epoch - 1  # the epochs finished before it
    assert all(math.isfinite(p.data) for p in model.parameters())  # not updated on the inf loss
    assert isinstance(e, FloatingPointError)


@pytest.mark.parametrize("where", ["target", "input"])
def test_non_finite_data_is_named_as_the_data_not_the_learning_rate(where):
    X, y = xor()
    if where == "target":
        y[2] = math.nan
    else:
        X[3] = [1.0, math.inf]
    with pytest.raises(TrainingDiverged) as info:
        nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", lr=0.01, epochs=3, verbose=False)
    e = info.value
    assert e.cause == "data" and e.epoch == 1
    assert ("y[2] = nan" if where == "target" else "X[3][1] = inf") in str(e)
    assert "a smaller learning rate will not help" in str(e)


def test_a_loss_infinite_before_any_update_blames_the_scale_of_the_data():
    X, y = xor()
    with pytest.raises(TrainingDiverged) as info:
        nn.fit(nn.MLP(2, [4, 1], seed=0), [[1e160 * v for v in x] for x in X], y, loss="mse",
               lr=1e-9, epochs=3, verbose=False)
    assert info.value.cause == "start" and "before any update" in str(info.value)


def test_mini_batches_name_the_batch():
    X, y = xor()
    y[3] = math.nan
    with pytest.raises(TrainingDiverged, match=r"in epoch 1, batch \d"):
        nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", batch_size=1, epochs=2, verbose=False)


def test_compiled_training_stops_too():
    X, y = xor()
    y[0] = math.nan
    with pytest.raises(TrainingDiverged, match="y.0. = nan"):
        nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", epochs=2, compile=True, verbose=False)


def test_on_nonfinite_warn_says_it_once_and_goes_on_and_ignore_is_silent():
    X, y = xor()
    y[1] = math.nan
    with pytest.warns(RuntimeWarning, match="y.1. = nan") as record:
        history = nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", epochs=4, verbose=False,
                         on_nonfinite="warn")
    assert len(record) == 1 and history.epochs == 4 and math.isnan(history.loss[-1])
    assert "skipping the update" in str(record[0].message) and history.skipped_steps == 4
    # mini-batches: only the batch holding the NaN target is skipped, the others train
    model = nn.MLP(2, [4, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.warns(RuntimeWarning):
        history = nn.fit(model, X, y, loss="mse", epochs=3, batch_size=1, seed=0, verbose=False,
                         on_nonfinite="warn")
    assert history.skipped_steps == 3 and [p.data for p in model.parameters()] != before
    assert all(math.isfinite(p.data) for p in model.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", epochs=2, verbose=False,
                         on_nonfinite="ignore")
    assert history.epochs == 2 and history.skipped_steps == 2


@pytest.mark.parametrize("bad", ["stop", "", None, True])
def test_on_nonfinite_must_be_one_of_its_names(bad):
    X, y = xor()
    with pytest.raises(ValueError, match="on_nonfinite must be one of 'raise', 'warn', 'ignore'"):
        nn.fit(nn.MLP(2, [1], seed=0), X, y, epochs=1, verbose=False, on_nonfinite=bad)


class Broken(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("stream", [None, Broken(), "closed"])
def test_progress_that_cannot_be_written_never_stops_training(monkeypatch, stream):
    if stream == "closed":
        stream = io.StringIO()
        stream.close()
    monkeypatch.setattr("sys.stderr", stream)
    X, y = xor()
    history = nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss="mse", epochs=20, verbose=True)
    assert history.epochs == 20


def test_progress_stops_showing_after_the_first_failed_write():
    stream = Broken()
    progress = _Progress(10, stream)
    progress.update(1, 0.5, None, 0.0)
    assert progress.stream is None
    progress.update(10, 0.5, None, 1.0)  # nothing raised


# --- the loss saved with the model -------------------------------------------------------

def test_save_with_loss_round_trips_and_old_files_have_none(tmp_path):
    model = nn.MLP(2, [3, 1], seed=0)
    path = tmp_path / "m.json"
    model.save(path, loss="bce_with_logits")
    document = json.loads(path.read_text())
    assert document["loss"] == "bce_with_logits" and document["version"] == 1  # same format version
    loaded, loss = nn.io.load_with_loss(path)
    assert loss == "bce_with_logits" and loaded.state_dict() == model.state_dict()
    model.save(path, loss=nn.hinge)  # the function, as fit takes it
    assert nn.io.load_with_loss(path)[1] == "hinge"
    model.save(path)
    assert "loss" not in json.loads(path.read_text()) and nn.io.load_with_loss(path)[1] is None
    assert nn.load(path).state_dict() == model.state_dict()


def test_a_bad_loss_is_refused_when_saving_and_when_loading(tmp_path):
    model = nn.MLP(2, [1], seed=0)
    path = tmp_path / "m.json"
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        model.save(path, loss="nope")
    with pytest.raises(ValueError, match="loss must be one of"):
        model.save(path, loss=lambda p, t: p[0])
    assert not path.exists()
    model.save(path)
    document = json.loads(path.read_text())
    for bad in ("nope", 3, ["mse"]):
        document["loss"] = bad
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match=f"{path}: the loss saved with the model is"):
            nn.load(path)
