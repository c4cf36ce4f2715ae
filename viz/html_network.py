"""Network mode of ``viz.html``: a model's page, stepped neuron by neuron on the network diagram.

The page replays one training step of one sample as the textbook writes it: forward
(u and o per neuron, then Err), δ at the output (``δ_k = ∂Err/∂ŷ_k · σ'(u_k)``), δ in
the hidden layers right to left (``δ_i = σ'(u_i) · Σ_j δ_j·θ_ji``), the gradients
(``∂Err/∂θ_iℓ = δ_i·o_ℓ``), then an SGD step (``θ ← θ − η·∂Err/∂θ``) and the new Err.

Every number is the engine's: the model's ``trace(x, y, loss)`` (the protocol
``viz.network`` draws from) runs forward and ``Err.backward()``, so δ is ``u.grad``,
∂Err/∂ŷ is ``ŷ.grad``, σ'(u) the local derivative stored on the activation node,
Σ_j δ_j·θ_ji is ``o.grad`` and ∂Err/∂θ is ``θ.grad``.  All of it happens on a
``copy.deepcopy`` of the model, whose gradients are zeroed first, so the user's model
is never changed; the new Err after the step is that copy's ``trace`` again, with its θ
and b updated.  Elements are the network diagram's, named by its node names: ``x0``,
``n1_0`` (layer 1, neuron 0), ``err``; weights ``w1_0_2`` (θ_02 of layer 1) and the
output lines ``yhat0``.  The steps use the step format of ``viz.html`` (version 1) with
the kinds start, forward, err, delta, grad, end and sgd.
"""

from __future__ import annotations

import copy
import html as _markup
import re
from typing import Any, Dict, List, Optional, Tuple

from autograd import Value, topological_order
from autograd.validate import integer, real

from .dot import GraphTooLargeError, fmt
from .page_parts import FORMAT_VERSION, _Step, compact, document, fade
from .network import trace_drawing
from .render import run

__all__ = ["network_html", "network_page_data", "NETWORK_TEXTS"]

#: Most θ edges lit (with their numbers) at the SGD step; more would be unreadable.
MAX_LIT_EDGES = 24

#: The page's words for network mode.
NETWORK_TEXTS = {
    "GRAPH_LABEL": "Network diagram: click a neuron to see its steps",
    "PICK_HEAD": "Steps of a neuron",
    "PICK_HINT": "Click a neuron (or Err) in the diagram, or focus it and press Enter, to see every "
                 "step at it: its u and o, its δ and its weights' gradients.",
    "KEY": [("cur", "current step's neuron (thick outline)"),
            ("edge", "weights in use (thick line) with their number: θ forward, ∂Err/∂θ for the "
                     "gradients, the new θ at the SGD step"),
            ("recv", "neurons whose numbers the step reads (dashed outline)"),
            ("pick", "clicked neuron (dotted outline)"),
            ("pending", "not computed yet (faded, ?)")],
    "BUTTONS": '<button type="button" id="dg-sgd">SGD step</button>\n',
}

_GROUP_TITLE = re.compile(r'<g id="(?:node|edge)\d+" class="(node|edge)">\n<title>([^<]*)</title>')
_TOOLTIP = re.compile(r'<g id="a_[^"]*"><a [^>]*>\n(.*?)</a>\n</g>\n', re.S)
_NEURON = re.compile(r'<g id="(n\d+_\d+|err)" class="node( dg-pending)?">(.*?)</g>', re.S)
_TEXT = re.compile(r'<text ([^>]*)>([^<]*)</text>')
_EDGE_PATH = re.compile(r'(<g id="(w\d+_\d+_\d+)" class="edge[^"]*"[^>]*>\n<path [^>]*d="M([^"]*)"/>)')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_POINT_AT = re.compile(r"; point at it for [^<]*")
_TEXT_PREFIX = {"u ": ("_u", "u ?"), "o ": ("_o", "o ?"), "b ": ("_b", None), "δ ": ("_d", "δ ?"),
                "Err ": ("_e", "Err ?")}


def _factor(x: float) -> str:
    """A number inside a product: negative ones in parentheses."""
    return f"({fmt(x)})" if x < 0 else fmt(x)


def _slope(o: Value, u: Value) -> float:
    """σ'(u): the local derivative ∂o/∂u the activation node stored (1 for a linear neuron)."""
    return 1.0 if o is u else o.local_grads[0]


def _parameters(record: Any) -> List[Value]:
    """Every θ and b of the trace, each once, layer by layer and neuron by neuron."""
    seen: Dict[int, Value] = {}
    for layer in record.layers:
        for row, b in zip(layer.theta, layer.b):
            for p in (*row, b):
                seen.setdefault(id(p), p)
    return list(seen.values())


def _trace_copy(model: Any, x: Any, y: Any, loss: Any) -> Tuple[Any, Any]:
    """A deep copy of ``model`` with zero gradients, and its trace on (x, y, loss)."""
    try:
        work = copy.deepcopy(model)
    except Exception as e:  # any library's model: say why the copy failed, whatever it was
        raise TypeError(f"viz.html: the page works on a copy of the model, so it never changes "
                        f"yours, but copy.deepcopy({type(model).__name__}) failed: {e}") from None
    for p in _parameters(work.trace(x)):  # a forward pass only: it finds the parameters
        p.grad = 0.0
    record = work.trace(x, y, loss)
    if getattr(record, "err", None) is None:
        raise TypeError(f"viz.html: {type(model).__name__}.trace(x, y, loss) returned no err; the "
                        "page needs Err after backward (see viz.network's protocol)")
    return work, record


def _sources(record: Any, k: int) -> Tuple[List[str], List[str], List[Value]]:
    """Names, element ids and Values of the o_ℓ that layer ``k`` reads."""
    if k == 0:
        n = len(record.inputs)
        return [f"x[{ell}]" for ell in range(n)], [f"x{ell}" for ell in range(n)], list(record.inputs)
    o = record.layers[k - 1].o
    return ([f"o[{k - 1},{ell}]" for ell in range(len(o))], [f"n{k - 1}_{ell}" for ell in range(len(o))],
            list(o))


def _activation(layer: Any) -> str:
    return getattr(layer, "activation", "") or "σ"


def _forward(record: Any) -> List[_Step]:
    """One step per neuron, layer by layer: u = Σ θ·o + b with the numbers, then o = σ(u)."""
    steps = []
    for k, layer in enumerate(record.layers):
        names, ids, values = _sources(record, k)
        act = _activation(layer)
        for i, (u, o, b, row) in enumerate(zip(layer.u, layer.o, layer.b, layer.theta)):
            nid, edges = f"n{k}_{i}", [f"w{k}_{i}_{ell}" for ell in range(len(row))]
            terms = " + ".join(f"{_factor(t.data)}·{_factor(v.data)}" for t, v in zip(row, values))
            lines = [f"u[{k},{i}] = " + " + ".join(f"θ[{k},{i},{ell}]·{n}" for ell, n in enumerate(names))
                     + f" + b[{k},{i}]",
                     f"        = {terms} + {_factor(b.data)} = {fmt(u.data)}",
                     f"o[{k},{i}] = u[{k},{i}] = {fmt(o.data)}  (linear)" if o is u else
                     f"o[{k},{i}] = {act}(u[{k},{i}]) = {act}({fmt(u.data)}) = {fmt(o.data)}"]
            steps.append({
                "kind": "forward", "say": f"Forward, layer {k}, neuron {i}: u = Σ θ·o + b (θ on the lines), "
                                          f"then o = {act}(u)",
                "lines": lines, "cur": [nid], "edges": edges, "recv": ids, "show": [nid, *edges],
                "set": [[nid + "_u", f"u {fmt(u.data)}"], [nid + "_o", f"o {fmt(o.data)}"],
                        *([e + "_l", fmt(t.data)] for e, t in zip(edges, row))]})
    return steps


def _numbers(ys: Any) -> str:
    if isinstance(ys, (list, tuple)):
        return "[" + ", ".join(fmt(float(v)) for v in ys) + "]"
    return fmt(float(ys)) if isinstance(ys, (int, float)) else str(ys)


def _err_step(record: Any) -> _Step:
    """Err = loss(ŷ, y), from the output neurons into the error box."""
    outs = record.layers[-1].o
    yhat = fmt(outs[0].data) if len(outs) == 1 else "[" + ", ".join(fmt(o.data) for o in outs) + "]"
    y = getattr(record, "y", None)
    line = f"Err = {record.loss}(ŷ, y) = {record.loss}({yhat}, {_numbers(y)}) = {fmt(record.err.data)}"
    edges = [f"yhat{i}" for i in range(len(outs))]
    return {"kind": "err", "say": f"Forward, the error of the output ŷ against the target y ({record.loss})",
            "lines": [line], "cur": ["err"], "edges": edges,
            "recv": [f"n{len(record.layers) - 1}_{i}" for i in range(len(outs))],
            "show": ["err", *edges], "set": [["err_e", f"Err {fmt(record.err.data)}"]]}


def _output_deltas(record: Any) -> List[_Step]:
    """δ_k = ∂Err/∂ŷ_k · σ'(u_k): ŷ.grad from backward through the loss, σ' from the node."""
    last = len(record.layers) - 1
    layer = record.layers[last]
    act = _activation(layer)
    steps = []
    for i, (u, o) in enumerate(zip(layer.u, layer.o)):
        hat, nid = ("ŷ" if len(layer.u) == 1 else f"ŷ_{i}"), f"n{last}_{i}"
        where = "linear: σ'(u) = 1" if o is u else f"σ'(u) = ∂o/∂u, stored on the {act} node"
        say = (f"Backward starts at Err (∂Err/∂Err = 1). Output neuron {i}: δ = ∂Err/∂ŷ · σ'(u)"
               if i == 0 else f"Backward, output neuron {i}: δ = ∂Err/∂ŷ · σ'(u)")
        steps.append({
            "kind": "delta", "say": say,
            "lines": [f"δ[{last},{i}] = ∂Err/∂{hat} × σ'(u[{last},{i}])",
                      f"        = {_factor(o.grad)} × {_factor(_slope(o, u))} = {fmt(u.grad)}",
                      f"  (∂Err/∂{hat} = {hat}.grad, backward through {record.loss}; {where})"],
            "cur": [nid], "edges": [f"yhat{i}"], "recv": ["err"],
            "set": [[nid + "_d", f"δ {fmt(u.grad)}"]], "show": [nid + "_dc"]})
    return steps


def _hidden_deltas(record: Any) -> List[_Step]:
    """δ_i = σ'(u_i) · Σ_j δ_j·θ_ji, right to left; the sum is o_i.grad, as backward left it."""
    steps = []
    for k in range(len(record.layers) - 2, -1, -1):
        layer, nxt = record.layers[k], record.layers[k + 1]
        act = _activation(layer)
        for i, (u, o) in enumerate(zip(layer.u, layer.o)):
            nid = f"n{k}_{i}"
            pairs = [(nxt.u[j].grad, nxt.theta[j][i].data) for j in range(len(nxt.u))]
            edges = [f"w{k + 1}_{j}_{i}" for j in range(len(nxt.u))]
            slope = _factor(_slope(o, u))
            terms = " + ".join(f"{_factor(d)}·{_factor(w)}" for d, w in pairs)
            steps.append({
                "kind": "delta", "say": f"Backward, hidden layer {k}, neuron {i}: δ = σ'(u) · Σ_j δ_j·θ_ji, "
                                        f"the δ of the neurons it feeds, back along its weights (θ on the "
                                        f"lines; σ' of {act})",
                "lines": [f"δ[{k},{i}] = σ'(u[{k},{i}]) × (" + " + ".join(
                              f"δ[{k + 1},{j}]·θ[{k + 1},{j},{i}]" for j in range(len(pairs))) + ")",
                          f"        = {slope} × ({terms})",
                          f"        = {slope} × {_factor(o.grad)} = {fmt(u.grad)}"],
                "cur": [nid], "edges": edges, "recv": [f"n{k + 1}_{j}" for j in range(len(nxt.u))],
                "set": [[nid + "_d", f"δ {fmt(u.grad)}"],
                        *([e + "_l", fmt(w)] for e, (_, w) in zip(edges, pairs))],
                "show": [nid + "_dc"]})
    return steps


def _gradients(record: Any) -> List[_Step]:
    """∂Err/∂θ_iℓ = δ_i·o_ℓ on each neuron's incoming weights, and ∂Err/∂b_i = δ_i."""
    steps = []
    for k, layer in enumerate(record.layers):
        names, ids, values = _sources(record, k)
        for i, (u, b, row) in enumerate(zip(layer.u, layer.b, layer.theta)):
            nid, edges = f"n{k}_{i}", [f"w{k}_{i}_{ell}" for ell in range(len(row))]
            lines = [f"∂Err/∂θ[{k},{i},{ell}] = δ[{k},{i}]·{n} = {_factor(u.grad)} × {_factor(v.data)} = "
                     f"{fmt(t.grad)}" for ell, (n, v, t) in enumerate(zip(names, values, row))]
            lines.append(f"∂Err/∂b[{k},{i}] = δ[{k},{i}] = {fmt(b.grad)}")
            steps.append({
                "kind": "grad", "say": f"Gradients of neuron {i} of layer {k}: ∂Err/∂θ_iℓ = δ_i·o_ℓ on its "
                                       f"weights (on the lines), ∂Err/∂b_i = δ_i",
                "lines": lines, "cur": [nid], "edges": edges, "recv": ids,
                "set": [[e + "_l", fmt(t.grad)] for e, t in zip(edges, row)]})
    return steps


def _sgd_step(work: Any, record: Any, x: Any, y: Any, loss: Any, lr: float) -> _Step:
    """θ ← θ − η·∂Err/∂θ (and b) on the copy, then its trace again for the new Err.

    Runs after every other step is written: it changes the copy's θ and b in place.
    """
    before = {id(p): (p.data, p.grad) for p in _parameters(record)}
    lines, sets, edges = [], [], []
    for k, layer in enumerate(record.layers):
        for i, (row, b) in enumerate(zip(layer.theta, layer.b)):
            for ell, t in enumerate(row):
                old, g = before[id(t)]
                new = fmt(old - lr * g)
                lines.append(f"θ[{k},{i},{ell}] ← {fmt(old)} − {fmt(lr)} × {_factor(g)} = {new}")
                sets.append([f"w{k}_{i}_{ell}_l", new])
                edges.append(f"w{k}_{i}_{ell}")
            old, g = before[id(b)]
            lines.append(f"b[{k},{i}] ← {fmt(old)} − {fmt(lr)} × {_factor(g)} = {fmt(old - lr * g)}")
            sets.append([f"n{k}_{i}_b", f"b {fmt(old - lr * g)}"])
    for p in _parameters(record):
        p.data = p.data - lr * p.grad  # as nn.SGD.step does
    err, new = record.err.data, work.trace(x, y, loss).err.data
    change = "the same" if new == err else f"{'down' if new < err else 'up'} by {fmt(abs(new - err))}"
    lines[:0] = [f"Err after the step: {fmt(new)}  (before: {fmt(err)}; {change})"]
    neurons = [f"n{k}_{i}" for k, layer in enumerate(record.layers) for i in range(len(layer.u))]
    return {"kind": "sgd", "say": f"SGD step, η = {fmt(lr)}: every θ ← θ − η·∂Err/∂θ and b ← b − η·∂Err/∂b; "
                                  f"then forward again on the same sample: Err {fmt(err)} → {fmt(new)}",
            "lines": lines, "cur": ["err"], "recv": neurons,
            "edges": edges if len(edges) <= MAX_LIT_EDGES else [],
            "set": [["err_e", f"Err {fmt(new)}"], *sets]}


def network_page_data(work: Any, record: Any, x: Any, y: Any, loss: Any, lr: float) -> Dict[str, Any]:
    """Every step of the page for ``record`` (the trace of ``work``, a copy: the SGD step
    changes its parameters), the clickable elements' names and the SGD step's index."""
    sizes = "-".join(str(n) for n in [len(record.inputs)] + [len(layer.u) for layer in record.layers])
    start = {"kind": "start", "say": f"A {sizes} network on one sample, Err = {record.loss}. Press Next step "
                                     "to run it forward neuron by neuron, then backward: δ at the output, "
                                     "δ in the hidden layers, ∂Err/∂θ on the weights."}
    end = {"kind": "end", "cur": ["err"],
           "say": "Done: every δ shown is u.grad and every ∂Err/∂θ is θ.grad, as backward() computed them. "
                  "Press SGD step (or Next step) to update the weights and see the new Err."}
    steps = [start, *_forward(record), _err_step(record), *_output_deltas(record), *_hidden_deltas(record),
             *_gradients(record), end]
    steps.append(_sgd_step(work, record, x, y, loss, lr))
    picks = {"err": "Err"}
    for k, layer in enumerate(record.layers):
        picks.update({f"n{k}_{i}": f"neuron {i} of layer {k}" for i in range(len(layer.u))})
    return {"version": FORMAT_VERSION, "mode": "network", "steps": steps, "picks": picks,
            "sgd": len(steps) - 1, "nodes": []}


def _name_groups(svg: str) -> str:
    """Graphviz's groups renamed by the diagram's node names (its titles): ``n1_0``, ``err``,
    weights ``w{k}_{i}_{ℓ}`` and output lines ``yhat{i}``; tooltips dropped (the panel says more)."""
    def rename(m: re.Match[str]) -> str:
        kind, title = m.group(1), _markup.unescape(m.group(2))
        if kind == "node":
            return f'<g id="{_markup.escape(title)}" class="node">' if title != "legend" else m.group(0)
        tail, head = (end.split(":")[0] for end in title.split("->"))
        if head == "err":
            return f'<g id="yhat{tail.split("_")[1]}" class="edge">'
        k, i = head[1:].split("_")
        return f'<g id="w{k}_{i}_{tail[1:].split("_")[-1]}" class="edge">'
    return _GROUP_TITLE.sub(rename, _TOOLTIP.sub(r"\1", svg))


def _tag_texts(svg: str) -> str:
    """Ids on each neuron's u, o, b and δ texts (``n1_0_u``) and Err's (``err_e``), which
    start as ``u ?``; the δ cell's colour (``n1_0_dc``) starts faded."""
    def tag(m: re.Match[str]) -> str:
        name, body = m.group(1), m.group(3)
        for t in _TEXT.finditer(m.group(3)):
            content = _markup.unescape(t.group(2))
            prefix = next((p for p in _TEXT_PREFIX if content.startswith(p)), None)
            if prefix is None:
                continue
            suffix, start = _TEXT_PREFIX[prefix]
            text = _markup.escape(start if start is not None else content, quote=False)
            body = body.replace(t.group(0), f'<text id="{name}{suffix}" {t.group(1)}>{text}</text>', 1)
        body = re.sub(r'<rect ([^>]*/>\s*<text id="[^"]*_d")', rf'<rect id="{name}_dc" class="dg-pending" \1',
                      body, count=1)
        return f'<g id="{name}" class="node{m.group(2) or ""}">{body}</g>'
    return _NEURON.sub(tag, svg)


def _labels(svg: str) -> str:
    """An empty text at the middle of each weight's line (``w1_0_2_l``): the steps write θ,
    ∂Err/∂θ or the new θ there, and the page shows it while the line is lit."""
    def add(m: re.Match[str]) -> str:
        xy = [float(v) for v in _NUMBER.findall(m.group(3))]
        x, y = (xy[0] + xy[-2]) / 2, (xy[1] + xy[-1]) / 2
        return (f'{m.group(1)}\n<text id="{m.group(2)}_l" class="dg-label" x="{x:.0f}" y="{y + 3:.0f}" '
                f'text-anchor="middle"></text>')
    return _EDGE_PATH.sub(add, svg)


def _zoom(svg: str) -> str:
    """A small diagram drawn larger (up to 1.5×) so that it fills a laptop's graph pane, about
    940 px wide; the legend's hint to point at lines goes (the page shows their numbers)."""
    m = _SIZE.search(svg)
    if m:
        width, height = float(m.group(1)), float(m.group(2))
        zoom = max(1.0, min(1.5, 940 / (width * 4 / 3)))
        svg = svg.replace(m.group(0), f'<svg width="{width * zoom:.0f}pt" height="{height * zoom:.0f}pt"', 1)
    return _POINT_AT.sub("", svg)


def _check_options(x: Any, y: Any, lr: object, max_nodes: object) -> Tuple[float, int]:
    """The learning rate and max_nodes, checked; x and y must be given."""
    if x is None or y is None:
        raise TypeError("viz.html: a model's page needs one sample, x= and y= (the page steps "
                        "through Err's backward pass), e.g. viz.html(model, x=[0.5, -0.2], y=1.0)")
    return (real(lr, "viz.html: lr (the learning rate η of the SGD step)", 0.0),
            integer(max_nodes, "viz.html: max_nodes", 1))


def network_html(model: Any, x: Any, y: Any, loss: Any, *, lr: float, max_nodes: int,
                 max_neurons: Optional[int], title: Optional[str]) -> str:
    """The network-mode page of ``model`` on the sample (x, y) (see ``viz.html``)."""
    rate, max_nodes = _check_options(x, y, lr, max_nodes)
    work, record = _trace_copy(model, x, y, loss)
    values = len(topological_order(record.err))
    if values > max_nodes:
        raise GraphTooLargeError(
            f"viz.html: this network's graph has {values:,} values, more than max_nodes={max_nodes:,}; "
            f"pass max_nodes={values}, or draw it with viz.network(model, x, y)", values, max_nodes)
    drawing = trace_drawing(record, max_neurons)  # drawn before the SGD step changes the copy
    svg = _name_groups(run(drawing.source, "svg", drawing.engine).decode("utf-8"))
    svg = _zoom(_labels(_tag_texts(compact(svg))))
    data = network_page_data(work, record, x, y, loss, rate)
    present = set(re.findall(r' id="([^"]+)"', svg))
    for step in data["steps"]:
        if "set" in step:
            step["set"] = [s for s in step["set"] if s[0] in present]
    svg = fade(svg, {i for step in data["steps"] for i in step.get("show", ()) if not i.endswith("_dc")})
    sizes = "-".join(str(n) for n in [len(record.inputs)] + [len(layer.u) for layer in record.layers])
    heading = title if title is not None else f"Backprop step by step: a {sizes} network, Err = {record.loss}"
    return document(heading, svg, data, NETWORK_TEXTS)
