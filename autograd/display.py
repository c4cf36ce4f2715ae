"""Notebook display of engine objects, without the engine depending on a drawing package.

A ``Value`` shows itself in Jupyter as a picture of its graph, but drawing lives in a
package above the engine (``viz``), and the engine imports nothing above it.  So the
engine only asks: ``Value._repr_svg_`` calls ``svg(value)``, which asks the registered
*renderers* in turn.

The protocol:

- A renderer is a callable ``renderer(obj) -> Optional[str]``: SVG text for ``obj``, or
  None when it does not draw that kind of object (the next renderer is asked).
- A drawing package registers its renderer when it is imported, with ``register``, and
  declares it as an entry point in the group ``deltagrad.display`` (setup.cfg's
  ``[options.entry_points]``), so that it is found even when the user never imported it:
  the first ``svg`` call loads every renderer of that group.
- Any object can display itself the same way: ``def _repr_svg_(self): return
  autograd.display.svg(self)`` (``nn`` models can, for ``viz``'s network diagram).
- With no renderer, or none that draws the object, ``svg`` returns None, and Jupyter
  falls back to the text ``repr``.  A renderer that fails to load is skipped with a
  warning; an error while drawing (such as a graph too large to draw) propagates.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Callable, List, Optional

__all__ = ["GROUP", "Renderer", "register", "svg"]

#: The entry-point group in which drawing packages declare their renderer.
GROUP = "deltagrad.display"

Renderer = Callable[[object], Optional[str]]

_renderers: List[Renderer] = []
_discovered = False


def register(renderer: Renderer) -> Renderer:
    """Make ``renderer`` the first one asked (once; registering it again is a no-op).

    Returns it, so it can decorate its definition.
    """
    if not callable(renderer):
        raise TypeError(f"display.register: a renderer must be callable, got {type(renderer).__name__}")
    if renderer not in _renderers:
        _renderers.insert(0, renderer)
    return renderer


def _entry_points() -> List[metadata.EntryPoint]:
    """The entry points of ``GROUP`` (importlib.metadata's interface differs before 3.10)."""
    found = metadata.entry_points()
    if hasattr(found, "select"):
        return list(found.select(group=GROUP))
    # Python 3.9, whose entry_points() lists a distribution once per copy of its metadata on
    # sys.path (an editable install's and the checkout's egg-info): keep one of each
    return list({(p.name, p.value): p for p in found.get(GROUP, ())}.values())


def _discover() -> None:
    """Load the renderers installed packages declare, once; those already registered stay first."""
    global _discovered
    _discovered = True
    for point in _entry_points():
        try:
            renderer = point.load()
        except Exception as e:  # a broken drawing package must not break repr()
            warnings.warn(f"deltagrad display: could not load renderer {point.name!r} "
                          f"({point.value}): {type(e).__name__}: {e}", RuntimeWarning, stacklevel=3)
            continue
        if callable(renderer) and renderer not in _renderers:
            _renderers.append(renderer)


def svg(obj: object) -> Optional[str]:
    """SVG text for ``obj`` from the first renderer that draws it, or None if none does."""
    if not _discovered:
        _discover()
    for renderer in tuple(_renderers):
        picture = renderer(obj)
        if picture is not None:
            return picture
    return None
