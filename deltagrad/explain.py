"""``deltagrad explain``: one training step of a tiny network, by the textbook.

It walks the step in the lecture's notation: the forward pass u_i = Σ_ℓ θ_iℓ·o_ℓ + b_i,
o_i = σ(u_i); Err; δ at the output and, right to left, in the hidden layers;
∂Err/∂θ_iℓ = δ_i·o_ℓ; the update θ ← θ − η·∂Err/∂θ.  Every number is autograd's and is
checked against ``nn.manual_backprop``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, List, Tuple

from autograd import OPS, Value, no_grad
from autograd.format import detailed as num
from autograd.format import detailed_factor as _factor
from nn import manual  # called as manual.manual_backprop: looked up when explain runs
from nn.losses import LOSSES
from nn.module import ACTIVATIONS, INITS, MLP
from nn.optim import SGD

from .common import (
    LOSS_NAMES, CLIError, check_model, import_viz, layer_sizes, non_negative, numbers, positive_int,
)

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


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand."""
    p = subparsers.add_parser(
        "explain", help="walk one training step of a tiny network, with every number checked",
        description="Walk one training step of a tiny MLP (default 2-2-1, sigmoid on every neuron, "
                    "Err = (y - ŷ)², one sample) in the textbook's notation: forward pass, δ at the "
                    "output and hidden layers, ∂Err/∂θ = δ·o, the update, and Err before and after. "
                    "Every number comes from autograd and is checked against nn.manual_backprop; "
                    "the exit status is 1 if any check fails.")
    p.add_argument("--layers", type=layer_sizes, default=[2], metavar="SIZES",
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
    p.add_argument("--html", metavar="FILE",
                   help="also write this walk-through as a page that steps through it neuron by "
                        "neuron on the network diagram, ending with the SGD step, to FILE (open it "
                        "in a browser)")
    p.set_defaults(func=run)


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
        self.y, nout = _target(args)
        self.x = list(args.x)
        check_model(len(self.x), args.layers + [nout])
        out_act = args.output_activation or args.activation
        if args.loss != "mse" and args.output_activation is None:
            out_act = "linear"  # hinge, bce_with_logits and cross_entropy read a score, not σ of it
        self.model = MLP(len(self.x), args.layers + [nout], activation=args.activation,
                         output_activation=out_act, init=args.init, seed=args.seed)
        self.loss_fn = LOSSES[args.loss]
        self.manual = manual.manual_backprop(self.model, self.x, self.y, args.loss)
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
    """What is walked through: the network, Err, the sample, η and how neurons are named."""
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
    shown_y = ("[" + ", ".join(num(v) for v in y) + "]" if isinstance(y, list)
               else num(y) if isinstance(y, float) else str(y))
    c.say(f"  sample  x = [{', '.join(num(v) for v in s.x)}], y = {shown_y}    learning rate "
          f"η = {num(args.lr)}    seed {args.seed}, {args.init} init")
    c.say("  names   u[t,i], o[t,i], δ[t,i]: neuron i of layer t (from 0, as in `deltagrad explain "
          "--svg`);")
    c.say("          θ[t,i,ℓ]: its weight from input ℓ (x[ℓ] in layer 0, o[t−1,ℓ] after); b[t,i]: "
          "its bias")


def _err_text(loss: str, s: _Step) -> Tuple[str, str]:
    """(Err, ∂Err/∂ŷ) as the lecture writes them, with a sum over k for several mse targets."""
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
            nums = " + ".join(f"{_factor(w.data)}·{_factor(v)}" for w, v in zip(neuron.w, o_values))
            c.say(f"  u[{t},{i}] = {terms} + b[{t},{i}]")
            c.line(f"         = {nums} + {_factor(neuron.b.data)} = {num(u.data)}", u.data, s.manual.u[t][i])
            if o is u:
                c.line(f"  o[{t},{i}] = u[{t},{i}] = {num(o.data)}  (linear)", o.data, s.manual.o[t][i])
            else:
                c.line(f"  o[{t},{i}] = {sym}(u[{t},{i}]) = {sym}({num(u.data)}) = {num(o.data)}",
                       o.data, s.manual.o[t][i])
    outs = s.record.layers[-1].o
    manual_out = s.manual.output if isinstance(s.manual.output, list) else [s.manual.output]
    for k, (yk, mk) in enumerate(zip(outs, manual_out)):
        hat = "ŷ" if len(outs) == 1 else f"ŷ_{k}"
        c.line(f"  {hat} = o[{n_layers - 1},{k}] = {num(yk.data)}", yk.data, mk)


def _say_err(c: _Checks, s: _Step, loss: str) -> None:
    """Err of the sample, written out for a single mse output."""
    c.say()
    outs = s.record.layers[-1].o
    if loss == "mse" and len(outs) == 1:
        c.line(f"Err = (y − ŷ)² = ({num(float(s.y))} − {_factor(outs[0].data)})² = {num(s.err.data)}",
               s.err.data, s.manual.err)
    else:
        c.line(f"Err = {_err_text(loss, s)[0]} = {num(s.err.data)}", s.err.data, s.manual.err)


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
        slope = _factor(_slope(o, u))
        c.say(f"  δ[{last},{k}] = ∂Err/∂{hat} × σ'(u[{last},{k}])")
        if loss == "mse":
            yk = s.y[k] if isinstance(s.y, list) else s.y
            c.say(f"         = −2({num(float(yk))} − {_factor(o.data)}) × {slope}")
        c.line(f"         = {_factor(o.grad)} × {slope} = {num(u.grad)}", u.grad, s.manual.delta[last][k])


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
            nums = " + ".join(f"{_factor(d)}·{_factor(w)}" for d, w in pairs)
            slope = _factor(_slope(o, u))
            c.say(f"  δ[{t},{i}] = σ'(u[{t},{i}]) × ({names})")
            c.say(f"         = {slope} × ({nums})")
            c.line(f"         = {slope} × {_factor(total)} = {num(u.grad)}", u.grad, s.manual.delta[t][i])


def _say_gradients(c: _Checks, s: _Step) -> None:
    """∂Err/∂θ_iℓ = δ_i·o_ℓ and ∂Err/∂b_i = δ_i, as backward left them in .grad."""
    c.say()
    c.say("Gradients:  ∂Err/∂θ_iℓ = δ_i·o_ℓ,  ∂Err/∂b_i = δ_i")
    for t, (layer, lt) in enumerate(zip(s.model.layers, s.record.layers)):
        o_names, o_values = s.layer_inputs(t)
        for i, (neuron, u) in enumerate(zip(layer.neurons, lt.u)):
            for ell, w in enumerate(neuron.w):
                c.line(f"  ∂Err/∂θ[{t},{i},{ell}] = δ[{t},{i}]·{o_names[ell]} = {_factor(u.grad)}·"
                       f"{_factor(o_values[ell])} = {num(w.grad)}",
                       w.grad, s.manual.grads[f"layers.{t}.neurons.{i}.w.{ell}"])
            c.line(f"  ∂Err/∂b[{t},{i}] = δ[{t},{i}] = {num(neuron.b.grad)}",
                   neuron.b.grad, s.manual.grads[f"layers.{t}.neurons.{i}.b"])


def _where(name: str) -> Tuple[int, int, str]:
    """'layers.1.neurons.0.w.2' -> (1, 0, '2'); '...b' -> (t, i, 'b')."""
    parts = name.split(".")
    return int(parts[1]), int(parts[3]), parts[5] if parts[4] == "w" else "b"


def _say_update(c: _Checks, s: _Step, lr: float, loss: str) -> None:
    """θ ← θ − η·∂Err/∂θ by the optimiser users train with, then Err again."""
    named = s.model.named_parameters()
    before = {name: (p.data, p.grad) for name, p in named}
    SGD([p for _, p in named], lr=lr).step()
    c.say()
    c.say(f"Update:  θ ← θ − η·∂Err/∂θ  (and b alike), η = {num(lr)}")
    for name, p in named:
        t, i, kind = _where(name)
        label = f"θ[{t},{i},{kind}]" if kind != "b" else f"b[{t},{i}]"
        old, grad = before[name]
        c.line(f"  {label} ← {num(old)} − {num(lr)}·{_factor(grad)} = {num(p.data)}",
               p.data, old - lr * s.manual.grads[name])
    with no_grad():
        after = s.loss_fn([s.model(s.x)], [s.y], reduction="sum").data
    change = after - s.err.data
    c.say()
    c.line(f"Err before the step {num(s.err.data)}, after {num(after)}: "
           f"{'down' if change < 0 else 'up'} by {num(abs(change))}",
           after, manual.manual_backprop(s.model, s.x, s.y, loss).err)


def run(args: argparse.Namespace) -> int:
    """Walk the step, print every line with its mark; exit status 1 if any check failed."""
    s = _Step(args)
    c = _Checks()
    _say_header(c, s, args)
    _say_forward(c, s)
    _say_err(c, s, args.loss)
    _say_output_deltas(c, s, args.loss)
    _say_hidden_deltas(c, s)
    _say_gradients(c, s)
    svg_path = html_path = None
    if args.svg or args.html:
        viz = import_viz()
        # drawn before the update, with this step's numbers
        svg_path = viz.render(s.err, args.svg) if args.svg else None
        html_path = viz.render(s.model, args.html, format="html", x=s.x, y=s.y, loss=args.loss,
                               lr=args.lr) if args.html else None
    _say_update(c, s, args.lr, args.loss)
    if svg_path:
        c.say(f"graph of this step (δ on every u): {svg_path}")
    if html_path:
        c.say(f"this step's backward pass, one node at a time, in a browser: {html_path}")
    c.say(f"checks: {c.passed} passed, {c.failed} failed")
    print("\n".join(c.lines))
    return 1 if c.failed else 0
