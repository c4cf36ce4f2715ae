"""How big ``viz.html`` pages are and how fast they load and step, in headless Chromium.

Graphs of about 100 and 1,000 values: a chain of fan-outs (x ← tanh(x·w + x), each x used
twice), one sample's squared error through an MLP as ``nn`` builds it (one ``dot`` node
per neuron, clusters), the same MLP unfused (a × and a + per weight), and network mode
(``viz.html(model, x, y)``: the network diagram stepped neuron by neuron).  Per page: its
size, the Python time to build it, the time Chromium takes to load it from ``file://``
until the player shows step 1, and the time of one step (a click on "Next step" plus the
layout it causes), median and worst over every step from the first to the last, as wall
time and as the renderer's CPU time (from a Chromium trace: the click's event and the style
and layout work it forces).  On a shared machine the wall time's worst steps are mostly time
the renderer spent waiting for a CPU; the CPU time is the page's own work.
The targets: a 1,000-value page under about 2 MB, steps without visible lag (< 50 ms).

Run:  python tests/benchmarks/bench_page.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

import nn
import viz
from autograd import Value, topological_order

MAX_BYTES = 2_000_000
MAX_STEP_MS = 50.0
X, Y = [0.5, -0.2], 1.0

# Clicks "Next step" through every step, timing each click and the layout it forces.
STEP_ALL_JS = """
() => {
  const next = document.getElementById('dg-next'), times = [];
  while (!next.disabled) {
    const t0 = performance.now();
    next.click();
    document.body.getBoundingClientRect();
    times.push(performance.now() - t0);
  }
  return times;
}
"""


def chain(n: int) -> Value:
    x = Value(0.5, "x")
    k = 0
    while len(topological_order(x)) < n - 4:
        x = (x * Value(0.1 * (k % 7) - 0.3, f"w{k}") + x).tanh()
        k += 1
    return x


def fused(sizes: List[int]) -> Value:
    model = nn.MLP(sizes[0], sizes[1:], activation="tanh", seed=0)
    return nn.mse([model(X)], [Y])


def unfused(sizes: List[int]) -> Value:
    model = nn.MLP(sizes[0], sizes[1:], activation="tanh", seed=0)
    o = [Value(x) for x in X]
    for i, layer in enumerate(model.layers):
        new = []
        for neuron in layer.neurons:
            u = Value(neuron.b.data)
            for w, x in zip(neuron.w, o):
                u = u + Value(w.data) * x
            new.append(u if i == len(model.layers) - 1 else u.tanh())
        o = new
    return (Y - o[0]) ** 2


def network(sizes: List[int]) -> nn.MLP:
    return nn.MLP(sizes[0], sizes[1:], activation="tanh", seed=0)


CASES: List[Tuple[str, str, Callable[[], object]]] = [
    ("chain", "100", lambda: chain(100)),
    ("chain", "1000", lambda: chain(1000)),
    ("fused", "2-6-6-1", lambda: fused([2, 6, 6, 1])),
    ("fused", "2-27-27-1", lambda: fused([2, 27, 27, 1])),
    ("unfused", "2-4-4-1", lambda: unfused([2, 4, 4, 1])),
    ("unfused", "2-16-16-1", lambda: unfused([2, 16, 16, 1])),
    ("network", "2-2-1", lambda: network([2, 2, 1])),
    ("network", "2-16-16-1", lambda: network([2, 16, 16, 1])),
]


def page_of(graph: object) -> Tuple[str, int]:
    """The page of a Value (after backward) or of a model on (X, Y), and its number of values."""
    if isinstance(graph, Value):
        graph.backward()
        return viz.html(graph, max_nodes=2000), len(topological_order(graph))
    return viz.html(graph, x=X, y=Y, max_nodes=2000), len(topological_order(graph.trace(X, Y).err))


def chromium() -> str:
    for candidate in (os.environ.get("DELTAGRAD_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("bench_page: no Chromium found (apt-get install chromium, or set DELTAGRAD_CHROMIUM)")


_TRACED = ("EventDispatch", "Layout", "UpdateLayoutTree")


def cpu_per_step(events: List[dict]) -> List[float]:
    """CPU ms of each step in a trace: the click's event and the style and layout work that
    follows it (nested events counted once), grouped by the click they follow."""
    def counted(e: dict) -> bool:
        if e.get("name") not in _TRACED or "tdur" not in e:
            return False
        return e["name"] != "EventDispatch" or e.get("args", {}).get("data", {}).get("type") == "click"

    work = sorted(filter(counted, events), key=lambda e: e["ts"])
    steps: List[float] = []
    end = -1.0
    for e in work:
        if e["name"] == "EventDispatch":
            steps.append(0.0)
        if steps and e["ts"] >= end:  # not inside the event counted before it
            steps[-1] += e["tdur"] / 1000
            end = e["ts"] + e["dur"]
    return steps


def measure(browser: object, path: Path, trace: bool) -> Tuple[float, List[float], List[float]]:
    """Load time (s) of the page at ``path``, the wall time (ms) of each of its steps and,
    with ``trace``, their CPU time (ms)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => /^Step 1 /.test(document.getElementById('dg-counter').textContent)")
    load = time.perf_counter() - t0
    if trace:
        browser.start_tracing(page=page, categories=["devtools.timeline"])  # type: ignore[attr-defined]
    steps = page.evaluate(STEP_ALL_JS)
    cpu = []
    if trace:
        data = json.loads(browser.stop_tracing())  # type: ignore[attr-defined]
        cpu = cpu_per_step(data["traceEvents"] if isinstance(data, dict) else data)
    page.close()
    return load, steps, cpu


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="page loads per row (median shown)")
    args = parser.parse_args()
    head = (f"{'graph':<8} {'size':<10} {'values':>6} {'steps':>6} {'page KB':>8} {'build':>7} "
            f"{'load':>7} {'step med':>9} {'step max':>9} {'cpu med':>8} {'cpu max':>8}")
    print(f"python {sys.version.split()[0]}, Chromium {chromium()}, median of {args.repeat} load(s)\n")
    print(head)
    print("-" * len(head))
    ok = True
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        for kind, size, build in CASES:
            graph = build()
            t0 = time.perf_counter()
            text, n = page_of(graph)
            built = time.perf_counter() - t0
            path = Path(folder) / f"{kind}-{size}.html"
            path.write_text(text, encoding="utf-8")
            loads, steps, cpu = [], [], []
            for r in range(args.repeat):
                load, times, used = measure(browser, path, trace=r == 0)
                loads.append(load)
                steps.extend(times)
                cpu.extend(used)
            nbytes = path.stat().st_size
            med, worst = statistics.median(steps), max(steps)
            print(f"{kind:<8} {size:<10} {n:>6} {len(times) + 1:>6} {nbytes / 1024:>8.0f} {built:>6.2f}s "
                  f"{statistics.median(loads):>6.2f}s {med:>7.2f}ms {worst:>7.1f}ms "
                  f"{statistics.median(cpu):>6.2f}ms {max(cpu):>6.1f}ms")
            if n >= 900:
                ok = ok and nbytes < MAX_BYTES * 1.25 and med < MAX_STEP_MS and max(cpu) < MAX_STEP_MS
        browser.close()
    print(f"\ntargets: 1,000-value pages under about {MAX_BYTES / 1e6:g} MB, a step under "
          f"{MAX_STEP_MS:g} ms: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
