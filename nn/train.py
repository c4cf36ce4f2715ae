"""``fit``: the training loop, with progress display, and ``evaluate``.

One optimiser step is the textbook's: forward every sample of the batch, ``Err`` from
the loss (plus an optional L2 penalty), backward, optional clipping, update.  Forward,
Err and backward are the step, ``step(xb, yb) -> (Err, predictions)``: ``_eager_step``
builds the graph every time, ``nn.compiled_step.CompiledStep`` (``compile=True``) runs
code that ``autograd.compile`` generated from the graph of a batch like it.
"""

from __future__ import annotations

import math
import random
import sys
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union

from autograd import Value, dot, no_grad
from autograd.graph import tape
from autograd.modes import paused_gc
from autograd.validate import flag, integer, is_real, real

from . import losses as _losses
from .compiled_step import CompiledStep, Objective
from .health import health as _health
from .module import MLP
from .optim import SGD, Adam, Optimizer, Schedule, _check_grads, clip_grad_norm

__all__ = ["fit", "evaluate", "History", "OPTIMIZERS", "TrainingDiverged", "ON_NONFINITE"]

#: Optimiser name -> (class, default learning rate); the defaults are Keras's.
OPTIMIZERS = {"sgd": (SGD, 0.01), "adam": (Adam, 0.001)}

Accuracy = Union[str, Callable[[Any, Any], bool], None]
#: What ``evaluate`` needs of a model: its prediction for one sample (a Value, or a list).
Predictor = Callable[[Sequence[float]], Union[Value, List[Value]]]


class Model(Protocol):
    """What ``fit`` needs of a model (an ``nn.Module`` has it): ``model(x)``, its prediction
    for one sample, and ``parameters()``, the Values to train."""

    def __call__(self, x: Sequence[float]) -> Union[Value, List[Value]]: ...

    def parameters(self) -> List[Value]: ...


#: One step: (samples, targets) -> (Err, predictions), leaving ∂Err/∂θ in each θ.grad.
Step = Callable[[Sequence[Any], Sequence[Any]], Tuple[float, List[Any]]]


def _sign_correct(pred: float, label: float) -> bool:
    """A positive score predicts the positive class (+1 for hinge, 1 for bce, y > 0 for mse)."""
    return (pred > 0.0) == (label > 0)


def _argmax_correct(logits: Sequence[float], label: int) -> bool:
    """The largest logit predicts the class (cross_entropy); ties go to the first."""
    return max(range(len(logits)), key=logits.__getitem__) == label


_ACCURACY: Dict[str, Callable[[Any, Any], bool]] = {"sign": _sign_correct, "argmax": _argmax_correct}
_AUTO_ACCURACY = {_losses.hinge: "sign", _losses.bce_with_logits: "sign",
                  _losses.cross_entropy: "argmax"}


def _loss_and_accuracy(loss: Union[str, Callable[..., Value]], accuracy: Accuracy
                       ) -> Tuple[Callable[..., Value], Optional[Callable[[Any, Any], bool]]]:
    """The loss function, and the accuracy: "auto" picks by the loss (None for mse and unknown losses)."""
    loss_fn = _losses.resolve(loss)[1]
    if accuracy == "auto":
        accuracy = _AUTO_ACCURACY.get(loss_fn)
    if accuracy is None or callable(accuracy):
        return loss_fn, accuracy
    try:
        return loss_fn, _ACCURACY[accuracy]
    except (KeyError, TypeError):
        raise ValueError(f"accuracy must be 'auto', 'sign', 'argmax', None or a function "
                         f"(prediction, label) -> bool, got {accuracy!r}") from None


class History:
    """What ``fit`` recorded.

    Per epoch: ``loss`` (the mean objective over the epoch's batches: the loss plus
    the L2 penalty, if any), ``accuracy`` (the fraction of samples classified right by the
    model as it was when each batch was forwarded, or None when there is no accuracy, as
    for mse) and ``lr`` (the learning rate the epoch started with).  Per optimiser step,
    when ``clip`` is on: ``grad_norm`` (‖g‖ before clipping) and ``clipped_norm`` (after).
    Per epoch, when ``fit(..., health=True)``: ``health`` (an ``nn.HealthReport``).
    With ``fit(..., compile=True)``: ``compiled_steps`` (how many times a step was
    compiled: once per distinct batch shape and set of targets met, see ``nn.compiled_step``) and
    ``compile_seconds`` (the time that took, part of ``seconds``).  ``skipped_steps``: the
    updates left out because the batch's loss was not finite (``on_nonfinite``).
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
        self.skipped_steps = 0

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
        try:
            self.tty = bool(stream is not None and stream.isatty())
        except (AttributeError, OSError, ValueError):  # not a file, or a closed one
            self.tty, self.stream = False, None
        self.every = max(1, epochs // 10)
        self.width = len(str(epochs))
        self.shown = 0.0  # when the terminal line was last redrawn

    def update(self, epoch: int, loss: float, accuracy: Optional[float], elapsed: float) -> None:
        if self.stream is None:  # no stderr (closed, pythonw) or it failed: train on silently
            return
        last = epoch == self.epochs
        if self.tty:
            if not last and elapsed - self.shown < 0.1:
                return  # redraw at most ten times a second
            self.shown = elapsed
            end = "\n" if last else ""
            self._write("\r" + self._line(epoch, loss, accuracy, elapsed) + "\x1b[K" + end)
        elif last or epoch % self.every == 0:
            self._write(self._line(epoch, loss, accuracy, elapsed) + "\n")

    def _write(self, text: str) -> None:
        """Show ``text``; a stream that cannot take it (closed, a broken pipe, a full disk)
        ends the display, never the training."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # ValueError: I/O operation on closed file
            self.stream = None

    def _line(self, epoch: int, loss: float, accuracy: Optional[float], elapsed: float) -> str:
        acc = "" if accuracy is None else f"  accuracy {100.0 * accuracy:5.1f}%"
        return f"epoch {epoch:>{self.width}}/{self.epochs}  loss {loss:.6f}{acc}  {elapsed:.1f}s"



# --- arguments ---------------------------------------------------------------------------

def _samples(X: Sequence[Any], y: Sequence[Any], who: str) -> Tuple[List[Any], List[Any]]:
    """``X`` and ``y`` as lists, checked to be of one non-zero length."""
    X, y = list(X), list(y)
    if len(y) != len(X):
        raise ValueError(f"{who}: X has {len(X)} samples but y has {len(y)}")
    if not X:
        raise ValueError(f"{who}: X is empty; there is nothing to "
                         f"{'train on' if who == 'fit' else 'evaluate'}")
    return X, y


def _make_optimizer(optimizer: Union[str, Optimizer], lr: Optional[float], model: Any,
                    schedule: Optional[Schedule]) -> Optimizer:
    """The optimiser fit uses (made by name over ``model.parameters()``), checked against ``schedule``."""
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError("give lr to the optimiser you made (SGD(params, lr=...)), not to fit")
        opt = optimizer
    elif not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be an Optimizer (SGD, Adam) or one of "
                         f"{', '.join(map(repr, OPTIMIZERS))}, got {optimizer!r}")
    elif not callable(getattr(model, "parameters", None)):
        raise TypeError(f"fit: model must have parameters() (an nn.Module), got {type(model).__name__}")
    else:
        cls, default_lr = OPTIMIZERS[optimizer]
        opt = cls(model.parameters(), lr=default_lr if lr is None else lr)
    if schedule is not None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule (LinearDecay, StepDecay, ...), "
                            f"got {type(schedule).__name__}")
        if schedule.optimizer is not opt:
            raise ValueError("schedule drives a different optimiser than the one fit uses; "
                             "make the schedule on the optimiser you pass to fit")
    return opt


def _check_step_options(model: Any, clip: Optional[float], l2: float, health: bool,
                        compile: bool) -> float:
    """Check what shapes each step (``clip``, ``l2``, ``health``, ``compile``); returns ``l2`` as a float."""
    real(clip, "clip", 0.0, finite=False, optional=True)
    l2 = real(l2, "l2", 0.0)
    flag(health, "health")
    if health and (not callable(getattr(model, "trace", None)) or not getattr(model, "layers", None)):
        raise TypeError(f"fit(health=True) needs an nn.MLP (with .trace and .layers), "
                        f"got {type(model).__name__}")
    flag(compile, "compile")
    return l2


# --- the step and its batches --------------------------------------------------------------

def _objective(model: Callable[[Any], Any], loss_fn: Callable[..., Value], l2: float = 0.0,
               params: Sequence[Value] = ()) -> Objective:
    """The training objective of a batch: Err = loss(predictions, targets) + l2·Σθ².

    The penalty (micrograd's regularisation) is one fused ``dot(θ, θ)`` node, left out
    when ``l2`` is 0.  Returns ``objective(xb, yb) -> (Err, predictions)``.
    """
    batch = model.forward_batch if isinstance(model, MLP) and type(model).forward is MLP.forward \
        else None

    def objective(xb: Sequence[Any], yb: Sequence[Any]) -> Tuple[Value, List[Any]]:
        preds = batch(xb) if batch is not None else [model(x) for x in xb]
        err = loss_fn(preds, yb)
        if l2:
            err = err + l2 * dot(params, params)
        return err, preds

    return objective


def _eager_step(objective: Objective, optimizer: Optimizer) -> Step:
    """Forward, Err and backward of a batch, building the graph: returns Err's number and
    the predictions' numbers (as ``nn.compiled_step`` does), the graph already freed.

    Python's cyclic garbage collector is paused during the step (``paused_gc``): a step
    allocates tens of thousands of nodes that stay alive until it ends, and the collector
    would rescan them again and again; they hold no reference cycles (a node only refers
    to its parents), so reference counting frees the graph, still inside the pause: a graph
    outliving it would be scanned by the first collection after it (a tenth of the demo's
    step, on CPython).  On PyPy, which has no reference counting, ``paused_gc`` leaves the
    collector running.  The step runs under an ``autograd.graph.tape``, so backward walks
    the nodes as they were made instead of searching the graph.
    """
    zero_grad = optimizer.zero_grad

    def step(xb: Sequence[Any], yb: Sequence[Any]) -> Tuple[float, List[Any]]:
        with paused_gc():
            with tape():
                err, preds = objective(xb, yb)
                zero_grad()
                err.backward()
            numbers = [_data(p) for p in preds]
            loss = err.data
            del err, preds  # the graph: freed here, while the collector is paused
        return loss, numbers

    return step


class _Batches:
    """An epoch's batches as (samples, targets, labels); iterating again starts the next epoch.

    Full batch (``batch_size`` None or >= the sample count): the whole set, in order.
    Mini-batches: each epoch shuffles the previous epoch's order with a private
    ``random.Random(seed)``, then sorts each batch by ``regroup`` (stable) if given.
    ``labels`` are the targets as given, for the accuracy (``y`` may be a step's copy).
    """

    def __init__(self, X: Sequence[Any], y: Sequence[Any], labels: Sequence[Any],
                 batch_size: Optional[int], seed: Optional[int],
                 regroup: Optional[Callable[[int], Any]] = None) -> None:
        self.X, self.y, self.labels, self.regroup = X, y, labels, regroup
        self.size = None if batch_size is None or batch_size >= len(X) else batch_size
        self.rng = random.Random(seed)
        self.order = list(range(len(X)))

    def __iter__(self) -> Iterator[Tuple[Sequence[Any], Sequence[Any], Sequence[Any]]]:
        X, y, labels, size, order = self.X, self.y, self.labels, self.size, self.order
        if size is None:
            yield X, y, labels
            return
        self.rng.shuffle(order)
        for start in range(0, len(order), size):
            idx = order[start:start + size]
            if self.regroup is not None:  # equal targets together: fewer compiled steps
                idx = sorted(idx, key=self.regroup)
            yb = [y[i] for i in idx]
            yield [X[i] for i in idx], yb, yb if y is labels else [labels[i] for i in idx]


def _clip(params: List[Value], clip: float, history: History) -> None:
    """Clip the gradient norm to ``clip``, recording ‖g‖ before and after."""
    history.grad_norm.append(clip_grad_norm(params, clip))
    history.clipped_norm.append(math.hypot(*[p.grad for p in params]))


def _data(pred: Any) -> Any:
    """A prediction's number(s): ``.data`` of a Value, numbers as they are, lists item by item."""
    if pred.__class__ is Value:
        return pred.data
    if pred.__class__ is list or pred.__class__ is tuple:
        return [p.data if p.__class__ is Value else p for p in pred]
    return pred


def _count_correct(acc_fn: Callable[[Any, Any], bool], preds: Sequence[Any],
                   labels: Sequence[Any]) -> int:
    """How many predictions ``acc_fn`` calls right."""
    return sum(1 for p, t in zip(preds, labels) if acc_fn(_data(p), t))


# --- a loss that is no longer a number --------------------------------------------------

#: What ``fit`` may do when a batch's loss is inf or NaN (its ``on_nonfinite``).
ON_NONFINITE = ("raise", "warn", "ignore")


class TrainingDiverged(FloatingPointError):
    """``fit`` met a loss that is inf or NaN and stopped before updating on it.

    ``epoch`` and ``batch`` say where (from 1; ``batch`` is 0 in full-batch training),
    ``loss`` is the value, ``cause`` the likely
    reason: "data" (a sample or target is not finite), "start" (not finite before any
    update: inputs or initial weights too large) or "lr" (the updates grew the parameters
    until the loss overflowed: the learning rate is too high for this loss), and
    ``history`` the epochs finished before it.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float, cause: str,
                 history: History) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.loss, self.cause, self.history = epoch, batch, loss, cause, history


def _first_nonfinite(rows: Sequence[Any], name: str) -> Optional[str]:
    """The first number in ``rows`` (numbers, Values or sequences of them) that is inf or
    NaN, as "X[3][1] = nan", or None."""
    for i, row in enumerate(rows):
        items = row if isinstance(row, (list, tuple)) else (row,)
        for j, item in enumerate(items):
            x = item.data if item.__class__ is Value else item
            if is_real(x) and not math.isfinite(x):
                where = f"{name}[{i}]" if items is not row else f"{name}[{i}][{j}]"
                return f"{where} = {x!r}"
    return None


def _diverged(err: float, epoch: int, batch: int, X: Sequence[Any], y: Sequence[Any],
              lr: float, loss_name: str, history: History) -> TrainingDiverged:
    """The error that says where the loss stopped being a number and the likely cause."""
    where = f"epoch {epoch}" + (f", batch {batch}" if batch else "")  # batch 0: full batch
    bad = _first_nonfinite(X, "X") or _first_nonfinite(y, "y")
    if bad is not None:
        cause, why = "data", (f"the data is not finite ({bad}): fix the data; a smaller "
                              "learning rate will not help")
    elif epoch == 1 and batch <= 1:
        cause, why = "start", ("it was not finite before any update: the inputs, the targets or "
                               "the initial weights are too large for this model and loss "
                               "(scale the data)")
    else:
        cause, why = "lr", (f"the learning rate ({lr:g}) is probably too high for this loss "
                            f"({loss_name}): the updates grew the parameters until it "
                            "overflowed; try a smaller one")
    return TrainingDiverged(f"fit: the loss became {err!r} in {where} (no weight was changed by "
                            f"that batch): {why}", epoch=epoch,
                            batch=batch, loss=err, cause=cause, history=history)


def _nonfinite(mode: str, err: float, epoch: int, batch: int, X: Sequence[Any], y: Sequence[Any],
               opt: Optimizer, loss: Any, history: History) -> None:
    """A batch's loss is inf or NaN: raise ``TrainingDiverged`` ("raise"), or count the
    skipped update, warning at the first one ("warn")."""
    history.skipped_steps += 1
    if mode == "ignore" or (mode == "warn" and history.skipped_steps > 1):
        return
    error = _diverged(err, epoch, batch, X, y, opt.lr, _losses.resolve(loss)[0], history)
    if mode == "raise":
        if error.cause == "lr":  # the optimiser's own error names the parameter
            _check_grads(opt.params, type(opt).__name__)
        raise error
    warnings.warn(f"{error}; skipping the update of every batch whose loss is not finite",
                  RuntimeWarning, stacklevel=3)


def _check_on_nonfinite(on_nonfinite: object) -> str:
    if not isinstance(on_nonfinite, str) or on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {', '.join(map(repr, ON_NONFINITE))}, "
                         f"got {on_nonfinite!r}")
    return on_nonfinite


# --- fit and evaluate ------------------------------------------------------------------

def fit(model: Model, X: Sequence[Sequence[float]], y: Sequence[Any], *,
        loss: Union[str, Callable[..., Value]] = "mse",
        optimizer: Union[str, Optimizer] = "sgd", lr: Optional[float] = None,
        epochs: int = 100, batch_size: Optional[int] = None,
        schedule: Optional[Schedule] = None, clip: Optional[float] = None, l2: float = 0.0,
        accuracy: Accuracy = "auto", seed: Optional[int] = None, health: bool = False,
        compile: bool = False, verbose: bool = True, on_nonfinite: str = "raise") -> History:
    """Train ``model`` on samples ``X`` with targets ``y``; returns a ``History``.

    For each epoch, for each batch: forward, Err (the loss + ``l2``·Σθ², micrograd's
    ``alpha``), backward, ``clip``, update, ``schedule``; then the epoch goes in the history.

    - ``loss``: a function ``(predictions, targets) -> Err`` or a name from ``nn.LOSSES``.
    - ``optimizer``: an ``SGD``/``Adam`` you made, or "sgd"/"adam" over
      ``model.parameters()`` with ``lr`` (default 0.01 for SGD, 0.001 for Adam).
    - ``batch_size``: None is the whole set each step, in order; else mini-batches,
      shuffled every epoch by a private ``random.Random(seed)``.
    - ``clip``: max norm for ``clip_grad_norm`` before each update (norms are recorded).
    - ``accuracy``: "auto" (sign of the score for hinge and bce, argmax for cross_entropy,
      none for mse), "sign", "argmax", None or ``f(prediction, label) -> bool``.
    - ``health``: record ``nn.health(model, X, y, loss)`` after every epoch (one more pass).
    - ``compile``: forward, Err and backward as code ``autograd.compile`` generated, about
      ten times faster after a one-off compile; its limits: ``nn.compiled_step``, docs/compile.md.
    - ``verbose``: progress on stderr (an updating line on a terminal, else every 10% of
      epochs); output that cannot be written (a closed stderr) is dropped, never fatal.
    - ``on_nonfinite``: when a batch's loss is inf or NaN, "raise" (the default) stops
      before updating on it with ``TrainingDiverged``, naming the epoch and the likely
      cause (non-finite data, or a learning rate too high for this loss); "warn" skips
      that batch's update and every later such one, saying so once with a
      ``RuntimeWarning``; "ignore" skips them silently (``History.skipped_steps`` counts them).
    """
    loss_fn, acc_fn = _loss_and_accuracy(loss, accuracy)
    on_nonfinite = _check_on_nonfinite(on_nonfinite)
    X, y = _samples(X, y, "fit")
    epochs = integer(epochs, "epochs", 1)
    batch_size = integer(batch_size, "batch_size", 1, optional=True)
    opt = _make_optimizer(optimizer, lr, model, schedule)
    l2 = _check_step_options(model, clip, l2, health, compile)
    objective = _objective(model, loss_fn, l2, opt.params)
    step: Step
    if compile:
        step = compiled = CompiledStep(model, loss_fn, opt, X, y, objective, l2)
        batches = _Batches(compiled.X, compiled.y, y, batch_size, seed, compiled.regroup_key)
    else:
        step, batches = _eager_step(objective, opt), _Batches(X, y, y, batch_size, seed)

    history, isfinite = History(), math.isfinite
    progress = _Progress(epochs, sys.stderr) if verbose else None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        history.lr.append(opt.lr)
        total, correct = 0.0, 0
        for batch, (xb, yb, labels) in enumerate(batches, 1):
            err, preds = step(xb, yb)  # forward, Err, backward: θ.grad = ∂Err/∂θ
            if isfinite(err):
                if clip is not None:
                    _clip(opt.params, clip, history)
                opt.step()  # update
            else:  # raises, or skips this update (warning once)
                _nonfinite(on_nonfinite, err, epoch, batch if batches.size else 0, X, y, opt, loss, history)
            if schedule is not None:
                schedule.step()
            total += err * len(xb)
            if acc_fn is not None:
                correct += _count_correct(acc_fn, preds, labels)
        history.loss.append(total / len(X))
        history.accuracy.append(None if acc_fn is None else correct / len(X))
        if health:
            # (an MLP: with health=True, _check_step_options checked it has trace and layers)
            history.health.append(_health(model, X, y, loss=loss_fn))  # type: ignore[arg-type]
        history.seconds = time.perf_counter() - start
        if progress is not None:
            progress.update(epoch, history.loss[-1], history.accuracy[-1], history.seconds)
    if compile:
        history.compiled_steps, history.compile_seconds = compiled.compiled_steps, compiled.compile_seconds
    return history


def evaluate(model: Predictor, X: Sequence[Sequence[float]], y: Sequence[Any],
             loss: Union[str, Callable[..., Value]] = "mse",
             accuracy: Accuracy = "auto") -> Tuple[float, Optional[float]]:
    """``(Err, accuracy)`` of ``model`` on ``(X, y)`` as it is now, building no graph.

    ``accuracy`` is chosen as in ``fit`` (None when there is none, as for mse).
    """
    loss_fn, acc_fn = _loss_and_accuracy(loss, accuracy)
    X, y = _samples(X, y, "evaluate")
    with no_grad():
        err, preds = _objective(model, loss_fn)(X, y)
    if acc_fn is None:
        return err.data, None
    return err.data, _count_correct(acc_fn, preds, y) / len(X)
