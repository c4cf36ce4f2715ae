"""nn.Module, Neuron, Layer, MLP and trace: structure, names, init, forward values, δ."""

from __future__ import annotations

import math
import random
import statistics

import pytest

import autograd
import nn
from autograd import Value
from nn.module import ACTIVATIONS, INITS, LEAKY_SLOPE, Layer, Neuron


def sigma(name, u):
    """The activations written out independently of the engine."""
    return {"relu": max(u, 0.0), "tanh": math.tanh(u), "sigmoid": 1.0 / (1.0 + math.exp(-u)),
            "leaky_relu": u if u > 0 else LEAKY_SLOPE * u, "linear": u}[name]


def set_params(model, values):
    assert len(values) == model.num_parameters()
    for p, v in zip(model.parameters(), values):
        p.data = v


# --- structure, names, order ---------------------------------------------------------

def test_named_parameters_names_and_order():
    model = nn.MLP(2, [3, 1], seed=0)
    expected = []
    for i in range(3):
        expected += [f"layers.0.neurons.{i}.w.0", f"layers.0.neurons.{i}.w.1", f"layers.0.neurons.{i}.b"]
    expected += [f"layers.1.neurons.0.w.{ell}" for ell in range(3)] + ["layers.1.neurons.0.b"]
    named = model.named_parameters()
    assert [name for name, _ in named] == expected
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in named]
    # each name points at the object it describes
    layer1_neuron0 = model.layers[1].neurons[0]
    assert dict(named)["layers.1.neurons.0.w.2"] is layer1_neuron0.w[2]
    assert dict(named)["layers.0.neurons.2.b"] is model.layers[0].neurons[2].b
    assert len(set(map(id, model.parameters()))) == len(expected)


def test_parameter_counts_and_repr():
    model = nn.MLP(2, [16, 16, 1])
    assert model.num_parameters() == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1 == 337
    assert repr(model) == "MLP(2 -> [16 relu, 16 relu, 1 linear], 337 parameters)"
    assert repr(model.layers[1]) == "Layer(16 -> 16 relu, layer 1, 272 parameters)"
    assert repr(model.layers[1].neurons[3]) == "Neuron(16 -> relu, layer 1, neuron 3)"
    tanh = nn.MLP(3, [4, 2], activation="tanh", output_activation="sigmoid")
    assert repr(tanh) == "MLP(3 -> [4 tanh, 2 sigmoid], 26 parameters)"


def test_neuron_and_layer_parameter_names():
    neuron = Neuron(3, rng=random.Random(0))
    assert [n for n, _ in neuron.named_parameters()] == ["w.0", "w.1", "w.2", "b"]
    assert neuron.parameters() == [*neuron.w, neuron.b]
    layer = Layer(2, 2, rng=random.Random(0))
    assert [n for n, _ in layer.named_parameters()] == [
        "neurons.0.w.0", "neurons.0.w.1", "neurons.0.b", "neurons.1.w.0", "neurons.1.w.1", "neurons.1.b"]
    assert layer.parameters() == [p for _, p in layer.named_parameters()]


def test_labels_and_tags_of_parameters():
    model = nn.MLP(2, [3, 2], seed=0)
    neuron = model.layers[1].neurons[1]
    assert [w.label for w in neuron.w] == ["θ[1,1,0]", "θ[1,1,1]", "θ[1,1,2]"]
    assert [w.tag for w in neuron.w] == [("theta", 1, 1, 0), ("theta", 1, 1, 1), ("theta", 1, 1, 2)]
    assert neuron.b.label == "b[1,1]" and neuron.b.tag == ("bias", 1, 1)


def test_zero_grad():
    model = nn.MLP(2, [4, 1], seed=1)
    model([0.5, -1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# --- initialisation ------------------------------------------------------------------

def test_seed_reproducible_and_global_random_untouched():
    random.seed(123)
    before = random.getstate()
    a = nn.MLP(3, [5, 2], init="he", seed=42)
    b = nn.MLP(3, [5, 2], init="he", seed=42)
    c = nn.MLP(3, [5, 2], init="he", seed=43)
    nn.MLP(3, [5, 2])  # seed=None: its own unseeded generator
    assert random.getstate() == before
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()


def test_unseeded_models_differ():
    assert nn.MLP(2, [8]).state_dict() != nn.MLP(2, [8]).state_dict()


def test_uniform_init():
    weights = [w.data for n in Layer(50, 100, rng=random.Random(0)).neurons for w in n.w]
    assert all(-1.0 <= w <= 1.0 for w in weights)
    assert abs(statistics.fmean(weights)) < 0.05
    assert statistics.pstdev(weights) == pytest.approx(1 / math.sqrt(3), rel=0.05)


def test_xavier_init():
    layer = Layer(300, 100, init="xavier", rng=random.Random(0))
    weights = [w.data for n in layer.neurons for w in n.w]
    limit = math.sqrt(6.0 / (300 + 100))
    assert all(-limit <= w <= limit for w in weights)
    assert max(weights) > 0.95 * limit and min(weights) < -0.95 * limit
    assert statistics.pstdev(weights) == pytest.approx(limit / math.sqrt(3), rel=0.05)


def test_he_init():
    layer = Layer(400, 50, init="he", rng=random.Random(0))
    weights = [w.data for n in layer.neurons for w in n.w]
    assert statistics.pstdev(weights) == pytest.approx(math.sqrt(2.0 / 400), rel=0.2)
    assert abs(statistics.fmean(weights)) < 0.01


@pytest.mark.parametrize("init", INITS)
def test_biases_start_at_zero(init):
    model = nn.MLP(3, [4, 4, 2], init=init, seed=0)
    assert all(n.b.data == 0.0 for layer in model.layers for n in layer.neurons)


# --- bad construction ----------------------------------------------------------------

def test_unknown_activation_lists_valid_ones():
    valid = "relu, tanh, sigmoid, leaky_relu, linear"
    with pytest.raises(ValueError, match=f"unknown activation 'swish'.*{valid}"):
        nn.MLP(2, [3], activation="swish")
    with pytest.raises(ValueError, match="output_activation 'softmax'"):
        nn.MLP(2, [3], output_activation="softmax")
    with pytest.raises(ValueError, match="unknown activation"):
        Neuron(2, activation="ReLU")


def test_unknown_init_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown init 'glorot'.*uniform, xavier, he"):
        nn.MLP(2, [3], init="glorot")
    with pytest.raises(ValueError, match="unknown init"):
        Layer(2, 3, init="kaiming")


@pytest.mark.parametrize("nin, nouts, exc", [
    (0, [3], ValueError), (2, [], ValueError), (2, [3, 0], ValueError), (2, [2.5], TypeError),
    (True, [3], TypeError), (2, "16", TypeError), (2, 16, TypeError)])
def test_bad_sizes(nin, nouts, exc):
    with pytest.raises(exc):
        nn.MLP(nin, nouts)


# --- forward -------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_neuron_forward_matches_formula(activation):
    neuron = Neuron(3, activation=activation, rng=random.Random(0))
    for w, v in zip(neuron.w, [0.5, -1.25, 2.0]):
        w.data = v
    neuron.b.data = 0.1
    for x in ([1.0, 2.0, 3.0], [-2.0, 0.5, -1.0]):
        u = 0.5 * x[0] - 1.25 * x[1] + 2.0 * x[2] + 0.1
        assert neuron(x).data == pytest.approx(sigma(activation, u), rel=1e-15, abs=1e-15)


def test_neuron_makes_one_dot_and_one_activation_node():
    neuron = Neuron(3, activation="tanh", rng=random.Random(0))
    x = [Value(1.0), Value(2.0), Value(3.0)]
    o = neuron(x)
    assert o.op == "tanh" and o.label == "o[0,0]" and o.tag == ("o", 0, 0)
    (u,) = o.parents
    assert u.op == "dot" and u.label == "u[0,0]" and u.tag == ("u", 0, 0)
    assert u.parents == (*neuron.w, *x, neuron.b)
    assert len(autograd.topological_order(o)) == 3 + 3 + 1 + 2


def test_linear_neuron_output_is_u_itself():
    neuron = Neuron(2, activation="linear", rng=random.Random(0))
    o = neuron([1.0, 2.0])
    assert o.op == "dot" and o.tag == ("u", 0, 0)


def test_layer_wraps_inputs_once_and_shares_them():
    layer = Layer(2, 3, activation="relu", rng=random.Random(0))
    outs = layer([0.5, -2])
    assert isinstance(outs, list) and len(outs) == 3
    dots = [o.parents[0] for o in outs]
    inputs = [d.parents[2:4] for d in dots]
    assert inputs[0] == inputs[1] == inputs[2]  # the very same Value objects
    x0, x1 = inputs[0]
    assert (x0.data, x1.data) == (0.5, -2.0)
    assert (x0.label, x0.tag, x1.label, x1.tag) == ("x[0]", ("input", 0), "x[1]", ("input", 1))
    given = Value(3.0)
    assert layer([given, 1.0])[0].parents[0].parents[2] is given  # Values are kept as they are


def test_layer_of_one_neuron_returns_a_list():
    out = Layer(2, 1, rng=random.Random(0))([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)


def test_layer_tags_name_the_layer():
    model = nn.MLP(2, [3, 2], seed=0)
    trace = model.trace([1.0, 2.0])
    assert [u.tag for u in trace.layers[1].u] == [("u", 1, 0), ("u", 1, 1)]
    assert [u.label for u in trace.layers[1].u] == ["u[1,0]", "u[1,1]"]
    assert [o.tag for o in trace.layers[0].o] == [("o", 0, 0), ("o", 0, 1), ("o", 0, 2)]


def test_mlp_output_single_value_or_list():
    assert isinstance(nn.MLP(2, [4, 1], seed=0)([1.0, 2.0]), Value)
    out = nn.MLP(2, [4, 3], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_hidden_layer_of_one_neuron():
    model = nn.MLP(2, [1, 2], activation="tanh", seed=0)
    set_params(model, [0.5, -0.25, 0.1,  2.0, 0.3,  -1.0, -0.2])
    h = math.tanh(0.5 * 0.8 - 0.25 * 0.4 + 0.1)
    out = model([0.8, 0.4])
    assert [o.data for o in out] == pytest.approx([2.0 * h + 0.3, -1.0 * h - 0.2], rel=1e-15)
    single = nn.MLP(3, [1, 1], seed=0)
    assert isinstance(single([1, 2, 3]), Value)


def test_mlp_forward_matches_hand_computation():
    model = nn.MLP(2, [2, 1], activation="sigmoid", output_activation="linear", seed=0)
    set_params(model, [1.0, -1.0, 0.5,  0.25, 2.0, -0.5,  3.0, -2.0, 0.1])
    x = [0.3, -0.7]
    h0 = sigma("sigmoid", 1.0 * 0.3 - 1.0 * -0.7 + 0.5)
    h1 = sigma("sigmoid", 0.25 * 0.3 + 2.0 * -0.7 - 0.5)
    assert model(x).data == pytest.approx(3.0 * h0 - 2.0 * h1 + 0.1, rel=1e-15)


def test_inputs_may_be_values_and_get_gradients():
    model = nn.MLP(2, [3, 1], activation="linear", seed=0)
    x = [Value(0.5), Value(-1.0)]
    model(x).backward()
    # a linear network is a linear map: ∂ŷ/∂x_ℓ = Σ_i θ_out,i · θ_i,ℓ
    out = model.layers[1].neurons[0]
    for ell in range(2):
        expected = sum(out.w[i].data * model.layers[0].neurons[i].w[ell].data for i in range(3))
        assert x[ell].grad == pytest.approx(expected, rel=1e-14)


def test_accepts_tuples_and_iterables():
    model = nn.MLP(2, [3, 1], seed=0)
    expected = model([1.0, 2.0]).data
    assert model((1.0, 2.0)).data == expected
    assert model(iter([1.0, 2.0])).data == expected
    assert model([1, 2]).data == expected


@pytest.mark.parametrize("x, exc, message", [
    ([1.0, 2.0, 3.0], ValueError, "expects 2 inputs, got 3"),
    ([1.0], ValueError, "expects 2 inputs, got 1"),
    ([], ValueError, "expects 2 inputs, got 0"),
    ([1.0, "2"], TypeError, "input 1 must be a number"),
    ([None, 1.0], TypeError, "input 0 must be a number"),
    ([True, 1.0], TypeError, "input 0 must be a number"),
    (1.5, TypeError, "sequence of 2 numbers"),
    ("ab", TypeError, "sequence of 2 numbers"),
    ({"a": 1, "b": 2}, TypeError, "sequence of 2 numbers"),
])
def test_bad_inputs(x, exc, message):
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(exc, match=message):
        model(x)
    with pytest.raises(exc, match=message):
        model.trace(x)


def test_no_grad_forward_builds_no_graph():
    model = nn.MLP(2, [3, 1], seed=0)
    with autograd.no_grad():
        out = model([1.0, 2.0])
        trace = model.trace([1.0, 2.0])
    assert out.is_leaf and out.data == model([1.0, 2.0]).data
    assert trace.output.data == out.data


# --- trace and δ ---------------------------------------------------------------------

def test_trace_records_u_and_o():
    model = nn.MLP(3, [4, 2, 1], activation="tanh", seed=3)
    x = [0.1, -0.5, 2.0]
    trace = model.trace(x)
    assert [len(layer.u) for layer in trace.layers] == [4, 2, 1]
    assert [v.data for v in trace.inputs] == x
    for layer in trace.layers[:2]:
        for u, o in zip(layer.u, layer.o):
            assert o.parents == (u,) and o.data == math.tanh(u.data)
    assert trace.layers[2].u == trace.layers[2].o  # linear output: o is u
    assert trace.output is trace.layers[2].o[0]
    assert trace.output.data == model(x).data
    assert repr(trace) == "Trace(3 inputs -> layers of [4, 2, 1] neurons)"


def test_trace_output_is_a_list_for_several_outputs():
    trace = nn.MLP(2, [3, 2], seed=0).trace([1.0, 2.0])
    assert trace.output == trace.layers[1].o and isinstance(trace.output, list)


def test_trace_deltas_on_a_tiny_network_by_hand():
    # 2-1-1: hidden tanh neuron h, linear output; Err = (y − ŷ)², the textbook's.
    model = nn.MLP(2, [1, 1], activation="tanh", output_activation="linear", seed=0)
    theta_h, b_h, theta_out, b_out = [0.4, -0.6], 0.2, 1.5, -0.3
    set_params(model, [*theta_h, b_h, theta_out, b_out])
    x, y = [1.0, 0.5], 2.0

    u_h = 0.4 * 1.0 - 0.6 * 0.5 + 0.2          # 0.3
    o_h = math.tanh(u_h)
    u_out = 1.5 * o_h - 0.3
    yhat = u_out
    delta_out = -2.0 * (y - yhat) * 1.0          # δ_k = ∂Err/∂ŷ · σ'(u_k), σ linear
    delta_h = (1.0 - o_h ** 2) * delta_out * 1.5  # δ_i = σ'(u_i)·Σ_j δ_j θ_ji

    trace = model.trace(x)
    err = nn.mse([trace.output], [y], reduction="sum")
    err.backward()
    (d_h,), (d_out,) = trace.deltas()
    assert trace.layers[0].u[0].data == pytest.approx(u_h, rel=1e-15)
    assert d_out == pytest.approx(delta_out, rel=1e-14)
    assert d_h == pytest.approx(delta_h, rel=1e-14)
    # ∂Err/∂θ_iℓ = δ_i·o_ℓ and ∂Err/∂b_i = δ_i
    hidden, out = model.layers[0].neurons[0], model.layers[1].neurons[0]
    assert [w.grad for w in hidden.w] == pytest.approx([delta_h * 1.0, delta_h * 0.5], rel=1e-14)
    assert hidden.b.grad == pytest.approx(delta_h, rel=1e-14)
    assert out.w[0].grad == pytest.approx(delta_out * o_h, rel=1e-14)
    assert out.b.grad == pytest.approx(delta_out, rel=1e-14)


def test_trace_deltas_relu_hidden_layer_by_hand():
    # 1-2-1 with relu: the neuron with u < 0 passes no error back (σ' = 0).
    model = nn.MLP(1, [2, 1], activation="relu", seed=0)
    set_params(model, [2.0, 0.0,  -1.0, 0.0,  0.5, 3.0, 0.0])
    trace = model.trace([1.0])          # u = [2, −1], o = [2, 0], ŷ = 0.5·2 + 3·0 = 1
    nn.mse([trace.output], [0.0], reduction="sum").backward()
    delta_out = -2.0 * (0.0 - 1.0)      # 2
    assert trace.deltas() == [[1.0 * delta_out * 0.5, 0.0], [delta_out]]


# --- state_dict ----------------------------------------------------------------------

def test_state_dict_round_trip():
    a, b = nn.MLP(2, [3, 1], seed=1), nn.MLP(2, [3, 1], seed=2)
    state = a.state_dict()
    assert list(state) == [name for name, _ in a.named_parameters()]
    assert all(type(v) is float for v in state.values())
    b.load_state_dict(state)
    assert b.state_dict() == state
    assert b([0.3, 0.4]).data == a([0.3, 0.4]).data


def test_load_state_dict_strict_names_missing_and_unexpected():
    model = nn.MLP(2, [2, 1], seed=1)
    before = model.state_dict()
    state = dict(before)
    del state["layers.0.neurons.1.b"]
    state["layers.9.neurons.0.b"] = 1.0
    state["layers.0.neurons.0.w.0"] = 123.0
    with pytest.raises(ValueError, match=r"missing 1 parameter\(s\): 'layers.0.neurons.1.b'.*"
                                         r"unexpected 1 key\(s\): 'layers.9.neurons.0.b'"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_not_strict_loads_the_overlap():
    model = nn.MLP(2, [2, 1], seed=1)
    before = model.state_dict()
    model.load_state_dict({"layers.1.neurons.0.b": 7.5, "extra": 1.0}, strict=False)
    after = model.state_dict()
    assert after.pop("layers.1.neurons.0.b") == 7.5
    before.pop("layers.1.neurons.0.b")
    assert after == before


@pytest.mark.parametrize("bad, message", [
    ("1.0", "must be a number"), (None, "must be a number"), (True, "must be a number"),
    (float("nan"), "must be finite"), (float("inf"), "must be finite"), ([1.0], "must be a number")])
def test_load_state_dict_bad_values_change_nothing(bad, message):
    model = nn.MLP(2, [2, 1], seed=1)
    before = model.state_dict()
    state = {name: 9.0 for name in before}
    state["layers.1.neurons.0.b"] = bad  # the last one: every earlier value was fine
    with pytest.raises(ValueError, match=f"'layers.1.neurons.0.b' {message}"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_needs_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        nn.MLP(2, [1]).load_state_dict([("layers.0.neurons.0.b", 1.0)])


def test_many_missing_names_are_abbreviated():
    model = nn.MLP(4, [8, 1])
    with pytest.raises(ValueError, match=r"missing 49 parameter\(s\): .*\(44 more\)"):
        model.load_state_dict({})


def test_a_subclass_forward_runs_when_the_model_is_called():
    class Scaled(nn.MLP):
        def forward(self, x):
            return super().forward(x) * 10.0

    scaled, plain = Scaled(2, [3, 1], seed=4), nn.MLP(2, [3, 1], seed=4)
    assert scaled([0.5, -1.0]).data == plain([0.5, -1.0]).data * 10.0


# --- size limits: refused up front, with the number and the limit -------------------------

@pytest.mark.parametrize("build, count", [
    (lambda **kw: nn.MLP(10 ** 9, [1], **kw), 1_000_000_001),
    (lambda **kw: nn.MLP(2, [100_000, 100_000], **kw), 10_000_400_000),
    (lambda **kw: Layer(10 ** 8, 3, **kw), 300_000_003),
    (lambda **kw: Neuron(10 ** 9, **kw), 1_000_000_001),
])
def test_a_model_above_the_size_limit_is_refused_before_building(build, count):
    import time

    from nn import module

    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"would have {count:,} parameters, more than the limit "
                                         f"of {module.MAX_PARAMETERS:,}; pass "
                                         f"max_parameters={count}"):
        build()
    with pytest.raises(ValueError, match=f"more than the limit of {count - 1:,}"):
        build(max_parameters=count - 1)
    assert time.perf_counter() - start < 1.0  # nothing was allocated


def test_max_parameters_moves_the_limit_and_is_checked():
    model = nn.MLP(3, [4, 2], max_parameters=26)  # (3+1)·4 + (4+1)·2 = 26
    assert model.num_parameters() == 26 == nn.module.count_parameters(3, [4, 2])
    with pytest.raises(ValueError, match="MLP\\(3, \\[4, 2\\]\\) would have 26 parameters"):
        nn.MLP(3, [4, 2], max_parameters=25)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="max_parameters must be a positive integer"):
            nn.MLP(3, [4, 2], max_parameters=bad)
    for bad in (2.5, True, "10"):
        with pytest.raises(TypeError, match="max_parameters must be a positive integer"):
            nn.MLP(3, [4, 2], max_parameters=bad)
