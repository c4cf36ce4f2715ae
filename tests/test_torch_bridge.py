"""nn.to_torch / nn.from_torch: exact weights both ways, and PyTorch as the gradient oracle.

For random models of every activation and every loss, PyTorch's autograd (float64) and
deltagrad agree on the outputs, the loss, ∂Err/∂θ for every weight and δ = ∂Err/∂u for
every neuron and sample (torch's gradient of each Linear's output) to 1e-12 relative
(see ``rel_diff`` for sums that cancel).
"""

from __future__ import annotations

import math
import random
import sys

import pytest

import nn
from nn.module import ACTIVATIONS

NO_TORCH = "needs torch: pip install 'deltagrad[torch]' (PyTorch has no PyPy wheel)"

RTOL = 1e-12
LOSS_NAMES = ("mse", "hinge", "bce_with_logits", "cross_entropy")
OUTPUTS = {"mse": 2, "hinge": 1, "bce_with_logits": 1, "cross_entropy": 3}


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=NO_TORCH)


def rel_diff(ours, theirs, floor=1e-4):
    """The largest |a − b| / max(|a|, |b|) over two equally long lists.

    Values below ``floor`` × the largest of the list count as that: a gradient summed over
    samples that cancel to 10⁻⁶ of its neighbours loses digits in any order of summation.
    """
    assert len(ours) == len(theirs)
    scale = floor * max(map(abs, [*ours, *theirs]), default=0.0)
    worst = 0.0
    for a, b in zip(ours, theirs):
        size = max(abs(a), abs(b), scale)
        if size:
            worst = max(worst, abs(a - b) / size)
    return worst


def random_problem(loss, activation, seed, n_samples=5, nin=3):
    """A seeded MLP and data set suited to ``loss`` (targets of the kind it takes)."""
    rng = random.Random(seed)
    k = OUTPUTS[loss]
    out_act = activation if loss == "mse" else "linear"
    model = nn.MLP(nin, [4, 3, k], activation=activation, output_activation=out_act,
                   init="xavier", seed=seed)
    for p in model.parameters():  # biases start at 0: give them values too
        p.data = rng.uniform(-1.0, 1.0)
    xs = [[rng.uniform(-2.0, 2.0) for _ in range(nin)] for _ in range(n_samples)]
    if loss == "mse":
        ys = [[rng.uniform(-1.0, 1.0) for _ in range(k)] for _ in range(n_samples)]
    elif loss == "hinge":
        ys = [rng.choice((-1, 1)) for _ in range(n_samples)]
    elif loss == "bce_with_logits":
        ys = [rng.choice((0, 1)) for _ in range(n_samples)]
    else:
        ys = [rng.randrange(k) for _ in range(n_samples)]
    return model, xs, ys


def torch_loss(torch, loss, out, ys, reduction):
    """nn's loss written with torch, as docs/pytorch.md and nn.bridge's docstring map it."""
    F = torch.nn.functional
    if loss == "mse":  # nn sums each sample's outputs; its "mean" divides by samples only
        total = F.mse_loss(out, torch.tensor(ys, dtype=torch.float64), reduction="sum")
        return total / len(ys) if reduction == "mean" else total
    if loss == "hinge":
        terms = torch.relu(1 - torch.tensor(ys, dtype=torch.float64) * out[:, 0])
        return terms.mean() if reduction == "mean" else terms.sum()
    if loss == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out[:, 0], torch.tensor(ys, dtype=torch.float64),
                                                  reduction=reduction)
    return F.cross_entropy(out, torch.tensor(ys), reduction=reduction)


def torch_run(torch, seq, xs, ys, loss, reduction):
    """Forward and backward in torch; returns (out, err, pre-activations with .grad)."""
    pre = []

    def keep(module, inputs, output):
        output.retain_grad()
        pre.append(output)

    hooks = [m.register_forward_hook(keep) for m in seq if isinstance(m, torch.nn.Linear)]
    out = seq(torch.tensor(xs, dtype=torch.float64))
    for h in hooks:
        h.remove()
    err = torch_loss(torch, loss, out, ys, reduction)
    err.backward()
    return out, err, pre


def nn_run(model, xs, ys, loss, reduction):
    traces = [model.trace(x) for x in xs]
    err = nn.LOSSES[loss]([t.output for t in traces], ys, reduction)
    err.backward()
    return traces, err


def flat(output):
    return [v.data for v in output] if isinstance(output, list) else [output.data]


def differences(torch, model, xs, ys, loss, reduction):
    """Max relative differences nn vs torch: outputs, Err, ∂Err/∂θ and δ (all samples)."""
    seq = nn.to_torch(model)
    out, err_t, pre = torch_run(torch, seq, xs, ys, loss, reduction)
    traces, err = nn_run(model, xs, ys, loss, reduction)
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    ours_g, theirs_g = [], []
    for layer, lin in zip(model.layers, linears):
        for j, neuron in enumerate(layer.neurons):
            ours_g += [w.grad for w in neuron.w] + [neuron.b.grad]
            theirs_g += lin.weight.grad[j].tolist() + [lin.bias.grad[j].item()]
    ours_d = [d for t in traces for layer in t.deltas() for d in layer]
    theirs_d = [d for n in range(len(xs)) for u in pre for d in u.grad[n].tolist()]
    return {
        "output": rel_diff([o for t in traces for o in flat(t.output)], out.flatten().tolist()),
        "Err": rel_diff([err.data], [err_t.item()]),
        "dErr/dθ": rel_diff(ours_g, theirs_g),
        "δ": rel_diff(ours_d, theirs_d),
    }


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_outputs_gradients_and_deltas_agree_with_torch(torch, activation, loss, reduction, seed):
    model, xs, ys = random_problem(loss, activation, seed)
    diffs = differences(torch, model, xs, ys, loss, reduction)
    assert all(d <= RTOL for d in diffs.values()), diffs


def test_the_gradients_compared_are_not_trivial(torch):
    # the agreement above must not come from zeros: every layer's δ and the weights get signal
    model, xs, ys = random_problem("cross_entropy", "tanh", 0)
    traces, _ = nn_run(model, xs, ys, "cross_entropy", "mean")
    assert all(any(abs(d) > 1e-6 for d in layer) for layer in traces[0].deltas())
    assert sum(abs(p.grad) > 1e-6 for p in model.parameters()) == model.num_parameters()


# --- weights, bit for bit --------------------------------------------------------------

def bits(xs):
    return [float(x).hex() for x in xs]


@pytest.mark.parametrize("output_activation", ACTIVATIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_to_torch_and_back_keeps_every_bit(torch, activation, output_activation):
    model = nn.MLP(3, [5, 4, 2], activation=activation, output_activation=output_activation, seed=7)
    for p in model.parameters():
        p.data = random.Random(id(p) % 1000).gauss(0.0, 1.0) / 3.0  # also 1/3-style non-dyadic bits
    seq = nn.to_torch(model)
    assert all(p.dtype == torch.float64 for p in seq.parameters())
    torch_params = [x for p in seq.parameters() for x in p.detach().flatten().tolist()]
    # Linear stores weight (out, in) then bias; nn lists each neuron's w then b
    weights = [[w.data for n in layer.neurons for w in n.w] + [n.b.data for n in layer.neurons]
               for layer in model.layers]
    assert bits(torch_params) == bits(x for layer in weights for x in layer)
    back = nn.from_torch(seq)
    assert bits(back.state_dict().values()) == bits(model.state_dict().values())
    assert list(back.state_dict()) == list(model.state_dict())
    assert back.nouts == model.nouts and back.output_activation == output_activation
    assert [layer.activation for layer in back.layers] == [layer.activation for layer in model.layers]


def test_to_torch_builds_linear_and_activation_modules(torch):
    model = nn.MLP(2, [3, 3, 1], activation="leaky_relu", output_activation="sigmoid", seed=0)
    seq = nn.to_torch(model)
    assert [type(m).__name__ for m in seq] == ["Linear", "LeakyReLU", "Linear", "LeakyReLU",
                                               "Linear", "Sigmoid"]
    assert seq[1].negative_slope == 0.01
    assert [type(m).__name__ for m in nn.to_torch(nn.MLP(2, [2, 1], seed=0))] == \
        ["Linear", "ReLU", "Linear"]  # a linear output layer has no activation module


def test_torch_to_mlp_and_back_keeps_every_bit(torch):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6),
                              torch.nn.Tanh(), torch.nn.Linear(6, 2), torch.nn.Sigmoid()).double()
    model = nn.from_torch(seq)
    assert (model.nin, model.nouts, model.activation, model.output_activation) == \
        (4, [6, 6, 2], "tanh", "sigmoid")
    again = nn.to_torch(model)
    assert [type(m) for m in again] == [type(m) for m in seq]
    for a, b in zip(seq.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_from_torch_reads_float32_exactly_and_fills_missing_biases(torch):
    torch.manual_seed(1)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.Identity(),
                              torch.nn.Linear(3, 1))
    model = nn.from_torch(seq)  # float32 weights: every one is exactly a float64
    assert [n.b.data for n in model.layers[0].neurons] == [0.0, 0.0, 0.0]
    assert [w.data for w in model.layers[0].neurons[2].w] == seq[0].weight[2].tolist()
    assert model.activation == "linear" and model.output_activation == "linear"
    x = [0.25, -0.5]
    assert model(x).data == pytest.approx(seq(torch.tensor([x]))[0, 0].item(), rel=1e-6)


def test_a_model_trained_in_torch_shows_its_deltas_through_trace(torch):
    # the graduate path and back: train on in PyTorch, import, look at δ with nn's trace
    torch.manual_seed(3)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Sigmoid(),
                              torch.nn.Linear(5, 3)).double()
    X = torch.randn(8, 2, dtype=torch.float64)
    labels = torch.randint(0, 3, (8,))
    opt = torch.optim.SGD(seq.parameters(), lr=0.5)
    for _ in range(10):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(seq(X), labels).backward()
        opt.step()
    seq.zero_grad()
    model = nn.from_torch(seq)
    xs, ys = X.tolist(), labels.tolist()
    _, _, pre = torch_run(torch, seq, xs, ys, "cross_entropy", "mean")
    traces, _ = nn_run(model, xs, ys, "cross_entropy", "mean")
    for n, trace in enumerate(traces):
        for layer, u in zip(trace.deltas(), pre):
            assert rel_diff(layer, u.grad[n].tolist()) <= RTOL
    assert [len(layer) for layer in traces[0].deltas()] == [5, 3]


# --- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("build, text", [
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Dropout(0.5), t.nn.Linear(3, 1)),
     r"module 1 \(Dropout\) is not supported; use Linear, ReLU"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.ReLU(), t.nn.Linear(3, 3), t.nn.GELU()),
     r"module 3 \(GELU\) is not supported"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.LeakyReLU(0.2)),
     r"module 1 \(LeakyReLU\) has negative_slope=0.2; nn's leaky_relu uses 0.01"),
    (lambda t: t.nn.Sequential(t.nn.ReLU(), t.nn.Linear(2, 3)),
     r"module 0 \(ReLU\) comes before any Linear layer"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.ReLU(), t.nn.Tanh()),
     r"module 2 \(Tanh\) follows another activation"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Linear(4, 1)),
     r"module 1 \(Linear\) has 4 inputs but the layer before has 3 outputs"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.ReLU(), t.nn.Linear(3, 3), t.nn.Tanh(),
                               t.nn.Linear(3, 1)),
     r"hidden layers mix activations \(relu first, tanh after the Linear at index 2\)"),
    (lambda t: t.nn.Sequential(), r"has no Linear layer"),
    (lambda t: t.nn.Sequential(t.nn.Identity()), r"has no Linear layer"),
])
def test_from_torch_names_the_first_module_that_does_not_fit(torch, build, text):
    with pytest.raises(ValueError, match=text):
        nn.from_torch(build(torch))


def test_from_torch_refuses_non_finite_weights_by_name(torch):
    seq = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with torch.no_grad():
        seq[0].weight[1, 0] = math.nan
    with pytest.raises(ValueError, match=r"'layers\.0\.neurons\.1\.w\.0' must be finite"):
        nn.from_torch(seq)


def test_wrong_types_are_refused(torch):
    with pytest.raises(TypeError, match="from_torch needs a torch.nn.Sequential, got Linear"):
        nn.from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="to_torch needs an nn.MLP, got Layer"):
        nn.to_torch(nn.Layer(2, 2))


@pytest.mark.parametrize("call", [lambda: nn.to_torch(nn.MLP(2, [1], seed=0)),
                                  lambda: nn.from_torch(object())])
def test_without_torch_one_line_says_how_to_install_it(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError) as info:
        call()
    message = str(info.value)
    assert "pip install 'deltagrad[torch]'" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
