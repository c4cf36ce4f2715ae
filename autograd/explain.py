"""``explain``: the chain rule that ``backward`` just applied, written out with the numbers.

For every node, newest first, its gradient is the sum over the nodes that use it of
``consumer.grad × ∂consumer/∂node``.  Each term is one line, so a value used twice
(``a + a``, ``a * a``, a weight feeding two neurons) visibly collects two terms.  The
derivative rules printed next to the terms, and the way each op is written, are the op
table's own (``Op.rules``, ``Op.write``).
"""

from __future__ import annotations

import math
import sys
from typing import Dict, List, Optional, TextIO, Tuple

from .format import detailed as _num
from .format import detailed_factor as _factor
from .graph import topological_order
from .ops import OPS
from .validate import integer
from .value import Value

__all__ = ["explain", "node_names", "consumers", "node_lines", "local_rule"]


def node_names(root: Value, order: Optional[List[Value]] = None) -> Dict[Value, str]:
    """The name each node of ``root``'s graph goes by in ``explain``, ``viz`` and the
    interactive page: its label, else ``n<i>``, its index in ``topological_order(root)``
    (deterministic: the same graph always gives the same names).  ``order``, when given,
    must be that order (it saves a walk)."""
    if order is None:
        order = topological_order(root)
    return {v: (v.label or f"n{i}") for i, v in enumerate(order)}


def _expression(node: Value, ps: List[str]) -> str:
    """How ``node`` was computed from its parents ``ps`` (names or numbers), as its op's row writes it."""
    return OPS[node.op].write(ps, _num(node.arg) if node.arg is not None else "k")


def local_rule(consumer: Value, position: int) -> str:
    """The consumer's op-table rule for ∂consumer/∂(its operand at position), after the op's symbol."""
    op = OPS[consumer.op]
    return f"{op.symbol}: {op.rule_of(position, len(consumer.parents))}"


def _check(root: Value) -> None:
    if root.__class__ is not Value:
        raise TypeError(f"explain() needs a Value, got {type(root).__name__}")
    name = repr(root.label) if root.label else "this value"
    if root.is_leaf:
        raise ValueError(
            f"explain: {name} has no recorded operation, so there is no chain rule to show. "
            "It is either a number you made (an input or parameter) or it was computed under "
            "no_grad(), which records no graph; compute it outside no_grad() and call backward().")
    if root.grad == 0.0:
        raise ValueError(
            f"explain: the gradient of {name} is 0, so nothing has been propagated yet; "
            "call .backward() on it first.")


def consumers(order: List[Value]) -> Dict[Value, List[Tuple[Value, int]]]:
    """For each node of ``order``, the (consumer, operand position) pairs that use it,
    newest consumer first: backward's own accumulation order, so sums match exactly."""
    uses: Dict[Value, List[Tuple[Value, int]]] = {v: [] for v in order}
    for node in reversed(order):
        for pos, p in enumerate(node.parents):
            uses[p].append((node, pos))
    return uses


def node_lines(node: Value, names: Dict[Value, str], start: bool,
               uses: List[Tuple[Value, int]]) -> List[str]:
    """explain's entry for one node: how it was computed, then its grad as Σ of
    ``consumer.grad × ∂consumer/∂node``, one line per term (``start``: the root)."""
    name = names[node]
    if node.op not in OPS:  # a leaf: "" (made by the user) or "const" (a wrapped number)
        kind = "constant" if node.op == "const" else "leaf"
        head = f"{name} = {_num(node.data)}  ({kind})"
    else:
        head = f"{name} = {_expression(node, [names[p] for p in node.parents])}"
        if len(node.parents) <= 4 * 2 + 1:
            head += " = " + _expression(node, [_factor(p.data) for p in node.parents])
        head += f" = {_num(node.data)}"
    lines = [head]
    if start:
        lines.append(f"    {name}.grad = {_num(node.grad)}  (where backward starts: ∂{name}/∂{name})")
        return lines
    total = 0.0
    shown = []
    for consumer, pos in uses:
        c = names[consumer]
        local = consumer.local_grads[pos]
        # As in backward, a consumer whose grad is exactly 0 passes nothing on (even ×inf).
        term = consumer.grad * local if consumer.grad else 0.0
        total += term
        shown.append(term)
        left = f"{c}.grad × ∂{c}/∂{name} = {_num(consumer.grad)} × {_factor(local)} = {_num(term)}"
        if not consumer.grad and not math.isfinite(local):
            left += " (a zero grad passes nothing on)"
        lines.append(f"    {left:<48}  [{local_rule(consumer, pos)}]")
    summed = " + ".join(_num(t) for t in shown) + " = " if len(shown) > 1 else ""
    lines.append(f"    {name}.grad = {summed}{_num(total)}")
    same = total == node.grad or (math.isnan(total) and math.isnan(node.grad))
    if not same:
        lines.append(f"    (but {name}.grad holds {_num(node.grad)}: it also collected gradient from "
                     "uses outside this graph or from earlier backward calls)")
    return lines


def explain(root: Value, limit: Optional[int] = 40, file: Optional[TextIO] = None) -> None:
    """Print, after ``root.backward()``, how the chain rule gave every node its gradient.

    Nodes come newest first (reverse topological order), each with its gradient written
    as Σ over its consumers of ``consumer.grad × ∂consumer/∂node``, one line per term,
    with numbers and the op table's rule.  Unlabelled nodes are called ``n<i>``, their
    index in ``topological_order(root)``.  At most ``limit`` nodes are shown (``None``:
    all), then a ``... N more nodes`` line.  Output goes to ``file`` (default stdout).
    """
    _check(root)
    integer(limit, "explain: limit", 1, optional=True)
    order = topological_order(root)
    names = node_names(root, order)
    uses = consumers(order)
    newest_first = order[::-1]
    shown = newest_first if limit is None else newest_first[:limit]
    rname = names[root]
    out = [f"Chain rule from {rname} = {_num(root.data)} back to its inputs "
           f"({len(order)} nodes, newest first).",
           "Each node's grad = Σ over the nodes that use it of consumer.grad × ∂consumer/∂node.",
           ""]
    for node in shown:
        out.extend(node_lines(node, names, node is root, uses[node]))
    hidden = len(order) - len(shown)
    if hidden:
        out.append(f"... {hidden} more node{'s' if hidden != 1 else ''} "
                   f"(pass limit={len(order)} or limit=None to see all)")
    print("\n".join(out), file=sys.stdout if file is None else file)


#: ``v.explain(limit=40, file=None)``: the same function, as a method of every Value.
# (declared in Value's TYPE_CHECKING block, where ``root`` is ``self``)
Value.explain = explain  # type: ignore[method-assign,assignment]
