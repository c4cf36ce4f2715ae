"""``deltagrad graph``: draw a computation graph after backward, to an SVG or PNG file, or
write it as an HTML page that steps through forward and backward (``viz.html``).

By default the drawing is micrograd's one-neuron expression ``o = tanh(x1·w1 + x2·w2 + b)``.
A network, ``--demo network`` (a tiny 2-2-1 with its squared error) or ``--model FILE
--x ...`` (a saved model on one input, with ``--y`` its loss ``Err``), is drawn as the
textbook's network diagram (``viz.network``), and its page steps through it neuron by
neuron, ending with an SGD step (``--lr``); ``--ops`` draws its op-level graph instead.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Optional

from autograd import Value
from nn.losses import LOSSES
from nn.module import MLP

from .common import CLIError, check_output, import_viz, int_at_least, load_model, non_negative, numbers

DEFAULT_OUTPUT = "deltagrad-graph.svg"


def register(subparsers: Any) -> None:
    """Add the ``graph`` subcommand."""
    p = subparsers.add_parser(
        "graph", help="draw a computation graph with data, grad and local derivatives (SVG/PNG)",
        description="Draw a computation graph after backward: every value shows data and grad, "
                    "every arrow the local derivative the chain rule multiplies by, every neuron's "
                    "u its δ = ∂Err/∂u. Default: micrograd's one-neuron expression. Prints the path "
                    "of the file it wrote.")
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="FILE",
                   help=f"file to write, .svg or .png, or .html for a page that steps through "
                        f"forward and backward (default: {DEFAULT_OUTPUT})")
    p.add_argument("--demo", choices=("neuron", "network"), default="neuron",
                   help="what to draw without --model: one tanh neuron as + and × (micrograd's "
                        "example), or a 2-2-1 tanh network with its squared error (default: neuron)")
    p.add_argument("--model", metavar="FILE", help="a model file saved by train --save")
    p.add_argument("--x", type=numbers, metavar="x1,x2", help="the input for --model")
    p.add_argument("--y", type=numbers, metavar="y", help="target(s): draw Err and every neuron's "
                   "δ = ∂Err/∂u (without it the drawing ends at the output ŷ)")
    p.add_argument("--loss", choices=tuple(LOSSES), default="mse",
                   help="the loss Err of --y (default: mse, Σ(y − ŷ)²)")
    p.add_argument("--ops", action="store_true",
                   help="for a network: draw the op-level graph (every value and op) instead of the "
                        "network diagram (layers of neurons, weights as lines); --rankdir, --depth "
                        "and --max-nodes imply it")
    p.add_argument("--lr", type=non_negative, default=None, metavar="η",
                   help="a network's .html page: learning rate of its SGD step (default: 0.1)")
    p.add_argument("--max-neurons", type=int_at_least(2), default=16, metavar="N",
                   help="network diagram: show at most N neurons per layer (default: 16)")
    p.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default=None,
                   help="direction the graph flows (default: LR, left to right)")
    p.add_argument("--depth", type=int_at_least(0), default=None, metavar="N",
                   help="draw only values at most N ops up from the result")
    p.add_argument("--max-nodes", type=int_at_least(1), default=None, metavar="N",
                   help="refuse graphs with more values than N (default: 1000)")
    p.add_argument("--no-local", action="store_true", help="no local derivatives on the arrows")
    p.add_argument("--no-rules", action="store_true", help="no derivative rules on op nodes")
    p.add_argument("--no-health", action="store_true", help="no gradient colours and no legend")
    p.set_defaults(func=run)


def neuron_demo() -> Any:
    """micrograd's example, o = tanh(x1·w1 + x2·w2 + b), after ``o.backward()``."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    x1w1 = x1 * w1
    x1w1.label = "x1·w1"
    x2w2 = x2 * w2
    x2w2.label = "x2·w2"
    s = x1w1 + x2w2
    s.label = "x1·w1 + x2·w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def network_demo() -> MLP:
    """The 2-2-1 tanh network (seed 1) drawn on x = (0.5, -0.2) with y = 1."""
    return MLP(2, [2, 1], activation="tanh", seed=1)


def checked_model(path: str, x: Optional[List[float]], y: Optional[List[float]]) -> MLP:
    """The saved model, checked against the sizes of ``x`` and ``y``."""
    if x is None:
        raise CLIError("--model needs the input to draw, e.g. --x 0.5,0.2")
    try:
        model = load_model(path)[0]
    except OSError as e:
        raise CLIError(f"cannot read the model file {path}: {e.strerror or e}") from None
    if len(x) != model.nin:
        raise CLIError(f"--x has {len(x)} numbers but the model in {path} takes {model.nin} inputs")
    outputs = model.nouts[-1]
    if y is None and outputs != 1:
        raise CLIError(f"the model in {path} has {outputs} outputs; give --y with "
                       f"{outputs} targets to draw the loss that joins them")
    if y is not None and len(y) != outputs:
        raise CLIError(f"--y has {len(y)} numbers but the model in {path} has {outputs} "
                       f"output{'s' if outputs != 1 else ''}")
    return model


def op_graph(model: MLP, x: List[float], y: Optional[List[float]], loss: str) -> Value:
    """The value to draw op by op: Err after backward (with ``y``), else the output ŷ."""
    record = model.trace(x, y, loss) if y is not None else model.trace(x)
    if record.err is not None:
        return record.err
    # (without y the model has one output, load_model checked: the output is one Value)
    record.output.backward()  # type: ignore[union-attr]
    return record.output  # type: ignore[return-value]


#: Options of the op-level graph only: giving one draws it (as --ops does).
_OP_OPTIONS = ("rankdir", "depth", "max_nodes")


def _network_page(viz: Any, model: Any, x: List[float], y: Optional[List[float]],
                  args: argparse.Namespace) -> int:
    """Write a model's page: its network diagram stepped neuron by neuron, then an SGD step."""
    if y is None:
        raise CLIError("a network's .html page steps through the backward pass of its error: give "
                       "--y (the target), or --ops for the op-level page of the output")
    target = y[0] if len(y) == 1 else y
    lr = 0.1 if args.lr is None else args.lr
    print(viz.render(model, args.output, x=x, y=target, loss=args.loss, lr=lr,
                     max_neurons=args.max_neurons))
    return 0


def run(args: argparse.Namespace) -> int:
    """Check the options, build the drawing asked for, write it and print the file's path."""
    viz = import_viz()
    if args.model is None and (args.x is not None or args.y is not None):
        raise CLIError("--x and --y go with --model FILE (a model saved by train --save)")
    page = os.path.splitext(args.output)[1].lower() == ".html"
    if not page and os.path.splitext(args.output)[1].lower() not in (".svg", ".png"):
        raise CLIError(f"--output {args.output}: the file name must end in .svg or .png "
                       "(a picture), or .html (a page that steps through backward)")
    if page and (args.depth is not None or args.no_local or args.no_health):
        raise CLIError("--depth, --no-local and --no-health are for pictures; an .html page "
                       "steps through the whole graph (use --max-nodes for big ones)")
    check_output("--output", args.output)
    model, x, y = None, args.x, args.y
    if args.model is not None:
        model = checked_model(args.model, x, y)
    elif args.demo == "network":
        model, x, y = network_demo(), [0.5, -0.2], [1.0]
    ops = args.ops or any(getattr(args, name) is not None for name in _OP_OPTIONS)
    if args.lr is not None and (not page or model is None or ops):
        raise CLIError("--lr is the learning rate of the SGD step on a network's .html page "
                       "(--demo network or --model FILE, -o FILE.html, without --ops)")
    if model is not None and not ops:
        if page:
            return _network_page(viz, model, x, y, args)
        drawing = viz.network(model, x, y, args.loss, max_neurons=args.max_neurons)
        print(viz.render(drawing, args.output))
        return 0
    root = neuron_demo() if model is None else op_graph(model, x, y, args.loss)
    max_nodes = 1000 if args.max_nodes is None else args.max_nodes
    options: Dict[str, Any] = dict(rankdir=args.rankdir or "LR", max_nodes=max_nodes,
                                   show_rules=not args.no_rules)
    if not page:
        options.update(depth=args.depth, show_local=not args.no_local, health=not args.no_health)
    try:
        path = viz.render(root, args.output, **options)
    except viz.GraphTooLargeError as e:
        way_out = "draw a picture of the part near the output with --depth N and -o FILE.svg" if page \
            else "draw the part near the output with --depth N"
        raise CLIError(f"the graph has {e.values:,} values, more than --max-nodes {e.max_nodes:,}; "
                       f"pass --max-nodes {e.values}, or {way_out}"
                       + ("" if model is None or page else "; without --ops, --max-nodes and "
                          "--depth it draws the network diagram")) from None
    print(path)
    return 0
