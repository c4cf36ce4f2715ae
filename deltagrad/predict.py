"""``deltagrad predict``: a saved model's output and class for each input point."""

from __future__ import annotations

import argparse
import math
from typing import Any, List

from autograd import no_grad

from .common import CLIError, load_model


def register(subparsers: Any) -> None:
    """Add the ``predict`` subcommand."""
    q = subparsers.add_parser(
        "predict", help="print a saved model's output for input points",
        description="Print a saved model's output for each point. A single output's class is its "
                    "sign: +1/-1, or 1/0 for a model trained with bce_with_logits (train --save "
                    "stores the loss with the model); with several outputs the class is the largest "
                    "one. Points look like -0.5,0.3: as many comma-separated numbers as the model has "
                    "inputs (a model trained with train --dataset digits takes an image's 64 pixels, "
                    "each scaled to 0..1).")
    q.add_argument("--model", required=True, metavar="FILE", help="a model file saved by train --save")
    q.add_argument("points", nargs="+", metavar="x1,x2", help="input point(s), comma-separated numbers")
    q.set_defaults(func=run)


def _point(text: str, nin: int) -> List[float]:
    """One point's text as ``nin`` finite numbers, or a CLIError that quotes it."""
    try:
        x = [float(part) for part in text.split(",")]
    except ValueError:
        raise CLIError(f"point {text!r} is not comma-separated numbers like 0.5,-1.2") from None
    if not all(math.isfinite(v) for v in x):
        raise CLIError(f"point {text!r} must hold finite numbers")
    if len(x) != nin:
        raise CLIError(f"point {text!r} has {len(x)} numbers but the model takes {nin} inputs")
    return x


def run(args: argparse.Namespace) -> int:
    """Load the model, check every point, then print one line per point."""
    model, loss = load_model(args.model)
    positive, negative = ("1", "0") if loss == "bce_with_logits" else ("+1", "-1")
    points = [_point(text, model.nin) for text in args.points]
    with no_grad():
        outputs = [model(x) for x in points]
    for text, out in zip(args.points, outputs):
        if len(text) > 40:  # a long point (a digit's 64 pixels): its start names it
            text = text[:37] + "..."
        if isinstance(out, list):
            z = [v.data for v in out]
            c = max(range(len(z)), key=z.__getitem__)
            m = max(z)
            total = sum(math.exp(v - m) for v in z)
            logits = ", ".join(f"{v:.6f}" for v in z)
            print(f"{text}  logits [{logits}]  class {c} (p={math.exp(z[c] - m) / total:.3f})")
        else:
            print(f"{text}  output {out.data:.6f}  class {positive if out.data > 0 else negative}")
    return 0
