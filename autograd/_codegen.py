"""The code generator behind ``autograd.compile``: a traced graph becomes straight-line Python.

Forward pass: one assignment per computed node, pasted from its op's ``forward`` template
(``expand`` for sum and dot), after the op's ``guard`` when it has one.  Backward pass:
eager ``backward`` unrolled.  Nodes come newest first; a node c whose gradient d_c is
not 0 passes it to each operand p with one line ``d_p += d_c * (∂c/∂p)``, the local
derivative ∂c/∂p pasted from the op's ``local`` template.  The lines come in the order
eager backward adds the same products, so both give the same floats, and no derivative
rule is written here: every expression comes from ``autograd.ops``.

Only three things reach the source: the op table's templates, numbers written with
``repr(float)`` (``inf``/``nan`` by name), and names made from node tags and labels
reduced to ``[A-Za-z0-9_]`` (never a keyword, builtin, helper or internal name).
"""

from __future__ import annotations

import builtins
import io
import keyword
import math
import re
import tokenize
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .graph import walk
from .ops import HELPERS, OPS, Op
from .value import Value

__all__ = ["Graph", "emit", "emit_batch", "batch_names", "namespace", "literal", "MAX_TERMS", "MAX_LINES"]

#: Most operands one generated ``+`` chain may have: CPython's compiler recurses once per
#: ``+``, so a sum of thousands of terms is written as a chain of partial sums.
MAX_TERMS = 100
#: Most lines in one generated function; bigger programs are split into parts that pass
#: the values they share through a list.  Splitting costs time per call (the shared
#: values travel), so only programs beyond what a 100-sample MLP step needs are split;
#: one function of many hundred thousand lines would compile slowly, into a huge frame.
MAX_LINES = 100_000

# Kinds of node in a compiled graph.
INPUT = "input"          # a placeholder for one of the compiled function's inputs
VARIABLE = "variable"    # a leaf Value captured from outside fn: read live, gets .grad
OUTSIDE = "outside"      # a computed Value made before tracing: read as is, backward continues
CONST = "const"          # a number frozen at trace time (made inside fn, or only from constants)
COMPUTED = "computed"    # a node fn computed from its operands: becomes a line of code


_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | frozenset(HELPERS)


def _identifier(text: str) -> str:
    """``text`` reduced to ``[A-Za-z0-9_]`` (other runs become one ``_``), at most 40 chars."""
    return _UNSAFE.sub("_", text).strip("_")[:40].rstrip("_")


# --- the op table's expressions as format strings -------------------------------------

_OPERANDS = ("a", "b", "k", "out")


def _template(expr: str) -> str:
    """``expr`` with its operand names (a, b, k, out) turned into ``str.format`` fields."""
    pieces: List[str] = []
    pos, prev = 0, ""
    for tok in tokenize.generate_tokens(io.StringIO(expr).readline):
        if tok.type == tokenize.NAME and tok.string in _OPERANDS and prev != ".":
            start, end = tok.start[1], tok.end[1]
            pieces.append(expr[pos:start].replace("{", "{{").replace("}", "}}"))
            pieces.append("{" + tok.string + "}")
            pos = end
        prev = tok.string
    pieces.append(expr[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces)


class _Rule:
    """A fixed-arity op's templates, ready to be filled with operand names."""

    __slots__ = ("forward", "local", "guard", "error")

    def __init__(self, op: Op) -> None:
        self.forward = _template(op.forward)
        self.local = tuple(_template(e) for e in op.local)
        self.guard = _template(op.guard[0]) if op.guard else None
        self.error = "_err_" + _identifier(op.name)


_RULES: Dict[str, _Rule] = {name: _Rule(op) for name, op in OPS.items() if op.expand is None}


#: Each guarded op's error maker, made once (compiling one takes a ``compile()`` call).
_ERROR_MAKERS: Dict[Tuple[str, Any], Callable[..., BaseException]] = {}


def _error_maker(op: Op) -> Callable[..., BaseException]:
    """``(a, b, k) -> exception`` with the guard's own type and message, as eager raises it."""
    made = _ERROR_MAKERS.get((op.name, op.guard))
    if made is not None:
        return made
    _, exc, message = op.guard  # type: ignore[misc]
    scope: Dict[str, object] = {"_E": exc}
    source = f"def _make(a, b, k):\n    return _E(f{message!r})\n"
    exec(builtins.compile(source, f"<deltagrad guard {op.name}>", "exec"), scope)
    maker: Callable[..., BaseException] = scope["_make"]  # type: ignore[assignment]
    _ERROR_MAKERS[op.name, op.guard] = maker
    return maker


def namespace() -> Dict[str, Any]:
    """The globals generated code runs with: the op table's helpers and guard errors."""
    from .graph import backward
    ns: Dict[str, Any] = dict(HELPERS)
    for op in OPS.values():
        if op.guard is not None and op.expand is None:
            ns[_RULES[op.name].error] = _error_maker(op)
    ns["_backward"] = backward
    return ns


def literal(x: float) -> str:
    """A float as source text that evaluates to exactly it (``inf``/``nan`` are helper names)."""
    if x != x:
        return "nan"
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "(-inf)"
    text = repr(float(x))
    return "(" + text + ")" if text[0] == "-" else text


# --- safe names ----------------------------------------------------------------------

def _base_name(v: Value) -> str:
    """A readable name from the node's tag (``("u", 1, 3)`` -> ``u_1_3``) or label, or ""."""
    tag = v.tag
    if tag is None:
        return _identifier(v.label) if v.label else ""
    if tag.__class__ is tuple and tag and isinstance(tag[0], str):
        parts = [str(t) for t in tag if isinstance(t, str) or t.__class__ is int]
        name = _identifier("_".join(parts))
        if name:
            return name
    return _identifier(v.label) if v.label.__class__ is str else ""


class _Names:
    """Hands out unique, safe local names; ``d_`` + name is always free for the gradient."""

    def __init__(self) -> None:
        self.taken: Set[str] = set()
        self.count: Dict[str, int] = {}

    def claim(self, base: str) -> str:
        if base[0].isdigit() or base.startswith("d_"):
            base = "n_" + base
        name = base
        if name in self.taken or name in _RESERVED:
            n = self.count.get(base, 1)
            while name in self.taken or name in _RESERVED:
                n += 1
                name = f"{base}__{n}"
            self.count[base] = n
        self.taken.add(name)
        return name


# --- the graph, as compile sees it -----------------------------------------------------

class Node:
    """One node: its ``kind``, local ``name``, ``op`` and operand indices, constant ``k``
    (``arg``), frozen ``value`` (constants) and ``slot`` (index of its input or variable)."""

    __slots__ = ("kind", "name", "op", "parents", "arg", "value", "slot")
    # op is None on nodes that are not COMPUTED, and only COMPUTED nodes' op is ever read.
    op: Op

    def __init__(self, kind: str, name: str = "", op: Optional[Op] = None,
                 parents: Tuple[int, ...] = (), arg: Optional[float] = None,
                 value: float = 0.0, slot: int = -1) -> None:
        self.kind, self.name, self.op, self.parents = kind, name, op, parents  # type: ignore[assignment]
        self.arg, self.value, self.slot = arg, value, slot


class Graph:
    """The traced graph from ``root`` (then the ``aux`` outputs), in topological order.

    The walk is the one eager ``backward`` does (depth first, operands in order), so the
    first ``n_root`` nodes are exactly the root's ancestors in eager's order.  It stops at
    nodes not made while tracing: those are inputs, variables or outside Values.  Then come
    the ops in ``unused`` (every op fn made, in order) that neither the root nor aux needs:
    compiled code computes them too, in the order fn made them (``forward_order``), so that
    an op that raises in eager (``x.log()`` at x < 0, its result thrown away) raises when
    compiled, and of two that would raise, the same one.
    """

    def __init__(self, root: Value, aux: Sequence[Value], inputs: Sequence[Value],
                 made: Set[Value], frozen: Set[Value], unused: Sequence[Value] = (),
                 maxima: Optional[Dict[Value, Tuple[Value, ...]]] = None) -> None:
        self.nodes: List[Node] = []
        self.variables: List[Value] = []
        self.constants: List[Value] = []
        self._index: Dict[Value, int] = {}
        self._input_slot = {v: i for i, v in enumerate(inputs)}
        self._made, self._frozen = made, frozen
        self.input_nodes = [-1] * len(inputs)
        seen: Set[Value] = set()
        self._walk((root,), seen)
        self.n_root = len(self.nodes)
        self._walk(aux, seen)
        self._walk(unused, seen)  # ops fn made but out and aux do not use: forward only
        self.root = self._index[root]
        self.aux = [self._index[a] for a in aux]
        self.forward_order = self._forward_order(unused)
        #: input node -> the nodes whose largest value it is, computed on each call
        self.maxima = self._maxima(maxima or {})
        self._name_nodes(len(inputs))
        del self._index, self._made, self._frozen, self._input_slot

    def _walk(self, roots: Sequence[Value], seen: Set[Value]) -> None:
        """Add the nodes of ``roots``' graphs not in ``seen`` (graph.walk, stopping where fn began)."""
        made, slots = self._made, self._input_slot

        def parents(v: Value) -> Tuple[Value, ...]:
            return v.parents if v in made and v not in slots else ()

        for v in walk(roots, parents, seen):
            self._index[v] = len(self.nodes)
            self.nodes.append(self._node(v))

    def _maxima(self, maxima: Dict[Value, Tuple[Value, ...]]) -> Dict[int, Tuple[int, ...]]:
        """``compile.input_is_max``'s records as node indices (inputs the graph uses only)."""
        out = {}
        for placeholder, operands in maxima.items():
            i = self._index.get(placeholder)
            if i is None:
                continue
            if self.nodes[i].kind is not INPUT:
                raise TypeError("compile: input_is_max was given a Value that is not an input")
            if any(v not in self._index for v in operands):
                raise TypeError("compile: input_is_max was given a Value the output does not "
                                "depend on")
            out[i] = tuple(map(self._index.__getitem__, operands))
        return out

    def _forward_order(self, made_in_order: Sequence[Value]) -> List[int]:
        """The computed nodes in the order fn made them (when known), so that of two ops
        that would raise, the one eager meets first raises; else in the walk's order."""
        computed = [i for i, node in enumerate(self.nodes) if node.kind is COMPUTED]
        index = self._index
        position = {index[v]: k for k, v in enumerate(made_in_order) if v in index}
        if all(i in position for i in computed):
            computed.sort(key=position.__getitem__)
        return computed

    def _node(self, v: Value) -> Node:
        slot = self._input_slot.get(v)
        if slot is not None:
            self.input_nodes[slot] = len(self.nodes)
            return Node(INPUT, slot=slot)
        if v._op == "const":
            self.constants.append(v)
            return Node(CONST, value=v.data)
        if v not in self._made:  # captured from outside fn
            self.variables.append(v)
            slot = len(self.variables) - 1
            return Node(VARIABLE if v._prev is None else OUTSIDE, _base_name(v) or f"v{slot}", slot=slot)
        if v._prev is None:
            if v in self._frozen:
                raise TypeError(
                    "compile: fn computed a Value inside no_grad(); compiled code cannot redo "
                    f"that on each call (it would stay {v.data!r} forever). Compute it outside "
                    "fn and pass it in as an input, or drop the no_grad().")
            if v._op == "":
                self.constants.append(v)
            return Node(CONST, value=v.data)
        op = OPS.get(v._op)
        if op is None:
            raise TypeError(f"compile: the graph has a node of unknown op {v._op!r}; "
                            f"known ops: {', '.join(OPS)}")
        parents = tuple(map(self._index.__getitem__, v.parents))
        if all(self.nodes[p].kind is CONST for p in parents):
            return Node(CONST, value=v.data)  # only constants in: fold it to its value
        return Node(COMPUTED, _base_name(v), op=op, parents=parents, arg=v._arg)

    def _name_nodes(self, n_inputs: int) -> None:
        """Turn the base names found during the walk into unique, safe local names."""
        names = _Names()
        for i in range(n_inputs):
            names.claim(f"x_{i}")
        counter = 0
        for node in self.nodes:
            if node.kind is INPUT:
                node.name = f"x_{node.slot}"
            elif node.kind is VARIABLE or node.kind is OUTSIDE:
                node.name = names.claim(node.name)
            elif node.kind is COMPUTED:
                counter += 1
                node.name = names.claim(node.name or f"{_identifier(node.op.name)}_{counter}")


# --- emitting code -------------------------------------------------------------------

class _Unit:
    """Lines that stay together (a statement, or an ``if`` block) and the names they set."""

    __slots__ = ("lines", "defs")

    def __init__(self, lines: List[str], defs: Iterable[str] = ()) -> None:
        self.lines = lines
        self.defs = tuple(defs)


def _chunks(items: Sequence[str]) -> Iterable[Tuple[str, ...]]:
    """``items`` in runs of at most MAX_TERMS (one generated line each)."""
    for i in range(0, len(items), MAX_TERMS):
        yield tuple(items[i:i + MAX_TERMS])


class _Emitter:
    def __init__(self, g: Graph, mode: str, order: Optional[Sequence[int]] = None,
                 local_grads: bool = False) -> None:
        self.g = g
        self.mode = mode
        self.ref = [literal(n.value) if n.kind is CONST else n.name for n in g.nodes]
        self.units: List[_Unit] = []
        # "accumulate": the variables' gradients go straight into _G[i] (i = order[slot]);
        # with local_grads, into their d_NAME, which hold the running sums (emit_batch)
        self.order = order
        self.grad = ["d_" + n.name if order is None or n.kind is not VARIABLE or local_grads
                     else f"_G[{order[n.slot]}]" for n in g.nodes]

    # forward ----------------------------------------------------------------------
    def _subs(self, node: Node, name: str) -> Dict[str, str]:
        p = node.parents
        return {"a": self.ref[p[0]], "b": self.ref[p[1]] if len(p) > 1 else "None",
                "k": literal(node.arg) if node.arg is not None else "None", "out": name}

    def forward(self) -> None:
        self.units.append(_Unit(["# forward pass: one line per node"]))
        pending = dict(self.g.maxima)
        done: Set[int] = set()
        for i in self.g.forward_order:
            node = self.g.nodes[i]
            if pending:
                self._maximum(node, pending, done)
            done.add(i)
            op = node.op
            if op.expand is not None:
                self._nary_forward(node)
                continue
            rule = _RULES[op.name]
            s = self._subs(node, node.name)
            lines = []
            if rule.guard is not None:
                lines.append(f"if {rule.guard.format(**s)}: "
                             f"raise {rule.error}({s['a']}, {s['b']}, {s['k']})")
            lines.append(f"{node.name} = {rule.forward.format(**s)}")
            self.units.append(_Unit(lines, (node.name,)))

    def _maximum(self, node: Node, pending: Dict[int, Tuple[int, ...]], done: Set[int]) -> None:
        """Before ``node``, the line computing any input of it that is a maximum of others."""
        for p in node.parents:
            operands = pending.pop(p, None)
            if operands is None:
                continue
            nodes = self.g.nodes
            if any(nodes[o].kind is COMPUTED and o not in done for o in operands):
                raise TypeError("compile: input_is_max: an input is used before the Values "
                                "whose maximum it is were computed")
            name = self.ref[p]
            self.units.append(_Unit([f"{name} = max({', '.join(self.ref[o] for o in operands)})"],
                                    (name,)))

    def _nary_forward(self, node: Node) -> None:
        """sum and dot; beyond MAX_TERMS operands, a chain of partial results.

        Each partial is the op's own expansion with the running result as its first term
        (its other factors 1.0: for dot, the term 1.0·partial), so the terms are still added
        left to right, exactly as one long expression (and eager) would add them.
        """
        op, name = node.op, node.name
        names = [self.ref[p] for p in node.parents]
        # Eager adds the terms to a running total that starts at 0.0; adding 0.0 at the end
        # gives the same bits, zero signs included (a sum of -0.0 terms is 0.0, as in eager).
        if len(names) <= MAX_TERMS:
            # (``expand`` is None only for ops that are not n-ary, which forward sends elsewhere)
            self.units.append(_Unit([f"{name} = {op.expand(names)[0]} + 0.0"], (name,)))  # type: ignore[misc]
            return
        runs, tail = op.parts(names)
        step = MAX_TERMS // op.width
        for i in range(0, len(runs[0]), step):
            chunk = [list(run[i:i + step]) for run in runs]
            if i:  # the partial so far comes first
                for run in chunk[:-1]:
                    run.insert(0, "1.0")
                chunk[-1].insert(0, name)
            operands = [x for run in chunk for x in run]
            last = i + step >= len(runs[0])
            if last:
                operands += tail
            tail_add = " + 0.0" if last else ""
            self.units.append(_Unit([f"{name} = {op.expand(operands)[0]}{tail_add}"], (name,)))  # type: ignore[misc]

    # backward ---------------------------------------------------------------------
    def _locals(self, node: Node) -> Sequence[str]:
        """∂node/∂operand for each operand, as source text."""
        if node.op.expand is not None:
            return node.op.expand([self.ref[p] for p in node.parents])[1]
        s = self._subs(node, node.name)
        return [t.format(**s) for t in _RULES[node.op.name].local]

    def backward(self, want_inputs: bool, skip_rest: bool = False) -> None:
        """The backward pass's lines.  ``skip_rest`` (a loop's body): before a node through
        which all the remaining gradient flows, ``if not d_NAME: continue`` (a 0 there
        would pass nothing on, so nothing else would change)."""
        g, nodes = self.g, self.g.nodes
        n = g.n_root
        needs = [False] * n
        uses = [0] * n  # how many products each node's gradient will receive
        for i in range(n):
            node = nodes[i]
            kind = node.kind
            if kind is COMPUTED:
                needs[i] = any(needs[p] for p in node.parents)
                if needs[i]:
                    for p in node.parents:
                        uses[p] += 1
            else:
                needs[i] = kind is VARIABLE or kind is OUTSIDE or (
                    kind is INPUT and want_inputs and i not in g.maxima)  # a maximum: no gradient
        self.needs = needs
        root = g.root
        if not needs[root]:
            return
        self.units.append(_Unit([
            "# backward pass: d_NAME accumulates ∂out/∂NAME (for a neuron's u, its δ), newest",
            "# node first; a node whose gradient is 0 passes nothing on, as in backward();",
            "# a variable's d_ starts from its .grad, because gradients accumulate"]))
        started = [False] * n
        droot = self.grad[root]
        if nodes[root].kind is COMPUTED:
            self.units.append(_Unit([f"{droot} = 1.0"], (droot,)))
        else:  # the output is a leaf: it only receives the seed
            self._start([root], started)
            self.units.append(_Unit([f"{droot} += 1.0"], (droot,)))
        pending = {root}  # computed nodes given a gradient but not yet passed it on
        for c in range(root, -1, -1):
            node = nodes[c]
            if node.kind is not COMPUTED or not needs[c]:
                continue
            targets = [(pos, p) for pos, p in enumerate(node.parents) if needs[p]]
            local = self._locals(node)
            dc = "d_" + node.name
            pending.discard(c)
            if skip_rest and not pending and c != root:
                self.units.append(_Unit([f"if not {dc}: continue"]))
            pending.update(p for _, p in targets if nodes[p].kind is COMPUTED)
            if (len(targets) == 1 and uses[targets[0][1]] == 1
                    and nodes[targets[0][1]].kind is COMPUTED):
                # The only product this operand gets (a neuron's u from its o, say): one line.
                # Only for computed nodes: eager adds the product to 0.0, which turns a -0.0
                # into 0.0; a computed node's zero gradient passes nothing on, so its sign is
                # never seen, but an input's gradient is returned and an outside node's is
                # handed to backward, so those accumulate from 0.0 as eager does.
                pos, p = targets[0]
                dp = self.grad[p]
                started[p] = True
                line = f"{dp} = {_product(dc, local[pos])}"
                self.units.append(_Unit([line if c == root else line + f" if {dc} else 0.0"], (dp,)))
                continue
            self._start([p for _, p in targets], started)
            lines = []
            for pos, p in targets:
                d = local[pos]
                dp = self.grad[p]
                if d == "-1.0":
                    lines.append(f"{dp} -= {dc}")
                else:
                    lines.append(f"{dp} += {_product(dc, d)}")
            defs = [self.grad[p] for _, p in targets if not self.grad[p].startswith("_G")]
            if c == root:  # its gradient is 1.0: nothing to test
                self.units.append(_Unit(lines, defs))
                continue
            # (a block too long for a part is cut into several, each under its own `if`)
            self.units.append(_Unit([f"if {dc}:"] + ["    " + line for line in lines], defs))

    def _start(self, targets: List[int], started: List[bool]) -> None:
        """Set up the accumulators receiving their first contribution: 0.0, or .grad."""
        fresh = []
        for p in targets:
            if started[p]:
                continue
            started[p] = True
            node = self.g.nodes[p]
            if node.kind is VARIABLE and self.order is not None:
                continue  # its _G[i] already holds what earlier calls added
            if node.kind is VARIABLE:
                self.units.append(_Unit([f"d_{node.name} = _V[{node.slot}].grad"],
                                        ("d_" + node.name,)))
            else:
                fresh.append("d_" + node.name)
        for chunk in _chunks(fresh):
            self.units.append(_Unit([" = ".join(chunk) + " = 0.0"], chunk))

    def finish(self, want_inputs: bool, backward: bool) -> None:
        g, nodes = self.g, self.g.nodes
        if backward and self.needs[g.root]:
            lines = []
            for i in range(g.n_root):
                node = nodes[i]
                if self.needs[i] and node.kind is VARIABLE and self.order is None:
                    lines.append(f"_V[{node.slot}].grad = d_{node.name}")
            for i in range(g.n_root):
                node = nodes[i]
                if self.needs[i] and node.kind is OUTSIDE:
                    lines.append(f"_backward(_V[{node.slot}], d_{node.name})")
            if lines:
                self.units.append(_Unit(["# the variables' gradients go back into their .grad"]))
                self.units.append(_Unit(lines))
        result = [self.ref[g.root]]
        if g.aux:
            result.append(_tuple(self.ref[a] for a in g.aux))
        if want_inputs:
            grads = []
            for i in g.input_nodes:
                ok = 0 <= i < g.n_root and backward and self.needs[g.root] and self.needs[i]
                grads.append("d_" + nodes[i].name if ok else "0.0")
            result.append(_tuple(grads))
        self.units.append(_Unit(["return " + ", ".join(result)]))


def _product(grad: str, local: str) -> str:
    """``grad * local`` as source (×1.0 dropped: exact), parenthesised where needed."""
    if local == "1.0":
        return grad
    if _ATOM.match(local):
        return f"{grad} * {local}"
    return f"{grad} * ({local})"


_ATOM = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9.e+-]*|\((?:-[0-9][0-9.e+-]*|-inf)\))$")

_NAME = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_]*")


def _tuple(items: Iterable[str]) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def emit(g: Graph, mode: str, order: Optional[Sequence[int]] = None, n_weights: int = -1) -> str:
    """Source of a function ``mode(_X, _V)`` for ``mode`` in forward, step, input_grads,
    accumulate.

    ``_X`` is the flat tuple of input numbers, ``_V`` the list of variables.  It returns
    the output value, then (if the graph has aux outputs) their values, then (for
    input_grads) ∂out/∂x for every input; step and input_grads add the gradients into the
    variables' ``.grad``.  For accumulate, ``_V`` is a pair ``(_W, _G)`` of lists: variable
    ``slot``'s number is ``_W[order[slot]]`` and its gradient is added into
    ``_G[order[slot]]``, product by product in eager's order (a step over many samples reads
    the numbers once and writes the ``.grad`` once, not once per call); ``n_weights`` is
    ``len(_W)``.
    """
    e = _Emitter(g, "step" if mode == "accumulate" else mode, order)
    e.forward()
    backward = mode != "forward"
    want_inputs = mode == "input_grads"
    if backward:
        e.backward(want_inputs)
    e.finish(want_inputs, backward)
    return _assemble(g, mode, e.units, order, n_weights)


def batch_names(params: Sequence[Value], n_inputs: int) -> List[str]:
    """A local name for each of ``params`` (from its tag or label), clear of x_0..x_(n-1)."""
    names = _Names()
    for i in range(n_inputs):
        names.claim(f"x_{i}")
    return [names.claim(_base_name(p) or f"v{i}") for i, p in enumerate(params)]


def _body(g: Graph, order: Sequence[int], names: Sequence[str]) -> List[str]:
    """One compiled sample as lines of a loop's body: its inputs from ``_X``, forward and
    backward with variable ``slot`` named ``names[order[slot]]`` (its gradient the running
    sum ``d_`` + name), and its aux outputs (or output) appended to the results."""
    saved = [node.name for node in g.nodes]
    taken = _Names()
    for i in range(len(g.input_nodes)):
        taken.claim(f"x_{i}")
    for name in names:
        taken.claim(name)
    for node in g.nodes:
        if node.kind is VARIABLE:
            node.name = names[order[node.slot]]
        elif node.kind is COMPUTED:
            node.name = taken.claim(node.name)
    try:
        e = _Emitter(g, "step", order, local_grads=True)
        e.forward()
        results = [e.ref[a] for a in g.aux] if g.aux else [e.ref[g.root]]
        # the row's results first: its backward may end early (``continue``)
        e.units.append(_Unit([f"_append({_tuple(results) if g.aux else results[0]})"]))
        e.backward(False, skip_rest=True)
    finally:
        for node, name in zip(g.nodes, saved):
            node.name = name
    lines = []
    if g.input_nodes:
        inputs = ["_" if i < 0 or i in g.maxima else g.nodes[i].name for i in g.input_nodes]
        lines.append(", ".join(inputs) + ("," if len(inputs) == 1 else "") + " = _X")
    lines += [line for u in e.units for line in u.lines]
    return lines


def emit_batch(graphs: Sequence[Graph], orders: Sequence[Sequence[int]],
               names: Sequence[str], in_place: bool = False, l2: bool = False) -> Optional[str]:
    """Source of ``batch(_R, _W, _G)``, which runs compiled samples in one loop: for one
    graph ``_R`` is a list of flat input lists, for several a list of ``(k, inputs)`` that
    runs ``graphs[k]``.  Variable ``slot`` of graph k is ``_W[orders[k][slot]]``; the
    gradients are summed in locals, product by product in eager's order, starting from
    ``_G`` and written back into it at the end.  It returns each row's aux values (its
    output if the graph has none).  None when the loop's body would exceed MAX_LINES.

    ``in_place``: the source of ``_make(_P, _l2)``, which returns ``batch(_R)``: it reads
    ``_P[i]``'s number from the Value, starts its gradient afresh (with ``l2``, from
    ∂(_l2·Σθ²)/∂θ as eager's ``_l2 * dot(θ, θ)`` gives it), sets ``_P[i].grad`` at the end,
    one straight line per parameter, and returns ``(results, Σθ²)`` (Σθ² is 0.0 without l2).
    """
    bodies = [_body(g, order, names) for g, order in zip(graphs, orders)]
    if sum(map(len, bodies)) > MAX_LINES:
        return None
    lines = _batch_prologue(names, in_place, l2)
    lines += ["_out = []", "_append = _out.append"]
    if len(bodies) == 1:
        lines.append("for _X in _R:")
        lines += ["    " + line for line in bodies[0]]
    else:
        lines.append("for _k, _X in _R:")
        for k, body in enumerate(bodies):
            lines.append(f"    {'if' if k == 0 else 'elif'} _k == {k}:")
            lines += ["        " + line for line in body]
    if in_place:
        lines += [f"_P[{i}].grad = d_{name}" for i, name in enumerate(names)]
        lines.append(f"return _out, {'_sq' if l2 else '0.0'}")
        head = ["def _make(_P, _l2):", "    def batch(_R):"]
        return "\n".join(head + ["        " + line for line in lines] + ["    return batch"]) + "\n"
    grads = ", ".join("d_" + name for name in names) + ("," if len(names) == 1 else "")
    lines += [f"_G[:] = {grads}", "return _out"]
    return "\n".join(["def batch(_R, _W, _G):"] + ["    " + line for line in lines]) + "\n"


def _batch_prologue(names: Sequence[str], in_place: bool, l2: bool) -> List[str]:
    """A batch's first lines: each parameter's number, and its gradient's starting value."""
    lines = ["# the variables' numbers, and their gradients so far (summed in locals)"]
    if not in_place:
        unpack = ", ".join(names) + ("," if len(names) == 1 else "")
        grads = ", ".join("d_" + name for name in names) + ("," if len(names) == 1 else "")
        return lines + [f"{unpack} = _W", f"{grads} = _G"]
    # one unpacking each, not a line per parameter: as fast to run, and CPython compiles
    # a 1,185-parameter network's batch ~20 ms sooner
    comma = "," if len(names) == 1 else ""
    lines += ["_W = [_p._data for _p in _P]", ", ".join(names) + comma + " = _W"]
    if not l2:
        return lines + [" = ".join("d_" + name for name in names) + " = 0.0"]
    # eager: θ.grad = 0.0, then dot(θ, θ)'s backward adds a = _l2·θ twice: (0.0 + a) + a
    # is (a + a) + 0.0 to the bit (the + 0.0 turns a -0.0 into 0.0 as eager's start does)
    lines.append(", ".join("d_" + name for name in names) + comma
                 + " = [(_a := _t * _l2) + _a + 0.0 for _t in _W]")
    lines.append("# Σθ², added left to right from 0.0 as dot's forward adds it")
    lines.append("_sq = 0.0")
    for i in range(0, len(names), 16):
        lines.append("_sq = _sq + " + " + ".join(f"{n} * {n}" for n in names[i:i + 16]))
    return lines


def _preamble(g: Graph, used: Optional[Set[str]], order: Optional[Sequence[int]] = None,
              n_weights: int = -1) -> List[str]:
    """Lines reading the inputs and the variables' .data (all of them, or those in ``used``)."""
    lines = [] if order is None else ["_W, _G = _V"]
    if used is None:
        if g.input_nodes:
            names = ["_" if i < 0 or i in g.maxima else g.nodes[i].name for i in g.input_nodes]
            lines.append(", ".join(names) + ("," if len(names) == 1 else "") + " = _X")
    else:
        for slot, i in enumerate(g.input_nodes):
            if i >= 0 and i not in g.maxima and g.nodes[i].name in used:
                lines.append(f"{g.nodes[i].name} = _X[{slot}]")
    if used is None and order is not None and sorted(order) == list(range(n_weights)):
        names = [""] * len(order)  # every number of _W is a variable's: one unpacking
        for node in g.nodes:
            if node.kind is VARIABLE:
                names[order[node.slot]] = node.name
        return lines + [", ".join(names) + ("," if len(names) == 1 else "") + " = _W"]
    for node in g.nodes:
        if (node.kind is VARIABLE or node.kind is OUTSIDE) and (used is None or node.name in used):
            lines.append(f"{node.name} = _V[{node.slot}].data" if order is None
                         else f"{node.name} = _W[{order[node.slot]}]")
    return lines


def _is_comment(line: str) -> bool:
    return line.startswith("#")


def _bounded(units: List[_Unit], limit: int) -> List[_Unit]:
    """``units`` with each comment joined to the statement after it, and none of more than
    ``limit`` lines (a longer one cut into pieces; an ``if`` block keeps its header in
    each), so that a part of a split function always holds a statement."""
    out: List[_Unit] = []
    notes: List[str] = []
    for u in units:
        if all(_is_comment(line) for line in u.lines):
            notes += u.lines
            continue
        for piece in _pieces(u, limit):
            out.append(_Unit(notes + piece.lines, piece.defs))
            notes = []
    if notes and out:
        out[-1].lines += notes
    return out


def _pieces(u: _Unit, limit: int) -> List[_Unit]:
    """``u`` cut into units of at most ``limit`` lines (at least one statement each)."""
    if len(u.lines) <= limit:
        return [u]
    header = u.lines[0] if u.lines[0].endswith(":") else None
    body = u.lines[1:] if header is not None else u.lines
    step = max(1, limit - (header is not None))
    return [_Unit(([header] if header is not None else []) + body[i:i + step], u.defs)
            for i in range(0, len(body), step)]


def _assemble(g: Graph, mode: str, units: List[_Unit], order: Optional[Sequence[int]] = None,
              n_weights: int = -1) -> str:
    total = sum(len(u.lines) for u in units)
    head = ("# inputs (_X: numbers) and variables (_V: the captured Values, read live)",)
    if total <= MAX_LINES:
        body = list(head) + _preamble(g, None, order, n_weights) + [line for u in units for line in u.lines]
        return f"def {mode}(_X, _V):\n" + "".join("    " + line + "\n" for line in body)

    # Too long for one function: parts of at most MAX_LINES lines each; a value one part
    # makes and a later part uses travels through the list _S.
    parts: List[List[_Unit]] = [[]]
    size = 0
    for u in _bounded(units, MAX_LINES):
        if size + len(u.lines) > MAX_LINES and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(u)
        size += len(u.lines)
    externals = {g.nodes[i].name for i in g.input_nodes if i >= 0}
    externals.update(n.name for n in g.nodes if n.kind is VARIABLE or n.kind is OUTSIDE)
    first_def: Dict[str, int] = {}
    appears: List[Set[str]] = []
    last_seen: Dict[str, int] = {}
    for j, part in enumerate(parts):
        for u in part:
            for name in u.defs:
                first_def.setdefault(name, j)
    for j, part in enumerate(parts):
        names = set()
        for u in part:
            for line in u.lines:
                if not _is_comment(line):
                    names.update(_NAME.findall(line))
        names = {n for n in names if n in first_def or n in externals}
        appears.append(names)
        for name in names:
            last_seen[name] = j
    slots: Dict[str, int] = {}
    out = []
    for j, part in enumerate(parts):
        names = appears[j]
        body = _preamble(g, names, order)
        for name in sorted(n for n in names if n in first_def and first_def[n] < j):
            body.append(f"{name} = _S[{slots[name]}]")
        body += [line for u in part for line in u.lines]
        # what this part set (a piece of a cut unit lists all the unit's names: keep the
        # ones its lines use, which this part set or loaded)
        defined = {name for u in part for name in u.defs} & names
        for name in sorted(n for n in defined if last_seen.get(n, -1) > j):
            slot = slots.setdefault(name, len(slots))
            body.append(f"_S[{slot}] = {name}")
        out.append(f"def _{mode}_{j}(_X, _V, _S):\n" + "".join("    " + line + "\n" for line in body))
    main = [f"def {mode}(_X, _V):", f"    _S = [None] * {len(slots)}"]
    main += [f"    _{mode}_{j}(_X, _V, _S)" for j in range(len(parts) - 1)]
    main.append(f"    return _{mode}_{len(parts) - 1}(_X, _V, _S)")
    return "\n".join(head) + "\n" + "\n".join(out) + "\n".join(main) + "\n"
