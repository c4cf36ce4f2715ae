"""viz.html's page, without a browser: what Python serialises (steps, names, escaping, sizes).

Gradients are checked against finite differences and hand-derived sums, not the engine.
"""

import html as markup
import json
import math
import re

import pytest

import viz
from autograd import Value, topological_order

import graphs
from viz.html import page_data, script_json


def micrograd_L():
    """micrograd's L before backward, and its leaves a, b, c, f."""
    L = graphs.micrograd_L(backward=False)
    by_label = {v.label: v for v in topological_order(L)}
    return L, tuple(by_label[name] for name in "abcf")


def fan_out():
    """y = a*b + a: a feeds two nodes, so its gradient is b + 1, collected as two terms."""
    a, b = Value(3.0, "a"), Value(-2.0, "b")
    y = a * b + a
    y.label = "y"
    return y, a, b


def data_of(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="dg-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def final_grads(data: dict) -> dict:
    """Each value's gradient as the last backward step that touched it left it (text)."""
    out = {}
    for step in data["steps"]:
        if step["kind"] == "seed":
            out[step["node"]] = step["grad"]
        for t in step.get("terms", ()):
            out[t[0]] = t[4]
    return out


def numeric_grad(fn, values, i, h=1e-6):
    x = [v.data for v in values]
    up, down = list(x), list(x)
    up[i] += h
    down[i] -= h
    return (fn(*up) - fn(*down)) / (2 * h)


def test_replayed_gradients_match_finite_differences():
    L, leaves = micrograd_L()
    L.backward()
    data = data_of(viz.html(L))
    names = [n["name"] for n in data["nodes"]]
    grads = final_grads(data)
    for k, leaf in enumerate(leaves):
        expected = numeric_grad(lambda a, b, c, f: (a * b + c) * f, leaves, k)
        assert float(grads[names.index(leaf.label)]) == pytest.approx(expected, rel=1e-3)
    assert float(grads[names.index("d")]) == -2.0  # ∂L/∂d = f, by hand


def test_fan_out_collects_two_terms_with_hand_computed_partial_sums():
    y, a, b = fan_out()
    y.backward()
    data = data_of(viz.html(y))
    ia = [n["name"] for n in data["nodes"]].index("a")
    terms = [t for s in data["steps"] for t in s.get("terms", ()) if t[0] == ia]
    # Newest consumer first: the + passes 1 × 1, then the × passes b × 1 = -2.
    assert [t[1:5] for t in terms] == [["1", "1", "0", "1"], ["-2", "-2", "1", "-1"]]
    assert [t[6:] for t in terms] == [[1, 2], [2, 2]]
    assert float(terms[-1][4]) == pytest.approx(b.data + 1)


def test_steps_forward_in_topological_order_then_backward_in_reverse():
    L, _ = micrograd_L()
    L.backward()
    data = data_of(viz.html(L))
    kinds = [s["kind"] for s in data["steps"]]
    order = topological_order(L)
    computed = [i for i, v in enumerate(order) if v.parents]
    assert kinds == ["start"] + ["forward"] * len(order) + ["seed"] + ["backward"] * len(computed) + ["end"]
    assert [s["node"] for s in data["steps"] if s["kind"] == "forward"] == list(range(len(order)))
    assert [s["node"] for s in data["steps"] if s["kind"] == "backward"] == computed[::-1]
    forward = [s for s in data["steps"] if s["kind"] == "forward"]
    assert forward[2]["set"] == [["n2_d", "data -6"]]  # e = a × b = 2 × (-3)


def test_every_id_a_step_names_is_in_the_drawing():
    L, _ = micrograd_L()
    L.backward()
    page = viz.html(L)
    ids = set(re.findall(r' id="([^"]+)"', page))
    named = set()
    for step in data_of(page)["steps"]:
        for key in ("cur", "edges", "recv", "show"):
            named.update(step.get(key, ()))
        named.update(s[0] for s in step.get("set", ()))
    assert named <= ids
    assert {f"n{i}_{c}" for i in range(7) for c in "dg"} <= ids


def test_cells_start_before_the_forward_pass_and_computed_parts_start_faded():
    L, _ = micrograd_L()
    L.backward()
    page = viz.html(L)
    assert re.search(r'<text id="n6_d"[^>]*>data \?</text>', page)
    assert re.search(r'<text id="n6_g"[^>]*>grad 0</text>', page)
    assert 'id="n6op" class="node dg-pending"' in page
    assert 'id="n6_in0" class="edge dg-pending"' in page


def test_names_are_explains_short_names():
    a = Value(1.5)
    y = (a * a).tanh()
    y.backward()
    data = data_of(viz.html(y))
    assert [n["name"] for n in data["nodes"]] == ["n0", "n1", "n2"]
    assert data["nodes"][1]["head"] == "n1 = n0 × n0 = 1.5 × 1.5 = 2.25"


def test_a_zero_grad_passes_nothing_on_even_times_inf():
    x = Value(0.0, "x")
    dead = (x - 1.0).relu()
    y = dead * x.sqrt()  # ∂√x/∂x is inf at 0, but dead.grad... the product's other factor
    y.backward()
    data = data_of(viz.html(y))
    steps = {s["node"]: s for s in data["steps"] if s["kind"] == "backward"}
    i = [n["name"] for n in data["nodes"]].index("x")
    sqrt_node = next(k for k, s in steps.items() if s["grad"] == "0")
    assert "passes nothing on" in steps[sqrt_node]["say"]
    assert all(t[2] == "0" for t in steps[sqrt_node]["terms"])
    assert final_grads(data)[i] == "0"


def test_same_graph_same_bytes():
    pages = []
    for _ in range(2):
        L, _ = micrograd_L()
        L.backward()
        pages.append(viz.html(L))
    assert pages[0] == pages[1]


def test_script_json_escapes_everything_that_could_end_a_script_element():
    data = {"label": "</script><script>alert(1)</script> & \u2028\u2029 <!--"}
    text = script_json(data)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == data


def test_a_hostile_label_is_data_not_markup():
    a = Value(2.0, "</script><script>alert(1)</script>")
    y = a * a
    y.label = '<img src=x onerror="alert(2)">'
    y.backward()
    page = viz.html(y)
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the drawing, escaped
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert markup.unescape(title) == 'Backprop step by step: <img src=x onerror="alert(2)">'
    assert data_of(page)["nodes"][0]["name"] == "</script><script>alert(1)</script>"


def test_the_page_asks_for_nothing_outside_itself():
    L, _ = micrograd_L()
    L.backward()
    page = viz.html(L)
    assert not re.search(r"<link|<img|<iframe|\bsrc=|@import|url\(", page)
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)


def test_too_many_values_are_refused_with_the_drawings_advice():
    x = Value(0.5, "x")
    for _ in range(30):
        x = x * 1.01
    x.backward()
    with pytest.raises(viz.GraphTooLargeError, match=r"max_nodes=31.*depth=") as info:
        viz.html(x, max_nodes=20)
    assert (info.value.values, info.value.max_nodes) == (31, 20)


@pytest.mark.parametrize("root, message, error", [
    (1.5, "expected an autograd Value, got float", TypeError),
    (Value(1.0, "w"), "'w' has no recorded operation", ValueError),
    (Value(1.0) * 2, "call .backward() on it first", ValueError),
])
def test_bad_roots_are_refused_clearly(root, message, error):
    with pytest.raises(error, match=re.escape(message)):
        viz.html(root)


@pytest.mark.parametrize("max_nodes, exc", [
    (0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError), ("10", TypeError)])
def test_bad_max_nodes_is_refused(max_nodes, exc):
    L, _ = micrograd_L()
    L.backward()
    with pytest.raises(exc, match="max_nodes must be a positive int"):
        viz.html(L, max_nodes=max_nodes)


def test_a_value_that_collected_grad_twice_is_reported_at_the_end():
    L, _ = micrograd_L()
    L.backward()
    L.backward()
    end = data_of(viz.html(L))["steps"][-1]["say"]
    assert "7 values hold a different .grad" in end  # each got twice one backward's


def test_render_writes_the_page_and_interactive_wraps_it_in_a_sandboxed_iframe(tmp_path):
    L, _ = micrograd_L()
    L.backward()
    page = viz.html(L)
    path = viz.render(L, tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == page and path.endswith("page.html")
    shown = viz.interactive(L)._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', shown).group(1)
    assert markup.unescape(srcdoc) == page
    assert 'sandbox="allow-scripts"' in shown and "allow-same-origin" not in shown
    with pytest.raises(TypeError, match="an HTML page needs a Value"):
        viz.render(viz.to_dot(L), tmp_path / "p.html")
    with pytest.raises(ValueError, match="height must be an int >= 100"):
        viz.interactive(L, height=5)


def test_page_data_without_drawing_cells_sets_no_texts():
    y, _, _ = fan_out()
    y.backward()
    data = page_data(y, {})
    assert not any("set" in s for s in data["steps"])
    assert data["version"] == 1 and data["mode"] == "expression"
    assert math.isclose(float(final_grads(data)[0]), -1.0)


# --- network mode: a model's page, neuron by neuron ------------------------------------------

def net221():
    import nn

    return nn.MLP(2, [2, 1], activation="tanh", seed=1)


def shown(text: str) -> float:
    """The number at the end of a displayed text such as ``δ 0.01474``."""
    return float(text.split()[-1])


def sets(data: dict, kind: str) -> dict:
    """id -> text, as the steps of ``kind`` set them (the last one wins)."""
    return {i: t for s in data["steps"] if s["kind"] == kind for i, t in s.get("set", ())}


def sgd_by_hand(model, x, y, lr):
    """Err after θ ← θ − η·∂Err/∂θ, in plain floats: manual_backprop's gradients on a copy."""
    import copy

    from nn import manual_backprop

    before = manual_backprop(model, x, y)
    moved = copy.deepcopy(model)
    for name, p in moved.named_parameters():
        p.data = p.data - lr * before.grads[name]
    return before.err, manual_backprop(moved, x, y).err


def test_network_page_shows_manual_backprops_delta_and_gradients_and_sgd_error():
    from nn import manual_backprop

    model, x, y = net221(), [0.5, -0.2], 1.0
    data = data_of(viz.html(model, x=x, y=y, lr=0.1))
    want = manual_backprop(model, x, y)
    kinds = [s["kind"] for s in data["steps"]]
    assert kinds == ["start"] + ["forward"] * 3 + ["err"] + ["delta"] * 3 + ["grad"] * 3 + ["end", "sgd"]
    deltas = sets(data, "delta")
    for k, layer in enumerate(want.delta):
        for i, d in enumerate(layer):
            assert shown(deltas[f"n{k}_{i}_d"]) == pytest.approx(d, rel=1e-3, abs=1e-9)
    grads = sets(data, "grad")
    for k in range(2):
        for i in range(len(want.delta[k])):
            for ell in range(2):
                g = want.grads[f"layers.{k}.neurons.{i}.w.{ell}"]
                assert shown(grads[f"w{k}_{i}_{ell}_l"]) == pytest.approx(g, rel=1e-3, abs=1e-9)
    assert shown(sets(data, "err")["err_e"]) == pytest.approx(want.err, rel=1e-3)
    err, after = sgd_by_hand(model, x, y, 0.1)
    sgd = data["steps"][data["sgd"]]
    assert shown(dict(sgd["set"])["err_e"]) == pytest.approx(after, rel=1e-3)
    assert after < err and f"Err {viz.dot.fmt(err)} → " in sgd["say"]


def test_network_page_writes_the_textbooks_formulas_with_the_numbers():
    data = data_of(viz.html(net221(), x=[0.5, -0.2], y=1.0))
    delta = [s for s in data["steps"] if s["kind"] == "delta"]
    assert delta[0]["lines"][0] == "δ[1,0] = ∂Err/∂ŷ × σ'(u[1,0])"
    assert re.fullmatch(r"        = \(-2\.06\d\) × 1 = -2\.06\d", delta[0]["lines"][1])
    assert delta[1]["lines"][0] == "δ[0,0] = σ'(u[0,0]) × (δ[1,0]·θ[1,0,0])"
    # σ'(u) = 1 − tanh(u)² for the hidden tanh, by hand from the u shown in the forward step
    u = float(data["steps"][1]["lines"][1].split(" = ")[-1])
    slope = float(delta[1]["lines"][2].split()[1])
    assert slope == pytest.approx(1 - math.tanh(u) ** 2, rel=1e-3)
    grad = [s for s in data["steps"] if s["kind"] == "grad"][0]["lines"]
    assert grad[0].startswith("∂Err/∂θ[0,0,0] = δ[0,0]·x[0] = ")
    assert grad[-1].startswith("∂Err/∂b[0,0] = δ[0,0] = ")


def test_network_page_never_changes_the_model():
    model = net221()
    model.layers[0].neurons[0].w[0].grad = 0.25  # left over from somewhere: the page must not care
    before = [(p.data, p.grad) for p in model.parameters()]
    page = viz.html(model, x=[0.5, -0.2], y=1.0, lr=0.5)
    assert [(p.data, p.grad) for p in model.parameters()] == before
    assert page == viz.html(model, x=[0.5, -0.2], y=1.0, lr=0.5)  # same model, same bytes


def test_network_page_ids_exist_and_start_unknown():
    page = viz.html(net221(), x=[0.5, -0.2], y=1.0)
    ids = set(re.findall(r' id="([^"]+)"', page))
    named = set()
    for step in data_of(page)["steps"]:
        for key in ("cur", "edges", "recv", "show"):
            named.update(step.get(key, ()))
        named.update(s[0] for s in step.get("set", ()))
    assert named <= ids
    assert {"x0", "x1", "n0_0", "n0_1", "n1_0", "err", "w1_0_1", "yhat0", "n1_0_dc"} <= ids
    assert re.search(r'<text id="n1_0_d"[^>]*>δ \?</text>', page)
    assert re.search(r'<text id="err_e"[^>]*>Err \?</text>', page)
    assert 'id="n0_0" class="node dg-pending"' in page and 'id="x0" class="node"' in page
    assert "xlink:title" not in page and 'id="dg-sgd"' in page


def test_network_page_through_render_and_interactive(tmp_path):
    model = net221()
    page = viz.html(model, [0.5, -0.2], 1.0)
    path = viz.render(model, tmp_path / "net.html", x=[0.5, -0.2], y=1.0)
    assert (tmp_path / "net.html").read_text(encoding="utf-8") == page and path.endswith("net.html")
    shown_page = viz.interactive(model, [0.5, -0.2], 1.0)._repr_html_()
    assert markup.unescape(re.search(r'srcdoc="([^"]*)"', shown_page).group(1)) == page


def test_network_page_with_several_outputs_and_another_loss():
    import nn

    model = nn.MLP(3, [4, 3], activation="relu", seed=2)
    data = data_of(viz.html(model, x=[1.0, -0.5, 2.0], y=1, loss="cross_entropy"))
    want = nn.manual_backprop(model, [1.0, -0.5, 2.0], 1, "cross_entropy")
    deltas = sets(data, "delta")
    assert [shown(deltas[f"n1_{k}_d"]) for k in range(3)] == pytest.approx(want.delta[1], rel=1e-3, abs=1e-9)
    assert "ŷ_2" in [s for s in data["steps"] if s["kind"] == "delta"][2]["lines"][0]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(), TypeError, "needs one sample, x= and y="),
    (dict(x=[0.5, -0.2]), TypeError, "needs one sample, x= and y="),
    (dict(x=[0.5, -0.2], y=1.0, lr=-1), ValueError, "lr (the learning rate η of the SGD step) must be"),
    (dict(x=[0.5, -0.2], y=1.0, lr=float("nan")), ValueError, "must be finite, got nan"),
    (dict(x=[0.5, -0.2], y=1.0, lr=True), TypeError, "must be a real number, got bool"),
    (dict(x=[0.5, -0.2], y=1.0, rankdir="TB"), TypeError, "rankdir and show_rules are for a Value"),
    (dict(x=[0.5, -0.2], y=1.0, max_nodes=10), viz.GraphTooLargeError, "more than max_nodes=10"),
])
def test_network_page_bad_options_are_refused(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        viz.html(net221(), **kwargs)


def test_model_options_with_a_value_and_an_uncopyable_model_are_refused():
    L, _ = micrograd_L()
    L.backward()
    with pytest.raises(TypeError, match=r"x, lr are for a model's page"):
        viz.html(L, x=[1.0], lr=0.5)

    class Locked:
        def __deepcopy__(self, memo):
            raise RuntimeError("holds a lock")

        def trace(self, x, y=None, loss="mse"):
            raise AssertionError("never traced")

    with pytest.raises(TypeError, match=r"copy.deepcopy\(Locked\) failed: holds a lock"):
        viz.html(Locked(), x=[1.0], y=1.0)
