"""``fit``: the training loop, with progress display, and ``evaluate``.

One optimiser step is: forward every sample of the batch, ``Err`` from the loss (plus
an optional L2 penalty), ``backward()``, optional clipping, ``optimizer.step()``.  ``fit``
builds that step once as a function and calls it for each batch: ``_eager_step`` builds
the graph every time, ``_compiled_step`` (``fit(..., compile=True)``) runs code that
``autograd.compile`` generated from the graph of a batch like it.
"""

from __future__ import annotations

import gc
import math
import numbers
import random
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from itertools import chain
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from autograd import Value, dot, no_grad
from autograd import compile as _compile

from . import losses as _losses
from .optim import SGD, Adam, Optimizer, Schedule, clip_grad_norm

__all__ = ["fit", "evaluate", "History", "OPTIMIZERS"]

#: Optimiser name -> (class, default learning rate); the defaults are Keras's.
OPTIMIZERS = {"sgd": (SGD, 0.01), "adam": (Adam, 0.001)}

Accuracy = Union[str, Callable[[Any, Any], bool], None]


def _sign_correct(pred: float, label: Any) -> bool:
    """A positive score predicts the positive class (+1 for hinge, 1 for bce, y > 0 for mse)."""
    return (pred > 0.0) == (label > 0)


def _argmax_correct(logits: Sequence[float], label: Any) -> bool:
    """The largest logit predicts the class (cross_entropy); ties go to the first."""
    return max(range(len(logits)), key=logits.__getitem__) == label


_ACCURACY = {"sign": _sign_correct, "argmax": _argmax_correct}
_AUTO_ACCURACY = {_losses.hinge: "sign", _losses.bce_with_logits: "sign",
                  _losses.cross_entropy: "argmax"}


def _accuracy_function(accuracy: Accuracy, loss_fn: Callable[..., Value]
                       ) -> Optional[Callable[[Any, Any], bool]]:
    """Resolve ``accuracy``: "auto" picks by the loss (None for mse and unknown losses)."""
    if accuracy == "auto":
        accuracy = _AUTO_ACCURACY.get(loss_fn)
    if accuracy is None or callable(accuracy):
        return accuracy
    try:
        return _ACCURACY[accuracy]
    except (KeyError, TypeError):
        raise ValueError(f"accuracy must be 'auto', 'sign', 'argmax', None or a function "
                         f"(prediction, label) -> bool, got {accuracy!r}") from None


def _positive_int(x: object, what: str) -> int:
    if x.__class__ is bool or not isinstance(x, numbers.Integral) or x < 1:
        raise ValueError(f"{what} must be a positive integer, got {x!r}")
    return int(x)


class History:
    """What ``fit`` recorded.

    Per epoch: ``loss`` (the mean objective over the epoch's batches: the loss plus
    the L2 penalty, if any), ``accuracy`` (the fraction of samples classified right by the
    model as it was when each batch was forwarded, or None when there is no accuracy, as
    for mse) and ``lr`` (the learning rate the epoch started with).  Per optimiser step,
    when ``clip`` is on: ``grad_norm`` (‖g‖ before clipping) and ``clipped_norm`` (after).
    Per epoch, when ``fit(..., health=True)``: ``health`` (an ``nn.HealthReport``).
    With ``fit(..., compile=True)``: ``compiled_steps`` (how many times a step was
    compiled: once per distinct batch shape and set of targets met, see ``fit``) and
    ``compile_seconds`` (the time that took, part of ``seconds``).
    """

    def __init__(self) -> None:
        self.loss: List[float] = []
        self.accuracy: List[Optional[float]] = []
        self.lr: List[float] = []
        self.grad_norm: List[float] = []
        self.clipped_norm: List[float] = []
        self.health: List[Any] = []
        self.seconds = 0.0
        self.compiled_steps = 0
        self.compile_seconds = 0.0

    @property
    def epochs(self) -> int:
        """How many epochs were run."""
        return len(self.loss)

    def __repr__(self) -> str:
        if not self.loss:
            return "History(no epochs)"
        acc = self.accuracy[-1]
        shown = "" if acc is None else f", accuracy={acc:.4g}"
        return (f"History({self.epochs} epochs, loss={self.loss[-1]:.6g}{shown}, "
                f"{self.seconds:.2f} s)")


class _Progress:
    """One \\r-updated line on a terminal; plain lines every ~10% of epochs elsewhere."""

    def __init__(self, epochs: int, stream: Any) -> None:
        self.epochs = epochs
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.every = max(1, epochs // 10)
        self.width = len(str(epochs))
        self.shown = 0.0  # when the terminal line was last redrawn

    def update(self, epoch: int, loss: float, accuracy: Optional[float], elapsed: float) -> None:
        last = epoch == self.epochs
        if self.tty:
            if not last and elapsed - self.shown < 0.1:
                return  # redraw at most ten times a second
            self.shown = elapsed
            end = "\n" if last else ""
            self.stream.write("\r" + self._line(epoch, loss, accuracy, elapsed) + "\x1b[K" + end)
            self.stream.flush()
        elif last or epoch % self.every == 0:
            self.stream.write(self._line(epoch, loss, accuracy, elapsed) + "\n")
            self.stream.flush()

    def _line(self, epoch: int, loss: float, accuracy: Optional[float], elapsed: float) -> str:
        acc = "" if accuracy is None else f"  accuracy {100.0 * accuracy:5.1f}%"
        return f"epoch {epoch:>{self.width}}/{self.epochs}  loss {loss:.6f}{acc}  {elapsed:.1f}s"


def _clip(params: List[Value], clip: float, history: History) -> None:
    """Clip the gradient norm to ``clip``, recording ‖g‖ before and after."""
    history.grad_norm.append(clip_grad_norm(params, clip))
    history.clipped_norm.append(math.hypot(*[p.grad for p in params]))


def _eager_step(model: Callable[[Any], Any], loss_fn: Callable[..., Value], optimizer: Optimizer,
                l2: float, clip: Optional[float], history: History
                ) -> Callable[[Sequence[Any], Sequence[Any]], Tuple[float, list]]:
    """One optimiser step on a batch, run eagerly: returns (Err, the batch's predictions).

    With ``l2`` > 0 the objective is Err + l2·Σθ² (micrograd's regularisation), the
    penalty being one fused ``dot(θ, θ)`` node.

    Python's cyclic garbage collector is paused during the step: a step allocates tens
    of thousands of nodes that stay alive until it ends, and the collector would rescan
    them again and again; they hold no reference cycles (a node only refers to its
    parents), so reference counting frees the graph when the step is over.
    """
    params = optimizer.params
    zero_grad, update = optimizer.zero_grad, optimizer.step
    isenabled, disable, enable = gc.isenabled, gc.disable, gc.enable

    def step(xb: Sequence[Any], yb: Sequence[Any]) -> Tuple[float, list]:
        collecting = isenabled()
        disable()
        try:
            preds = [model(x) for x in xb]
            err = loss_fn(preds, yb)
            if l2:
                err = err + l2 * dot(params, params)
            zero_grad()
            err.backward()
            if clip is not None:
                _clip(params, clip, history)
            update()
        finally:
            if collecting:
                enable()
        return err.data, preds

    return step


#: How many compiled steps ``fit(compile=True)`` keeps; the least recently used goes first.
COMPILE_CACHE_SIZE = 64
#: fit warns (once) when at least this many compiles were needed ...
_WARN_COMPILES = 16
# ... and more than half of the steps so far needed one.


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
                if v.__class__ is bool or not isinstance(v, numbers.Real):
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
            if any(v.__class__ is bool or not isinstance(v, numbers.Real) for v in t):
                return None
            t, k = [float(v) for v in t], len(t)
        elif t.__class__ is bool or not isinstance(t, numbers.Real):
            return None
        else:
            t, k = float(t), -1
        if out and k != width:
            return None
        out.append(t)
        width = k
    return out


def _compiled_step(model: Callable[[Any], Any], loss_fn: Callable[..., Value], optimizer: Optimizer,
                   l2: float, clip: Optional[float], history: History, traced_targets: bool
                   ) -> Callable[[Sequence[Any], Sequence[Any]], Tuple[float, list]]:
    """``_eager_step``'s step, run as code ``autograd.compile`` generated: the same numbers.

    The samples (rows of floats, see ``_float_rows``) are the compiled inputs.  The
    targets are written into the code, since losses choose their formula by the label
    (hinge's 1 − s or 1 + s); so there is one compiled step per batch of targets, kept
    in a cache keyed by the targets.  With ``traced_targets`` (mse, whose formula
    (y − ŷ)² does not depend on y's value; targets from ``_float_targets``) the targets
    are inputs too and only the batch size picks the step.  Each compiled call adds
    ∂Err/∂θ into ``θ.grad`` and returns (Err, the predictions' numbers).
    """
    params = optimizer.params
    zero_grad, update = optimizer.zero_grad, optimizer.step
    cache: OrderedDict[Any, Any] = OrderedDict()
    steps = 0
    warned = False

    def objective_for(n: int, d: int, yb: Sequence[Any]) -> Callable[..., Tuple[Value, list]]:
        def objective(*flat: Value) -> Tuple[Value, list]:
            rows = [list(flat[i * d:(i + 1) * d]) for i in range(n)]
            targets = yb
            if traced_targets:
                ys = flat[n * d:]
                k = len(ys) // n
                targets = list(ys) if yb[0].__class__ is float else [list(ys[i * k:(i + 1) * k])
                                                                     for i in range(n)]
            preds = [model(x) for x in rows]
            err = loss_fn(preds, targets)
            if l2:
                err = err + l2 * dot(params, params)
            return err, preds
        return objective

    def build(xb: Sequence[List[float]], yb: Sequence[Any], flat: List[float]) -> Any:
        start = time.perf_counter()
        objective = objective_for(len(xb), len(xb[0]), yb)
        try:
            compiled = _compile(objective, flat, has_aux=True)
        except Exception as e:  # sorted out below, outside this handler
            failure = e
        else:
            history.compiled_steps += 1
            history.compile_seconds += time.perf_counter() - start
            return compiled
        # The eager step raises what it raises (bad labels, log of 0, ...) as compile=False
        # would; only what fails under tracing alone is compile's own limit.
        _eager_objective(model, loss_fn, l2, params, xb, yb)
        raise TypeError(f"fit(compile=True) cannot trace a training step of this model and loss, "
                        f"which eager mode runs; use compile=False. Tracing said: {failure}"
                        ) from failure

    def step(xb: Sequence[List[float]], yb: Sequence[Any]) -> Tuple[float, list]:
        nonlocal steps, warned
        steps += 1
        if traced_targets:
            key: Any = len(xb)
            flat = list(chain.from_iterable(xb))
            flat.extend(yb if yb[0].__class__ is float else chain.from_iterable(yb))
        else:
            key = tuple(yb)
            try:
                hash(key)
            except TypeError:
                key = tuple(map(_hashable, yb))
            flat = list(chain.from_iterable(xb))
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = build(xb, yb, flat)
            if len(cache) > COMPILE_CACHE_SIZE:
                cache.popitem(last=False)
            if not warned and history.compiled_steps >= _WARN_COMPILES and 2 * history.compiled_steps > steps:
                warned = True
                warnings.warn(
                    f"fit(compile=True): {history.compiled_steps} of the first {steps} steps had "
                    f"to compile a new step ({history.compile_seconds:.1f} s so far). The batch's "
                    "targets are written into the compiled code and here they keep changing (many "
                    "distinct targets, or many mixes of labels per mini-batch), so compiling costs "
                    "more than it saves; use compile=False or full batches (batch_size=None).",
                    RuntimeWarning, stacklevel=3)
        else:
            cache.move_to_end(key)
        zero_grad()
        err, preds = compiled(*flat)
        if clip is not None:
            _clip(params, clip, history)
        update()
        return err, preds

    return step


def _eager_objective(model: Callable[[Any], Any], loss_fn: Callable[..., Value], l2: float,
                     params: List[Value], xb: Sequence[Any], yb: Sequence[Any]) -> Value:
    """The batch's Err (+ l2·Σθ²), built eagerly: raises whatever the eager step would."""
    err = loss_fn([model(x) for x in xb], yb)
    return err + l2 * dot(params, params) if l2 else err


def _data(pred: Any) -> Any:
    """A prediction's number(s): ``.data`` of a Value, numbers as they are, lists item by item."""
    if pred.__class__ is Value:
        return pred.data
    if pred.__class__ is list or pred.__class__ is tuple:
        return [p.data if p.__class__ is Value else p for p in pred]
    return pred


def _make_optimizer(optimizer: Union[str, Optimizer], lr: Optional[float], model: Any) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError("give lr to the optimiser you made (SGD(params, lr=...)), not to fit")
        return optimizer
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be an Optimizer (SGD, Adam) or one of "
                         f"{', '.join(map(repr, OPTIMIZERS))}, got {optimizer!r}")
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"fit: model must have parameters() (an nn.Module), got {type(model).__name__}")
    cls, default_lr = OPTIMIZERS[optimizer]
    return cls(model.parameters(), lr=default_lr if lr is None else lr)


def fit(model: Any, X: Sequence[Sequence[float]], y: Sequence[Any], *,
        loss: Union[str, Callable[..., Value]] = "mse",
        optimizer: Union[str, Optimizer] = "sgd", lr: Optional[float] = None,
        epochs: int = 100, batch_size: Optional[int] = None,
        schedule: Optional[Schedule] = None, clip: Optional[float] = None, l2: float = 0.0,
        accuracy: Accuracy = "auto", seed: Optional[int] = None, health: bool = False,
        compile: bool = False, verbose: bool = True) -> History:
    """Train ``model`` on samples ``X`` with targets ``y``; returns a ``History``.

    - ``loss``: a function ``(predictions, targets) -> Err`` or a name from ``nn.LOSSES``.
    - ``optimizer``: an ``SGD``/``Adam`` you made, or ``"sgd"``/``"adam"`` with ``lr``
      (default 0.01 for SGD, 0.001 for Adam) over ``model.parameters()``.
    - ``batch_size``: None trains on the whole set each step (full batch, in order);
      otherwise each epoch shuffles (with a private ``random.Random(seed)``) and steps
      once per mini-batch.
    - ``schedule``: a schedule on ``optimizer``, stepped after every optimiser step.
    - ``clip``: max norm for ``clip_grad_norm`` before each update (norms go in the history).
    - ``l2``: adds ``l2·Σθ²`` to the loss, as micrograd's demo does (its ``alpha``).
    - ``accuracy``: "auto" (sign of the score for hinge and bce, argmax for
      cross_entropy, none for mse), "sign", "argmax", None or ``f(prediction, label)``.
    - ``health``: after every epoch, record ``nn.health(model, X, y, loss)`` (per-layer
      gradient norms, mean |δ|, dead and saturated units, vanishing/exploding flags) in
      ``history.health``; it costs one more traced forward and backward pass over ``X``.
    - ``compile``: run each step as code generated by ``autograd.compile`` from the
      step's graph (about ten times faster on micrograd's demo, after a one-off compile
      whose time grows with the batch: ~1 s for 100 samples of an MLP 2-16-16-1).  The
      samples are the compiled inputs.  The targets are written into the code, because
      losses pick their formula by the label, so fit compiles a step per distinct batch
      of targets and keeps the last ``COMPILE_CACHE_SIZE`` (64); ``history.compiled_steps``
      counts the compiles.  Full batch: one compile, and the same numbers as eager, bit
      for bit.  Mini-batches: each batch's samples are regrouped by target (a stable
      sort), so a step only depends on how many samples have each label (two classes,
      batches of B: at most B + 1 steps); the loss then adds the same terms in another
      order, so results match eager up to rounding (~1e-15 relative per step).  mse
      takes the targets as inputs instead: one compile per batch size, no regrouping.
      With many distinct targets per batch (a custom loss on real-valued targets, many
      classes in mini-batches) compiling costs more than it saves, and a RuntimeWarning
      says so.  ``cross_entropy`` subtracts the largest logit as a constant, which the
      compiled step freezes at its trace-time value: the loss is mathematically the
      same, equal to eager up to rounding, but no longer guarded against overflow for
      logits hundreds above the trace-time ones.  Samples must be plain numbers; a loss
      or model that needs a Value's number in Python (``float(v)``, ``v > 0``) cannot be
      traced (a TypeError says so), and Python decisions on ``.data`` are frozen.
      ``detect_anomaly()`` does not see inside compiled code: hunt NaNs with compile=False.
    - ``verbose``: progress on stderr: one updating line on a terminal, else a line
      every 10% of the epochs.
    """
    loss_fn = _losses.resolve(loss)[1]
    acc_fn = _accuracy_function(accuracy, loss_fn)
    X, y = list(X), list(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"fit: X has {n} samples but y has {len(y)}")
    if n == 0:
        raise ValueError("fit: X is empty; there is nothing to train on")
    epochs = _positive_int(epochs, "epochs")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size")
    opt = _make_optimizer(optimizer, lr, model)
    if schedule is not None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule (LinearDecay, StepDecay, ...), "
                            f"got {type(schedule).__name__}")
        if schedule.optimizer is not opt:
            raise ValueError("schedule drives a different optimiser than the one fit uses; "
                             "make the schedule on the optimiser you pass to fit")
    if clip is not None and (clip.__class__ is bool or not isinstance(clip, numbers.Real)
                             or not clip >= 0):
        raise ValueError(f"clip must be a max norm >= 0 or None, got {clip!r}")
    if l2.__class__ is bool or not isinstance(l2, numbers.Real) or not 0.0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    if health.__class__ is not bool:
        raise TypeError(f"health must be True or False, got {type(health).__name__}: {health!r}")
    if health:
        if not callable(getattr(model, "trace", None)) or not getattr(model, "layers", None):
            raise TypeError(f"fit(health=True) needs an nn.MLP (with .trace and .layers), "
                            f"got {type(model).__name__}")
        from .health import health as measure_health
    if compile.__class__ is not bool:
        raise TypeError(f"compile must be True or False, got {type(compile).__name__}: {compile!r}")

    history = History()
    full_batch = batch_size is None or batch_size >= n
    # What the step is given (Xs, ys) and, for the accuracy, the targets as given (y).
    Xs, ys, regroup = X, y, None
    if compile:
        Xs = _float_rows(X)
        traced = _float_targets(y) if loss_fn is _losses.mse else None
        if traced is not None:
            ys = traced
        else:
            keys = _target_keys(y)
            try:
                sorted(keys)
                regroup = None if full_batch else keys.__getitem__
            except TypeError:  # targets without an order: no regrouping, only more compiles
                pass
        step = _compiled_step(model, loss_fn, opt, float(l2), clip, history, traced is not None)
    else:
        step = _eager_step(model, loss_fn, opt, float(l2), clip, history)
    rng = random.Random(seed)
    order = list(range(n))
    progress = _Progress(epochs, sys.stderr) if verbose else None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        history.lr.append(opt.lr)
        if full_batch:
            batches = [(Xs, ys, y)]
        else:
            rng.shuffle(order)
            chunks = [order[s:s + batch_size] for s in range(0, n, batch_size)]
            if regroup is not None:  # equal targets together (stable): fewer compiled steps
                chunks = [sorted(idx, key=regroup) for idx in chunks]
            batches = []
            for idx in chunks:
                yb = [ys[i] for i in idx]
                batches.append(([Xs[i] for i in idx], yb, yb if ys is y else [y[i] for i in idx]))
        total, correct = 0.0, 0
        for xb, yb, labels in batches:
            err, preds = step(xb, yb)
            if schedule is not None:
                schedule.step()
            total += err * len(xb)
            if acc_fn is not None:
                correct += sum(1 for p, t in zip(preds, labels) if acc_fn(_data(p), t))
        history.loss.append(total / n)
        history.accuracy.append(None if acc_fn is None else correct / n)
        if health:
            history.health.append(measure_health(model, X, y, loss=loss_fn))
        history.seconds = time.perf_counter() - start
        if progress is not None:
            progress.update(epoch, history.loss[-1], history.accuracy[-1], history.seconds)
    return history


def evaluate(model: Any, X: Sequence[Sequence[float]], y: Sequence[Any],
             loss: Union[str, Callable[..., Value]] = "mse",
             accuracy: Accuracy = "auto") -> Tuple[float, Optional[float]]:
    """``(Err, accuracy)`` of ``model`` on ``(X, y)`` as it is now, building no graph.

    ``accuracy`` is chosen as in ``fit`` (None when there is none, as for mse).
    """
    loss_fn = _losses.resolve(loss)[1]
    acc_fn = _accuracy_function(accuracy, loss_fn)
    X, y = list(X), list(y)
    if len(y) != len(X):
        raise ValueError(f"evaluate: X has {len(X)} samples but y has {len(y)}")
    if not X:
        raise ValueError("evaluate: X is empty")
    with no_grad():
        preds = [model(x) for x in X]
        err = loss_fn(preds, y).data
    if acc_fn is None:
        return err, None
    return err, sum(1 for p, t in zip(preds, y) if acc_fn(_data(p), t)) / len(X)
