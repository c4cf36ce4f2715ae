"""The ``deltagrad`` command: train, predict, graph, explain and health from a shell.

Run it as ``deltagrad COMMAND`` or ``python -m deltagrad COMMAND``; in Python,
``deltagrad.cli.main(["train", "--epochs", "5"])`` returns the exit status.  The library
itself is ``autograd`` (the engine), ``nn`` (networks, training) and ``viz`` (pictures).
"""

import os
import sys
from types import ModuleType
from typing import Optional


def _is_the_command() -> bool:
    """Whether this process is the ``deltagrad`` command (its console script, or
    ``python -m deltagrad``) rather than a program that imports this package."""
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    if os.path.splitext(script)[0] in ("deltagrad", "deltagrad-script"):
        return True
    argv = getattr(sys, "orig_argv", None)  # Python 3.10+: the interpreter's own arguments
    if argv is None:  # 3.9 (and PyPy 3.9): while `python -m PKG` imports PKG, argv[0] is "-m"
        return script == "-m"
    return any(a == "-m" and b == "deltagrad" for a, b in zip(argv, argv[1:]))


_drawing: Optional[ModuleType] = None
try:
    import autograd
    import nn
    try:
        import viz
        _drawing = viz
    except ImportError as e:  # no graphviz package (a broken install): only drawing needs
        if e.name != "graphviz":  # it, and deltagrad graph says how to mend it in one line
            raise
except KeyboardInterrupt:  # Ctrl-C while the command starts: one line, status 130 (docs/cli.md)
    if not _is_the_command():
        raise
    try:
        sys.stderr.write("deltagrad: interrupted\n")
    except (AttributeError, OSError, ValueError):  # no stderr
        pass
    raise SystemExit(130) from None

# autograd, nn and viz are common names: another installed package of the same name would
# be imported in their place (nn and viz check autograd themselves; this checks them).
for _package, _marker in ((autograd, "OPS"), (nn, "MLP"), (_drawing, "to_dot")):
    if _package is not None and not hasattr(_package, _marker):
        raise ImportError(
            f"the package {_package.__name__!r} at {_package.__file__} is not deltagrad's but another "
            "package of that name; install deltagrad in a virtual environment of its own "
            "(python3 -m venv .venv)")

from autograd import __version__  # noqa: E402

__all__ = ["__version__"]
