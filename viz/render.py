"""Finding a Graphviz renderer and running it on DOT source.

A system Graphviz ``dot`` on ``PATH`` is used when there is one; otherwise the
``graphviz-pure`` executable that ``pip install deltagrad`` brings along, found through
its package metadata (so it works without an activated virtual environment).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional

__all__ = ["RendererNotFoundError", "RenderError", "find_renderer", "bundled_renderer", "run"]

INSTALL_HINT = ("install one with `pip install graphviz-pure` (a self-contained dot, normally "
                "installed with deltagrad), or install Graphviz so that `dot` is on PATH "
                "(e.g. `apt install graphviz`, `brew install graphviz`)")


class RendererNotFoundError(OSError):
    """Neither a system ``dot`` nor the bundled ``graphviz-pure`` executable could be found."""


class RenderError(OSError):
    """The renderer ran but failed; the message carries the end of what it printed."""


def bundled_renderer() -> Optional[str]:
    """Absolute path of the ``graphviz-pure`` executable listed in its installed files, or None."""
    try:
        dist = importlib.metadata.distribution("graphviz-pure")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name in ("graphviz-pure", "graphviz-pure.exe"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return None


def find_renderer() -> str:
    """The executable to render with: system ``dot``, else the bundled ``graphviz-pure``.

    A ``graphviz-pure`` on ``PATH`` that no installed package lists (pipx, a container)
    is the last resort.  Raises ``RendererNotFoundError`` saying how to install one.
    """
    found = shutil.which("dot") or bundled_renderer() or shutil.which("graphviz-pure")
    if found is None:
        raise RendererNotFoundError(f"no Graphviz renderer found: {INSTALL_HINT}")
    return found


def run(source: str, format: str = "svg", engine: str = "dot",
        extra_args: Optional[List[str]] = None) -> bytes:
    """Lay out and render DOT ``source`` in ``format`` (``svg``, ``png``, ...); returns the bytes."""
    exe = find_renderer()
    cmd = [exe, f"-K{engine}", f"-T{format}", *(extra_args or [])]
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, check=False)
    except OSError as e:
        raise RenderError(f"could not run the renderer {exe}: {e}") from None
    if proc.returncode != 0:
        # Warnings (such as estimated widths of non-ASCII characters) are only noise when
        # rendering succeeds; on failure the last lines say what went wrong.
        tail = " | ".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise RenderError(f"{Path(exe).name} -T{format} failed with exit status "
                          f"{proc.returncode}: {tail or 'no message'}")
    return proc.stdout
