"""Losses against their formulas (hand-computed), both reductions, extreme logits, bad input."""

from __future__ import annotations

import math

import pytest

import autograd
import nn
from autograd import Value


def values(*xs):
    return [Value(x) for x in xs]


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


# --- mse -----------------------------------------------------------------------------

def test_mse_sum_is_the_textbook_err():
    preds = values(1.5, -0.5, 2.0)
    err = nn.mse(preds, [1.0, 0.5, 2.0], reduction="sum")
    assert err.data == 0.25 + 1.0 + 0.0
    err.backward()
    # ∂Err/∂ŷ_i = −2(y_i − ŷ_i)
    assert [p.grad for p in preds] == [1.0, -2.0, 0.0]


def test_mse_mean_divides_by_the_number_of_samples():
    preds = values(1.5, -0.5)
    err = nn.mse(preds, [1.0, 0.5])  # mean is the default
    assert err.data == pytest.approx(1.25 / 2, rel=1e-15)
    err.backward()
    assert [p.grad for p in preds] == pytest.approx([0.5, -1.0], rel=1e-15)


def test_mse_several_outputs_sums_over_outputs_and_averages_over_samples():
    preds = [values(1.0, 2.0), values(0.0, -1.0)]
    targets = [[0.0, 2.5], [1.0, 1.0]]
    per_sample = [1.0 + 0.25, 1.0 + 4.0]
    assert nn.mse(preds, targets, reduction="sum").data == pytest.approx(sum(per_sample), rel=1e-15)
    err = nn.mse(preds, targets)
    assert err.data == pytest.approx(sum(per_sample) / 2, rel=1e-15)
    err.backward()
    assert preds[1][1].grad == pytest.approx(-2.0 * (1.0 - -1.0) / 2, rel=1e-15)


def test_mse_accepts_plain_numbers_and_value_targets():
    assert nn.mse([3.0], [1]).data == 4.0
    target = Value(1.0)
    pred = Value(3.0)
    nn.mse([pred], [target], reduction="sum").backward()
    assert (pred.grad, target.grad) == (4.0, -4.0)


# --- hinge ---------------------------------------------------------------------------

def test_hinge_by_hand():
    scores = values(0.3, -2.0, 0.5, 1.0)
    labels = [1, -1, -1, 1]
    terms = [max(0.0, 1 - y * s) for y, s in zip(labels, [0.3, -2.0, 0.5, 1.0])]
    assert terms == pytest.approx([0.7, 0.0, 1.5, 0.0])
    err = nn.hinge(scores, labels, reduction="sum")
    assert err.data == pytest.approx(sum(terms), rel=1e-15)
    err.backward()
    # ∂/∂s = −y where the margin 1 − y·s is positive, else 0 (also exactly at the hinge)
    assert [s.grad for s in scores] == [-1.0, 0.0, 1.0, 0.0]
    assert nn.hinge(values(0.3, -2.0, 0.5, 1.0), labels).data == pytest.approx(sum(terms) / 4, rel=1e-15)


def test_hinge_accepts_float_labels():
    assert nn.hinge([0.0, 0.0], [1.0, -1.0]).data == 1.0


# --- bce_with_logits -----------------------------------------------------------------

def test_bce_with_logits_by_hand():
    zs = values(0.5, -1.0, 2.0)
    ys = [1, 0, 0]
    expected = [-(y * math.log(sigmoid(z)) + (1 - y) * math.log(1 - sigmoid(z)))
                for z, y in zip([0.5, -1.0, 2.0], ys)]
    err = nn.bce_with_logits(zs, ys, reduction="sum")
    assert err.data == pytest.approx(sum(expected), rel=1e-14)
    err.backward()
    assert [z.grad for z in zs] == pytest.approx([sigmoid(z) - y for z, y in zip([0.5, -1.0, 2.0], ys)],
                                                rel=1e-14)
    mean = nn.bce_with_logits(values(0.5, -1.0, 2.0), ys)
    assert mean.data == pytest.approx(sum(expected) / 3, rel=1e-14)


@pytest.mark.parametrize("y", [0, 1])
def test_bce_with_logits_gradient_at_a_zero_logit_is_sigma_minus_y(y):
    # z = 0 is where zero biases and symmetric inputs put a fresh network: the loss is
    # smooth there, so ∂err/∂z = σ(0) − y = 0.5 − y, not a kink's 0
    z = Value(0.0)
    loss = nn.bce_with_logits([z], [y])
    loss.backward()
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)
    assert z.grad == 0.5 - y


@pytest.mark.parametrize("z, y, err, grad", [
    (1000.0, 0, 1000.0, 1.0), (1000.0, 1, 0.0, 0.0),
    (-1000.0, 1, 1000.0, -1.0), (-1000.0, 0, 0.0, 0.0),
    (40.0, 1, math.exp(-40.0), -math.exp(-40.0)),
])
def test_bce_with_logits_is_stable_for_huge_logits(z, y, err, grad):
    # the exact values: err = softplus(±z) = relu(±z) + log(1 + e^−|z|), ∂err/∂z = σ(z) − y
    logit = Value(z)
    loss = nn.bce_with_logits([logit], [y])
    loss.backward()
    assert math.isfinite(loss.data) and math.isfinite(logit.grad)
    assert loss.data == pytest.approx(err, rel=1e-12, abs=1e-15)
    assert logit.grad == pytest.approx(grad, rel=1e-12, abs=1e-15)


# --- cross_entropy -------------------------------------------------------------------

def test_cross_entropy_by_hand():
    logits = [values(1.0, 2.0, 0.5), values(-1.0, 0.0, 3.0)]
    labels = [1, 0]
    expected, softmaxes = [], []
    for zs, c in zip([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]], labels):
        total = sum(math.exp(z) for z in zs)
        softmaxes.append([math.exp(z) / total for z in zs])
        expected.append(-math.log(math.exp(zs[c]) / total))
    err = nn.cross_entropy(logits, labels, reduction="sum")
    assert err.data == pytest.approx(sum(expected), rel=1e-14)
    err.backward()
    for zs, sm, c in zip(logits, softmaxes, labels):
        assert [z.grad for z in zs] == pytest.approx([p - (k == c) for k, p in enumerate(sm)], rel=1e-13)
    mean = nn.cross_entropy([values(1.0, 2.0, 0.5), values(-1.0, 0.0, 3.0)], labels)
    assert mean.data == pytest.approx(sum(expected) / 2, rel=1e-14)


@pytest.mark.parametrize("label, err", [(0, 0.0), (1, 2000.0), (2, 1000.0)])
def test_cross_entropy_is_stable_for_huge_logits(label, err):
    zs = values(1000.0, -1000.0, 0.0)
    loss = nn.cross_entropy([zs], [label])
    loss.backward()
    assert loss.data == pytest.approx(err, abs=1e-12)
    # softmax is (1, 0, 0) to double precision: gradient = softmax − one-hot
    assert [z.grad for z in zs] == pytest.approx([1.0 - (label == 0), -(label == 1), -(label == 2)],
                                                 abs=1e-300)


def test_cross_entropy_accepts_integral_float_labels_and_one_class():
    assert nn.cross_entropy([[0.0, 0.0]], [1.0]).data == pytest.approx(math.log(2), rel=1e-15)
    assert nn.cross_entropy([[5.0]], [0]).data == 0.0


# --- the loss node -------------------------------------------------------------------

@pytest.mark.parametrize("loss, preds, targets", [
    (nn.mse, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]), (nn.hinge, [1.0, 2.0, 3.0], [1, -1, 1]),
    (nn.bce_with_logits, [1.0, 2.0, 3.0], [1, 0, 1]), (nn.cross_entropy, [[1.0, 2.0]] * 3, [0, 1, 0])])
def test_one_fused_sum_node_labelled_err(loss, preds, targets):
    total = loss(preds, targets, reduction="sum")
    assert total.op == "sum" and len(total.parents) == 3
    assert total.label == "Err" and total.tag == ("loss",)
    mean = loss(preds, targets, reduction="mean")
    assert mean.label == "Err" and mean.tag == ("loss",)
    assert mean.data == pytest.approx(total.data / 3, rel=1e-15)


@pytest.mark.parametrize("loss, make_inputs, target", [
    (nn.mse, lambda: values(0.3, -1.2), [1.0, -0.5]),
    (nn.mse, lambda: [values(0.3, -1.2), values(2.0, 0.1)], [[1.0, -0.5], [0.0, 0.0]]),
    (nn.hinge, lambda: values(0.3, -1.2, 0.4), [1, 1, -1]),
    (nn.bce_with_logits, lambda: values(0.3, -1.2, 4.0), [1, 0, 0]),
    (nn.cross_entropy, lambda: [values(0.3, -1.2, 0.8), values(2.0, 0.1, -3.0)], [2, 0]),
])
def test_gradients_match_finite_differences(loss, make_inputs, target):
    preds = make_inputs()
    flat = [v for p in preds for v in (p if isinstance(p, list) else [p])]

    def f(*_):
        return loss(preds, target)

    assert autograd.gradcheck(f, *flat, atol=1e-7, rtol=1e-6)


# --- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, message", [
    (lambda: nn.mse([1.0, 2.0], [1.0]), ValueError, "2 predictions but 1 targets"),
    (lambda: nn.hinge([1.0], [1, -1]), ValueError, "1 predictions but 2 targets"),
    (lambda: nn.mse([], []), ValueError, "at least one sample"),
    (lambda: nn.mse([1.0], [1.0], reduction="avg"), ValueError,
     "unknown reduction 'avg'; choose 'mean' or 'sum'"),
    (lambda: nn.cross_entropy([[1.0]], [0], reduction=None), ValueError, "unknown reduction"),
    (lambda: nn.mse(Value(1.0), [1.0]), TypeError, r"one entry per sample.*wrap it: \[prediction\]"),
    (lambda: nn.mse([1.0], 1.0), TypeError, "targets must be a list"),
    (lambda: nn.mse(5, 5), TypeError, "predictions must be a list"),
    (lambda: nn.mse(["a"], [1.0]), TypeError, "prediction 0 must be a Value or a number"),
    (lambda: nn.mse([1.0], ["a"]), TypeError, "target 0 must be a number"),
    (lambda: nn.mse([[1.0, 2.0]], [1.0]), ValueError,
     "sample 0 has 2 predictions, so its target must be a list"),
    (lambda: nn.mse([[1.0, 2.0]], [[1.0]]), ValueError, "sample 0 has 2 predictions but 1 targets"),
    (lambda: nn.mse([1.0], [[1.0, 2.0]]), ValueError, "one prediction but a list of 2 targets"),
    (lambda: nn.hinge([1.0, 2.0], [1, 0]), ValueError, r"labels must be \+1 or -1, got 0 for sample 1"),
    (lambda: nn.hinge([1.0], [2]), ValueError, r"labels must be \+1 or -1"),
    (lambda: nn.hinge([[1.0]], [1]), TypeError, "prediction 0 must be a Value or a number"),
    (lambda: nn.bce_with_logits([1.0], [-1]), ValueError, "labels must be 0 or 1, got -1 for sample 0"),
    (lambda: nn.bce_with_logits([1.0], [0.5]), ValueError, "labels must be 0 or 1"),
    (lambda: nn.hinge([1.0], [True]), ValueError, r"labels must be \+1 or -1, got True"),
    (lambda: nn.bce_with_logits([1.0], [False]), ValueError, "labels must be 0 or 1, got False"),
    (lambda: nn.cross_entropy([[1.0, 2.0]], [2]), ValueError, r"must be in 0..1 \(2 logits\), got 2"),
    (lambda: nn.cross_entropy([[1.0, 2.0]], [-1]), ValueError, "must be in 0..1"),
    (lambda: nn.cross_entropy([[1.0, 2.0]], [0.5]), ValueError, "must be an integer class index 0..1"),
    (lambda: nn.cross_entropy([[1.0, 2.0]], [True]), ValueError, "must be an integer class index"),
    (lambda: nn.cross_entropy([[1.0, 2.0]], ["1"]), ValueError, "must be an integer class index"),
    (lambda: nn.cross_entropy([1.0], [0]), TypeError, "prediction 0 must be a list of logits"),
    (lambda: nn.cross_entropy([[]], [0]), ValueError, "no logits"),
    (lambda: nn.cross_entropy([[1.0, 2.0], [1.0]], [0, 0]), ValueError,
     "prediction 1 has 1 logits, expected 2"),
    (lambda: nn.cross_entropy([[1.0, "x"]], [0]), TypeError, r"logit 0\[1\] must be a Value or a number"),
])
def test_bad_input_says_what_was_expected(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_generators_are_accepted():
    assert nn.mse((p for p in [1.0, 2.0]), iter([1.0, 2.0])).data == 0.0


BINARY_LOSSES = [
    (nn.hinge, (1, -1), r"hinge: labels must be \+1 or -1, got "),
    (nn.bce_with_logits, (0, 1), "bce_with_logits: labels must be 0 or 1, got "),
]


@pytest.mark.parametrize("loss, good, message", BINARY_LOSSES)
def test_binary_losses_refuse_bools_and_non_numbers_as_labels(loss, good, message):
    for label in (True, False):
        with pytest.raises(ValueError, match=message + f"{label!r} for sample 1"):
            loss([0.5, 0.5], [good[0], label])
    for label in ("1", None, float("nan"), 0.5, Value(1.0)):  # not numbers, or not a label
        with pytest.raises(ValueError, match=message):
            loss([0.5], [label])


@pytest.mark.parametrize("loss, good, message", BINARY_LOSSES)
def test_binary_losses_treat_numpy_bools_as_bools_and_numpy_numbers_as_numbers(loss, good, message):
    numpy = pytest.importorskip("numpy")
    for label in (numpy.bool_(True), numpy.bool_(False)):  # the same refusal as Python's bools
        with pytest.raises(ValueError, match=message + f"{label!r} for sample 1"):
            loss([0.5, 0.5], [good[0], label])
    expected = loss([0.5, -0.25], list(good)).data
    for kind in (numpy.int64, numpy.float64, float):
        assert loss([0.5, -0.25], [kind(g) for g in good]).data == expected
