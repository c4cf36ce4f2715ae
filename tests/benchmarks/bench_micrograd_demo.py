"""micrograd's demo workload, timed step by step in several implementations side by side.

The workload: 100 moons (noise 0.1, labels ±1), MLP 2-16-16-1 (relu hidden, linear out),
hinge loss + 1e-4·Σθ², SGD with η going linearly from 1.0 to 0.1 over 100 steps, full
batch.  One step is forward + backward + update.  Every runner starts from the same
weights (copied from the ``nn.MLP``) and must produce the same loss at every step; the
script checks that and exits 1 if they differ.

Run:  python tests/benchmarks/bench_micrograd_demo.py [--steps N] [--profile]

By default every runner trains all 100 steps of the demo (about 3 minutes, most of it
micrograd's): later steps are cheaper than the first ones, since samples that already
meet the hinge margin pass no gradient back, so timing only the first few steps would
not describe the demo.  ``--steps 10`` gives a quick, gradient-dense estimate.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc
from operator import mul
from typing import Callable, Dict, List, NamedTuple, Optional

import nn
from autograd import Value, dot
from nn.compiled_step import CompiledStep
from nn.train import _eager_step, _objective

SAMPLES, NOISE, SEED = 100, 0.1, 1337
SIZES = [16, 16, 1]
ALPHA = 1e-4  # micrograd's L2 coefficient: the loss gets ALPHA·Σθ²
LR_START, LR_END, LR_STEPS = 1.0, 0.1, 100


def lr_at(k: int) -> float:
    """η at step k, the same expression ``nn.LinearDecay(opt, 1.0, 0.1, 100)`` uses."""
    if k >= LR_STEPS:
        return LR_END
    return LR_START + (LR_END - LR_START) * k / LR_STEPS


class Workload(NamedTuple):
    X: List[List[float]]
    y: List[float]
    state: Dict[str, float]  # the nn.MLP's initial parameters, by dotted name
    weights: List[List[tuple]]  # the same as [layer][neuron] -> (θ list, b)


def workload() -> Workload:
    X, y = nn.data.make_moons(SAMPLES, noise=NOISE, seed=SEED, labels="pm1")
    model = nn.MLP(2, SIZES, seed=SEED)
    weights = [[([w.data for w in n.w], n.b.data) for n in layer.neurons] for layer in model.layers]
    return Workload(X, [float(t) for t in y], model.state_dict(), weights)


Step = Callable[[int], float]  # step(k) runs training step k and returns its loss


# --- (a) nn.MLP, eager: the step nn.fit and `deltagrad train` run ------------------------

def run_nn(w: Workload) -> Step:
    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    opt = nn.SGD(model.parameters(), lr=LR_START)
    schedule = nn.LinearDecay(opt, LR_START, LR_END, LR_STEPS)
    step = _eager_step(_objective(model, nn.hinge, ALPHA, opt.params), opt)
    X, y = w.X, w.y

    def run(k: int) -> float:
        err, _ = step(X, y)
        opt.step()
        schedule.step()
        return err

    return run


# --- (e) the step nn.fit(compile=True) and `deltagrad train --compile` run -------------

def run_fit_compiled(w: Workload) -> Step:
    """(a)'s step traced once by autograd.compile (in the untimed warm-up step), then run
    as generated code: the samples are its inputs, the labels constants."""
    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    opt = nn.SGD(model.parameters(), lr=LR_START)
    schedule = nn.LinearDecay(opt, LR_START, LR_END, LR_STEPS)
    step = CompiledStep(model, nn.hinge, opt, w.X, w.y,
                        _objective(model, nn.hinge, ALPHA, opt.params), ALPHA)
    X, y = step.X, step.y

    def run(k: int) -> float:
        err, _ = step(X, y)
        opt.step()
        schedule.step()
        return err

    run.history = step  # type: ignore[attr-defined]  (its compile time, for the report)
    return run


# --- (b) the same network written by hand with + and * on Values (micrograd's code) ------

def run_hand(w: Workload) -> Step:
    layers = [[([Value(t) for t in thetas], Value(b)) for thetas, b in layer] for layer in w.weights]
    params = [p for layer in layers for thetas, b in layer for p in (*thetas, b)]
    last = len(layers) - 1

    def forward(x: List[Value]) -> Value:
        o = x
        for t, layer in enumerate(layers):
            out = []
            for thetas, b in layer:
                u = sum((th * oi for th, oi in zip(thetas, o)), b)
                out.append(u if t == last else u.relu())
            o = out
        return o[0]

    def run(k: int) -> float:
        inputs = [list(map(Value, row)) for row in w.X]
        scores = [forward(x) for x in inputs]
        losses = [(1 + -yi * s).relu() for yi, s in zip(w.y, scores)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        total.backward()
        lr = lr_at(k)
        for p in params:
            p.data -= lr * p.grad
        return total.data

    return run


# --- (c) the textbook's formulas on floats: the pure-Python floor ------------------------

def run_floats(w: Workload) -> Step:
    """u_i = Σθ_iℓ·o_ℓ + b_i, o_i = relu(u_i); δ_out = ∂Err/∂ŷ (linear output),
    δ_i = [u_i > 0]·Σ_j δ_j·θ_ji; ∂Err/∂θ_iℓ = δ_i·o_ℓ.  Samples with zero hinge
    loss have δ = 0 everywhere and are skipped, as no chain-rule engine can know to."""
    W = [[list(thetas) for thetas, _ in layer] for layer in w.weights]
    B = [[b for _, b in layer] for layer in w.weights]
    n, L = len(w.X), len(W)

    def run(k: int) -> float:
        gW = [[[0.0] * len(row) for row in Wt] for Wt in W]
        gB = [[0.0] * len(Bt) for Bt in B]
        columns = [None] + [list(zip(*Wt)) for Wt in W[1:]]  # θ_ji by i, for the δ recursion
        data_loss = 0.0
        for x, yi in zip(w.X, w.y):
            outs, us, o = [x], [], x
            for t in range(L):
                u = [sum(map(mul, row, o)) + b for row, b in zip(W[t], B[t])]
                us.append(u)
                o = u if t == L - 1 else [v if v > 0.0 else 0.0 for v in u]
                outs.append(o)
            margin = 1.0 - yi * o[0]
            if margin <= 0.0:
                continue
            data_loss += margin
            delta = [-yi / n]  # ∂(mean hinge)/∂ŷ, times σ'(u) = 1 for the linear output
            for t in range(L - 1, -1, -1):
                o_prev = outs[t]
                for i, d in enumerate(delta):
                    if d:
                        row = gW[t][i]
                        for ell, ol in enumerate(o_prev):
                            row[ell] += d * ol
                        gB[t][i] += d
                if t:
                    delta = [sum(map(mul, delta, col)) if u > 0.0 else 0.0
                             for col, u in zip(columns[t], us[t - 1])]
        reg = sum(th * th for Wt in W for row in Wt for th in row) + sum(b * b for Bt in B for b in Bt)
        loss = data_loss / n + ALPHA * reg
        lr, two_alpha = lr_at(k), 2.0 * ALPHA
        for Wt, gWt, Bt, gBt in zip(W, gW, B, gB):
            for row, grow in zip(Wt, gWt):
                for ell, (th, g) in enumerate(zip(row, grow)):
                    row[ell] = th - lr * (g + two_alpha * th)
            for i, (b, g) in enumerate(zip(Bt, gBt)):
                Bt[i] = b - lr * (g + two_alpha * b)
        return loss

    return run


# --- (c') nn.manual_backprop, one sample at a time, gradients summed over the batch -------

def run_manual(w: Workload) -> Step:
    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    named = model.named_parameters()
    n = len(w.X)

    def run(k: int) -> float:
        grads = dict.fromkeys(w.state, 0.0)
        err = 0.0
        for x, yi in zip(w.X, w.y):
            result = nn.manual_backprop(model, x, yi, loss="hinge")
            err += result.err
            for name, g in result.grads.items():
                grads[name] += g
        loss = err / n + ALPHA * sum(p.data * p.data for _, p in named)
        lr = lr_at(k)
        for name, p in named:
            p.data -= lr * (grads[name] / n + 2.0 * ALPHA * p.data)
        return loss

    return run


# --- (d) micrograd 0.1.0, its demo notebook's loss() and update -------------------------

def run_micrograd(w: Workload) -> Optional[Step]:
    try:
        from micrograd.engine import Value as MValue
        from micrograd.nn import MLP as MMLP
    except ImportError:
        return None
    model = MMLP(2, SIZES)
    for p, v in zip(model.parameters(), w.state.values()):  # same order: per neuron w..., b
        p.data = v

    def run(k: int) -> float:
        inputs = [list(map(MValue, row)) for row in w.X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * s).relu() for yi, s in zip(w.y, scores)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        lr = lr_at(k)
        for p in model.parameters():
            p.data -= lr * p.grad
        return total.data

    return run


class Runner(NamedTuple):
    key: str
    name: str
    make: Callable[[Workload], Optional[Step]]


RUNNERS = [
    Runner("a", "nn.MLP, eager (nn.fit's step)", run_nn),
    Runner("b", "hand-written Values, + and *", run_hand),
    Runner("c", "floats, textbook formulas (floor)", run_floats),
    Runner("c'", "nn.manual_backprop per sample", run_manual),
    Runner("d", "micrograd 0.1.0", run_micrograd),
    Runner("e", "nn.fit(compile=True)'s step", run_fit_compiled),
]


def phases_nn(w: Workload, steps: int) -> None:
    """(a)'s step cut into its phases, timed without a profiler (which inflates calls)."""
    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    params = model.parameters()
    opt = nn.SGD(params, lr=LR_START)
    names = ("forward (nn.MLP)", "loss (hinge + L2)", "backward", "update (SGD)", "freeing the graph")
    spent = {name: [] for name in names}
    clock = time.process_time
    for k in range(steps + 1):
        opt.lr = lr_at(k)
        gc.disable()
        t0 = clock()
        preds = [model(x) for x in w.X]
        t1 = clock()
        err = nn.hinge(preds, w.y) + ALPHA * dot(params, params)
        t2 = clock()
        opt.zero_grad()
        err.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        del preds, err
        t5 = clock()
        gc.enable()
        if k:  # the first step is a warm-up
            for name, t in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                spent[name].append(t)
    print(f"\nphases of (a), median CPU time of {steps} steps:")
    for name in names:
        print(f"  {name:<20} {1000 * statistics.median(spent[name]):7.2f} ms")


def profile_nn(w: Workload, steps: int) -> None:
    """Where (a)'s time goes: self time by part of the code, then the top functions."""
    run = run_nn(w)
    run(0)
    profiler = cProfile.Profile()
    profiler.enable()
    for k in range(1, steps + 1):
        run(k)
    profiler.disable()
    stats = pstats.Stats(profiler)
    parts: Dict[str, float] = {}
    root = os.path.dirname(os.path.dirname(nn.__file__))
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename.startswith("<deltagrad op"):
            part = "engine: generated op methods"
        elif filename == __file__ or filename == os.path.abspath(__file__):
            part = "runner (mostly freeing the step's graph)"
        elif filename.startswith(root):
            rel = os.path.relpath(filename, root)
            part = ("engine: " if rel.startswith("autograd") else "nn: ") + rel
        elif filename == "~":
            part = f"builtin {func}"
        else:
            part = "other: " + os.path.basename(filename)
        parts[part] = parts.get(part, 0.0) + tottime
    total = sum(parts.values())
    print(f"\nprofile of (a), {steps} steps, {1000 * total / steps:.1f} ms/step under cProfile "
          "(self time by part):")
    for part, t in sorted(parts.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {100 * t / total:5.1f}%  {part}")
    print("\ntop functions by self time:")
    stats.sort_stats("tottime").print_stats(12)


def time_runners(runners: list, steps: int, clock: Callable[[], float]) -> tuple:
    """Train each (runner, step) for ``steps`` timed steps after one untimed warm-up step;
    returns ``(times, losses)``, each by runner key.

    Each runner trains in its own loop, as it would in use, so it pays for its own
    garbage (micrograd's graphs are cyclic, its closures refer to their nodes, so the
    cyclic collector frees them) and for nobody else's.
    """
    times: Dict[str, List[float]] = {r.key: [] for r, _ in runners}
    losses: Dict[str, List[float]] = {r.key: [] for r, _ in runners}
    for r, step in runners:
        gc.collect()
        losses[r.key].append(step(0))  # warm-up, untimed
        for k in range(1, steps + 1):
            start = clock()
            losses[r.key].append(step(k))
            times[r.key].append(clock() - start)
    return times, losses


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=LR_STEPS,
                        help=f"timed steps per runner (default {LR_STEPS}: the whole demo)")
    parser.add_argument("--wall", action="store_true",
                        help="time with the wall clock instead of this process's CPU time")
    parser.add_argument("--profile", action="store_true",
                        help="also time (a)'s phases and profile it, to show where the time goes")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")

    w = workload()
    runners = []
    for r in RUNNERS:
        step = r.make(w)
        if step is None:
            print(f"({r.key}) {r.name}: skipped (not installed; pip install micrograd)")
        else:
            runners.append((r, step))

    print(f"micrograd's demo: {SAMPLES} moons, MLP 2-{'-'.join(map(str, SIZES))}, hinge + {ALPHA:g}·Σθ², "
          f"SGD lr {LR_START}->{LR_END}, full batch; median {'wall' if args.wall else 'CPU'} time of "
          f"{args.steps} steps (Python {platform.python_version()}, {platform.machine()})")
    # CPU time of this process by default: other programs running on the machine would
    # otherwise show up in the figures; --wall measures elapsed time instead.
    clock = time.perf_counter if args.wall else time.process_time
    times, losses = time_runners(runners, args.steps, clock)
    memory: Dict[str, int] = {}
    for r, step in runners:  # one more step each, under tracemalloc
        gc.collect()
        tracemalloc.start()
        losses[r.key].append(step(args.steps + 1))
        memory[r.key] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    median = {key: statistics.median(ts) for key, ts in times.items()}
    floor, micro = median.get("c"), median.get("d")
    print(f"\n{'':38} {'median step':>12} {'x floor (c)':>12} {'vs micrograd':>13} {'peak memory':>12}")
    for r, _ in runners:
        t = median[r.key]
        to_floor = f"{t / floor:.1f}x" if floor else "-"
        to_micro = f"{micro / t:.1f}x faster" if micro and r.key != "d" else "-"
        print(f"({r.key}) {r.name:<34} {1000 * t:>9.2f} ms {to_floor:>12} {to_micro:>13} "
              f"{memory[r.key] / 1e6:>9.2f} MB")

    for r, step in runners:
        history = getattr(step, "history", None)
        if history is not None:
            print(f"({r.key}) compiled {history.compiled_steps} step in {history.compile_seconds:.2f} s "
                  "(wall time, once, in its untimed warm-up step)")

    reference = losses["a"]
    worst = 0.0
    print(f"\nlosses, {len(reference)} steps: (a) {reference[0]:.6f} -> {reference[-1]:.6f}; "
          "max relative difference from (a):")
    for r, _ in runners:
        if r.key == "a":
            continue
        diff = max(abs(x - a) / max(abs(a), 1e-300) for x, a in zip(losses[r.key], reference))
        worst = max(worst, diff)
        print(f"  ({r.key}) {diff:.2e}")
    if worst > 1e-9:
        print("FAIL: the runners do not compute the same losses", file=sys.stderr)
        return 1

    checks = []
    if micro:
        checks.append(("(a) >= 50x micrograd", micro / median["a"] >= 50, f"{micro / median['a']:.1f}x"))
        checks.append(("(b) >= 5x micrograd", micro / median["b"] >= 5, f"{micro / median['b']:.1f}x"))
    checks.append(("(a) within 8x of (c)", median["a"] / floor <= 8, f"{median['a'] / floor:.1f}x"))
    if "e" in median:
        e = median["e"]
        if micro:
            checks.append(("(e) >= 500x micrograd", micro / e >= 500, f"{micro / e:.0f}x"))
        manual = median["c'"]
        checks.append(("(e) no slower than (c)", e <= floor, f"{floor / e:.2f}x"))
        checks.append(("(e) no slower than (c')", e <= manual, f"{manual / e:.1f}x"))
    print("\ntargets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'} ({got})"
                                    for name, ok, got in checks))
    if args.profile:
        phases_nn(w, args.steps)
        profile_nn(w, max(args.steps, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
