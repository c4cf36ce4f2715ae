"""Neurons, layers and multilayer perceptrons built on ``autograd.Value``.

A neuron computes its pre-activation ``u = Σ_ℓ θ_ℓ·o_ℓ + b`` as ONE fused ``autograd.dot``
node and its output ``o = σ(u)`` as one more node, so the graph has exactly the textbook's
``u`` and ``o`` per neuron and ``u.grad`` after ``backward()`` is the neuron's
``δ = ∂Err/∂u``.  Every node a model makes is labelled (``u[1,3]``, ``o[1,3]``,
``θ[1,3,0]``, ``b[1,3]``, ``x[0]``) and tagged (``("u", layer, neuron)`` ...) so a graph
picture shows which layer and neuron it belongs to; labels and tags are built once, at
construction, never per forward pass.
"""

from __future__ import annotations

import math
import random
import reprlib
from collections.abc import Mapping, Set
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from autograd import Value, dot
from autograd.validate import integer, is_real, real
from autograd.value import Row, dense

if TYPE_CHECKING:
    import os

__all__ = ["Module", "Neuron", "Layer", "MLP", "Trace", "LayerTrace", "ACTIVATIONS", "INITS",
           "LEAKY_SLOPE", "MAX_PARAMETERS", "count_parameters", "parameter_limit"]

#: The most parameters a Neuron, Layer or MLP may have unless its ``max_parameters``
#: says otherwise.  Each parameter is a Value of about 320 bytes, so the limit is about
#: 3 GB of parameters: generous for a scalar engine, and a typo (``nn.MLP(10**9, [1])``)
#: gets a clear ValueError up front instead of a MemoryError after seconds.
MAX_PARAMETERS = 10_000_000

#: Slope k of leaky_relu below zero: σ(u) = u for u > 0, k·u otherwise.
LEAKY_SLOPE = 0.01

#: Activation name -> the Value method that makes o = σ(u) as one node (None: o is u).
_ACTIVATION_METHODS: Dict[str, Optional[Callable[[Value], Value]]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": partial(Value.leaky_relu, slope=LEAKY_SLOPE),
    "linear": None,
}
ACTIVATIONS = tuple(_ACTIVATION_METHODS)
#: Activation name -> (the op that makes o = σ(u), its constant k), as ``dense`` takes them.
_ACTIVATION_OPS: Dict[str, Tuple[Optional[str], Optional[float]]] = {
    "relu": ("relu", None), "tanh": ("tanh", None), "sigmoid": ("sigmoid", None),
    "leaky_relu": ("leaky_relu", LEAKY_SLOPE), "linear": (None, None),
}
INITS = ("uniform", "xavier", "he")

Input = Union[Value, float, int]


def _check_activation(activation: object, what: str = "activation") -> str:
    if activation not in _ACTIVATION_METHODS:
        raise ValueError(f"unknown {what} {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return activation


def _check_init(init: object) -> str:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return init


def count_parameters(nin: int, nouts: Sequence[int]) -> int:
    """How many weights and biases an MLP with these sizes has: Σ (fan_in + 1)·width."""
    total, fan_in = 0, nin
    for width in nouts:
        total += (fan_in + 1) * width
        fan_in = width
    return total


def parameter_limit(max_parameters: Optional[int]) -> int:
    """The limit in force: ``max_parameters`` checked, or ``MAX_PARAMETERS`` for None."""
    if max_parameters is None:
        return MAX_PARAMETERS
    return integer(max_parameters, "max_parameters", 1)


def _check_parameter_count(count: int, max_parameters: Optional[int], what: str) -> None:
    """Refuse to build ``what`` with ``count`` parameters above the limit, before allocating."""
    limit = parameter_limit(max_parameters)
    if count > limit:
        raise ValueError(f"{what} would have {count:,} parameters, more than the limit of "
                         f"{limit:,}; pass max_parameters={count} to build it anyway "
                         f"(about {count * 320 / 1e9:,.1f} GB)")


def _initial_weights(nin: int, fan_out: int, init: str, rng: random.Random) -> List[float]:
    """θ_1..θ_nin drawn by the named scheme (biases always start at 0).

    uniform: U(−1, 1), as micrograd; xavier (Glorot uniform): U(−a, a) with
    a = √(6/(fan_in + fan_out)); he (Kaiming normal): N(0, 2/fan_in), suited to relu.
    """
    if init == "uniform":
        return [rng.uniform(-1.0, 1.0) for _ in range(nin)]
    if init == "xavier":
        limit = math.sqrt(6.0 / (nin + fan_out))
        return [rng.uniform(-limit, limit) for _ in range(nin)]
    std = math.sqrt(2.0 / nin)
    return [rng.gauss(0.0, std) for _ in range(nin)]


class Module:
    """Base class: something with parameters (Values) that maps inputs to outputs.

    Subclasses implement ``forward`` and ``named_parameters``; calling the module runs
    ``forward``.
    """

    def forward(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Neuron, Layer and MLP set ``__call__ = forward`` (no extra call on the hot path);
        # a subclass that overrides forward() gets the same, so calling it runs its forward.
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__ and "__call__" not in cls.__dict__:
            cls.__call__ = cls.forward  # type: ignore[method-assign]  # as Neuron's ``__call__ = forward``

    def named_parameters(self) -> List[Tuple[str, Value]]:
        """Every parameter with its dotted name (``layers.0.neurons.3.w.1``), in a fixed order."""
        raise NotImplementedError(f"{type(self).__name__} does not define named_parameters()")

    def parameters(self) -> List[Value]:
        """Every parameter Value, in the order of ``named_parameters()``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (gradients accumulate across ``backward`` calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self) -> int:
        """How many parameters (weights and biases) the module has."""
        return len(self.parameters())

    def state_dict(self) -> Dict[str, float]:
        """The parameters' current values as floats, by dotted name, in parameter order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float], strict: bool = True) -> None:
        """Set parameters from a ``{name: number}`` mapping (as ``state_dict()`` returns).

        Everything is validated before anything is written, so a bad ``state`` leaves the
        module unchanged.  With ``strict`` (the default) the names must match exactly;
        otherwise only the names both have are loaded.  Values must be finite real numbers.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a mapping of name -> number, got "
                            f"{type(state).__name__}")
        params = dict(self.named_parameters())
        if strict:
            missing = [name for name in params if name not in state]
            unexpected = [name for name in state if name not in params]
            if missing or unexpected:
                parts = []
                if missing:
                    parts.append(f"missing {len(missing)} parameter(s): {_names(missing)}")
                if unexpected:
                    parts.append(f"unexpected {len(unexpected)} key(s): {_names(unexpected)}")
                raise ValueError(f"state does not match {type(self).__name__}: " + "; ".join(parts))
        updates: List[Tuple[Value, float]] = []
        for name, value in state.items():
            p = params.get(name)
            if p is None:
                continue
            if not is_real(value):  # a state's content, like a file's: ValueError, as io's loader
                raise ValueError(f"parameter {name!r} must be a number, got "
                                 f"{type(value).__name__}: {value!r}")
            updates.append((p, real(value, f"parameter {name!r}")))
        for p, value in updates:
            p.data = value


def _names(names: List[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


class Neuron(Module):
    """One neuron: ``u = Σ_ℓ θ_ℓ·o_ℓ + b`` (one ``dot`` node), ``o = σ(u)`` (one node).

    ``w`` holds the weights θ_ℓ, ``b`` the bias.  ``layer``/``index`` place it in a network
    (they only name and tag its nodes); ``fan_out`` is the layer width Glorot init needs.
    More than ``max_parameters`` (default ``MAX_PARAMETERS``) weights are refused.
    """

    def __init__(self, nin: int, activation: str = "relu", init: str = "uniform",
                 rng: Optional[random.Random] = None, *, layer: int = 0, index: int = 0,
                 fan_out: int = 1, max_parameters: Optional[int] = None) -> None:
        nin = integer(nin, "nin", 1)
        _check_parameter_count(nin + 1, max_parameters, f"Neuron({nin})")
        self.activation = _check_activation(activation)
        self.init = _check_init(init)
        self.layer = layer
        self.index = index
        if rng is None:
            rng = random.Random()
        where = f"{layer},{index}"
        self.w = []
        for ell, theta in enumerate(_initial_weights(nin, fan_out, init, rng)):
            w = Value(theta, f"θ[{where},{ell}]")
            w.tag = ("theta", layer, index, ell)
            self.w.append(w)
        self.b = Value(0.0, f"b[{where}]")
        self.b.tag = ("bias", layer, index)
        self._act = _ACTIVATION_METHODS[activation]
        self._u_label, self._u_tag = f"u[{where}]", ("u", layer, index)
        self._o_label, self._o_tag = f"o[{where}]", ("o", layer, index)

    @property
    def nin(self) -> int:
        return len(self.w)

    def forward(self, x: Sequence[Input]) -> Value:
        """o = σ(Σ_ℓ θ_ℓ·x_ℓ + b); plain numbers in ``x`` become constants."""
        u = dot(self.w, x, self.b)
        u.label = self._u_label
        u.tag = self._u_tag
        act = self._act
        if act is None:
            return u
        o = act(u)
        o.label = self._o_label
        o.tag = self._o_tag
        return o

    __call__ = forward  # skip Module.__call__'s extra call: this is the hot path

    def trace(self, x: Sequence[Input]) -> Tuple[Value, Value]:
        """Like calling the neuron, but returns ``(u, o)`` (the same node twice for linear)."""
        u = dot(self.w, x, self.b)
        u.label = self._u_label
        u.tag = self._u_tag
        if self._act is None:
            return u, u
        o = self._act(u)
        o.label = self._o_label
        o.tag = self._o_tag
        return u, o

    def parameters(self) -> List[Value]:
        return [*self.w, self.b]

    def named_parameters(self) -> List[Tuple[str, Value]]:
        return [(f"w.{ell}", w) for ell, w in enumerate(self.w)] + [("b", self.b)]

    def __repr__(self) -> str:
        return f"Neuron({self.nin} -> {self.activation}, layer {self.layer}, neuron {self.index})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; calling it returns a list of Values.

    Plain-number inputs are turned into Values once per call, shared by all neurons and
    tagged ``("input", ℓ)``, so the fused ``dot`` of each neuron does not wrap them again.
    More than ``max_parameters`` (default ``MAX_PARAMETERS``) parameters are refused.
    """

    def __init__(self, nin: int, nout: int, activation: str = "relu", init: str = "uniform",
                 rng: Optional[random.Random] = None, index: int = 0, *,
                 max_parameters: Optional[int] = None) -> None:
        nin = integer(nin, "nin", 1)
        nout = integer(nout, "nout", 1)
        _check_parameter_count((nin + 1) * nout, max_parameters, f"Layer({nin}, {nout})")
        _check_activation(activation)
        _check_init(init)
        if rng is None:
            rng = random.Random()
        self.nin, self.nout, self.index = nin, nout, index
        self.activation, self.init = activation, init
        self.neurons = [Neuron(nin, activation, init, rng, layer=index, index=i, fan_out=nout,
                               max_parameters=max_parameters) for i in range(nout)]
        self._input_labels = [f"x[{ell}]" for ell in range(nin)]
        self._input_tags = [("input", ell) for ell in range(nin)]
        self._names = [(n._u_label, n._u_tag, n._o_label, n._o_tag) for n in self.neurons]

    def inputs(self, x: Sequence[Input]) -> List[Value]:
        """``x`` as a list of Values: numbers are wrapped (labelled ``x[ℓ]``), Values kept."""
        return self._inputs(x)[0]

    def _inputs(self, x: Sequence[Input]) -> Tuple[List[Value], List[float]]:
        """``x`` as Values (see ``inputs``) and their numbers, each read once."""
        if len(x) != self.nin:
            raise ValueError(f"layer {self.index} expects {self.nin} inputs, got {len(x)}")
        out, data = [], []
        for ell, xi in enumerate(x):
            if xi.__class__ is not Value:
                if not is_real(xi):
                    raise TypeError(f"input {ell} must be a number or a Value, got "
                                    f"{type(xi).__name__}: {xi!r}")
                xi = Value(xi, self._input_labels[ell])
                xi.tag = self._input_tags[ell]
            out.append(xi)
            data.append(xi.data)
        return out, data

    def rows(self) -> List[Row]:
        """Each neuron's weights and bias, and their numbers, as ``autograd.value.dense`` takes
        them: read once, then used for every sample of a batch."""
        rows: List[Row] = []
        for n in self.neurons:
            wd = [w.data for w in n.w]
            rows.append((tuple(n.w), (n.b,), wd, (*wd, 1.0), n.b.data))
        return rows

    def _forward(self, x: List[Value], xd: List[float], rows: List[Row]) -> Tuple[List[Value], List[float]]:
        """The layer's outputs for inputs ``x`` (Values) with numbers ``xd``, and their numbers."""
        op, k = _ACTIVATION_OPS[self.activation]
        return dense(rows, x, xd, op, self._names, k)

    def forward(self, x: Sequence[Input]) -> List[Value]:
        x, xd = self._inputs(x)
        return self._forward(x, xd, self.rows())[0]

    __call__ = forward

    def parameters(self) -> List[Value]:
        return [p for n in self.neurons for p in (*n.w, n.b)]

    def named_parameters(self) -> List[Tuple[str, Value]]:
        return [(f"neurons.{i}.{name}", p)
                for i, n in enumerate(self.neurons) for name, p in n.named_parameters()]

    def __repr__(self) -> str:
        return (f"Layer({self.nin} -> {self.nout} {self.activation}, layer {self.index}, "
                f"{self.num_parameters()} parameters)")


class LayerTrace:
    """One layer's nodes from a traced forward pass: pre-activations ``u``, outputs ``o``,
    and the parameters that made them: ``theta[i][ℓ]`` (θ_iℓ) and ``b[i]`` per neuron."""

    __slots__ = ("u", "o", "theta", "b", "activation")

    def __init__(self, u: List[Value], o: List[Value], theta: Sequence[Sequence[Value]] = (),
                 b: Sequence[Value] = (), activation: str = "") -> None:
        self.u = u
        self.o = o
        self.theta = theta
        self.b = b
        self.activation = activation

    def __repr__(self) -> str:
        return f"LayerTrace(u={[v.data for v in self.u]}, o={[v.data for v in self.o]})"


class Trace:
    """The record of ``MLP.trace(x, y, loss)``: the inputs, every layer's ``u``, ``o``, θ and
    b, the output, and, given a target ``y``, the loss's name and ``err`` after backward.

    After ``backward()`` on the loss, ``deltas()`` reads δ_i = ∂Err/∂u_i = ``u_i.grad``.
    This is the protocol ``viz.network`` draws from (see its docstring).
    """

    __slots__ = ("inputs", "layers", "output", "loss", "err", "y")

    def __init__(self, inputs: List[Value], layers: List[LayerTrace],
                 output: Union[Value, List[Value]], loss: Optional[str] = None,
                 err: Optional[Value] = None, y: Any = None) -> None:
        self.inputs = inputs
        self.layers = layers
        self.output = output
        self.loss = loss
        self.err = err
        self.y = y

    def deltas(self) -> List[List[float]]:
        """δ per layer and neuron: ``u.grad`` (valid after ``backward()`` on the loss)."""
        return [[u.grad for u in layer.u] for layer in self.layers]

    def __repr__(self) -> str:
        sizes = ", ".join(str(len(layer.u)) for layer in self.layers)
        return f"Trace({len(self.inputs)} inputs -> layers of [{sizes}] neurons)"


class MLP(Module):
    """A multilayer perceptron: ``nin`` inputs, then one ``Layer`` per entry of ``nouts``.

    Hidden layers use ``activation``, the last one ``output_activation``.  Calling the
    model returns a single Value when the last layer has one neuron, else a list.
    ``seed`` makes the initial weights reproducible; a private ``random.Random`` is used,
    so the global ``random`` state is never touched.  A network of more than
    ``max_parameters`` (default ``MAX_PARAMETERS``) parameters is refused before anything
    is built.
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 output_activation: str = "linear", init: str = "uniform",
                 seed: Optional[int] = None, *, max_parameters: Optional[int] = None) -> None:
        nin = integer(nin, "nin", 1)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Iterable):
            raise TypeError(f"nouts must be a list of layer sizes, got {type(nouts).__name__}")
        nouts = [integer(n, f"layer size nouts[{i}]", 1) for i, n in enumerate(nouts)]
        if not nouts:
            raise ValueError("nouts must name at least one layer size")
        _check_activation(activation)
        _check_activation(output_activation, "output_activation")
        _check_init(init)
        _check_parameter_count(count_parameters(nin, nouts), max_parameters,
                               f"MLP({nin}, {reprlib.repr(nouts)})")
        self.nin, self.nouts = nin, nouts
        self.activation, self.output_activation, self.init = activation, output_activation, init
        rng = random.Random(seed)
        sizes = [nin] + nouts
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1],
                             output_activation if i == last else activation, init, rng, index=i,
                             max_parameters=max_parameters)
                       for i in range(len(nouts))]
        self._single = nouts[-1] == 1

    @property
    def architecture(self) -> Dict[str, Any]:
        """What builds this network again (saved in model files)."""
        return {"nin": self.nin, "nouts": list(self.nouts), "activation": self.activation,
                "output_activation": self.output_activation, "init": self.init}

    def _check_x(self, x: object) -> Sequence[Input]:
        if x.__class__ is not list and x.__class__ is not tuple:
            if isinstance(x, (str, bytes, Mapping, Set)) or not isinstance(x, Iterable):
                raise TypeError(f"model input must be a sequence of {self.nin} numbers, got "
                                f"{type(x).__name__}: {x!r}")
            x = list(x)
        if len(x) != self.nin:
            raise ValueError(f"model expects {self.nin} inputs, got {len(x)}")
        return x

    def forward(self, x: Sequence[Input]) -> Union[Value, List[Value]]:
        """ŷ for one sample ``x`` (a sequence of ``nin`` numbers or Values)."""
        return self.forward_batch([x])[0]

    def forward_batch(self, xs: Sequence[Sequence[Input]]) -> List[Union[Value, List[Value]]]:
        """ŷ for every sample of ``xs``: the same nodes as calling the model on each, made with
        each layer's weights read once for the whole batch (``fit`` calls this)."""
        layers = self.layers
        rows = [layer.rows() for layer in layers]
        first, single = layers[0], self._single
        out = []
        for x in xs:
            o, od = first._inputs(self._check_x(x))  # wraps plain numbers once
            for layer, r in zip(layers, rows):
                o, od = layer._forward(o, od, r)
            out.append(o[0] if single else o)
        return out

    __call__ = forward

    def trace(self, x: Sequence[Input], y: Any = None, loss: Any = "mse") -> Trace:
        """Run a forward pass keeping every layer's ``u`` and ``o`` nodes (see ``Trace``).

        With a target ``y`` (a number, or a list for several outputs), Err = ``loss``
        (a name from ``nn.LOSSES`` or a function, as in ``fit``) of this one sample is
        computed and ``Err.backward()`` run, so each ``u.grad`` is δ = ∂Err/∂u; as with any
        backward, the parameters' ``grad`` accumulate.
        """
        o = self.layers[0].inputs(self._check_x(x))
        inputs, layers = o, []
        for layer in self.layers:
            uo = [n.trace(o) for n in layer.neurons]
            o = [pair[1] for pair in uo]
            layers.append(LayerTrace([pair[0] for pair in uo], o, [n.w for n in layer.neurons],
                                     [n.b for n in layer.neurons], layer.activation))
        output = o[0] if self._single else o
        if y is None:
            return Trace(inputs, layers, output)
        from .losses import resolve
        name, fn = resolve(loss, "trace")
        if self._single and isinstance(y, (list, tuple)) and len(y) == 1:
            y = y[0]
        err = fn([output], [y])
        err.backward()
        return Trace(inputs, layers, output, name, err, y)

    def parameters(self) -> List[Value]:
        return [p for layer in self.layers for n in layer.neurons for p in (*n.w, n.b)]

    def named_parameters(self) -> List[Tuple[str, Value]]:
        return [(f"layers.{i}.{name}", p)
                for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

    # ``model.save(path)`` and ``model.load(path)`` (JSON files, never pickle) are attached by
    # nn/io.py, which builds on this module: nothing here imports it back.

    if TYPE_CHECKING:  # how a type checker sees them (tests/test_typing.py keeps them in step)
        def save(self, path: Union[str, os.PathLike[str]],
                 loss: Union[str, Callable[..., Any], None] = None) -> None: ...
        def load(self, path: Union[str, os.PathLike[str]]) -> None: ...

    def __repr__(self) -> str:
        layers = ", ".join(f"{layer.nout} {layer.activation}" for layer in self.layers)
        return f"MLP({self.nin} -> [{layers}], {self.num_parameters()} parameters)"
