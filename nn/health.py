"""Gradient health: are the δ's vanishing or exploding on their way back through a network?

``health(model, X, y)`` runs the textbook's algorithm on a batch, one sample at a time
(forward with ``model.trace``, that sample's ``Err``, backward), and measures per layer
how big ∂Err/∂θ and δ_i = ∂Err/∂u_i are, how many ReLUs are dead and how many
sigmoid/tanh units sit where σ'(u) is nearly 0.  Because δ_i = σ'(u_i)·Σ_j δ_j·θ_ji,
small σ'(u) or small θ shrink δ layer by layer (vanishing), large θ grow it (exploding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, Union

from autograd import Value
from autograd.format import fmt

from .losses import resolve

if TYPE_CHECKING:
    from .module import MLP

__all__ = ["health", "HealthReport", "LayerHealth", "VANISHING_RATIO", "EXPLODING_RATIO",
           "EXPLODING_NORM", "SATURATION_SLOPE", "SATURATION_SHARE"]

#: A layer's mean |δ| below this fraction of the output layer's mean |δ| is ``vanishing``.
VANISHING_RATIO = 1e-3
#: A layer's mean |δ| above this multiple of the output layer's mean |δ| is ``exploding`` ...
EXPLODING_RATIO = 1e3
#: ... and so is a layer whose weight gradient norm ‖∂Err/∂θ‖ exceeds this.
EXPLODING_NORM = 1e3
#: A sigmoid/tanh unit is saturated when σ'(u) is below this for more than ...
SATURATION_SLOPE = 0.01
#: ... this share of the samples.
SATURATION_SHARE = 0.5

_SQUASHING = ("sigmoid", "tanh")


@dataclass(frozen=True)
class LayerHealth:
    """One layer's numbers.  ``dead`` (ReLU layers) and ``saturated`` (sigmoid/tanh layers)
    count neurons and are None where they do not apply; ``delta_ratio`` is mean |δ| over
    the output layer's mean |δ| (None when that is 0 or not finite)."""

    index: int
    activation: str
    neurons: int
    grad_norm: float
    mean_abs_delta: float
    delta_ratio: Optional[float]
    dead: Optional[int]
    saturated: Optional[int]
    flags: Tuple[str, ...]


@dataclass(frozen=True)
class HealthReport:
    """What ``health`` measured: one ``LayerHealth`` per layer, first layer first."""

    layers: Tuple[LayerHealth, ...]
    samples: int
    loss: str
    err: float
    model: str

    @property
    def flags(self) -> Tuple[str, ...]:
        """Every flag raised in any layer, once each, in a fixed order."""
        raised = {f for layer in self.layers for f in layer.flags}
        if not math.isfinite(self.err):
            raised.add("non-finite")
        return tuple(f for f in ("vanishing", "exploding", "non-finite") if f in raised)

    @property
    def vanishing(self) -> bool:
        return "vanishing" in self.flags

    @property
    def exploding(self) -> bool:
        return "exploding" in self.flags

    @property
    def non_finite(self) -> bool:
        return "non-finite" in self.flags

    @property
    def ok(self) -> bool:
        """No layer flagged."""
        return not self.flags

    def __str__(self) -> str:
        head = ["layer", "neurons", "activation", "‖∂Err/∂θ‖", "mean |δ|", "δ / δ_out", "dead ReLU",
                "saturated", "flags"]
        rows = []
        for h in self.layers:
            rows.append([str(h.index), str(h.neurons), h.activation, _fmt(h.grad_norm),
                         _fmt(h.mean_abs_delta),
                         "-" if h.delta_ratio is None else _fmt(h.delta_ratio),
                         _count(h.dead, h.neurons), _count(h.saturated, h.neurons),
                         ", ".join(h.flags) or "ok"])
        widths = [max(len(r[c]) for r in [head] + rows) for c in range(len(head))]
        line = "  ".join

        def fmt_row(r: List[str]) -> str:
            return line(cell.rjust(w) if c < 2 or 3 <= c <= 5 else cell.ljust(w)
                        for c, (cell, w) in enumerate(zip(r, widths))).rstrip()

        out = [f"Gradient health of {self.model}",
               f"on {self.samples} sample{'s' if self.samples != 1 else ''}, loss {self.loss}, "
               f"mean Err per sample = {_fmt(self.err)}",
               fmt_row(head), fmt_row(["-" * w for w in widths])]
        out += [fmt_row(r) for r in rows]
        out.append(f"verdict: {', '.join(self.flags) if self.flags else 'healthy'}")
        out += [
            f"thresholds: vanishing  mean |δ| < {VANISHING_RATIO:g} × the output layer's mean |δ|",
            f"            exploding  mean |δ| > {EXPLODING_RATIO:g} × the output layer's, "
            f"or ‖∂Err/∂θ‖ > {EXPLODING_NORM:g}",
            "            dead ReLU  u ≤ 0 on every sample",
            f"            saturated  σ'(u) < {SATURATION_SLOPE:g} on more than "
            f"{SATURATION_SHARE:.0%} of the samples"]
        return "\n".join(out)


def _fmt(x: float) -> str:
    """A number for the table, in columns of equal width; nan and inf are written out as a
    warning, never as 'nan'."""
    return fmt(x, 3, sci=True) if math.isfinite(x) else "NON-FINITE"


def _count(n: Optional[int], total: int) -> str:
    return "-" if n is None else f"{n}/{total}"


def health(model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any],
           loss: Union[str, Callable[..., Value]] = "mse", keep_grads: bool = False) -> HealthReport:
    """Measure gradient health of ``model`` (an ``nn.MLP``) on the batch ``X``, ``y``.

    Each sample gets its own forward pass (``model.trace``), its own ``Err`` (``loss``, a
    name from ``nn.LOSSES`` or a function ``loss(predictions, targets)``, called with
    one-element lists) and its own backward, so δ_i = ``u_i.grad`` is that sample's
    ∂Err/∂u_i.  ‖∂Err/∂θ‖ is the norm of the batch-mean gradient over each
    layer's weights.  Parameters' ``.grad`` are restored afterwards, unless ``keep_grads``,
    which leaves that batch-mean gradient in them (for an optimiser or ``clip_grad_norm``).
    """
    layers = getattr(model, "layers", None)
    if not callable(getattr(model, "trace", None)) or not layers:
        raise TypeError(f"health: model must be an nn.MLP (with .trace and .layers), "
                        f"got {type(model).__name__}")
    if len(X) != len(y):
        raise ValueError(f"health: {len(X)} inputs but {len(y)} targets; expected one target per input")
    if not len(X):
        raise ValueError("health: expected at least one sample, got an empty batch")
    loss_name, loss_fn = resolve(loss, "health")
    params = model.parameters()
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    sizes = [len(layer.neurons) for layer in layers]
    abs_delta = [0.0] * len(layers)
    alive = [[False] * n for n in sizes]  # u > 0 on some sample
    flat = [[0] * n for n in sizes]  # samples with σ'(u) < SATURATION_SLOPE
    err_total = 0.0
    try:
        for x, target in zip(X, y):
            record = model.trace(x)
            err = loss_fn([record.output], [target])  # one sample: "mean" and "sum" agree
            err.backward()
            err_total += err.data
            for i, lt in enumerate(record.layers):
                for j, (u, o) in enumerate(zip(lt.u, lt.o)):
                    abs_delta[i] += abs(u.grad)
                    if u.data > 0.0:
                        alive[i][j] = True
                    # σ'(u) is o's stored local derivative ∂o/∂u (from the op table).
                    if o is not u and o.local_grads[0] < SATURATION_SLOPE:
                        flat[i][j] += 1
        n = len(X)
        norms = [_weight_norm(layer, n) for layer in layers]
        if keep_grads:
            for p in params:
                p.grad /= n
    finally:
        if not keep_grads:
            for p, g in zip(params, saved):
                p.grad = g
    means = [abs_delta[i] / (n * sizes[i]) for i in range(len(layers))]
    reference = means[-1]
    usable = math.isfinite(reference) and reference > 0.0
    result = tuple(_layer_health(i, layer.neurons[0].activation, norms[i], means[i],
                                 means[i] / reference if usable else None, alive[i], flat[i], n)
                   for i, layer in enumerate(layers))
    return HealthReport(result, n, loss_name, err_total / n, repr(model))


def _weight_norm(layer: Any, n: int) -> float:
    """‖∂Err/∂θ‖ over the layer's weights, of the batch mean (the grads hold the sum over n samples)."""
    return math.sqrt(sum((w.grad / n) ** 2 for neuron in layer.neurons for w in neuron.w))


def _layer_health(i: int, act: str, norm: float, mean: float, ratio: Optional[float],
                  alive: List[bool], flat: List[int], n: int) -> LayerHealth:
    """Layer ``i``'s figures and its flags against the thresholds."""
    flags = []
    if ratio is not None and ratio < VANISHING_RATIO:
        flags.append("vanishing")
    if (ratio is not None and ratio > EXPLODING_RATIO) or norm > EXPLODING_NORM:
        flags.append("exploding")
    if not (math.isfinite(norm) and math.isfinite(mean)):
        flags.append("non-finite")
    dead = sum(not a for a in alive) if act == "relu" else None
    saturated = sum(c > SATURATION_SHARE * n for c in flat) if act in _SQUASHING else None
    return LayerHealth(i, act, len(alive), norm, mean, ratio, dead, saturated, tuple(flags))
