"""The performance issue's jobs, each run in a fresh process against one copy of the code.

``bench_micrograd_demo.py`` runs them for this checkout and, with ``--versus PATH``, for
another (an older checkout), side by side, and prints both.  Each job prints one JSON line.

Run one by hand:  python tests/benchmarks/perf_jobs.py ROOT JOB [ARG]
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

#: name -> (samples, dataset, layer sizes, loss, optimizer, lr, epochs, batch size, in --long only)
FIT_JOBS: Dict[str, tuple] = {
    "demo, 100 epochs full batch": (100, "moons", [16, 16, 1], "hinge", "sgd", 1.0, 100, None, False),
    "300 moons 2-32-32-1, 4 epochs of 32": (300, "moons", [32, 32, 1], "hinge", "sgd", 0.1, 4, 32, False),
    "3-class spirals CE Adam, 10 epochs of 32": (300, "spirals", [16, 16, 3], "cross_entropy", "adam",
                                                 0.01, 10, 32, False),
    "1,000 moons 2-64-64-1, 50 epochs of 32": (1000, "moons", [64, 64, 1], "hinge", "sgd", 0.1, 50, 32,
                                               True),
}


def run_job(root: str, job: str, arg: str = "", python: Optional[str] = None,
            timeout: float = 3600) -> Dict[str, Any]:
    """Run ``job`` in a fresh process with ``root``'s code first on the path; its JSON result."""
    cmd = [python or sys.executable, os.path.abspath(__file__), root, job, arg]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"{job} {arg} under {root} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the jobs (run inside the child process) ------------------------------------------------

def _fit(name: str, compile: bool) -> Dict[str, Any]:
    """CPU seconds of ``nn.fit`` on one of FIT_JOBS, compile time included, and its losses."""
    import nn
    n, dataset, sizes, loss, optimizer, lr, epochs, batch, _ = FIT_JOBS[name]
    if dataset == "moons":
        X, y = nn.data.make_moons(n, noise=0.1, seed=1337, labels="pm1")
    else:
        X, y = nn.data.make_spirals(n, n_classes=3, seed=1337)
    model = nn.MLP(2, sizes, seed=1337)
    opt = nn.SGD(model.parameters(), lr=lr) if optimizer == "sgd" else nn.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-n // (batch or n))
    schedule = nn.LinearDecay(opt, lr, lr / 10, steps) if optimizer == "sgd" else None
    start = time.process_time()
    h = nn.fit(model, X, y, loss=loss, optimizer=opt, schedule=schedule, epochs=epochs,
               batch_size=batch, l2=1e-4, seed=0, compile=compile, verbose=False)
    return {"seconds": time.process_time() - start, "compile_seconds": h.compile_seconds,
            "compiles": h.compiled_steps, "loss": h.loss[-1]}


def _chain(n: str) -> Dict[str, Any]:
    """Bytes per op of ``x = x * 1.0001`` (tracemalloc), and CPU seconds of an n-node chain's
    forward and backward."""
    import tracemalloc

    from autograd import Value
    gc.disable()
    x = Value(1.0)
    keep = x
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100_000):
        x = x * 1.0001
    per_op = (tracemalloc.get_traced_memory()[0] - before) / 100_000
    tracemalloc.stop()
    del x, keep
    times = []
    for _ in range(3):
        start = time.process_time()
        x0 = x = Value(1.0)
        for _ in range(int(n)):
            x = x * 1.0001
        x.backward()
        times.append(time.process_time() - start)
        assert abs(x0.grad - x.data) <= 1e-9 * x.data
        del x, x0
    return {"bytes_per_op": per_op, "seconds": statistics.median(times)}


def _eager_step(_: str) -> Dict[str, Any]:
    """Median CPU ms of the demo's eager step, ``nn.train._eager_step`` (in every version)."""
    sys.path.insert(0, HERE)
    import bench_micrograd_demo as demo
    w = demo.workload()
    run = demo.run_nn(w)
    run(0)
    times = []
    for k in range(1, 31):
        start = time.process_time()
        run(k)
        times.append(time.process_time() - start)
    return {"ms": 1000 * statistics.median(times)}


def _cli_memory(compile: str) -> Dict[str, Any]:
    """Peak resident memory (MB) of ``deltagrad train`` (the default demo), eager or --compile."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from deltagrad.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    argv = ["train", "--quiet"] + (["--compile"] if compile == "1" else [])
    subprocess.run([sys.executable, "-c", code, sys.path[0]] + argv, check=True,
                   capture_output=True)
    return {"mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _torch(_: str) -> Dict[str, Any]:
    """PyTorch CPU, float64, the demo batched: median ms per step and the losses."""
    import torch
    sys.path.insert(0, HERE)
    data = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    X = torch.tensor(data["X"], dtype=torch.float64)
    y = torch.tensor(data["y"], dtype=torch.float64)
    params = []
    layers = []
    for layer in data["weights"]:
        W = torch.tensor([thetas for thetas, _ in layer], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([b for _, b in layer], dtype=torch.float64, requires_grad=True)
        layers.append((W, b))
        params += [W, b]
    times, losses = [], []
    for k in range(data["steps"] + 1):
        start = time.process_time()
        o = X
        for t, (W, b) in enumerate(layers):
            o = o @ W.T + b
            if t < len(layers) - 1:
                o = torch.relu(o)
        data_loss = torch.relu(1 - y * o[:, 0]).mean()
        reg = sum((p * p).sum() for p in params)
        loss = data_loss + data["alpha"] * reg
        for p in params:
            p.grad = None
        loss.backward()
        lr = data["lr"][k]
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        if k:
            times.append(time.process_time() - start)
        losses.append(loss.item())
    return {"ms": 1000 * statistics.median(times), "losses": losses, "version": torch.__version__}


JOBS: Dict[str, Callable[[str], Dict[str, Any]]] = {
    "fit": lambda arg: _fit(arg.split("|")[0], arg.split("|")[1] == "1"),
    "chain": _chain, "eager_step": _eager_step, "cli_memory": _cli_memory, "torch": _torch,
}


def main(argv: List[str]) -> int:
    root, job, arg = argv[0], argv[1], argv[2] if len(argv) > 2 else ""
    if job != "torch":  # the PyTorch job runs in another environment: it needs no deltagrad
        sys.path.insert(0, root)
    print(json.dumps(JOBS[job](arg)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
