"""``fit(..., compile=True)``'s step: the eager step's numbers, run as generated code.

``CompiledStep`` has the eager step's interface, ``step(xb, yb) -> (Err, predictions)``
leaving ∂Err/∂θ in ``θ.grad``.  For the built-in losses, whose Err is the mean of one
term per sample (plus the L2 penalty), it compiles ONE SAMPLE: ``autograd.compile`` traces
the model's forward pass, the sample's loss term and their backward once, with the
parameters as variables and the sample's numbers (and, for mse, its target) as inputs,
and the step runs that code once per sample, accumulating the gradients; the batch's sum
of terms, its 1/n and the L2 term are a few lines of plain float code.  Compiling takes
milliseconds and stays the same for any batch size; there is nothing to recompile when
the mix of labels in a mini-batch changes.  Losses that pick their formula by the label
(hinge's 1 − s or 1 + s, bce's, cross_entropy's class) get one compiled sample per label
value (two for hinge and bce, one per class); mse takes the targets as inputs.

The step adds the same products in the same order as eager backward (the L2 term first,
then the samples from the last to the first, each seeded with the same 1/n), so losses and
weights are eager's to the last bit, full batch or mini-batches.  The one exception is
``cross_entropy``: it subtracts the largest logit as a constant, which the compiled sample
freezes at its trace-time value, so the loss is mathematically the same but rounds
differently (agreement to ~1e-14 relative) and is no longer guarded against overflow for
logits hundreds above the traced sample's.

A custom loss is a function of the whole batch, which need not be a sum over samples: for
it the whole batch objective is compiled, with its targets written into the code, one
compiled step per distinct batch of targets (the last ``COMPILE_CACHE_SIZE`` are kept; a
RuntimeWarning says when that recompiles more than it saves).  Samples must be plain
numbers; a loss or model that needs a Value's number in Python (``float(v)``, ``v > 0``)
cannot be traced (a TypeError says so), and Python decisions on ``.data`` are frozen.
``detect_anomaly()`` does not see inside compiled code: hunt NaNs with compile=False.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from itertools import chain
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

from autograd import Value
from autograd import compile as _compile
from autograd.compile import traced as _traced
from autograd.validate import is_real

from . import losses as _losses
from .optim import Optimizer

__all__ = ["CompiledStep", "COMPILE_CACHE_SIZE"]

#: The built-in losses, whose Err is Σ of one term per sample (÷ n for "mean"): compiled
#: per sample.  mse's formula does not depend on the target's value: its targets are inputs.
_PER_SAMPLE = (_losses.mse, _losses.hinge, _losses.bce_with_logits, _losses.cross_entropy)

#: How many compiled steps a ``CompiledStep`` keeps; the least recently used goes first.
COMPILE_CACHE_SIZE = 64
#: A step warns (once) when at least this many compiles were needed ...
_WARN_COMPILES = 16
# ... and more than half of the steps so far needed one.

#: A compiled sample: its generated function, the variables it reads (None: it takes the
#: weights and gradient lists instead), and whether the model has a single output.
_Program = Tuple[Callable[..., Any], Optional[Tuple[Value, ...]], bool]

#: A batch objective: (samples, targets) -> (Err, predictions), built eagerly.
Objective = Callable[[Sequence[Any], Sequence[Any]], Tuple[Value, List[Any]]]


def _hashable(target: Any) -> Any:
    """A target as a dictionary key: lists (several outputs' targets) become tuples."""
    if target.__class__ is list or target.__class__ is tuple:
        return tuple(map(_hashable, target))
    return target


def _target_keys(y: Sequence[Any]) -> List[Any]:
    """Every target as a key (checked hashable), for a compiled step's cache."""
    keys = [_hashable(t) for t in y]
    for i, k in enumerate(keys):
        try:
            hash(k)
        except TypeError:
            raise TypeError(f"fit(compile=True): targets must be numbers or lists of numbers "
                            f"(they are written into the compiled step), got y[{i}] = "
                            f"{type(y[i]).__name__}: {y[i]!r:.80}") from None
    return keys


def _float_rows(X: Sequence[Any]) -> List[List[float]]:
    """The samples as lists of floats, all of one length: a compiled step's inputs."""
    rows: List[List[float]] = []
    for i, x in enumerate(X):
        if x.__class__ is not list and x.__class__ is not tuple:
            if isinstance(x, (str, bytes, Mapping, AbstractSet)) or not isinstance(x, Iterable):
                raise TypeError(f"fit(compile=True): X[{i}] must be a list of numbers, got "
                                f"{type(x).__name__}: {x!r:.80}")
            x = list(x)  # any other iterable, as the model itself accepts
        row = []
        for j, v in enumerate(x):
            if v.__class__ is not float:
                if not is_real(v):
                    raise TypeError(
                        f"fit(compile=True): X[{i}][{j}] must be a number, got {type(v).__name__}: "
                        f"{v!r:.80}; a compiled step takes the samples as plain numbers "
                        "(use compile=False to train on Values)")
                v = float(v)
            row.append(v)
        if rows and len(row) != len(rows[0]):
            raise ValueError(f"fit(compile=True): X[{i}] has {len(row)} numbers but X[0] has "
                             f"{len(rows[0])}; every sample needs the same number of inputs")
        rows.append(row)
    return rows


def _float_targets(y: Sequence[Any]) -> Optional[List[Any]]:
    """mse's targets as floats (or lists of k floats), to be traced as inputs; None if not all so."""
    out: List[Any] = []
    width = -1
    for t in y:
        if t.__class__ is list or t.__class__ is tuple:
            if not all(is_real(v) for v in t):
                return None
            t, k = [float(v) for v in t], len(t)
        elif not is_real(t):
            return None
        else:
            t, k = float(t), -1
        if out and k != width:
            return None
        out.append(t)
        width = k
    return out


class CompiledStep:
    """``step(xb, yb) -> (Err, predictions)`` as generated code: ∂Err/∂θ goes into ``θ.grad``.

    ``X`` and ``y`` are converted once: call the step with batches of ``self.X`` and
    ``self.y``.  ``compiled_steps`` counts the compiles (per label value for hinge, bce and
    cross_entropy, once for mse, per distinct batch of targets for a custom loss) and
    ``compile_seconds`` their time.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Value], optimizer: Optimizer,
                 X: Sequence[Any], y: Sequence[Any], objective: Objective, l2: float = 0.0) -> None:
        self.model, self.loss_fn, self.l2 = model, loss_fn, l2
        self.params = list(optimizer.params)
        self.zero_grad = optimizer.zero_grad
        self.objective = objective
        self.X = _float_rows(X)
        self.per_sample = loss_fn in _PER_SAMPLE
        traced = _float_targets(y) if loss_fn is _losses.mse else None
        self.traced_targets = traced is not None
        self.y: Sequence[Any] = traced if traced is not None else y
        # A custom loss's batches are sorted by target (``fit`` does it, by this key), so a
        # step only depends on how many samples have each target: fewer compiles.
        self.regroup_key: Optional[Callable[[int], Any]] = None
        if not self.per_sample and not self.traced_targets:
            keys = _target_keys(y)
            try:
                sorted(keys)
                self.regroup_key = keys.__getitem__
            except TypeError:  # targets without an order: no regrouping, only more compiles
                pass
        self.batch_steps = None if self.per_sample else _BatchSteps(self)
        self.samples: Dict[Any, _Program] = {}
        self.steps = 0
        self.compiled_steps = 0
        self.compile_seconds = 0.0

    def __call__(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[float, List[Any]]:
        self.steps += 1
        if self.batch_steps is not None:
            return self.batch_steps(xb, yb)
        programs = self._programs(xb, yb)
        self.zero_grad()
        params, l2, n = self.params, self.l2, len(xb)
        seed = 1.0 / n if n > 1 else 1.0  # the gradient eager's Err passes to each term
        weights = [p.data for p in params]  # read once per batch
        if l2:  # eager adds ∂(l2·Σθ²)/∂θ first: the dot node θ·θ gives each θ two l2·θ
            grads = [0.0 + w * l2 + w * l2 for w in weights]
        else:
            grads = [0.0] * len(params)
        state = (weights, grads)
        terms = [0.0] * n
        preds: List[Any] = [None] * n
        traced = self.traced_targets
        tail = [seed]
        for i in range(n - 1, -1, -1):  # eager's backward meets the samples last to first
            fn, variables, single = programs[i]
            if traced:
                t = yb[i]
                tail = [t, seed] if t.__class__ is float else [*t, seed]
            if variables is None:
                result = fn(xb[i] + tail, state)[1]
            else:  # variables beyond the optimiser's: their .grad is read and written per call
                for p, g in zip(params, grads):
                    p.grad = g
                result = fn(xb[i] + tail, variables)[1]
                grads = [p.grad for p in params]
                state = (weights, grads)
            terms[i] = result[0]
            preds[i] = result[1] if single else list(result[1:])
        for p, g in zip(params, grads):
            p.grad = g
        total = 0.0
        for term in terms:
            total += term
        err = total * seed if n > 1 else total
        if l2:
            squares = 0.0  # Σθ² as eager's dot node adds it, left to right
            for w in weights:
                squares += w * w
            err = err + l2 * squares
        return err, preds

    def _programs(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> List[_Program]:
        """The compiled sample of each sample of the batch (compiling the ones not met yet)."""
        samples = self.samples
        if self.traced_targets:
            key = len(yb[0]) if yb[0].__class__ is list else -1
            program = samples.get(key)
            if program is None:
                program = samples[key] = self._build(xb, yb, 0)
            return [program] * len(xb)
        keys = [_hashable(t) for t in yb]
        out = []
        for i, key in enumerate(keys):
            try:
                program = samples.get(key)
            except TypeError:
                _target_keys(yb)  # says which target is not a number
                raise
            if program is None:
                program = samples[key] = self._build(xb, yb, i)
            out.append(program)
        return out

    def _sample_fn(self, target: Any) -> Callable[..., Tuple[Value, List[Any]]]:
        """One sample's (term · seed, [term, predictions...]), as a function to trace."""
        model, loss_fn, traced = self.model, self.loss_fn, self.traced_targets
        d = len(self.X[0])

        def sample(*flat: Value) -> Tuple[Value, List[Any]]:
            pred = model(list(flat[:d]))
            self._single = pred.__class__ is not list
            if traced:
                ts = flat[d:-1]
                t = ts[0] if target.__class__ is float else list(ts)
            else:
                t = target
            term = loss_fn([pred], [t])
            outs = pred if pred.__class__ is list else [pred]
            return term * flat[-1], [term, *outs]
        return sample

    def _build(self, xb: Sequence[List[float]], yb: Sequence[Any], i: int) -> _Program:
        """Compile the sample ``xb[i]`` with its target ``yb[i]``: (function, variables, outputs)."""
        start = time.perf_counter()
        t = yb[i]
        flat = list(xb[i])
        if self.traced_targets:
            flat += [t] if t.__class__ is float else list(t)
        flat.append(1.0)
        try:
            compiled = _traced(self._sample_fn(t), flat, has_aux=True)
        except Exception as e:  # sorted out below, outside this handler
            failure = e
        else:
            accumulate = compiled.accumulator(self.params)
            program: _Program
            if accumulate is not None:
                program = (accumulate, None, self._single)
            else:
                program = (compiled.function("step"), compiled.variables, self._single)
            self.compiled_steps += 1
            self.compile_seconds += time.perf_counter() - start
            return program
        _cannot_trace(self.objective, xb, yb, failure)


def _cannot_trace(objective: Objective, xb: Sequence[Any], yb: Sequence[Any],
                  failure: Exception) -> NoReturn:
    """Raise what eager raises for this batch (bad labels, log of 0, ...) as compile=False
    would; only what fails under tracing alone is compile's own limit, said as such."""
    objective(xb, yb)
    raise TypeError(f"fit(compile=True) cannot trace a training step of this model and loss, "
                    f"which eager mode runs; use compile=False. Tracing said: {failure}"
                    ) from failure


class _BatchSteps:
    """A custom loss's compiled steps: the whole batch objective, one per batch of targets."""

    def __init__(self, step: CompiledStep) -> None:
        self.step = step
        self.cache: OrderedDict[Any, Any] = OrderedDict()
        self.warned = False

    def __call__(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[float, List[Any]]:
        key = tuple(yb)
        try:
            hash(key)
        except TypeError:
            key = tuple(_target_keys(yb))
        compiled = self.cache.get(key)
        if compiled is None:
            compiled = self.cache[key] = self._build(xb, yb)
            if len(self.cache) > COMPILE_CACHE_SIZE:
                self.cache.popitem(last=False)
            self._warn_if_compiling_often()
        else:
            self.cache.move_to_end(key)
        self.step.zero_grad()
        return compiled(*chain.from_iterable(xb))  # type: ignore[no-any-return]  # (Err, predictions)

    def _build(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Any:
        step, n, d = self.step, len(xb), len(xb[0])
        objective = step.objective

        def traced(*flat: Value) -> Tuple[Value, List[Any]]:
            return objective([list(flat[i * d:(i + 1) * d]) for i in range(n)], yb)

        start = time.perf_counter()
        try:
            compiled = _compile(traced, list(chain.from_iterable(xb)), has_aux=True)
        except Exception as e:  # sorted out below, outside this handler
            failure = e
        else:
            step.compiled_steps += 1
            step.compile_seconds += time.perf_counter() - start
            return compiled
        _cannot_trace(objective, xb, yb, failure)

    def _warn_if_compiling_often(self) -> None:
        step = self.step
        if self.warned or step.compiled_steps < _WARN_COMPILES or 2 * step.compiled_steps <= step.steps:
            return
        self.warned = True
        warnings.warn(
            f"fit(compile=True): {step.compiled_steps} of the first {step.steps} steps had "
            f"to compile a new step ({step.compile_seconds:.1f} s so far). A custom loss is "
            "compiled with the batch's targets written into the code and here they keep "
            "changing (many distinct targets, or many mixes of labels per mini-batch), so "
            "compiling costs more than it saves; use compile=False or full batches "
            "(batch_size=None).", RuntimeWarning, stacklevel=5)  # _warn..., __call__ x2, fit, fit's caller
