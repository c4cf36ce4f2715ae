"""The bridge to PyTorch: an ``MLP`` as a ``torch.nn.Sequential`` and back, weights exact.

``to_torch(model)`` gives ``Linear`` layers (float64, ``weight[i, ℓ] = θ_iℓ``,
``bias[i] = b_i``) each followed by its activation module; ``from_torch(seq)`` reads such
a Sequential back into an ``MLP``.  Python floats are float64, so a round trip keeps every
weight bit for bit.  PyTorch is an optional extra, imported only when these are called.

How ``nn``'s losses map onto PyTorch's, for N samples of K outputs (``out`` is the
Sequential's (N, K) output):

- ``mse(reduction="sum")`` = ``F.mse_loss(out, y, reduction="sum")``; ``mse``'s ``"mean"``
  divides by N only (each sample's error sums its K outputs), so it is
  ``F.mse_loss(out, y, reduction="sum") / N`` (= torch's ``"mean"`` × K).
- ``hinge`` (labels ±1, K = 1) has no torch loss of that form: it is
  ``torch.relu(1 - y * out[:, 0])`` summed, or averaged over the N samples.
- ``bce_with_logits`` (labels 0/1, K = 1) = ``F.binary_cross_entropy_with_logits(out[:, 0],
  y, reduction=...)``, the same reduction name.
- ``cross_entropy`` (integer labels, K logits) = ``F.cross_entropy(out, labels,
  reduction=...)``, the same reduction name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from .module import LEAKY_SLOPE, MLP

if TYPE_CHECKING:  # torch is optional, imported only when these are called
    from torch.nn import Sequential

__all__ = ["to_torch", "from_torch"]

#: Our activation name -> the name of the torch.nn module class that computes it.
_TORCH_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU"}
_ACTIVATION_NAMES = {cls: name for name, cls in _TORCH_ACTIVATIONS.items()}


def _torch(who: str) -> Any:
    """The ``torch`` module, or one ImportError line saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"nn.{who} needs PyTorch: pip install 'deltagrad[torch]'") from None
    return torch


def to_torch(model: MLP) -> Sequential:
    """A ``torch.nn.Sequential`` (float64) computing what ``model`` does, with its exact weights.

    Each layer becomes ``Linear(nin, nout)`` followed by ``ReLU``/``Tanh``/``Sigmoid``/
    ``LeakyReLU(0.01)``, or by nothing for a ``"linear"`` layer.
    """
    torch = _torch("to_torch")
    if not isinstance(model, MLP):
        raise TypeError(f"to_torch needs an nn.MLP, got {type(model).__name__}")
    modules = []
    with torch.no_grad():
        for layer in model.layers:
            linear = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons],
                                             dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
            modules.append(linear)
            if layer.activation == "leaky_relu":
                modules.append(torch.nn.LeakyReLU(LEAKY_SLOPE))
            elif layer.activation != "linear":
                modules.append(getattr(torch.nn, _TORCH_ACTIVATIONS[layer.activation])())
    return torch.nn.Sequential(*modules)


def from_torch(sequential: Sequential) -> MLP:
    """The ``nn.MLP`` equivalent to a Sequential of ``Linear`` layers and activations.

    Each ``Linear`` may be followed by one ``ReLU``, ``Tanh``, ``Sigmoid`` or
    ``LeakyReLU(0.01)`` (``Identity`` is skipped); the hidden layers must share one
    activation, as an MLP's do.  A ``Linear`` without bias gets biases of 0.  Weights are
    copied as float64 (exact from float32 or float64).  Anything else is refused with an
    error naming the first module that does not fit.
    """
    torch = _torch("from_torch")
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch needs a torch.nn.Sequential, got {type(sequential).__name__}")
    layers = _layers(torch, sequential)
    hidden = {act for _, _, act in layers[:-1]}
    if len(hidden) > 1:
        first = layers[0][2]
        index, _, act = next(item for item in layers[:-1] if item[2] != first)
        raise ValueError(f"from_torch: the hidden layers mix activations ({first} first, {act} "
                         f"after the Linear at index {index}); an nn.MLP's hidden layers share one")
    linears = [sequential[index] for index, _, _ in layers]
    model = MLP(linears[0].in_features, [lin.out_features for lin in linears],
                activation=hidden.pop() if hidden else "relu", output_activation=layers[-1][2])
    state: Dict[str, float] = {}
    for i, lin in enumerate(linears):
        weight = lin.weight.detach().cpu().to(torch.float64).tolist()
        bias = (lin.bias.detach().cpu().to(torch.float64).tolist() if lin.bias is not None
                else [0.0] * lin.out_features)
        for j, (row, b) in enumerate(zip(weight, bias)):
            state.update((f"layers.{i}.neurons.{j}.w.{ell}", w) for ell, w in enumerate(row))
            state[f"layers.{i}.neurons.{j}.b"] = b
    model.load_state_dict(state)  # refuses nan and inf weights
    return model


def _layers(torch: Any, sequential: Any) -> List[Tuple[int, Any, str]]:
    """``(index, Linear, activation name)`` per Linear, or a ValueError at the first misfit."""
    layers: List[Tuple[int, Any, str]] = []
    expect_linear = True  # after an activation only a Linear may come
    for index, module in enumerate(sequential):
        where = f"from_torch: module {index} ({type(module).__name__})"
        if isinstance(module, torch.nn.Identity):
            continue
        if isinstance(module, torch.nn.Linear):
            if layers and module.in_features != layers[-1][1].out_features:
                raise ValueError(f"{where} has {module.in_features} inputs but the layer before "
                                 f"has {layers[-1][1].out_features} outputs")
            layers.append((index, module, "linear"))
            expect_linear = False
            continue
        name = _ACTIVATION_NAMES.get(type(module).__name__)
        if name is None or type(module) is not getattr(torch.nn, type(module).__name__):
            raise ValueError(f"{where} is not supported; use Linear, ReLU, Tanh, Sigmoid, "
                             f"LeakyReLU({LEAKY_SLOPE}) or Identity")
        if name == "leaky_relu" and module.negative_slope != LEAKY_SLOPE:
            raise ValueError(f"{where} has negative_slope={module.negative_slope}; nn's "
                             f"leaky_relu uses {LEAKY_SLOPE}")
        if not layers:
            raise ValueError(f"{where} comes before any Linear layer")
        if expect_linear:
            raise ValueError(f"{where} follows another activation; each Linear takes at most one")
        layers[-1] = (layers[-1][0], layers[-1][1], name)
        expect_linear = True
    if not layers:
        raise ValueError("from_torch: the Sequential has no Linear layer")
    return layers
