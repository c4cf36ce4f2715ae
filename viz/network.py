"""The textbook's picture of a network: inputs on the left, one column of neurons per
layer, the error on the right, every weight an edge.

``network(model, x, y, loss)`` draws one forward (and, given a target, backward) pass.
viz knows nothing about any particular library: it calls ``model.trace(x)``, or
``model.trace(x, y, loss)`` with a target, and reads the record that returns.  Any
library can have its models drawn by providing that method.  The protocol:

``model.trace(x, y=None, loss=...)`` returns a record with these attributes

- ``inputs``: the input Values x_ℓ, in order;
- ``layers``: one record per layer, each with ``u`` and ``o`` (the Values u_i and
  o_i = σ(u_i), one per neuron; ``o[i]`` may be ``u[i]`` itself for a linear neuron),
  ``theta`` (``theta[i][ℓ]`` is the weight Value θ_iℓ from the previous layer's output ℓ,
  or input ℓ, into neuron i), ``b`` (the bias Value of each neuron) and, optionally,
  ``activation`` (its name, for the column heading);
- ``loss`` and ``err``: with a target, the loss's name (a string to show; viz never
  looks it up) and the Err Value after ``Err.backward()``, so ``u.grad`` is
  δ = ∂Err/∂u; both ``None`` without one;
- optionally ``y``: the target, shown next to Err.

Each neuron shows u, o, its bias b and, with a target, δ (read from ``u.grad``, never
recomputed).  Each edge's colour and width show θ's sign and size; its tooltip gives θ
and ∂Err/∂θ = δ_i·o_ℓ.  Layers wider than ``max_neurons`` show their first neurons and
their last, with a line saying how many are left out.

>>> import nn, viz
>>> model = nn.MLP(2, [2, 1], activation="tanh", seed=1)
>>> drawing = viz.network(model, [0.5, -0.2], y=1.0)
>>> "loss mse" in drawing.source and "δ " in drawing.source
True
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from autograd import Value
from autograd.format import fmt
from autograd.validate import integer

from .dot import _BAD, _GRAD_BINS, _ZERO, Drawing, grad_fill

__all__ = ["network", "trace_drawing"]

_FONT = "Helvetica"
_PT = 9.0          # text in the boxes: 9 pt = 12 px at 100% zoom
_SMALL = 8.0       # legend: 8 pt = 10.7 px
_PAD = 2.0         # cellpadding
_GAP_X = 48.0      # between columns, where the edges run
_GAP_Y = 6.0       # between neurons of one column
_POS = "#2563eb"   # θ > 0
_NEG = "#dc2626"   # θ < 0

# Approximate Helvetica advance widths (em) for estimating box sizes before layout.
_EM = {**{c: 0.556 for c in "0123456789"}, ".": 0.278, ",": 0.278, " ": 0.278, "-": 0.333,
       "−": 0.584, "=": 0.584, "[": 0.278, "]": 0.278, "(": 0.333, ")": 0.333, "i": 0.222,
       "l": 0.222, "…": 1.0}


def _width(text: str, pt: float, bold: bool = False) -> float:
    """Estimated width of ``text`` in points (a little generous, so boxes never overflow)."""
    em = sum(_EM.get(c, 0.667 if c.isupper() else 0.6) for c in text)
    return em * pt * (1.1 if bold else 1.0)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _check_record(record: Any) -> None:
    """The trace record has what the protocol promises, or a clear error says what is missing."""
    for attr in ("inputs", "layers"):
        if not hasattr(record, attr):
            raise TypeError(f"viz.network: the model's trace() returned {type(record).__name__}, "
                            f"which has no {attr!r} (see viz.network's docstring for the protocol)")
    width = len(record.inputs)
    for k, layer in enumerate(record.layers):
        for attr in ("u", "o", "theta", "b"):
            if not hasattr(layer, attr):
                raise TypeError(f"viz.network: layer {k} of the trace has no {attr!r}")
        n = len(layer.u)
        if not (len(layer.o) == len(layer.theta) == len(layer.b) == n) or n == 0:
            raise ValueError(f"viz.network: layer {k} of the trace has {n} u but {len(layer.o)} o, "
                             f"{len(layer.theta)} theta rows and {len(layer.b)} b")
        for i, row in enumerate(layer.theta):
            if len(row) != width:
                raise ValueError(f"viz.network: neuron {i} of layer {k} has {len(row)} weights "
                                 f"but the layer before has {width} outputs")
        width = n


def _shown(n: int, max_neurons: Optional[int]) -> Tuple[List[int], int]:
    """Indices of the neurons drawn (first ones and the last) and how many are left out."""
    if max_neurons is None or n <= max_neurons:
        return list(range(n)), 0
    keep = max(max_neurons - 1, 1)
    return list(range(keep)) + [n - 1], n - keep - 1


class _Column:
    """One column of boxes: a heading, node statements (name, attrs, height) and a width."""

    def __init__(self, heading: str) -> None:
        self.heading = heading
        self.nodes: List[Tuple[str, Dict[str, str], float]] = []
        self.width = _width(max(heading.split("\n"), key=len), _PT, bold=True)


def _cells(rows: Sequence[Sequence[Tuple[str, str]]], widths: Sequence[float]) -> str:
    """An HTML-like table, one ``<tr>`` per row of (text, fill) cells of the given widths
    (square corners: a rounded border would cut into the filled cells in its corners)."""
    out = []
    for row in rows:
        tds = "".join(f'<td align="left" width="{w:.0f}"' + (f' bgcolor="{fill}"' if fill else "")
                      + f">{_esc(text)}</td>" for (text, fill), w in zip(row, widths))
        out.append(f"<tr>{tds}</tr>")
    return ('<<table border="1" cellborder="0" cellspacing="1" '
            f'cellpadding="{_PAD:.0f}" color="#64748b">{"".join(out)}</table>>')


def _height(rows: int) -> float:
    return rows * (_PT * 1.25 + 2 * _PAD) + 2


def _input_column(record: Any) -> _Column:
    col = _Column("inputs\nx")
    texts = [f"{v.label or f'x[{ell}]'} = {fmt(v.data)}" for ell, v in enumerate(record.inputs)]
    w = max(_width(t, _PT) for t in texts) + 2 * _PAD + 4
    col.width = max(col.width, w + 2)
    for ell, text in enumerate(texts):
        col.nodes.append((f"x{ell}", {"label": _cells([[(text, "#bbf7d0")]], [w]),
                                      "tooltip": f"input {text}"}, _height(1)))
    return col


def _neuron_texts(u: Value, o: Value, b: Value, with_delta: bool) -> List[List[str]]:
    rows = [[f"u {fmt(u.data)}", f"o {fmt(o.data)}"], [f"b {fmt(b.data)}"]]
    if with_delta:
        rows[1].append(f"δ {fmt(u.grad)}")
    return rows


def _neuron_tooltip(k: int, i: int, u: Value, o: Value, b: Value, act: str, with_delta: bool) -> str:
    lines = [f"neuron {i} of layer {k}",
             f"u = Σ θ·o + b = {fmt(u.data)}   (b = {fmt(b.data)})",
             f"o = {act or 'σ'}(u) = {fmt(o.data)}"]
    if with_delta:
        lines.append(f"δ = ∂Err/∂u = u.grad = {fmt(u.grad)}")
    return "\n".join(lines)


def _layer_column(k: int, layer: Any, last: bool, with_delta: bool,
                  max_neurons: Optional[int]) -> Tuple[_Column, List[int]]:
    n = len(layer.u)
    act = getattr(layer, "activation", "") or ""
    heading = f"layer {k}\n{n} {act}".rstrip() + (" → ŷ" if last else "")
    col = _Column(heading)
    shown, hidden = _shown(n, max_neurons)
    texts = {i: _neuron_texts(layer.u[i], layer.o[i], layer.b[i], with_delta) for i in shown}
    widths = [max(_width(t[r][c], _PT) for t in texts.values() for r in range(2) if c < len(t[r]))
              + 2 * _PAD + 4 for c in range(2)]
    col.width = max(col.width, sum(widths) + 4)
    for i in shown:
        rows = texts[i]
        cells = [[(rows[0][0], ""), (rows[0][1], "")],
                 [(rows[1][0], "")] + ([(rows[1][1], grad_fill(layer.u[i].grad))] if with_delta else [])]
        tip = _neuron_tooltip(k, i, layer.u[i], layer.o[i], layer.b[i], act, with_delta)
        col.nodes.append((f"n{k}_{i}", {"label": _cells(cells, widths), "tooltip": tip}, _height(2)))
        if hidden and i == shown[-2]:
            text = f"… {hidden} more\n(neurons {i + 1}–{n - 2})"
            col.nodes.append((f"n{k}_more", {"shape": "plaintext", "label": text, "fontcolor": "#475569",
                                             "tooltip": f"{hidden} neurons of layer {k} not drawn "
                                                        f"(max_neurons={max_neurons})"}, 2 * _PT * 1.25 + 4))
    return col, shown


def _err_column(record: Any) -> _Column:
    col = _Column("error\nErr")
    err = record.err
    y = getattr(record, "y", None)
    rows = [[(f"loss {record.loss}", "")], [(f"Err {fmt(err.data)}", "")]]
    if y is not None:
        ys = y if isinstance(y, (list, tuple)) else [y]
        shown = ", ".join(fmt(float(v)) for v in ys)
        rows.append([(f"y {shown}" if len(ys) == 1 else f"y [{shown}]", "")])
    w = max(_width(r[0][0], _PT, bold=True) for r in rows) + 2 * _PAD + 4
    col.width = max(col.width, w + 4)
    col.nodes.append(("err", {"label": _cells(rows, [w]), "penwidth": "2",
                              "tooltip": f"Err = {record.loss}(ŷ, y) = {fmt(err.data)}; "
                                         f"backward starts here with ∂Err/∂Err = 1"}, _height(len(rows))))
    return col


def _edge(theta: Value, src: Value, delta: Optional[float], scale: float, where: str) -> Dict[str, str]:
    """Colour by sign, width and opacity by |θ|; the tooltip gives θ and ∂Err/∂θ = δ·o."""
    size = min(abs(theta.data) / scale, 1.0) if scale > 0 and math.isfinite(theta.data) else 1.0
    colour = _POS if theta.data >= 0 else _NEG
    alpha = int(round(255 * (0.45 + 0.55 * size)))  # the weakest line still visible
    name = theta.label or "θ"
    tip = f"{name} = {fmt(theta.data)}  ({where})"
    if delta is not None:
        tip += f"\n∂Err/∂θ = δ·o = {fmt(delta)} × {fmt(src.data)} = {fmt(delta * src.data)}"
    return {"color": f"{colour}{alpha:02x}", "penwidth": f"{0.7 + 1.9 * size:.2f}", "tooltip": tip}


def _legend(with_delta: bool) -> Tuple[str, float, float]:
    """The key under the picture: what a box and a line mean (and δ's colours); its size."""
    lines = ["each box is a neuron: u = Σ θ·o + b with its bias b, then o = σ(u)"
             + ("; δ = ∂Err/∂u" if with_delta else ""),
             "each line is a weight θ: blue θ > 0, red θ < 0, thicker for larger |θ|; "
             + ("point at it for θ and ∂Err/∂θ = δ·o" if with_delta else "point at it for θ")]
    swatches = ([(text, fill) for _, fill, text in _GRAD_BINS] + [("0", _ZERO[0]), ("nan", _BAD[0])]
                if with_delta else [])
    span = max(len(swatches), 1) + 1
    rows = [f'<tr><td align="left" colspan="{span}">{_esc(t)}</td></tr>' for t in lines]
    width = max(_width(t, _SMALL) for t in lines)
    if swatches:
        cells = "".join(f'<td bgcolor="{fill}" border="1" color="#94a3b8">{_esc(t)}</td>'
                        for t, fill in swatches)
        rows.append(f'<tr><td align="left">δ colour (|δ|):</td>{cells}</tr>')
        swatch_width = sum(_width(t, _SMALL) + 8 for t, _ in swatches)
        width = max(width, swatch_width + _width("δ colour (|δ|):", _SMALL))
    label = ('<<table border="0" cellborder="0" cellspacing="2" cellpadding="1">'
             + "".join(rows) + "</table>>")
    return label, width + 8, len(rows) * (_SMALL * 1.25 + 6)


def _edges(record: Any, shown: List[List[int]], with_delta: bool) -> List[Tuple[str, str, Dict[str, str]]]:
    """One edge per drawn weight θ_iℓ (previous column's ℓ into neuron i), then ŷ → Err."""
    thetas = [layer.theta[i][ell] for k, layer in enumerate(record.layers) for i in shown[k + 1]
              for ell in shown[k]]
    scale = max((abs(t.data) for t in thetas if math.isfinite(t.data)), default=1.0)
    out = []
    for k, layer in enumerate(record.layers):
        sources = record.inputs if k == 0 else record.layers[k - 1].o
        for i in shown[k + 1]:
            delta = layer.u[i].grad if with_delta else None
            for ell in shown[k]:
                src = f"x{ell}" if k == 0 else f"n{k - 1}_{ell}"
                what = f"input {ell}" if k == 0 else f"o of neuron {ell}, layer {k - 1}"
                attrs = _edge(layer.theta[i][ell], sources[ell], delta, scale,
                              f"from {what} into neuron {i} of layer {k}")
                out.append((src, f"n{k}_{i}", attrs))
    if with_delta:
        last = len(record.layers) - 1
        for i in shown[-1]:
            o = record.layers[last].o[i]
            out.append((f"n{last}_{i}", "err", {
                "color": "#64748b", "penwidth": "1.2",
                "tooltip": f"ŷ = o = {fmt(o.data)};  ∂Err/∂ŷ = {fmt(o.grad)}"}))
    return out


def trace_drawing(record: Any, max_neurons: Optional[int] = 16) -> Drawing:
    """The network diagram of a trace record (the protocol in this module's docstring)."""
    _check_record(record)
    integer(max_neurons, "viz.network: max_neurons", 2, optional=True)
    with_delta = getattr(record, "err", None) is not None
    last = len(record.layers) - 1
    columns = [_input_column(record)]
    shown = [list(range(len(record.inputs)))]
    for k, layer in enumerate(record.layers):
        col, idx = _layer_column(k, layer, k == last, with_delta, max_neurons)
        columns.append(col)
        shown.append(idx)
    if with_delta:
        columns.append(_err_column(record))

    g = Drawing("network", engine="neato", format="svg", graph_attr={
        "splines": "line", "inputscale": "72", "overlap": "true", "outputorder": "edgesfirst",
        "bgcolor": "white", "pad": "0.15", "fontname": _FONT},
        node_attr={"shape": "plain", "fontname": _FONT, "fontsize": f"{_PT:g}"},
        edge_attr={"arrowhead": "none", "tailport": "e", "headport": "w"})
    heights = [sum(h for *_, h in col.nodes) + _GAP_Y * (len(col.nodes) - 1) for col in columns]
    top = max(heights) / 2
    x = 0.0
    for c, (col, height) in enumerate(zip(columns, heights)):
        cx = x + col.width / 2
        y = height / 2
        for name, attrs, h in col.nodes:
            g.node(name, pos=f"{cx:.1f},{y - h / 2:.1f}!", **attrs)
            y -= h + _GAP_Y
        g.node(f"heading{c}", shape="plaintext", label=col.heading, fontcolor="#334155",
               fontname=f"{_FONT}-Bold", pos=f"{cx:.1f},{top + 8 + _PT * 1.25:.1f}!")
        x += col.width + _GAP_X
    label, width, height = _legend(with_delta)
    g.node("legend", shape="plain", fontsize=f"{_SMALL:g}", fontcolor="#334155", label=label,
           pos=f"{width / 2:.1f},{-top - 10 - height / 2:.1f}!")
    for tail, head, attrs in _edges(record, shown, with_delta):
        g.edge(tail, head, **attrs)
    return g


def network(model: Any, x: Sequence[Any], y: Any = None, loss: Any = "mse", *,
            max_neurons: Optional[int] = 16) -> Drawing:
    """The network diagram of ``model`` on one input ``x`` (and target ``y``) as a ``Drawing``.

    Calls ``model.trace(x)``, or ``model.trace(x, y, loss)`` with a target (``loss`` is
    passed through, never looked up here); see this module's docstring for the protocol.
    Layers wider than ``max_neurons`` (``None``: no limit) are shown elided.
    """
    tracer = getattr(model, "trace", None)
    if not callable(tracer):
        raise TypeError(f"viz.network: a {type(model).__name__} has no trace() method; it draws "
                        "models that provide model.trace(x, y, loss) (see help(viz.network))")
    record = tracer(x) if y is None else tracer(x, y, loss)
    return trace_drawing(record, max_neurons)
