"""Derivatives as values: ``grad`` (of any order), ``hessian``, ``hvp`` and forward-mode ``jvp``.

``grad(y, xs)`` is backward's chain rule with the gradients kept in a dict, so no ``.grad``
is touched.  With ``create_graph=True`` each node's local derivatives are evaluated again,
from the same op-table expressions, with Values for the operands and the result
(``local_values``): the gradients it returns are then Values whose graph can be
differentiated in turn.  ``jvp`` pushes tangents the other way through the local
derivatives each node already stores.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Set, Tuple, Union

from . import modes as _modes
from . import validate
from .graph import topological_order
from .ops import OPS, VALUE_HELPERS, Op
from .value import Value, dot

__all__ = ["grad", "hessian", "hvp", "jvp", "local_values"]

Number = Union[int, float]
Scalar = Union[Value, float]

_LOCALS: Dict[Tuple[str, int], Callable[..., Tuple[Any, ...]]] = {}


def _local_function(op: Op, count: int) -> Callable[..., Tuple[Any, ...]]:
    """The row's local-derivative expressions as one function of the operands (and out)."""
    key = (op.name, count)
    fn = _LOCALS.get(key)
    if fn is None:
        if op.expand is not None:  # sum, dot: the expansion names each operand p0, p1, ...
            names = [f"p{i}" for i in range(count)]
            locals_ = op.expand(names)[1]
            source = f"lambda {', '.join(names) or '*_'}: ({', '.join(locals_)}{',' if locals_ else ''})"
        else:
            source = f"lambda a, b, k, out: ({', '.join(op.local)},)"
        fn = eval(compile(source, f"<deltagrad derivative of {op.name}>", "eval"), VALUE_HELPERS)
        _LOCALS[key] = fn
    return fn


def local_values(node: Value) -> Tuple[Any, ...]:
    """``node``'s local derivatives ∂node/∂parent, as Values (or constant floats).

    The op's row's own expressions, evaluated with the parents for a, b and the node itself
    for out: the same numbers as ``node.local_grads``, now with a graph of their own.
    """
    op = OPS[node._op]
    prev = node.parents
    fn = _local_function(op, len(prev))
    try:
        if op.expand is not None:
            return fn(*prev)
        return fn(prev[0], prev[1] if len(prev) > 1 else None, node._arg, node)
    except TypeError as e:
        raise TypeError(f"grad(create_graph=True): the derivative of op {op.name!r} could not be "
                        f"evaluated on Values ({e}); write it with Value-compatible arithmetic "
                        "(+ - * / **, abs, Value methods such as .exp()), not math functions") from e


# --- checking arguments ----------------------------------------------------------------

def _inputs(inputs: Union[Value, Sequence[Value]], who: str) -> List[Value]:
    if inputs.__class__ is Value:
        return [inputs]
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(f"{who}: inputs must be a Value or a list of Values, got "
                        f"{type(inputs).__name__}")
    for i, v in enumerate(inputs):
        if v.__class__ is not Value:
            raise TypeError(f"{who}: inputs[{i}] must be a Value, got {type(v).__name__}: {v!r:.60}")
    return list(inputs)


def _real(x: object, what: str) -> float:
    """A real number (nan and ±inf included, as backward's seed may be), else a TypeError."""
    return validate.real(x, what, finite=False)


def _leaves(xs: Sequence[Union[Value, Number]], who: str) -> List[Value]:
    """The point to differentiate at, as Values: numbers become new leaves, Values are used as they are."""
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence) or not xs:
        raise TypeError(f"{who}: xs must be a non-empty list of numbers (or Values), got {xs!r:.60}")
    return [x if x.__class__ is Value else Value(_real(x, f"{who}: xs[{i}]"), f"x{i}")
            for i, x in enumerate(xs)]


def _call(f: Callable[..., Value], values: List[Value], who: str) -> Value:
    if not callable(f):
        raise TypeError(f"{who}: f must be callable, got {type(f).__name__}")
    out = f(*values)
    if out.__class__ is not Value:
        raise TypeError(f"{who}: f must return one Value, got {type(out).__name__}")
    return out


# --- reverse mode ------------------------------------------------------------------------

def _needed(order: List[Value], targets: Set[Value]) -> Set[Value]:
    """The nodes of ``order`` on a path to one of ``targets``: only they need a gradient."""
    needs: Set[Value] = set()
    for node in order:
        if node in targets or any(p in needs for p in node.parents):
            needs.add(node)
    return needs


def _times(d: Scalar, g: Scalar) -> Scalar:
    """d·g, without a node for a factor that is the constant 1."""
    if d.__class__ is float and d == 1.0:
        return g
    if g.__class__ is float and g == 1.0:
        return d
    return d * g


def grad(output: Value, inputs: Union[Value, Sequence[Value]], grad_output: Scalar = 1.0,
         create_graph: bool = False) -> Tuple[Any, ...]:
    """∂output/∂input for each input (a tuple), without touching any ``.grad``.

    As ``torch.autograd.grad`` for a scalar output: ``grad_output`` seeds the output's
    gradient (a number, or a Value).  Without ``create_graph`` the results are floats,
    exactly what ``backward`` would add to ``.grad``.  With ``create_graph=True`` they are
    Values whose own graph can be differentiated again, to any order::

        d2 = grad(grad(y, [x], create_graph=True)[0], [x])[0]

    An input ``output`` does not depend on gets 0.
    """
    if output.__class__ is not Value:
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    xs = _inputs(inputs, "grad")
    validate.flag(create_graph, "grad: create_graph")
    if grad_output.__class__ is not Value:
        grad_output = _real(grad_output, "grad: grad_output")
    elif not create_graph:
        grad_output = grad_output.data
    order = topological_order(output)
    needs = _needed(order, set(xs))
    adjoint: Dict[Value, Scalar] = {output: grad_output}
    if create_graph:
        with _modes.creating_graph():
            _reverse_values(order, needs, adjoint)
        return tuple(_as_value(adjoint.get(x, 0.0)) for x in xs)
    _reverse_floats(order, needs, adjoint)
    return tuple(float(adjoint.get(x, 0.0)) for x in xs)


def _reverse_floats(order: List[Value], needs: Set[Value], adjoint: Dict[Value, Scalar]) -> None:
    """backward's loop on the stored local derivatives, into ``adjoint``."""
    get = adjoint.get
    for node in reversed(order):
        g = get(node)
        if not g or node._prev is None:  # as in backward, a zero gradient passes nothing on
            continue
        for p, d in zip(node.parents, node.local_grads):
            if p in needs:
                adjoint[p] = get(p, 0.0) + d * g


def _reverse_values(order: List[Value], needs: Set[Value], adjoint: Dict[Value, Scalar]) -> None:
    """The same loop with local derivatives as Values, building the gradient's graph.

    Only a constant 0 is skipped: a gradient that is 0 here may still vary (x·y at y = 0),
    and its derivatives are what a second pass needs.
    """
    get = adjoint.get
    for node in reversed(order):
        g = get(node)
        if g is None or node._prev is None or (g.__class__ is float and g == 0.0):
            continue
        for p, d in zip(node.parents, local_values(node)):
            if p in needs:
                term = _times(d, g)
                old = get(p)
                adjoint[p] = term if old is None else old + term


def _as_value(x: Scalar) -> Value:
    return x if isinstance(x, Value) else Value(x)


# --- built on grad -------------------------------------------------------------------------

def hessian(f: Callable[..., Value], xs: Sequence[Union[Value, Number]]) -> List[List[float]]:
    """The matrix of second derivatives ∂²f/∂x_i∂x_j at ``xs``, as a list of rows of floats.

    ``f`` takes one Value per entry of ``xs`` (``hessian(lambda x, y: x * x * y, [1.0, 2.0])``)
    and returns one Value.  Reverse over reverse: one ``grad`` with ``create_graph=True``,
    then one ``grad`` of each entry of that gradient.
    """
    values = _leaves(xs, "hessian")
    first = grad(_call(f, values, "hessian"), values, create_graph=True)
    return [list(grad(g, values)) for g in first]


def hvp(f: Callable[..., Value], xs: Sequence[Union[Value, Number]],
        v: Sequence[Number]) -> List[float]:
    """The Hessian of ``f`` at ``xs`` times the vector ``v``, without forming the Hessian.

    H·v = ∇(∇f · v): the gradient of one number, so two reverse passes whatever the size.
    """
    values = _leaves(xs, "hvp")
    vector = _vector(v, len(values), "hvp", "v")
    first = grad(_call(f, values, "hvp"), values, create_graph=True)
    return list(grad(dot(first, vector), values))


def _vector(v: Sequence[Number], n: int, who: str, what: str) -> List[float]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise TypeError(f"{who}: {what} must be a list of numbers, got {type(v).__name__}")
    if len(v) != n:
        raise ValueError(f"{who}: {what} has {len(v)} entries but xs has {n}; they must match")
    return [_real(t, f"{who}: {what}[{i}]") for i, t in enumerate(v)]


# --- forward mode ------------------------------------------------------------------------

def jvp(f: Callable[..., Value], xs: Sequence[Union[Value, Number]],
        tangents: Sequence[Number]) -> Tuple[float, float]:
    """``(f(xs), ∇f(xs) · tangents)``: f's value and its derivative along ``tangents``.

    Forward mode: after f has run, each node's tangent is Σ local_i · tangent(parent_i),
    from its stored local derivatives, parents before children; one pass gives the
    derivative along one direction (reverse mode gives all ∂f/∂x_i in one pass).
    """
    values = _leaves(xs, "jvp")
    dx = _vector(tangents, len(values), "jvp", "tangents")
    out = _call(f, values, "jvp")
    tangent: Dict[Value, float] = {}
    for x, t in zip(values, dx):
        tangent[x] = tangent.get(x, 0.0) + t
    get = tangent.get
    seeds = set(values)
    for node in topological_order(out):
        if node._prev is not None and node not in seeds:
            t = 0.0
            for p, d in zip(node.parents, node.local_grads):
                tp = get(p)
                if tp:  # as in backward: a zero passes nothing on
                    t += d * tp
            tangent[node] = t
    return out.data, get(out, 0.0)
