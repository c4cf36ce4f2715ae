"""Backpropagation by hand: the textbook's formulas on plain floats, no autograd.

``manual_backprop`` reads a model's current θ and b as floats and computes, for one
sample, exactly what the lecture writes down:

    forward          u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i,        o_i = σ(u_i)
    output layer     δ_k = ∂Err/∂ŷ_k · σ'(u_k)
    hidden layers    δ_i = σ'(u_i) · Σ_j δ_j·θ_ji      (right to left)
    gradients        ∂Err/∂θ_iℓ = δ_i·o_ℓ,             ∂Err/∂b_i = δ_i

It never builds a ``Value`` or calls ``backward``, so it is an independent oracle: the
tests check that autograd's δ (``u.grad``) and parameter gradients equal these numbers.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

from .losses import _class_index, resolve
from .module import LEAKY_SLOPE, MLP

__all__ = ["manual_backprop", "ManualResult"]


def _sigmoid(u: float) -> float:
    """σ(u) = 1/(1 + e^(−u)), taking e only to non-positive powers so it never overflows."""
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


# σ(u) for each activation.
SIGMA: Dict[str, Callable[[float], float]] = {
    "relu": lambda u: u if u > 0.0 else 0.0,
    "leaky_relu": lambda u: u if u > 0.0 else LEAKY_SLOPE * u,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "linear": lambda u: u,
}

# σ'(u), written with u and o = σ(u) as the textbook does (tanh' = 1 − o², σ' = o(1 − o)).
SIGMA_PRIME: Dict[str, Callable[[float, float], float]] = {
    "relu": lambda u, o: 1.0 if u > 0.0 else 0.0,
    "leaky_relu": lambda u, o: 1.0 if u > 0.0 else LEAKY_SLOPE,
    "tanh": lambda u, o: 1.0 - o * o,
    "sigmoid": lambda u, o: o * (1.0 - o),
    "linear": lambda u, o: 1.0,
}


# --- Err and ∂Err/∂ŷ for one sample, per loss ----------------------------------------
# Each takes the network's outputs ŷ (a list) and the target, and returns
# (Err, [∂Err/∂ŷ_k for each output k]).

def _mse(yhat: List[float], y: Any) -> Tuple[float, List[float]]:
    """Err = Σ_k (y_k − ŷ_k)²,  ∂Err/∂ŷ_k = −2(y_k − ŷ_k)."""
    ys = _numbers(y, len(yhat))
    # (y − ŷ)·(y − ŷ) rather than ** 2, which raises OverflowError past 1e154 instead of giving inf
    err = sum((y_k - yhat_k) * (y_k - yhat_k) for y_k, yhat_k in zip(ys, yhat))
    return err, [-2.0 * (y_k - yhat_k) for y_k, yhat_k in zip(ys, yhat)]


def _hinge(yhat: List[float], y: Any) -> Tuple[float, List[float]]:
    """Err = max(0, 1 − y·ŷ),  ∂Err/∂ŷ = −y when 1 − y·ŷ > 0, else 0."""
    _one_output("hinge", yhat)
    if y != 1 and y != -1:
        raise ValueError(f"hinge: the label must be +1 or -1, got {y!r}")
    margin = 1.0 - y * yhat[0]
    return max(0.0, margin), [-y if margin > 0.0 else 0.0]


def _bce_with_logits(yhat: List[float], y: Any) -> Tuple[float, List[float]]:
    """Err = max(z, 0) − z·y + ln(1 + e^(−|z|)) for the logit z = ŷ,  ∂Err/∂z = σ(z) − y."""
    _one_output("bce_with_logits", yhat)
    if y != 0 and y != 1:
        raise ValueError(f"bce_with_logits: the label must be 0 or 1, got {y!r}")
    z = yhat[0]
    err = max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))  # log1p keeps tiny e^−|z|
    # σ(z) − 1 is written −σ(−z) for y = 1: the same number, without the cancellation
    # that loses digits when σ(z) is close to 1.
    dErr_dz = _sigmoid(z) if y == 0 else -_sigmoid(-z)
    return err, [dErr_dz]


def _cross_entropy(yhat: List[float], y: Any) -> Tuple[float, List[float]]:
    """Err = log Σ_k e^(z_k) − z_c for logits z = ŷ and label c,  ∂Err/∂z_k = softmax_k − [k = c].

    The largest logit m is subtracted before exponentiating (softmax does not change).
    """
    c = _class_index(y, len(yhat), "the sample")
    m = max(yhat)
    e = [math.exp(z_k - m) for z_k in yhat]
    total = sum(e)
    softmax = [e_k / total for e_k in e]
    err = math.log(total) - (yhat[c] - m)
    return err, [softmax[k] - (1.0 if k == c else 0.0) for k in range(len(yhat))]


_ERR = {"mse": _mse, "hinge": _hinge, "bce_with_logits": _bce_with_logits,
        "cross_entropy": _cross_entropy}


def _one_output(name: str, yhat: List[float]) -> None:
    if len(yhat) != 1:
        raise ValueError(f"{name} needs a network with one output, this one has {len(yhat)}")


def _numbers(y: Any, n: int) -> List[float]:
    """An mse target: a number for one output, or a list of ``n`` numbers."""
    if y.__class__ is list or y.__class__ is tuple:
        if len(y) != n:
            raise ValueError(f"mse: the network has {n} outputs but the target has {len(y)} numbers")
        items = list(y)
    elif n == 1:
        items = [y]
    else:
        raise ValueError(f"mse: the network has {n} outputs, so the target must be a list of "
                         f"{n} numbers, got {y!r}")
    for k, item in enumerate(items):
        if item.__class__ is bool or not isinstance(item, numbers.Real):
            raise TypeError(f"mse: target {k} must be a number, got {type(item).__name__}: {item!r}")
    return [float(item) for item in items]


@lru_cache(maxsize=64)
def _parameter_names(nin: int, nouts: Tuple[int, ...]) -> Tuple[str, ...]:
    """The dotted names ``MLP.named_parameters()`` gives, built once per shape."""
    sizes = (nin, *nouts)
    return tuple(name for t in range(len(nouts)) for i in range(nouts[t])
                 for name in [*(f"layers.{t}.neurons.{i}.w.{ell}" for ell in range(sizes[t])),
                              f"layers.{t}.neurons.{i}.b"])


@dataclass
class ManualResult:
    """What ``manual_backprop`` computed: per layer ``u``, ``o`` and ``delta`` (lists of
    floats), ``grads`` (dotted parameter name -> ∂Err/∂parameter), ``err`` and ``output``
    (ŷ: a float for one output neuron, else a list)."""

    u: List[List[float]]
    o: List[List[float]]
    delta: List[List[float]]
    grads: Dict[str, float]
    err: float
    output: Union[float, List[float]]


def manual_backprop(model: MLP, x: Sequence[float], y: Any,
                    loss: Union[str, Callable[..., Any]] = "mse") -> ManualResult:
    """Forward pass, δ and every gradient for one sample ``(x, y)``, by the textbook's formulas.

    ``loss`` is a name (``"mse"``, ``"hinge"``, ``"bce_with_logits"``, ``"cross_entropy"``)
    or the ``nn`` loss function itself; ``y`` is what that loss takes for one sample.
    The model is only read, never changed.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"manual_backprop needs an nn.MLP, got {type(model).__name__}")
    name = resolve(loss, "manual_backprop")[0]
    if name not in _ERR:
        raise ValueError(f"manual_backprop: unknown loss {loss!r}; it knows the formulas of "
                         f"{', '.join(_ERR)} (by name or as the nn loss function)")
    loss_of = _ERR[name]
    x = model._check_x(x)  # type: ignore[assignment]  # numbers, not Values: checked below
    for ell, x_l in enumerate(x):
        if x_l.__class__ is bool or not isinstance(x_l, numbers.Real):
            raise TypeError(f"input {ell} must be a number, got {type(x_l).__name__}: {x_l!r}")

    # The parameters as plain floats: theta[t][i][ℓ] is θ_iℓ of layer t, bias[t][i] is b_i.
    theta = [[[w.data for w in neuron.w] for neuron in layer.neurons] for layer in model.layers]
    bias = [[neuron.b.data for neuron in layer.neurons] for layer in model.layers]
    activation = [layer.activation for layer in model.layers]
    n_layers = len(theta)

    # Forward pass, layer by layer:  u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i,  o_i = σ(u_i).
    layer_input = [[float(x_l) for x_l in x]]  # layer_input[t] = the o_ℓ that layer t reads
    u: List[List[float]] = []
    o: List[List[float]] = []
    for t in range(n_layers):
        o_prev = layer_input[t]
        sigma = SIGMA[activation[t]]
        u_t = [sum(theta_il * o_l for theta_il, o_l in zip(theta_i, o_prev)) + b_i
               for theta_i, b_i in zip(theta[t], bias[t])]
        o_t = [sigma(u_i) for u_i in u_t]
        u.append(u_t)
        o.append(o_t)
        layer_input.append(o_t)
    yhat = o[-1]
    err, dErr_dyhat = loss_of(yhat, y)

    # Output layer:  δ_k = ∂Err/∂ŷ_k · σ'(u_k).
    delta: List[List[float]] = [[] for _ in range(n_layers)]
    sigma_prime = SIGMA_PRIME[activation[-1]]
    delta[-1] = [dErr_dyhat[k] * sigma_prime(u[-1][k], o[-1][k]) for k in range(len(yhat))]

    # Hidden layers, right to left:  δ_i = σ'(u_i) · Σ_j δ_j·θ_ji  (j runs over the next layer).
    for t in range(n_layers - 2, -1, -1):
        sigma_prime = SIGMA_PRIME[activation[t]]
        delta_next, theta_next = delta[t + 1], theta[t + 1]
        delta[t] = [sigma_prime(u_i, o_i) * sum(delta_j * theta_j[i]
                                                for delta_j, theta_j in zip(delta_next, theta_next))
                    for i, (u_i, o_i) in enumerate(zip(u[t], o[t]))]

    # Gradients:  ∂Err/∂θ_iℓ = δ_i·o_ℓ,  ∂Err/∂b_i = δ_i  (in the order of named_parameters()).
    gradients: List[float] = []
    for t in range(n_layers):
        for delta_i in delta[t]:
            gradients.extend(delta_i * o_l for o_l in layer_input[t])
            gradients.append(delta_i)
    grads = dict(zip(_parameter_names(model.nin, tuple(model.nouts)), gradients))

    output = yhat[0] if len(yhat) == 1 else list(yhat)
    return ManualResult(u=u, o=o, delta=delta, grads=grads, err=err, output=output)
