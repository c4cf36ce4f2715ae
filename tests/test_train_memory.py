"""``fit`` holds a flat amount of memory across epochs, on CPython and on PyPy.

A training step pauses the cyclic garbage collector (``autograd.modes.paused_gc``).  On
CPython reference counting frees each step's graph anyway; PyPy has no reference
counting, so there the pause must not happen, or nothing is freed while training runs
(micrograd's demo held 420 MB after 100 epochs, and grows ~3 MB an epoch).
"""

from __future__ import annotations

import os
import platform

import nn
from nn.optim import SGD, LinearDecay

PYPY = platform.python_implementation() == "PyPy"
EPOCHS = 30
WARM = 10  # epochs before the baseline: PyPy's JIT and the first caches settle by then


def _rss_mb() -> float:
    """Resident memory of this process (Linux), what a person watching `top` sees."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _traced_mb() -> float:
    import tracemalloc  # CPython only: PyPy has no tracemalloc

    return tracemalloc.get_traced_memory()[0] / 2**20


class _Probe(LinearDecay):
    """micrograd's schedule, measuring memory every 10 optimiser steps (full batch: epochs)."""

    def __init__(self, optimizer: SGD, measure) -> None:
        super().__init__(optimizer, 1.0, 0.1, EPOCHS)
        self.measure = measure
        self.seen: dict = {}

    def step(self) -> float:
        lr = super().step()
        if self.last_step % 10 == 0:
            self.seen[self.last_step] = self.measure()
        return lr


def test_memory_stays_flat_across_epochs():
    X, y = nn.data.make_moons(100, noise=0.1, seed=1337, labels="pm1")
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    optimizer = SGD(model.parameters(), lr=1.0)
    if PYPY:  # RSS: the whole heap, honest about what is held (~3 MB per epoch when leaking)
        probe = _Probe(optimizer, _rss_mb)
        limit = 40.0
        nn.fit(model, X, y, loss="hinge", optimizer=optimizer, schedule=probe, epochs=EPOCHS,
               l2=1e-4, verbose=False)
    else:  # tracemalloc: every Python allocation still alive (a few kB of noise)
        import tracemalloc

        probe = _Probe(optimizer, _traced_mb)
        limit = 1.0
        tracemalloc.start()
        try:
            nn.fit(model, X, y, loss="hinge", optimizer=optimizer, schedule=probe, epochs=EPOCHS,
                   l2=1e-4, verbose=False)
        finally:
            tracemalloc.stop()
    baseline = probe.seen[WARM]
    later = {k: v for k, v in probe.seen.items() if k > WARM}
    growth = max(later.values()) - baseline
    assert growth < limit, (f"memory grew {growth:.1f} MB from epoch {WARM} to {EPOCHS} "
                            f"({platform.python_implementation()}): {probe.seen}")
