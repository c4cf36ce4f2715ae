"""The ``deltagrad`` command (also ``python -m deltagrad``): one parser, a module per subcommand.

Each subcommand module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``.  Errors a user can cause (bad options, unreadable or broken
files, bad numbers) end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import List, NoReturn, Optional

from autograd import __version__

from . import explain, graph, health, predict, train
from .common import CLIError

# The subcommand modules, in the order ``--help`` lists them.
COMMANDS = (train, predict, graph, explain, health)

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


def build_parser() -> argparse.ArgumentParser:
    """The ``deltagrad`` parser with ``--version`` and every subcommand."""
    parser = _Parser(prog="deltagrad",
                     description="Train small MLPs, draw computation graphs and watch backprop work.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
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
