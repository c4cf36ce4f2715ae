"""``fit(..., compile=True)``'s step: the eager step's numbers, run as generated code.

``CompiledStep`` has the eager step's interface, ``step(xb, yb) -> (Err, predictions)``
leaving ∂Err/∂θ in ``θ.grad``.  For the built-in losses, whose Err is the mean of one
term per sample (plus the L2 penalty), it compiles ONE SAMPLE: ``autograd.compile`` traces
the model's forward pass, the sample's loss term and their backward once, with the
parameters as variables and the sample's numbers as inputs, and the step runs that code
for every sample of the batch in one generated loop (``autograd.compile.batch_accumulator``:
the weights read once per batch, the gradients summed in local variables); the batch's
sum of terms, its 1/n and the L2 term are a few lines of plain float code.  Compiling
takes milliseconds and stays the same for any batch size and any mix of labels.  mse
takes the target as an input; hinge and bce take the label as an input factor ±1 (hinge's
1 − y·s is 1 − s or s + 1 to the bit, bce's softplus(±z) likewise); cross_entropy, whose
formula picks the logit of the label's class, gets one compiled sample per class, all in
the same loop, which branches on each sample's class.

The step adds the same products in the same order as eager backward (the L2 term first,
then the samples from the last to the first, each seeded with the same 1/n), so losses and
weights are eager's to the last bit, full batch or mini-batches, cross_entropy included:
its max-logit shift (log-sum-exp's m) is computed on every call from the logits, as eager
computes it (``autograd.compile.input_is_max``), not frozen at its trace-time value.

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

from autograd import Compiled, Value
from autograd import compile as _compile
from autograd import sum as vsum
from autograd.compile import batch_accumulator, input_is_max
from autograd.compile import traced as _traced
from autograd.validate import is_real
from autograd.value import data_of

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


def _hinge_term(s: Value, f: Value) -> Value:
    """hinge's term of one sample with label factor f = y: 1 − f·s is 1 − s for f = +1 and
    s + 1 for f = −1 to the bit (×±1 is exact), and so is each gradient product."""
    return vsum([(1.0 - f * s).relu()])


def _bce_term(z: Value, f: Value) -> Value:
    """bce_with_logits's term with factor f = +1 for label 0 (softplus(z)), −1 for label 1
    (softplus(−z)): f·z is z or −z exactly, and ∂/∂z picks up the same ×±1 as neg's."""
    return vsum([(f * z).softplus()])


def _cross_entropy_term(logits: Any, c: Any, shift: Value) -> Value:
    """cross_entropy's term of one sample of class c, its max-logit shift m the input
    ``shift``, computed on each call as eager computes m (``input_is_max``): the same
    floats as eager's, overflow guard included."""
    if logits.__class__ is not list or not all(z.__class__ is Value for z in logits):
        return _losses.cross_entropy([logits], [c])  # eager's error, or m frozen (not Values)
    c = _losses._class_index(c, len(logits), "sample 0")  # eager's error, if not a class
    input_is_max(shift, logits)
    shifted = [z - shift for z in logits]
    return vsum([vsum([s.exp() for s in shifted]).log() - shifted[c]])


#: Losses that pick their formula by a binary label, written with the label as an input
#: (a factor ±1, exact): label -> factor, and the sample's term from (prediction, factor).
_FACTORS: Dict[Any, Tuple[Dict[Any, float], Callable[[Value, Value], Value]]] = {
    _losses.hinge: ({1: 1.0, -1: -1.0}, _hinge_term),
    _losses.bce_with_logits: ({0: 1.0, 1: -1.0}, _bce_term),
}


def _label_factors(y: Sequence[Any], factors: Dict[Any, float]) -> Optional[List[float]]:
    """Each label's factor; None if some label is not one of ``factors`` (eager's error
    for it then comes from the per-label path, when its batch is met)."""
    out = []
    for t in y:
        f = factors.get(t) if is_real(t) else None
        if f is None:
            return None
        out.append(f)
    return out


class CompiledStep:
    """``step(xb, yb) -> (Err, predictions)`` as generated code: ∂Err/∂θ goes into ``θ.grad``.

    ``X`` and ``y`` are converted once: call the step with batches of ``self.X`` and
    ``self.y``.  ``compiled_steps`` counts the compiled samples (one for mse, hinge and
    bce, whose targets or labels are inputs; one per class for cross_entropy; one per
    distinct batch of targets for a custom loss) and ``compile_seconds`` their time.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Value], optimizer: Optimizer,
                 X: Sequence[Any], y: Sequence[Any], objective: Objective, l2: float = 0.0) -> None:
        self.model, self.loss_fn, self.l2 = model, loss_fn, l2
        self.params = list(optimizer.params)
        self.zero_grad = optimizer.zero_grad
        self.objective = objective
        self.X = _float_rows(X)
        self.per_sample = loss_fn in _PER_SAMPLE
        # the sample's inputs after its numbers: "targets" (mse), a label "factor" (hinge,
        # bce), or nothing ("labels": one compiled sample per label value)
        self.inputs = "labels"
        self.term: Optional[Callable[[Value, Value], Value]] = None
        self.shift = loss_fn is _losses.cross_entropy  # an input for its max-logit shift
        self.y: Sequence[Any] = y
        if loss_fn is _losses.mse:
            traced = _float_targets(y)
            if traced is not None:
                self.inputs, self.y = "targets", traced
        elif loss_fn in _FACTORS:
            factors, term = _FACTORS[loss_fn]
            found = _label_factors(y, factors)
            if found is not None:
                self.inputs, self.y, self.term = "factor", found, term
        # A custom loss's batches are sorted by target (``fit`` does it, by this key), so a
        # step only depends on how many samples have each target: fewer compiles.
        self.regroup_key: Optional[Callable[[int], Any]] = None
        if not self.per_sample:
            keys = _target_keys(y)
            try:
                sorted(keys)
                self.regroup_key = keys.__getitem__
            except TypeError:  # targets without an order: no regrouping, only more compiles
                pass
        self.batch_steps = None if self.per_sample else _BatchSteps(self)
        self.index: Dict[Any, int] = {}  # a label (or, for inputs, None) -> its compiled sample
        self.compiled: List[Compiled] = []
        self.batch: Optional[Callable[..., Any]] = None  # all compiled samples in one loop
        self.programs: List[_Program] = []  # else each one's own function
        self._single = True
        self.steps = 0
        self.compiled_steps = 0
        self.compile_seconds = 0.0

    def __call__(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[float, List[Any]]:
        self.steps += 1
        if self.batch_steps is not None:
            return self.batch_steps(xb, yb)
        keys = self._keys(xb, yb)
        n = len(xb)
        seed = 1.0 / n if n > 1 else 1.0  # the gradient eager's Err passes to each term
        # eager's backward meets the samples last to first
        rows = self._rows(xb, yb, seed)
        rows.reverse()
        if self.batch is not None:  # sets every θ.grad (the L2 term's gradient first)
            results, squares = self.batch(rows if len(self.compiled) == 1 else
                                          list(zip(reversed(keys), rows)))
        else:
            results, squares = self._one_by_one(rows, keys[::-1])
        results.reverse()
        total = 0.0  # Σ terms as eager's sum node adds them, first to last
        for result in results:
            total += result[0]
        if self._single:
            preds = [result[1] for result in results]
        else:
            preds = [list(result[1:]) for result in results]
        err = total * seed if n > 1 else total
        if self.l2:
            err = err + self.l2 * squares
        return err, preds

    def _rows(self, xb: Sequence[List[float]], yb: Sequence[Any], seed: float) -> List[List[float]]:
        """Each sample's inputs: its numbers, its target or label factor if traced, the seed."""
        if self.inputs == "labels":
            tail = [0.0, seed] if self.shift else [seed]  # (the shift's number is computed)
            return [x + tail for x in xb]
        if self.inputs == "factor" or yb[0].__class__ is float:
            return [x + [t, seed] for x, t in zip(xb, yb)]
        return [x + t + [seed] for x, t in zip(xb, yb)]

    def _one_by_one(self, rows: List[List[float]], keys: Sequence[int]) -> Tuple[List[Any], float]:
        """The samples run by their compiled functions one call each (when no loop could
        be made of them), setting every θ.grad: each call's aux values, in the order of
        ``rows``, and Σθ² (0.0 without an L2 term)."""
        params, programs, l2 = self.params, self.programs, self.l2
        weights = data_of(params)  # read once per batch
        squares = 0.0  # Σθ² as eager's dot node adds it, left to right
        if l2:  # eager adds ∂(l2·Σθ²)/∂θ first: the dot node θ·θ gives each θ two l2·θ
            grads = [0.0 + w * l2 + w * l2 for w in weights]
            for w in weights:
                squares += w * w
        else:
            grads = [0.0] * len(params)
        state = (weights, grads)
        results = []
        for row, k in zip(rows, keys):
            fn, variables, _ = programs[k]
            if variables is None:
                results.append(fn(row, state)[1])
                continue
            # variables beyond the optimiser's: their .grad is read and written per call
            for p, g in zip(params, grads):
                p.grad = g
            results.append(fn(row, variables)[1])
            grads[:] = [p.grad for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        return results, squares

    def _program(self, compiled: Compiled) -> _Program:
        """A compiled sample's own function: its accumulator, else its step and variables."""
        accumulate = compiled.accumulator(self.params)
        if accumulate is not None:
            return accumulate, None, self._single
        return compiled.function("step"), compiled.variables, self._single

    def _keys(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> List[int]:
        """Which compiled sample runs each sample (compiling the ones not met yet)."""
        index = self.index
        if self.inputs != "labels":  # one compiled sample takes them all
            if not index:
                self._add(None, xb, yb, 0)
            return [0] * len(xb)
        out = []
        for i, t in enumerate(yb):
            key = _hashable(t)
            try:
                k = index.get(key)
            except TypeError:
                _target_keys(yb)  # says which target is not a number
                raise
            if k is None:
                k = self._add(key, xb, yb, i)
            out.append(k)
        return out

    def _sample_fn(self, target: Any) -> Callable[..., Tuple[Value, List[Any]]]:
        """One sample's (term · seed, [term, predictions...]), as a function to trace."""
        model, loss_fn, inputs, term_fn = self.model, self.loss_fn, self.inputs, self.term
        shift = self.shift
        d = len(self.X[0])

        def sample(*flat: Value) -> Tuple[Value, List[Any]]:
            pred = model(list(flat[:d]))
            self._single = pred.__class__ is not list
            if term_fn is not None:
                term = term_fn(pred, flat[d])
            elif shift:
                term = _cross_entropy_term(pred, target, flat[d])
            else:
                if inputs == "targets":
                    ts = flat[d:-1]
                    t = ts[0] if target.__class__ is float else list(ts)
                else:
                    t = target
                term = loss_fn([pred], [t])
            outs = pred if pred.__class__ is list else [pred]
            return term * flat[-1], [term, *outs]
        return sample

    def _add(self, key: Any, xb: Sequence[List[float]], yb: Sequence[Any], i: int) -> int:
        """Compile the sample ``xb[i]`` with its target ``yb[i]`` and remake the loop over
        all compiled samples; the new one's index."""
        start = time.perf_counter()
        t = yb[i]
        flat = list(xb[i])
        if self.inputs != "labels":
            flat += [t] if t.__class__ is float else list(t)
        elif self.shift:
            flat.append(0.0)
        flat.append(1.0)
        try:
            compiled = _traced(self._sample_fn(t), flat, has_aux=True)
        except Exception as e:  # sorted out below, outside this handler
            failure = e
        else:
            self.compiled.append(compiled)
            self.batch = batch_accumulator(self.compiled, self.params, in_place=True, l2=self.l2)
            while self.batch is None and len(self.programs) < len(self.compiled):
                self.programs.append(self._program(self.compiled[len(self.programs)]))
            self.index[key] = k = len(self.compiled) - 1
            self.compiled_steps += 1
            self.compile_seconds += time.perf_counter() - start
            return k
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
