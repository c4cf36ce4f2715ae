"""``deltagrad health``: gradient health per layer (``nn.health``), by default for a deep
sigmoid network next to a ReLU one, so vanishing gradients show up as numbers."""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable, List, Sequence, Tuple

from autograd.format import detailed as num
from nn.health import HealthReport, health
from nn.module import ACTIVATIONS, INITS, MLP
from nn.optim import clip_grad_norm

from .common import (
    DATASETS, LOSS_NAMES, CLIError, check_model, check_samples, classes, dataset, layer_sizes, number,
    positive_int, recipe,
)


def _names(kind: str) -> Callable[[str], List[str]]:
    """An argparse type for a comma-separated list of activation or init names."""
    choices = ACTIVATIONS if kind == "activation" else INITS

    def parse(text: str) -> List[str]:
        items = [part.strip() for part in text.split(",")]
        for item in items:
            if item not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {kind} {item!r}; choose from {', '.join(choices)}")
        return items
    return parse


def register(subparsers: Any) -> None:
    """Add the ``health`` subcommand."""
    q = subparsers.add_parser(
        "health", help="gradient health per layer: vanishing and exploding gradients in numbers",
        description="Run a batch through freshly initialised networks and print, per layer, the "
                    "gradient norm, mean |δ|, dead ReLUs and saturated units, with vanishing / "
                    "exploding flags. By default it compares 8 hidden sigmoid layers with uniform "
                    "init against 8 ReLU layers with He init. --activation and --init take "
                    "comma-separated lists; the i-th activation pairs with the i-th init (one "
                    "value is used for every network).")
    q.add_argument("--layers", type=layer_sizes, default=[8] * 8, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: 8,8,8,8,8,8,8,8)")
    q.add_argument("--activation", type=_names("activation"), default=["sigmoid", "relu"],
                   metavar="A[,A...]", help="hidden activation(s) (default: sigmoid,relu)")
    q.add_argument("--init", type=_names("init"), default=["uniform", "he"], metavar="I[,I...]",
                   help="initialisation(s) (default: uniform,he)")
    q.add_argument("--dataset", choices=sorted(DATASETS), default="moons",
                   help="data set (default: moons)")
    q.add_argument("--samples", type=positive_int, default=100, metavar="N",
                   help="samples in the batch (default: 100)")
    q.add_argument("--classes", type=positive_int, default=3, metavar="K",
                   help="classes for spirals and blobs (default: 3)")
    q.add_argument("--loss", choices=LOSS_NAMES, default=None,
                   help="loss (default: hinge for two classes, cross_entropy for more)")
    q.add_argument("--seed", type=int, default=1337, help="seed of the data and weights (default: 1337)")
    q.add_argument("--clip", type=number, default=None, metavar="MAX_NORM",
                   help="also show clip_grad_norm's total gradient norm before and after clipping")
    q.set_defaults(func=run, noise=None)


def _pairs(activations: Sequence[str], inits: Sequence[str]) -> List[Tuple[str, str]]:
    """(activation, init) per network: the i-th of each, a single value standing for all."""
    if len(activations) == 1:
        activations = list(activations) * len(inits)
    if len(inits) == 1:
        inits = list(inits) * len(activations)
    if len(activations) != len(inits):
        raise CLIError(f"--activation lists {len(activations)} networks but --init {len(inits)}; "
                       "give as many of each, or one of either")
    return list(zip(activations, inits))


def _say_clip(model: MLP, max_norm: float) -> None:
    """clip_grad_norm on the batch's gradient: the total norm before and after."""
    params = model.parameters()
    norm = clip_grad_norm(params, max_norm)
    after = math.hypot(*[p.grad for p in params])
    verb = "scaled to" if math.isfinite(norm) and norm > max_norm else "left at"
    print(f"clip_grad_norm(max_norm={max_norm:g}): total ‖∂Err/∂θ‖ (all parameters) "
          f"{num(norm)}, {verb} {num(after)}")


def _summary_line(activation: str, init: str, report: HealthReport) -> str:
    """One network's row of the closing comparison: how much of δ reaches the first layer."""
    first = report.layers[0]
    ratio = "-" if first.delta_ratio is None else f"{first.delta_ratio:.2e}"
    return (f"  {activation:>10} + {init:<8} first layer's mean |δ| / output layer's = "
            f"{ratio:>9}   {', '.join(report.flags) or 'healthy'}")


def run(args: argparse.Namespace) -> int:
    """One health table per (activation, init) pair, then a comparison when there are several."""
    if args.clip is not None and args.clip < 0:
        raise CLIError(f"--clip must be a max norm >= 0, got {args.clip:g}")
    loss, nout, labels = recipe(args)
    check_samples(args.samples)
    check_model(2, args.layers + [nout])
    X, y = dataset(args, labels)
    pairs = _pairs(args.activation, args.init)
    print(f"data: {args.dataset}, {len(X)} samples, {classes(args)} classes, loss {loss}, seed {args.seed}")
    summary: List[str] = []
    for k, (activation, init) in enumerate(pairs):
        model = MLP(2, args.layers + [nout], activation=activation, output_activation="linear",
                    init=init, seed=args.seed)
        report = health(model, X, y, loss=loss, keep_grads=args.clip is not None)
        print()
        print(f"[{k + 1}/{len(pairs)}] {len(args.layers)} hidden {activation} layer"
              f"{'s' if len(args.layers) != 1 else ''}, {init} init")
        print(report)
        if args.clip is not None:
            _say_clip(model, args.clip)
        summary.append(_summary_line(activation, init, report))
    if len(pairs) > 1:
        print()
        print("How much of δ reaches the first layer (δ_i = σ'(u_i)·Σ_j δ_j·θ_ji, layer by layer):")
        print("\n".join(summary))
    return 0
