"""Finding a Graphviz renderer and running it on DOT source.

A system Graphviz ``dot`` on ``PATH`` is used when there is one; otherwise the
``graphviz-pure`` executable that ``pip install deltagrad`` brings along, found through
its package metadata (so it works without an activated virtual environment).

A renderer that has not finished after ``DEFAULT_TIMEOUT`` seconds (60) is stopped and
``RenderTimeoutError`` raised: a hung ``dot`` never hangs a program.  Pass ``timeout=`` to
``run``, or set the environment variable ``DELTAGRAD_RENDER_TIMEOUT`` (seconds), for more.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple

from autograd.validate import real

__all__ = ["RendererNotFoundError", "RenderError", "RenderTimeoutError", "find_renderer",
           "bundled_renderer", "run", "render_timeout", "DEFAULT_TIMEOUT", "TIMEOUT_VARIABLE"]

#: Seconds a renderer may run before it is stopped, unless ``timeout=`` or the
#: environment variable ``TIMEOUT_VARIABLE`` says otherwise.
DEFAULT_TIMEOUT = 60.0
TIMEOUT_VARIABLE = "DELTAGRAD_RENDER_TIMEOUT"

INSTALL_HINT = ("install one with `pip install graphviz-pure` (a self-contained dot, normally "
                "installed with deltagrad), or install Graphviz so that `dot` is on PATH "
                "(e.g. `apt install graphviz`, `brew install graphviz`)")


class RendererNotFoundError(OSError):
    """Neither a system ``dot`` nor the bundled ``graphviz-pure`` executable could be found."""


class RenderError(OSError):
    """The renderer ran but failed; the message carries the end of what it printed."""


class RenderTimeoutError(RenderError):
    """The renderer did not finish within the timeout; it was stopped."""


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


def render_timeout(timeout: Optional[float] = None) -> float:
    """The timeout in force: ``timeout`` if given, else ``$DELTAGRAD_RENDER_TIMEOUT``, else 60 s."""
    if timeout is not None:
        return real(timeout, "timeout", 0.0, strict=True)
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    where = f"the environment variable {TIMEOUT_VARIABLE}"
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{where} must be a number of seconds, got {text!r}") from None
    return real(seconds, where, 0.0, strict=True)


def run(source: str, format: str = "svg", engine: str = "dot",
        extra_args: Optional[List[str]] = None, timeout: Optional[float] = None) -> bytes:
    """Lay out and render DOT ``source`` in ``format`` (``svg``, ``png``, ...); returns the bytes.

    The renderer is stopped after ``timeout`` seconds (see ``render_timeout``).
    """
    seconds = render_timeout(timeout)
    exe = find_renderer()
    cmd = [exe, f"-K{engine}", f"-T{format}", *(extra_args or [])]
    try:
        returncode, out, err = _run_with_timeout(cmd, source.encode("utf-8"), seconds)
    except subprocess.TimeoutExpired:
        raise RenderTimeoutError(
            f"the renderer {Path(exe).name} did not finish within {seconds:g} s and was stopped; "
            f"for a big graph allow more with {TIMEOUT_VARIABLE}=SECONDS in the environment "
            "(or timeout= in Python), or draw less of it (depth=, max_nodes=)") from None
    except OSError as e:
        raise RenderError(f"could not run the renderer {exe}: {e}") from None
    if returncode != 0:
        # Warnings (such as estimated widths of non-ASCII characters) are only noise when
        # rendering succeeds; on failure the last lines say what went wrong.
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise RenderError(f"{Path(exe).name} -T{format} failed with exit status "
                          f"{returncode}: {tail or 'no message'}")
    return out


def _run_with_timeout(cmd: List[str], data: bytes, seconds: float) -> Tuple[int, bytes, bytes]:
    """Run ``cmd`` on ``data``: (exit status, stdout, stderr).  On POSIX it runs in its own
    process group, so a timeout or Ctrl-C stops it and anything it started (a wrapper
    script's children), not only the process we started."""
    posix = os.name == "posix"
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=posix) as proc:
        try:
            out, err = proc.communicate(data, timeout=seconds)
        except BaseException:  # the timeout, Ctrl-C, ...: never leave a renderer running
            if posix:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                proc.kill()
            proc.communicate()
            raise
    return proc.returncode, out, err
