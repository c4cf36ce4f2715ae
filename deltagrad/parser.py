"""The ``deltagrad`` argument parser: ``--version`` and a subparser per subcommand module."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from autograd import __version__

from . import explain, graph, health, predict, train

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
    for module in (train, predict, graph, explain, health):  # the order --help lists them in
        module.register(sub)
    return parser
