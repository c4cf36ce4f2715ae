"""``fit``: the training loop, with progress display, and ``evaluate``.

One optimiser step is: forward every sample of the batch, ``Err`` from the loss (plus
an optional L2 penalty), ``backward()``, optional clipping, ``optimizer.step()``.  ``fit``
builds that step once as a function (``_eager_step``) and calls it for each batch, so a
different way of running the same step (for example a compiled one) can be swapped in
without touching the loop.
"""

from __future__ import annotations

import gc
import math
import numbers
import random
import sys
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from autograd import Value, dot, no_grad

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


def _loss_function(loss: Union[str, Callable[..., Value]]) -> Callable[..., Value]:
    if isinstance(loss, str):
        try:
            return _losses.LOSSES[loss]
        except KeyError:
            raise ValueError(f"unknown loss {loss!r}; choose one of "
                             f"{', '.join(_losses.LOSSES)} or pass a function") from None
    if not callable(loss):
        raise TypeError(f"loss must be a loss name or a function, got {type(loss).__name__}")
    return loss


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
    """

    def __init__(self) -> None:
        self.loss: List[float] = []
        self.accuracy: List[Optional[float]] = []
        self.lr: List[float] = []
        self.grad_norm: List[float] = []
        self.clipped_norm: List[float] = []
        self.health: List[Any] = []
        self.seconds = 0.0

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
                history.grad_norm.append(clip_grad_norm(params, clip))
                history.clipped_norm.append(math.hypot(*[p.grad for p in params]))
            update()
        finally:
            if collecting:
                enable()
        return err.data, preds

    return step


def _data(pred: Any) -> Any:
    """A prediction's number(s): ``.data`` of a Value, a list of them for a list."""
    if pred.__class__ is Value:
        return pred.data
    return [v.data for v in pred]


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
        verbose: bool = True) -> History:
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
    - ``verbose``: progress on stderr: one updating line on a terminal, else a line
      every 10% of the epochs.
    """
    loss_fn = _loss_function(loss)
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

    history = History()
    step = _eager_step(model, loss_fn, opt, float(l2), clip, history)
    full_batch = batch_size is None or batch_size >= n
    rng = random.Random(seed)
    order = list(range(n))
    progress = _Progress(epochs, sys.stderr) if verbose else None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        history.lr.append(opt.lr)
        if full_batch:
            batches = [(X, y)]
        else:
            rng.shuffle(order)
            batches = [([X[i] for i in idx], [y[i] for i in idx])
                       for idx in (order[s:s + batch_size] for s in range(0, n, batch_size))]
        total, correct = 0.0, 0
        for xb, yb in batches:
            err, preds = step(xb, yb)
            if schedule is not None:
                schedule.step()
            total += err * len(xb)
            if acc_fn is not None:
                correct += sum(1 for p, t in zip(preds, yb) if acc_fn(_data(p), t))
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
    loss_fn = _loss_function(loss)
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
