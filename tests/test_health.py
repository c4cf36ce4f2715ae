"""nn.health: vanishing/exploding flags, dead and saturated units, non-finite gradients."""

from __future__ import annotations

import math

import pytest

import nn
from nn.data import make_moons
from nn.health import (EXPLODING_NORM, EXPLODING_RATIO, SATURATION_SLOPE, VANISHING_RATIO,
                       HealthReport, health)
from nn.manual import manual_backprop
from nn.module import MLP

X, Y = make_moons(60, seed=3)


def set_layer(model: MLP, layer: int, weights, biases) -> None:
    for neuron, ws, b in zip(model.layers[layer].neurons, weights, biases):
        for w, v in zip(neuron.w, ws):
            w.data = v
        neuron.b.data = b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deep_sigmoid_uniform_vanishes_and_relu_he_does_not(seed):
    sigmoid = health(MLP(2, [8] * 8 + [1], activation="sigmoid", init="uniform", seed=seed), X, Y)
    relu = health(MLP(2, [8] * 8 + [1], activation="relu", init="he", seed=seed), X, Y)
    assert sigmoid.vanishing and "vanishing" in sigmoid.layers[0].flags
    assert sigmoid.layers[0].delta_ratio < VANISHING_RATIO
    assert not relu.vanishing and not relu.exploding and relu.ok
    # The textbook's reason: every sigmoid layer multiplies δ by σ'(u) ≤ 1/4, so δ shrinks
    # layer after layer on the way back.
    ratios = [h.delta_ratio for h in sigmoid.layers]
    assert ratios[0] < ratios[3] < ratios[7] < 1.0


def test_numbers_equal_the_textbook_formulas_from_manual_backprop():
    model = MLP(2, [4, 3, 1], activation="tanh", init="xavier", seed=5)
    report = health(model, X[:20], Y[:20])
    results = [manual_backprop(model, x, y, "mse") for x, y in zip(X[:20], Y[:20])]
    for t, h in enumerate(report.layers):
        deltas = [abs(d) for r in results for d in r.delta[t]]
        assert h.mean_abs_delta == pytest.approx(sum(deltas) / len(deltas), rel=1e-12)
        names = [f"layers.{t}.neurons.{i}.w.{ell}" for i, n in enumerate(model.layers[t].neurons)
                 for ell in range(len(n.w))]
        mean_grads = [sum(r.grads[name] for r in results) / len(results) for name in names]
        assert h.grad_norm == pytest.approx(math.sqrt(sum(g * g for g in mean_grads)), rel=1e-12)
    last = sum(abs(d) for r in results for d in r.delta[-1]) / len(results)
    assert report.layers[0].delta_ratio == pytest.approx(report.layers[0].mean_abs_delta / last)
    assert report.err == pytest.approx(sum(r.err for r in results) / len(results), rel=1e-12)


def test_dead_relus_are_counted_on_a_constructed_network():
    model = MLP(2, [4, 1], activation="relu", seed=0)
    # Inputs are x1, x2 in [0, 1]. Neuron 0: u = −x1 − x2 − 1 < 0 always (dead).
    # Neuron 1: u = 0 exactly, always (dead: u ≤ 0).  Neuron 2: u = x1 + 1 > 0 (alive).
    # Neuron 3: u = x1 − 0.5, positive for some samples only (alive).
    set_layer(model, 0, [[-1, -1], [0, 0], [1, 0], [1, 0]], [-1, 0, 1, -0.5])
    batch = [[0.0, 0.0], [1.0, 1.0], [0.9, 0.2], [0.1, 0.7]]
    report = health(model, batch, [1.0, 0.0, 1.0, 0.0])
    assert report.layers[0].dead == 2
    assert report.layers[1].dead is None  # linear output layer: not a ReLU
    assert "2/4" in str(report)


def test_saturated_sigmoid_units_are_counted():
    model = MLP(1, [3, 1], activation="sigmoid", seed=0)
    # σ'(u) < 0.01 once |u| > 4.6.  Neuron 0 (u = 10x: 0, 10, 20, 50) is saturated on 3 of
    # the 4 samples, neuron 1 (u = 0.1x) on none, neuron 2 (u = 3x: 0, 3, 6, 15) on exactly
    # 2 of 4, which is not more than half, so it is not counted.
    set_layer(model, 0, [[10.0], [0.1], [3.0]], [0.0, 0.0, 0.0])
    batch = [[0.0], [1.0], [2.0], [5.0]]
    report = health(model, batch, [0.0, 1.0, 1.0, 0.0])
    s = 1 / (1 + math.exp(-10.0))
    assert s * (1 - s) < SATURATION_SLOPE  # the premise, by hand
    assert report.layers[0].saturated == 1
    assert report.layers[1].saturated is None


def test_exploding_gradients_are_flagged():
    model = MLP(1, [4] * 6 + [1], activation="relu", seed=0)
    for layer in model.layers:
        set_layer(model, model.layers.index(layer),
                  [[2.0] * len(n.w) for n in layer.neurons], [0.0] * len(layer.neurons))
    # All u > 0, so σ' = 1 and δ_i = Σ_j δ_j·θ_ji: the last hidden layer gets 2·δ_out
    # (one output neuron), and each earlier one 4·2 = 8 times its successor's δ.
    report = health(model, [[0.1], [0.2]], [0.0, 1.0])
    assert report.exploding
    assert report.layers[0].delta_ratio > EXPLODING_RATIO
    assert report.layers[0].delta_ratio == pytest.approx(2 * 8.0 ** 5, rel=1e-9)


def test_huge_gradient_norm_alone_is_exploding():
    model = MLP(1, [1], activation="linear", seed=0)
    set_layer(model, 0, [[1.0]], [0.0])
    report = health(model, [[1e4]], [0.0])  # ∂Err/∂θ = −2(0 − 1e4)·1e4 = 2e8
    assert report.layers[0].grad_norm == pytest.approx(2e8)
    assert report.layers[0].grad_norm > EXPLODING_NORM and report.exploding


def test_non_finite_gradients_are_flagged_and_never_printed_as_nan():
    model = MLP(2, [3, 1], activation="relu", seed=0)
    model.layers[0].neurons[0].w[0].data = math.inf
    report = health(model, [[1.0, 0.5], [0.5, 1.0]], [0.0, 1.0])
    assert report.non_finite and not report.ok
    assert "non-finite" in report.layers[0].flags
    text = str(report)
    assert "NON-FINITE" in text and "nan" not in text.lower().replace("non-finite", "")


def test_parameter_grads_are_restored_unless_kept():
    model = MLP(2, [3, 1], activation="tanh", seed=1)
    for k, p in enumerate(model.parameters()):
        p.grad = float(k)
    health(model, X[:10], Y[:10])
    assert [p.grad for p in model.parameters()] == [float(k) for k in range(model.num_parameters())]
    health(model, X[:10], Y[:10], keep_grads=True)
    mean = {name: sum(manual_backprop(model, x, y).grads[name] for x, y in zip(X[:10], Y[:10])) / 10
            for name, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert p.grad == pytest.approx(mean[name], rel=1e-12, abs=1e-15)


def test_other_losses_by_name_and_function():
    model = MLP(2, [4, 1], activation="relu", seed=2)
    labels = [2 * v - 1 for v in Y[:10]]
    by_name = health(model, X[:10], labels, loss="hinge")
    by_fn = health(model, X[:10], labels, loss=nn.losses.hinge)
    assert by_name.loss == "hinge" and by_fn.loss == "hinge"
    assert by_name.layers == by_fn.layers


    def squared(predictions, targets):  # a custom loss with no reduction argument
        return (targets[0] - predictions[0]) ** 2

    custom, mse = health(model, X[:10], Y[:10], loss=squared), health(model, X[:10], Y[:10])
    assert custom.loss == "squared"
    for a, b in zip(custom.layers, mse.layers):
        assert a.mean_abs_delta == pytest.approx(b.mean_abs_delta, rel=1e-12)
        assert a.grad_norm == pytest.approx(b.grad_norm, rel=1e-12)
    multi = MLP(2, [4, 3], activation="relu", seed=2)
    assert isinstance(health(multi, X[:10], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0], loss="cross_entropy"),
                      HealthReport)


def test_bad_input_is_a_clear_error():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="2 inputs but 1 targets"):
        health(model, X[:2], Y[:1])
    with pytest.raises(ValueError, match="empty"):
        health(model, [], [])
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        health(model, X[:2], Y[:2], loss="l1")
    with pytest.raises(TypeError, match="nn.MLP"):
        health(object(), X[:2], Y[:2])


def test_table_states_its_thresholds():
    text = str(health(MLP(2, [3, 1], seed=0), X[:5], Y[:5]))
    assert f"< {VANISHING_RATIO:g} ×" in text and f"> {EXPLODING_RATIO:g} ×" in text
    assert f"> {EXPLODING_NORM:g}" in text and "u ≤ 0 on every sample" in text
    assert "verdict:" in text


def test_fit_records_health_every_epoch():
    model = MLP(2, [4, 4, 1], activation="tanh", seed=4)
    history = nn.fit(model, X[:20], [2 * v - 1 for v in Y[:20]], loss="hinge", optimizer="sgd",
                     lr=0.2, epochs=3, health=True, verbose=False)
    assert len(history.health) == 3 and all(isinstance(r, HealthReport) for r in history.health)
    assert history.health[0].loss == "hinge" and history.health[0].samples == 20
    # The last report describes the trained model: measuring it again gives the same numbers.
    again = health(model, X[:20], [2 * v - 1 for v in Y[:20]], loss="hinge")
    assert history.health[-1].layers == again.layers
    assert history.health[0].layers != again.layers  # the first one saw the model one epoch in
    plain = nn.fit(MLP(2, [3, 1], seed=0), X[:5], Y[:5], epochs=2, verbose=False)
    assert plain.health == []
    with pytest.raises(TypeError, match="health must be True or False"):
        nn.fit(MLP(2, [3, 1], seed=0), X[:5], Y[:5], epochs=1, health="yes", verbose=False)
    with pytest.raises(TypeError, match=r"fit\(health=True\) needs an nn.MLP"):
        nn.fit(nn.Neuron(2), X[:5], Y[:5], epochs=1, health=True, verbose=False)
