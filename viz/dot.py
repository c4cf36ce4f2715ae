"""A Value's graph as a ``graphviz.Digraph`` that shows the chain rule at work.

Each value is a record ``label | data | grad``; each op is a small node between its inputs
and its result, showing the op's symbol and (from ``autograd.OPS``) its local derivative
rule; each input edge carries the number backward multiplies by, ∂out/∂input.  Values
that ``nn`` tagged as a neuron's ``u``/``o``/θ/b are grouped in a cluster per neuron
inside a cluster per layer, and every ``u`` shows its δ = ∂Err/∂u.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple, Union, overload

import graphviz

from autograd import OPS, Value, node_names, topological_order
from autograd.format import fmt
from autograd.validate import integer, is_integer

from .render import run

__all__ = ["Drawing", "GraphTooLargeError", "to_dot", "fmt", "grad_fill"]

RANKDIRS = ("LR", "RL", "TB", "BT")

# Role of a value -> fill of its label cell and the legend's words for it.
_ROLES = {
    "parameter": ("#fde68a", "parameter θ, b (training changes it)"),
    "input": ("#bbf7d0", "input x"),
    "leaf": ("#e0e7ff", "a value you made"),
    "constant": ("#e5e7eb", "constant"),
}

# |grad| on a log scale: (upper bound, fill, legend text); zero and nan/inf apart.
_GRAD_BINS = (
    (1e-4, "#f0f7fd", "|grad| < 1e-4"),
    (1e-2, "#d4e8f8", "< 0.01"),
    (1.0, "#a8d0f0", "< 1"),
    (1e2, "#6fb0e4", "< 100"),
    (math.inf, "#fdba74", "≥ 100"),
)
_ZERO = ("#d1d5db", "exactly 0: no signal")
_BAD = ("#f87171", "nan / inf")

_FONT = "Helvetica"
_K = re.compile(r"(?<![A-Za-z])k(?![A-Za-z])")


class GraphTooLargeError(ValueError):
    """The graph has more values than ``max_nodes``; the message says how to proceed.

    ``values`` and ``max_nodes`` hold the two numbers, for callers that word it their own way.
    """

    def __init__(self, message: str, values: int, max_nodes: int) -> None:
        super().__init__(message)
        self.values = values
        self.max_nodes = max_nodes


class Drawing(graphviz.Digraph):  # type: ignore[misc]  # graphviz ships no types: Digraph is Any
    """A ``graphviz.Digraph`` that renders through ``viz.render.find_renderer`` (a system
    ``dot``, else the bundled ``graphviz-pure``) in ``pipe``, ``render`` and ``view`` alike,
    so all of them, and its notebook display, work after ``pip install`` alone."""

    # For a type checker: bytes without an encoding, text with one.
    @overload
    def pipe(self, format: Optional[str] = None, renderer: Optional[str] = None,
             formatter: Optional[str] = None, neato_no_op: Union[bool, int, None] = None,
             quiet: bool = False, *, engine: Optional[str] = None, encoding: None = None) -> bytes: ...

    @overload
    def pipe(self, format: Optional[str] = None, renderer: Optional[str] = None,
             formatter: Optional[str] = None, neato_no_op: Union[bool, int, None] = None,
             quiet: bool = False, *, engine: Optional[str] = None, encoding: str) -> str: ...

    def pipe(self, format: Optional[str] = None, renderer: Optional[str] = None,
             formatter: Optional[str] = None, neato_no_op: Union[bool, int, None] = None,
             quiet: bool = False, *, engine: Optional[str] = None,
             encoding: Optional[str] = None) -> Union[bytes, str]:
        """The DOT source rendered to ``format``: bytes, or text when ``encoding`` is given."""
        spec = _spec(format or self.format, renderer, formatter)
        data = finish(run(self.source, spec, engine or self.engine, _no_op(neato_no_op)), spec)
        return data.decode(encoding) if encoding else data

    def _render(self, engine: str, format: Optional[str] = None,  # noqa: A002
                filepath: Union[str, os.PathLike[str], None] = None, renderer: Optional[str] = None,
                formatter: Optional[str] = None, neato_no_op: Union[bool, int, None] = None,
                quiet: bool = False, *, outfile: Union[str, os.PathLike[str], None] = None,
                raise_if_result_exists: bool = False, overwrite_filepath: bool = False) -> str:
        """What ``render`` (and ``view``) call once the source file is saved: lay out
        ``filepath`` with our renderer into ``outfile`` (or ``filepath.format``)."""
        source = Path(filepath)  # type: ignore[arg-type]  # graphviz passes the saved source's path
        if outfile is not None:
            out = Path(outfile)
            format = format or out.suffix.lstrip(".")
        else:
            out = source.with_name(f"{source.name}.{'.'.join(x for x in (format, renderer, formatter) if x)}")
        if raise_if_result_exists and out.exists():
            raise FileExistsError(f"output file exists: {str(out)!r}")
        if not overwrite_filepath and out.resolve() == source.resolve():
            raise ValueError(f"outfile {out.name!r} must be different from input file {source.name!r}")
        text = source.read_text(encoding=self.encoding)
        spec = _spec(format, renderer, formatter)
        out.write_bytes(finish(run(text, spec, engine, _no_op(neato_no_op)), spec))
        return str(out)


# An edge group as Graphviz writes it when the edge has a tooltip: its name as <title>,
# the tooltip on an <a> around the line.
_EDGE_TOOLTIP = re.compile(r'(<g id="[^"]*" class="edge">\n)<title>[^<]*</title>\n'
                           r'<g id="a_[^"]*"><a xlink:title="([^"]*)">\n(.*?)</a>\n</g>\n</g>', re.S)


def finish(data: bytes, format: str) -> bytes:  # noqa: A002
    """A drawing's SVG as a person should get it: each edge's tooltip becomes its group's
    ``<title>`` (what browsers show on hover; Graphviz puts the edge's name there and the
    tooltip on a link around the line).  Other formats are returned as they are."""
    if format.split(":")[0] != "svg":
        return data
    svg = data.decode("utf-8")
    return _EDGE_TOOLTIP.sub(lambda m: f"{m.group(1)}<title>{m.group(2)}</title>\n{m.group(3)}</g>",
                             svg).encode("utf-8")


def draw(graph: graphviz.Digraph, format: str = "svg") -> bytes:  # noqa: A002
    """``graph`` rendered to ``format`` with our renderer (``viz.svg``, ``viz.render``):
    a ``Drawing`` as its ``pipe`` gives it, any other Digraph as the renderer writes it."""
    if isinstance(graph, Drawing):
        return graph.pipe(format=format)
    return run(graph.source, format, graph.engine)


def _spec(format: Optional[str], renderer: Optional[str], formatter: Optional[str]) -> str:  # noqa: A002
    return ":".join(x for x in (format, renderer, formatter) if x)


def _no_op(neato_no_op: Union[bool, int, None]) -> List[str]:
    return [f"-n{int(neato_no_op)}"] if neato_no_op else []


def _esc(text: str) -> str:
    """Text for an HTML-like label: markup characters escaped, control characters shown
    as their Python escapes, so any label renders exactly as it was typed."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(repr(c)[1:-1] if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return html.escape(text, quote=True)


def _neuron(tag: object) -> Optional[Tuple[int, int]]:
    """(layer, neuron) for a value nn tagged as part of a neuron (u, o, θ, b), else None."""
    if (isinstance(tag, tuple) and len(tag) >= 3 and tag[0] in ("u", "o", "theta", "bias")
            and is_integer(tag[1]) and is_integer(tag[2])):
        return tag[1], tag[2]
    return None


def _kind(tag: object) -> Optional[str]:
    return tag[0] if isinstance(tag, tuple) and tag and isinstance(tag[0], str) else None


def _role(v: Value) -> str:
    kind = _kind(v.tag)
    if kind in ("theta", "bias"):
        return "parameter"
    if kind == "input":
        return "input"
    if v.op == "const":
        return "constant"
    if v.op == "":
        return "leaf"
    return "computed"


def grad_fill(g: float) -> str:
    """The fill for a grad cell: the bin of the number as printed (``fmt``), so a grad shown
    as ``1`` is coloured as 1 even when it is 0.9999999999999996."""
    shown = float(fmt(g))
    if shown != shown or shown in (math.inf, -math.inf):
        return _BAD[0]
    if shown == 0.0:
        return _ZERO[0]
    a = abs(shown)
    for bound, fill, _ in _GRAD_BINS:
        if a < bound:
            return fill
    return _GRAD_BINS[-1][1]


def _symbol(v: Value) -> str:
    """The op's symbol from the table, with its constant k filled in (``^3``, ``leaky 0.01``)."""
    symbol = OPS[v.op].symbol
    if v.arg is None:
        return symbol
    k = fmt(v.arg)
    return _K.sub(k, symbol) if _K.search(symbol) else f"{symbol} {k}"


def _rule_lines(v: Value) -> List[str]:
    """The op's rules from the table, one per line (``∂/∂a = 1``, ``∂/∂b = 1``); a single
    rule after ``∂:`` (``tanh: 1−o²`` becomes ``∂: 1−o²`` under ``tanh``)."""
    rules = OPS[v.op].rules
    lines = list(rules) if len(rules) > 1 else [f"∂: {rules[0]}"]
    if v.arg is not None:
        lines.append(f"k = {fmt(v.arg)}")
    return lines


def _select(root: Value, depth: Optional[int]) -> Tuple[List[Value], Set[Value]]:
    """The values to draw (parents before children) and those whose inputs are cut off.

    With ``depth=d``, values more than ``d`` ops up from ``root`` are left out; the
    values exactly ``d`` ops up that have inputs of their own are returned as cut off.
    """
    if depth is None:
        return topological_order(root), set()
    dist: Dict[Value, int] = {root: 0}
    frontier = [root]
    for d in range(1, depth + 1):
        nxt = []
        for v in frontier:
            for p in v.parents:
                if p not in dist:
                    dist[p] = d
                    nxt.append(p)
        frontier = nxt
    cut = {v for v in frontier if v.parents}
    return topological_order(root, lambda v: () if v in cut else v.parents), cut


def _slots(v: Value) -> List[int]:
    """The port (top to bottom, or left to right for TB) of each operand of ``v``'s op: in
    argument order, except that an n-ary op with terms of several factors (dot: a neuron's
    u = Σ θ·o + b) takes its first run (θ_1 … θ_n), then its tail (b), then the other runs
    (its inputs o_1 … o_n), by the operand layout of the op table."""
    op = OPS[v.op]
    positions = list(range(len(v.parents)))
    if op.width < 2:
        return positions
    runs, tail = op.parts(positions)
    slot = positions[:]
    for place, position in enumerate([*runs[0], *tail, *(p for part in runs[1:] for p in part)]):
        slot[position] = place
    return slot


def _value_label(v: Value, name: str, role: str, is_root: bool, health: bool, delta: bool) -> str:
    """A value's record, two rows so that it stays narrow: its name, then ``data | grad``
    (a neuron's u under a loss shows its grad as δ = ∂Err/∂u)."""
    fill = f' bgcolor="{_ROLES[role][0]}"' if role in _ROLES else ""
    data_fill = f' bgcolor="{_BAD[0]}"' if not math.isfinite(v.data) else ""
    grad_text = f"δ = ∂Err/∂u = {fmt(v.grad)}" if delta and _kind(v.tag) == "u" else f"grad {fmt(v.grad)}"
    grad_attrs = ""
    if health:
        grad_attrs = f' bgcolor="{grad_fill(v.grad)}"' + (' style="dashed"' if v.grad == 0.0 else "")
    cells = f"<tr><td{data_fill}>data {fmt(v.data)}</td><td{grad_attrs}>{grad_text}</td></tr>"
    return (f'<<table border="{2 if is_root else 0}" cellborder="1" cellspacing="0" cellpadding="3" '
            f'color="#475569"><tr><td{fill}><b>{_esc(name)}</b></td></tr><tr><td border="0" '
            f'cellpadding="0"><table border="0" cellborder="1" cellspacing="0" cellpadding="3" '
            f'color="#475569">{cells}</table></td></tr></table>>')


def _op_label(v: Value, show_rules: bool, cut: bool, ports: int = 0, rankdir: str = "LR") -> str:
    """An op's small rounded box: its symbol, then one row per derivative rule (from the
    op table) and a note where ``depth`` cut its inputs off.

    An op with ``ports`` > 1 inputs gets one invisible port per input (``i0``, ``i1``, ...)
    along the side they come in from: dot orders the inputs by where their edges end, so
    operands come out in the order of their ports, the same on every run.
    """
    lines = [_esc(x) for x in _rule_lines(v)] if show_rules else []
    if cut:
        lines.append("inputs beyond depth")
    rows = "".join(f'<tr><td><font point-size="9" color="#475569">{line}</font></td></tr>' for line in lines)
    style = "rounded,dashed" if cut else "rounded"
    inner = (f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
             f'<tr><td><b>{_esc(_symbol(v))}</b></td></tr>{rows}</table>')
    cells = [f'<td port="i{k}" width="1" height="1"></td>' for k in range(ports)]
    if ports < 2:
        body = f"<tr><td>{inner}</td></tr>"
    elif rankdir in ("LR", "RL"):   # a column of ports on the side the inputs come from
        content = f'<td rowspan="{ports}">{inner}</td>'
        first = cells[0] + content if rankdir == "LR" else content + cells[0]
        body = f"<tr>{first}</tr>" + "".join(f"<tr>{c}</tr>" for c in cells[1:])
    else:                           # a row of ports above (TB) or below (BT)
        port_row = f"<tr>{''.join(cells)}</tr>"
        content = f'<tr><td colspan="{ports}">{inner}</td></tr>'
        body = port_row + content if rankdir == "TB" else content + port_row
    return (f'<<table border="1" style="{style}" cellborder="0" cellspacing="0" cellpadding="0" '
            f'bgcolor="#f1f5f9" color="#94a3b8">{body}</table>>')


def _legend(roles: Set[str], show_local: bool, has_u: bool, backward_done: bool, root_name: str,
            note: Optional[str] = None) -> str:
    """A small key laid out as a grid: how to read a record, the roles present, the grad colours."""
    def swatch(fill: str, text: str, dashed: bool = False) -> str:
        style = ' style="dashed"' if dashed else ""
        return f'<td bgcolor="{fill}" border="1" color="#94a3b8"{style}>{_esc(text)}</td>'

    def words(text: str, span: int = 1) -> str:
        return f'<td align="left" colspan="{span}">{_esc(text)}</td>'

    # Each row: its first cell, then either a sentence (str) or swatch cells (list).
    rows: List[Tuple[str, Union[str, List[str]]]] = []
    if note:
        rows.append(("<td></td>", note))
    reading = f"each value: its name, then data | grad, where grad = ∂{root_name}/∂value"
    if show_local:
        reading += ";  ∂ on an arrow: the local derivative ∂out/∂input"
    rows.append(("<td><b>how to read this graph</b></td>", reading))
    if has_u:
        rows.append(("<td></td>", f"δ = ∂{root_name}/∂u on a neuron's u is its error signal; "
                                  f"∂{root_name}/∂θ = δ·o for each weight θ coming in"))
    present = [r for r in ("parameter", "input", "leaf", "constant") if r in roles]
    if present:
        rows.append((words("roles:"), [swatch(*_ROLES[r]) for r in present]))
    if backward_done:
        rows.append((words("grad colour (log scale):"),
                     [swatch(fill, text) for _, fill, text in _GRAD_BINS]
                     + [swatch(*_ZERO, dashed=True), swatch(*_BAD)]))
    else:
        rows.append(("<td></td>", "all grads are 0: call backward() to see them"))
    width = max([len(rest) for _, rest in rows if isinstance(rest, list)] or [1])
    out = []
    for first, rest in rows:
        if isinstance(rest, str):
            cells = words(rest, width)
        else:
            cells = "".join(rest) + (f'<td colspan="{width - len(rest)}"></td>' if len(rest) < width else "")
        out.append(f"<tr>{first}{cells}</tr>")
    return ('<<table id="legend" border="1" cellborder="0" cellspacing="3" cellpadding="2" '
            'color="#cbd5e1">' + "".join(out) + "</table>>")


def _check_options(root: object, rankdir: str, max_nodes: int, depth: Optional[int]) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"viz: expected an autograd Value to draw, got {type(root).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"viz: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    integer(max_nodes, "viz: max_nodes", 1)
    integer(depth, "viz: depth", 0, optional=True)


Statement = Tuple[str, Dict[str, str]]


def _statements(order: List[Value], cut: Set[Value], shown: Dict[Value, str], root: Value,
                options: Tuple[bool, bool, bool, str, bool]) -> Tuple[
                    List[Statement], Dict[int, Dict[int, List[Statement]]],
                    List[Tuple[str, str, Dict[str, str]]], Set[str], bool]:
    """Every node and edge statement of the drawing: node statements go to the top level or
    to their neuron's cluster, edges to the top; also the roles seen and whether a u is drawn."""
    show_local, show_rules, backward_done, rankdir, delta = options
    names = {v: f"n{i}" for i, v in enumerate(order)}
    top: List[Statement] = []
    clusters: Dict[int, Dict[int, List[Statement]]] = {}
    edges: List[Tuple[str, str, Dict[str, str]]] = []
    roles: Set[str] = set()
    has_u = False
    for v in order:
        name = names[v]
        where = top
        neuron = _neuron(v.tag)
        if neuron is not None:
            where = clusters.setdefault(neuron[0], {}).setdefault(neuron[1], [])
            has_u = has_u or v.tag[0] == "u"  # type: ignore[index]  # a tuple (_neuron said so)
        role = _role(v)
        roles.add(role)
        if role == "constant":
            where.append((name, {"shape": "box", "style": "rounded,filled", "fillcolor": _ROLES[role][0],
                                 "color": "#9ca3af", "fontsize": "10", "height": "0.25",
                                 "margin": "0.06,0.02", "label": fmt(v.data), "id": name}))
            continue
        where.append((name, {"id": name, "shape": "plain", "label": _value_label(
            v, shown[v], role, v is root, backward_done, delta)}))
        if not v.parents:
            continue
        op = name + "op"
        is_cut = v in cut
        label = _op_label(v, show_rules, is_cut, 0 if is_cut else len(v.parents), rankdir)
        where.append((op, {"id": op, "shape": "plain", "label": label}))
        edges.append((op, name, {"id": f"{name}_out"}))
        if is_cut:
            continue
        slot = _slots(v)
        for pos, (p, d) in enumerate(zip(v.parents, v.local_grads)):
            attrs = {"id": f"{name}_in{pos}"}  # stable ids: the interactive page highlights by them
            if len(v.parents) > 1:
                attrs["headport"] = f"i{slot[pos]}"
            if show_local:
                attrs.update(label=f"∂ {fmt(d)}", fontcolor="#1d4ed8" if math.isfinite(d) else "#dc2626")
            edges.append((names[p], op, attrs))

    return top, clusters, edges, roles, has_u


def _write(g: Drawing, top: List[Statement], clusters: Dict[int, Dict[int, List[Statement]]],
           edges: List[Tuple[str, str, Dict[str, str]]]) -> None:
    """Write the statements into ``g``: top-level nodes, a box per layer and neuron, edges."""
    for name, attrs in top:
        g.node(name, **attrs)
    for layer in sorted(clusters):
        with g.subgraph(name=f"cluster_layer{layer}") as lc:
            lc.attr(label=f"layer {layer}", style="rounded,filled", fillcolor="#f8fafc",
                    color="#cbd5e1", fontcolor="#334155", labeljust="l")
            for index in sorted(clusters[layer]):
                with lc.subgraph(name=f"cluster_layer{layer}_neuron{index}") as nc:
                    nc.attr(label=f"neuron {index}", style="rounded,dashed,filled", fillcolor="white",
                            color="#94a3b8", fontsize="10")
                    for name, attrs in clusters[layer][index]:
                        nc.node(name, **attrs)
    for tail, head, attrs in edges:
        g.edge(tail, head, **attrs)


def to_dot(root: Value, *, rankdir: str = "LR", show_local: bool = True, show_rules: bool = True,
           health: bool = True, max_nodes: int = 1000, depth: Optional[int] = None,
           note: Optional[str] = None) -> Drawing:
    """The graph that computed ``root`` as a ``graphviz.Digraph`` (a ``Drawing``).

    ``show_local``: ∂out/∂input on each input edge.  ``show_rules``: each op's derivative
    rule on its node.  ``health``: grad cells coloured by |grad| on a log scale, plus a
    legend below the graph.  ``depth``: draw only values at most that many ops up from
    ``root``.  ``note``: a line of text under the graph, above the legend.  Graphs
    with more than ``max_nodes`` values raise ``GraphTooLargeError``.  Node names come from
    the topological order, so the same graph always gives the same source.
    """
    _check_options(root, rankdir, max_nodes, depth)
    order, cut = _select(root, depth)
    if len(order) > max_nodes:
        raise GraphTooLargeError(
            f"viz: this graph has {len(order):,} values, more than max_nodes={max_nodes:,}; "
            f"pass max_nodes={len(order)} (rendering may be slow), or draw the part near one value "
            f"with depth=, e.g. viz.to_dot(value, depth=3); for a model, viz.network(model, x, y) "
            f"draws its layers instead", len(order), max_nodes)
    shown = node_names(root) if cut else node_names(root, order)
    delta = _kind(root.tag) == "loss"
    root_name = shown[root]
    backward_done = health and any(v.grad != 0.0 for v in order)

    g = Drawing("deltagrad", format="svg", graph_attr={
        "rankdir": rankdir, "fontname": _FONT, "fontsize": "11", "nodesep": "0.2",
        "ranksep": "0.15", "bgcolor": "white"},
        node_attr={"fontname": _FONT, "fontsize": "11"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "color": "#64748b", "arrowsize": "0.6"})

    top, clusters, edges, roles, has_u = _statements(
        order, cut, shown, root, (show_local, show_rules, backward_done, rankdir, delta))
    _write(g, top, clusters, edges)
    if health:
        g.attr(labelloc="b", labeljust="l", fontsize="9",
               label=_legend(roles, show_local, has_u and delta, backward_done, root_name, note))
    elif note:
        g.attr(labelloc="b", labeljust="l", fontsize="9", label=note)
    return g
