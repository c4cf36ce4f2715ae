"""``viz.html``: one self-contained page that steps through forward and backward of a graph.

Python does all the arithmetic once, from the engine's own numbers (``data``,
``local_grads``, the order ``backward`` walks), and writes it as a list of steps: which
elements of the drawing to highlight, which texts to change, what to say.  The page's
script only plays that list back, so the page cannot disagree with ``backward()``.
The drawing is ``viz.to_dot``'s, whose nodes and edges carry stable ids (``n3``,
``n3op``, ``n3-in0``, ``n3-out``); names in the text are ``explain``'s (label or ``n<i>``).

Step format (``page_data(...)["steps"]``, version 1): each step is a dict with ``kind``
(start, forward, seed, backward, end), ``say`` (one sentence, also read aloud),
optional ``lines`` (the equations), ``cur``/``edges``/``recv`` (ids highlighted while the
step is shown), ``set`` (``[id, text]`` pairs that stay set until stepped back) and
``show`` (ids that stop being faded).  Network mode (``viz.html(model, x, y)``, in
``html_network``) adds its own kinds (err, delta, grad, sgd) over the network diagram's ids.
"""

from __future__ import annotations

import html as _markup
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from autograd import Value, topological_order
from autograd.explain import consumers, local_rule, node_lines, node_names
from autograd.format import fmt
from autograd.validate import integer, is_integer

from .dot import GraphTooLargeError, to_dot
from .page_parts import FORMAT_VERSION, _Step, compact, document, fade, script_json
from .render import run

__all__ = ["html", "page_data", "script_json", "Interactive", "interactive", "FORMAT_VERSION"]


def _check(root: object, max_nodes: object) -> List[Value]:
    """The graph's values in topological order, after checking that a page can be made."""
    if root.__class__ is not Value:
        raise TypeError(f"viz.html: expected an autograd Value, got {type(root).__name__} (or a "
                        "model with a trace(x, y, loss) method, such as nn.MLP, with x= and y=)")
    max_nodes = integer(max_nodes, "viz.html: max_nodes", 1)
    name = repr(root.label) if root.label else "this value"
    if root.is_leaf:
        raise ValueError(f"viz.html: {name} has no recorded operation, so there is no backward "
                         "pass to step through; pass the result of a computation (a loss, say)")
    if root.grad == 0.0:  # the drawing sizes each grad cell for the number backward left there
        raise ValueError(f"viz.html: the gradient of {name} is 0, so backward has not run; "
                         "call .backward() on it first")
    order = topological_order(root)
    if len(order) > max_nodes:
        raise GraphTooLargeError(
            f"viz.html: this graph has {len(order):,} values, more than max_nodes={max_nodes:,}; "
            f"pass max_nodes={len(order)} (the page grows by about 1.5 KB per value), or draw "
            f"the part near one value with depth=, e.g. viz.svg(value, depth=3)", len(order), max_nodes)
    return order


_TEXT = re.compile(r"<text ([^>]*)>([^<]*)</text>")
_NODE = re.compile(r'<g id="(n\d+)" class="node">(.*?)</g>', re.S)


def _tag_cells(node: re.Match[str], cells: Dict[str, str]) -> str:
    """A value's node group with ids on its data text (``n3_d``) and grad text (``n3_g``),
    which start as ``data ?`` and ``grad 0``, the state before the forward pass."""
    name, body = node.group(1), node.group(2)
    texts = list(_TEXT.finditer(body))
    data = [t for t in texts if t.group(2).startswith("data ")]
    grad = [t for t in texts if t.group(2).startswith(("grad ", "δ"))]
    for match, suffix, start in ((data[:1], "d", "?"), (grad[-1:], "g", "0")):
        for t in match:
            content = _markup.unescape(t.group(2))
            cells[f"{name}_{suffix}"] = prefix = content[:content.rfind(" ") + 1]
            body = body.replace(t.group(0), f'<text id="{name}_{suffix}" {t.group(1)}>'
                                f'{_markup.escape(prefix, quote=False)}{start}</text>', 1)
    return f'<g id="{name}" class="node">{body}</g>'


def _page_svg(svg: str) -> Tuple[str, Dict[str, str]]:
    """Graphviz's SVG made small for inlining (``compact``), with each value's data/grad
    text given an id.  Returns the SVG and, per tagged text id, the words before its
    number (``grad ``)."""
    svg = compact(svg)
    cells: Dict[str, str] = {}
    svg = _NODE.sub(lambda m: _tag_cells(m, cells), svg)
    return svg, cells


def _forward(order: List[Value], ids: Dict[Value, str], names: Dict[Value, str],
             cells: Dict[str, str]) -> List[_Step]:
    """Forward steps: each value's data, in topological order (constants are drawn as
    their number from the start).  The page says the value's ``head``, explain's line."""
    steps = []
    for v in order:
        if v.op == "const":
            continue
        i = ids[v]
        show = [i] + ([i + "op", i + "_out"] + [f"{i}_in{k}" for k in range(len(v.parents))]
                      if v.parents else [])
        step = {"kind": "forward", "node": int(i[1:]), "cur": [i], "show": show}
        if i + "_d" in cells:
            step["set"] = [[i + "_d", cells[i + "_d"] + fmt(v.data)]]
        steps.append(step)
    return steps


def _backward_step(node: Value, grads: Dict[Value, float], ids: Dict[Value, str],
                   names: Dict[Value, str], cells: Dict[str, str], uses: Dict[Value, List[Tuple[Value, int]]],
                   seen: Dict[Value, int], rules: Dict[str, int]) -> _Step:
    """One node's backward step: ``parent.grad += ∂node/∂parent × node.grad`` per input.

    ``terms`` holds, per input, [parent index, ∂node/∂parent, the term, the parent's grad
    before and after] as text, the index of explain's rule for ∂node/∂parent in ``rules``,
    and for a parent used more than once [which use, how many].  Clicking a value shows
    the terms where it is the parent: explain's chain-rule sum.
    """
    i, n, g = ids[node], names[node], grads[node]
    terms, sets = [], []
    for pos, (p, d) in enumerate(zip(node.parents, node.local_grads)):
        before = grads[p]
        term = d * g if g else 0.0  # as in backward: a zero grad passes nothing on (not even 0 × inf)
        if g:
            grads[p] = before + term
        seen[p] += 1
        count = len(uses[p])
        rule = rules.setdefault(local_rule(node, pos), len(rules))
        terms.append([int(ids[p][1:]), fmt(d), fmt(term), fmt(before), fmt(grads[p]), rule]
                     + ([seen[p], count] if count > 1 else []))
        if ids[p] + "_g" in cells:
            sets.append([ids[p] + "_g", cells[ids[p] + "_g"] + fmt(grads[p])])
    if g:
        say = f"Backward at {n} (grad {fmt(g)}): each input gets ∂{n}/∂input × {n}.grad"
    else:
        say = f"Backward at {n}: its grad is 0, so it passes nothing on"
    step = {"kind": "backward", "say": say, "node": int(i[1:]), "grad": fmt(g), "terms": terms,
            "cur": [i, i + "op"], "edges": [f"{i}_in{k}" for k in range(len(node.parents))] + [i + "_out"],
            "recv": list(dict.fromkeys(ids[p] for p in node.parents))}
    if sets:
        step["set"] = sets
    return step


def _backward(order: List[Value], root: Value, ids: Dict[Value, str], names: Dict[Value, str],
              cells: Dict[str, str], uses: Dict[Value, List[Tuple[Value, int]]],
              rules: Dict[str, int]) -> Tuple[List[_Step], Dict[Value, float]]:
    """The seed step (``root.grad = 1``), then one step per computed node in reverse
    topological order (the order backward accumulates in, so every sum is bit-for-bit
    that of one ``backward()`` from zero gradients)."""
    grads = {v: 0.0 for v in order}
    grads[root] = 1.0
    r, rn = ids[root], names[root]
    seed = {"kind": "seed", "say": f"Backward starts at {rn}: {rn}.grad = 1 (∂{rn}/∂{rn} = 1)",
            "node": int(r[1:]), "grad": "1", "cur": [r], "recv": [r]}
    if r + "_g" in cells:
        seed["set"] = [[r + "_g", cells[r + "_g"] + "1"]]
    steps = [seed]
    seen = {v: 0 for v in order}
    for node in reversed(order):
        if node.parents:
            steps.append(_backward_step(node, grads, ids, names, cells, uses, seen, rules))
    return steps, grads


def page_data(root: Value, cells: Dict[str, str], max_nodes: int = 1000) -> Dict[str, Any]:
    """Everything the page plays back: the steps, explain's rule texts and, per value
    (index i, element id ``n<i>``), explain's name for it and explain's line saying how
    it was computed (``head``).

    ``cells`` maps the drawing's data/grad text ids (``n3_d``, ``n3_g``) to the words
    before their number; steps only change texts that exist.
    """
    order = _check(root, max_nodes)
    names = node_names(root, order)
    ids = {v: f"n{k}" for k, v in enumerate(order)}
    uses = consumers(order)
    rules: Dict[str, int] = {}
    backward, grads = _backward(order, root, ids, names, cells, uses, rules)
    rn = names[root]
    start = {"kind": "start", "say": f"The graph of {rn}: {len(order)} values. Press Next step "
                                     "to compute them (forward), then their gradients (backward)."}
    differ = sum(1 for v in order if grads[v] != v.grad and not (math.isnan(grads[v]) and math.isnan(v.grad)))
    end = (f"Done: every grad shown is ∂{rn}/∂value, as backward() computed it. "
           "Click a value to see its gradient as a chain-rule sum.")
    if differ:
        end += (f" ({differ} value{'s' if differ != 1 else ''} hold a different .grad in Python: "
                "they also collected gradient from earlier backward() calls or other graphs.)")
    return {
        "version": FORMAT_VERSION, "mode": "expression", "root": ids[root],
        "steps": [start, *_forward(order, ids, names, cells), *backward,
                  {"kind": "end", "say": end, "cur": [ids[root]]}],
        "rules": list(rules),
        # explain's first line for v (start=True: no terms needed for it)
        "nodes": [{"name": names[v], "head": node_lines(v, names, True, [])[0]} for v in order],
    }


#: The page's words for expression mode (``document`` fills the template with them).
EXPRESSION_TEXTS = {
    "GRAPH_LABEL": "Computation graph: click a value to see its chain rule",
    "PICK_HEAD": "Chain rule for a value",
    "PICK_HINT": "Click a value in the graph (or focus it and press Enter): its gradient is the sum, "
                 "over the nodes that use it, of consumer.grad × ∂consumer/∂value.",
    "KEY": [("cur", "current step's node (thick outline)"),
            ("edge", "edge in use (thick arrow): the local derivative ∂ on it is multiplied in"),
            ("recv", "inputs receiving gradient (dashed outline)"),
            ("pick", "clicked value and its consumers (dotted outline)"),
            ("pending", "not computed yet (faded, data ?)")],
    "BUTTONS": "",
}


def html(graph: object, x: object = None, y: object = None, loss: object = "mse", *, lr: float = 0.1,
         max_nodes: int = 1000, max_neurons: Optional[int] = 16, rankdir: str = "LR",
         show_rules: bool = True, title: Optional[str] = None) -> str:
    """A self-contained HTML page that steps through a forward and backward pass.

    ``graph`` is a ``Value`` (after ``.backward()``): the page replays its op-level graph
    node by node, from zero gradients (values whose ``.grad`` differs, say after two
    ``backward()`` calls, are counted at the end), on the ``viz.to_dot`` drawing
    (``rankdir``, ``show_rules``); clicking a value shows its gradient as ``explain``
    writes it.  Or ``graph`` is a model with ``trace(x, y, loss)`` (see ``viz.network``)
    and ``x``, ``y`` one sample: the page replays it neuron by neuron on the network
    diagram (``max_neurons`` per layer drawn): u and o, Err, δ at the output and in the
    hidden layers, ∂Err/∂θ = δ·o, then an SGD step with learning rate ``lr`` and the new
    Err.  The model is never changed (the page works on a copy).

    Inline SVG, CSS and a small script, no network: Previous/Next/Play/Reset buttons and
    the arrow keys.  Graphs of more than ``max_nodes`` values raise ``GraphTooLargeError``.
    Same graph, same bytes.
    """
    if graph.__class__ is not Value and callable(getattr(graph, "trace", None)):
        if rankdir != "LR" or show_rules is not True:
            raise TypeError("viz.html: rankdir and show_rules are for a Value's op-level page; "
                            "a model's page is its network diagram")
        from .html_network import network_html

        return network_html(graph, x, y, loss, lr=lr, max_nodes=max_nodes, max_neurons=max_neurons,
                            title=title)
    given = [name for name, value, default in (("x", x, None), ("y", y, None), ("loss", loss, "mse"),
                                               ("lr", lr, 0.1), ("max_neurons", max_neurons, 16))
             if value is not default and value != default]
    if given and graph.__class__ is Value:
        raise TypeError(f"viz.html: {', '.join(given)} {'is' if len(given) == 1 else 'are'} for a "
                        "model's page (viz.html(model, x, y)); a Value's page replays its own graph")
    _check(graph, max_nodes)
    root: Value = graph  # type: ignore[assignment]
    drawing = to_dot(root, rankdir=rankdir, show_rules=show_rules, health=False, max_nodes=max_nodes)
    svg, cells = _page_svg(run(drawing.source, "svg").decode("utf-8"))
    data = page_data(root, cells, max_nodes)
    svg = fade(svg, {i for step in data["steps"] for i in step.get("show", ())})
    name = data["nodes"][int(data["root"][1:])]["name"]
    heading = title if title is not None else f"Backprop step by step: {name}"
    return document(heading, svg, data, EXPRESSION_TEXTS)


class Interactive:
    """The page for a notebook: ``_repr_html_`` puts it in a sandboxed iframe (``srcdoc``),
    so its script and styles cannot clash with the notebook's.  ``page`` is the HTML."""

    def __init__(self, page: str, height: int = 640) -> None:
        self.page = page
        self.height = height

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{_markup.escape(self.page, quote=True)}" sandbox="allow-scripts" '
                f'title="deltagrad: backprop step by step" '
                f'style="width: 100%; height: {self.height}px; border: 1px solid #cbd5e1"></iframe>')


def interactive(graph: object, *args: object, height: int = 640, **options: object) -> Interactive:
    """``viz.html(graph, *args, **options)`` wrapped for display in Jupyter (an iframe of
    ``height`` px): a Value's page, or a model's with ``x``, ``y`` (and ``loss``, ``lr``)."""
    if not is_integer(height):
        raise TypeError(f"viz.interactive: height must be an int (pixels), got {type(height).__name__}: "
                        f"{height!r:.80}")
    if height < 100:  # worded by hand: the unit matters here
        raise ValueError(f"viz.interactive: height must be an int >= 100 (pixels), got {height!r}")
    return Interactive(html(graph, *args, **options), height)  # type: ignore[arg-type]  # options are html()'s keywords
