"""Optimisers, learning-rate schedules and gradient clipping.

An optimiser holds a list of parameter Values and, at ``step()``, moves each one
against its gradient: the textbook's ``θ ← θ − η·∂Err/∂θ`` (``SGD``), with optional
momentum (Nesterov's too) and weight decay, or per-parameter step sizes (``Adam``,
``AdamW``, ``RMSprop``).  Updates write the numbers directly (``autograd.value.assign``), so
they build no graph.
Argument names, defaults and updates follow PyTorch's ``torch.optim``: weight decay
adds ``wd·θ`` to the gradient (AdamW's shrinks the weights instead), SGD's momentum
buffer is ``b ← μ·b + (1 − dampening)·g``, Adam's moments are bias-corrected.

A schedule changes ``optimizer.lr`` as training goes; call its ``step()`` after
``optimizer.step()``, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Iterable, List, Optional, Sequence, Tuple

from autograd import Value
from autograd.validate import flag, integer, real
from autograd.value import assign, data_of, descend

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop",
    "Schedule", "LinearDecay", "StepDecay", "ExponentialDecay", "CosineDecay",
    "clip_grad_norm", "clip_grad_value",
]

_isfinite = math.isfinite


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
        self.weight_decay = real(weight_decay, f"{name}: weight_decay", 0.0)
        self.steps = 0

    @property
    def lr(self) -> float:
        """The learning rate η; schedules set it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = real(value, f"{type(self).__name__}: lr", 0.0)

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

    With ``momentum`` μ > 0 each parameter keeps a buffer, ``b = g`` on the first step and
    ``b ← μ·b + (1 − dampening)·g`` after, and moves by ``−η·b``; with ``nesterov`` it moves
    by ``−η·(g + μ·b)`` instead.  Arguments, defaults and update are PyTorch's.
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = _momentum(momentum, "SGD")
        dampening = real(dampening, "SGD: dampening")
        if not 0.0 <= dampening <= 1.0:
            raise ValueError(f"SGD: dampening must be in [0, 1], got {dampening!r}; each new "
                             "gradient is scaled by 1 − dampening, which outside [0, 1] would "
                             "flip or amplify it")
        self.dampening = dampening
        self.nesterov = flag(nesterov, "SGD nesterov")
        if self.nesterov and (self.momentum == 0.0 or dampening != 0.0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0, got "
                             f"momentum={self.momentum!r}, dampening={dampening!r}")
        self._buffers: Optional[List[float]] = None

    def step(self) -> None:
        """Move every parameter one step against its gradient."""
        params = self.params
        grads = _check_grads(params, "SGD")
        lr, wd, mu = self._lr, self.weight_decay, self.momentum
        if wd:
            grads = [g + wd * t for t, g in zip(data_of(params), grads)]
        if mu:
            bufs = self._buffers
            if bufs is None:  # PyTorch's first step: b = g, undamped
                self._buffers = bufs = list(grads)
            else:
                damp = 1.0 - self.dampening
                for i, g in enumerate(grads):
                    bufs[i] = mu * bufs[i] + damp * g
            if self.nesterov:
                grads = [g + mu * b for g, b in zip(grads, bufs)]
            else:
                grads = bufs
        descend(params, grads, lr)  # θ ← θ − η·g, in one pass
        self.steps += 1


class Adam(Optimizer):
    """Adam: step sizes from running averages of the gradient and its square.

    ``m ← β₁·m + (1−β₁)·g``, ``v ← β₂·v + (1−β₂)·g²``, then
    ``θ ← θ − η·m̂ / (√v̂ + ε)`` with the bias-corrected ``m̂ = m/(1−β₁ᵗ)``,
    ``v̂ = v/(1−β₂ᵗ)``.  ``weight_decay`` adds ``wd·θ`` to ``g`` (L2; see ``AdamW`` for
    decoupled decay).  ``amsgrad`` divides by the largest ``v̂`` seen so far instead.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        name = type(self).__name__
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"{name}: betas must be a pair (β1, β2), got {betas!r}") from None
        b1, b2 = real(b1, f"{name}: betas[0]"), real(b2, f"{name}: betas[1]")
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: betas[{i}] must be in [0, 1), got {b!r}")
        self.betas = (b1, b2)
        self.eps = _eps(eps, name)
        self.amsgrad = flag(amsgrad, f"{name} amsgrad")
        n = len(self.params)
        self._m = [0.0] * n
        self._v = [0.0] * n
        self._v_max = [0.0] * n

    def step(self) -> None:
        """One Adam update of every parameter."""
        params = self.params
        grads = _check_grads(params, type(self).__name__)
        theta = data_of(params)
        wd = self.weight_decay
        if wd and self._decoupled:
            shrink = 1.0 - self._lr * wd
            theta = [t * shrink for t in theta]
        elif wd:
            grads = [g + wd * t for t, g in zip(theta, grads)]
        b1, b2 = self.betas
        self.steps = t = self.steps + 1
        step_size = self._lr / (1.0 - b1 ** t)
        root_c2 = math.sqrt(1.0 - b2 ** t)
        eps, m, v, sqrt = self.eps, self._m, self._v, math.sqrt
        c1, c2 = 1.0 - b1, 1.0 - b2
        v_max = self._v_max if self.amsgrad else None
        for i, g in enumerate(grads):
            m[i] = mi = b1 * m[i] + c1 * g
            v[i] = vi = b2 * v[i] + c2 * g * g
            if v_max is not None:
                if vi > v_max[i]:
                    v_max[i] = vi
                vi = v_max[i]
            theta[i] -= step_size * (mi / (sqrt(vi) / root_c2 + eps))
        assign(params, theta)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``θ ← θ·(1 − η·wd)`` before the Adam step.

    The decay shrinks the weights directly instead of entering ``g`` (and so the moment
    averages), as in Loshchilov and Hutter's AdamW and PyTorch's, whose default
    ``weight_decay=0.01`` it shares.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop: divide each gradient by a running root mean square of its past values.

    ``s ← α·s + (1−α)·g²``, then ``θ ← θ − η·g / (√s + ε)``.  ``centered`` also keeps
    ``ḡ ← α·ḡ + (1−α)·g`` and divides by ``√(s − ḡ²) + ε`` (an estimate of the variance);
    ``momentum`` μ keeps ``b ← μ·b + g/(…)`` and moves by ``−η·b``.  As PyTorch's.
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        alpha = real(alpha, "RMSprop: alpha")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha!r}; above 1 the "
                             "running mean of g² weighs new gradients by 1 − alpha < 0 and can "
                             "go negative")
        self.alpha = alpha
        self.eps = _eps(eps, "RMSprop")
        self.momentum = _momentum(momentum, "RMSprop")
        self.centered = flag(centered, "RMSprop centered")
        n = len(self.params)
        self._square_avg = [0.0] * n
        self._grad_avg = [0.0] * n
        self._buffers = [0.0] * n

    def step(self) -> None:
        """One RMSprop update of every parameter."""
        params = self.params
        grads = _check_grads(params, "RMSprop")
        theta = data_of(params)
        lr, wd, mu, eps, sqrt = self._lr, self.weight_decay, self.momentum, self.eps, math.sqrt
        if wd:
            grads = [g + wd * t for t, g in zip(theta, grads)]
        alpha = self.alpha
        c = 1.0 - alpha
        sq, gavg, bufs = self._square_avg, self._grad_avg, self._buffers
        for i, g in enumerate(grads):
            sq[i] = s = alpha * sq[i] + c * g * g
            if self.centered:
                gavg[i] = a = alpha * gavg[i] + c * g
                s -= a * a  # ≥ 0 in exact arithmetic; max() below keeps rounding out of √
                avg = sqrt(s if s > 0.0 else 0.0) + eps
            else:
                avg = sqrt(s) + eps
            if mu:
                bufs[i] = d = mu * bufs[i] + g / avg
                theta[i] -= lr * d
            else:
                theta[i] -= lr * (g / avg)
        assign(params, theta)
        self.steps += 1


def _momentum(momentum: object, who: str) -> float:
    """A momentum μ in [0, 1]: PyTorch takes any μ ≥ 0, but above 1 the buffer grows without bound."""
    momentum = real(momentum, f"{who}: momentum")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{who}: momentum must be in [0, 1], got {momentum!r}; above 1 the "
                         "buffer b ← μ·b + g grows geometrically and every step is larger "
                         "than the last")
    return momentum


def _eps(eps: object, who: str) -> float:
    return real(eps, f"{who}: eps", 0.0, strict=True)


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


class LinearDecay(Schedule):
    """η goes in a straight line from ``start`` (step 0) to ``end`` (step ``steps``), then stays.

    micrograd's demo is ``LinearDecay(opt, 1.0, 0.1, 100)``: η_k = 1 − 0.9·k/100.
    """

    def __init__(self, optimizer: Optimizer, start: float, end: float, steps: int) -> None:
        super().__init__(optimizer)
        self.start = real(start, "LinearDecay: start", 0.0)
        self.end = real(end, "LinearDecay: end", 0.0)
        self.steps = integer(steps, "LinearDecay: steps", 1)
        self._start()

    def lr_at(self, k: int) -> float:
        if k >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * k / self.steps


class StepDecay(Schedule):
    """η is multiplied by ``gamma`` every ``step_size`` steps (PyTorch's StepLR)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = integer(step_size, "StepDecay: step_size", 1)
        self.gamma = real(gamma, "StepDecay: gamma", 0.0)

    def lr_at(self, k: int) -> float:
        return self.base_lr * self.gamma ** (k // self.step_size)


class ExponentialDecay(Schedule):
    """η_k = η_0·γᵏ: multiplied by ``gamma`` every step (PyTorch's ExponentialLR)."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = real(gamma, "ExponentialDecay: gamma", 0.0)

    def lr_at(self, k: int) -> float:
        return self.base_lr * self.gamma ** k


class CosineDecay(Schedule):
    """η follows half a cosine from η_0 down to ``end`` over ``steps`` steps, then stays."""

    def __init__(self, optimizer: Optimizer, steps: int, end: float = 0.0) -> None:
        super().__init__(optimizer)
        self.steps = integer(steps, "CosineDecay: steps", 1)
        self.end = real(end, "CosineDecay: end", 0.0)

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
    max_norm = real(max_norm, "clip_grad_norm: max_norm", 0.0)
    grads = [p.grad for p in params]
    total = math.hypot(*grads)  # √(Σ g²) without overflow; inf if any g is inf, else nan if any is
    if _isfinite(total) and total > max_norm:
        for p, g in zip(params, grads):
            p.grad = g / total * max_norm  # |g/‖g‖| <= 1: no overflow
    return total


def clip_grad_value(params: Iterable[Value], clip: float) -> None:
    """Clamp every gradient into ``[−clip, clip]`` (each one on its own; nan stays nan)."""
    params = _param_list(params, "clip_grad_value")
    clip = real(clip, "clip_grad_value: clip", 0.0)
    low = -clip
    for p in params:
        g = p.grad
        if g > clip:
            p.grad = clip
        elif g < low:
            p.grad = low
