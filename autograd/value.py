"""``Value``: one real number in a computation graph, with its gradient.

The arithmetic methods are not written out by hand: they are generated, at import,
from the rows of ``autograd.ops.OPS``, so each op's forward value and local
derivatives exist in exactly one place.  A node stores its parents and, aligned with
them, the local derivatives ∂out/∂parent computed at forward time; ``backward`` then
needs no per-node closures, only ``parent.grad += local · node.grad``.
"""

from __future__ import annotations

import math
import numbers
import sys
from functools import partial, reduce
from operator import add as _add
from operator import mul as _mul
from typing import Iterable, Optional, Sequence, TextIO, Tuple, Union

from . import modes as _modes
from .ops import HELPERS, OPS, Op

__all__ = ["Value", "vsum", "dot", "Number"]

Number = Union[int, float]
_new = object.__new__
_isfinite = math.isfinite
# Σ of products, added left to right as the op table's dot expression (and compile, and the
# textbook floats) add them.  Up to 3.11 the builtin sum does exactly that, fastest; from
# 3.12 it compensates rounding, which would make eager differ from compiled code.
_sum_left_to_right = sum if sys.version_info < (3, 12) else partial(reduce, _add)


class Value:
    """A scalar node: ``data`` (a float), ``grad`` (∂root/∂self after ``backward``).

    ``op`` names the operation that made it ("" for a value you created, "const" for a
    plain number an operator wrapped), ``parents`` are its operands in order and
    ``local_grads`` the matching ∂self/∂parent.  ``tag`` is free for libraries
    to mark nodes (``nn`` stores ``(role, layer, neuron)`` there; ``viz`` reads it).

    ``==`` is not overridden: Values compare and hash by identity, because they are
    graph nodes that live in sets and dicts during backward.  Compare ``.data`` to
    compare numbers.
    """

    __slots__ = ("data", "grad", "label", "tag", "_op", "_prev", "_local", "_arg")

    def __init__(self, data: Number, label: str = "") -> None:
        cls = data.__class__
        if cls is not float:
            if cls is bool or not isinstance(data, numbers.Real):
                raise TypeError(
                    f"Value() needs a real number (int or float), got {cls.__name__}: {data!r}")
            try:
                data = float(data)
            except OverflowError:
                text = repr(data)
                short = text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} digits)"
                raise OverflowError(f"Value(): {short} is too large for a float") from None
        if label.__class__ is not str:
            raise TypeError(f"Value() label must be a str, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self.tag = None
        self._op = ""
        self._prev = ()
        self._local = ()
        self._arg = None
        if _modes.active:  # a Value made while compile traces fn is one of fn's constants
            tracer = _modes.current_tracer()
            if tracer is not None:
                tracer.leaf(self)

    # --- what users and viz inspect -------------------------------------------------
    @property
    def op(self) -> str:
        """Name of the op that made this node (a key of ``OPS``), "" or "const" for leaves."""
        return self._op

    @property
    def parents(self) -> Tuple[Value, ...]:
        """The operands, in order (an operand used twice appears twice)."""
        return self._prev

    @property
    def local_grads(self) -> Tuple[float, ...]:
        """∂self/∂parent for each parent, computed when the node was made."""
        return self._local

    @property
    def arg(self) -> Optional[float]:
        """The constant the op carries (exponent of ``v ** 3``, leaky_relu's slope), else None."""
        return self._arg

    @property
    def is_leaf(self) -> bool:
        """True for values with no parents: inputs, parameters, constants."""
        return not self._prev

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def _repr_svg_(self) -> str:
        """This value's graph as SVG, so Jupyter/IPython shows a Value as a picture."""
        from viz import svg  # the one place autograd reaches up to viz, lazily
        return svg(self)

    def __float__(self) -> float:
        if _modes.active and _modes.current_tracer() is not None:
            raise TypeError(
                "float(Value) while compiling: the number would be frozen at its trace-time "
                "value (math.exp(v) does this too). Use the Value's own ops (v.exp()) instead.")
        return self.data

    def __bool__(self) -> bool:
        if _modes.active and _modes.current_tracer() is not None:
            raise TypeError(
                "bool(Value) while compiling: Python branches on .data are frozen at trace "
                "time. Use an op (relu, abs, leaky_relu) or branch outside the compiled function.")
        return True

    # --- backward ---------------------------------------------------------------------
    def backward(self, grad: Number = 1.0) -> None:
        """Backpropagate from this node: every node reachable gets ``grad += ∂self/∂node · grad``.

        Gradients accumulate, as in PyTorch: calling ``backward`` twice doubles them.
        Reset with ``autograd.zero_grad(root)`` (the whole graph) or
        ``zero_grad(params)`` (just those), or an optimiser's ``zero_grad()``.
        """
        from .graph import backward
        backward(self, grad)

    def explain(self, limit: Optional[int] = 40, file: Optional[TextIO] = None) -> None:
        """Print how backward's chain rule gave each node of this graph its gradient.

        See ``autograd.explain``; call it after ``backward()``.
        """
        from .explain import explain
        explain(self, limit=limit, file=file)

    # arithmetic methods are installed below from the op table


def _const(x: object) -> object:
    """Wrap a plain number as a constant leaf, or NotImplemented for anything else."""
    cls = x.__class__
    if cls is not float and cls is not int:
        if cls is bool or not isinstance(x, numbers.Real):
            return NotImplemented
    v = _new(Value)
    v.data = float(x)
    v.grad = 0.0
    v.label = ""
    v.tag = None
    v._op = "const"
    v._prev = ()
    v._local = ()
    v._arg = None
    return v


def _special(out: float, name: str, prev: tuple, local: tuple, arg: Optional[float]) -> Value:
    """The slow path of every op, taken only while some mode is entered somewhere."""
    if not _isfinite(out) and _modes.is_anomaly_enabled():
        inputs = ", ".join(repr(p.data) for p in prev)
        extra = f", k={arg!r}" if arg is not None else ""
        raise FloatingPointError(f"detect_anomaly: {name}({inputs}{extra}) produced {out!r}")
    v = _new(Value)
    v.data = out
    v.grad = 0.0
    v.label = ""
    v.tag = None
    if not _modes.is_grad_enabled():
        v._op, v._prev, v._local, v._arg = "", (), (), None
    else:
        v._op, v._prev, v._local, v._arg = name, prev, local, arg
    tracer = _modes.current_tracer()
    if tracer is not None:
        tracer.record(v)
    return v


# --- generating the methods from the op table ---------------------------------------

_NODE = """\
    if _modes.active:
        return _special(out, {name!r}, {prev}, {local}, {arg})
    v = _new(Value)
    v.data = out
    v.grad = 0.0
    v.label = ""
    v.tag = None
    v._op = {name!r}
    v._prev = {prev}
    v._local = {local}
    v._arg = {arg}
    return v
"""


def _guard(op: Op) -> str:
    if op.guard is None:
        return ""
    cond, exc, message = op.guard
    return f"    if {cond}:\n        raise {exc.__name__}(f{message!r})\n"


def _tuple(items: Sequence[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _binary_source(op: Op, method: str, reflected: bool) -> str:
    x, y = ("other", "self") if reflected else ("self", "other")
    return (
        "def _fn(self, other):\n"
        f"    if other.__class__ is not Value:\n"
        f"        other = _const(other)\n"
        f"        if other is NotImplemented:\n"
        f"            return NotImplemented\n"
        f"    a = {x}.data\n"
        f"    b = {y}.data\n"
        + _guard(op)
        + f"    out = {op.forward}\n"
        + _NODE.format(name=op.name, prev=f"({x}, {y})", local=_tuple(op.local), arg="None"))


def _unary_source(op: Op, method: str, with_k: bool) -> str:
    return (
        f"def _fn(self{', k' if with_k else ''}):\n"
        f"    a = self.data\n"
        + _guard(op)
        + f"    out = {op.forward}\n"
        + _NODE.format(name=op.name, prev="(self,)", local=_tuple(op.local),
                       arg="k" if with_k else "None"))


def _build(source: str, name: str, op: Op):
    namespace = dict(HELPERS, Value=Value, _new=_new, _modes=_modes, _const=_const,
                     _special=_special)
    exec(compile(source, f"<deltagrad op {op.name}>", "exec"), namespace)
    func = namespace["_fn"]  # one name for all, so no method can shadow a helper (tanh)
    func.__name__ = name
    func.__qualname__ = f"Value.{name}"
    rules = ", ".join(op.local)
    func.__doc__ = f"{op.name}: out = {op.forward};  local derivatives: {rules}."
    return func


for _method, _opname, _reflected in (
        ("__add__", "add", False), ("__radd__", "add", True),
        ("__sub__", "sub", False), ("__rsub__", "sub", True),
        ("__mul__", "mul", False), ("__rmul__", "mul", True),
        ("__truediv__", "div", False), ("__rtruediv__", "div", True)):
    setattr(Value, _method, _build(_binary_source(OPS[_opname], _method, _reflected),
                                   _method, OPS[_opname]))

for _opname in ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "abs"):
    _method = "__neg__" if _opname == "neg" else _opname
    setattr(Value, _method, _build(_unary_source(OPS[_opname], _method, False),
                                   _method, OPS[_opname]))
Value.__abs__ = Value.abs

_powv = _build(_binary_source(OPS["powv"], "_powv", False), "_powv", OPS["powv"])
_pow_k = _build(_unary_source(OPS["pow"], "_pow_k", True), "_pow_k", OPS["pow"])
_rpow_k = _build(_unary_source(OPS["rpow"], "_rpow_k", True), "_rpow_k", OPS["rpow"])
_leaky = _build(_unary_source(OPS["leaky_relu"], "_leaky", True), "_leaky", OPS["leaky_relu"])


def _real(x: object, what: str) -> float:
    if x.__class__ is bool or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    return float(x)


def _pow_method(self: Value, other: Union[Value, Number]) -> Value:
    """``v ** w``: a Value exponent gets a gradient too; a number exponent is a constant k."""
    if other.__class__ is Value:
        return _powv(self, other)
    cls = other.__class__
    if cls is bool or not isinstance(other, numbers.Real):
        return NotImplemented
    return _pow_k(self, float(other))


def _rpow_method(self: Value, other: Number) -> Value:
    """``2 ** v``: the base is a constant k; out = k^v, ∂out/∂v = k^v·ln k."""
    cls = other.__class__
    if cls is bool or not isinstance(other, numbers.Real):
        return NotImplemented
    return _rpow_k(self, float(other))


def _leaky_relu_method(self: Value, slope: Number = 0.01) -> Value:
    """max(a, slope·a): like relu, but a small slope k below zero keeps gradients alive."""
    return _leaky(self, _real(slope, "leaky_relu slope"))


Value.__pow__ = _pow_method
Value.__rpow__ = _rpow_method
Value.leaky_relu = _leaky_relu_method


# --- fused n-ary nodes ---------------------------------------------------------------

def _as_values(items: Iterable[object], what: str) -> list:
    out = []
    for i, x in enumerate(items):
        if x.__class__ is not Value:
            c = _const(x)
            if c is NotImplemented:
                raise TypeError(f"{what}[{i}] must be a Value or a real number, "
                                f"got {type(x).__name__}: {x!r}")
            x = c
        out.append(x)
    return out


def _node(out: float, name: str, prev: tuple, local: tuple) -> Value:
    if _modes.active:
        return _special(out, name, prev, local, None)
    v = _new(Value)
    v.data = out
    v.grad = 0.0
    v.label = ""
    v.tag = None
    v._op = name
    v._prev = prev
    v._local = local
    v._arg = None
    return v


def vsum(values: Iterable[Union[Value, Number]]) -> Value:
    """One node for Σ values, however many terms (∂out/∂term = 1 each).

    Exported as ``autograd.sum``.  Plain numbers become constants.
    """
    prev = tuple(_as_values(values, "sum values"))
    total = 0.0
    for p in prev:
        total += p.data
    return _node(total, "sum", prev, (1.0,) * len(prev))


def dot(weights: Sequence[Union[Value, Number]], inputs: Sequence[Union[Value, Number]],
        bias: Union[Value, Number, None] = None) -> Value:
    """One node for a neuron's pre-activation u = Σ_ℓ θ_ℓ·o_ℓ (+ b).

    Its local derivatives are ∂u/∂θ_ℓ = o_ℓ, ∂u/∂o_ℓ = θ_ℓ and ∂u/∂b = 1.  Inputs (and
    weights) may be plain numbers, which become constants.
    """
    if weights.__class__ is not list and weights.__class__ is not tuple:
        weights = tuple(weights)  # an iterator would be used up by the first pass below
    if inputs.__class__ is not list and inputs.__class__ is not tuple:
        inputs = tuple(inputs)
    try:
        wd = [w.data for w in weights]
    except AttributeError:
        weights = _as_values(weights, "dot weights")
        wd = [w.data for w in weights]
    try:
        xd = [x.data for x in inputs]
    except AttributeError:
        inputs = _as_values(inputs, "dot inputs")
        xd = [x.data for x in inputs]
    if len(wd) != len(xd):
        raise ValueError(f"dot: {len(wd)} weights but {len(xd)} inputs; they must match")
    try:
        out = _sum_left_to_right(map(_mul, wd, xd), 0.0)
    except TypeError:  # something that has a .data but is no Value (a numpy scalar)
        weights, inputs = _as_values(weights, "dot weights"), _as_values(inputs, "dot inputs")
        wd, xd = [w.data for w in weights], [x.data for x in inputs]
        out = _sum_left_to_right(map(_mul, wd, xd), 0.0)
    if bias is None:
        return _node(out, "dot", (*weights, *inputs), (*xd, *wd))
    if bias.__class__ is not Value:
        bias = _as_values((bias,), "dot bias")[0]
    return _node(out + bias.data, "dot", (*weights, *inputs, bias), (*xd, *wd, 1.0))
