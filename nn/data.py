"""Data sets for classification, in pure Python: small 2-D generators, the handwritten
digits, and your own CSV files.

Every generator returns ``(X, y)``: ``X`` a list of ``[x1, x2]`` float lists, ``y`` a
list of labels, one per point, in shuffled order.  Each draws from its own
``random.Random(seed)``, so a seed makes the data reproducible and the global
``random`` state is never touched (``seed=None`` draws fresh data each call).

Binary sets (moons, circles, xor) give labels 0/1 by default, as ``bce_with_logits``
wants; ``labels="pm1"`` gives −1/+1 instead, as ``hinge`` (and micrograd's demo) wants.
Multi-class sets (spirals, blobs) give integer classes 0..k−1, for ``cross_entropy``.

A generator refuses more than ``MAX_SAMPLES`` points (10 million, about 1.5 GB of
Python lists) with a ValueError before drawing any; pass ``max_samples=`` to go further.

``load_digits`` reads the UCI handwritten digits shipped with deltagrad (1,797 8×8
images, 10 classes) and ``load_csv`` reads a table of your own; both use only the
standard library and download nothing.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import random
from typing import Dict, List, Optional, Sequence, Tuple, TypeVar, Union

from autograd.validate import integer, is_integer, is_real, real

__all__ = ["make_moons", "make_circles", "make_xor", "make_spirals", "make_blobs",
           "load_digits", "load_csv", "MAX_CSV_BYTES", "train_test_split", "MAX_SAMPLES"]

#: The most samples a generator makes unless its ``max_samples`` says otherwise.
MAX_SAMPLES = 10_000_000

Dataset = Tuple[List[List[float]], List[int]]
T = TypeVar("T")
L = TypeVar("L")


def _n_samples(x: object, who: str, minimum: int, max_samples: Optional[int]) -> int:
    """``n_samples`` checked against ``minimum`` and the size limit, before anything is drawn."""
    n = integer(x, f"{who} n_samples", minimum)
    limit = MAX_SAMPLES if max_samples is None else integer(max_samples, f"{who} max_samples", 1)
    if n > limit:
        raise ValueError(f"{who}: n_samples={n:,} is more than the limit of {limit:,} samples; "
                         f"pass max_samples={n} to make them anyway")
    return n


def _rng(seed: Optional[int], who: str) -> random.Random:
    return random.Random(None if seed is None else integer(seed, f"{who}: seed"))


def _binary_labels(y: List[int], labels: str, who: str) -> List[int]:
    if labels == "01":
        return y
    if labels == "pm1":
        return [2 * v - 1 for v in y]
    raise ValueError(f"{who}: labels must be '01' (0/1, for bce_with_logits) or 'pm1' "
                     f"(-1/+1, for hinge), got {labels!r}")


def _shuffled(points: List[List[float]], y: List[int], rng: random.Random) -> Dataset:
    order = list(range(len(y)))
    rng.shuffle(order)
    return [points[i] for i in order], [y[i] for i in order]


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: Optional[int] = None,
               labels: str = "01", *, max_samples: Optional[int] = None) -> Dataset:
    """Two interleaving half circles (scikit-learn's moons): the upper one is class 0,
    the lower one, shifted right and down, class 1.  ``noise`` is the standard deviation
    of Gaussian noise added to each coordinate."""
    n = _n_samples(n_samples, "make_moons", 2, max_samples)
    noise = real(noise, "make_moons noise", 0.0)
    rng = _rng(seed, "make_moons")
    n_upper = n // 2
    n_lower = n - n_upper
    points, y = [], []
    for i in range(n_upper):
        t = math.pi * i / max(n_upper - 1, 1)
        points.append([math.cos(t), math.sin(t)])
        y.append(0)
    for i in range(n_lower):
        t = math.pi * i / max(n_lower - 1, 1)
        points.append([1.0 - math.cos(t), 0.5 - math.sin(t)])
        y.append(1)
    if noise:
        points = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in points]
    X, y = _shuffled(points, y, rng)
    return X, _binary_labels(y, labels, "make_moons")


def make_circles(n_samples: int = 100, noise: float = 0.05, factor: float = 0.5,
                 seed: Optional[int] = None, labels: str = "01", *,
                 max_samples: Optional[int] = None) -> Dataset:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1),
    with Gaussian noise of standard deviation ``noise`` on each coordinate."""
    n = _n_samples(n_samples, "make_circles", 2, max_samples)
    noise = real(noise, "make_circles noise", 0.0)
    factor = real(factor, "make_circles factor", 0.0)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor (inner radius / outer radius) must be in (0, 1), "
                         f"got {factor!r}")
    rng = _rng(seed, "make_circles")
    n_outer = n // 2
    n_inner = n - n_outer
    points, y = [], []
    for count, radius, label in ((n_outer, 1.0, 0), (n_inner, factor, 1)):
        for i in range(count):
            t = 2.0 * math.pi * i / count
            points.append([radius * math.cos(t), radius * math.sin(t)])
            y.append(label)
    if noise:
        points = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in points]
    X, y = _shuffled(points, y, rng)
    return X, _binary_labels(y, labels, "make_circles")


def make_xor(n_samples: int = 100, noise: float = 0.1, seed: Optional[int] = None,
             labels: str = "01", *, max_samples: Optional[int] = None) -> Dataset:
    """Four clusters at (±1, ±1): class 1 where the signs differ (x1 XOR x2), class 0
    where they agree.  Points are dealt to the corners in turn, so the classes are
    balanced; ``noise`` is the clusters' standard deviation.  The label is the corner's,
    so with large noise a point may sit in another class's quadrant."""
    n = _n_samples(n_samples, "make_xor", 4, max_samples)
    noise = real(noise, "make_xor noise", 0.0)
    rng = _rng(seed, "make_xor")
    corners = ((1.0, 1.0, 0), (-1.0, 1.0, 1), (-1.0, -1.0, 0), (1.0, -1.0, 1))
    points, y = [], []
    for i in range(n):
        a, b, label = corners[i % 4]
        points.append([a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)])
        y.append(label)
    X, y = _shuffled(points, y, rng)
    return X, _binary_labels(y, labels, "make_xor")


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2,
                 seed: Optional[int] = None, *, max_samples: Optional[int] = None) -> Dataset:
    """``n_classes`` interleaved spiral arms from near the origin out to radius 1 (the
    CS231n spirals), labels 0..n_classes−1.  Each arm turns through 4 radians; ``noise`` is the
    standard deviation of Gaussian noise on the angle, in radians."""
    n = _n_samples(n_samples, "make_spirals", 1, max_samples)
    k = integer(n_classes, "make_spirals n_classes", 2)
    if n < k:
        raise ValueError(f"make_spirals: n_samples ({n}) must be at least n_classes ({k})")
    noise = real(noise, "make_spirals noise", 0.0)
    rng = _rng(seed, "make_spirals")
    points, y = [], []
    for c in range(k):
        count = n // k + (1 if c < n % k else 0)
        for i in range(count):
            r = (i + 1) / count
            t = 4.0 * (c + r) + rng.gauss(0.0, noise)
            points.append([r * math.sin(t), r * math.cos(t)])
            y.append(c)
    return _shuffled(points, y, rng)


def make_blobs(n_samples: int = 100, centers: Union[int, Sequence[Sequence[float]]] = 3,
               std: float = 0.5, seed: Optional[int] = None, *,
               max_samples: Optional[int] = None) -> Dataset:
    """Gaussian clusters, one class per centre (labels 0..k−1), with standard deviation
    ``std``.  ``centers`` is a list of ``[x1, x2]`` points, or a count k that places k
    centres evenly on a circle of radius 2 around the origin."""
    n = _n_samples(n_samples, "make_blobs", 1, max_samples)
    std = real(std, "make_blobs std", 0.0)
    if is_integer(centers):
        k = integer(centers, "make_blobs centers", 1)
        if n < k:  # checked before the k centres are placed: centers=10**9 must not allocate
            raise ValueError(f"make_blobs: n_samples ({n}) must be at least the number of "
                             f"centers ({k})")
        where = [[2.0 * math.cos(2.0 * math.pi * c / k), 2.0 * math.sin(2.0 * math.pi * c / k)]
                 for c in range(k)]
    else:
        try:
            where = [[float(a), float(b)] for a, b in centers]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise TypeError("make_blobs: centers must be an int or a list of [x1, x2] points, "
                            f"got {centers!r}") from None
        if not where:
            raise ValueError("make_blobs: centers is an empty list")
        if not all(math.isfinite(v) for c in where for v in c):
            raise ValueError(f"make_blobs: centers must be finite, got {centers!r}")
    if n < len(where):
        raise ValueError(f"make_blobs: n_samples ({n}) must be at least the number of "
                         f"centers ({len(where)})")
    rng = _rng(seed, "make_blobs")
    points, y = [], []
    for i in range(n):
        c = i % len(where)
        a, b = where[c]
        points.append([a + rng.gauss(0.0, std), b + rng.gauss(0.0, std)])
        y.append(c)
    return _shuffled(points, y, rng)


def train_test_split(X: Sequence[T], y: Sequence[L], test_size: Union[float, int] = 0.25,
                     seed: Optional[int] = None) -> Tuple[List[T], List[T], List[L], List[L]]:
    """Shuffle and split into ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    ``test_size`` is a fraction in (0, 1) (the test set gets ⌈fraction·n⌉ samples) or a
    count of test samples.  Both parts keep at least one sample.
    """
    X, y = list(X), list(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split: X has {n} samples but y has {len(y)}")
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 samples to split, got {n}")
    if not is_real(test_size):
        raise TypeError(f"train_test_split: test_size must be a fraction or a count, got "
                        f"{type(test_size).__name__}: {test_size!r}")
    if is_integer(test_size):
        n_test = int(test_size)
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: a fractional test_size must be in (0, 1), "
                             f"got {test_size!r}")
        n_test = math.ceil(test_size * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"train_test_split: test_size={test_size!r} leaves {n_test} of {n} samples "
                         "for testing; both parts need at least one")
    order = list(range(n))
    _rng(seed, "train_test_split").shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


#: Where the shipped data files live (package data, see nn/datasets/README.md).
_DATASETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets")


def load_digits() -> Dataset:
    """The UCI handwritten digits: 1,797 images of 8×8 pixels, labels 0..9 (the digit).

    Each row of ``X`` is an image's 64 pixels, row by row from the top left, each the
    count 0..16 of "on" pixels in a 4×4 block **divided by 16**, so inputs lie in 0..1.
    The samples come in the file's order; split them with ``train_test_split``.  The data
    (CC BY 4.0) ships with deltagrad, so nothing is downloaded: Alpaydin & Kaynak (1998),
    UCI Machine Learning Repository, https://doi.org/10.24432/C50P49.
    """
    X: List[List[float]] = []
    y: List[int] = []
    with gzip.open(os.path.join(_DATASETS_DIR, "digits.csv.gz"), "rt", encoding="ascii", newline="") as f:
        for row in csv.reader(f):
            X.append([int(v) / 16.0 for v in row[:64]])
            y.append(int(row[64]))
    return X, y


#: The largest file ``load_csv`` reads unless its ``max_bytes`` says otherwise (100 MB,
#: about 12 million numbers: far more than a scalar engine trains on in a day).
MAX_CSV_BYTES = 100 * 2**20


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_rows(path: str, max_bytes: Optional[int]) -> List[Tuple[int, List[str]]]:
    """(line number, stripped fields) of every non-blank row of the file."""
    limit = MAX_CSV_BYTES if max_bytes is None else integer(max_bytes, "load_csv max_bytes", 1)
    with open(path, "rb") as f:  # FileNotFoundError and friends name the file already
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path}: the file is larger than {limit:,} bytes; pass max_bytes= "
                         "to read it anyway")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text; save the table as a UTF-8 "
                         "CSV file") from None
    reader = csv.reader(text.splitlines())
    rows = []
    try:
        for fields in reader:
            fields = [field.strip() for field in fields]
            if any(fields):
                rows.append((reader.line_num, fields))
    except csv.Error as e:
        raise ValueError(f"{path}, line {reader.line_num + 1}: {e}") from None
    return rows


def _csv_sample(path: str, line: int, fields: List[str], width: int, header: bool) -> List[float]:
    """One row's features as finite floats, or a ValueError naming the line and column."""
    where = f"{path}, line {line}"
    if len(fields) != width:
        first = "the header" if header else "the first row"
        raise ValueError(f"{where}: {len(fields)} columns, but {first} has {width}; every row "
                         "needs the same columns (features, then the label)")
    x = []
    for column, field in enumerate(fields[:-1], start=1):
        if not field:
            raise ValueError(f"{where}, column {column}: the field is empty; every feature "
                             "needs a number")
        try:
            v = float(field)
        except ValueError:
            raise ValueError(f"{where}, column {column}: {field!r} is not a number (every column "
                             "but the last is a feature, and features are numbers)") from None
        if not math.isfinite(v):
            raise ValueError(f"{where}, column {column}: {field!r} is not a finite number")
        x.append(v)
    if not fields[-1]:
        raise ValueError(f"{where}: the label (the last column) is empty")
    return x


def _class_order(labels: List[str]) -> List[str]:
    """The distinct labels, numerically sorted when they are all numbers, else as text."""
    distinct = list(dict.fromkeys(labels))
    if all(_is_number(label) for label in distinct):
        return sorted(distinct, key=float)
    return sorted(distinct)


def load_csv(path: Union[str, os.PathLike[str]], *, max_bytes: Optional[int] = None
             ) -> Tuple[List[List[float]], List[int], List[str]]:
    """A classification table from a CSV file: ``(X, y, classes)``.

    Every column but the last is a feature (a finite number); the last is the label,
    any text.  ``classes`` lists the distinct labels, sorted (numerically if they are all
    numbers), and ``y[i]`` is the index of sample i's label in it, ready for
    ``cross_entropy``.  A first row whose features are not numbers is a header and is
    skipped; blank lines are skipped.  A bad row raises a ValueError naming the file, the
    line, the column and what is wrong; a file over ``max_bytes`` (default
    ``MAX_CSV_BYTES``) is refused before it is parsed.
    """
    name = os.fspath(path)
    rows = _csv_rows(name, max_bytes)
    if not rows:
        raise ValueError(f"{name}: the file is empty; expected rows of features, then a label")
    line, first = rows[0]
    if len(first) < 2:
        raise ValueError(f"{name}, line {line}: {len(first)} column; expected at least two "
                         "(one or more features, then a label)")
    header = not any(_is_number(field) for field in first[:-1])
    if header:
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{name}: the file has a header (line {line}) but no rows of data")
    X = [_csv_sample(name, n, fields, len(first), header) for n, fields in rows]
    labels = [fields[-1] for _, fields in rows]
    classes = _class_order(labels)
    index: Dict[str, int] = {label: i for i, label in enumerate(classes)}
    return X, [index[label] for label in labels], classes
