"""``autograd.compile``: trace a function once, then run its forward and backward passes
as generated straight-line Python, the way ``jax.jit`` and ``torch.compile`` do for tensors.

    step = autograd.compile(fn, example_inputs)
    out = step(*inputs)        # forward + backward: adds ∂out/∂θ into every captured θ.grad

``fn`` runs once, on placeholder Values holding ``example_inputs``; every node it makes
is recorded, and the graph becomes code built from the op table's own templates (see
``autograd._codegen``).  What fn captured from outside (a model's parameters) are the
*variables*: read live on each call, their gradients accumulated like ``backward()``.
Values fn creates itself are *constants*, frozen at their trace-time value, and so is
any Python decision fn takes by looking at ``.data``.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import weakref
from collections.abc import Sequence as _SequenceABC
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Set, Tuple, Union

from . import _codegen
from . import modes as _modes
from .validate import is_real
from .value import Value

__all__ = ["compile", "Compiled", "traced", "batch_accumulator", "input_is_max"]

_FLOAT_ONLY = frozenset((float,))
_MAX_DEPTH = 64  # nesting of input lists; deeper is surely a mistake
_counter = itertools.count(1)

# A structure of inputs: None is one number; (n, children) a sequence of n items, where
# children is None when all n are numbers, else a tuple of n structures.
Spec = Optional[Tuple[int, Optional[Tuple["Spec", ...]]]]
#: fn's aux outputs: their Spec, or False when fn has none (``has_aux=False``).
AuxSpec = Union[Spec, Literal[False]]


class _Tracer:
    """Records every Value made while ``fn`` runs (the ops report to it; see modes)."""

    __slots__ = ("made", "frozen", "ops", "maxima")

    def __init__(self) -> None:
        self.made: Set[Value] = set()
        self.frozen: Set[Value] = set()
        self.ops: List[Value] = []  # the op results, in the order fn made them
        self.maxima: Dict[Value, Tuple[Value, ...]] = {}  # see input_is_max

    def record(self, v: Value) -> None:
        """An op made ``v`` (ops call this while tracing)."""
        self.made.add(v)
        if v._op == "" and v._prev is None:  # an op result under no_grad: a frozen number
            self.frozen.add(v)
        else:
            self.ops.append(v)

    def leaf(self, v: Value) -> None:
        """``Value(...)`` made ``v`` inside fn: a constant."""
        self.made.add(v)


def _is_comparison_error(e: TypeError) -> bool:
    text = str(e)
    return "not supported between instances of" in text and "'Value'" in text


def _trace(fn: Callable[..., Any], args: List[Any], tracer: _Tracer) -> Any:
    """Run ``fn(*args)`` with graph recording on (even inside a no_grad) and ``tracer`` set."""
    with _modes.tracing(tracer):
        try:
            return fn(*args)
        except TypeError as e:
            if _is_comparison_error(e):
                raise TypeError(
                    f"compile: fn compared a Value ({e}). Python branches on values are frozen "
                    "at trace time, so compiled code cannot take them; use an op that decides "
                    "per call (relu, abs, leaky_relu), or branch on plain numbers outside the "
                    "compiled function.") from e
            raise


# --- input structures ---------------------------------------------------------------

def _is_sequence(x: object) -> bool:
    return x.__class__ is list or x.__class__ is tuple or (
        isinstance(x, _SequenceABC) and not isinstance(x, (str, bytes, bytearray)))


def _where(path: Tuple[int, ...]) -> str:
    return f"input {path[0]}" + "".join(f"[{i}]" for i in path[1:])


def _spec_of(x: object, path: Tuple[int, ...], flat: List[float]) -> Spec:
    """The structure of example input ``x``; its numbers are appended to ``flat``."""
    if is_real(x):
        flat.append(float(x))
        return None
    if not _is_sequence(x):
        raise TypeError(f"compile: example {_where(path)} must be a number or a list of numbers "
                        f"(nested lists are fine), got {type(x).__name__}: {x!r:.80}")
    if len(path) > _MAX_DEPTH:
        raise TypeError(f"compile: example inputs are nested more than {_MAX_DEPTH} levels deep")
    children = tuple(_spec_of(c, path + (i,), flat) for i, c in enumerate(x))  # type: ignore
    if all(c is None for c in children):
        return (len(children), None)
    return (len(children), children)


def _describe(spec: Spec) -> str:
    if spec is None:
        return "a number"
    n, children = spec
    if children is None:
        return f"a list of {n} number{'' if n == 1 else 's'}"
    if all(c == children[0] for c in children):
        return f"a list of {n} items, each {_describe(children[0])}"
    return f"a list of {n} items ({', '.join(_describe(c) for c in children)})"


def _number(x: object, path: Tuple[int, ...]) -> float:
    if x.__class__ is float:
        return x
    if not is_real(x):
        raise TypeError(f"{_where(path)} must be a real number (int or float), got "
                        f"{type(x).__name__}: {x!r:.80}")
    return float(x)


def _put(x: object, spec: Spec, path: Tuple[int, ...], out: List[float]) -> None:
    """Check ``x`` has structure ``spec`` and append its numbers to ``out``."""
    if spec is None:
        out.append(_number(x, path))
        return
    n, children = spec
    if not _is_sequence(x):
        raise TypeError(f"{_where(path)} must be {_describe(spec)}, got {type(x).__name__}: "
                        f"{x!r:.80}")
    if len(x) != n:  # type: ignore[arg-type]
        raise TypeError(f"{_where(path)} must be {_describe(spec)}, got {len(x)} items")  # type: ignore
    if children is None:
        if set(map(type, x)) <= _FLOAT_ONLY:  # type: ignore[call-overload]
            out.extend(x)  # type: ignore[arg-type]
        else:
            out.extend(_number(v, path + (i,)) for i, v in enumerate(x))  # type: ignore
        return
    for i, (v, s) in enumerate(zip(x, children)):  # type: ignore[call-overload]
        _put(v, s, path + (i,), out)


def _rebuild(spec: Spec, flat: Any, container: type = list) -> Any:
    """The items of iterator ``flat`` arranged as ``spec`` (sequences as ``container``)."""
    if spec is None:
        return next(flat)
    n, children = spec
    if children is None:
        return container(itertools.islice(flat, n))
    return container(_rebuild(c, flat, container) for c in children)


# --- the compiled function -----------------------------------------------------------

class Compiled:
    """``fn`` compiled: call it with numbers shaped like ``example_inputs``.

    ``compiled(*inputs)`` returns the output value (a float) and adds this call's
    ∂out/∂θ into ``θ.grad`` for every variable θ (``compiled.variables``), exactly as
    ``backward()`` on the eager graph would.  ``input_grads=True`` also returns
    ∂out/∂input for every input number, shaped like the inputs.  ``forward(*inputs)``
    only computes the output.  ``source`` is the generated Python.
    """

    def __init__(self, fn: Callable[..., Any], graph: _codegen.Graph, spec: Tuple[Spec, ...],
                 aux_spec: AuxSpec) -> None:
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self._graph = graph
        self._spec = spec
        self._flat = all(s is None for s in spec)
        self._aux_spec = aux_spec
        self._variables = list(graph.variables)
        self._constants = tuple(graph.constants)
        self._namespace = _codegen.namespace()
        self._functions: Dict[str, Callable[..., Any]] = {}
        self._sources: Dict[str, str] = {}

    # what users inspect --------------------------------------------------------------
    @property
    def variables(self) -> Tuple[Value, ...]:
        """The Values fn captured from outside: read live each call, their ``.grad`` updated."""
        return tuple(self._variables)

    @property
    def constants(self) -> Tuple[Value, ...]:
        """Values made inside fn (by ``Value(...)`` or wrapping a number): frozen numbers."""
        return self._constants

    @property
    def n_inputs(self) -> int:
        """How many numbers one call takes, all inputs flattened."""
        return len(self._graph.input_nodes)

    @property
    def source(self) -> str:
        """The generated Python of a call: forward pass, then backward, one line per product."""
        self._function("step")
        return self._sources["step"]

    def source_for(self, *, backward: bool = True, input_grads: bool = False) -> str:
        """The generated Python of another kind of call: forward only, or with input gradients."""
        mode = "forward" if not backward else "input_grads" if input_grads else "step"
        self._function(mode)
        return self._sources[mode]

    def __repr__(self) -> str:
        computed = sum(1 for n in self._graph.nodes if n.kind is _codegen.COMPUTED)
        return (f"<compiled {self.__name__}: {self.n_inputs} inputs, {len(self._variables)} "
                f"variables, {computed} computed nodes>")

    # calling -------------------------------------------------------------------------
    def __call__(self, *inputs: Any, input_grads: bool = False) -> Any:
        """Output value; adds ∂out/∂θ into every variable's ``.grad``.

        With ``input_grads=True``: ``(output, grads)``, grads shaped like the inputs.
        With ``has_aux``: the output is ``(value, aux values)``.  Inside ``no_grad()``
        no gradient is computed or added (like eager, where no graph would be recorded).
        """
        flat = self._flatten(inputs)
        if _modes.active and not _modes.is_grad_enabled():
            if input_grads:
                raise RuntimeError("compiled: input_grads=True inside no_grad(); gradients are "
                                   "off there")
            return self._result(self._function("forward")(flat, self._variables))
        if input_grads:
            result = self._function("input_grads")(flat, self._variables)
            grads = iter(result[-1])
            shaped = tuple(_rebuild(s, grads, tuple) for s in self._spec)
            return self._result(result[:-1]), shaped
        step = self._functions.get("step") or self._function("step")
        return self._result(step(flat, self._variables))

    def function(self, mode: str = "step") -> Callable[..., Any]:
        """The generated function itself, ``fn(flat_inputs, variables)``, for callers that
        call it many times with inputs they checked once (``nn``'s compiled training step).

        ``mode`` is "step" (forward and backward), "forward" or "input_grads"; ``flat_inputs``
        is a list of floats (all inputs flattened), ``variables`` is ``self.variables``.  It
        returns what ``source`` shows: the output, then the aux values if any, unshaped.
        """
        if mode not in ("step", "forward", "input_grads"):
            raise ValueError(f"mode must be 'step', 'forward' or 'input_grads', got {mode!r}")
        return self._function(mode)

    def accumulator(self, params: Sequence[Value]) -> Optional[Callable[..., Any]]:
        """The step as ``fn(flat_inputs, (W, G))``: variable ``params[i]``'s number read from
        ``W[i]``, its gradient added into ``G[i]`` (not into ``.grad``), in the order
        ``backward`` adds it.  A loop over samples reads the numbers and writes the gradients
        once instead of once per call.  None when some variable is not in ``params`` (or is
        a computed Value made outside fn, whose backward must go on).
        """
        index = {id(p): i for i, p in enumerate(params)}
        if any(v._prev is not None or id(v) not in index for v in self._variables):
            return None
        order = [index[id(v)] for v in self._variables]
        source = _codegen.emit(self._graph, "accumulate", order, len(params))
        filename = f"<deltagrad.compile {_codegen._identifier(self.__name__)} #{next(_counter)}>"
        namespace = dict(self._namespace)
        exec(builtins.compile(source, filename, "exec"), namespace)
        self._sources["accumulate"] = source
        accumulate: Callable[..., Any] = namespace["accumulate"]
        # tracebacks show the generated line for as long as the function lives
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        weakref.finalize(accumulate, linecache.cache.pop, filename, None)
        return accumulate

    def forward(self, *inputs: Any) -> Any:
        """Only the output value (and aux values): no gradients computed or added."""
        return self._result(self._function("forward")(self._flatten(inputs), self._variables))

    def _result(self, result: Any) -> Any:
        if self._aux_spec is False:
            return result[0] if result.__class__ is tuple else result
        value, aux = result
        return value, _rebuild(self._aux_spec, iter(aux))

    def _flatten(self, inputs: Tuple[Any, ...]) -> Sequence[float]:
        spec = self._spec
        if len(inputs) != len(spec):
            what = "numbers" if self._flat else "; ".join(_describe(s) for s in spec)
            raise TypeError(f"compiled {self.__name__}() takes {len(spec)} input"
                            f"{'' if len(spec) == 1 else 's'} ({what}), got {len(inputs)}")
        if self._flat:
            if set(map(type, inputs)) <= _FLOAT_ONLY:
                return inputs
            return tuple(_number(x, (i,)) for i, x in enumerate(inputs))
        out: List[float] = []
        for i, (x, s) in enumerate(zip(inputs, spec)):
            _put(x, s, (i,), out)
        return out

    def _function(self, mode: str) -> Callable[..., Any]:
        """The generated function for ``mode`` (forward, step, input_grads), made on first use."""
        fn = self._functions.get(mode)
        if fn is None:
            source = _codegen.emit(self._graph, mode)
            filename = f"<deltagrad.compile {_codegen._identifier(self.__name__)} #{next(_counter)}>"
            try:
                code = builtins.compile(source, filename, "exec")
            except RecursionError:  # pragma: no cover  (expressions are kept short)
                raise TypeError(f"compile: the generated code for {self.__name__} is nested too "
                                "deeply for Python's compiler") from None
            exec(code, self._namespace)
            # Let tracebacks show the generated line, for as long as this object lives.
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            weakref.finalize(self, linecache.cache.pop, filename, None)
            fn = self._functions[mode] = self._namespace[mode]
            self._sources[mode] = source
        return fn


def input_is_max(placeholder: Value, operands: Sequence[Value]) -> None:
    """While ``compile`` traces fn: fn's input ``placeholder`` is, on every call, the largest
    of ``operands``' values (Python's ``max``, in that order), and passes no gradient back;
    the number the call gives for it is ignored.  For a shift that must follow the values
    rather than stay frozen at trace time, such as log-sum-exp's max: ``z - m`` with m a
    plain number is a constant, so fn uses ``z - placeholder`` instead, m's value each call.
    """
    tracer = _modes.current_tracer()
    if not isinstance(tracer, _Tracer):
        raise RuntimeError("input_is_max: only while autograd.compile traces a function")
    if placeholder.__class__ is not Value or placeholder._prev or placeholder in tracer.made:
        raise TypeError("input_is_max: placeholder must be one of fn's inputs")
    tracer.maxima[placeholder] = tuple(operands)


def batch_accumulator(compiled: Sequence[Compiled], params: Sequence[Value], *,
                      in_place: bool = False, l2: float = 0.0) -> Optional[Callable[..., Any]]:
    """Several compiled functions run in one loop over many calls: ``batch(rows, W, G)``.

    With one function, ``rows`` is a list of flat input lists; with several, a list of
    ``(k, inputs)``, each row run by ``compiled[k]``.  Variable ``params[i]``'s number is
    ``W[i]`` and its gradient is summed in a local that starts from ``G[i]`` and goes back
    into ``G`` at the end, product by product in the order ``backward`` adds them, so the
    floats are those of ``accumulator`` called once per row; numbers are read and gradients
    written once per loop, not per row.  Returns the list of each row's aux values (or
    output).  None when some variable is not in ``params`` (see ``accumulator``) or the
    loop would be too long for one function.

    ``in_place=True`` makes ``batch(rows) -> (results, Σθ²)`` for a whole training step: it
    reads the numbers from ``params`` themselves and *sets* their ``.grad`` (as
    ``zero_grad()`` then ``backward()`` would), each in one straight line of code rather
    than a loop over lists.  With ``l2`` > 0 the objective also has the penalty
    ``l2 * dot(params, params)``: the gradients start from its gradient, added as eager
    backward adds it (before the rows, which eager's tape meets later), and Σθ² is summed
    as dot sums it (0.0 when ``l2`` is 0); the caller adds ``l2 * Σθ²`` to the loss.
    """
    index = {id(p): i for i, p in enumerate(params)}
    orders = []
    for c in compiled:
        if any(v._prev or id(v) not in index for v in c._variables):
            return None
        orders.append([index[id(v)] for v in c._variables])
    n_inputs = max(len(c._graph.input_nodes) for c in compiled)
    names = _codegen.batch_names(params, n_inputs)
    source = _codegen.emit_batch([c._graph for c in compiled], orders, names, in_place, l2 > 0.0)
    if source is None:
        return None
    filename = f"<deltagrad.compile batch of {_codegen._identifier(compiled[0].__name__)} #{next(_counter)}>"
    namespace = _codegen.namespace()
    exec(builtins.compile(source, filename, "exec"), namespace)
    batch: Callable[..., Any] = (namespace["_make"](tuple(params), float(l2)) if in_place
                                 else namespace["batch"])
    batch.source = source  # type: ignore[attr-defined]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(batch, linecache.cache.pop, filename, None)
    return batch


def compile(fn: Callable[..., Any], example_inputs: Sequence[Any] = (), *,  # noqa: A001
            has_aux: bool = False) -> Compiled:
    """Trace ``fn`` once and return it compiled (see ``Compiled``).

    ``example_inputs`` gives fn's positional arguments: each a number, or a (nested)
    list of numbers such as a batch ``X`` of rows and its targets ``y``.  fn gets the
    same structure of placeholder Values (lists) and must return one Value, the output
    to differentiate; with ``has_aux=True`` it returns ``(output, aux)``, aux being Values
    (or nested lists of them) whose values each call also returns, such as predictions.

    The compiled function is valid for inputs of the same structure; Python decisions fn
    made on ``.data`` while tracing are frozen (like ``jax.jit``).
    """
    compiled = traced(fn, example_inputs, has_aux=has_aux)
    compiled.function("step")  # generated now, so that a call finds it ready
    return compiled


def traced(fn: Callable[..., Any], example_inputs: Sequence[Any] = (), *,
           has_aux: bool = False) -> Compiled:
    """``compile`` without generating any code yet: each kind of call's code is generated
    on first use.  For callers that only want one kind (``Compiled.accumulator``, say):
    generating and compiling Python is most of what compiling costs."""
    if not callable(fn):
        raise TypeError(f"compile: fn must be callable, got {type(fn).__name__}")
    if not _is_sequence(example_inputs):
        raise TypeError("compile: example_inputs must be a sequence with one entry per argument "
                        f"of fn (e.g. [0.5, -1.0] or (X, y)), got {type(example_inputs).__name__}")
    flat: List[float] = []
    spec = tuple(_spec_of(x, (i,), flat) for i, x in enumerate(example_inputs))
    placeholders = [Value(x, f"x_{i}") for i, x in enumerate(flat)]
    each = iter(placeholders)
    args = [_rebuild(s, each) for s in spec]
    tracer = _Tracer()
    result = _trace(fn, args, tracer)
    aux: List[Value] = []
    aux_spec: AuxSpec = False
    if has_aux:
        if result.__class__ is not tuple or len(result) != 2:
            raise TypeError("compile: with has_aux=True, fn must return (output, aux), got "
                            f"{type(result).__name__}")
        result, aux_obj = result
        aux_spec = _aux_spec(aux_obj, (), aux, tracer)
    if result.__class__ is not Value:
        raise TypeError(f"compile: fn must return a Value (the output to differentiate), got "
                        f"{type(result).__name__}" + (
                            "; return (output, aux) with has_aux=True to get more values back"
                            if result.__class__ is tuple else ""))
    graph = _codegen.Graph(result, aux, placeholders, tracer.made, tracer.frozen, tracer.ops,
                           tracer.maxima)
    return Compiled(fn, graph, spec, aux_spec)


def _aux_spec(x: object, path: Tuple[int, ...], out: List[Value], tracer: _Tracer) -> Spec:
    """Structure of fn's aux outputs: Values (numbers become constants) in nested lists."""
    if x.__class__ is Value:
        out.append(x)
        return None
    if is_real(x):
        v = Value(x)
        tracer.leaf(v)
        out.append(v)
        return None
    if not _is_sequence(x) or len(path) > _MAX_DEPTH:
        where = "aux" + "".join(f"[{i}]" for i in path)
        raise TypeError(f"compile: {where} must be a Value or a list of Values, got "
                        f"{type(x).__name__}")
    # (x is a sequence: _is_sequence above, which a type checker cannot see)
    return (len(x), tuple(_aux_spec(c, path + (i,), out, tracer)  # type: ignore[arg-type,var-annotated]
                          for i, c in enumerate(x)))  # type: ignore[arg-type]
