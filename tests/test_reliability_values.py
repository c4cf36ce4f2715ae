"""Values copied and pickled at any depth, with their graphs (and shared nodes) intact."""

from __future__ import annotations

import copy
import math
import pickle
import sys

import pytest

import nn
from autograd import Value, dot


def chain(n: int) -> tuple:
    x = Value(0.5, "x")
    y = x
    for i in range(n):
        y = (y * 0.999 + 0.001).tanh() if i % 2 else y * 1.0001
    y.label = "y"
    return x, y


def nodes(root: Value) -> int:
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v.parents)
    return len(seen)


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v)),
                                    lambda v: pickle.loads(pickle.dumps(v, protocol=0))])
def test_a_10000_node_chain_copies_and_pickles_then_backward_matches(copier):
    assert sys.getrecursionlimit() < 10_000 * 3  # the depth would overflow a recursive copy
    x, y = chain(10_000)
    y2 = copier(y)
    assert y2 is not y and nodes(y2) == nodes(y) > 10_000
    assert y2.data == y.data and y2.label == "y" and y2.op == y.op
    y.backward()
    y2.backward()
    leaf2 = y2
    while leaf2.parents:
        leaf2 = leaf2.parents[0]
    assert leaf2 is not x and leaf2.label == "x" and leaf2.grad == x.grad != 0.0


def test_deepcopy_keeps_shared_nodes_shared_and_copies_fields():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    a.tag = ("input", 0, [1, 2])
    c = a * b
    d = c + c.tanh()  # c is used twice
    d.backward()
    [a2, d2] = copy.deepcopy([a, d])  # one memo: a2 is d2's leaf
    c2 = d2.parents[0]
    assert d2.parents[1].parents[0] is c2  # still one node used twice
    assert c2.parents[0] is a2 and a2.tag == a.tag and a2.tag is not a.tag
    assert (a2.data, a2.grad, a2.label) == (a.data, a.grad, "a")
    assert c2.local_grads == c.local_grads and d2.grad == d.grad == 1.0


def test_pickled_together_leaves_stay_the_same_objects():
    model = nn.MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.0])
    params = model.parameters()
    params2, out2 = pickle.loads(pickle.dumps((params, out)))
    assert out2.data == out.data
    reached = set()
    stack = [out2]
    while stack:
        v = stack.pop()
        if not v.parents:
            reached.add(id(v))
        stack.extend(v.parents)
    assert {id(p) for p in params2} <= reached  # the graph's θ are the pickled parameters
    params2[0].data += 1.0
    assert model.parameters()[0].data != params2[0].data


def test_copy_copy_is_shallow():
    a = Value(1.5, "a")
    b = (a * 2.0).exp()
    b.grad = 4.0
    b2 = copy.copy(b)
    assert b2 is not b and b2.parents[0] is b.parents[0] and (b2.data, b2.grad, b2.label) == (b.data, 4.0, "")


def test_a_model_pickles_and_trains_the_same():
    model = nn.MLP(2, [4, 1], seed=1)
    twin = pickle.loads(pickle.dumps(model))
    X, y = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [1.0, -1.0, 1.0]
    h1 = nn.fit(model, X, y, epochs=5, verbose=False)
    h2 = nn.fit(twin, X, y, epochs=5, verbose=False)
    assert h1.loss == h2.loss and math.isfinite(h1.loss[-1])
    assert model.state_dict() == twin.state_dict()


def test_dot_nodes_pickle_with_their_layout():
    ws = [Value(0.5), Value(-1.0)]
    u = dot(ws, [2.0, 3.0], 0.25)
    u2 = pickle.loads(pickle.dumps(u))
    assert u2.op == "dot" and len(u2.parents) == 5 and u2.local_grads == u.local_grads
