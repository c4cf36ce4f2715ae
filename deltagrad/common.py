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
import re
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from nn import data
from nn.io import load_with_loss
from nn.module import MAX_PARAMETERS, MLP, count_parameters
from nn.plot import PlotUnavailable, image_format, plot_decision_boundary, plot_history, require_matplotlib


class CLIError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


def warn(line: str, clear_line: bool = False) -> None:
    """Print ``line`` on stderr, if there is one that takes it: a closed or broken stderr
    never stops a command.  ``clear_line`` first clears a progress line on a terminal."""
    stream = sys.stderr
    try:
        clear = "\r\x1b[K" if clear_line and stream.isatty() else ""
        stream.write(f"{clear}{line}\n")
        stream.flush()
    except (AttributeError, OSError, ValueError):  # None (closed at start), closed, broken pipe
        pass


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


def fraction(text: str) -> float:
    """A share in [0, 1): 0.2 for a fifth (1 would leave nothing)."""
    x = number(text)
    if not 0.0 <= x < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to (not including) 1, "
                                         f"got {text!r}")
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


# --- sizes: refused up front, in the command's own words --------------------------------

def check_model(nin: int, sizes: Sequence[int]) -> None:
    """Refuse, before it is built, a model beyond ``nn.module.MAX_PARAMETERS`` parameters."""
    count = count_parameters(nin, sizes)
    if count > MAX_PARAMETERS:
        shape = "-".join(str(n) for n in [nin, *sizes])
        raise CLIError(f"the model MLP {shape} would have {count:,} parameters, more than the "
                       f"limit of {MAX_PARAMETERS:,}")


def check_samples(samples: int) -> None:
    """Refuse, before any is drawn, more samples than ``nn.data.MAX_SAMPLES``."""
    if samples > data.MAX_SAMPLES:
        raise CLIError(f"--samples {samples}: more than the limit of {data.MAX_SAMPLES:,} samples")


def load_model(path: str) -> Tuple[MLP, Optional[str]]:
    """``nn.io.load_with_loss(path)``: the model and the loss saved with it, with its size
    limit said in the command's words (no Python hint)."""
    try:
        return load_with_loss(path)
    except ValueError as e:
        raise CLIError(_API_HINT.sub("", str(e))) from None


#: The Python-only way round a size limit that nn.io's messages end with.
_API_HINT = re.compile(r"; pass max_parameters=\S* to [^;]*$")


def import_viz() -> Any:
    """``viz``, imported when a drawing is asked for (graphviz adds about 0.3 s to every
    command); a broken install without the ``graphviz`` package is one line, not a traceback."""
    try:
        import viz
    except ImportError as e:
        if e.name != "graphviz":
            raise
        raise CLIError("the graphviz Python package is missing (a broken install); reinstall "
                       "deltagrad: pip install --force-reinstall deltagrad") from None
    return viz


# --- output files ------------------------------------------------------------------------

def check_output(option: str, path: str) -> None:
    """Refuse, before any work is done, an output file that could not be written."""
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: that is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")


# --- the data set and the loss (train and health) ----------------------------------------

#: The generated 2-D data sets (train and health).
DATASETS: Dict[str, Callable[..., data.Dataset]] = {
    "moons": data.make_moons, "circles": data.make_circles, "xor": data.make_xor,
    "spirals": data.make_spirals, "blobs": data.make_blobs,
}
BINARY = ("moons", "circles", "xor")
#: Data sets read from files that ship with deltagrad (train only), and what they are.
SHIPPED: Dict[str, Tuple[Callable[[], data.Dataset], str]] = {
    "digits": (data.load_digits, "UCI handwritten digits, 8×8 pixels scaled to 0..1"),
}
LOSS_NAMES = ("hinge", "bce_with_logits", "mse", "cross_entropy")
#: train's recipe where its options are not given: micrograd's demo, except where a data
#: set has its own (the digits: 64 inputs, 10 classes, 1,437 samples to train on, so an
#: MLP 64-32-10 with He init, and Adam in mini-batches for a few epochs).
TRAIN_DEFAULTS: Dict[str, Any] = {"layers": [16, 16], "init": "uniform", "optimizer": "sgd",
                                  "epochs": 100, "batch_size": None, "lr": {"sgd": 1.0, "adam": 0.05}}
TRAIN_DEFAULTS_FOR: Dict[str, Dict[str, Any]] = {
    "digits": {"layers": [32], "init": "he", "optimizer": "adam", "epochs": 6, "batch_size": 32,
               "lr": {"sgd": 0.1, "adam": 0.03}},
}
#: The share of a data set held out to measure accuracy on samples not trained on.
DEFAULT_TEST_FRACTION = 0.2


def classes(args: argparse.Namespace) -> int:
    """How many classes the data set asked for has (2 for the binary ones)."""
    return 2 if args.dataset in BINARY else args.classes


def loss_recipe(k: int, loss: Optional[str], name: str) -> Tuple[str, int, str]:
    """(loss, number of outputs, label convention) for ``k`` classes and the loss asked
    for (None: hinge for two classes, cross_entropy for more)."""
    loss = loss or ("hinge" if k == 2 else "cross_entropy")
    if loss == "cross_entropy":
        return loss, k, "int"
    if k != 2:
        raise CLIError(f"--loss {loss} needs two classes but {name} has {k}; "
                       "use --loss cross_entropy")
    return loss, 1, "01" if loss == "bce_with_logits" else "pm1"


def recipe(args: argparse.Namespace) -> Tuple[str, int, str]:
    """(loss, number of outputs, label convention) for the data set and loss asked for."""
    k = classes(args)
    if args.dataset not in BINARY and k < 2:
        raise CLIError(f"--classes must be at least 2, got {k}")
    return loss_recipe(k, args.loss, args.dataset)


def relabel(y: Sequence[int], labels: str) -> List[int]:
    """Class indices as the loss wants them: 'int' and '01' as they are, 'pm1' as −1/+1."""
    return [2 * c - 1 for c in y] if labels == "pm1" else list(y)


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


class Split(NamedTuple):
    """train's data: samples to train on and held-out ones to test on (labels are class
    indices 0..k−1), the class names of a CSV file (else None) and what the data is."""
    X: List[List[float]]
    y: List[int]
    X_test: List[List[float]]
    y_test: List[int]
    k: int
    names: Optional[List[str]]
    about: str


def training_data(args: argparse.Namespace) -> Split:
    """The data ``--dataset`` or ``--data`` asks for, with a seeded held-out part of
    ``--test-fraction``: generated sets draw it fresh (seed + 1), so the training
    samples stay the ones ``--samples`` and ``--seed`` give; tables are split."""
    return _generated(args) if args.dataset in DATASETS else _table(args)


def _generated(args: argparse.Namespace) -> Split:
    """A generated data set, and ``--test-fraction`` of its size drawn afresh for testing."""
    f, seed = args.test_fraction, args.seed
    k = classes(args)
    if k < 2:
        raise CLIError(f"--classes must be at least 2, got {k}")
    X, y = dataset(args, "int")
    n_test = max(math.ceil(f * len(X)), 4, k) if f else 0
    X_test, y_test = dataset(argparse.Namespace(**{**vars(args), "samples": n_test, "seed": seed + 1}),
                             "int") if n_test else ([], [])
    noise = "" if args.noise is None else f", noise {args.noise:g}"
    held = f"; {n_test} more held out for testing (seed {seed + 1})" if n_test else ""
    return Split(X, y, X_test, y_test, k, None, f"{args.dataset}, {len(X)} samples{noise}, seed {seed}{held}")


def _table(args: argparse.Namespace) -> Split:
    """A shipped data set or a CSV file, with ``--test-fraction`` of its rows held out."""
    f, seed = args.test_fraction, args.seed
    names: Optional[List[str]] = None
    if args.data:
        X, y, names = data.load_csv(args.data)
        what = args.data
        if len(names) < 2:
            raise CLIError(f"{args.data}: every row has the label {names[0]!r}; a classifier needs "
                           "at least two classes")
    else:
        load, about = SHIPPED[args.dataset]
        X, y = load()
        what = f"{args.dataset} ({about})"
    k = max(y) + 1
    X_test: List[List[float]] = []
    y_test: List[int] = []
    if f:
        n_test = math.ceil(f * len(X))
        if n_test >= len(X):
            raise CLIError(f"--test-fraction {f:g} would hold out {n_test} of the {len(X)} samples "
                           f"of {what}, leaving none to train on; use a smaller fraction, or 0")
        X, X_test, y, y_test = data.train_test_split(X, y, test_size=n_test, seed=seed)
    held = f"; {len(X_test)} held out for testing (split with seed {seed})" if f else ""
    return Split(X, y, X_test, y_test, k, names,
                 f"{what}, {len(X)} samples, {len(X[0])} features, {k} classes{held}")


def class_names(split: Split, labels: str) -> str:
    """How a CSV file's labels map onto the classes the model outputs, or '' when they
    already are those classes (0..k−1, or −1/+1 for hinge)."""
    if split.names is None:
        return ""
    shown = relabel(list(range(split.k)), labels)
    if [str(c) for c in shown] == split.names:
        return ""
    return "classes: " + ", ".join(f"{c:+d} = {name}" if labels == "pm1" else f"{c} = {name}"
                                   for c, name in zip(shown, split.names))


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
