"""Walking the graph: ``walk`` (the one traversal), topological order, backward, zero_grad.

Every walk over a graph in deltagrad (here, in ``compile``, in ``viz``) is ``walk``, with
its own ``parents``; backward's search is the one specialised copy (see ``_search``), and
under an open ``tape`` backward needs no search at all: it walks the nodes as recorded.
"""

from __future__ import annotations

import math
import threading
from operator import attrgetter
from typing import Callable, Iterable, List, Optional, Set, Tuple, Union

from . import modes as _modes
from .validate import real
from .value import _SCOPE, Value

__all__ = ["walk", "topological_order", "backward", "zero_grad", "tape"]

_parents = attrgetter("parents")  # a node's operands, as a tuple


def walk(roots: Iterable[Value], parents: Callable[[Value], Iterable[Value]] = _parents,
         seen: Optional[Set[Value]] = None) -> List[Value]:
    """The graph walk: every node reachable from ``roots``, each after all of its parents.

    ``parents(node)`` gives the nodes to go on to (by default its operands, in order; a
    function that returns ``()`` stops the walk there).  Depth first and iterative, so a
    chain of a million nodes needs no recursion; the result is the same on every run.
    Nodes already in ``seen`` are skipped, and every node visited is added to it, so
    several walks can share one set.
    """
    order: List[Value] = []
    if seen is None:
        seen = set()
    add, append = seen.add, order.append
    for root in roots:
        if root in seen:
            continue
        add(root)
        stack = [(root, iter(parents(root)))]
        push, pop = stack.append, stack.pop
        while stack:
            node, todo = stack[-1]
            for p in todo:
                if p not in seen:
                    add(p)
                    push((p, iter(parents(p))))
                    break
            else:
                pop()
                append(node)
    return order


def topological_order(root: Value,
                      parents: Optional[Callable[[Value], Iterable[Value]]] = None) -> List[Value]:
    """Every node reachable from ``root``, each after all of its parents (root last).

    Parents are visited in order, so the result is the same on every run.  ``parents``
    (see ``walk``) can cut the walk short, e.g. ``lambda v: () if v in done else v.parents``.
    """
    if root.__class__ is not Value:
        raise TypeError(f"expected a Value, got {type(root).__name__}")
    return walk((root,), _parents if parents is None else parents)


class tape:
    """While open (in any thread), every computed node is recorded as it is made, so that
    ``backward`` walks them newest first (creation order is a topological order) instead of
    searching the graph: about half the cost of a backward on an MLP's step.

    ``nn.fit``'s eager step opens one per step.  Only open tapes hold nodes: a tape is
    emptied when the last one closes, and each backward takes the nodes up to its root off
    it, so nothing keeps alive a graph its user dropped.  Nodes a tape did not see (made
    before it opened, or taken off by an earlier backward) are still found, by a search from
    where the tape ends, so backward gives the same gradients with or without one.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        global _tape, _tapes_open
        with _tape_lock:
            if not _tapes_open:
                _tape = []
                _SCOPE["_record"] = _tape.append
            _tapes_open += 1

    def __exit__(self, *exc: object) -> None:
        global _tape, _tapes_open
        with _tape_lock:
            _tapes_open -= 1
            if not _tapes_open:
                _SCOPE["_record"] = None
                _tape = None


# No annotation on _tape: PyPy 3.9 refuses one on a name that functions declare global.
_tape = None  # type: Optional[List[Value]]
_tapes_open = 0
_tape_lock = threading.Lock()


def _taped(root: Value) -> List[Value]:
    """The recorded nodes up to ``root`` (root last), taken off the tape; [] if it has none.

    When ``root`` is the newest node (as in a training step) the tape's list itself is
    taken and a fresh one records from then on, instead of copying and clearing it.
    """
    global _tape
    with _tape_lock:
        recorded = _tape
        if not recorded:
            return []
        if recorded[-1] is root:
            _tape = []
            _SCOPE["_record"] = _tape.append
            return recorded
        for pos in range(len(recorded) - 2, -1, -1):
            if recorded[pos] is root:
                order = recorded[:pos + 1]
                del recorded[:pos + 1]
                return order
    return []


def _search(roots: List[Value], stamp: object, carried: List[Tuple[Value, float]]
            ) -> List[Value]:
    """The computed nodes reachable from ``roots`` (already given their gradient), each after
    its parents, by a depth-first search; those not yet reached in this backward (``_mark``
    is not ``stamp``) are marked, their old gradient saved in ``carried`` and set to 0.

    ``walk`` specialised, the one copy kept: on the micrograd demo's graph and a million-node
    chain, ``walk`` plus a pass saving the gradients took 1.35-1.78x and 1.02-1.36x as long.
    """
    order: List[Value] = []
    seen: Set[Value] = set()
    push_order, add = order.append, seen.add
    for root in roots:
        if root in seen:
            continue
        add(root)
        stack = [(root, iter(root.parents))]
        push, pop = stack.append, stack.pop
        while stack:
            node, parents = stack[-1]
            for p in parents:
                prev = p._prev
                if prev is not None and p not in seen:
                    add(p)
                    if p._mark is not stamp:
                        p._mark = stamp
                        if p.grad:
                            carried.append((p, p.grad))
                            p.grad = 0.0
                    push((p, iter(prev if prev.__class__ is tuple else (prev,))))
                    break
            else:
                pop()
                push_order(node)
    return order


def _walk_taped(order: List[Value], stamp: object, carried: List[Tuple[Value, float]]
                ) -> List[Value]:
    """The chain rule over recorded nodes, newest first; returns the nodes off the tape that
    received gradient (made before the tape opened), for ``_search`` to carry on from.

    A node is passed over unless this backward reached it (``_mark is stamp``); the first
    contribution a computed node receives replaces its old gradient (saved in ``carried``),
    later ones add to it; leaves simply accumulate.  Once every computed node reached has
    been walked (``pending`` is 0), no older node can receive anything: the walk stops.
    """
    pending = 1  # computed nodes reached and not yet walked: the root
    for node in reversed(order):
        if node._mark is not stamp:
            continue
        node._mark = None  # done: so what is still marked afterwards was never walked
        g = node.grad
        if g:
            prev = node._prev  # one operand is held as it is, several in a tuple
            for p, d in (zip(prev, node._local) if prev.__class__ is tuple else ((prev, node._local),)):
                if p._mark is stamp:
                    p.grad += d * g
                    continue
                p._mark = stamp
                if p._prev is not None:
                    pending += 1
                    if p.grad:
                        carried.append((p, p.grad))
                    p.grad = 0.0 + d * g  # as 0.0 += d·g would: never -0.0
                else:
                    p.grad += d * g
        pending -= 1
        if not pending:
            return []
    return list(dict.fromkeys(p for node in reversed(order) for p in node.parents
                              if p._prev is not None and p._mark is stamp))


def backward(root: Value, grad: Union[int, float] = 1.0) -> None:
    """Apply the chain rule from ``root``: for each node, newest first,
    ``parent.grad += ∂node/∂parent · node.grad``.  Also a method: ``root.backward()``.

    Gradients accumulate, as in PyTorch: calling it twice doubles them.  Reset with
    ``autograd.zero_grad(root)`` (the whole graph), ``zero_grad(params)`` (just those), or an
    optimiser's ``zero_grad()``.

    A node whose gradient is exactly 0 (a dead ReLU's, say) passes nothing on: its
    parents' contributions are 0·(local derivative), which is 0 wherever the local
    derivative is finite, and skipping them saves most of the work behind inactive units.
    Under an open ``tape`` the nodes come from it; otherwise a search finds them.
    """
    if root.__class__ is not Value:
        raise TypeError(f"backward() needs a Value, got {type(root).__name__}")
    if grad.__class__ is not float:
        grad = real(grad, "backward(grad=...)", finite=False)
    if root._prev is None:  # a leaf: it only receives
        root.grad += grad
        return
    # The walk allocates a little per node and frees nothing cyclic; on deep graphs the
    # cyclic collector would rescan the whole (surviving) graph again and again, so it is
    # paused for the duration (2-3x faster on a million-node chain) and restored after.
    with _modes.paused_gc():
        stamp = object()  # marks the nodes this call has reached
        carried: List[Tuple[Value, float]] = [(root, root.grad)] if root.grad else []
        root.grad = grad
        root._mark = stamp
        try:
            if _modes.active and _modes.is_anomaly_enabled():
                _backward_checked(_search([root], stamp, carried))
                return
            order = _taped(root) if _tape else None
            rest = _walk_taped(order, stamp, carried) if order else [root]
            if rest:
                for node in reversed(_search(rest, stamp, carried)):
                    g = node.grad
                    if g:
                        prev = node._prev
                        if prev.__class__ is tuple:
                            for p, d in zip(prev, node._local):
                                p.grad += d * g
                        else:
                            prev.grad += node._local * g
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
        for i, (p, d) in enumerate(zip(node.parents, node.local_grads)):
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
    for i, v in enumerate(values):  # type: ignore[arg-type]  # not a Value (returned above)
        if v.__class__ is not Value:
            raise TypeError(f"zero_grad: item {i} is a {type(v).__name__}, not a Value")
        v.grad = 0.0


#: ``v.backward(grad=1.0)``: the same function, as a method of every Value.
# (declared in Value's TYPE_CHECKING block, where ``root`` is ``self``)
Value.backward = backward  # type: ignore[method-assign,assignment]
