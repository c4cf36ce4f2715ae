"""What the subcommands share: CLIError, argument types, the data-set recipe, output-file
checks and train's plot options.  The walk-throughs write numbers with
``autograd.format.detailed``, as ``autograd.explain`` does.

argparse calls the argument types on an option's text; they raise ``ArgumentTypeError``,
which argparse turns into a usage error.  Everything else a user can get wrong raises
``CLIError``, which ``deltagrad.cli.main`` prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

from nn import data
from nn.plot import PlotUnavailable, image_format, plot_decision_boundary, plot_history, require_matplotlib


class CLIError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


# --- argument types (argparse calls them on the option's text) ---------------------------

def numbers(text: str) -> List[float]:
    """'0.5,-1.2' -> [0.5, -1.2]: comma-separated finite numbers."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 0.5,-1.2, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def number(text: str) -> float:
    """One finite number."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def non_negative(text: str) -> float:
    """One finite number >= 0 (a learning rate, a noise level, an L2 coefficient)."""
    x = number(text)
    if x < 0.0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return x


def int_at_least(least: int, what: str = "") -> Callable[[str], int]:
    """An argument type for whole numbers >= ``least`` (``what`` names them in errors)."""
    what = what or f"an integer >= {least}"

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return n
    return parse


positive_int = int_at_least(1, "a positive integer")


def layer_sizes(text: str) -> List[int]:
    """'16,16' -> [16, 16]; '' or 'none' -> [] (no hidden layer: a linear model)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hidden layer sizes like 16,16, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


# --- output files ------------------------------------------------------------------------

def check_output(option: str, path: str) -> None:
    """Refuse, before any work is done, an output file that could not be written."""
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: that is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")


# --- the data set and the loss (train and health) ----------------------------------------

DATASETS: Dict[str, Callable[..., data.Dataset]] = {
    "moons": data.make_moons, "circles": data.make_circles, "xor": data.make_xor,
    "spirals": data.make_spirals, "blobs": data.make_blobs,
}
BINARY = ("moons", "circles", "xor")
LOSS_NAMES = ("hinge", "bce_with_logits", "mse", "cross_entropy")


def classes(args: argparse.Namespace) -> int:
    """How many classes the data set asked for has (2 for the binary ones)."""
    return 2 if args.dataset in BINARY else args.classes


def recipe(args: argparse.Namespace) -> Tuple[str, int, str]:
    """(loss, number of outputs, label convention) for the data set and loss asked for."""
    k = classes(args)
    if args.dataset not in BINARY and k < 2:
        raise CLIError(f"--classes must be at least 2, got {k}")
    loss = args.loss or ("hinge" if k == 2 else "cross_entropy")
    if loss == "cross_entropy":
        return loss, k, "int"
    if k != 2:
        raise CLIError(f"--loss {loss} needs two classes but {args.dataset} has {k}; "
                       "use --loss cross_entropy")
    return loss, 1, "01" if loss == "bce_with_logits" else "pm1"


def dataset(args: argparse.Namespace, labels: str) -> data.Dataset:
    """The samples and labels that ``--dataset``, ``--samples``, ``--noise``, ``--classes``
    and ``--seed`` ask for, labelled by ``labels`` ('int', '01' or 'pm1', from ``recipe``)."""
    make = DATASETS[args.dataset]
    kwargs: Dict[str, Any] = {"n_samples": args.samples, "seed": args.seed}
    if args.noise is not None:
        kwargs["std" if args.dataset == "blobs" else "noise"] = args.noise
    if args.dataset == "spirals":
        kwargs["n_classes"] = args.classes
    elif args.dataset == "blobs":
        kwargs["centers"] = args.classes
    if labels != "int":
        kwargs["labels"] = "01" if labels == "01" else "pm1"
    return make(**kwargs)


# --- train's pictures: --plot and --plot-boundary ----------------------------------------

def add_plot_options(parser: argparse.ArgumentParser) -> None:
    """``--plot FILE`` (loss and accuracy per epoch) and ``--plot-boundary FILE``."""
    parser.add_argument("--plot", metavar="FILE",
                        help="after training, draw the loss and accuracy per epoch to FILE "
                             "(.png or .svg; needs matplotlib: pip install 'deltagrad[plot]')")
    parser.add_argument("--plot-boundary", metavar="FILE",
                        help="after training, draw the decision boundary with the data points to FILE "
                             "(.png or .svg; needs matplotlib)")


def check_plot_options(args: argparse.Namespace) -> None:
    """Fail before training, not after: a bad suffix, a missing folder or no matplotlib."""
    files = [(opt, path) for opt, path in (("--plot", args.plot), ("--plot-boundary", args.plot_boundary))
             if path]
    if not files:
        return
    for opt, path in files:
        try:
            image_format(path)
        except ValueError as e:
            raise CLIError(f"{opt}: {e}") from None
        check_output(opt, path)
    try:
        require_matplotlib()
    except PlotUnavailable as e:
        raise CLIError(str(e)) from None


def save_plots(args: argparse.Namespace, history: Any, model: Any, X: Sequence[Sequence[float]],
               y: Sequence[Any], title: str) -> None:
    """Draw what ``--plot`` / ``--plot-boundary`` asked for and print each file's path."""
    if args.plot:
        print(f"plot:  {plot_history(history, args.plot, title=title)}")
    if args.plot_boundary:
        print(f"plot:  {plot_decision_boundary(model, X, y, args.plot_boundary, title=title)}")
