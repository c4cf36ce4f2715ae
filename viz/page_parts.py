"""What both modes of ``viz.html`` share: the step format's version, Graphviz's SVG made
small for inlining, the drawing's starting fade, script-safe JSON and the page template
filled in (``page/page.html`` with its style and player)."""

from __future__ import annotations

import html as _markup
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Set

__all__ = ["FORMAT_VERSION", "compact", "fade", "script_json", "document"]

#: One step of the page: a JSON object the player reads (see the step format above).
_Step = Dict[str, Any]

#: Version of the step format in ``page_data``.
FORMAT_VERSION = 1

_ASSETS = Path(__file__).with_name("page")
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


_ANY_NODE = re.compile(r'<g id="[^"]+" class="node">.*?</g>', re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_GROUP = re.compile(r'<g id="([^"]+)" class="(node|edge)"')
_DECIMAL = re.compile(r"-?\d+\.\d+")
_SHAPE = re.compile(r"<(?:path|polygon|polyline|ellipse|text) [^>]*>")
_COORDS = re.compile(r' (?:d|points|x|y|cx|cy|rx|ry)="[^"]*"')
_POLYGON = re.compile(r'<polygon ([^>]*?)points="([^"]*)"/>')
_ROUNDED = re.compile(r'<path ([^>]*?)d="M([^"]*)"/>')


def _round(match: re.Match[str]) -> str:
    """A coordinate to whole points (under 0.7 px off on screen): a third of the page's size."""
    return str(round(float(match.group(0))) or 0)


def _rect(attrs: str, xs: List[float], ys: List[float], extra: str = "") -> str:
    x, y = min(xs), min(ys)
    return f'<rect {attrs}x="{x:g}" y="{y:g}" width="{max(xs) - x:g}" height="{max(ys) - y:g}"{extra}/>'


def _polygon(match: re.Match[str]) -> str:
    """An axis-aligned rectangle drawn as a 5-point polygon (every table cell) as a rect."""
    points = [tuple(map(float, p.split(","))) for p in match.group(2).split()]
    if len(points) == 5 and points[0] == points[4] and all(
            a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])):
        return _rect(match.group(1), [p[0] for p in points], [p[1] for p in points])
    return match.group(0)


def _rounded(match: re.Match[str]) -> str:
    """A node's rounded box (a 40-number path) as a rect with rounded corners."""
    numbers = [float(x) for x in _NUMBER.findall(match.group(2))]
    xs, ys = numbers[0::2], numbers[1::2]
    return _rect(match.group(1), xs, ys, f' rx="{min(6, round((max(ys) - min(ys)) / 4))}"')


def compact(svg: str) -> str:
    """Graphviz's SVG made small for inlining.

    Gone: the prolog, comments, titles, attributes every text or edge repeats (set once
    on the group around them); coordinates to whole points, rectangles as rects.
    """
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    for default in (' font-family="Helvetica,sans-Serif"', ' xml:space="preserve"',
                    ' text-anchor="start"', ' font-size="11.00"'):
        svg = svg.replace(default, "")
    svg = svg.replace('class="graph"', 'class="graph" font-family="Helvetica,sans-Serif" font-size="11"', 1)
    svg = _SHAPE.sub(lambda m: _COORDS.sub(lambda c: _DECIMAL.sub(_round, c.group(0)), m.group(0)), svg)
    svg = svg.replace('<path fill="none" stroke="#64748b" d=', '<path fill="none" d=').replace(
        '<polygon fill="#64748b" stroke="#64748b" points=', '<polygon points=')
    svg = svg.replace('class="edge">', 'class="edge" fill="#64748b" stroke="#64748b">')
    svg = _POLYGON.sub(_polygon, svg)
    svg = _ANY_NODE.sub(lambda m: _ROUNDED.sub(_rounded, m.group(0)), svg)
    return svg.strip()


def fade(svg: str, pending: Set[str]) -> str:
    """The drawing before the forward pass: ``pending`` nodes and edges start faded."""
    return _GROUP.sub(lambda m: (f'<g id="{m.group(1)}" class="{m.group(2)} dg-pending"'
                                 if _markup.unescape(m.group(1)) in pending else m.group(0)), svg)


def script_json(data: object) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and
    the JavaScript line separators are escaped, so no label can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def document(title: str, svg: str, data: Dict[str, Any], texts: Dict[str, Any]) -> str:
    """The page: the template filled with ``title``, the drawing, the data (as script-safe
    JSON), the style, the player and the mode's ``texts`` (labels, hint, key, buttons)."""
    template = (_ASSETS / "page.html").read_text(encoding="utf-8")
    key = "".join(f'<li><span class="sw sw-{kind}"></span>{_markup.escape(text)}</li>\n'
                  for kind, text in texts["KEY"])
    parts = {
        "TITLE": _markup.escape(title), "CSS": (_ASSETS / "page.css").read_text(encoding="utf-8"),
        "SVG": svg, "DATA": script_json(data), "JS": (_ASSETS / "player.js").read_text(encoding="utf-8"),
        "GRAPH_LABEL": _markup.escape(texts["GRAPH_LABEL"]), "PICK_HEAD": _markup.escape(texts["PICK_HEAD"]),
        "PICK_HINT": _markup.escape(texts["PICK_HINT"]), "KEY": key, "BUTTONS": texts["BUTTONS"],
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], template)
