"""manual_backprop (the textbook's formulas on floats) as the oracle for autograd's δ and gradients.

Autograd and the manual pass add the terms of Σ_j δ_j·θ_ji in different orders, so results
can differ by rounding.  Values are compared to 1e-12 relative error; only numbers that
are nearly zero compared with the terms that were added (largest |δ| times largest |o|)
are compared with an absolute tolerance of 1e-13 of that size.
"""

from __future__ import annotations

import ast
import itertools
import math
import pathlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from autograd import Value
from nn.module import ACTIVATIONS, INITS

LOSS_NAMES = tuple(nn.LOSSES)


def random_case(rng, nin, widths, activation, output_activation, loss, init="uniform"):
    """A network with random parameters in [−2, 2] (biases too), an input and a valid target."""
    widths = list(widths)
    if loss in ("hinge", "bce_with_logits"):
        widths[-1] = 1
    model = nn.MLP(nin, widths, activation, output_activation, init=init, seed=rng.randrange(2**32))
    for p in model.parameters():
        p.data = rng.uniform(-2.0, 2.0)
    x = [rng.uniform(-3.0, 3.0) for _ in range(nin)]
    n_out = widths[-1]
    if loss == "mse":
        y = rng.uniform(-2, 2) if n_out == 1 else [rng.uniform(-2, 2) for _ in range(n_out)]
    elif loss == "hinge":
        y = rng.choice([-1, 1])
    elif loss == "bce_with_logits":
        y = rng.choice([0, 1])
    else:
        y = rng.randrange(n_out)
    return model, x, y


def autograd_err(model, x, y, loss, reduction):
    """Err through autograd for one sample; returns (trace, Err) after backward."""
    trace = model.trace(x)
    prediction = trace.output
    if loss == "cross_entropy" and not isinstance(prediction, list):
        prediction = [prediction]
    err = nn.LOSSES[loss]([prediction], [y], reduction=reduction)
    model.zero_grad()
    err.backward()
    return trace, err


def assert_agrees(model, x, y, loss, reduction="mean"):
    trace, err = autograd_err(model, x, y, loss, reduction)
    manual = nn.manual_backprop(model, x, y, loss)
    size = max(abs(d) for layer in manual.delta for d in layer) * max(
        [1.0] + [abs(o) for layer in manual.o for o in layer] + [abs(v) for v in x])

    def close(a, b, what):
        diff = abs(a - b)
        assert diff <= 1e-12 * max(abs(a), abs(b)) or diff <= 1e-13 * size, \
            f"{what}: autograd {a!r} vs manual {b!r} ({loss}, {model!r})"

    close(err.data, manual.err, "Err")
    for t, (layer, u_manual, o_manual) in enumerate(zip(trace.layers, manual.u, manual.o)):
        for u, u_m, o, o_m in zip(layer.u, u_manual, layer.o, o_manual):
            close(u.data, u_m, f"u of layer {t}")
            close(o.data, o_m, f"o of layer {t}")
    assert [len(d) for d in trace.deltas()] == [len(d) for d in manual.delta]
    for t, (ours, theirs) in enumerate(zip(trace.deltas(), manual.delta)):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            close(a, b, f"δ[{t},{i}]")
    assert list(manual.grads) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        close(p.grad, manual.grads[name], name)


# --- the oracle ----------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation, output_activation", list(itertools.product(ACTIVATIONS, ACTIVATIONS)))
def test_every_activation_and_loss(activation, output_activation, loss):
    rng = random.Random(f"{activation}-{output_activation}-{loss}")
    for _ in range(4):
        depth = rng.randint(1, 4)
        widths = [rng.randint(1, 8) for _ in range(depth)]
        model, x, y = random_case(rng, rng.randint(1, 5), widths, activation, output_activation, loss)
        assert_agrees(model, x, y, loss, rng.choice(["mean", "sum"]))


@settings(max_examples=150, deadline=None)
@given(nin=st.integers(1, 5), widths=st.lists(st.integers(1, 8), min_size=1, max_size=4),
       activation=st.sampled_from(ACTIVATIONS), output_activation=st.sampled_from(ACTIVATIONS),
       loss=st.sampled_from(LOSS_NAMES), init=st.sampled_from(INITS),
       reduction=st.sampled_from(["mean", "sum"]), seed=st.integers(0, 2**32 - 1))
def test_random_networks(nin, widths, activation, output_activation, loss, init, reduction, seed):
    model, x, y = random_case(random.Random(seed), nin, widths, activation, output_activation, loss, init)
    assert_agrees(model, x, y, loss, reduction)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_gradients_of_a_batch_are_the_sum_of_per_sample_gradients(loss):
    rng = random.Random(loss)
    model, _, _ = random_case(rng, 3, [5, 4, 3], "tanh", "linear", loss)
    samples = [random_case(rng, 3, [5, 4, 3], "tanh", "linear", loss)[1:] for _ in range(6)]
    preds = [model(x) for x, _ in samples]
    if loss == "cross_entropy" and not isinstance(preds[0], list):
        preds = [[p] for p in preds]
    model.zero_grad()
    nn.LOSSES[loss](preds, [y for _, y in samples], reduction="mean").backward()
    expected = dict.fromkeys(model.state_dict(), 0.0)
    for x, y in samples:
        for name, g in nn.manual_backprop(model, x, y, loss).grads.items():
            expected[name] += g / len(samples)
    for name, p in model.named_parameters():
        assert p.grad == pytest.approx(expected[name], rel=1e-12, abs=1e-13)


# --- by hand -------------------------------------------------------------------------

def test_manual_backprop_on_a_2_2_1_network_by_hand():
    # hidden: 2 sigmoid neurons; output: one linear neuron; Err = (y − ŷ)²
    model = nn.MLP(2, [2, 1], activation="sigmoid", seed=0)
    values = [0.5, -0.5, 0.1,  1.0, 0.25, -0.2,  2.0, -1.0, 0.3]
    for p, v in zip(model.parameters(), values):
        p.data = v
    x, y = [1.0, 2.0], 1.0

    def s(u):
        return 1.0 / (1.0 + math.exp(-u))

    u1 = [0.5 * 1.0 - 0.5 * 2.0 + 0.1, 1.0 * 1.0 + 0.25 * 2.0 - 0.2]
    o1 = [s(u) for u in u1]
    yhat = 2.0 * o1[0] - 1.0 * o1[1] + 0.3
    delta_out = -2.0 * (y - yhat)
    delta_hidden = [o1[0] * (1 - o1[0]) * delta_out * 2.0, o1[1] * (1 - o1[1]) * delta_out * -1.0]

    r = nn.manual_backprop(model, x, y, "mse")
    assert r.u[0] == pytest.approx(u1, rel=1e-15) and r.o[0] == pytest.approx(o1, rel=1e-15)
    assert r.output == pytest.approx(yhat, rel=1e-15) and isinstance(r.output, float)
    assert r.err == pytest.approx((y - yhat) ** 2, rel=1e-14)
    assert r.delta[1] == pytest.approx([delta_out], rel=1e-14)
    assert r.delta[0] == pytest.approx(delta_hidden, rel=1e-14)
    assert r.grads["layers.0.neurons.1.w.1"] == pytest.approx(delta_hidden[1] * 2.0, rel=1e-14)
    assert r.grads["layers.0.neurons.0.b"] == pytest.approx(delta_hidden[0], rel=1e-14)
    assert r.grads["layers.1.neurons.0.w.0"] == pytest.approx(delta_out * o1[0], rel=1e-14)


@pytest.mark.parametrize("loss, y, dErr_dyhat", [
    ("hinge", -1, lambda z: 1.0 if 1 + z > 0 else 0.0),
    ("bce_with_logits", 1, lambda z: 1.0 / (1.0 + math.exp(-z)) - 1.0),
])
def test_output_delta_by_loss(loss, y, dErr_dyhat):
    model = nn.MLP(1, [1], output_activation="linear", seed=0)
    model.layers[0].neurons[0].w[0].data = 0.7
    r = nn.manual_backprop(model, [-0.5], y, loss)
    assert r.delta == [[pytest.approx(dErr_dyhat(-0.35), rel=1e-12)]]


def test_cross_entropy_output_deltas_are_softmax_minus_one_hot():
    model = nn.MLP(1, [3], output_activation="linear", seed=0)
    for neuron, w in zip(model.layers[0].neurons, [1.0, -1.0, 2.0]):
        neuron.w[0].data = w
    r = nn.manual_backprop(model, [1.0], 2, nn.cross_entropy)
    total = math.exp(1) + math.exp(-1) + math.exp(2)
    assert r.delta[0] == pytest.approx([math.exp(1) / total, math.exp(-1) / total, math.exp(2) / total - 1])
    assert r.output == pytest.approx([1.0, -1.0, 2.0])
    assert r.err == pytest.approx(math.log(total) - 2.0, rel=1e-14)


# --- the interface -------------------------------------------------------------------

def test_loss_by_name_or_function_and_model_untouched():
    model = nn.MLP(2, [3, 1], seed=4)
    for p in model.parameters():
        p.grad = 7.0
    before = model.state_dict()
    by_name = nn.manual_backprop(model, [0.5, 1.0], -1, "hinge")
    by_fn = nn.manual_backprop(model, [0.5, 1.0], -1, nn.hinge)
    assert by_name == by_fn
    assert model.state_dict() == before and all(p.grad == 7.0 for p in model.parameters())


def test_mse_target_may_be_a_list_for_one_output():
    model = nn.MLP(2, [1], seed=0)
    assert nn.manual_backprop(model, [1, 2], [0.5]) == nn.manual_backprop(model, [1, 2], 0.5)


@pytest.mark.parametrize("args, exc, message", [
    ((nn.MLP(2, [1]), [1.0, 2.0], 1.0, "l1"), ValueError, "unknown loss 'l1'; choose one of mse, hinge"),
    ((nn.MLP(2, [1]), [1.0, 2.0], 1.0, len), ValueError, "unknown loss"),
    ((nn.MLP(2, [2]), [1.0, 2.0], 1, "hinge"), ValueError, "hinge needs a network with one output"),
    ((nn.MLP(2, [2]), [1.0, 2.0], 1, "bce_with_logits"), ValueError, "one output, this one has 2"),
    ((nn.MLP(2, [1]), [1.0, 2.0], 0, "hinge"), ValueError, r"label must be \+1 or -1, got 0"),
    ((nn.MLP(2, [1]), [1.0, 2.0], 2, "bce_with_logits"), ValueError, "label must be 0 or 1, got 2"),
    ((nn.MLP(2, [3]), [1.0, 2.0], 3, "cross_entropy"), ValueError, "must be in 0..2"),
    ((nn.MLP(2, [3]), [1.0, 2.0], 1.0, "mse"), ValueError, "3 outputs, so the target must be a list"),
    ((nn.MLP(2, [3]), [1.0, 2.0], [1.0], "mse"), ValueError, "3 outputs but the target has 1"),
    ((nn.MLP(2, [1]), [1.0, 2.0], "1", "mse"), TypeError, "target 0 must be a number"),
    ((nn.MLP(2, [1]), [1.0], 1.0, "mse"), ValueError, "expects 2 inputs, got 1"),
    ((nn.MLP(2, [1]), [1.0, Value(2.0)], 1.0, "mse"), TypeError, "input 1 must be a number"),
    ((nn.Layer(2, 1), [1.0, 2.0], 1.0, "mse"), TypeError, "needs an nn.MLP, got Layer"),
])
def test_bad_arguments(args, exc, message):
    with pytest.raises(exc, match=message):
        nn.manual_backprop(*args)


def test_manual_module_does_not_use_autograd():
    """The oracle must be independent: nn/manual.py imports no autograd and calls no backward."""
    source = pathlib.Path(nn.manual.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("autograd")]
    methods = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Attribute)
               and not (isinstance(n.func.value, ast.Name) and n.func.value.id == "math")}
    assert not methods & {"backward", "relu", "tanh", "sigmoid", "leaky_relu", "exp", "log"}
    assert "Value" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
