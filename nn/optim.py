"""Optimisers, learning-rate schedules and gradient clipping.

An optimiser holds a list of parameter Values and, at ``step()``, moves each one
against its gradient: the textbook's ``θ ← θ − η·∂Err/∂θ`` (``SGD``), with optional
momentum and weight decay, or Adam's per-parameter step sizes.  Updates write
``.data`` directly, so they build no graph.  The semantics follow PyTorch's
``torch.optim``: weight decay adds ``wd·θ`` to the gradient, SGD's momentum buffer
is ``b ← μ·b + g``, Adam's moments are bias-corrected.

A schedule changes ``optimizer.lr`` as training goes; call its ``step()`` after
``optimizer.step()``, as in PyTorch.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, List, Sequence, Tuple

from autograd import Value

__all__ = [
    "Optimizer", "SGD", "Adam",
    "Schedule", "LinearDecay", "StepDecay", "ExponentialDecay", "CosineDecay",
    "clip_grad_norm", "clip_grad_value",
]

_isfinite = math.isfinite


def _number(x: object, what: str) -> float:
    """``x`` as a finite float, or a TypeError/ValueError naming ``what``."""
    if x.__class__ is bool or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    x = float(x)
    if not _isfinite(x):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return x


def _param_list(params: Iterable[Value], who: str) -> List[Value]:
    """The parameters as a list of distinct Values, or a clear error."""
    if isinstance(params, Value) or not hasattr(params, "__iter__"):
        hint = " (pass model.parameters())" if hasattr(params, "parameters") else ""
        raise TypeError(f"{who}: params must be an iterable of Values{hint}, "
                        f"got {type(params).__name__}")
    out = list(params)
    if not out:
        raise ValueError(f"{who}: params is empty; there is nothing to optimise")
    seen = set()
    for i, p in enumerate(out):
        if p.__class__ is not Value:
            raise TypeError(f"{who}: params[{i}] is a {type(p).__name__}, not a Value")
        if id(p) in seen:
            raise ValueError(f"{who}: params[{i}] appears more than once; "
                             "it would be updated twice per step")
        seen.add(id(p))
    return out


def _check_grads(params: Sequence[Value], who: str) -> List[float]:
    """The gradients, after making sure none is inf or nan (else FloatingPointError).

    One C-level ``sum`` covers the common case; only when it is not finite are the
    gradients scanned one by one to name the culprit (a finite sum that overflowed is fine).
    """
    grads = [p.grad for p in params]
    if not _isfinite(sum(grads)):
        for i, g in enumerate(grads):
            if not _isfinite(g):
                p = params[i]
                name = f" {p.label!r}" if p.label else ""
                raise FloatingPointError(
                    f"{who}.step(): parameter {i}{name} (data={p.data!r}) has the gradient {g!r}; "
                    "no weight was changed. Lower the learning rate, clip gradients, or look "
                    "for the op that overflowed with autograd.detect_anomaly()")
    return grads


class Optimizer:
    """Base class: a list of parameters, a learning rate ``lr`` and ``zero_grad()``."""

    def __init__(self, params: Iterable[Value], lr: float, weight_decay: float = 0.0) -> None:
        name = type(self).__name__
        self.params: List[Value] = _param_list(params, name)
        self.lr = lr
        weight_decay = _number(weight_decay, f"{name} weight_decay")
        if weight_decay < 0.0:
            raise ValueError(f"{name}: weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = weight_decay
        self.steps = 0

    @property
    def lr(self) -> float:
        """The learning rate η; schedules set it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = _number(value, f"{type(self).__name__} lr")
        if value < 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {value!r}")
        self._lr = value

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across backward calls)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:  # pragma: no cover - every optimiser overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self._lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent: ``θ ← θ − η·g`` with ``g = ∂Err/∂θ (+ wd·θ)``.

    With ``momentum`` μ > 0 each parameter keeps a buffer ``b ← μ·b + g`` and moves by
    ``−η·b`` (PyTorch's form; the first step uses ``b = g``).
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        momentum = _number(momentum, "SGD momentum")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self._buffers = [0.0] * len(self.params)

    def step(self) -> None:
        """Move every parameter one step against its gradient."""
        params = self.params
        grads = _check_grads(params, "SGD")
        lr, wd, mu = self._lr, self.weight_decay, self.momentum
        if wd:
            grads = [g + wd * p.data for p, g in zip(params, grads)]
        if mu:
            bufs = self._buffers
            for i, g in enumerate(grads):
                bufs[i] = b = mu * bufs[i] + g
                params[i].data -= lr * b
        else:
            for p, g in zip(params, grads):
                p.data -= lr * g
        self.steps += 1


class Adam(Optimizer):
    """Adam: step sizes from running averages of the gradient and its square.

    ``m ← β₁·m + (1−β₁)·g``, ``v ← β₂·v + (1−β₂)·g²``, then
    ``θ ← θ − η·m̂ / (√v̂ + ε)`` with the bias-corrected ``m̂ = m/(1−β₁ᵗ)``,
    ``v̂ = v/(1−β₂ᵗ)``.  ``weight_decay`` adds ``wd·θ`` to ``g`` (L2, not AdamW).
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"Adam: betas must be a pair (β1, β2), got {betas!r}") from None
        b1, b2 = _number(b1, "Adam beta1"), _number(b2, "Adam beta2")
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam: betas[{i}] must be in [0, 1), got {b!r}")
        eps = _number(eps, "Adam eps")
        if eps <= 0.0:
            raise ValueError(f"Adam: eps must be > 0, got {eps!r}")
        self.betas = (b1, b2)
        self.eps = eps
        n = len(self.params)
        self._m = [0.0] * n
        self._v = [0.0] * n

    def step(self) -> None:
        """One Adam update of every parameter."""
        params = self.params
        grads = _check_grads(params, "Adam")
        wd = self.weight_decay
        if wd:
            grads = [g + wd * p.data for p, g in zip(params, grads)]
        b1, b2 = self.betas
        self.steps = t = self.steps + 1
        step_size = self._lr / (1.0 - b1 ** t)
        root_c2 = math.sqrt(1.0 - b2 ** t)
        eps, m, v, sqrt = self.eps, self._m, self._v, math.sqrt
        c1, c2 = 1.0 - b1, 1.0 - b2
        for i, g in enumerate(grads):
            m[i] = mi = b1 * m[i] + c1 * g
            v[i] = vi = b2 * v[i] + c2 * g * g
            params[i].data -= step_size * mi / (sqrt(vi) / root_c2 + eps)


# --- learning-rate schedules ---------------------------------------------------------

class Schedule:
    """Sets ``optimizer.lr`` from the number of ``step()`` calls so far (``last_step``).

    Making a schedule sets the learning rate for step 0; each ``step()`` (call it after
    ``optimizer.step()``) moves to the next.  Subclasses give ``lr_at(k)``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimiser (SGD, Adam), "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0

    def lr_at(self, k: int) -> float:  # pragma: no cover - every schedule overrides it
        raise NotImplementedError

    def _start(self) -> None:
        self.optimizer.lr = self.lr_at(0)

    def step(self) -> float:
        """Advance one step and set (and return) the optimiser's new learning rate."""
        self.last_step += 1
        lr = self.lr_at(self.last_step)
        self.optimizer.lr = lr
        return lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step {self.last_step}, lr={self.optimizer.lr!r})"


def _count(x: object, what: str, minimum: int = 1) -> int:
    if x.__class__ is bool or not isinstance(x, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(x).__name__}: {x!r}")
    if x < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {x!r}")
    return int(x)


class LinearDecay(Schedule):
    """η goes in a straight line from ``start`` (step 0) to ``end`` (step ``steps``), then stays.

    micrograd's demo is ``LinearDecay(opt, 1.0, 0.1, 100)``: η_k = 1 − 0.9·k/100.
    """

    def __init__(self, optimizer: Optimizer, start: float, end: float, steps: int) -> None:
        super().__init__(optimizer)
        self.start = _number(start, "LinearDecay start")
        self.end = _number(end, "LinearDecay end")
        if self.start < 0.0 or self.end < 0.0:
            raise ValueError(f"LinearDecay: start and end must be >= 0, got {start!r}, {end!r}")
        self.steps = _count(steps, "LinearDecay steps")
        self._start()

    def lr_at(self, k: int) -> float:
        if k >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * k / self.steps


class StepDecay(Schedule):
    """η is multiplied by ``gamma`` every ``step_size`` steps (PyTorch's StepLR)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _count(step_size, "StepDecay step_size")
        self.gamma = _number(gamma, "StepDecay gamma")
        if self.gamma < 0.0:
            raise ValueError(f"StepDecay: gamma must be >= 0, got {gamma!r}")

    def lr_at(self, k: int) -> float:
        return self.base_lr * self.gamma ** (k // self.step_size)


class ExponentialDecay(Schedule):
    """η_k = η_0·γᵏ: multiplied by ``gamma`` every step (PyTorch's ExponentialLR)."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = _number(gamma, "ExponentialDecay gamma")
        if self.gamma < 0.0:
            raise ValueError(f"ExponentialDecay: gamma must be >= 0, got {gamma!r}")

    def lr_at(self, k: int) -> float:
        return self.base_lr * self.gamma ** k


class CosineDecay(Schedule):
    """η follows half a cosine from η_0 down to ``end`` over ``steps`` steps, then stays."""

    def __init__(self, optimizer: Optimizer, steps: int, end: float = 0.0) -> None:
        super().__init__(optimizer)
        self.steps = _count(steps, "CosineDecay steps")
        self.end = _number(end, "CosineDecay end")
        if self.end < 0.0:
            raise ValueError(f"CosineDecay: end must be >= 0, got {end!r}")

    def lr_at(self, k: int) -> float:
        if k >= self.steps:
            return self.end
        return self.end + (self.base_lr - self.end) * 0.5 * (1.0 + math.cos(math.pi * k / self.steps))


# --- gradient clipping ---------------------------------------------------------------

def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all gradients together so their L2 norm is at most ``max_norm``.

    Returns the norm ‖g‖ = √(Σ g²) from before clipping.  When it exceeds ``max_norm``
    every gradient is multiplied by ``max_norm/‖g‖`` (the direction is kept).  A
    non-finite norm (an inf or nan gradient) is returned as it is and nothing is
    scaled: scaling cannot repair it, and the optimiser's ``step()`` will name the
    parameter.
    """
    params = _param_list(params, "clip_grad_norm")
    max_norm = _number(max_norm, "clip_grad_norm max_norm")
    if max_norm < 0.0:
        raise ValueError(f"clip_grad_norm: max_norm must be >= 0, got {max_norm!r}")
    grads = [p.grad for p in params]
    total = math.hypot(*grads)  # √(Σ g²) without overflow; inf if any g is inf, else nan if any is
    if _isfinite(total) and total > max_norm:
        for p, g in zip(params, grads):
            p.grad = g / total * max_norm  # |g/‖g‖| <= 1: no overflow
    return total


def clip_grad_value(params: Iterable[Value], clip: float) -> None:
    """Clamp every gradient into ``[−clip, clip]`` (each one on its own; nan stays nan)."""
    params = _param_list(params, "clip_grad_value")
    clip = _number(clip, "clip_grad_value clip")
    if clip < 0.0:
        raise ValueError(f"clip_grad_value: clip must be >= 0, got {clip!r}")
    low = -clip
    for p in params:
        g = p.grad
        if g > clip:
            p.grad = clip
        elif g < low:
            p.grad = low
