"""``deltagrad explain`` (one training step, by the textbook) and ``deltagrad health``.

``explain`` walks one step of a tiny network in the lecture's notation: the forward pass
u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i, o_i = σ(u_i); Err; δ at the output and, right to left, in the
hidden layers; ∂Err/∂θ_iℓ = δ_i·o_ℓ; the update θ ← θ − η·∂Err/∂θ.  Every number is
autograd's and is checked against ``nn.manual_backprop``.  ``health`` prints gradient
health tables (``nn.health``), by default for a deep sigmoid network next to a ReLU one.
``deltagrad train`` takes its ``--plot`` / ``--plot-boundary`` options from here too.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, List, Sequence, Tuple

from autograd import OPS, Value

from .cli import CLIError, check_output, non_negative, number, numbers, positive_int
from .cli_train import BINARY, DATASETS, LOSS_NAMES, _dataset, _layer_sizes, _recipe

#: Relative (and absolute, near 0) tolerance of the explain checks.
TOLERANCE = 1e-9
#: Where the ✓/✗ marks of ``explain`` line up.
_MARK_COLUMN = 72

_ERR_TEXT = {  # (Err for one sample, ∂Err/∂ŷ) as the lecture writes them
    "mse": ("(y − ŷ)²", "−2(y − ŷ)"),
    "hinge": ("max(0, 1 − y·ŷ)", "−y if 1 − y·ŷ > 0, else 0"),
    "bce_with_logits": ("−[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))]", "σ(ŷ) − y"),
    "cross_entropy": ("log Σ_k e^ŷ_k − ŷ_y", "softmax(ŷ)_k − [k = y]"),
}


def _names(kind: str):
    """An argparse type for a comma-separated list of activation or init names."""
    def parse(text: str) -> List[str]:
        from .module import ACTIVATIONS, INITS
        choices = ACTIVATIONS if kind == "activation" else INITS
        items = [part.strip() for part in text.split(",")]
        for item in items:
            if item not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {kind} {item!r}; choose from {', '.join(choices)}")
        return items
    return parse


def register(subparsers: Any) -> None:
    """Add the ``explain`` and ``health`` subcommands."""
    from .module import ACTIVATIONS, INITS

    p = subparsers.add_parser(
        "explain", help="walk one training step of a tiny network, with every number checked",
        description="Walk one training step of a tiny MLP (default 2-2-1, sigmoid on every neuron, "
                    "Err = (y - ŷ)², one sample) in the textbook's notation: forward pass, δ at the "
                    "output and hidden layers, ∂Err/∂θ = δ·o, the update, and Err before and after. "
                    "Every number comes from autograd and is checked against nn.manual_backprop; "
                    "the exit status is 1 if any check fails.")
    p.add_argument("--layers", type=_layer_sizes, default=[2], metavar="SIZES",
                   help="hidden layer sizes, comma-separated, as for train (default: 2; 'none' for "
                        "no hidden layer); the inputs come from --x, the outputs from --y and --loss")
    p.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid",
                   help="activation σ of the hidden layers (default: sigmoid)")
    p.add_argument("--output-activation", choices=ACTIVATIONS, default=None,
                   help="activation of the output layer (default: for mse the same as --activation, "
                        "as in the textbook, where δ_k = ∂Err/∂ŷ·σ'(u_k); linear for the other "
                        "losses, which read a score)")
    p.add_argument("--init", choices=INITS, default="uniform",
                   help="weight initialisation (default: uniform)")
    p.add_argument("--loss", choices=LOSS_NAMES, default="mse",
                   help="Err for the sample (default: mse, Err = Σ(y − ŷ)²)")
    p.add_argument("--classes", type=positive_int, default=3, metavar="K",
                   help="outputs (classes) for --loss cross_entropy (default: 3)")
    p.add_argument("--lr", type=non_negative, default=0.5, metavar="η", help="learning rate η (default: 0.5)")
    p.add_argument("--seed", type=int, default=1337, help="seed of the initial weights (default: 1337)")
    p.add_argument("--x", type=numbers, default=[0.5, -0.3], metavar="X1,X2,...",
                   help="the sample's inputs (default: 0.5,-0.3)")
    p.add_argument("--y", default=None, metavar="Y",
                   help="the target: number(s) for mse (one per output), ±1 for hinge, 0/1 for "
                        "bce_with_logits, a class index for cross_entropy (default: 1, or 0 for "
                        "cross_entropy)")
    p.add_argument("--svg", metavar="FILE",
                   help="also draw the step's computation graph (δ on every u) to FILE")
    p.set_defaults(func=run_explain)

    q = subparsers.add_parser(
        "health", help="gradient health per layer: vanishing and exploding gradients in numbers",
        description="Run a batch through freshly initialised networks and print, per layer, the "
                    "gradient norm, mean |δ|, dead ReLUs and saturated units, with vanishing / "
                    "exploding flags. By default it compares 8 hidden sigmoid layers with uniform "
                    "init against 8 ReLU layers with He init. --activation and --init take "
                    "comma-separated lists; the i-th activation pairs with the i-th init (one "
                    "value is used for every network).")
    q.add_argument("--layers", type=_layer_sizes, default=[8] * 8, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: 8,8,8,8,8,8,8,8)")
    q.add_argument("--activation", type=_names("activation"), default=["sigmoid", "relu"],
                   metavar="A[,A...]", help="hidden activation(s) (default: sigmoid,relu)")
    q.add_argument("--init", type=_names("init"), default=["uniform", "he"], metavar="I[,I...]",
                   help="initialisation(s) (default: uniform,he)")
    q.add_argument("--dataset", choices=sorted(DATASETS), default="moons",
                   help="data set (default: moons)")
    q.add_argument("--samples", type=positive_int, default=100, metavar="N",
                   help="samples in the batch (default: 100)")
    q.add_argument("--classes", type=positive_int, default=3, metavar="K",
                   help="classes for spirals and blobs (default: 3)")
    q.add_argument("--loss", choices=LOSS_NAMES, default=None,
                   help="loss (default: hinge for two classes, cross_entropy for more)")
    q.add_argument("--seed", type=int, default=1337, help="seed of the data and weights (default: 1337)")
    q.add_argument("--clip", type=number, default=None, metavar="MAX_NORM",
                   help="also show clip_grad_norm's total gradient norm before and after clipping")
    q.set_defaults(func=run_health, noise=None)


# --- pictures for `deltagrad train` (its module calls these, so the options live in one place) ---

def add_plot_options(parser: argparse.ArgumentParser) -> None:
    """``--plot FILE`` (loss and accuracy per epoch) and ``--plot-boundary FILE``."""
    parser.add_argument("--plot", metavar="FILE",
                        help="after training, draw the loss and accuracy per epoch to FILE "
                             "(.png or .svg; needs matplotlib: pip install 'deltagrad[plot]')")
    parser.add_argument("--plot-boundary", metavar="FILE",
                        help="after training, draw the decision boundary with the data points to FILE "
                             "(.png or .svg; needs matplotlib)")


def check_plot_options(args: argparse.Namespace) -> None:
    """Fail before training, not after: a bad suffix, a missing folder or no matplotlib."""

    files = [(opt, path) for opt, path in (("--plot", args.plot), ("--plot-boundary", args.plot_boundary))
             if path]
    if not files:
        return
    from .plot import PlotUnavailable, image_format, require_matplotlib

    for opt, path in files:
        try:
            image_format(path)
        except ValueError as e:
            raise CLIError(f"{opt}: {e}") from None
        check_output(opt, path)
    try:
        require_matplotlib()
    except PlotUnavailable as e:
        raise CLIError(str(e)) from None


def save_plots(args: argparse.Namespace, history: Any, model: Any, X: Sequence[Sequence[float]],
               y: Sequence[Any], title: str) -> None:
    """Draw what ``--plot`` / ``--plot-boundary`` asked for and print each file's path."""
    if args.plot:
        from .plot import plot_history
        print(f"plot:  {plot_history(history, args.plot, title=title)}")
    if args.plot_boundary:
        from .plot import plot_decision_boundary
        print(f"plot:  {plot_decision_boundary(model, X, y, args.plot_boundary, title=title)}")


# --- explain ---------------------------------------------------------------------------

def _n(x: float) -> str:
    """A number as the walk-through prints it; nan/inf are spelled out."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}".rstrip("0").rstrip(".")
    return f"{x:.3e}"


def _p(x: float) -> str:
    """A factor in a product: negative numbers in parentheses."""
    return f"({_n(x)})" if x < 0 else _n(x)


class _Checks:
    """Counts the comparisons with manual_backprop and writes the lines with their marks."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.lines: List[str] = []

    def say(self, text: str = "") -> None:
        self.lines.append(text)

    def line(self, text: str, got: float, want: float) -> None:
        same = (math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE * 1e-3)
                or (math.isnan(got) and math.isnan(want)))
        if same:
            self.passed += 1
            mark = "✓"
        else:
            self.failed += 1
            mark = f"✗ manual_backprop gives {want!r}, off by {abs(got - want):.3g}"
        self.lines.append(f"{text.ljust(_MARK_COLUMN)} {mark}" if len(text) < _MARK_COLUMN
                          else f"{text}  {mark}")


def _target(args: argparse.Namespace) -> Tuple[Any, int]:
    """The sample's target as the loss takes it, and the number of outputs it implies."""
    if args.loss == "cross_entropy":
        text = "0" if args.y is None else args.y
        try:
            c = int(text)
        except ValueError:
            raise CLIError(f"--y for cross_entropy must be a class index 0..{args.classes - 1}, "
                           f"got {text!r}") from None
        if args.classes < 2 or not 0 <= c < args.classes:
            raise CLIError(f"--y must be a class in 0..{args.classes - 1} (--classes {args.classes}, "
                           f"at least 2), got {c}")
        return c, args.classes
    try:
        ys = numbers("1" if args.y is None else args.y)
    except argparse.ArgumentTypeError as e:
        raise CLIError(f"--y: {e}") from None
    if args.loss == "mse":
        return (ys[0] if len(ys) == 1 else ys), len(ys)
    if len(ys) != 1:
        raise CLIError(f"--loss {args.loss} takes one target number, got {args.y!r}")
    allowed = (-1.0, 1.0) if args.loss == "hinge" else (0.0, 1.0)
    if ys[0] not in allowed:
        raise CLIError(f"--y for {args.loss} must be {int(allowed[0])} or 1, got {args.y}")
    return int(ys[0]), 1


def _slope(o: Value, u: Value) -> float:
    """σ'(u): the local derivative ∂o/∂u the activation node stored (1 for a linear neuron)."""
    return 1.0 if o is u else o.local_grads[0]


def _rule(activation: str) -> str:
    """σ' as the op table writes it."""
    if activation == "linear":
        return "linear: o = u, so σ'(u) = 1"
    return OPS[activation].rule


class _Step:
    """One training step's objects: the model, autograd's trace and Err, manual_backprop's numbers."""

    def __init__(self, args: argparse.Namespace) -> None:
        from .losses import LOSSES
        from .manual import manual_backprop
        from .module import MLP

        self.y, nout = _target(args)
        self.x = list(args.x)
        out_act = args.output_activation or args.activation
        if args.loss != "mse" and args.output_activation is None:
            out_act = "linear"  # hinge, bce_with_logits and cross_entropy read a score, not σ of it
        self.model = MLP(len(self.x), args.layers + [nout], activation=args.activation,
                         output_activation=out_act, init=args.init, seed=args.seed)
        self.loss_fn = LOSSES[args.loss]
        self.manual = manual_backprop(self.model, self.x, self.y, args.loss)
        self.record = self.model.trace(self.x)
        self.err = self.loss_fn([self.record.output], [self.y], reduction="sum")
        self.model.zero_grad()
        self.err.backward()
        self.inputs = [f"x[{ell}]" for ell in range(len(self.x))]

    def layer_inputs(self, t: int) -> Tuple[List[str], List[float]]:
        """Names and values of the o_ℓ that layer t reads."""
        if t == 0:
            return self.inputs, [v.data for v in self.record.inputs]
        return ([f"o[{t - 1},{i}]" for i in range(len(self.record.layers[t - 1].o))],
                [v.data for v in self.record.layers[t - 1].o])


def _say_header(c: _Checks, s: _Step, args: argparse.Namespace) -> None:
    model = s.model
    sizes = "-".join(str(n) for n in [len(s.x)] + model.nouts)
    out_act = model.output_activation
    if not args.layers:
        network = f"{out_act} output"
    elif out_act == args.activation:
        network = f"{args.activation} on every neuron"
    else:
        network = f"{args.activation} hidden, {out_act} output"
    c.say(f"One training step of an MLP {sizes} ({network}), Err = {_err_text(args.loss, s)[0]}, "
          "on one sample.")
    c.say("Every number is autograd's: model.trace(x), then Err.backward(), so δ_i = ∂Err/∂u_i is "
          "u_i.grad.")
    c.say(f"✓ marks agreement with nn.manual_backprop (the textbook's formulas on plain floats) "
          f"to {TOLERANCE:g}.")
    c.say()
    y = s.y
    shown_y = ("[" + ", ".join(_n(v) for v in y) + "]" if isinstance(y, list)
               else _n(y) if isinstance(y, float) else str(y))
    c.say(f"  sample  x = [{', '.join(_n(v) for v in s.x)}], y = {shown_y}    learning rate "
          f"η = {_n(args.lr)}    seed {args.seed}, {args.init} init")
    c.say("  names   u[t,i], o[t,i], δ[t,i]: neuron i of layer t (from 0, as in `deltagrad explain "
          "--svg`);")
    c.say("          θ[t,i,ℓ]: its weight from input ℓ (x[ℓ] in layer 0, o[t−1,ℓ] after); b[t,i]: "
          "its bias")


def _err_text(loss: str, s: _Step) -> Tuple[str, str]:
    if loss == "mse" and isinstance(s.y, list):
        return "Σ_k (y_k − ŷ_k)²", "−2(y_k − ŷ_k)"
    return _ERR_TEXT[loss]


def _say_forward(c: _Checks, s: _Step) -> None:
    """u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i and o_i = σ(u_i), neuron by neuron, then ŷ."""
    n_layers = len(s.model.layers)
    for t, (layer, lt) in enumerate(zip(s.model.layers, s.record.layers)):
        o_names, o_values = s.layer_inputs(t)
        role = "output layer" if t == n_layers - 1 else "hidden layer"
        sym = "σ" if layer.activation == "sigmoid" else layer.activation
        c.say()
        c.say(f"Forward, {role} {t}:  u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i,  o_i = {sym}(u_i)")
        for i, (neuron, u, o) in enumerate(zip(layer.neurons, lt.u, lt.o)):
            terms = " + ".join(f"θ[{t},{i},{ell}]·{name}" for ell, name in enumerate(o_names))
            nums = " + ".join(f"{_p(w.data)}·{_p(v)}" for w, v in zip(neuron.w, o_values))
            c.say(f"  u[{t},{i}] = {terms} + b[{t},{i}]")
            c.line(f"         = {nums} + {_p(neuron.b.data)} = {_n(u.data)}", u.data, s.manual.u[t][i])
            if o is u:
                c.line(f"  o[{t},{i}] = u[{t},{i}] = {_n(o.data)}  (linear)", o.data, s.manual.o[t][i])
            else:
                c.line(f"  o[{t},{i}] = {sym}(u[{t},{i}]) = {sym}({_n(u.data)}) = {_n(o.data)}",
                       o.data, s.manual.o[t][i])
    outs = s.record.layers[-1].o
    manual_out = s.manual.output if isinstance(s.manual.output, list) else [s.manual.output]
    for k, (yk, mk) in enumerate(zip(outs, manual_out)):
        hat = "ŷ" if len(outs) == 1 else f"ŷ_{k}"
        c.line(f"  {hat} = o[{n_layers - 1},{k}] = {_n(yk.data)}", yk.data, mk)


def _say_err(c: _Checks, s: _Step, loss: str) -> None:
    c.say()
    outs = s.record.layers[-1].o
    if loss == "mse" and len(outs) == 1:
        c.line(f"Err = (y − ŷ)² = ({_n(float(s.y))} − {_p(outs[0].data)})² = {_n(s.err.data)}",
               s.err.data, s.manual.err)
    else:
        c.line(f"Err = {_err_text(loss, s)[0]} = {_n(s.err.data)}", s.err.data, s.manual.err)


def _say_output_deltas(c: _Checks, s: _Step, loss: str) -> None:
    """δ_k = ∂Err/∂ŷ_k · σ'(u_k), with ∂Err/∂ŷ_k = ŷ_k.grad and σ'(u_k) = ∂o/∂u from the graph."""
    last = len(s.model.layers) - 1
    c.say()
    c.say(f"Backward, output layer {last}:  δ_k = ∂Err/∂ŷ_k · σ'(u_k),  ∂Err/∂ŷ = "
          f"{_err_text(loss, s)[1]},")
    c.say(f"  σ'(u) = ∂o/∂u, stored by the activation node ({_rule(s.model.layers[last].activation)})")
    lt = s.record.layers[last]
    for k, (u, o) in enumerate(zip(lt.u, lt.o)):
        hat = "ŷ" if len(lt.u) == 1 else f"ŷ_{k}"
        slope = _p(_slope(o, u))
        c.say(f"  δ[{last},{k}] = ∂Err/∂{hat} × σ'(u[{last},{k}])")
        if loss == "mse":
            yk = s.y[k] if isinstance(s.y, list) else s.y
            c.say(f"         = −2({_n(float(yk))} − {_p(o.data)}) × {slope}")
        c.line(f"         = {_p(o.grad)} × {slope} = {_n(u.grad)}", u.grad, s.manual.delta[last][k])


def _say_hidden_deltas(c: _Checks, s: _Step) -> None:
    """δ_i = σ'(u_i) · Σ_j δ_j·θ_ji, right to left, every term of the sum written out."""
    for t in range(len(s.model.layers) - 2, -1, -1):
        c.say()
        c.say(f"Backward, hidden layer {t}:  δ_i = σ'(u_i) · Σ_j δ_j·θ_ji   "
              f"({_rule(s.model.layers[t].activation)})")
        nxt, nxt_neurons = s.record.layers[t + 1], s.model.layers[t + 1].neurons
        for i, (u, o) in enumerate(zip(s.record.layers[t].u, s.record.layers[t].o)):
            pairs = [(nxt.u[j].grad, nxt_neurons[j].w[i].data) for j in range(len(nxt.u))]
            total = 0.0
            for delta_j, theta_ji in pairs:
                total += delta_j * theta_ji
            names = " + ".join(f"δ[{t + 1},{j}]·θ[{t + 1},{j},{i}]" for j in range(len(pairs)))
            nums = " + ".join(f"{_p(d)}·{_p(w)}" for d, w in pairs)
            slope = _p(_slope(o, u))
            c.say(f"  δ[{t},{i}] = σ'(u[{t},{i}]) × ({names})")
            c.say(f"         = {slope} × ({nums})")
            c.line(f"         = {slope} × {_p(total)} = {_n(u.grad)}", u.grad, s.manual.delta[t][i])


def _say_gradients(c: _Checks, s: _Step) -> None:
    """∂Err/∂θ_iℓ = δ_i·o_ℓ and ∂Err/∂b_i = δ_i, as backward left them in .grad."""
    c.say()
    c.say("Gradients:  ∂Err/∂θ_iℓ = δ_i·o_ℓ,  ∂Err/∂b_i = δ_i")
    for t, (layer, lt) in enumerate(zip(s.model.layers, s.record.layers)):
        o_names, o_values = s.layer_inputs(t)
        for i, (neuron, u) in enumerate(zip(layer.neurons, lt.u)):
            for ell, w in enumerate(neuron.w):
                c.line(f"  ∂Err/∂θ[{t},{i},{ell}] = δ[{t},{i}]·{o_names[ell]} = {_p(u.grad)}·"
                       f"{_p(o_values[ell])} = {_n(w.grad)}",
                       w.grad, s.manual.grads[f"layers.{t}.neurons.{i}.w.{ell}"])
            c.line(f"  ∂Err/∂b[{t},{i}] = δ[{t},{i}] = {_n(neuron.b.grad)}",
                   neuron.b.grad, s.manual.grads[f"layers.{t}.neurons.{i}.b"])


def _say_update(c: _Checks, s: _Step, lr: float, loss: str) -> None:
    """θ ← θ − η·∂Err/∂θ by the optimiser users train with, then Err again."""
    from autograd import no_grad

    from .manual import manual_backprop
    from .optim import SGD

    named = s.model.named_parameters()
    before = {name: (p.data, p.grad) for name, p in named}
    SGD([p for _, p in named], lr=lr).step()
    c.say()
    c.say(f"Update:  θ ← θ − η·∂Err/∂θ  (and b alike), η = {_n(lr)}")
    for name, p in named:
        t, i, kind = _where(name)
        label = f"θ[{t},{i},{kind}]" if kind != "b" else f"b[{t},{i}]"
        old, grad = before[name]
        c.line(f"  {label} ← {_n(old)} − {_n(lr)}·{_p(grad)} = {_n(p.data)}",
               p.data, old - lr * s.manual.grads[name])
    with no_grad():
        after = s.loss_fn([s.model(s.x)], [s.y], reduction="sum").data
    change = after - s.err.data
    c.say()
    c.line(f"Err before the step {_n(s.err.data)}, after {_n(after)}: "
           f"{'down' if change < 0 else 'up'} by {_n(abs(change))}",
           after, manual_backprop(s.model, s.x, s.y, loss).err)


def run_explain(args: argparse.Namespace) -> int:
    s = _Step(args)
    c = _Checks()
    _say_header(c, s, args)
    _say_forward(c, s)
    _say_err(c, s, args.loss)
    _say_output_deltas(c, s, args.loss)
    _say_hidden_deltas(c, s)
    _say_gradients(c, s)
    svg_path = None
    if args.svg:
        import viz
        svg_path = viz.render(s.err, args.svg)  # drawn before the update, with this step's numbers
    _say_update(c, s, args.lr, args.loss)
    if svg_path:
        c.say(f"graph of this step (δ on every u): {svg_path}")
    c.say(f"checks: {c.passed} passed, {c.failed} failed")
    print("\n".join(c.lines))
    return 1 if c.failed else 0


def _where(name: str) -> Tuple[int, int, str]:
    """'layers.1.neurons.0.w.2' -> (1, 0, '2'); '...b' -> (t, i, 'b')."""
    parts = name.split(".")
    return int(parts[1]), int(parts[3]), parts[5] if parts[4] == "w" else "b"


# --- health ----------------------------------------------------------------------------

def _pairs(activations: Sequence[str], inits: Sequence[str]) -> List[Tuple[str, str]]:
    if len(activations) == 1:
        activations = list(activations) * len(inits)
    if len(inits) == 1:
        inits = list(inits) * len(activations)
    if len(activations) != len(inits):
        raise CLIError(f"--activation lists {len(activations)} networks but --init {len(inits)}; "
                       "give as many of each, or one of either")
    return list(zip(activations, inits))


def run_health(args: argparse.Namespace) -> int:
    from .health import health
    from .module import MLP
    from .optim import clip_grad_norm

    if args.clip is not None and args.clip < 0:
        raise CLIError(f"--clip must be a max norm >= 0, got {args.clip:g}")
    loss, nout, labels = _recipe(args)
    X, y = _dataset(args, labels)
    pairs = _pairs(args.activation, args.init)
    classes = 2 if args.dataset in BINARY else args.classes
    print(f"data: {args.dataset}, {len(X)} samples, {classes} classes, loss {loss}, seed {args.seed}")
    summary: List[str] = []
    for k, (activation, init) in enumerate(pairs):
        model = MLP(2, args.layers + [nout], activation=activation, output_activation="linear",
                    init=init, seed=args.seed)
        report = health(model, X, y, loss=loss, keep_grads=args.clip is not None)
        print()
        print(f"[{k + 1}/{len(pairs)}] {len(args.layers)} hidden {activation} layer"
              f"{'s' if len(args.layers) != 1 else ''}, {init} init")
        print(report)
        if args.clip is not None:
            params = model.parameters()
            norm = clip_grad_norm(params, args.clip)
            after = math.hypot(*[p.grad for p in params])
            verb = "scaled to" if math.isfinite(norm) and norm > args.clip else "left at"
            print(f"clip_grad_norm(max_norm={args.clip:g}): total ‖∂Err/∂θ‖ (all parameters) "
                  f"{_n(norm)}, {verb} {_n(after)}")
        first = report.layers[0]
        ratio = "-" if first.delta_ratio is None else f"{first.delta_ratio:.2e}"
        summary.append(f"  {activation:>10} + {init:<8} first layer's mean |δ| / output layer's = "
                       f"{ratio:>9}   {', '.join(report.flags) or 'healthy'}")
    if len(pairs) > 1:
        print()
        print("How much of δ reaches the first layer (δ_i = σ'(u_i)·Σ_j δ_j·θ_ji, layer by layer):")
        print("\n".join(summary))
    return 0

