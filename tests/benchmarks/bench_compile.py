"""(e) autograd.compile on micrograd's demo, in one run with the other implementations.

The workload, initial weights and runners (a)-(d) are bench_micrograd_demo.py's; this
adds (e): the same training step as (a) (nn.MLP forward, hinge + 1e-4·Σθ², backward),
traced once by ``autograd.compile`` with the batch X as the compiled function's input,
then SGD.  Every runner must produce the same loss at every step (exit 1 otherwise).
Also reported: how long compiling takes (CPU time), for the one-sample MLP graph and for
the whole 100-sample training step.

Run:  python tests/benchmarks/bench_compile.py [--steps N] [--wall]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_micrograd_demo as demo  # noqa: E402  (the shared workload and runners)

import autograd  # noqa: E402
import nn  # noqa: E402
from autograd import dot  # noqa: E402


def run_compiled(w: demo.Workload) -> demo.Step:
    """(e): (a)'s step compiled once; labels are constants (hinge branches on them)."""
    model = nn.MLP(2, demo.SIZES, seed=0)
    model.load_state_dict(w.state)
    params = model.parameters()
    opt = nn.SGD(params, lr=demo.LR_START)
    schedule = nn.LinearDecay(opt, demo.LR_START, demo.LR_END, demo.LR_STEPS)
    y = w.y

    def objective(X: List[List[autograd.Value]]) -> autograd.Value:
        return nn.hinge([model(x) for x in X], y) + demo.ALPHA * dot(params, params)

    step = autograd.compile(objective, (w.X,))

    def run(k: int) -> float:
        opt.zero_grad()
        err = step(w.X)
        opt.step()
        schedule.step()
        return err

    return run


RUNNERS = [r for r in demo.RUNNERS if r.key not in ("b", "e")] + [  # demo's (e) is fit's step
    demo.Runner("e", "autograd.compile (a)'s step", run_compiled)]


def compile_times(w: demo.Workload, repeat: int = 3) -> Dict[str, float]:
    """Median CPU seconds to compile: the MLP's one-sample graph, and the batch step."""
    model = nn.MLP(2, demo.SIZES, seed=0)
    params = model.parameters()
    cases: Dict[str, Callable[[], object]] = {
        "MLP 2-16-16-1, one sample (x -> ŷ)": lambda: autograd.compile(
            lambda a, b: model([a, b]), [0.5, -0.5]),
        f"training step, {demo.SAMPLES} samples (hinge + L2)": lambda: autograd.compile(
            lambda X: nn.hinge([model(x) for x in X], w.y) + demo.ALPHA * dot(params, params),
            (w.X,)),
    }
    out = {}
    for name, make in cases.items():
        spent = []
        for _ in range(repeat):
            gc.collect()
            start = time.process_time()
            compiled = make()
            spent.append(time.process_time() - start)
        out[name] = statistics.median(spent)
        print(f"  {name:<44} {1000 * out[name]:8.1f} ms   {compiled}")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per runner (default 10)")
    parser.add_argument("--wall", action="store_true",
                        help="time with the wall clock instead of this process's CPU time")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    w = demo.workload()
    print(f"autograd.compile on micrograd's demo: {demo.SAMPLES} moons, MLP "
          f"2-{'-'.join(map(str, demo.SIZES))}, hinge + {demo.ALPHA:g}·Σθ², full batch "
          f"(Python {platform.python_version()}, {platform.machine()})")
    print("\ncompile time (CPU, median of 3, includes tracing):")
    compile_times(w)

    runners = []
    for r in RUNNERS:
        step = r.make(w)
        if step is None:
            print(f"({r.key}) {r.name}: skipped (not installed; pip install micrograd)")
        else:
            runners.append((r, step))
    clock = time.perf_counter if args.wall else time.process_time
    times, losses = demo.time_runners(runners, args.steps, clock)

    median = {key: statistics.median(ts) for key, ts in times.items()}
    e, floor, manual, micro = median["e"], median.get("c"), median.get("c'"), median.get("d")
    print(f"\nmedian {'wall' if args.wall else 'CPU'} time of {args.steps} steps:")
    print(f"{'':38} {'median step':>12} {'(e) faster by':>14} {'vs micrograd':>13}")
    for r, _ in runners:
        t = median[r.key]
        by = f"{t / e:.1f}x" if r.key != "e" else "-"
        to_micro = f"{micro / t:.0f}x faster" if micro and r.key != "d" else "-"
        print(f"({r.key}) {r.name:<34} {1000 * t:>9.2f} ms {by:>14} {to_micro:>13}")

    reference = losses["a"]
    worst = max(abs(x - a) / max(abs(a), 1e-300)
                for r, _ in runners for x, a in zip(losses[r.key], reference))
    exact = losses["e"] == reference
    print(f"\nlosses, {len(reference)} steps: {reference[0]:.6f} -> {reference[-1]:.6f}; (e) equals "
          f"(a) {'exactly' if exact else 'NOT exactly'}; max relative difference over all: {worst:.1e}")
    if worst > 1e-9:
        print("FAIL: the runners do not compute the same losses", file=sys.stderr)
        return 1
    checks = [("(e) no slower than the float floor (c)", e <= floor, f"{floor / e:.2f}x"),
              ("(e) no slower than nn.manual_backprop (c')", e <= manual, f"{manual / e:.1f}x")]
    if micro:
        checks.insert(0, ("(e) >= 500x micrograd", micro / e >= 500, f"{micro / e:.0f}x"))
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'} ({got})"
                                  for name, ok, got in checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
