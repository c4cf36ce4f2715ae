"""Draw a Value's computation graph (data, grad, local derivatives), or a model's network
diagram (``network``), as SVG or PNG.

``to_dot`` builds a ``graphviz.Digraph``; ``svg`` and ``render`` lay it out with a system
Graphviz ``dot`` when one is on ``PATH``, else with the ``graphviz-pure`` executable
installed alongside deltagrad, so drawing works after ``pip install`` alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import graphviz

from autograd import Value

from .display import display_svg
from .dot import Drawing, GraphTooLargeError, to_dot
from .network import network
from .render import RendererNotFoundError, RenderError, find_renderer, run

__all__ = ["to_dot", "svg", "render", "network", "display_svg", "Drawing", "GraphTooLargeError",
           "RendererNotFoundError", "RenderError", "find_renderer", "FORMATS"]

#: Formats ``render`` writes.
FORMATS = ("svg", "png")


def _drawing(graph: Union[Value, graphviz.Digraph], options: dict) -> graphviz.Digraph:
    if isinstance(graph, graphviz.Digraph):
        if options:
            raise TypeError(f"viz: drawing options ({', '.join(sorted(options))}) apply to a Value, "
                            f"not to a ready Digraph; pass them to viz.to_dot instead")
        return graph
    return to_dot(graph, **options)


def svg(graph: Union[Value, graphviz.Digraph], **options: object) -> str:
    """The SVG text of ``graph`` (a Value, drawn with ``to_dot(graph, **options)``, or a Digraph)."""
    drawing = _drawing(graph, options)
    return run(drawing.source, "svg", drawing.engine).decode("utf-8")


def render(graph: Union[Value, graphviz.Digraph], path: Union[str, os.PathLike],
           format: Optional[str] = None, **options: object) -> str:
    """Write ``graph`` as an SVG or PNG file at ``path``; returns the path.

    ``format`` defaults to the file's suffix (``.svg``, ``.png``), or SVG without one.
    ``options`` go to ``to_dot`` (``rankdir``, ``show_local``, ``depth``, ...).
    """
    path = Path(path)
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix and suffix not in FORMATS:
            raise ValueError(f"viz.render: can't tell the format from {str(path)!r}; "
                             f"use a .svg or .png name or pass format='svg' or 'png'")
        format = suffix or "svg"
    if format not in FORMATS:
        raise ValueError(f"viz.render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    drawing = _drawing(graph, options)
    data = run(drawing.source, format, drawing.engine)
    path.write_bytes(data)
    return str(path)
