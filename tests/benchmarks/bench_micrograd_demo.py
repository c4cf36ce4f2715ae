"""micrograd's demo workload, timed step by step in several implementations side by side.

The workload: 100 moons (noise 0.1, labels ±1), MLP 2-16-16-1 (relu hidden, linear out),
hinge loss + 1e-4·Σθ², SGD with η going linearly from 1.0 to 0.1 over 100 steps, full
batch.  One step is forward + backward + update.  Every runner starts from the same
weights (copied from the ``nn.MLP``) and must produce the same loss at every step; the
script checks that and exits 1 if they differ.

Two float anchors: (c), the tight loop that skips samples past the hinge margin (the
floor), and (c2), the same per sample with nothing skipped (what an engine must do);
(t) is PyTorch batched, run in another process (``--torch-python``) so that torch's heap
does not slow micrograd here.  Then the issue's targets, met or not, and (unless
``--quick``) the compiled step against (c) for batches of 1 to 10,000 samples and the
issue's jobs (fit eager and compile=True including compile time, the 1,000,000-node
chain and bytes per op, ``deltagrad train`` memory), each in a fresh process, beside
another checkout's figures with ``--versus PATH``.

Run:  python tests/benchmarks/bench_micrograd_demo.py [--steps N] [--versus PATH]
          [--torch-python PYTHON] [--long] [--quick] [--profile]

By default every runner trains all 100 steps of the demo (about 3 minutes, most of it
micrograd's; the jobs take two more, ``--long`` adds the 1,000-moons job): later steps are
cheaper than the first ones, since samples that already meet the hinge margin pass no
gradient back, so timing only the first few steps would not describe the demo.
``--steps 10`` gives a quick, gradient-dense estimate.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from operator import mul
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

try:
    import tracemalloc
except ImportError:  # PyPy has no tracemalloc: its table has no peak-memory figures
    tracemalloc = None  # type: ignore[assignment]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nn  # noqa: E402
import perf_jobs  # noqa: E402
from autograd import Value, dot  # noqa: E402
from autograd.graph import tape  # noqa: E402
from autograd.modes import paused_gc  # noqa: E402
from nn.train import _eager_step, _objective  # noqa: E402

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
    from nn.compiled_step import CompiledStep  # here: perf_jobs imports this file under older code

    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    opt = nn.SGD(model.parameters(), lr=LR_START)
    schedule = nn.LinearDecay(opt, LR_START, LR_END, LR_STEPS)
    step = CompiledStep(model, nn.hinge, opt, w.X, w.y,
                        _objective(model, nn.hinge, ALPHA, opt.params), ALPHA)
    step(step.X, step.y)  # compile now: the compile time is reported apart
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

def _l2_and_sgd(W: list, B: list, gW: list, gB: list, data_loss: float, k: int) -> float:
    """The float runners' last part of a step: Err = data loss + α·Σθ², then θ ← θ − η·(g + 2αθ)
    in place; returns Err."""
    reg = sum(th * th for Wt in W for row in Wt for th in row) + sum(b * b for Bt in B for b in Bt)
    loss = data_loss + ALPHA * reg
    lr, two_alpha = lr_at(k), 2.0 * ALPHA
    for Wt, gWt, Bt, gBt in zip(W, gW, B, gB):
        for row, grow in zip(Wt, gWt):
            for ell, (th, g) in enumerate(zip(row, grow)):
                row[ell] = th - lr * (g + two_alpha * th)
        for i, (b, g) in enumerate(zip(Bt, gBt)):
            Bt[i] = b - lr * (g + two_alpha * b)
    return loss


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
        return _l2_and_sgd(W, B, gW, gB, data_loss / n, k)

    return run


# --- (c2) the same on floats, one sample at a time, as a person would write it ---------------

def run_floats_per_sample(w: Workload) -> Step:
    """micrograd's demo written on floats the plain way: for each sample, forward, its hinge
    term, then backward through every layer (δ_i = [u_i > 0]·Σ_j δ_j·θ_ji), adding its
    gradients.  (c) with no sample skipped: what a chain-rule engine has to do, by hand."""
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
            data_loss += margin if margin > 0.0 else 0.0
            delta = [-yi / n if margin > 0.0 else 0.0]
            for t in range(L - 1, -1, -1):
                o_prev = outs[t]
                for i, d in enumerate(delta):
                    row = gW[t][i]
                    for ell, ol in enumerate(o_prev):
                        row[ell] += d * ol
                    gB[t][i] += d
                if t:
                    delta = [sum(map(mul, delta, col)) if u > 0.0 else 0.0
                             for col, u in zip(columns[t], us[t - 1])]
        return _l2_and_sgd(W, B, gW, gB, data_loss / n, k)

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
    Runner("c2", "floats, per-sample textbook loop", run_floats_per_sample),
    Runner("c'", "nn.manual_backprop per sample", run_manual),
    Runner("d", "micrograd 0.1.0", run_micrograd),
    Runner("e", "nn.fit(compile=True)'s step", run_fit_compiled),
]


def phases_nn(w: Workload, steps: int) -> None:
    """(a)'s step cut into its phases as ``nn.fit`` runs them (the layers' batch forward and
    backward under a tape, the graph freed while the collector is paused, then the update),
    timed without a profiler (which inflates calls)."""
    model = nn.MLP(2, SIZES, seed=0)
    model.load_state_dict(w.state)
    params = model.parameters()
    opt = nn.SGD(params, lr=LR_START)
    names = ("forward (forward_batch)", "loss (hinge + L2)", "backward (taped)", "freeing the graph",
             "update (SGD)")
    spent: Dict[str, List[float]] = {name: [] for name in names}
    clock = time.process_time
    for k in range(steps + 1):
        opt.lr = lr_at(k)
        with paused_gc():
            t0 = clock()
            with tape():
                preds = model.forward_batch(w.X)
                t1 = clock()
                err = nn.hinge(preds, w.y) + ALPHA * dot(params, params)
                t2 = clock()
                opt.zero_grad()
                err.backward()
                t3 = clock()
            del preds, err
            t4 = clock()
        opt.step()
        t5 = clock()
        if k:  # the first step is a warm-up
            for name, t in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                spent[name].append(t)
    print(f"\nphases of (a), median CPU time of {steps} steps:")
    for name in names:
        print(f"  {name:<24} {1000 * statistics.median(spent[name]):7.2f} ms")


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


#: Steps each runner trains before the next runner takes its turn (see time_runners).
BLOCK = 10


def time_runners(runners: list, steps: int, clock: Callable[[], float]) -> tuple:
    """Train each (runner, step) for ``steps`` timed steps after one untimed warm-up step;
    returns ``(times, losses)``, each by runner key.

    The runners take turns in blocks of BLOCK steps (runner 1's steps 1-10, runner 2's
    steps 1-10, ..., then everyone's 11-20), so that a slow or busy minute of a shared
    machine falls on every runner alike instead of on whichever runs then.  Within a
    block each runner trains in its own loop, as it would in use, so it pays for its own
    garbage (micrograd's graphs are cyclic, its closures refer to their nodes, so the
    cyclic collector frees them); what is left at the end of a block is collected,
    untimed, before the next runner starts, so nobody pays for another's.
    """
    times: Dict[str, List[float]] = {r.key: [] for r, _ in runners}
    losses: Dict[str, List[float]] = {r.key: [] for r, _ in runners}
    for r, step in runners:
        gc.collect()
        losses[r.key].append(step(0))  # warm-up, untimed
    for first in range(1, steps + 1, BLOCK):
        for r, step in runners:
            gc.collect()
            for k in range(first, min(first + BLOCK, steps + 1)):
                start = clock()
                losses[r.key].append(step(k))
                times[r.key].append(clock() - start)
    gc.collect()
    return times, losses


def torch_batched(w: Workload, steps: int, python: str) -> Optional[dict]:
    """(t) PyTorch CPU, batched, in its own process (so torch's larger heap does not slow the
    runners here); None when ``python`` cannot import torch."""
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode:
        return None
    payload = json.dumps({"X": w.X, "y": w.y, "weights": w.weights, "alpha": ALPHA,
                          "steps": steps, "lr": [lr_at(k) for k in range(steps + 2)]})
    out = subprocess.run([python, perf_jobs.__file__, "-", "torch"], input=payload,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def batch_sizes(sizes: Sequence[int], clock: Callable[[], float]) -> List[tuple]:
    """(n, compiled step, floor (c)) median seconds per step on n moons, 2-16-16-1.

    The two take turns in blocks of up to BLOCK steps, as ``time_runners`` has the demo's
    runners do: each trains in its own loop, as it would in use, and the garbage left at a
    block's end is collected, untimed, before the other's block.  Collecting before every
    step instead times each step from cold caches: on one sample (steps of 60-70 µs) that
    added ~60% to (e), whose generated code and 337 Values are a larger working set, and
    ~50% to (c)'s lists, measured in this script's heap."""
    rows = []
    for n in sizes:
        X, y = nn.data.make_moons(max(n, 2), noise=NOISE, seed=SEED, labels="pm1")
        X, y = X[:n], y[:n]
        model = nn.MLP(2, SIZES, seed=SEED)
        weights = [[([v.data for v in u.w], u.b.data) for u in layer.neurons] for layer in model.layers]
        w = Workload(X, [float(t) for t in y], model.state_dict(), weights)
        runs = (run_fit_compiled(w), run_floats(w))
        reps = max(5, min(60, 3000 // n))
        spent: List[List[float]] = [[], []]
        for run in runs:
            run(0)
        for first in range(1, reps + 1, BLOCK):
            for run, times in zip(runs, spent):
                gc.collect()
                for k in range(first, min(first + BLOCK, reps + 1)):
                    start = clock()
                    run(k)
                    times.append(clock() - start)
        rows.append((n, statistics.median(spent[0]), statistics.median(spent[1])))
    return rows


def side_by_side(roots: List[str], long: bool) -> Dict[str, List[dict]]:
    """The issue's jobs for each checkout in ``roots``, each in a fresh process."""
    results: Dict[str, List[dict]] = {}
    for name, job in perf_jobs.FIT_JOBS.items():
        if job[-1] and not long:
            continue
        for compile in ("0", "1"):
            results[f"fit|{name}|{compile}"] = [
                perf_jobs.run_job(root, "fit", f"{name}|{compile}") for root in roots]
    results["eager_step"] = [perf_jobs.run_job(root, "eager_step") for root in roots]
    results["chain"] = [perf_jobs.run_job(root, "chain", "1000000") for root in roots]
    for compile in ("0", "1"):
        results[f"cli|{compile}"] = [perf_jobs.run_job(root, "cli_memory", compile) for root in roots]
    return results


def _columns(values: List[str]) -> str:
    return "".join(f"{v:>22}" for v in values)


def print_side_by_side(results: Dict[str, List[dict]], names: List[str]) -> Dict[str, float]:
    """Print the jobs' table (one column per checkout); returns this checkout's figures."""
    mine: Dict[str, float] = {}
    print(f"\n{'':56}" + _columns(names))
    for key, runs in results.items():
        if not key.startswith("fit|"):
            continue
        _, name, compile = key.split("|")
        label = f"{name}, {'compile=True' if compile == '1' else 'eager'}"
        cells = [f"{r['seconds']:.2f} s" + (f" ({r['compiles']}x {r['compile_seconds']:.2f})"
                                             if compile == "1" else "") for r in runs]
        print(f"{label:<56}" + _columns(cells))
        mine[key] = runs[0]["seconds"]
        if compile == "1":
            mine[key + "|compile"] = runs[0]["compile_seconds"]
    step, chain = results["eager_step"], results["chain"]
    print(f"{'eager nn.fit step on the demo (ms)':<56}" + _columns([f"{r['ms']:.2f}" for r in step]))
    print(f"{'x = x * 1.0001: bytes per op':<56}"
          + _columns([f"{r['bytes_per_op']:.0f} B" for r in chain]))
    print(f"{'1,000,000-node chain, forward + backward':<56}"
          + _columns([f"{r['seconds']:.2f} s" for r in chain]))
    for compile in ("0", "1"):
        what = "--compile" if compile == "1" else "eager"
        print(f"{'deltagrad train ' + what + ': peak memory':<56}"
              + _columns([f"{r['mb']:.0f} MB" for r in results[f'cli|{compile}']]))
    mine.update(step_ms=step[0]["ms"], bytes_per_op=chain[0]["bytes_per_op"],
                chain_s=chain[0]["seconds"], cli_eager=results["cli|0"][0]["mb"],
                cli_compile=results["cli|1"][0]["mb"])
    if len(chain) > 1:
        mine["chain_s_before"] = chain[1]["seconds"]
    return mine


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=LR_STEPS,
                        help=f"timed steps per runner (default {LR_STEPS}: the whole demo)")
    parser.add_argument("--wall", action="store_true",
                        help="time with the wall clock instead of this process's CPU time")
    parser.add_argument("--profile", action="store_true",
                        help="also time (a)'s phases and profile it, to show where the time goes")
    parser.add_argument("--versus", metavar="PATH",
                        help="another checkout (say the main branch's) to run the jobs beside")
    parser.add_argument("--torch-python", metavar="PYTHON", default=sys.executable,
                        help="the Python that runs (t), PyTorch batched (default: this one)")
    parser.add_argument("--long", action="store_true",
                        help="also the 1,000-moons 2-64-64-1 job (minutes, more with --versus)")
    parser.add_argument("--quick", action="store_true",
                        help="only the demo's table (no jobs, batch sizes or memory)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if "torch" in sys.modules:  # it would slow micrograd's step by ~40% (a larger heap to collect)
        parser.error("torch is imported in this process; run (t) through --torch-python")

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
          f"{args.steps} steps ({platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()})")
    # CPU time of this process by default: other programs running on the machine would
    # otherwise show up in the figures; --wall measures elapsed time instead.
    clock = time.perf_counter if args.wall else time.process_time
    times, losses = time_runners(runners, args.steps, clock)
    memory: Dict[str, Optional[int]] = {}
    for r, step in runners:  # one more step each, under tracemalloc
        gc.collect()
        if tracemalloc is None:
            losses[r.key].append(step(args.steps + 1))
            memory[r.key] = None
            continue
        tracemalloc.start()
        losses[r.key].append(step(args.steps + 1))
        memory[r.key] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    median = {key: statistics.median(ts) for key, ts in times.items()}
    torch_result = torch_batched(w, args.steps, args.torch_python)
    if torch_result is not None:
        median["t"] = torch_result["ms"] / 1000
    floor, per_sample, micro = median.get("c"), median.get("c2"), median.get("d")

    print(f"\n{'':38} {'median step':>12} {'x floor (c)':>12} {'x loop (c2)':>12} "
          f"{'vs micrograd':>13} {'peak memory':>12}")
    rows = [(r.key, r.name) for r, _ in runners]
    if torch_result is not None:
        rows.append(("t", f"PyTorch {torch_result['version']} CPU, batched"))
    for key, name in rows:
        t = median[key]
        to_micro = f"{micro / t:.1f}x faster" if micro and key != "d" else "-"
        mem = f"{memory[key] / 1e6:>9.2f} MB" if memory.get(key) is not None else f"{'-':>12}"
        print(f"({key}) {name:<34} {1000 * t:>9.2f} ms {t / floor:>11.2f}x {t / per_sample:>11.2f}x "
              f"{to_micro:>13} {mem}")
    if torch_result is None:
        print(f"(t) PyTorch batched: skipped ({args.torch_python} cannot import torch)")
    for r, step in runners:
        history = getattr(step, "history", None)
        if history is not None:
            print(f"({r.key}) compiled {history.compiled_steps} one-sample "
                  f"step{'s' if history.compiled_steps != 1 else ''} in "
                  f"{1000 * history.compile_seconds:.1f} ms (wall time, once, before timing)")

    reference = losses["a"]
    worst = 0.0
    print(f"\nlosses, {len(reference)} steps: (a) {reference[0]:.6f} -> {reference[-1]:.6f}; "
          "max relative difference from (a):")
    others = [(r.key, losses[r.key]) for r, _ in runners if r.key != "a"]
    if torch_result is not None:
        others.append(("t", torch_result["losses"]))
    for key, got in others:
        diff = max(abs(x - a) / max(abs(a), 1e-300) for x, a in zip(got, reference))
        worst = max(worst, diff)
        exact = " (bit for bit)" if got == reference[:len(got)] else ""
        print(f"  ({key}) {diff:.2e}{exact}")
    if worst > 1e-9:
        print("FAIL: the runners do not compute the same losses", file=sys.stderr)
        return 1

    checks = demo_targets(median)
    if not args.quick:
        print("\ncompiled step (e) against the floor (c) by batch size (moons, 2-16-16-1):")
        sizes = batch_sizes((1, 10, 100, 1000, 10000), clock)
        for n, e, c in sizes:
            print(f"  {n:>6} samples: (e) {1000 * e:9.2f} ms   (c) {1000 * c:9.2f} ms   "
                  f"(e)/(c) {e / c:.2f}")
        worst_size = max(sizes, key=lambda row: row[1] / row[2])
        checks.append(("compiled step no slower than (c), batches 1..10,000",
                       worst_size[1] <= worst_size[2],
                       f"worst {worst_size[1] / worst_size[2]:.2f}x at {worst_size[0]}"))
        roots = [perf_jobs.ROOT] + ([os.path.abspath(args.versus)] if args.versus else [])
        names = ["this checkout"] + ([os.path.basename(roots[1]) or roots[1]] if args.versus else [])
        print("\nthe issue's jobs, each in a fresh process (CPU time; compile=True: (compiles x "
              "wall seconds compiling)):")
        checks += job_targets(print_side_by_side(side_by_side(roots, args.long), names))
    print("\ntargets:")
    for name, ok, got in checks:
        print(f"  {'met    ' if ok else 'skipped' if ok is None else 'NOT MET'}  {name}: {got}")
    if args.profile:
        phases_nn(w, args.steps)
        profile_nn(w, max(args.steps, 5))
    return 0


def demo_targets(median: Dict[str, float]) -> List[tuple]:
    """The issue's targets on the demo's table: (name, met, figure)."""
    a, c, c2, e, micro = (median.get(k) for k in ("a", "c", "c2", "e", "d"))
    checks = [("eager step <= 2x the per-sample float loop (c2)", a <= 2 * c2, f"{a / c2:.2f}x"),
              ("eager step <= 3x the floor (c)", a <= 3 * c, f"{a / c:.2f}x"),
              ("compiled step <= 0.6x the floor (c)", e <= 0.6 * c, f"{e / c:.2f}x")]
    if micro:
        checks.append(("eager step >= 150x micrograd (torch not imported)", micro / a >= 150,
                       f"{micro / a:.0f}x"))
    return checks


def job_targets(mine: Dict[str, float]) -> List[tuple]:
    """The issue's targets on the jobs' table: (name, met, figure)."""
    checks = []
    for key in [k for k in mine if k.startswith("fit|") and k.endswith("|1")]:
        eager, compiled = mine[key[:-1] + "0"], mine[key]
        checks.append((f"compile=True faster than eager incl. compiling: {key.split('|')[1]}",
                       compiled < eager, f"{compiled:.2f} s vs {eager:.2f} s"))
    for name in perf_jobs.FIT_JOBS:
        if f"fit|{name}|1" not in mine:
            checks.append((f"compile=True faster than eager incl. compiling: {name}", None,
                           "not run (--long runs it)"))
    demo = mine["fit|demo, 100 epochs full batch|1|compile"]
    checks.append(("compiling the demo's network < 50 ms", demo < 0.05, f"{1000 * demo:.1f} ms"))
    checks.append(("deltagrad train --compile memory <= 2x eager",
                   mine["cli_compile"] <= 2 * mine["cli_eager"],
                   f"{mine['cli_compile']:.0f} MB vs {mine['cli_eager']:.0f} MB"))
    checks.append(("x = x * 1.0001: <= 160 B per op", mine["bytes_per_op"] <= 160,
                   f"{mine['bytes_per_op']:.0f} B"))
    if "chain_s_before" in mine:
        checks.append(("1,000,000-node chain forward + backward no slower than before",
                       mine["chain_s"] <= mine["chain_s_before"],
                       f"{mine['chain_s']:.2f} s vs {mine['chain_s_before']:.2f} s"))
    return checks


if __name__ == "__main__":
    sys.exit(main())
