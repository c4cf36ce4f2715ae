"""The fast forward paths (``autograd.value.dense``, ``MLP.forward_batch``) make exactly the
nodes the plain ops make: same numbers, operands, local derivatives, labels and tags, and the
same numbers under every mode."""

from __future__ import annotations

import math

import pytest

import autograd
import nn
from autograd import Value, topological_order


def _signature(root):
    return [(n.op, n.data, n.local_grads, n.arg, n.label, n.tag, len(n.parents))
            for n in topological_order(root)]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_forward_batch_makes_the_nodes_of_one_dot_and_one_activation_per_neuron(activation):
    model = nn.MLP(3, [4, 2], activation=activation, seed=2)
    xs = [[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]]
    for x, out in zip(xs, model.forward_batch(xs)):
        for k, o in enumerate(out):
            # the reference: the textbook formula on floats
            h = []
            for n in model.layers[0].neurons:
                u = sum(w.data * xi for w, xi in zip(n.w, x)) + n.b.data
                h.append({"relu": max(u, 0.0), "tanh": math.tanh(u), "linear": u,
                          "sigmoid": 1 / (1 + math.exp(-u)),
                          "leaky_relu": u if u > 0 else 0.01 * u}[activation])
            n2 = model.layers[1].neurons[k]
            u2 = sum(w.data * hi for w, hi in zip(n2.w, h)) + n2.b.data
            assert o.data == pytest.approx(u2, rel=1e-12)
            assert o.label == f"u[1,{k}]" and o.tag == ("u", 1, k)  # linear output
            first_u = next(n for n in topological_order(o) if n.op == "dot")
            assert (first_u.label, first_u.tag) == ("u[0,0]", ("u", 0, 0))
        with autograd.no_grad():  # the op-by-op path, taken under any mode: same numbers
            assert [v.data for v in model(x)] == [v.data for v in out]


@pytest.mark.parametrize("activation, call", [
    ("relu", lambda u: u.relu()), ("tanh", lambda u: u.tanh()), ("sigmoid", lambda u: u.sigmoid()),
    ("leaky_relu", lambda u: u.leaky_relu(0.01)), ("linear", lambda u: u)])
def test_dense_nodes_equal_the_plain_ops_nodes(activation, call):
    model = nn.MLP(2, [3, 1], seed=7, activation=activation)
    x = [0.25, -0.5]
    fast = model(x)
    n_out = model.layers[1].neurons[0]
    inputs = [Value(x[0], "x[0]"), Value(x[1], "x[1]")]
    for ell, v in enumerate(inputs):
        v.tag = ("input", ell)
    hidden = []
    for n in model.layers[0].neurons:
        u = autograd.dot(n.w, inputs, n.b)
        u.label, u.tag = n._u_label, n._u_tag
        o = call(u)
        if o is not u:
            o.label, o.tag = n._o_label, n._o_tag
        hidden.append(o)
    slow = autograd.dot(n_out.w, hidden, n_out.b)
    slow.label, slow.tag = n_out._u_label, n_out._u_tag
    assert _signature(fast) == _signature(slow)


def test_dense_refuses_an_activation_that_is_not_a_one_operand_op():
    from autograd.value import dense
    for bad in ("mul", "log", "nope"):
        with pytest.raises(ValueError, match=f"dense: activation must be a one-operand op.*{bad!r}"):
            dense([], [], [], bad, [])


def test_forward_batch_under_a_tape_and_compile_gives_the_same_gradients():
    model = nn.MLP(2, [4, 1], seed=1)
    xs = [[0.3, -0.2], [1.0, 0.5]]
    err = nn.mse(model.forward_batch(xs), [1.0, -1.0])
    err.backward()
    eager = [p.grad for p in model.parameters()]
    model.zero_grad()
    step = autograd.compile(lambda X: nn.mse([model(x) for x in X], [1.0, -1.0]), [xs])
    step(xs)
    assert [p.grad for p in model.parameters()] == eager


@pytest.mark.parametrize("nin", [1, 2, 16, 64, 65, 200])
def test_dense_adds_the_terms_left_to_right_from_zero_bit_for_bit(nin):
    # dense writes Σ θ·o out term by term for up to 64 inputs, and uses sum(map(...)) beyond:
    # both must give the number a plain left-to-right float loop gives, to the last bit
    import random

    rng = random.Random(nin)
    model = nn.MLP(nin, [3, 1], seed=nin)
    for p in model.parameters():
        p.data = rng.uniform(-3, 3) * 10.0 ** rng.randint(-8, 8)  # wide range: rounding shows
    x = [rng.uniform(-3, 3) * 10.0 ** rng.randint(-8, 8) for _ in range(nin)]
    hidden = []
    for n in model.layers[0].neurons:
        u = 0.0
        for w, xi in zip(n.w, x):
            u += w.data * xi
        u += n.b.data
        hidden.append(u if u > 0.0 else 0.0)
    out = 0.0
    n_out = model.layers[1].neurons[0]
    for w, h in zip(n_out.w, hidden):
        out += w.data * h
    out += n_out.b.data
    o = model(x)
    assert o.data == out
    assert [p.data for p in o.parents[3:6]] == hidden
