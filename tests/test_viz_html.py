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
from viz.html import page_data, script_json


def micrograd_L():
    """Karpathy's L = (a*b + c) * f, labelled as in the lecture."""
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, (a, b, c, f)


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
    with pytest.raises(viz.GraphTooLargeError, match=r"max_nodes=61.*depth=") as info:
        viz.html(x, max_nodes=20)
    assert (info.value.values, info.value.max_nodes) == (61, 20)


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
