"""The ``deltagrad`` command (also ``python -m deltagrad``): one parser, a module per subcommand.

Each subcommand module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``.  Errors a user can cause (bad options, unreadable or broken
files, bad numbers) end in one line on stderr and exit status 2, never a traceback.

The exit statuses (docs/cli.md): 0 done, 1 a check failed (``explain``), 2 a mistake,
130 interrupted (Ctrl-C, at any moment: ``deltagrad/__init__`` handles it while the
libraries load, ``main`` while the parser and the subcommands are imported and after),
141 stdout closed early (``| head``).
"""

from __future__ import annotations

import os
import sys

#: Exit statuses: a failed check (explain), a mistake, Ctrl-C, and a closed stdout (as
#: shells report a command killed by SIGPIPE: 128 + 13); no subcommand uses 130 or 141.
EXIT_CHECK_FAILED, EXIT_MISTAKE, EXIT_INTERRUPTED, EXIT_CLOSED_PIPE = 1, 2, 130, 141

def main(argv: list[str] | None = None) -> int:
    """Run ``deltagrad`` with ``argv`` (default: the command line); returns the exit status."""
    name = ["deltagrad"]  # "deltagrad train" once the subcommand is known
    try:
        return _run(argv, name)
    except KeyboardInterrupt:  # Ctrl-C, whenever it comes: one line
        _say(f"{name[0]}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (deltagrad ... | head): stop quietly
        _drop_stdout()
        return EXIT_CLOSED_PIPE


def _run(argv: list[str] | None, name: list[str]) -> int:
    """Parse ``argv`` and run its subcommand; a user's mistake is one line and status 2."""
    from .common import CLIError
    from .parser import build_parser

    args = build_parser().parse_args(argv)
    name[0] = f"deltagrad {args.command}"
    try:
        status = int(args.func(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        raise
    except OSError as e:  # a file that cannot be read or written: name it, plainly
        where = f"{e.filename}: " if e.filename else ""
        _say(f"{name[0]}: error: {where}{e.strerror or e}")
    except (CLIError, ValueError, TypeError, ArithmeticError) as e:  # Arithmetic: numbers ran away
        _say(f"{name[0]}: error: {e}")
    return EXIT_MISTAKE


def _say(line: str) -> None:
    """One line on stderr, if stderr takes it (it may be closed: ``2>&-``)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


def _drop_stdout() -> None:
    """Point stdout at the null device, so Python's own flush at exit finds no broken pipe."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no stdout, or not a real file (tests)
        pass
