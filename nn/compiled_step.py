"""``fit(..., compile=True)``'s step: the eager step's numbers, run as generated code.

``CompiledStep`` has the eager step's interface, ``step(xb, yb) -> (Err, predictions)``
leaving ∂Err/∂θ in ``θ.grad``, but runs code that ``autograd.compile`` generated from the
graph of the batch objective (about ten times faster on micrograd's demo, after a one-off
compile whose time grows with the batch: ~1 s for 100 samples of an MLP 2-16-16-1).

The samples are the compiled inputs.  The targets are written into the code, because
losses pick their formula by the label (hinge's 1 − s or 1 + s), so there is one
compiled step per distinct batch of targets; the last ``COMPILE_CACHE_SIZE`` are kept and
``compiled_steps`` counts the compiles.  Full batch: one compile, and the same numbers as
eager, bit for bit.  Mini-batches: ``fit`` regroups each batch's samples by target (a
stable sort, ``regroup_key``), so a step only depends on how many samples have each
label (two classes, batches of B: at most B + 1 steps); the loss then adds the same terms
in another order, so results match eager up to rounding (~1e-15 relative per step).  mse
takes the targets as inputs instead: one compile per batch size, no regrouping.  With many
distinct targets per batch (a custom loss on real-valued targets, many classes in
mini-batches) compiling costs more than it saves, and a RuntimeWarning says so.

``cross_entropy`` subtracts the largest logit as a constant, which the compiled step
freezes at its trace-time value: the loss is mathematically the same, equal to eager up to
rounding, but no longer guarded against overflow for logits hundreds above the trace-time
ones.  Samples must be plain numbers; a loss or model that needs a Value's number in
Python (``float(v)``, ``v > 0``) cannot be traced (a TypeError says so), and Python
decisions on ``.data`` are frozen.  ``detect_anomaly()`` does not see inside compiled code:
hunt NaNs with compile=False.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from itertools import chain
from typing import Any, Callable, List, Optional, Sequence, Tuple

from autograd import Value
from autograd import compile as _compile
from autograd.validate import is_real

from .optim import Optimizer

__all__ = ["CompiledStep", "COMPILE_CACHE_SIZE"]

#: How many compiled steps a ``CompiledStep`` keeps; the least recently used goes first.
COMPILE_CACHE_SIZE = 64
#: A step warns (once) when at least this many compiles were needed ...
_WARN_COMPILES = 16
# ... and more than half of the steps so far needed one.

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
    ``self.y``.  ``trace_targets`` (for mse, whose formula (y − ŷ)² does not depend on y's
    value) makes numeric targets compiled inputs too, so only the batch size picks the step;
    otherwise ``regroup_key`` (sample index -> its target's key, None when targets have no
    order) is what ``fit`` sorts each mini-batch by.
    """

    def __init__(self, objective: Objective, optimizer: Optimizer, X: Sequence[Any],
                 y: Sequence[Any], *, trace_targets: bool) -> None:
        self.objective = objective
        self.zero_grad = optimizer.zero_grad
        self.X = _float_rows(X)
        traced = _float_targets(y) if trace_targets else None
        self.traced_targets = traced is not None
        self.y: Sequence[Any] = traced if traced is not None else y
        self.regroup_key: Optional[Callable[[int], Any]] = None
        if not self.traced_targets:
            keys = _target_keys(y)
            try:
                sorted(keys)
                self.regroup_key = keys.__getitem__
            except TypeError:  # targets without an order: no regrouping, only more compiles
                pass
        self.cache: OrderedDict[Any, Any] = OrderedDict()
        self.steps = 0
        self.warned = False
        self.compiled_steps = 0
        self.compile_seconds = 0.0

    def __call__(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[float, List[Any]]:
        self.steps += 1
        key, flat = self._key_and_inputs(xb, yb)
        compiled = self.cache.get(key)
        if compiled is None:
            compiled = self.cache[key] = self._build(xb, yb, flat)
            if len(self.cache) > COMPILE_CACHE_SIZE:
                self.cache.popitem(last=False)
            self._warn_if_compiling_often()
        else:
            self.cache.move_to_end(key)
        self.zero_grad()
        return compiled(*flat)  # type: ignore[no-any-return]  # compiled with has_aux: (Err, predictions)

    def _key_and_inputs(self, xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[Any, List[float]]:
        """The cache key of the batch's step and its compiled inputs (samples, then traced targets)."""
        flat = list(chain.from_iterable(xb))
        if self.traced_targets:
            flat.extend(yb if yb[0].__class__ is float else chain.from_iterable(yb))
            return len(xb), flat
        key = tuple(yb)
        try:
            hash(key)
        except TypeError:
            key = tuple(map(_hashable, yb))
        return key, flat

    def _traced(self, n: int, d: int, yb: Sequence[Any]) -> Callable[..., Tuple[Value, List[Any]]]:
        """The objective as a function of the flat inputs (n samples of d numbers, targets)."""
        objective, traced_targets = self.objective, self.traced_targets

        def traced(*flat: Value) -> Tuple[Value, List[Any]]:
            rows = [list(flat[i * d:(i + 1) * d]) for i in range(n)]
            targets = yb
            if traced_targets:
                ys = flat[n * d:]
                k = len(ys) // n
                targets = list(ys) if yb[0].__class__ is float else [list(ys[i * k:(i + 1) * k])
                                                                     for i in range(n)]
            return objective(rows, targets)
        return traced

    def _build(self, xb: Sequence[List[float]], yb: Sequence[Any], flat: List[float]) -> Any:
        start = time.perf_counter()
        try:
            compiled = _compile(self._traced(len(xb), len(xb[0]), yb), flat, has_aux=True)
        except Exception as e:  # sorted out below, outside this handler
            failure = e
        else:
            self.compiled_steps += 1
            self.compile_seconds += time.perf_counter() - start
            return compiled
        # The eager objective raises what it raises (bad labels, log of 0, ...) as
        # compile=False would; only what fails under tracing alone is compile's own limit.
        self.objective(xb, yb)
        raise TypeError(f"fit(compile=True) cannot trace a training step of this model and loss, "
                        f"which eager mode runs; use compile=False. Tracing said: {failure}"
                        ) from failure

    def _warn_if_compiling_often(self) -> None:
        if self.warned or self.compiled_steps < _WARN_COMPILES or 2 * self.compiled_steps <= self.steps:
            return
        self.warned = True
        warnings.warn(
            f"fit(compile=True): {self.compiled_steps} of the first {self.steps} steps had "
            f"to compile a new step ({self.compile_seconds:.1f} s so far). The batch's "
            "targets are written into the compiled code and here they keep changing (many "
            "distinct targets, or many mixes of labels per mini-batch), so compiling costs "
            "more than it saves; use compile=False or full batches (batch_size=None).",
            RuntimeWarning, stacklevel=4)  # _warn_if..., __call__, fit, fit's caller
