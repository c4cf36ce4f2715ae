"""Walking the graph: topological order, backward (the chain rule), zero_grad.

All traversal is iterative, so a chain of a million nodes needs no recursion.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, List, Union

from . import modes as _modes
from .value import Value

__all__ = ["topological_order", "backward", "zero_grad"]


def topological_order(root: Value) -> List[Value]:
    """Every node reachable from ``root``, each after all of its parents (root last).

    Parents are visited in order, so the result is the same on every run.
    """
    if root.__class__ is not Value:
        raise TypeError(f"expected a Value, got {type(root).__name__}")
    order: List[Value] = []
    seen = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p not in seen:
                seen.add(p)
                stack.append((p, iter(p._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _computed_nodes(root: Value) -> tuple:
    """The nodes with parents, in topological order, and the gradients they held before.

    Only computed nodes pass gradient on, so only they need care: each one's ``grad`` is
    set to 0 on the way, its old value remembered, so that backward propagates this
    call's gradient alone and then adds the old ones back.  Leaves (parameters, inputs)
    only ever receive, so they are not even tracked: they simply accumulate.
    """
    order: List[Value] = []
    carried = []
    if not root._prev:
        return order, carried
    seen = {root}
    if root.grad:
        carried.append((root, root.grad))
        root.grad = 0.0
    stack = [(root, iter(root._prev))]
    push, pop, append, add = stack.append, stack.pop, order.append, seen.add
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p._prev and p not in seen:
                add(p)
                if p.grad:
                    carried.append((p, p.grad))
                    p.grad = 0.0
                push((p, iter(p._prev)))
                break
        else:
            pop()
            append(node)
    return order, carried


def backward(root: Value, grad: Union[int, float] = 1.0) -> None:
    """Apply the chain rule from ``root``: for each node, newest first,
    ``parent.grad += ∂node/∂parent · node.grad``.  Gradients accumulate across calls.

    A node whose gradient is exactly 0 (a dead ReLU's, say) passes nothing on: its
    parents' contributions are 0·(local derivative), which is 0 wherever the local
    derivative is finite, and skipping them saves most of the work behind inactive units.
    """
    if root.__class__ is not Value:
        raise TypeError(f"backward() needs a Value, got {type(root).__name__}")
    if grad.__class__ is not float:
        if grad.__class__ is bool or not isinstance(grad, numbers.Real):
            raise TypeError(f"backward(grad=...) needs a real number, got {type(grad).__name__}")
        grad = float(grad)
    # The walk allocates a little per node and frees nothing cyclic; on deep graphs the
    # cyclic collector would rescan the whole (surviving) graph again and again, so it is
    # paused for the duration (2-3x faster on a million-node chain) and restored after.
    with _modes.paused_gc():
        order, carried = _computed_nodes(root)
        if not order:  # a leaf: it only receives
            root.grad += grad
            return
        root.grad = grad
        try:
            if _modes.active and _modes.is_anomaly_enabled():
                _backward_checked(order)
            else:
                for node in reversed(order):
                    g = node.grad
                    if g:
                        for p, d in zip(node._prev, node._local):
                            p.grad += d * g
        finally:  # also when detect_anomaly stops the walk: earlier gradients come back
            for node, old in carried:
                node.grad += old


def _backward_checked(order: List[Value]) -> None:
    """The same loop, stopping at the first non-finite gradient (under detect_anomaly)."""
    isfinite = math.isfinite
    for node in reversed(order):
        g = node.grad
        if not g:
            continue
        for i, (p, d) in enumerate(zip(node._prev, node._local)):
            p.grad += d * g
            if not isfinite(p.grad):
                name = f" {node.label!r}" if node.label else ""
                raise FloatingPointError(
                    f"detect_anomaly: backward through {node._op} node{name} "
                    f"(data={node.data!r}, grad={g!r}) gave operand {i} "
                    f"(data={p.data!r}) the gradient {p.grad!r} "
                    f"(local derivative {d!r})")


def zero_grad(values: Union[Value, Iterable[Value]]) -> None:
    """Set ``grad`` to 0: on every node of a graph (pass its root Value), or on
    exactly the Values in an iterable (such as ``model.parameters()``)."""
    if values.__class__ is Value:
        for node in topological_order(values):
            node.grad = 0.0
        return
    for i, v in enumerate(values):
        if v.__class__ is not Value:
            raise TypeError(f"zero_grad: item {i} is a {type(v).__name__}, not a Value")
        v.grad = 0.0
