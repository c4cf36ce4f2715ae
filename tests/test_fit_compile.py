"""fit(..., compile=True): the same training as eager mode, run as compiled code.

Eager fit is checked against the textbook's formulas in test_nn_train.py; here a compiled
run is checked against the float oracle (nn.manual_backprop) for one step and against the
eager run for whole trainings, with the tolerance fit's docstring promises for each case.
"""

from __future__ import annotations

import array
import math
import re
import warnings

import pytest

import autograd
import nn
import nn.compiled_step
from autograd import Value
from nn.data import make_moons, make_spirals


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def train(compile, X, y, *, sizes, init_seed=1337, activation="relu", lr=1.0, decay=True, **kwargs):
    """An MLP (seeded with ``init_seed``) trained by SGD, lr → lr/10 linearly unless not decay."""
    model = nn.MLP(2, sizes, activation=activation, seed=init_seed)
    opt = nn.SGD(model.parameters(), lr=lr)
    epochs = kwargs.pop("epochs")
    batch = kwargs.get("batch_size") or len(X)
    steps = epochs * -(-len(X) // batch)
    schedule = nn.LinearDecay(opt, lr, lr / 10, steps) if decay else None
    history = nn.fit(model, X, y, optimizer=opt, schedule=schedule, epochs=epochs, verbose=False,
                     compile=compile, **kwargs)
    return history, model.state_dict()


# --- the same numbers as eager mode ------------------------------------------------------

def test_one_compiled_step_matches_manual_backprop():
    """θ ← θ − η·(mean over samples of ∂Err/∂θ + 2·l2·θ), ∂Err/∂θ from the float oracle."""
    X, y = make_moons(n_samples=6, noise=0.1, seed=0, labels="pm1")
    for loss in ("mse", "hinge"):
        model = nn.MLP(2, [3, 2, 1], activation="tanh", seed=4)
        before = dict(model.state_dict())
        grads = dict.fromkeys(before, 0.0)
        for x, t in zip(X, y):
            for name, g in nn.manual_backprop(model, x, t, loss=loss).grads.items():
                grads[name] += g / len(X)
        lr, l2 = 0.3, 0.01
        h = nn.fit(model, X, y, loss=loss, optimizer=nn.SGD(model.parameters(), lr=lr), epochs=1,
                   l2=l2, compile=True, verbose=False)
        assert h.compiled_steps == 1  # mse's targets and hinge's labels are inputs
        for name, theta in model.state_dict().items():
            expected = before[name] - lr * (grads[name] + 2 * l2 * before[name])
            assert theta == pytest.approx(expected, rel=1e-12, abs=1e-15), (loss, name)


def test_micrograds_demo_full_batch_is_eager_bit_for_bit():
    # 100 moons, MLP 2-16-16-1, hinge + 1e-4·Σθ², SGD 1.0 -> 0.1; 15 of the 100 epochs
    X, y = make_moons(n_samples=100, noise=0.1, seed=1337, labels="pm1")
    common = dict(sizes=[16, 16, 1], loss="hinge", l2=1e-4, epochs=15)
    eager, w_eager = train(False, X, y, **common)
    compiled, w_compiled = train(True, X, y, **common)
    assert compiled.loss == eager.loss  # each epoch's loss, to the last bit
    assert compiled.accuracy == eager.accuracy
    assert w_compiled == w_eager
    assert compiled.loss[-1] < 0.5 * compiled.loss[0]  # it trains
    assert compiled.compiled_steps == 1 and compiled.compile_seconds > 0  # the label is an input
    assert eager.compiled_steps == 0 and eager.compile_seconds == 0.0


def test_hinge_mini_batches_match_eager_and_compile_at_most_b_plus_1_steps():
    X, y = make_moons(n_samples=60, noise=0.1, seed=3, labels="pm1")
    common = dict(sizes=[8, 1], loss="hinge", l2=1e-4, lr=0.5, epochs=6, batch_size=10, seed=5)
    eager, w_eager = train(False, X, y, **common)
    compiled, w_compiled = train(True, X, y, **common)
    # one compiled sample (the label an input), replayed in eager's order: the same numbers, bit for bit
    assert compiled.loss == eager.loss and w_compiled == w_eager
    assert compiled.accuracy == eager.accuracy
    assert compiled.compiled_steps == 1  # whatever the mix of labels in each batch


def test_regrouped_batches_keep_predictions_with_their_labels():
    # lr 0: the model stays fixed, so the epoch's accuracy and loss are the untrained model's
    X, y = make_moons(n_samples=40, noise=0.1, seed=2, labels="pm1")
    model = nn.MLP(2, [4, 1], seed=2)
    loss0, acc0 = nn.evaluate(model, X, y, loss="hinge")
    assert 0.0 < acc0 < 1.0
    h = nn.fit(model, X, y, loss="hinge", optimizer=nn.SGD(model.parameters(), lr=0.0), epochs=2,
               batch_size=8, seed=0, compile=True, verbose=False)
    assert h.accuracy == [acc0, acc0]
    assert h.loss == [pytest.approx(loss0, rel=1e-12)] * 2


def test_mse_takes_targets_as_inputs_one_compile_for_every_batch_size():
    X = [[i / 20, (i % 7) / 7] for i in range(40)]
    y = [math.sin(3 * a) + b * b for a, b in X]  # 40 distinct real targets
    common = dict(sizes=[8, 1], activation="tanh", loss="mse", lr=0.2, epochs=8, seed=1)
    for batch_size in (8, 12, None):  # 12, 12, 12, 4: two sizes
        eager, w_eager = train(False, X, y, batch_size=batch_size, **common)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compiled, w_compiled = train(True, X, y, batch_size=batch_size, **common)
        assert compiled.compiled_steps == 1  # the targets are inputs of the one compiled sample
        assert compiled.loss == eager.loss and w_compiled == w_eager  # nothing reordered
        assert compiled.loss[-1] < compiled.loss[0]


def test_mse_with_several_outputs_and_integer_targets():
    X = [[0.1 * i, 1.0 - 0.05 * i] for i in range(12)]
    y = [[i % 2, 2 * (i % 3)] for i in range(12)]  # ints, two per sample
    common = dict(sizes=[5, 2], activation="tanh", loss="mse", lr=0.05, epochs=5, batch_size=4,
                  seed=0, accuracy=lambda pred, label: pred[0] > 0 and label[0] == 1)
    eager, w_eager = train(False, X, y, **common)
    compiled, w_compiled = train(True, X, y, **common)
    assert compiled.loss == eager.loss and w_compiled == w_eager
    assert compiled.accuracy == eager.accuracy
    assert compiled.compiled_steps == 1


def test_cross_entropy_on_spirals_reaches_eagers_accuracy():
    # the recipe of test_nn_train's spirals test (bit for bit: see the mini-batch test below)
    X, y = make_spirals(n_samples=90, n_classes=3, noise=0.2, seed=0)
    results = []
    for compile in (False, True):
        model = nn.MLP(2, [10, 10, 3], activation="tanh", seed=0)
        h = nn.fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=0.1),
                   epochs=60, compile=compile, verbose=False)
        results.append((h, nn.evaluate(model, X, y, loss="cross_entropy")))
    (eager, (err_e, acc_e)), (compiled, (err_c, acc_c)) = results
    assert acc_c == acc_e > 0.9
    assert compiled.accuracy == eager.accuracy
    assert max(map(rel, compiled.loss, eager.loss)) < 1e-9 and rel(err_c, err_e) < 1e-9
    assert compiled.compiled_steps == 3  # one compiled sample per class


def test_cross_entropy_mini_batches_are_eager_bit_for_bit_even_with_huge_logits():
    # the max-logit shift is computed per call, as eager computes it: not frozen at trace time
    X, y = make_spirals(n_samples=60, n_classes=3, noise=0.2, seed=1)
    for scale in (1.0, 500.0):  # 500: logits in the hundreds, e^z would overflow unshifted
        runs = []
        for compile in (False, True):
            model = nn.MLP(2, [6, 3], activation="tanh", seed=2)
            for p in model.layers[-1].parameters():
                p.data *= scale
            h = nn.fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=0.05),
                       epochs=3, batch_size=8, seed=3, compile=compile, verbose=False)
            runs.append((h.loss, model.state_dict(), h.compiled_steps))
        (loss_e, w_e, _), (loss_c, w_c, compiles) = runs
        assert loss_c == loss_e and w_c == w_e, scale
        assert all(math.isfinite(v) for v in loss_c) and compiles == 3
    assert max(loss_c) > 50  # the scaled run really met huge logits


def test_bce_labels_are_inputs_one_compile_bit_for_bit():
    X, y = make_moons(n_samples=30, noise=0.1, seed=6, labels="01")
    common = dict(sizes=[5, 1], loss="bce_with_logits", lr=0.5, epochs=5, batch_size=7, seed=4)
    eager, w_eager = train(False, X, y, **common)
    compiled, w_compiled = train(True, X, y, **common)
    assert compiled.loss == eager.loss and w_compiled == w_eager
    assert compiled.compiled_steps == 1  # label 0 and 1: softplus(±z), the sign an input


def test_bce_mini_batches_with_clip_record_the_same_norms():
    X, y = make_moons(n_samples=24, noise=0.1, seed=1, labels="01")
    common = dict(sizes=[6, 1], loss="bce_with_logits", lr=0.5, decay=False, epochs=4,
                  batch_size=6, seed=2, clip=0.5)
    eager, w_eager = train(False, X, y, **common)
    compiled, w_compiled = train(True, X, y, **common)
    assert len(compiled.grad_norm) == len(compiled.clipped_norm) == 16
    assert max(map(rel, compiled.grad_norm, eager.grad_norm)) < 1e-9
    for before, after in zip(compiled.grad_norm, compiled.clipped_norm):
        assert after == pytest.approx(min(before, 0.5), rel=1e-9)
    assert max(compiled.grad_norm) > 0.5  # clipping happened
    assert max(rel(w_compiled[k], w_eager[k]) for k in w_eager) < 1e-9


def test_health_works_with_compile():
    X, y = make_moons(n_samples=20, noise=0.1, seed=0, labels="pm1")
    common = dict(sizes=[6, 6, 1], loss="hinge", lr=0.3, epochs=3, health=True)
    eager, _ = train(False, X, y, **common)
    compiled, _ = train(True, X, y, **common)
    assert len(compiled.health) == 3 and isinstance(compiled.health[0], nn.HealthReport)
    assert compiled.health == eager.health  # the same weights after every epoch, the same report


def test_samples_as_tuples_ints_and_other_iterables():
    X, y = make_moons(n_samples=12, noise=0.1, seed=0, labels="pm1")
    rows = [tuple(X[0]), [int(10 * X[1][0]), 1]] + [array.array("d", x) for x in X[2:]]
    common = dict(sizes=[3, 1], loss="hinge", lr=0.3, epochs=3)
    eager, w_eager = train(False, rows, y, **common)
    compiled, w_compiled = train(True, rows, y, **common)
    assert compiled.loss == eager.loss and w_compiled == w_eager


# --- errors: the same as eager's, or a clear word about compiling ----------------------------

def test_a_loss_that_cannot_be_traced_says_to_use_compile_false():
    X, y = make_moons(n_samples=8, noise=0.1, seed=0, labels="pm1")

    def soft_sign_loss(preds, targets):  # math.tanh calls float(Value): eager runs it, tracing cannot
        return autograd.sum([(p - math.tanh(p)) * t for p, t in zip(preds, targets)])

    model = nn.MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(TypeError, match=r"cannot trace .* use compile=False") as info:
        nn.fit(model, X, y, loss=soft_sign_loss, epochs=2, compile=True, verbose=False)
    assert isinstance(info.value.__cause__, TypeError)
    assert "float(Value)" in str(info.value) and "float(Value)" in str(info.value.__cause__)
    assert model.state_dict() == before  # no step was taken
    h = nn.fit(model, X, y, loss=soft_sign_loss, epochs=2, verbose=False)  # eager mode trains
    assert h.epochs == 2


@pytest.mark.parametrize("case, exc, text", [
    (dict(y=[0.5] * 8, loss="hinge"), ValueError, "labels must be"),  # raised while tracing
    (dict(y=[0, 1, 1, 0, 2, 1, 0, 1], loss="bce_with_logits"), ValueError, "labels must be 0 or 1"),
    (dict(y=[1e200] * 8, loss="mse", lr=1e200), FloatingPointError, "no weight was changed"),
])
def test_eager_errors_come_out_unchanged(case, exc, text):
    X, _ = make_moons(n_samples=8, noise=0.1, seed=0)
    raised = []
    for compile in (False, True):
        with pytest.raises(exc, match=text) as info:
            nn.fit(nn.MLP(2, [4, 1], seed=0), X, epochs=3, compile=compile, verbose=False, **case)
        raised.append(info.value)
    assert str(raised[1]) == str(raised[0])
    assert raised[1].__cause__ is None and raised[1].__context__ is None  # nothing about compiling


def test_a_domain_error_in_a_compiled_call_is_eagers():
    # minimising Σ log ŷ drives ŷ = x1 + x2 (> 0 at first, when the step is traced) below 0
    X = [[1.0, 2.0], [0.5, 1.5], [2.0, 0.25]]

    def log_loss(preds, targets):
        return autograd.sum([p.log() for p in preds])

    raised = []
    for compile in (False, True):
        model = nn.MLP(2, [1], seed=0)
        for p, v in zip(model.parameters(), (1.0, 1.0, 0.0)):
            p.data = v
        with pytest.raises(ValueError, match=r"^log: input must be > 0, got -\d") as info:
            nn.fit(model, X, [0, 0, 0], loss=log_loss, optimizer=nn.SGD(model.parameters(), lr=2.0),
                   epochs=3, compile=compile, verbose=False)
        raised.append(str(info.value))
        assert model.parameters()[0].data != 1.0  # a step was taken: the error is a later step's
    assert raised[0] == raised[1]


def test_bad_inputs_for_compile():
    X, y = make_moons(n_samples=4, noise=0.1, seed=0, labels="pm1")
    model = nn.MLP(2, [1], seed=0)

    def fit(X=X, y=y, **kwargs):
        kwargs = dict(dict(loss="hinge", epochs=1, compile=True, verbose=False), **kwargs)
        nn.fit(model, X, y, **kwargs)

    with pytest.raises(TypeError, match="compile must be True or False"):
        fit(compile="yes")
    with pytest.raises(TypeError, match=re.escape("X[1][0] must be a number, got Value")):
        fit(X=[X[0], [Value(0.5), 1.0]] + X[2:])
    with pytest.raises(TypeError, match=re.escape("X[2] must be a list of numbers, got str")):
        fit(X=X[:2] + ["ab"] + X[3:])
    with pytest.raises(ValueError, match=re.escape("X[3] has 3 numbers but X[0] has 2")):
        fit(X=X[:3] + [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match=re.escape("targets must be numbers or lists of numbers")):
        fit(y=[{"a": 1}] * 4, loss=lambda p, t: autograd.sum(p))


# --- the cache of compiled steps ------------------------------------------------------------

def test_many_distinct_targets_warn_once():
    X = [[i / 40, 1 - i / 40] for i in range(40)]
    y = [math.cos(i) for i in range(40)]

    def sum_of_squares(preds, targets):  # a custom loss: its targets are written into the code
        return autograd.sum([(p - t) * (p - t) for p, t in zip(preds, targets)])

    model = nn.MLP(2, [2, 1], seed=0)
    with pytest.warns(RuntimeWarning, match=r"16 of the first 16 steps had to compile") as record:
        h = nn.fit(model, X, y, loss=sum_of_squares, epochs=3, batch_size=2, lr=0.01, compile=True,
                   verbose=False)
    assert len(record) == 1 and record[0].filename == __file__
    assert 50 <= h.compiled_steps <= 60  # 60 steps, nearly all new (a pair of targets can recur)


def test_a_custom_losss_least_recently_used_steps_are_dropped(monkeypatch):
    X = [[i / 10, 0.5] for i in range(10)]
    y = [0.1 * i for i in range(10)]

    def sum_of_squares(preds, targets):  # a custom loss: the whole batch is compiled
        return autograd.sum([(p - t) * (p - t) for p, t in zip(preds, targets)])

    common = dict(loss=sum_of_squares, epochs=3, batch_size=10, lr=0.01, compile=True,
                  verbose=False)
    h = nn.fit(nn.MLP(2, [1], seed=0), X, y, **common)
    assert h.compiled_steps == 1  # full batch: one set of targets
    monkeypatch.setattr(nn.compiled_step, "COMPILE_CACHE_SIZE", 1)
    h = nn.fit(nn.MLP(2, [1], seed=0), X, y, **dict(common, batch_size=4, seed=0))
    assert 2 <= h.compiled_steps <= 9  # batches of 4, 4, 2: one slot, so most batches recompile


def test_per_sample_compile_time_does_not_grow_with_the_batch():
    X, y = make_moons(n_samples=400, noise=0.1, seed=0, labels="pm1")
    for n in (10, 400):
        h = nn.fit(nn.MLP(2, [8, 8, 1], seed=0), X[:n], y[:n], loss="hinge", epochs=1,
                   compile=True, verbose=False)
        assert h.compiled_steps == 1  # one sample, whatever the batch


def test_compiled_per_sample_step_matches_finite_differences():
    X, y = make_moons(n_samples=7, noise=0.1, seed=4, labels="01")
    model = nn.MLP(2, [4, 1], activation="tanh", seed=3)
    params = model.parameters()
    opt = nn.SGD(params, lr=0.0)
    step = nn.compiled_step.CompiledStep(model, nn.bce_with_logits, opt, X, y,
                                         lambda xb, yb: None, l2=0.01)
    err, preds = step(step.X, step.y)

    def objective() -> float:
        with autograd.no_grad():
            return (nn.bce_with_logits([model(x) for x in X], y).data
                    + 0.01 * sum(p.data * p.data for p in params))

    assert err == pytest.approx(objective(), rel=1e-13)
    assert preds == [pytest.approx(model(x).data, rel=1e-13) for x in X]
    for p in params:
        old, h = p.data, 1e-6
        p.data = old + h
        up = objective()
        p.data = old - h
        down = objective()
        p.data = old
        assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)
