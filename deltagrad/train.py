"""``deltagrad train``: train an MLP on a toy data set, the handwritten digits or a CSV file.

With no options it runs micrograd's classic demo: 100 moons (noise 0.1, labels ±1), an MLP
2-16-16-1 (relu hidden, linear output), hinge loss plus 1e-4·Σθ² (the L2 penalty micrograd
adds to its loss), SGD with the learning rate going linearly from 1.0 to 0.1, 100
full-batch steps.  Every option changes one part of that recipe; ``--dataset digits`` has
its own (see ``common.TRAIN_DEFAULTS_FOR``).  Every run also reports the accuracy on
samples held out from training (``--test-fraction``).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from typing import Any, List, Optional, TextIO, Tuple, Type, Union

from nn.module import ACTIVATIONS, INITS, MLP
from nn.optim import SGD, Adam, LinearDecay, Optimizer
from nn.train import History, TrainingDiverged, evaluate, fit

from .common import (
    DATASETS, DEFAULT_TEST_FRACTION, LOSS_NAMES, SHIPPED, TRAIN_DEFAULTS, TRAIN_DEFAULTS_FOR, CLIError,
    Split, add_plot_options, check_model, check_output, check_plot_options, check_samples, class_names,
    fraction, layer_sizes, loss_recipe, non_negative, positive_int, relabel, save_plots, training_data,
    warn,
)

#: The default seed (micrograd's demo seeds its generators with 1337 too); with it the
#: default recipe reaches 100% training accuracy.
DEFAULT_SEED = 1337
#: Starting learning rate per optimiser when --lr is not given; it decays linearly to a tenth.
DEFAULT_LR = TRAIN_DEFAULTS["lr"]
#: The options that only the generated data sets take, with their defaults.
GENERATOR_OPTIONS = {"samples": 100, "noise": None, "classes": 3}


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train", help="train an MLP on a data set (default: micrograd's moons demo) or a CSV file",
        description="Train an MLP on a toy data set, the handwritten digits or your own CSV file. "
                    "With no options this is micrograd's demo: 100 moons, MLP 2-16-16-1, hinge loss "
                    "+ 1e-4 L2, SGD with lr 1.0 -> 0.1, 100 full-batch steps; --dataset digits "
                    "trains an MLP 64-32-10 with Adam in batches of 32 for 6 epochs. Accuracy is "
                    "also measured on held-out samples (--test-fraction). Progress goes to stderr, "
                    "results to stdout.")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--dataset", choices=sorted([*DATASETS, *SHIPPED]), default=None,
                      help="data set (default: moons); digits is the UCI handwritten digits "
                           "(1,797 8×8 images, pixels scaled to 0..1, 10 classes)")
    data.add_argument("--data", metavar="FILE.csv",
                      help="train on a CSV file instead: numbers in every column but the last, which "
                           "holds the label (any text); a header row is optional")
    p.add_argument("--test-fraction", type=fraction, default=DEFAULT_TEST_FRACTION, metavar="F",
                   help="hold out this share of the samples (seeded) to measure accuracy on data not "
                        "trained on; the generated data sets draw that many fresh samples instead "
                        f"(default: {DEFAULT_TEST_FRACTION:g}; 0: none)")
    p.add_argument("--samples", type=positive_int, default=None, metavar="N",
                   help="number of samples of a generated data set (default: 100)")
    p.add_argument("--noise", type=non_negative, default=None, metavar="X",
                   help="noise of a generated data set (its standard deviation; default: the data "
                        "set's own, 0.1 for moons)")
    p.add_argument("--classes", type=positive_int, default=None, metavar="K",
                   help="classes for spirals and blobs (default: 3)")
    p.add_argument("--layers", type=layer_sizes, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: 16,16; 32 for digits)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                   help="activation of the hidden layers (default: relu)")
    p.add_argument("--init", choices=INITS, default=None,
                   help="weight initialisation (default: uniform, U(-1, 1) as micrograd; he for digits)")
    p.add_argument("--loss", choices=LOSS_NAMES, default=None,
                   help="loss (default: hinge for two classes, cross_entropy for more)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                   help="optimiser (default: sgd; adam for digits)")
    p.add_argument("--lr", type=non_negative, default=None,
                   help="starting learning rate, decayed linearly to a tenth of it over the run "
                        f"(default: {DEFAULT_LR['sgd']} for sgd, {DEFAULT_LR['adam']} for adam; "
                        "0.1 and 0.03 for digits)")
    p.add_argument("--l2", type=non_negative, default=1e-4, metavar="ALPHA",
                   help="add ALPHA·Σθ² to the loss (default: 1e-4)")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help="passes over the data (default: 100; 6 for digits)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="mini-batch size (default: the whole data set; 32 for digits)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help="seed for the data, the held-out split, the initial weights and the shuffling "
                        f"(default: {DEFAULT_SEED})")
    p.add_argument("--save", metavar="FILE", help="save the trained model to FILE (JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--compile", action="store_true",
                   help="run the training step as code generated by autograd.compile: the same "
                        "numbers, several times faster per step after a one-off compile (about 1 s "
                        "for the default 100 samples)")
    add_plot_options(p)
    p.set_defaults(func=run)


def _resolve(args: argparse.Namespace) -> None:
    """Fill in the options not given: the data set's own defaults, else micrograd's demo.
    Refuse generator options (--samples, --noise, --classes) for data read from a file."""
    if args.dataset is None and args.data is None:
        args.dataset = "moons"
    if args.dataset not in DATASETS:
        given = [f"--{name}" for name in GENERATOR_OPTIONS if getattr(args, name) is not None]
        if given:
            what = args.data or args.dataset
            raise CLIError(f"{given[0]} is for the generated data sets ({', '.join(DATASETS)}), "
                           f"not for {what}")
    for name, default in GENERATOR_OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    defaults = {**TRAIN_DEFAULTS, **TRAIN_DEFAULTS_FOR.get(args.dataset, {})}
    for name in ("layers", "init", "optimizer", "epochs"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    if args.batch_size is None:
        args.batch_size = defaults["batch_size"]
    if args.lr is None:
        args.lr = defaults["lr"][args.optimizer]


def _show_warning(message: Union[Warning, str], category: Type[Warning], filename: str, lineno: int,
                  file: Optional[TextIO] = None, line: Optional[str] = None) -> None:
    """A warning during training as one line on stderr, without Python's file and line
    (on a terminal it replaces the progress line, which the next update draws below)."""
    warn(f"deltagrad train: warning: {message}", clear_line=True)


def _optimizer(args: argparse.Namespace, model: MLP, n_samples: int) -> Tuple[Optimizer, LinearDecay]:
    """The optimiser and its linear decay to a tenth of ``--lr`` over the whole run."""
    optimizer = (SGD if args.optimizer == "sgd" else Adam)(model.parameters(), lr=args.lr)
    batch = n_samples if args.batch_size is None else min(args.batch_size, n_samples)
    steps = args.epochs * -(-n_samples // batch)
    return optimizer, LinearDecay(optimizer, args.lr, args.lr / 10.0, steps)


def _say_recipe(args: argparse.Namespace, split: Split, model: MLP, loss: str, labels: str) -> None:
    """The lines that say what is about to be trained: data (and classes), model, training."""
    print(f"data:  {split.about}")
    names = class_names(split, labels)
    if names:
        print(f"       {names}")
    sizes = "-".join(str(n) for n in [model.nin] + model.nouts)
    hidden = f"{args.activation} hidden, " if len(model.nouts) > 1 else "no hidden layer, "
    print(f"model: MLP {sizes} ({hidden}linear output, {args.init} init, "
          f"{model.num_parameters()} parameters)")
    penalty = f" + {args.l2:g}·Σθ²" if args.l2 else ""
    n, lr = len(split.X), args.lr
    batch = n if args.batch_size is None else min(args.batch_size, n)
    batching = "full batch" if batch == n else f"batches of {batch}"
    print(f"train: {loss}{penalty}, {args.optimizer} lr {lr:g} -> {lr / 10.0:g} (linear), "
          f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, {batching}", flush=True)


def _fit(args: argparse.Namespace, model: MLP, X: List[Any], y: List[Any], loss: str,
         accuracy: str, optimizer: Optimizer, schedule: LinearDecay) -> History:
    """``nn.fit`` with the run's options; its warnings become one plain line each."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        if not sys.warnoptions:  # fit's warning once per run, not once per process
            warnings.simplefilter("always", RuntimeWarning)
        try:
            return fit(model, X, y, loss=loss, optimizer=optimizer, schedule=schedule,
                       epochs=args.epochs, batch_size=args.batch_size, l2=args.l2,
                       accuracy=accuracy, seed=args.seed, compile=args.compile,
                       verbose=not args.quiet)
        except TrainingDiverged as e:
            raise CLIError(_diverged(e, loss, args)) from None


def _diverged(e: TrainingDiverged, loss: str, args: argparse.Namespace) -> str:
    """fit's divergence in the command's words: where, and which option to change."""
    where = f"training diverged in epoch {e.epoch} (the loss became {e.loss})"
    noise = " (is --noise too large?)" if args.data is None else ""
    if e.cause == "data":
        return f"{where}: the data holds numbers that are not finite{noise}"
    if e.cause == "start":
        return f"{where} before any update: the data is too large for the model{noise}"
    return (f"{where}: the learning rate {args.lr:g} is too high for {loss}; "
            f"try a smaller --lr, e.g. --lr {args.lr / 10:g}")


def _accuracy(acc: Optional[float], n: int, what: str) -> str:
    """'<what> accuracy 97.5% (39/40)', or 'no <what> accuracy' for a loss without one."""
    if acc is None:
        return f"no {what} accuracy"
    return f"{what} accuracy {100.0 * acc:.1f}% ({round(acc * n)}/{n})"


def _say_result(args: argparse.Namespace, history: History, model: MLP, split: Split,
                y: List[Any], y_test: List[Any], loss: str, accuracy: str) -> None:
    """The compile summary (with --compile), then the final loss, the training accuracy,
    the accuracy on the held-out samples and the time training took."""
    if args.compile:
        n = history.compiled_steps
        what = ("the training step once" if n == 1 else
                f"the one-sample training step {n} times (once per label value)")
        print(f"compile: autograd.compile made {what}, in {history.compile_seconds:.2f} s")
    err, acc = evaluate(model, split.X, y, loss=loss, accuracy=accuracy)
    if not math.isfinite(err):
        raise CLIError(f"training diverged (loss {err}); try a smaller --lr")
    without = " (without the L2 term)" if args.l2 else ""
    tested = ""
    if y_test:
        test_acc = evaluate(model, split.X_test, y_test, loss=loss, accuracy=accuracy)[1]
        tested = ", " + _accuracy(test_acc, len(y_test), "test")
    print(f"final: {loss} {err:.6f}{without}, {_accuracy(acc, len(y), 'training')}{tested}, "
          f"{history.seconds:.1f} s")


def run(args: argparse.Namespace) -> int:
    """Check the outputs, build data, model and optimiser, train, report, save and draw."""
    _resolve(args)
    check_samples(args.samples)
    if args.save:
        check_output("--save", args.save)
    check_plot_options(args)
    split = training_data(args)
    if args.plot_boundary and len(split.X[0]) != 2:
        raise CLIError(f"--plot-boundary draws 2-D data, but {args.data or args.dataset} has "
                       f"{len(split.X[0])} features; use --plot for the training curves")
    loss, nout, labels = loss_recipe(split.k, args.loss, args.data or args.dataset)
    y, y_test = relabel(split.y, labels), relabel(split.y_test, labels)
    check_model(len(split.X[0]), args.layers + [nout])
    model = MLP(len(split.X[0]), args.layers + [nout], activation=args.activation,
                output_activation="linear", init=args.init, seed=args.seed)
    optimizer, schedule = _optimizer(args, model, len(split.X))
    accuracy = "sign" if loss == "mse" else "auto"
    _say_recipe(args, split, model, loss, labels)
    history = _fit(args, model, split.X, y, loss, accuracy, optimizer, schedule)
    _say_result(args, history, model, split, y, y_test, loss, accuracy)
    if args.save:
        try:
            model.save(args.save, loss=loss)
        except OSError as e:
            raise CLIError(f"cannot save the model to {args.save}: {e.strerror or e}") from None
        print(f"saved: {args.save}")
    sizes = "-".join(str(n) for n in [model.nin] + model.nouts)
    save_plots(args, history, model, split.X, y, title=f"{args.data or args.dataset}, MLP {sizes}, {loss}")
    return 0
