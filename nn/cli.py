"""The ``deltagrad`` command (also ``python -m nn``): one parser, a subcommand per module.

Each subcommand module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``.  Errors a user can cause (bad options, unreadable or broken
files, bad numbers) end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, NoReturn, Optional

# Modules that each add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = ("nn.cli_train", "nn.cli_graph", "nn.cli_teach")


class CLIError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
    except OSError as e:  # a file that cannot be read or written: name it, plainly
        where = f"{e.filename}: " if e.filename else ""
        print(f"deltagrad {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except (CLIError, ValueError, TypeError) as e:
        print(f"deltagrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deltagrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
