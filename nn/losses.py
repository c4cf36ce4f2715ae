"""Loss functions: a batch of predictions and targets in, one ``Err`` Value out.

Every loss takes ``predictions`` (one entry per sample) and ``targets`` (one per sample)
and a ``reduction``: ``"sum"`` gives Err = Σ_samples err_i, ``"mean"`` divides that by
the number of samples.  The per-sample terms are added by one fused ``autograd.sum``
node, and the result is labelled ``Err`` and tagged ``("loss",)``.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

from autograd import Value
from autograd import sum as vsum
from autograd.validate import is_integer, is_real

__all__ = ["mse", "hinge", "bce_with_logits", "cross_entropy", "LOSSES", "REDUCTIONS", "resolve"]

REDUCTIONS = ("mean", "sum")
Prediction = Union[Value, float, int]


def _batch(name: str, predictions: Any, targets: Any, reduction: str
           ) -> Tuple[Sequence[Any], Sequence[Any]]:
    """Check the reduction and that both are sequences of the same, non-zero length."""
    if reduction != "mean" and reduction != "sum":
        raise ValueError(f"{name}: unknown reduction {reduction!r}; choose 'mean' or 'sum'")
    predictions = _sequence(name, "predictions", predictions)
    targets = _sequence(name, "targets", targets)
    if len(predictions) != len(targets):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(targets)} targets; "
                         "expected one target per prediction")
    if not predictions:
        raise ValueError(f"{name}: expected at least one sample, got empty predictions")
    return predictions, targets


def _sequence(name: str, what: str, items: Any) -> Sequence[Any]:
    if items.__class__ is list or items.__class__ is tuple:
        return items
    if isinstance(items, (Value, numbers.Number, str, bytes)):
        raise TypeError(f"{name}: {what} must be a list with one entry per sample, got "
                        f"{type(items).__name__} (for one sample, wrap it: [{what[:-1]}])")
    try:
        return list(items)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a list with one entry per sample, got "
                        f"{type(items).__name__}") from None


def _value(name: str, x: Any, where: str) -> Value:
    """A prediction as a Value (plain numbers become constants: they get no gradient)."""
    if x.__class__ is Value:
        return x
    if not is_real(x):
        raise TypeError(f"{name}: {where} must be a Value or a number, got "
                        f"{type(x).__name__}: {x!r}")
    return Value(x)  # any numbers.Real


def _target(name: str, y: Any, where: str) -> Union[Value, float]:
    if y.__class__ is float or y.__class__ is int or y.__class__ is Value:
        return y
    if not is_real(y):
        raise TypeError(f"{name}: {where} must be a number, got {type(y).__name__}: {y!r}")
    return float(y)


def _not_a_label(y: Any) -> bool:
    """True for what no binary label may be: a bool (Python's, or numpy's ``bool_``, which
    is no ``numbers.Real``) or anything else that is not a real number."""
    return not is_real(y)


def _reduce(terms: List[Value], n_samples: int, reduction: str) -> Value:
    """Err = Σ terms, divided by the number of samples for "mean"."""
    err = vsum(terms)
    if reduction == "mean" and n_samples > 1:
        err = err * (1.0 / n_samples)
    err.label = "Err"
    err.tag = ("loss",)
    return err


def mse(predictions: Sequence[Any], targets: Sequence[Any], reduction: str = "mean") -> Value:
    """Squared error, Err = Σ_i (y_i − ŷ_i)² (``"sum"``, the textbook's) or its mean.

    For networks with several outputs, give each sample's prediction and target as
    lists of the same length: that sample's error sums over the outputs.
    """
    predictions, targets = _batch("mse", predictions, targets, reduction)
    terms = []
    for i, (p, y) in enumerate(zip(predictions, targets)):
        if p.__class__ is list or p.__class__ is tuple:
            if y.__class__ is not list and y.__class__ is not tuple:
                raise ValueError(f"mse: sample {i} has {len(p)} predictions, so its target must "
                                 f"be a list of {len(p)} numbers, got {y!r}")
            if len(p) != len(y):
                raise ValueError(f"mse: sample {i} has {len(p)} predictions but {len(y)} targets")
            for k, (pk, yk) in enumerate(zip(p, y)):
                d = _target("mse", yk, f"target {i}[{k}]") - _value("mse", pk, f"prediction {i}[{k}]")
                terms.append(d * d)
            continue
        if y.__class__ is list or y.__class__ is tuple:
            raise ValueError(f"mse: sample {i} has one prediction but a list of {len(y)} targets")
        if p.__class__ is not Value:
            p = _value("mse", p, f"prediction {i}")
        d = _target("mse", y, f"target {i}") - p  # y − ŷ
        terms.append(d * d)
    return _reduce(terms, len(predictions), reduction)


def hinge(predictions: Sequence[Prediction], targets: Sequence[Any], reduction: str = "mean") -> Value:
    """Max-margin loss, err_i = max(0, 1 − y_i·s_i), for scores s_i and labels y_i = ±1.

    Zero once a sample is on the right side with margin 1; micrograd's demo loss.
    """
    predictions, targets = _batch("hinge", predictions, targets, reduction)
    terms = []
    for i, (s, y) in enumerate(zip(predictions, targets)):
        if s.__class__ is not Value:
            s = _value("hinge", s, f"prediction {i}")
        if _not_a_label(y):
            raise ValueError(f"hinge: labels must be +1 or -1, got {y!r} for sample {i}")
        if y == 1:
            margin = 1.0 - s  # 1 − y·s with y = +1
        elif y == -1:
            margin = s + 1.0  # 1 − y·s with y = −1
        else:
            raise ValueError(f"hinge: labels must be +1 or -1, got {y!r} for sample {i}")
        terms.append(margin.relu())
    return _reduce(terms, len(predictions), reduction)


def bce_with_logits(predictions: Sequence[Prediction], targets: Sequence[Any],
                    reduction: str = "mean") -> Value:
    """Binary cross-entropy on logits z (σ(z) is the probability of label 1), labels 0/1.

    err = −[y·log σ(z) + (1−y)·log(1−σ(z))], which is softplus(z) = ln(1 + e^z) for
    y = 0 and softplus(−z) for y = 1: one engine op that never overflows (|z| = 1000
    included) and whose derivative, σ, gives ∂err/∂z = σ(z) − y everywhere, z = 0 too.
    """
    predictions, targets = _batch("bce_with_logits", predictions, targets, reduction)
    terms = []
    for i, (z, y) in enumerate(zip(predictions, targets)):
        if z.__class__ is not Value:
            z = _value("bce_with_logits", z, f"prediction {i}")
        if _not_a_label(y):
            raise ValueError(f"bce_with_logits: labels must be 0 or 1, got {y!r} for sample {i}")
        if y == 0:
            terms.append(z.softplus())  # −log(1 − σ(z)) = ln(1 + e^z)
        elif y == 1:
            terms.append((-z).softplus())  # −log σ(z) = ln(1 + e^−z)
        else:
            raise ValueError(f"bce_with_logits: labels must be 0 or 1, got {y!r} for sample {i}")
    return _reduce(terms, len(predictions), reduction)


def _class_index(y: object, n_classes: int, where: str) -> int:
    if y.__class__ is not int:
        if isinstance(y, float) and y.is_integer():
            y = int(y)
        elif not is_integer(y):
            raise ValueError(f"cross_entropy: label of {where} must be an integer class index "
                             f"0..{n_classes - 1}, got {type(y).__name__}: {y!r}")
        y = int(y)
    if not 0 <= y < n_classes:
        raise ValueError(f"cross_entropy: label of {where} must be in 0..{n_classes - 1} "
                         f"({n_classes} logits), got {y}")
    return y


def cross_entropy(predictions: Sequence[Sequence[Prediction]], targets: Sequence[Any],
                  reduction: str = "mean") -> Value:
    """Softmax cross-entropy: err_i = −log softmax(z)_c = log Σ_k e^(z_k) − z_c for label c.

    Each prediction is a list of logits z_0..z_(K−1), each target an integer class in
    0..K−1.  The largest logit m is subtracted first, as a constant (log-sum-exp: the
    loss and its gradient are unchanged and e^(z−m) ≤ 1 never overflows).
    ∂err/∂z_k = softmax(z)_k − [k = c].
    """
    predictions, targets = _batch("cross_entropy", predictions, targets, reduction)
    n_classes = None
    terms = []
    for i, (logits, y) in enumerate(zip(predictions, targets)):
        if logits.__class__ is not list and logits.__class__ is not tuple:
            raise TypeError(f"cross_entropy: prediction {i} must be a list of logits (one per "
                            f"class), got {type(logits).__name__}")
        if n_classes is None:
            n_classes = len(logits)
            if n_classes == 0:
                raise ValueError("cross_entropy: prediction 0 has no logits; expected one per class")
        elif len(logits) != n_classes:
            raise ValueError(f"cross_entropy: prediction {i} has {len(logits)} logits, expected "
                             f"{n_classes} like prediction 0")
        c = _class_index(y, n_classes, f"sample {i}")
        zs = [z if z.__class__ is Value else _value("cross_entropy", z, f"logit {i}[{k}]")
              for k, z in enumerate(logits)]
        m = max(z.data for z in zs)
        shifted = [z - m for z in zs]
        terms.append(vsum([s.exp() for s in shifted]).log() - shifted[c])
    return _reduce(terms, len(predictions), reduction)


#: Loss name -> function (what ``manual_backprop``, ``fit`` and the CLI accept by name).
LOSSES: Dict[str, Callable[..., Value]] = {
    "mse": mse, "hinge": hinge, "bce_with_logits": bce_with_logits, "cross_entropy": cross_entropy,
}


def resolve(loss: Union[str, Callable[..., Value]], who: str = "") -> Tuple[str, Callable[..., Value]]:
    """A loss given by name or as a function, as ``(name, function)``.

    The name is the ``LOSSES`` key for the built-in losses (given either way), else the
    function's ``__name__``.  ``who`` prefixes the error messages (``"health"``, ...).
    """
    prefix = f"{who}: " if who else ""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"{prefix}unknown loss {loss!r}; choose one of {', '.join(LOSSES)} "
                             "or pass a function")
        return loss, LOSSES[loss]
    if not callable(loss):
        raise TypeError(f"{prefix}loss must be a loss name or a function, got {type(loss).__name__}")
    for name, fn in LOSSES.items():
        if loss is fn:
            return name, fn
    return getattr(loss, "__name__", "custom"), loss
