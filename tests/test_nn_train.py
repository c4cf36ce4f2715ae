"""fit and evaluate: one step against the textbook's formulas, batching, progress, training runs."""

from __future__ import annotations

import io
import random
import re

import pytest

import nn
from autograd import Value
from nn.data import make_moons, make_spirals, make_xor
from nn.train import History


def small_problem(n=6, seed=0):
    X, y = make_moons(n_samples=n, noise=0.1, seed=seed, labels="pm1")
    return X, [float(t) for t in y]


def test_one_full_batch_step_matches_manual_backprop():
    """θ ← θ − η·(mean over samples of ∂Err/∂θ + 2·l2·θ), with ∂Err/∂θ from the float oracle."""
    X, y = small_problem()
    model = nn.MLP(2, [3, 2, 1], activation="tanh", seed=4)
    before = dict(model.state_dict())
    grads = {name: 0.0 for name in before}
    for x, t in zip(X, y):
        for name, g in nn.manual_backprop(model, x, t, loss="mse").grads.items():
            grads[name] += g / len(X)
    lr, l2 = 0.3, 0.01
    nn.fit(model, X, y, loss="mse", optimizer=nn.SGD(model.parameters(), lr=lr), epochs=1,
           l2=l2, verbose=False)
    for name, theta in model.state_dict().items():
        expected = before[name] - lr * (grads[name] + 2 * l2 * before[name])
        assert theta == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def test_history_records_loss_accuracy_and_lr_per_epoch():
    X, y = small_problem(20)
    y = [int(t) for t in y]
    model = nn.MLP(2, [8, 1], seed=1)
    opt = nn.SGD(model.parameters(), lr=0.2)
    sched = nn.LinearDecay(opt, 0.2, 0.02, 10)
    history = nn.fit(model, X, y, loss="hinge", optimizer=opt, schedule=sched, epochs=12, verbose=False)
    assert isinstance(history, History) and history.epochs == 12
    assert len(history.loss) == len(history.accuracy) == len(history.lr) == 12
    assert history.lr[:3] == pytest.approx([0.2, 0.2 - 0.018, 0.2 - 0.036])
    assert history.lr[-1] == 0.02
    assert all(0.0 <= a <= 1.0 for a in history.accuracy)
    assert history.loss[-1] < history.loss[0]
    assert history.grad_norm == [] and history.seconds > 0
    assert "12 epochs" in repr(history)


def test_history_accuracy_is_of_the_predictions_made_in_the_epoch():
    # one epoch, lr 0: the recorded accuracy is the untrained model's, which evaluate agrees with
    X, y = small_problem(30)
    y = [int(t) for t in y]
    model = nn.MLP(2, [4, 1], seed=2)
    loss0, acc0 = nn.evaluate(model, X, y, loss="hinge")
    history = nn.fit(model, X, y, loss="hinge", optimizer=nn.SGD(model.parameters(), lr=0.0),
                     epochs=1, verbose=False)
    assert history.accuracy == [acc0]
    assert history.loss == [pytest.approx(loss0, rel=1e-12)]


def test_mse_has_no_accuracy_unless_asked():
    X, y = small_problem()
    model = nn.MLP(2, [2, 1], seed=0)
    h = nn.fit(model, X, y, loss="mse", optimizer="sgd", epochs=2, verbose=False)
    assert h.accuracy == [None, None]
    h = nn.fit(model, X, y, loss="mse", optimizer="sgd", epochs=1, accuracy="sign", verbose=False)
    assert h.accuracy[0] is not None
    _, acc = nn.evaluate(model, X, y, loss="mse", accuracy=lambda pred, label: True)
    assert acc == 1.0


def test_evaluate_builds_no_graph_and_counts_right_answers():
    model = nn.MLP(2, [1], seed=0)
    w = model.parameters()
    w[0].data, w[1].data, w[2].data = 1.0, 0.0, 0.0  # score = x1
    X = [[1.0, 0.0], [-2.0, 5.0], [3.0, 1.0], [-0.5, 0.0]]
    y = [1, 1, -1, -1]  # right, wrong, wrong, right
    err, acc = nn.evaluate(model, X, y, loss="hinge")
    assert acc == 0.5
    # hinge terms max(0, 1 − y·s): 1 − 1 = 0, 1 + 2 = 3, 1 + 3 = 4, 1 − 0.5 = 0.5
    assert err == pytest.approx((0.0 + 3.0 + 4.0 + 0.5) / 4)
    assert all(p.grad == 0.0 for p in w)


def test_evaluate_checks_its_samples_like_fit():
    model = nn.MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match=re.escape("evaluate: X has 2 samples but y has 1")):
        nn.evaluate(model, [[0.0, 1.0], [1.0, 0.0]], [1], loss="hinge")
    with pytest.raises(ValueError, match=re.escape("evaluate: X is empty; there is nothing to evaluate")):
        nn.evaluate(model, [], [], loss="hinge")


def test_mini_batches_step_per_batch_and_shuffle_with_the_seed():
    X, y = small_problem(10)
    y = [int(t) for t in y]

    def run(seed):
        model = nn.MLP(2, [4, 1], seed=0)
        opt = nn.SGD(model.parameters(), lr=0.1)
        nn.fit(model, X, y, loss="hinge", optimizer=opt, epochs=3, batch_size=4, seed=seed,
               verbose=False)
        return opt.steps, model.state_dict()

    steps, a = run(7)
    assert steps == 3 * 3  # batches of 4, 4, 2
    assert run(7)[1] == a
    assert run(8)[1] != a
    model = nn.MLP(2, [4, 1], seed=0)
    opt = nn.SGD(model.parameters(), lr=0.1)
    nn.fit(model, X, y, loss="hinge", optimizer=opt, epochs=3, batch_size=50, verbose=False)
    assert opt.steps == 3  # a batch larger than the data is the full batch


def test_mini_batch_epoch_loss_is_the_sample_weighted_mean():
    # lr 0 keeps the model fixed, so each batch's mean loss averages to the full-data loss
    X, y = small_problem(10)
    model = nn.MLP(2, [3, 1], seed=3)
    full, _ = nn.evaluate(model, X, y, loss="mse")
    h = nn.fit(model, X, y, loss="mse", optimizer=nn.SGD(model.parameters(), lr=0.0),
               epochs=1, batch_size=3, seed=0, verbose=False)
    assert h.loss[0] == pytest.approx(full, rel=1e-12)


def test_clip_records_norms_before_and_after():
    X, y = small_problem(8)
    model = nn.MLP(2, [4, 1], seed=0)
    h = nn.fit(model, X, y, loss="mse", optimizer=nn.SGD(model.parameters(), lr=0.01),
               epochs=4, batch_size=4, clip=0.5, verbose=False)
    assert len(h.grad_norm) == len(h.clipped_norm) == 8
    for before, after in zip(h.grad_norm, h.clipped_norm):
        assert after == pytest.approx(min(before, 0.5), rel=1e-9)
    assert max(h.grad_norm) > 0.5  # the test exercises clipping


def test_adam_by_name_with_lr():
    X, y = small_problem(8)
    model = nn.MLP(2, [4, 1], seed=0)
    h = nn.fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, epochs=30, verbose=False)
    assert h.loss[-1] < h.loss[0]


def test_custom_loss_function():
    X, y = small_problem(4)
    model = nn.MLP(2, [1], seed=0)

    def l1(preds, targets):
        return nn.losses.mse(preds, targets, reduction="sum")

    h = nn.fit(model, X, y, loss=l1, optimizer="sgd", epochs=1, verbose=False)
    assert h.accuracy == [None]


# --- progress display ------------------------------------------------------------------

LINE = re.compile(r"^epoch +(\d+)/(\d+)  loss \d+\.\d{6}  accuracy +\d+\.\d%  \d+\.\ds$")


def test_progress_without_a_terminal_prints_every_tenth_and_the_last(capsys):
    X, y = small_problem(6)
    y = [int(t) for t in y]
    model = nn.MLP(2, [2, 1], seed=0)
    nn.fit(model, X, y, loss="hinge", optimizer="sgd", epochs=25, verbose=True)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert [int(LINE.match(line).group(1)) for line in lines] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                                                  22, 24, 25]
    assert "\r" not in err


def test_progress_on_a_terminal_is_one_updating_line(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    X, y = small_problem(6)
    model = nn.MLP(2, [2, 1], seed=0)
    nn.fit(model, X, y, loss="mse", optimizer="sgd", epochs=30, verbose=True)
    text = screen.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "epoch 30/30" in text.split("\r")[-1] and "accuracy" not in text


def test_verbose_false_is_silent(capsys):
    X, y = small_problem(4)
    nn.fit(nn.MLP(2, [1], seed=0), X, y, loss="mse", optimizer="sgd", epochs=3, verbose=False)
    assert capsys.readouterr() == ("", "")


# --- argument checks ----------------------------------------------------------------

def test_bad_arguments():
    X, y = small_problem(4)
    model = nn.MLP(2, [1], seed=0)
    opt = nn.SGD(model.parameters(), lr=0.1)
    other = nn.SGD(model.parameters(), lr=0.1)
    cases = [
        (dict(X=X, y=y[:3]), ValueError, "4 samples but y has 3"),
        (dict(X=[], y=[]), ValueError, "empty"),
        (dict(epochs=0), ValueError, "epochs must be a positive integer"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(loss="l1"), ValueError, "unknown loss 'l1'"),
        (dict(loss=3), TypeError, "loss must be"),
        (dict(optimizer="rmsprop"), ValueError, "optimizer must be"),
        (dict(optimizer=opt, lr=0.1), ValueError, "give lr to the optimiser"),
        (dict(optimizer=opt, schedule=nn.StepDecay(other, 5)), ValueError, "different optimiser"),
        (dict(schedule="linear"), TypeError, "schedule must be"),
        (dict(clip=-1.0), ValueError, "clip"),
        (dict(l2=-1e-4), ValueError, "l2"),
        (dict(accuracy="top5"), ValueError, "accuracy must be"),
    ]
    for overrides, exc, text in cases:
        kwargs = dict(X=X, y=y, loss="mse", optimizer="sgd", epochs=1, verbose=False)
        kwargs.update(overrides)
        with pytest.raises(exc, match=re.escape(text)):
            nn.fit(model, kwargs.pop("X"), kwargs.pop("y"), **kwargs)
    with pytest.raises(ValueError, match="labels must be"):
        nn.fit(model, X, [0.5] * 4, loss="hinge", optimizer="sgd", epochs=1, verbose=False)


def test_a_diverging_run_stops_with_the_parameter_named():
    X, y = small_problem(4)
    model = nn.MLP(2, [8, 8, 1], seed=0)
    with pytest.raises(FloatingPointError, match="no weight was changed"):
        nn.fit(model, X, [1e200 * t for t in y], loss="mse", optimizer="sgd", lr=1e200,
               epochs=5, verbose=False)


# --- training runs that must succeed ---------------------------------------------------

def test_adam_trains_xor_with_tanh_to_100_percent():
    X, y = make_xor(n_samples=40, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], activation="tanh", seed=0)
    history = nn.fit(model, X, y, loss="bce_with_logits", optimizer=nn.Adam(model.parameters(), lr=0.05),
                     epochs=60, verbose=False)
    assert nn.evaluate(model, X, y, loss="bce_with_logits")[1] == 1.0
    assert history.accuracy[-1] == 1.0


def test_cross_entropy_on_three_spirals_beats_90_percent():
    X, y = make_spirals(n_samples=90, n_classes=3, noise=0.2, seed=0)
    model = nn.MLP(2, [10, 10, 3], activation="tanh", seed=0)
    nn.fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=0.1),
           epochs=60, verbose=False)
    _, acc = nn.evaluate(model, X, y, loss="cross_entropy")
    assert acc > 0.9


def test_fit_accepts_value_inputs_and_tuples():
    X = [(Value(0.5), Value(-0.5)), (1.0, 2.0)]
    model = nn.MLP(2, [1], seed=0)
    h = nn.fit(model, X, (1.0, -1.0), loss="mse", optimizer="sgd", epochs=2, verbose=False)
    assert h.epochs == 2


def test_fit_leaves_the_global_random_state_alone():
    X, y = small_problem(8)
    random.seed(5)
    state = random.getstate()
    nn.fit(nn.MLP(2, [2, 1], seed=0), X, y, loss="mse", optimizer="sgd", epochs=2, batch_size=3,
           verbose=False)
    assert random.getstate() == state
