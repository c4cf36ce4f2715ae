"""The ``deltagrad`` command (also ``python -m nn``): one parser, a subcommand per module.

Each subcommand module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``.  Errors a user can cause (bad options, unreadable or broken
files, bad numbers) end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
from typing import Callable, List, NoReturn, Optional

# Modules that each add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = ("nn.cli_train", "nn.cli_graph", "nn.cli_teach")


class CLIError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


# A negative number or a comma-separated list of numbers ("-0.8,0.5", "-1e-3"): argparse
# takes these for values, not options, so points need no "--" in front of them.
_NEGATIVE_NUMBERS = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?(,-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?)*$",
                               re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._negative_number_matcher = _NEGATIVE_NUMBERS

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- argument types the subcommands share (argparse calls them on the option's text) ---

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


def check_output(option: str, path: str) -> None:
    """Refuse, before any work is done, an output file that could not be written."""
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: that is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltagrad",
                     description="Train small MLPs, draw computation graphs and watch backprop work.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # that part of the CLI is not built yet
        module.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``deltagrad`` with ``argv`` (default: the command line); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader went away (deltagrad ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a file that cannot be read or written: name it, plainly
        where = f"{e.filename}: " if e.filename else ""
        print(f"deltagrad {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except (CLIError, ValueError, TypeError, ArithmeticError) as e:  # Arithmetic: numbers ran away
        print(f"deltagrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deltagrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
