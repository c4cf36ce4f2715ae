"""The data generators: shapes, labels, geometry, seeds, and argument checks."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from nn.data import make_blobs, make_circles, make_moons, make_spirals, make_xor, train_test_split

GENERATORS = {
    "moons": make_moons, "circles": make_circles, "xor": make_xor,
    "spirals": make_spirals, "blobs": make_blobs,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shapes_and_types(name):
    X, y = GENERATORS[name](n_samples=37, seed=3)
    assert len(X) == len(y) == 37
    assert all(isinstance(x, list) and len(x) == 2 for x in X)
    assert all(v.__class__ is float and math.isfinite(v) for x in X for v in x)
    assert all(c.__class__ is int for c in y)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_seed_reproducible_and_global_random_untouched(name):
    random.seed(1234)
    state = random.getstate()
    a = GENERATORS[name](n_samples=20, seed=7)
    b = GENERATORS[name](n_samples=20, seed=7)
    c = GENERATORS[name](n_samples=20, seed=8)
    GENERATORS[name](n_samples=20)  # seed=None: fresh entropy, still not the global generator
    assert random.getstate() == state
    assert a == b
    assert a != c


@pytest.mark.parametrize("make", [make_moons, make_circles, make_xor])
def test_binary_labels_01_and_pm1(make):
    X, y = make(n_samples=40, seed=0)
    assert Counter(y) == {0: 20, 1: 20}
    Xs, ys = make(n_samples=40, seed=0, labels="pm1")
    assert Xs == X and ys == [2 * v - 1 for v in y]
    with pytest.raises(ValueError, match="'01'.*'pm1'"):
        make(n_samples=40, seed=0, labels="+-")


def test_moons_geometry_without_noise():
    X, y = make_moons(n_samples=50, noise=0.0, seed=1)
    for (a, b), label in zip(X, y):
        if label == 0:  # upper half circle of radius 1 centred at (0, 0)
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # lower half circle centred at (1, 0.5)
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12
    assert Counter(y) == {0: 25, 1: 25}


def test_moons_noise_is_its_standard_deviation():
    # the signed distance of each noisy point from its moon's circle is, to first order,
    # the radial part of 2-D Gaussian noise, whose standard deviation is σ
    offsets = []
    X, y = make_moons(n_samples=2000, noise=0.3, seed=5)
    for (a, b), label in zip(X, y):
        cx, cy = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        offsets.append(math.hypot(a - cx, b - cy) - 1.0)
    mean = sum(offsets) / len(offsets)
    sd = math.sqrt(sum((o - mean) ** 2 for o in offsets) / len(offsets))
    assert 0.25 < sd < 0.35


def test_circles_geometry_without_noise():
    X, y = make_circles(n_samples=30, noise=0.0, factor=0.3, seed=2)
    for (a, b), label in zip(X, y):
        assert math.hypot(a, b) == pytest.approx(1.0 if label == 0 else 0.3)


def test_xor_corners_without_noise():
    X, y = make_xor(n_samples=16, noise=0.0, seed=4)
    for (a, b), label in zip(X, y):
        assert abs(a) == abs(b) == 1.0
        assert label == (1 if a * b < 0 else 0)


def test_spirals_radius_and_classes():
    X, y = make_spirals(n_samples=100, n_classes=4, noise=0.0, seed=0)
    assert Counter(y) == {0: 25, 1: 25, 2: 25, 3: 25}
    assert all(0.0 < math.hypot(a, b) <= 1.0 + 1e-12 for a, b in X)
    # without noise the angle of a point on arm c at radius r is 4·(c + r)
    for (a, b), c in zip(X, y):
        r = math.hypot(a, b)
        t = 4.0 * (c + r)
        assert (a, b) == pytest.approx((r * math.sin(t), r * math.cos(t)))


def test_blobs_count_and_explicit_centres():
    X, y = make_blobs(n_samples=9, centers=[[5, 5], [-5, 0]], std=0.0, seed=0)
    for x, c in zip(X, y):
        assert x == [[5.0, 5.0], [-5.0, 0.0]][c]
    X, y = make_blobs(n_samples=40, centers=4, std=0.0, seed=0)
    assert Counter(y) == {0: 10, 1: 10, 2: 10, 3: 10}
    assert all(math.hypot(a, b) == pytest.approx(2.0) for a, b in X)


@pytest.mark.parametrize("call, exc, text", [
    (lambda: make_moons(n_samples=0), ValueError, "n_samples must be >= 2"),
    (lambda: make_moons(n_samples=10.5), TypeError, "n_samples must be an int"),
    (lambda: make_moons(noise=-0.1), ValueError, "noise"),
    (lambda: make_moons(noise=math.inf), ValueError, "finite"),
    (lambda: make_moons(seed="abc"), TypeError, "seed must be an int"),
    (lambda: make_circles(factor=1.0), ValueError, "factor"),
    (lambda: make_xor(n_samples=3), ValueError, ">= 4"),
    (lambda: make_spirals(n_samples=2, n_classes=3), ValueError, "at least n_classes"),
    (lambda: make_spirals(n_classes=1), ValueError, "n_classes must be >= 2"),
    (lambda: make_blobs(centers=[]), ValueError, "empty"),
    (lambda: make_blobs(centers=[[1, 2, 3]]), TypeError, "centers"),
    (lambda: make_blobs(n_samples=2, centers=3), ValueError, "number of centers"),
    (lambda: make_blobs(std=-1), ValueError, "std"),
])
def test_bad_arguments(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_train_test_split_partitions_the_data():
    X = [[float(i), 0.0] for i in range(10)]
    y = list(range(10))
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(Xte) == 3 and len(Xtr) == 7  # ⌈0.25·10⌉ = 3
    assert sorted(ytr + yte) == y
    assert all(x[0] == label for x, label in zip(Xtr + Xte, ytr + yte))  # pairs kept together
    assert train_test_split(X, y, test_size=0.25, seed=0) == (Xtr, Xte, ytr, yte)
    assert len(train_test_split(X, y, test_size=4, seed=0)[1]) == 4


@pytest.mark.parametrize("args, exc, text", [
    (([[0, 0]] * 3, [0] * 2), ValueError, "3 samples but y has 2"),
    (([[0, 0]], [0]), ValueError, "at least 2"),
    (([[0, 0]] * 4, [0] * 4, 1.0), ValueError, r"in \(0, 1\)"),
    (([[0, 0]] * 4, [0] * 4, 4), ValueError, "both parts"),
    (([[0, 0]] * 4, [0] * 4, "half"), TypeError, "test_size"),
])
def test_train_test_split_bad_arguments(args, exc, text):
    with pytest.raises(exc, match=text):
        train_test_split(*args)


# --- size limits: refused up front, with the number and the limit -------------------------

BY_FUNCTION_NAME = {"make_moons": make_moons, "make_circles": make_circles, "make_xor": make_xor,
              "make_spirals": make_spirals, "make_blobs": make_blobs}


@pytest.mark.parametrize("name", list(BY_FUNCTION_NAME))
def test_a_data_set_above_the_size_limit_is_refused_before_drawing(name):
    import time

    from nn import data

    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"{name}: n_samples=1,000,000,000,000 is more than the "
                                         f"limit of {data.MAX_SAMPLES:,} samples; pass "
                                         "max_samples=1000000000000"):
        BY_FUNCTION_NAME[name](10 ** 12)
    assert time.perf_counter() - start < 1.0  # nothing was drawn
    with pytest.raises(ValueError, match="n_samples=20 is more than the limit of 12 samples"):
        BY_FUNCTION_NAME[name](20, max_samples=12)
    X, y = BY_FUNCTION_NAME[name](20, max_samples=20)  # the keyword moves the limit
    assert len(X) == len(y) == 20
    with pytest.raises(TypeError, match="max_samples must be a positive integer"):
        BY_FUNCTION_NAME[name](20, max_samples=2.5)


def test_make_blobs_refuses_a_huge_centre_count_before_placing_the_centres():
    with pytest.raises(ValueError, match=r"n_samples \(10\) must be at least the number of "
                                         r"centers \(1000000000\)"):
        make_blobs(10, centers=10 ** 9)
