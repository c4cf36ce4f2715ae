"""``define_op``: a differentiable op of your own, added to the op table as a row like the rest.

Its forward function and its derivative function become helpers the row's expressions
call (``_fwd_<name>(a)``, ``_der_<name>(a, out)[0]``), so eager nodes, ``backward``,
``explain``, ``viz``, ``compile`` and ``grad(..., create_graph=True)`` all read it exactly as
they read a built-in row.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import keyword
import re
import textwrap
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from . import _codegen, validate
from .check import gradcheck
from .ops import BUILTINS, HELPERS, OPS, VALUE_HELPERS, Op
from .value import Value, _const, _node

__all__ = ["define_op", "DefinedOp"]

#: Points the definition is tried at (per operand) to check what the functions return.
_PROBES = (0.5, 1.25, -0.75, 2.0, 0.1)
_OPERANDS = ("a", "b")


class DefinedOp:
    """An op made by ``define_op``: call it on Values or numbers to get a new node.

    ``row`` is its entry of ``autograd.OPS``; ``gradcheck(*points)`` checks its derivative
    against central finite differences at one point (numbers), in one call.
    """

    def __init__(self, row: Op, forward: Callable[..., float],
                 derivative: Callable[..., Sequence[float]]) -> None:
        self.row = row
        self.name = row.name
        self.arity = row.arity
        self._forward = forward
        self._derivative = derivative
        self.__name__ = self.__qualname__ = row.name
        self.__doc__ = f"The user-defined op {row.name!r} ({row.rule})."

    def __repr__(self) -> str:
        return f"<op {self.name}: {self.arity} operand{'s' if self.arity > 1 else ''}, {self.row.rule}>"

    def __call__(self, *operands: Union[Value, float]) -> Value:
        if len(operands) != self.arity:
            raise TypeError(f"{self.name}() takes {self.arity} operand"
                            f"{'s' if self.arity > 1 else ''}, got {len(operands)}")
        prev = []
        for i, x in enumerate(operands):
            if x.__class__ is not Value:
                c = _const(x)
                if c is NotImplemented:
                    raise TypeError(f"{self.name}(): operand {i} must be a Value or a real "
                                    f"number, got {type(x).__name__}: {x!r:.60}")
                x = c
            prev.append(x)
        data = [p.data for p in prev]
        out = _number(self._forward(*data), f"{self.name}: forward's value")
        local = _locals(self.name, self._derivative(*data, out), self.arity)
        if self.arity == 1:  # one operand: held without a tuple, as the built-in ops hold it
            return _node(out, self.name, prev[0], local[0])
        return _node(out, self.name, tuple(prev), local)

    def gradcheck(self, *points: float, **tolerances: float) -> bool:
        """``autograd.gradcheck`` of this op at ``points`` (one number per operand)."""
        values = [Value(_number(p, f"{self.name}.gradcheck: point {i}"), _OPERANDS[i])
                  for i, p in enumerate(points)]
        return gradcheck(self, *values, **tolerances)


def _number(x: object, what: str) -> float:
    """A real number (nan and ±inf pass, as through any op), else a TypeError naming ``what``."""
    return x if x.__class__ is float else validate.real(x, what, finite=False)


def _locals(name: str, result: object, arity: int) -> Tuple[float, ...]:
    """The derivative function's result checked: a tuple of ``arity`` real numbers."""
    if not isinstance(result, (tuple, list)):
        raise TypeError(f"define_op {name!r}: derivative must return a tuple of {arity} "
                        f"number{'s' if arity > 1 else ''} (one per operand, e.g. (d,)), "
                        f"got {type(result).__name__}: {result!r:.60}")
    if len(result) != arity:
        raise TypeError(f"define_op {name!r}: derivative returned {len(result)} values for "
                        f"{arity} operand{'s' if arity > 1 else ''}; it must return one per operand")
    return tuple(_number(d, f"define_op {name!r}: derivative's value {i}") for i, d in enumerate(result))


def _positional(fn: Callable[..., object], name: str, what: str) -> int:
    """How many positional arguments ``fn`` takes (no defaults, no *args)."""
    if not callable(fn):
        raise TypeError(f"define_op {name!r}: {what} must be callable, got {type(fn).__name__}")
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        raise TypeError(f"define_op {name!r}: cannot read the signature of {what}; "
                        "pass a def or a lambda") from None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        raise TypeError(f"define_op {name!r}: {what} must name its arguments, not take *args")
    return sum(1 for p in params if p.kind in kinds and p.default is p.empty)


def _check_name(name: object) -> None:
    if name.__class__ is not str or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"define_op: name must be a Python identifier such as 'softsign', "
                         f"got {name!r}")
    if name in BUILTINS or name in ("const", ""):
        raise ValueError(f"define_op: {name!r} is a built-in op; choose another name")
    if name in OPS:
        raise ValueError(f"define_op: an op named {name!r} is already defined; choose another name")


def _probe(name: str, forward: Callable[..., float], derivative: Callable[..., Sequence[float]],
           arity: int) -> None:
    """Run both functions at a few points, so a wrong return shows at definition time.

    Points where the forward function raises (outside its domain) are skipped.
    """
    for point in itertools.islice(itertools.product(_PROBES, repeat=arity), 8):
        try:
            out = forward(*point)
        except (ArithmeticError, ValueError):
            continue
        out = _number(out, f"define_op {name!r}: forward's value")
        _locals(name, derivative(*point, out), arity)
        return


def _pieces(source: str) -> Iterator[str]:
    """Parsable candidates for the code around a lambda: from each ``lambda`` on, with the
    closing brackets and commas of the call it sits in trimmed off one by one."""
    text = source.strip()
    for start in [0] + [m.start() for m in re.finditer(r"\blambda\b", text)]:
        piece = text[start:]
        for _ in range(16):
            yield piece
            if not piece or piece[-1] not in "),;":
                break
            piece = piece[:-1].rstrip()


def _rules_from_source(derivative: Callable[..., object], arity: int) -> Optional[List[str]]:
    """The derivative's returned expressions as text (for ``viz`` and ``explain``), if readable."""
    try:
        source = textwrap.dedent(inspect.getsource(derivative))
    except (OSError, TypeError):
        return None
    for piece in _pieces(source):
        try:
            tree = ast.parse(piece)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            body = None
            if isinstance(node, ast.Lambda) and len(node.args.args) == arity + 1:
                body = node.body
            elif isinstance(node, ast.FunctionDef) and node.name == derivative.__name__:
                returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
                body = returns[0].value if len(returns) == 1 else None
            if isinstance(body, (ast.Tuple, ast.List)) and len(body.elts) == arity:
                return [ast.unparse(e) for e in body.elts]
    return None


def define_op(name: str, forward: Callable[..., float], derivative: Callable[..., Sequence[float]],
              *, rules: Optional[Sequence[str]] = None, symbol: Optional[str] = None) -> DefinedOp:
    """A new differentiable op of one or two operands, added to the op table.

    ``forward(a)`` (or ``forward(a, b)``) computes the value from numbers; ``derivative(a,
    out)`` (or ``derivative(a, b, out)``) returns the local derivatives ∂out/∂a (, ∂out/∂b)
    as a tuple.  Written with arithmetic that also works on Values (+ − × ÷ **, ``abs``,
    ``min``/comparisons on .data), the derivative is differentiable again, for
    ``grad(..., create_graph=True)``.  ``rules`` (the derivatives in words, one per operand)
    and ``symbol`` are what ``viz`` and ``explain`` show; by default the derivative's
    returned expressions and the name.  Returns the op, a callable::

        softsign = define_op("softsign", lambda a: a / (1 + abs(a)),
                             lambda a, out: (1 / (1 + abs(a)) ** 2,))
        y = softsign(x)
    """
    _check_name(name)
    arity = _positional(forward, name, "forward")
    if arity not in (1, 2):
        raise TypeError(f"define_op {name!r}: forward takes {arity} arguments; an op has 1 or 2 "
                        "operands")
    takes = _positional(derivative, name, "derivative")
    wanted = ", ".join(_OPERANDS[:arity]) + ", out"
    if takes != arity + 1:
        raise TypeError(f"define_op {name!r}: derivative takes {takes} argument"
                        f"{'s' if takes != 1 else ''} but must take {arity + 1}: ({wanted})")
    if rules is None:
        rules = _rules_from_source(derivative, arity) or [f"∂/∂{x} (user-defined)"
                                                          for x in _OPERANDS[:arity]]
    elif isinstance(rules, str) or len(rules) != arity or not all(isinstance(r, str) for r in rules):
        raise TypeError(f"define_op {name!r}: rules must be {arity} string"
                        f"{'s' if arity > 1 else ''}, one per operand, got {rules!r:.60}")
    _probe(name, forward, derivative, arity)
    fwd, der = f"_fwd_{name}", f"_der_{name}"
    operands = ", ".join(_OPERANDS[:arity])
    written = f"{name}(" + ", ".join("{" + x + "}" for x in _OPERANDS[:arity]) + ")"
    row = Op(name, arity, f"{fwd}({operands})",
             tuple(f"{der}({operands}, out)[{i}]" for i in range(arity)),
             symbol or name, tuple(rules), written)
    HELPERS[fwd] = VALUE_HELPERS[fwd] = forward
    HELPERS[der] = VALUE_HELPERS[der] = derivative
    OPS[name] = row
    _codegen._RULES[name] = _codegen._Rule(row)  # compile's templates of the row
    return DefinedOp(row, forward, derivative)

