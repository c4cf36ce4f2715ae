"""``Value``: one real number in a computation graph, with its gradient.

The arithmetic methods are not written out by hand: they are generated, at import,
from the rows of ``autograd.ops.OPS`` (each row names the methods it provides: search
ops.py for ``__mul__``), so each op's forward value and local derivatives exist in
exactly one place.  A node stores its parents and, aligned with them, the local
derivatives ∂out/∂parent computed at forward time; ``backward`` then needs no per-node
closures, only ``parent.grad += local · node.grad``.  A one-operand node holds its operand
and its derivative as they are, without a tuple, and a plain number operand (the 2 of
``x * 2``) is carried on the node as its k, not wrapped as a Value: a node of ``x * 2`` is
one Value and its float.  Its fields are written in one place, the ``_FIELDS`` template,
which every function that makes a node is built from.
"""

from __future__ import annotations

import copy
import math
import numbers
import sys
from functools import partial, reduce
from textwrap import dedent as _dedent
from textwrap import indent as _indent
from operator import add as _add
from operator import mul as _mul
from typing import (
    TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, SupportsIndex, TextIO,
    Tuple, Union,
)

from . import display as _display
from . import modes as _modes
from .ops import HELPERS, OPS, Op

__all__ = ["Value", "vsum", "dot", "dense", "data_of", "assign", "descend", "Number"]

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
    plain number ``sum`` or ``dot`` wrapped), ``parents`` are its operands in order and
    ``local_grads`` the matching ∂self/∂parent; ``arg`` is the number the op carries (the 2
    of ``x * 2``, the 3 of ``x ** 3``).  ``tag`` is free for libraries
    to mark nodes (``nn`` stores ``(role, layer, neuron)`` there; ``viz`` reads it).

    ``==`` is not overridden: Values compare and hash by identity, because they are
    graph nodes that live in sets and dicts during backward.  Compare ``.data`` to
    compare numbers.
    """

    __slots__ = ("_data", "grad", "_label", "tag", "_op", "_prev", "_local", "_arg", "_mark")
    # The slots' types (written by _FIELDS below, not in __init__, so declared here).
    _data: float
    grad: float
    _label: str
    tag: object
    _op: str
    # The operands and their local derivatives: None for a leaf; the operand itself (a
    # Value) and its derivative (a float) for a one-operand op; else two aligned tuples
    # (always for sum and dot, whatever their number of operands).
    # ``parents`` and ``local_grads`` give tuples in every case.  (Typed Any: the hot loops
    # tell the forms apart by class, which a checker cannot follow through a Union.)
    _prev: Any
    _local: Any
    _arg: Optional[float]
    _mark: object  # which backward last reached it (see graph.backward)

    def __init__(self, data: Number, label: str = "") -> None:
        if data.__class__ is not float:
            data = _real(data, "Value()")
        if label.__class__ is not str or not label.isascii():
            label = _checked_label(label, "Value() label")
        _fill(self, data, label)
        if _modes.active:  # a Value made while compile traces fn is one of fn's constants
            tracer = _modes.current_tracer()
            if tracer is not None:
                tracer.leaf(self)

    # --- the two fields a user writes, checked where they are set ---------------------
    # Ops and backward use the slots _data and _label directly, so the checks cost them
    # nothing; a user's ``v.data = ...`` pays ~0.1 µs for a clear error now instead of
    # nonsense later (a list's data would repeat itself under ``*``).
    @property
    def data(self) -> float:
        """The number this node holds (a float; ints and other real numbers are converted)."""
        return self._data

    @data.setter
    def data(self, number: float) -> None:
        self._data = number if number.__class__ is float else _real(number, ".data")

    @property
    def label(self) -> str:
        """A name to show for this value in pictures, ``explain`` and compiled code ("" for none)."""
        return self._label

    @label.setter
    def label(self, text: str) -> None:
        self._label = text if text.__class__ is str and text.isascii() else _checked_label(text, ".label")

    # --- what users and viz inspect -------------------------------------------------
    @property
    def op(self) -> str:
        """Name of the op that made this node (a key of ``OPS``), "" or "const" for leaves."""
        return self._op

    @property
    def parents(self) -> Tuple[Value, ...]:
        """The operands, in order (an operand used twice appears twice)."""
        prev = self._prev
        if prev.__class__ is Value:
            return (prev,)
        return () if prev is None else prev

    @property
    def local_grads(self) -> Tuple[float, ...]:
        """∂self/∂parent for each parent, computed when the node was made."""
        prev = self._prev
        if prev.__class__ is Value:
            return (self._local,)
        return () if prev is None else self._local

    @property
    def arg(self) -> Optional[float]:
        """The constant the op carries (exponent of ``v ** 3``, leaky_relu's slope), else None."""
        return self._arg

    @property
    def is_leaf(self) -> bool:
        """True for values with no parents: inputs, parameters, constants."""
        return self._prev is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def _repr_svg_(self) -> Optional[str]:
        """This value's graph as SVG, so Jupyter/IPython shows a Value as a picture.

        Drawn by whichever renderer a drawing package registered (``viz`` does, see
        ``autograd.display``); None when there is none, and Jupyter shows the ``repr``.
        """
        return _display.svg(self)

    def __float__(self) -> float:
        if _modes.active:
            if _modes.current_tracer() is not None:
                raise TypeError(
                    "float(Value) while compiling: the number would be frozen at its trace-time "
                    "value (math.exp(v) does this too). Use the Value's own ops (v.exp()) instead.")
            if _modes.is_creating_graph():
                raise TypeError(
                    "float(Value) while grad(create_graph=True) builds a derivative's graph: the "
                    "number would be a constant, silently zeroing higher derivatives through it "
                    "(math.exp(v) does this too). Use the Value's own ops (v.exp()) instead.")
        return self.data

    def __bool__(self) -> bool:
        """``bool(v.data)``, as for a one-number PyTorch tensor: ``if loss:`` tests the number."""
        if _modes.active and _modes.current_tracer() is not None:
            raise TypeError(
                "bool(Value) while compiling: Python branches on .data are frozen at trace "
                "time. Use an op (relu, abs, leaky_relu) or branch outside the compiled function.")
        return self.data != 0.0

    # Comparisons (< <= > >=, with Values or plain numbers) compare .data and return a plain
    # bool, so ``if loss < best:`` reads as it should; they carry no gradient.  ``==`` stays
    # identity (see the class docstring).
    def __lt__(self, other: object) -> bool:
        o = _data_of(other, "<")
        return NotImplemented if o is None else self.data < o

    def __le__(self, other: object) -> bool:
        o = _data_of(other, "<=")
        return NotImplemented if o is None else self.data <= o

    def __gt__(self, other: object) -> bool:
        o = _data_of(other, ">")
        return NotImplemented if o is None else self.data > o

    def __ge__(self, other: object) -> bool:
        o = _data_of(other, ">=")
        return NotImplemented if o is None else self.data >= o

    # --- copying and pickling: the graph as a flat list, so any depth works -------------
    def __copy__(self) -> Value:
        """A new node with the same number, gradient, label, tag and the same operands."""
        return _copy_node(self, self.parents, self.tag)

    def __deepcopy__(self, memo: Dict[int, Any]) -> Value:
        """A copy of this node's whole graph, made oldest node first (no recursion, so a
        10,000-node chain copies as a 3-node one does); ``memo`` keeps shared nodes shared."""
        for v in _ancestors(self):
            if id(v) not in memo:
                prev = tuple(memo[id(p)] for p in v.parents)
                memo[id(v)] = _copy_node(v, prev, copy.deepcopy(v.tag, memo))
        return memo[id(self)]  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: SupportsIndex) -> Tuple[Any, ...]:
        """Pickle a leaf as its fields, a computed node as its graph in a flat list (oldest
        first, so pickling never recurses through a deep graph).  Leaves in the graph are
        pickled as themselves: parameters pickled together stay the same objects."""
        if self._prev is None:
            return (_leaf, (self.data, self.grad, self.label, self.tag, self._op, self._arg))
        computed = [v for v in _ancestors(self) if v._prev is not None]
        index = {id(v): i for i, v in enumerate(computed)}
        rows = [(v.data, v.grad, v.label, v.tag, v._op, v.local_grads, v._arg,
                 tuple(index.get(id(p), p) for p in v.parents)) for v in computed]
        return (_graph, (rows,))

    # ``backward()`` and ``explain()`` are methods too; graph.py and explain.py, which build on
    # this module, attach them (so nothing here imports upwards, not even lazily).

    # arithmetic methods are installed below from the op table

    if TYPE_CHECKING:
        # What a type checker sees of the methods attached at import, which it cannot see
        # being made: one declaration per method of the op table's rows (a plain number
        # operand takes the row with a k), and backward/explain.  tests/test_typing.py checks
        # that these are exactly the methods installed, with the same parameters.
        def __add__(self, other: Union[Value, float]) -> Value: ...
        def __radd__(self, other: Union[Value, float]) -> Value: ...
        def __sub__(self, other: Union[Value, float]) -> Value: ...
        def __rsub__(self, other: Union[Value, float]) -> Value: ...
        def __mul__(self, other: Union[Value, float]) -> Value: ...
        def __rmul__(self, other: Union[Value, float]) -> Value: ...
        def __truediv__(self, other: Union[Value, float]) -> Value: ...
        def __rtruediv__(self, other: Union[Value, float]) -> Value: ...
        def __pow__(self, other: Union[Value, float]) -> Value: ...
        def __rpow__(self, other: float) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def abs(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def leaky_relu(self, slope: float = 0.01) -> Value: ...
        def softplus(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def tan(self) -> Value: ...
        def atan(self) -> Value: ...
        def log2(self) -> Value: ...
        def log10(self) -> Value: ...
        def backward(self, grad: float = 1.0) -> None: ...
        def explain(self, limit: Optional[int] = 40, file: Optional[TextIO] = None) -> None: ...


def _data_of(other: object, symbol: str) -> Optional[float]:
    """The number a comparison reads from ``other`` (a Value's .data or a real number), or
    None when it is neither; refused while compiling, where the branch would be frozen."""
    if other.__class__ is Value:
        number: float = other.data
    elif other.__class__ is bool or not isinstance(other, numbers.Real):
        return None
    else:
        number = other  # type: ignore[assignment]
    if _modes.active and _modes.current_tracer() is not None:
        raise TypeError(
            f"'{symbol}' not supported between instances of 'Value' and "
            f"'{type(other).__name__}' while compiling: a comparison reads .data, which "
            "compiled code would freeze at its trace-time value")
    return number


# --- the node constructor -------------------------------------------------------------
#
# _FIELDS is the one place a node's fields are written.  Every function that makes a node
# is generated from it: the op methods paste it after their forward line (the engine's hot
# path, so no call is paid per node), and _node, _make, _const and _fill below are it with
# a signature around it.

_FIELDS = """\
    v._data = {out}
    v.grad = 0.0
    v._label = {label}
    v.tag = {tag}
    v._op = {name}
    v._prev = {prev}
    v._local = {local}
    v._arg = {arg}
    v._mark = None
"""

# While a tape records (autograd.graph.tape), each computed node is appended to it as it is
# made, so backward can walk creation order, newest first, instead of searching the graph.
_RECORD = """\
    if _record is not None:
        _record(v)
"""

# While any mode is entered anywhere (no_grad, detect_anomaly, compile's tracing), ops take
# the slow path, _special, which reads the modes of this thread or task.
_CHECK_MODES = """\
    if _modes.active:
        return _special({out}, {name}, {prev}, {local}, {arg})
"""


def _node_source(out: str, name: str, prev: str, local: str, arg: str, modes: bool = True,
                 record: bool = True) -> str:
    """Lines that make and return a new node (checking the modes first, unless ``modes`` is
    False; putting it on the tape, if one records, unless ``record`` is False)."""
    fields = dict(out=out, name=name, prev=prev, local=local, arg=arg)
    return ((_CHECK_MODES.format(**fields) if modes else "") + "    v = _new(Value)\n"
            + _FIELDS.format(label='""', tag="None", **fields) + (_RECORD if record else "")
            + "    return v\n")


#: The globals of all generated code: the op table's helpers and what a new node needs.
_SCOPE: Dict[str, Any] = dict(HELPERS, Value=Value, _new=_new, _modes=_modes, _Real=numbers.Real,
                              _record=None)


def _define(source: str, name: str, doc: str, filename: str = "<deltagrad node>") -> Callable[..., Any]:
    """The function ``_fn`` that ``source`` defines, named ``name``, with ``_SCOPE`` as globals."""
    exec(compile(source, filename, "exec"), _SCOPE)
    # one name for all, so no method can shadow a helper (tanh)
    func: Callable[..., Any] = _SCOPE.pop("_fn")
    func.__name__ = func.__qualname__ = name
    func.__doc__ = doc
    return func


# Their types, which generated code cannot declare: (v, data, label), (out, name, prev,
# local, arg), the same with arg optional, and (x) -> a "const" Value or NotImplemented.
_fill: Callable[[Value, float, str], None] = _define("def _fn(v, data, label):\n" + _FIELDS.format(
    out="data", label="label", tag="None", name='""', prev="None", local="None", arg="None"), "_fill",
    "Set the fields of a Value made by ``Value(data, label)``.")
_NodeMaker = Callable[[float, str, Any, Any, Optional[float]], Value]
_make: _NodeMaker = _define(
    "def _fn(out, name, prev, local, arg):\n"
    + _node_source("out", "name", "prev", "local", "arg", modes=False, record=False), "_make",
    "A new node, whatever mode is entered (the slow path's constructor).")
_node: Callable[..., Value] = _define(
    "def _fn(out, name, prev, local, arg=None):\n"
    + _node_source("out", "name", "prev", "local", "arg"), "_node",
    "A new node (through the slow path while a mode is entered): sum and dot use it.")
_const: Callable[[object], Value] = _define(
    "def _fn(x):\n"
    "    cls = x.__class__\n"
    "    if cls is not float and cls is not int:\n"
    "        if cls is bool or not isinstance(x, _Real):\n"
    "            return NotImplemented\n"
    + _node_source("float(x)", '"const"', "None", "None", "None", modes=False, record=False),
    "_const",
    "Wrap a plain number as a constant leaf, or NotImplemented for anything else.")


def _special(out: float, name: str, prev: Union[Value, Tuple[Value, ...]],
             local: Union[float, Tuple[float, ...]], arg: Optional[float]) -> Value:
    """The slow path of every op, taken only while some mode is entered somewhere."""
    if not _isfinite(out) and _modes.is_anomaly_enabled():
        operands = (prev,) if prev.__class__ is Value else prev
        inputs = ", ".join(repr(p.data) for p in operands)  # type: ignore[union-attr]
        extra = f", k={arg!r}" if arg is not None else ""
        raise FloatingPointError(f"detect_anomaly: {name}({inputs}{extra}) produced {out!r}")
    if not _modes.is_grad_enabled():
        name, prev, local, arg = "", None, None, None  # type: ignore[assignment]
    v = _make(out, name, prev, local, arg)
    record = _SCOPE["_record"]
    if record is not None and prev is not None:
        record(v)
    tracer = _modes.current_tracer()
    if tracer is not None:
        tracer.record(v)
    return v


_SCOPE.update(_special=_special)  # looked up when generated code runs


# --- Value's methods, generated from the op table's rows ------------------------------

def _guard(op: Op) -> str:
    if op.guard is None:
        return ""
    cond, exc, message = op.guard
    return f"    if {cond}:\n        raise {exc.__name__}(f{message!r})\n"


def _local(items: Sequence[str]) -> str:
    """The source of a node's local derivatives: one operand's as it is (no tuple, so a
    constant such as relu's 0.0 or 1.0, or mulk's k, is shared, not made per node), else a
    tuple (constant for add and sub, so shared too)."""
    if len(items) == 1:
        return f"({items[0]})"
    return "(" + ", ".join(items) + ")"


def _op_body(op: Op, prev: str, arg: str) -> str:
    """Guard, forward value and the new node of ``op`` (its operands' data already in a, b)."""
    return (_guard(op) + f"    out = {op.forward}\n"
            + _node_source("out", repr(op.name), prev, _local(op.local), arg))


def _binary_body(op: Op, reflected: bool) -> str:
    """``op`` on ``self`` and the Value ``other`` (swapped when ``reflected``)."""
    x, y = ("other", "self") if reflected else ("self", "other")
    return f"    a = {x}._data\n    b = {y}._data\n" + _op_body(op, f"({x}, {y})", "None")


def _k_body(op: Op, param: str, operator: bool) -> str:
    """``op`` on ``self`` with its constant k from ``param``: a real number, else
    NotImplemented (an operator, so Python tries the other operand) or a TypeError."""
    refuse = ("return NotImplemented" if operator else
              f'raise TypeError(f"{op.name} {param} must be a real number, '
              f'got {{type(k).__name__}}: {{k!r}}")')
    return (f"    k = {param}\n"
            "    if k.__class__ is not float:\n"
            "        if k.__class__ is bool or not isinstance(k, _Real):\n"
            f"            {refuse}\n"
            "        k = float(k)\n"
            "    a = self._data\n" + _op_body(op, "self", "k"))


def _method_source(method: str, rows: Sequence[Tuple[Op, bool]]) -> str:
    """The source of ``Value.<method>`` from the rows that provide it (see ``Op``)."""
    binary = [(op, r) for op, r in rows if op.arity == 2]
    keyed = [op for op, _ in rows if op.arity == 1 and op.k is not None]
    plain = [op for op, _ in rows if op.arity == 1 and op.k is None]
    if (len(rows) > 1 if plain else len(keyed) != 1 or len(binary) > 1):
        raise TypeError(f"Value.{method}: the op table gives it to {[op.name for op, _ in rows]}; "
                        "one row, or one row with a k and at most one two-operand row (a plain "
                        "number operand takes the row with a k)")
    operator = method.startswith("__")
    if plain:
        return "def _fn(self):\n    a = self._data\n" + _op_body(plain[0], "self", "None")
    param, default = ("other", None) if operator else keyed[0].k  # type: ignore[misc]
    signature = param if default is None else f"{param}={default!r}"
    source = f"def _fn(self, {signature}):\n"
    if binary:  # a Value operand takes the two-operand row
        source += f"    if {param}.__class__ is Value:\n" + _indent(_binary_body(*binary[0]), "    ")
    return source + _k_body(keyed[0], param, operator)


def _install_methods() -> None:
    """Give ``Value`` every method and operator the op table's rows declare."""
    provided: Dict[str, List[Tuple[Op, bool]]] = {}
    for op in OPS.values():
        for method in op.methods:
            provided.setdefault(method, []).append((op, False))
        for method in op.reflected:
            provided.setdefault(method, []).append((op, True))
    for method, rows in provided.items():
        doc = "\n".join(f"{op.name}: out = {op.forward};  local derivatives: {', '.join(op.local)}."
                        for op, _ in rows)
        names = "+".join(op.name for op, _ in rows)
        func = _define(_method_source(method, rows), method, doc, f"<deltagrad op {names}>")
        func.__qualname__ = f"Value.{method}"
        setattr(Value, method, func)


_install_methods()


# --- fused n-ary nodes ---------------------------------------------------------------

def _as_values(items: Iterable[object], what: str) -> List[Value]:
    out: List[Value] = []
    for i, x in enumerate(items):
        if x.__class__ is not Value:
            c = _const(x)
            if c is NotImplemented:
                raise TypeError(f"{what}[{i}] must be a Value or a real number, "
                                f"got {type(x).__name__}: {x!r}")
            x = c
        out.append(x)
    return out


def vsum(values: Iterable[Union[Value, Number]]) -> Value:
    """One node for Σ values, however many terms (∂out/∂term = 1 each).

    Exported as ``autograd.sum``.  Plain numbers become constants.
    """
    prev = tuple(_as_values(values, "sum values"))
    total = 0.0
    for p in prev:
        total += p._data
    return _node(total, "sum", prev or None, (1.0,) * len(prev) or None)


def dot(weights: Iterable[Union[Value, Number]], inputs: Iterable[Union[Value, Number]],
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
        wd = [w._data for w in weights]  # type: ignore[union-attr]  # numbers: converted below
    except AttributeError:
        weights = _as_values(weights, "dot weights")
        wd = [w._data for w in weights]
    try:
        xd = [x._data for x in inputs]  # type: ignore[union-attr]  # numbers: converted below
    except AttributeError:
        inputs = _as_values(inputs, "dot inputs")
        xd = [x._data for x in inputs]
    if len(wd) != len(xd):
        raise ValueError(f"dot: {len(wd)} weights but {len(xd)} inputs; they must match")
    out = _sum_left_to_right(map(_mul, wd, xd), 0.0)
    # The operand layout of ops.nary_parts (θ_1..θ_n, o_1..o_n, then b), built inline here:
    # calling a layout function from this, the hottest constructor, cost ~0.2 µs per neuron.
    if bias is None:  # (no operands at all: a leaf, as the empty sum is)
        return _node(out, "dot", (*weights, *inputs) or None, (*xd, *wd) or None)
    if bias.__class__ is not Value:
        bias = _as_values((bias,), "dot bias")[0]
    return _node(out + bias._data, "dot", (*weights, *inputs, bias), (*xd, *wd, 1.0))


# --- a layer of neurons: its dot nodes (and activation nodes) made in one go ----------

_DENSE = """\
def _fn(rows, x, xd, names, k):
    record = _record
    x = tuple(x)
    xd = tuple(xd)
{unpack_x}    made = []
    append = made.append
    numbers = []
    number = numbers.append
    for (w, b1, wd, wd1, bd), (label, tag, o_label, o_tag) in zip(rows, names):
{unpack_w}        a = {total} + bd
        v = _new(Value)
{u_fields}        if record is not None:
            record(v)
{activation}        append(v)
        number(v._data)
    return made, numbers
"""

_ACTIVATION = """\
u = v
out = {forward}
v = _new(Value)
{o_fields}if record is not None:
    record(v)
"""

#: Up to this many inputs, dense's Σ_ℓ θ_ℓ·o_ℓ is written out term by term for each size.
_UNROLL = 64


def _dense_source(activation: Optional[str], n: Optional[int] = None) -> str:
    """The source of ``dense``'s fast path for ``activation`` (an op name, None for none)
    and rows of ``n`` inputs (any number when None).

    With ``n``, Σ_ℓ θ_ℓ·o_ℓ is spelled out, ``0.0 + w_0 * x_0 + w_1 * x_1 + ...``: the
    additions ``sum`` makes (left to right, from 0.0), in its order, so the same number,
    in about half the time of ``sum(map(mul, ...))`` on the demo's layers.  The operands
    θ, o, b are joined by two tuple concatenations, 10% faster than ``(*w, *x, bias)``.
    """
    u = _FIELDS.format(out="a", label="label", tag="tag", name='"dot"', prev="w + x + b1",
                       local="xd + wd1", arg="None")
    o = ""
    if activation is not None:
        op = OPS[activation]
        fields = _FIELDS.format(out="out", label="o_label", tag="o_tag", name=repr(op.name),
                                prev="u", local=_local(op.local),
                                arg="k" if op.k is not None else "None")
        o = _indent(_ACTIVATION.format(forward=op.forward, o_fields=_dedent(fields)), "        ")
    if n is None:
        unpack_x = unpack_w = ""
        total = "_sum(map(_mul, wd, xd), 0.0)"
    else:
        unpack_x = "    " + "".join(f"x_{i}, " for i in range(n)) + "= xd\n"
        unpack_w = "        " + "".join(f"w_{i}, " for i in range(n)) + "= wd\n"
        total = "0.0 + " + " + ".join(f"w_{i} * x_{i}" for i in range(n))
    return _DENSE.format(unpack_x=unpack_x, unpack_w=unpack_w, total=total,
                         u_fields=_indent(u, "    "), activation=o)


_SCOPE.update(_sum=_sum_left_to_right, _mul=_mul)
_dense_made: Dict[Tuple[Optional[str], Optional[int]], Callable[..., Tuple[List[Value], List[float]]]] = {}


#: One neuron, as ``dense`` takes it: (θ, (b,), θ's numbers, (*θ's numbers, 1.0), b's number).
Row = Tuple[Tuple[Value, ...], Tuple[Value], List[float], Tuple[float, ...], float]
#: One neuron's node names: (u label, u tag, o label, o tag).
Names = Tuple[str, object, str, object]


def dense(rows: Sequence[Row], x: Sequence[Value], xd: Sequence[float], activation: Optional[str],
          names: Sequence[Names], k: Optional[float] = None) -> Tuple[List[Value], List[float]]:
    """One neuron per row: u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i as a ``dot`` node, then o_i = σ(u_i) as a
    node of the one-operand op ``activation`` (with constant ``k``, leaky_relu's slope),
    or the u_i when ``activation`` is None, labelled and tagged as they are made.

    The nodes are exactly ``dot(θ_i, x, b_i)`` and the activation method's, made the cheap
    way: each input's number ``xd`` is read once for all rows, and each row comes ready, as
    ``(θ_i, (b_i,), θ_i's numbers, (*θ_i's numbers, 1.0), b_i's number)``, read once per batch.
    ``names`` gives each row's ``(u label, u tag, o label, o tag)``.  Returns the layer's
    outputs and their numbers (the next layer's ``x`` and ``xd``).
    """
    if _modes.active:  # a mode decides what each op does: the ops themselves, one by one
        return _dense_op_by_op(rows, x, activation, names, k)
    n = len(xd)
    make = _dense_made.get((activation, n))
    if make is None:
        make = _dense_for(activation, n)
    return make(rows, x, xd, names, k)


def _dense_for(activation: Optional[str], n: int) -> Callable[..., Tuple[List[Value], List[float]]]:
    """dense's fast path for ``activation`` and rows of ``n`` inputs, made on first use (one
    for all sizes beyond ``_UNROLL``)."""
    if activation is not None and (activation not in OPS or OPS[activation].arity != 1
                                   or OPS[activation].guard is not None):
        raise ValueError(f"dense: activation must be a one-operand op without a domain "
                         f"guard (relu, tanh, sigmoid, leaky_relu, ...), got {activation!r}")
    size = n if n <= _UNROLL else None
    make = _dense_made.get((activation, size))
    if make is None:
        inputs = "any number of" if size is None else n
        make = _define(_dense_source(activation, size), "_dense",
                       f"dense's fast path for {activation}, {inputs} inputs.")
    _dense_made[activation, size] = _dense_made[activation, n] = make
    return make


def _dense_op_by_op(rows: Sequence[Row], x: Sequence[Value], activation: Optional[str],
                    names: Sequence[Names], k: Optional[float]) -> Tuple[List[Value], List[float]]:
    """``dense`` through the ops themselves, so the modes entered decide what each does."""
    out = []
    for (w, (bias,), _, _, _), (label, tag, o_label, o_tag) in zip(rows, names):
        u = dot(w, x, bias)
        u.label, u.tag = label, tag
        if activation is not None:
            method = getattr(u, OPS[activation].methods[0])
            u = method() if k is None else method(k)
            u.label, u.tag = o_label, o_tag
        out.append(u)
    return out, [v._data for v in out]


# --- many Values' numbers at once (optimisers, compiled steps) ------------------------

def data_of(values: Iterable[Value]) -> List[float]:
    """Each Value's number, as a list, read straight from the slot (the checked ``.data``
    property costs a call per Value: 337 of them are a whole optimiser step's reads)."""
    return [v._data for v in values]


def assign(values: Sequence[Value], new: Iterable[float]) -> None:
    """Give ``values[i]`` the number ``new[i]``, checked as ``.data = ...`` checks it but
    without a property call per Value: how optimisers write their updates."""
    for v, number in zip(values, new):
        v._data = number if number.__class__ is float else _real(number, ".data")


def descend(values: Sequence[Value], steps: Sequence[float], rate: float) -> None:
    """``v ← v − rate·s`` for each Value and its step ``s``, in one pass: an optimiser's
    update without reading the numbers into a list first.  When ``rate`` is a float and
    every step a plain int or float (their ``sum`` is one) the results are floats, written
    as they are; otherwise each is checked as ``assign`` checks it, all before any is written."""
    try:
        total = sum(steps)
    except TypeError:  # not all numbers: the checked path says which
        total = None
    if rate.__class__ is float and (total.__class__ is float or total.__class__ is int):
        for v, s in zip(values, steps):
            v._data = v._data - rate * s
    else:
        new = [v._data - rate * s for v, s in zip(values, steps)]
        assign(values, [x if x.__class__ is float else _real(x, ".data") for x in new])


# --- copies and pickles (Value.__copy__, __deepcopy__, __reduce_ex__) ------------------

def _ancestors(root: Value) -> List[Value]:
    """``root`` and every node it was computed from, each after its operands (an iterative
    depth-first walk, so any depth works)."""
    order: List[Value] = []
    done: Set[int] = set()
    stack = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if id(v) in done:
            continue
        if expanded or v._prev is None:
            done.add(id(v))
            order.append(v)
            continue
        stack.append((v, True))
        stack.extend((p, False) for p in reversed(v.parents) if id(p) not in done)
    return order


def _stored(prev: Tuple[Value, ...], local: Sequence[float]) -> Tuple[Any, Any]:
    """Operands and their local derivatives (tuples) as a node stores them (see Value._prev)."""
    if not prev:
        return None, None
    return (prev[0], local[0]) if len(prev) == 1 else (prev, tuple(local))


def _copy_node(v: Value, prev: Tuple[Value, ...], tag: object) -> Value:
    """A new node with ``v``'s fields, operands ``prev`` and ``tag``."""
    new = _make(v.data, v._op, *_stored(prev, v.local_grads), v._arg)
    new.grad, new.label, new.tag = v.grad, v.label, tag
    return new


def _leaf(data: float, grad: float, label: str, tag: object, op: str, arg: Optional[float]) -> Value:
    """A leaf from its pickled fields."""
    v = _make(data, op, None, None, arg)
    v.grad, v.label, v.tag = grad, label, tag
    return v


def _graph(rows: List[Tuple[Any, ...]]) -> Value:
    """The last node of a pickled graph: rows of fields, oldest first, whose operands are
    earlier rows (by index) or leaves (Values)."""
    built: List[Value] = []
    for data, grad, label, tag, op, local, arg, parents in rows:
        prev = tuple(p if p.__class__ is Value else built[p] for p in parents)
        v = _make(data, op, *_stored(prev, local), arg)
        v.grad, v.label, v.tag = grad, label, tag
        built.append(v)
    return built[-1]


def _real(number: object, what: str) -> float:
    """``number`` as a float, or a TypeError naming ``what`` (a bool, a list, a string and
    a complex number are refused) or an OverflowError for an int too large for a float."""
    if number.__class__ is bool or not isinstance(number, numbers.Real):
        raise TypeError(f"{what} needs a real number (int or float), got "
                        f"{type(number).__name__}: {number!r}")
    try:
        return float(number)
    except OverflowError:
        text = repr(number)
        short = text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} digits)"
        raise OverflowError(f"{what}: {short} is too large for a float") from None


def _checked_label(text: object, what: str) -> str:
    """``text`` if it is a str that can be written out (UTF-8: no lone surrogates), else a
    TypeError or ValueError naming ``what`` and the offending value."""
    if text.__class__ is not str:
        if not isinstance(text, str):
            raise TypeError(f"{what} must be a str, got {type(text).__name__}: {text!r}")
        text = str(text)  # a str subclass: kept as the plain text it holds
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what} {text!r} cannot be written as UTF-8 ({e.reason} at "
                         f"position {e.start}): use text without lone surrogates") from None
    return text
