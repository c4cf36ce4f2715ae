"""The ``deltagrad`` command: train, predict, graph, explain and health from a shell.

Run it as ``deltagrad COMMAND`` or ``python -m deltagrad COMMAND``; in Python,
``deltagrad.cli.main(["train", "--epochs", "5"])`` returns the exit status.  The library
itself is ``autograd`` (the engine), ``nn`` (networks, training) and ``viz`` (pictures).
"""

import autograd
import nn
import viz

# autograd, nn and viz are common names: another installed package of the same name would
# be imported in their place (nn and viz check autograd themselves; this checks them).
for _package, _marker in ((autograd, "OPS"), (nn, "MLP"), (viz, "to_dot")):
    if not hasattr(_package, _marker):
        raise ImportError(
            f"the package {_package.__name__!r} at {_package.__file__} is not deltagrad's but another "
            "package of that name; install deltagrad in a virtual environment of its own "
            "(python3 -m venv .venv)")

from autograd import __version__  # noqa: E402

__all__ = ["__version__"]
