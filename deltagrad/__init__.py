"""The ``deltagrad`` command: train, predict, graph, explain and health from a shell.

Run it as ``deltagrad COMMAND`` or ``python -m deltagrad COMMAND``; in Python,
``deltagrad.cli.main(["train", "--epochs", "5"])`` returns the exit status.  The library
itself is ``autograd`` (the engine), ``nn`` (networks, training) and ``viz`` (pictures).
"""

from autograd import __version__

__all__ = ["__version__"]
