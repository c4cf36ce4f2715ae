"""Draw a Value's computation graph (data, grad, local derivatives), or a model's network
diagram (``network``), as SVG or PNG, or as an interactive page that steps through forward
and backward (``html``).

``to_dot`` builds a ``graphviz.Digraph``; ``svg`` and ``render`` lay it out with a system
Graphviz ``dot`` when one is on ``PATH``, else with the ``graphviz-pure`` executable
installed alongside deltagrad, so drawing works after ``pip install`` alone.  ``html``
(and ``render`` to a ``.html`` file, and ``interactive`` in Jupyter) makes the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import graphviz

import autograd as _engine

if not hasattr(_engine, "OPS"):  # another distribution's top-level ``autograd`` came first
    raise ImportError(
        f"the package 'autograd' at {_engine.__file__} is not deltagrad's engine but another package "
        "of that name (HIPS autograd, pip install autograd, has it too); the two cannot share an "
        "environment: install deltagrad in a virtual environment of its own (python3 -m venv .venv)")

from autograd import Value  # noqa: E402  (after the check, whose message beats an ImportError's)
from autograd import display as _display  # noqa: E402

from .display import display_svg
from .dot import Drawing, GraphTooLargeError, draw, to_dot
from .html import Interactive, html, interactive
from .network import network
from .render import RendererNotFoundError, RenderError, find_renderer

__all__ = ["to_dot", "svg", "render", "network", "html", "interactive", "Interactive", "display_svg",
           "Drawing", "GraphTooLargeError", "RendererNotFoundError", "RenderError", "find_renderer",
           "FORMATS"]

#: Formats ``render`` writes (``html``: the interactive page of ``viz.html``).
FORMATS = ("svg", "png", "html")


def _drawing(graph: Union[Value, graphviz.Digraph], options: Dict[str, Any]) -> graphviz.Digraph:
    if isinstance(graph, graphviz.Digraph):
        if options:
            raise TypeError(f"viz: drawing options ({', '.join(sorted(options))}) apply to a Value, "
                            f"not to a ready Digraph; pass them to viz.to_dot instead")
        return graph
    return to_dot(graph, **options)


def svg(graph: Union[Value, graphviz.Digraph], **options: object) -> str:
    """The SVG text of ``graph`` (a Value, drawn with ``to_dot(graph, **options)``, or a Digraph)."""
    return draw(_drawing(graph, options), "svg").decode("utf-8")


def render(graph: Union[Value, graphviz.Digraph], path: Union[str, os.PathLike[str]],
           format: Optional[str] = None, **options: object) -> str:
    """Write ``graph`` as an SVG or PNG file, or an HTML page, at ``path``; returns the path.

    ``format`` defaults to the file's suffix (``.svg``, ``.png``, ``.html``), or SVG
    without one.  ``options`` go to ``to_dot`` (``rankdir``, ``show_local``, ``depth``,
    ...), or for a page to ``viz.html`` (``max_nodes``, ``rankdir``, ``show_rules``, ``title``;
    for a model's page ``graph`` is the model and ``x``, ``y``, ``loss``, ``lr`` are options).
    """
    path = Path(path)
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix and suffix not in FORMATS:
            raise ValueError(f"viz.render: can't tell the format from {str(path)!r}; "
                             f"use a .svg, .png or .html name or pass format='svg', 'png' or 'html'")
        format = suffix or "svg"
    if format not in FORMATS:
        raise ValueError(f"viz.render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format == "html":
        if not isinstance(graph, Value) and not callable(getattr(graph, "trace", None)):
            raise TypeError(f"viz.render: an HTML page needs a Value, or a model with x= and y=, "
                            f"got {type(graph).__name__}")
        data = html(graph, **options).encode("utf-8")  # type: ignore[arg-type]  # options are html()'s keywords
    else:
        data = draw(_drawing(graph, options), format)
    path.write_bytes(data)
    return str(path)


# Values (and models) shown in Jupyter ask autograd.display, which asks this; setup.cfg also
# declares it as an entry point, so it is found before viz is imported.
_display.register(display_svg)
