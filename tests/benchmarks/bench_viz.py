"""How long drawing a graph takes: ``viz.to_dot`` plus SVG rendering, by graph size.

Two kinds of graph of one sample's squared error through an MLP (relu hidden, linear out):
*fused*, built by ``nn`` (one ``dot`` node per neuron's u, clusters per layer and neuron),
and *unfused*, the same weights as micrograd builds it, u = b + Σ θ·o with a ``*`` and a
``+`` node per weight (no tags, so no clusters).  Sizes are chosen to give about 100, 500
and 1,000 values; the fused 2-16-16-1 row is the target: under 2 s.

Run:  python tests/benchmarks/bench_viz.py [--repeat N] [--png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Tuple

import nn
import viz
from autograd import Value, topological_order
from viz.render import find_renderer, run

TARGET_SECONDS = 2.0
X, Y = [0.5, -0.2], 1.0


def fused(sizes: List[int]) -> Value:
    model = nn.MLP(sizes[0], sizes[1:], activation="relu", seed=0)
    err = nn.mse([model(X)], [Y])
    err.backward()
    return err


def unfused(sizes: List[int]) -> Value:
    model = nn.MLP(sizes[0], sizes[1:], activation="relu", seed=0)
    o = [Value(x) for x in X]
    for i, layer in enumerate(model.layers):
        last = i == len(model.layers) - 1
        new = []
        for neuron in layer.neurons:
            u = Value(neuron.b.data)
            for w, x in zip(neuron.w, o):
                u = u + Value(w.data) * x
            new.append(u if last else u.relu())
        o = new
    err = (Y - o[0]) ** 2
    err.backward()
    return err


CASES: List[Tuple[str, List[int], object]] = [
    ("fused", [2, 6, 6, 1], fused),
    ("fused", [2, 16, 16, 1], fused),
    ("fused", [2, 27, 27, 1], fused),
    ("unfused", [2, 4, 4, 1], unfused),
    ("unfused", [2, 10, 10, 1], unfused),
    ("unfused", [2, 16, 16, 1], unfused),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (median shown)")
    parser.add_argument("--png", action="store_true", help="also time PNG rendering")
    args = parser.parse_args()

    print(f"renderer: {find_renderer()}")
    print(f"python {sys.version.split()[0]}, median of {args.repeat} run(s)\n")
    head = f"{'graph':<8} {'MLP':<10} {'values':>6} {'to_dot':>8} {'svg':>8} {'total':>8} {'svg KB':>7}"
    if args.png:
        head += f" {'png':>8}"
    print(head)
    print("-" * len(head))
    target_total = None
    for kind, sizes, build in CASES:
        root = build(sizes)
        n = len(topological_order(root))
        t_dot, t_svg, t_png, size = [], [], [], 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            drawing = viz.to_dot(root, max_nodes=2000)
            t1 = time.perf_counter()
            text = run(drawing.source, "svg")
            t2 = time.perf_counter()
            t_dot.append(t1 - t0)
            t_svg.append(t2 - t1)
            size = len(text)
            if args.png:
                t3 = time.perf_counter()
                run(drawing.source, "png")
                t_png.append(time.perf_counter() - t3)
        d, s = statistics.median(t_dot), statistics.median(t_svg)
        name = "-".join(map(str, sizes))
        row = f"{kind:<8} {name:<10} {n:>6} {d * 1e3:>6.0f}ms {s:>7.2f}s {d + s:>7.2f}s {size / 1024:>7.0f}"
        if args.png:
            row += f" {statistics.median(t_png):>7.2f}s"
        print(row)
        if kind == "fused" and sizes == [2, 16, 16, 1]:
            target_total = d + s
    verdict = "ok" if target_total is not None and target_total < TARGET_SECONDS else "MISSED"
    print(f"\ntarget: fused MLP 2-16-16-1 drawn in < {TARGET_SECONDS:g} s: {target_total:.2f} s ({verdict})")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
