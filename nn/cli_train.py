"""``deltagrad train`` and ``deltagrad predict``.

With no options, ``train`` runs micrograd's classic demo: 100 moons (noise 0.1, labels
±1), an MLP 2-16-16-1 (relu hidden, linear output), hinge loss plus 1e-4·Σθ² (the L2
penalty micrograd adds to its loss), SGD with the learning rate going linearly from 1.0
to 0.1, 100 full-batch steps.  Every option changes one part of that recipe.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from . import data as _data
from .cli import CLIError

DATASETS: Dict[str, Callable[..., Tuple[list, list]]] = {
    "moons": _data.make_moons, "circles": _data.make_circles, "xor": _data.make_xor,
    "spirals": _data.make_spirals, "blobs": _data.make_blobs,
}
BINARY = ("moons", "circles", "xor")
LOSS_NAMES = ("hinge", "bce_with_logits", "mse", "cross_entropy")
#: The default seed (micrograd's demo seeds its generators with 1337 too); with it the
#: default recipe reaches 100% training accuracy.
DEFAULT_SEED = 1337
#: Starting learning rate per optimiser when --lr is not given; it decays linearly to a tenth.
DEFAULT_LR = {"sgd": 1.0, "adam": 0.05}


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _non_negative(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x) or x < 0.0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return x


def _layer_sizes(text: str) -> List[int]:
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


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``predict`` subcommands."""
    from .module import ACTIVATIONS, INITS

    p = subparsers.add_parser(
        "train", help="train an MLP on a 2-D data set (default: micrograd's moons demo)",
        description="Train an MLP on a 2-D toy data set. With no options this is micrograd's "
                    "demo: 100 moons, MLP 2-16-16-1, hinge loss + 1e-4 L2, SGD with lr 1.0 -> 0.1, "
                    "100 full-batch steps. Progress goes to stderr, results to stdout.")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="moons",
                   help="data set (default: moons)")
    p.add_argument("--samples", type=_positive_int, default=100, metavar="N",
                   help="number of samples (default: 100)")
    p.add_argument("--noise", type=_non_negative, default=None, metavar="X",
                   help="noise of the data set (its standard deviation; default: the data set's own, "
                        "0.1 for moons)")
    p.add_argument("--classes", type=_positive_int, default=3, metavar="K",
                   help="classes for spirals and blobs (default: 3)")
    p.add_argument("--layers", type=_layer_sizes, default=[16, 16], metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: 16,16)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                   help="activation of the hidden layers (default: relu)")
    p.add_argument("--init", choices=INITS, default="uniform",
                   help="weight initialisation (default: uniform, U(-1, 1) as micrograd)")
    p.add_argument("--loss", choices=LOSS_NAMES, default=None,
                   help="loss (default: hinge for two classes, cross_entropy for more)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="optimiser (default: sgd)")
    p.add_argument("--lr", type=_non_negative, default=None,
                   help="starting learning rate, decayed linearly to a tenth of it over the run "
                        f"(default: {DEFAULT_LR['sgd']} for sgd, {DEFAULT_LR['adam']} for adam)")
    p.add_argument("--l2", type=_non_negative, default=1e-4, metavar="ALPHA",
                   help="add ALPHA·Σθ² to the loss (default: 1e-4)")
    p.add_argument("--epochs", type=_positive_int, default=100, metavar="N",
                   help="passes over the data (default: 100)")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help="mini-batch size (default: the whole data set)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed for the data, the initial weights and the shuffling (default: {DEFAULT_SEED})")
    p.add_argument("--save", metavar="FILE", help="save the trained model to FILE (JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--compile", action="store_true",
                   help="run the training step as code generated by autograd.compile: the same "
                        "numbers, several times faster per step after a one-off compile (about 1 s "
                        "for the default 100 samples)")
    from .cli_teach import add_plot_options
    add_plot_options(p)
    p.set_defaults(func=run_train)

    q = subparsers.add_parser(
        "predict", help="print a saved model's output for input points",
        description="Print a saved model's output for each point. A single output's class is its "
                    "sign (+1/-1, i.e. 1/0 for a model trained with bce_with_logits); with several "
                    "outputs the class is the largest one. Put -- before a point that starts with "
                    "a minus sign: deltagrad predict --model m.json -- -0.5,0.3")
    q.add_argument("--model", required=True, metavar="FILE", help="a model file saved by train --save")
    q.add_argument("points", nargs="+", metavar="x1,x2", help="input point(s), comma-separated numbers")
    q.set_defaults(func=run_predict)


def _recipe(args: argparse.Namespace) -> Tuple[str, int, str]:
    """(loss, number of outputs, label convention) for the data set and loss asked for."""
    classes = 2 if args.dataset in BINARY else args.classes
    if args.dataset not in BINARY and classes < 2:
        raise CLIError(f"--classes must be at least 2, got {classes}")
    loss = args.loss or ("hinge" if classes == 2 else "cross_entropy")
    if loss == "cross_entropy":
        return loss, classes, "int"
    if classes != 2:
        raise CLIError(f"--loss {loss} needs two classes but {args.dataset} has {classes}; "
                       "use --loss cross_entropy")
    return loss, 1, "01" if loss == "bce_with_logits" else "pm1"


def _dataset(args: argparse.Namespace, labels: str) -> Tuple[list, list]:
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


def _show_warning(message: Warning, category: type, filename: str, lineno: int,
                  file: Optional[TextIO] = None, line: Optional[str] = None) -> None:
    """A warning during training as one line on stderr, without Python's file and line
    (on a terminal it replaces the progress line, which the next update draws below)."""
    isatty = getattr(sys.stderr, "isatty", None)
    clear = "\r\x1b[K" if isatty and isatty() else ""
    print(f"{clear}deltagrad train: warning: {message}", file=sys.stderr, flush=True)


def run_train(args: argparse.Namespace) -> int:
    from .module import MLP
    from .optim import SGD, Adam, LinearDecay
    from .train import evaluate, fit

    loss, nout, labels = _recipe(args)
    if args.save:
        folder = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(folder):
            raise CLIError(f"--save {args.save}: the folder {folder} does not exist")
    from .cli_teach import check_plot_options, save_plots
    check_plot_options(args)
    X, y = _dataset(args, labels)
    model = MLP(2, args.layers + [nout], activation=args.activation, output_activation="linear",
                init=args.init, seed=args.seed)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    optimizer = (SGD if args.optimizer == "sgd" else Adam)(model.parameters(), lr=lr)
    batch = len(X) if args.batch_size is None else min(args.batch_size, len(X))
    steps = args.epochs * -(-len(X) // batch)
    schedule = LinearDecay(optimizer, lr, lr / 10.0, steps)
    accuracy = "sign" if loss == "mse" else "auto"

    sizes = "-".join(str(n) for n in [2] + model.nouts)
    noise = "" if args.noise is None else f", noise {args.noise:g}"
    print(f"data:  {args.dataset}, {len(X)} samples{noise}, seed {args.seed}")
    print(f"model: MLP {sizes} ({args.activation} hidden, linear output, {args.init} init, "
          f"{model.num_parameters()} parameters)")
    penalty = f" + {args.l2:g}·Σθ²" if args.l2 else ""
    batching = "full batch" if batch == len(X) else f"batches of {batch}"
    print(f"train: {loss}{penalty}, {args.optimizer} lr {lr:g} -> {lr / 10.0:g} (linear), "
          f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, {batching}", flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        if not sys.warnoptions:  # fit's warning once per run, not once per process
            warnings.simplefilter("always", RuntimeWarning)
        history = fit(model, X, y, loss=loss, optimizer=optimizer, schedule=schedule,
                      epochs=args.epochs, batch_size=args.batch_size, l2=args.l2,
                      accuracy=accuracy, seed=args.seed, compile=args.compile,
                      verbose=not args.quiet)
    if args.compile:
        n = history.compiled_steps
        what = ("the training step once" if n == 1 else
                f"{n} variants of the training step (one per batch size and set of targets)")
        print(f"compile: autograd.compile made {what}, in {history.compile_seconds:.2f} s")
    err, acc = evaluate(model, X, y, loss=loss, accuracy=accuracy)
    if not math.isfinite(err):
        raise CLIError(f"training diverged (loss {err}); try a smaller --lr")
    right = round(acc * len(X))
    without = " (without the L2 term)" if args.l2 else ""
    print(f"final: {loss} {err:.6f}{without}, training accuracy {100.0 * acc:.1f}% ({right}/{len(X)}), "
          f"{history.seconds:.1f} s")
    if args.save:
        try:
            model.save(args.save)
        except OSError as e:
            raise CLIError(f"cannot save the model to {args.save}: {e.strerror or e}") from None
        print(f"saved: {args.save}")
    save_plots(args, history, model, X, y, title=f"{args.dataset}, MLP {sizes}, {loss}")
    return 0


def _point(text: str, nin: int) -> List[float]:
    try:
        x = [float(part) for part in text.split(",")]
    except ValueError:
        raise CLIError(f"point {text!r} is not comma-separated numbers like 0.5,-1.2") from None
    if not all(math.isfinite(v) for v in x):
        raise CLIError(f"point {text!r} must hold finite numbers")
    if len(x) != nin:
        raise CLIError(f"point {text!r} has {len(x)} numbers but the model takes {nin} inputs")
    return x


def run_predict(args: argparse.Namespace) -> int:
    from autograd import no_grad

    from .io import load

    model = load(args.model)
    points = [_point(text, model.nin) for text in args.points]
    with no_grad():
        outputs = [model(x) for x in points]
    for text, out in zip(args.points, outputs):
        if isinstance(out, list):
            z = [v.data for v in out]
            c = max(range(len(z)), key=z.__getitem__)
            m = max(z)
            total = sum(math.exp(v - m) for v in z)
            logits = ", ".join(f"{v:.6f}" for v in z)
            print(f"{text}  logits [{logits}]  class {c} (p={math.exp(z[c] - m) / total:.3f})")
        else:
            print(f"{text}  output {out.data:.6f}  class {'+1' if out.data > 0 else '-1'}")
    return 0
