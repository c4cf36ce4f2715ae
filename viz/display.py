"""What a notebook shows for a Value or a model: an SVG that never raises and stays small.

``display_svg(obj)`` draws a ``Value``'s graph, or, when it has more than
``DISPLAY_MAX_NODES`` values, the part nearest the value with a line saying how much is
shown and how to draw all of it; a model with ``trace`` (see ``viz.network``) is drawn as
its network diagram at x = 0.  SVGs larger than ``MAX_EMBED_BYTES`` are replaced by a
short SVG saying how to write the picture to a file instead.
"""

from __future__ import annotations

import html
from typing import Any, List, Optional

from autograd import Value

from .dot import to_dot
from .network import network
from .render import RendererNotFoundError, RenderError, run

__all__ = ["display_svg", "DISPLAY_MAX_NODES", "MAX_EMBED_BYTES"]

#: Graphs with more values than this are shown cut to the part nearest the root.
DISPLAY_MAX_NODES = 100
#: SVGs larger than this (in bytes of UTF-8) are not embedded in the notebook.
MAX_EMBED_BYTES = 1_000_000


def _levels(root: Value) -> List[int]:
    """How many values lie d ops up from ``root`` (at their nearest), for d = 0, 1, 2, ..."""
    seen = {root}
    frontier = [root]
    counts = []
    while frontier:
        counts.append(len(frontier))
        nxt = []
        for v in frontier:
            for p in v.parents:
                if p not in seen:
                    seen.add(p)
                    nxt.append(p)
        frontier = nxt
    return counts


def _value_svg(v: Value) -> str:
    """The whole graph, or the values nearest ``v`` (as many ops up as fit the limit) and a note."""
    counts = _levels(v)
    total = sum(counts)
    if total <= DISPLAY_MAX_NODES:
        return run(to_dot(v, max_nodes=total).source, "svg").decode("utf-8")
    depth, shown = 0, counts[0]
    while shown + counts[depth + 1] <= DISPLAY_MAX_NODES:
        depth += 1
        shown += counts[depth]
    note = (f"showing {shown} of {total:,} values (those at most {depth} ops up); to draw all: "
            f"viz.render(value, 'graph.svg', max_nodes={total}), or viz.network(model, x, y) for a model")
    return run(to_dot(v, depth=depth, max_nodes=shown, note=note).source, "svg").decode("utf-8")


def _too_big(size: int, what: str, how: str) -> str:
    text = html.escape(f"{what}: the SVG would be {size / 1e6:.1f} MB, too big to embed here; {how}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{8 * len(text) + 20}" height="40">'
            f'<text x="10" y="24" font-family="Helvetica,sans-serif" font-size="14">{text}</text></svg>')


def display_svg(obj: Any) -> Optional[str]:
    """The SVG a notebook should show for ``obj`` (a Value, or a model with ``trace`` and
    ``nin``), or None when viz cannot draw it or finds no renderer (the notebook then shows
    the object's repr): it never raises, so a cell that ends in a Value always runs."""
    try:
        return _svg(obj)
    except (RendererNotFoundError, RenderError):
        return None


def _svg(obj: Any) -> Optional[str]:
    if isinstance(obj, Value):
        text = _value_svg(obj)
        how = "viz.render(value, 'graph.svg') writes it to a file"
    elif callable(getattr(obj, "trace", None)) and isinstance(getattr(obj, "nin", None), int):
        drawing = network(obj, [0.0] * obj.nin)
        text = drawing.pipe(format="svg", encoding="utf-8")
        how = "viz.render(viz.network(model, x), 'net.svg') writes it to a file"
    else:
        return None
    size = len(text.encode("utf-8"))
    return text if size <= MAX_EMBED_BYTES else _too_big(size, "this picture", how)
