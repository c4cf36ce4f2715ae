"""backward, zero_grad and topological_order on whole graphs: accumulation like PyTorch,
shared subexpressions and diamonds, backward from an intermediate node, a textbook
neuron, and a chain of a million nodes."""

from __future__ import annotations

import gc
import math

import pytest

import autograd
from autograd import Value, topological_order, zero_grad
from autograd.graph import tape


def _graph():
    """out = tanh(a·b + c)·a, with its inputs; ∂out/∂a, ∂out/∂b, ∂out/∂c by hand."""
    a, b, c = Value(0.7, "a"), Value(-1.3, "b"), Value(0.4, "c")
    out = (a * b + c).tanh() * a
    return out, (a, b, c)


def _graph_grads(a: float, b: float, c: float):
    t = math.tanh(a * b + c)
    s = 1.0 - t * t
    return (t + a * s * b, a * s * a, a * s)


def test_backward_matches_hand_derived_gradients():
    out, (a, b, c) = _graph()
    out.backward()
    expected = _graph_grads(0.7, -1.3, 0.4)
    assert [v.grad for v in (a, b, c)] == pytest.approx(expected, rel=1e-12)
    assert out.grad == 1.0


def test_backward_twice_doubles_every_gradient():
    out, inputs = _graph()
    out.backward()
    first = {id(n): n.grad for n in topological_order(out)}
    out.backward()
    for node in topological_order(out):
        assert node.grad == pytest.approx(2.0 * first[id(node)], rel=1e-15, abs=0.0)
    assert out.grad == 2.0
    assert inputs[0].grad == pytest.approx(2.0 * _graph_grads(0.7, -1.3, 0.4)[0], rel=1e-12)


def test_backward_seed_scales_and_function_form_matches_method():
    expected = _graph_grads(0.7, -1.3, 0.4)
    out, inputs = _graph()
    out.backward(grad=2.0)
    assert [v.grad for v in inputs] == pytest.approx([2.0 * g for g in expected], rel=1e-12)
    out, inputs = _graph()
    autograd.backward(out, -3)  # an int seed is fine too
    assert [v.grad for v in inputs] == pytest.approx([-3.0 * g for g in expected], rel=1e-12)
    assert out.grad == -3.0 and type(out.grad) is float


def test_zero_grad_on_the_root_zeroes_the_whole_graph():
    out, inputs = _graph()
    out.backward()
    nodes = topological_order(out)
    assert sum(1 for n in nodes if n.grad != 0.0) > len(inputs)
    zero_grad(out)
    assert all(n.grad == 0.0 for n in nodes)
    out.backward()  # and the next backward starts from scratch
    assert [v.grad for v in inputs] == pytest.approx(_graph_grads(0.7, -1.3, 0.4), rel=1e-12)


def test_zero_grad_on_an_iterable_zeroes_exactly_those():
    out, (a, b, c) = _graph()
    out.backward()
    before_c = c.grad
    others = [n for n in topological_order(out) if n not in (a, b, c)]
    before_others = [n.grad for n in others]
    zero_grad([a, b])
    assert a.grad == 0.0 and b.grad == 0.0 and c.grad == before_c != 0.0
    assert [n.grad for n in others] == before_others
    zero_grad(v for v in (c,))  # any iterable, a generator too
    assert c.grad == 0.0


def test_backward_on_a_leaf():
    v = Value(3.0)
    v.backward()
    v.backward(2.5)
    assert v.grad == 3.5


# --- shared subexpressions ------------------------------------------------------------------

def test_square_and_double_through_the_same_operand():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    a = Value(-1.5)
    (a * a * a).backward()
    assert a.grad == pytest.approx(3 * 1.5 ** 2, rel=1e-15)
    a = Value(2.0)
    (a / a).backward()
    assert a.grad == 0.0
    a = Value(0.5)
    (a ** a).backward()  # d/da a^a = a^a·(ln a + 1)
    assert a.grad == pytest.approx(0.5 ** 0.5 * (math.log(0.5) + 1.0), rel=1e-12)


def test_diamond():
    a = Value(1.5)
    b = a * 2
    c = a + 3
    d = b * c  # d = 2a(a + 3), dd/da = 4a + 6
    d.backward()
    assert d.data == 2 * 1.5 * 4.5
    assert a.grad == 4 * 1.5 + 6
    assert b.grad == c.data and c.grad == b.data


def test_node_reused_many_times():
    x, w = Value(0.3), Value(2.0)
    y = x * w
    z = autograd.sum([y ** k for k in range(1, 8)])  # Σ_k y^k, used seven times
    z.backward()
    yv = 0.6
    dz_dy = sum(k * yv ** (k - 1) for k in range(1, 8))
    assert y.grad == pytest.approx(dz_dy, rel=1e-12)
    assert x.grad == pytest.approx(dz_dy * 2.0, rel=1e-12)
    assert w.grad == pytest.approx(dz_dy * 0.3, rel=1e-12)
    acc = Value(1.25)
    total = acc
    for _ in range(200):
        total = total + acc
    total.backward()
    assert acc.grad == 201.0


def test_node_reached_by_paths_of_different_lengths():
    # h feeds out directly (1 edge) and through a 10-op chain t = 1.5·t + 0.1
    x = Value(0.8)
    h = x * x
    t = h
    for _ in range(10):
        t = t * 1.5 + 0.1
    out = t * h  # out = 1.5^10·h² + c·h,  c = 0.1·Σ_{i<10} 1.5^i
    out.backward()
    hv = 0.64
    c = 0.1 * sum(1.5 ** i for i in range(10))
    assert out.data == pytest.approx(1.5 ** 10 * hv * hv + c * hv, rel=1e-12)
    dout_dh = 2 * 1.5 ** 10 * hv + c
    assert h.grad == pytest.approx(dout_dh, rel=1e-12)
    assert x.grad == pytest.approx(dout_dh * 2 * 0.8, rel=1e-12)


def test_paths_of_different_lengths_through_nonlinear_ops():
    x = Value(0.3)
    h = x * x
    out = h * (2 * (h + 1)).tanh()  # out = h·tanh(2(h+1))
    out.backward()
    hv = 0.09
    th = math.tanh(2 * (hv + 1))
    dout_dh = th + hv * 2.0 / math.cosh(2 * (hv + 1)) ** 2
    assert h.grad == pytest.approx(dout_dh, rel=1e-12)
    assert x.grad == pytest.approx(dout_dh * 0.6, rel=1e-12)


def test_backward_from_an_intermediate_node_then_from_the_root():
    a = Value(1.5)
    b = a * 2
    c = b * b
    d = c + b  # d = 4a² + 2a
    b.backward()
    assert (a.grad, b.grad) == (2.0, 1.0)
    d.backward()
    # the second call adds ∂d/∂· on top of the first; b's old gradient is not re-propagated
    bv = 3.0
    assert d.grad == 1.0
    assert c.grad == 1.0
    assert b.grad == 1.0 + (2 * bv + 1)
    assert a.grad == 2.0 + (8 * 1.5 + 2)


def test_backward_twice_from_an_intermediate_node():
    a = Value(2.0)
    b = a.exp()
    c = b * 3
    c.backward()
    c.backward()
    assert c.grad == 2.0 and b.grad == 6.0
    assert a.grad == pytest.approx(6.0 * math.exp(2.0), rel=1e-12)


def test_textbook_neuron_delta_rule():
    # one sigmoid neuron, Err = (y − o)²: ∂Err/∂θ_ℓ = δ·o_ℓ with δ = −2(y − o)·σ'(u)
    o_prev = [0.5, -1.0, 2.0]
    theta = [Value(t) for t in (0.1, -0.4, 0.3)]
    b = Value(0.2)
    y = 1.0
    u = autograd.dot(theta, o_prev, bias=b)
    o = u.sigmoid()
    err = (y - o) ** 2
    err.backward()
    uv = 0.1 * 0.5 + -0.4 * -1.0 + 0.3 * 2.0 + 0.2
    ov = 1.0 / (1.0 + math.exp(-uv))
    delta = -2.0 * (y - ov) * ov * (1.0 - ov)
    assert u.grad == pytest.approx(delta, rel=1e-12)
    assert [t.grad for t in theta] == pytest.approx([delta * x for x in o_prev], rel=1e-12)
    assert b.grad == pytest.approx(delta, rel=1e-12)


def test_hidden_neuron_delta_sums_over_the_next_layer():
    # δ_i = σ'(u_i)·Σ_j δ_j·θ_ji: one tanh hidden unit feeding two linear outputs
    x = 0.7
    w = Value(0.9)
    u_i = w * x
    o_i = u_i.tanh()
    theta_j = [1.5, -0.5]
    targets = [0.2, 0.4]
    outs = [o_i * t for t in theta_j]
    err = autograd.sum([(y - o) ** 2 for y, o in zip(targets, outs)])
    err.backward()
    oi = math.tanh(0.9 * x)
    delta_j = [-2.0 * (y - oi * t) for y, t in zip(targets, theta_j)]
    delta_i = (1.0 - oi * oi) * sum(d * t for d, t in zip(delta_j, theta_j))
    assert u_i.grad == pytest.approx(delta_i, rel=1e-12)
    assert w.grad == pytest.approx(delta_i * x, rel=1e-12)


# --- topological order ------------------------------------------------------------------------

def test_topological_order_lists_each_node_once_after_its_parents():
    out, inputs = _graph()
    order = topological_order(out)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)
    assert order[-1] is out
    for n in order:
        for p in n.parents:
            assert position[id(p)] < position[id(n)]
    assert all(id(v) in position for v in inputs)
    assert len(order) == 7  # a, b, a·b, c, +c, tanh, ·a
    assert topological_order(out) == order  # deterministic (== is identity for Values)
    assert topological_order(inputs[0]) == [inputs[0]]


def test_topological_order_includes_constants():
    v = Value(1.0)
    out = autograd.sum([2 * v, 3])  # the 2 is carried by its node; sum wraps the 3
    order = topological_order(out)
    assert [n.op for n in order] == ["", "mulk", "const", "sum"] and order[1].arg == 2.0


# --- depth: no recursion anywhere ---------------------------------------------------------

def test_deep_graph_topological_order_and_zero_grad():
    n = 50_000  # far beyond the recursion limit, small enough to stay quick
    x0 = Value(0.5)
    x = x0
    for _ in range(n):
        x = x + x0 * 1e-5  # x0 reached from every level: a deep and wide DAG
    order = topological_order(x)
    assert len(order) == 1 + 2 * n and order[0] is x0 and order[-1] is x
    x.backward()
    assert x0.grad == pytest.approx(1.0 + n * 1e-5, rel=1e-12)
    zero_grad(x)
    assert all(node.grad == 0.0 for node in order)


def test_million_node_chain_backpropagates_and_frees():
    n = 1_000_000
    x0 = Value(1.0)
    x = x0
    # pausing the cyclic collector while building only saves time: backward is under test
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(n):
            x = x * 1.0001
    finally:
        if collecting:
            gc.enable()
    assert x.data == pytest.approx(1.0001 ** n, rel=1e-9)
    x.backward()
    assert x0.grad == pytest.approx(1.0001 ** n, rel=1e-9)  # ∂x_n/∂x_0 = 1.0001^n
    assert gc.isenabled() == collecting  # backward restores the collector
    del x, x0  # dropping a million-deep chain must not overflow the C stack
    gc.collect()


# --- backward under a tape: recorded nodes are walked newest first, without a search ----------

def _mlp_grads(use_tape: bool):
    """∂Err/∂θ of a small relu MLP with hinge loss (nn), with or without a tape."""
    import nn
    X, y = nn.data.make_moons(20, noise=0.1, seed=3, labels="pm1")
    model = nn.MLP(2, [6, 6, 1], seed=5)
    if use_tape:
        with tape():
            err = nn.hinge([model(x) for x in X], y) + 1e-3 * autograd.dot(model.parameters(),
                                                                             model.parameters())
            err.backward()
    else:
        err = nn.hinge([model(x) for x in X], y) + 1e-3 * autograd.dot(model.parameters(),
                                                                         model.parameters())
        err.backward()
    return [p.grad for p in model.parameters()], err


def test_tape_gives_the_searchs_gradients_bit_for_bit_and_finite_differences_agree():
    taped, err = _mlp_grads(True)
    searched, _ = _mlp_grads(False)
    assert taped == searched  # same products, added in the same order
    import nn
    X, y = nn.data.make_moons(20, noise=0.1, seed=3, labels="pm1")
    model = nn.MLP(2, [6, 6, 1], seed=5)
    params = model.parameters()

    def loss() -> float:
        with autograd.no_grad():
            return (nn.hinge([model(x) for x in X], y) + 1e-3 * autograd.dot(params, params)).data

    for i in (0, 7, 20, len(params) - 1):  # central differences, an independent oracle
        h, old = 1e-6, params[i].data
        params[i].data = old + h
        up = loss()
        params[i].data = old - h
        down = loss()
        params[i].data = old
        assert taped[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


def test_tape_reaches_nodes_made_before_it_opened():
    x = Value(0.3)
    h = (x * 2.0).tanh()  # made before the tape: not on it
    with tape():
        out = h * h + x
        out.backward()
    t = math.tanh(0.6)
    assert x.grad == pytest.approx(2 * t * (1 - t * t) * 2.0 + 1.0, rel=1e-12)
    assert h.grad == pytest.approx(2 * t, rel=1e-12)


def test_tape_graph_used_across_two_backwards():
    with tape():
        x = Value(0.8)
        h = x.tanh()
        first = h * 2.0
        first.backward()  # takes h off the tape
        second = h * h  # built on h, which is no longer recorded
        second.backward()
    t = math.tanh(0.8)
    assert x.grad == pytest.approx(2.0 * (1 - t * t) + 2 * t * (1 - t * t), rel=1e-12)
    assert h.grad == pytest.approx(2.0 + 2 * t, rel=1e-12)


def test_tape_backward_of_an_earlier_root_after_a_later_one():
    with tape():
        a = Value(1.5)
        b = a * 2
        c = b * b
        d = c + b  # d = 4a² + 2a
        d.backward()
        b.backward()  # b was recorded before d: taken off with it, found by the search
    assert a.grad == (8 * 1.5 + 2) + 2.0
    assert b.grad == (2 * 3.0 + 1) + 1.0 and d.grad == 1.0


def test_tape_leaves_unreached_nodes_alone_and_accumulates():
    x = Value(2.0)
    with tape():
        other = x * 3.0
        other.backward()  # other and x now hold gradients
        mine = x * 5.0
        unrelated = x.exp()
        unrelated.grad = 7.0
        mine.backward()
        mine.backward()
    assert x.grad == 3.0 + 5.0 + 5.0
    assert other.grad == 1.0 and unrelated.grad == 7.0 and mine.grad == 2.0


def test_tape_with_no_grad_compile_and_anomaly_inside():
    w = Value(0.5)
    with tape():
        with autograd.no_grad():
            frozen = w * 4.0  # a leaf: no graph
        step = autograd.compile(lambda v: (v * w).tanh(), [0.25])
        y = (w * frozen).sigmoid()
        with autograd.detect_anomaly():
            y.backward()
        assert step(0.25) == pytest.approx(math.tanh(0.125), rel=1e-15)
    s = 1 / (1 + math.exp(-1.0))
    assert w.grad == pytest.approx(s * (1 - s) * 2.0 + 0.25 * (1 - math.tanh(0.125) ** 2),
                                   rel=1e-12)
    assert frozen.grad == pytest.approx(s * (1 - s) * 0.5, rel=1e-12)


def test_tape_in_threads_gives_each_graph_its_own_gradients():
    import threading
    results = {}

    def work(k: int) -> None:
        x = Value(0.1 * k)
        for _ in range(200):
            with tape():
                y = (x * float(k)).tanh() + x * x
                y.backward()
        t = math.tanh(0.1 * k * k)
        results[k] = (x.grad, 200 * (k * (1 - t * t) + 0.2 * k))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, want in results.values():
        assert got == pytest.approx(want, rel=1e-9)


def test_tape_is_dropped_when_closed_and_emptied_by_backward():
    from autograd import graph
    with tape():
        with tape():
            out = Value(1.0) * 2.0 + 1.0
        assert graph._tape  # still open: the outer tape records
        out.backward()
        assert graph._tape == []  # the root was the newest node: all taken off
        (Value(2.0) * 3.0).tanh()  # a graph dropped unused
        assert len(graph._tape) == 2
    assert graph._tape is None  # closed: nothing holds the dropped graph


def test_tape_million_node_chain():
    n = 1_000_000
    x0 = Value(1.0)
    x = x0
    collecting = gc.isenabled()
    gc.disable()
    try:
        with tape():
            for _ in range(n):
                x = x * 1.0001
            x.backward()
    finally:
        if collecting:
            gc.enable()
    assert x0.grad == pytest.approx(1.0001 ** n, rel=1e-9)
    del x, x0
