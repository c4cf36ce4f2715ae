"""viz.html's page in headless Chromium, opened from file:// and used as a learner would:
buttons, keys, clicks, what the graph and the panel say.  Expected numbers are worked out
by hand or by finite differences, never read from the engine's output."""

import io
import re

import pytest

import viz
from autograd import Value, topological_order
from graphs import micrograd_L


def fan_out():
    """y = (a*b + a) * 2: a feeds × and +; ∂y/∂a = 2(b + 1) = -2, collected as 2 + (-4)."""
    a, b = Value(3.0, "a"), Value(-2.0, "b")
    s = a * b + a
    s.label = "s"
    y = s * Value(2.0, "k")
    y.label = "y"
    y.backward()
    return y


def open_page(page, tmp_path, root, name="page.html", **options):
    path = tmp_path / name
    path.write_text(viz.html(root, **options), encoding="utf-8")
    page.goto(path.as_uri())
    return topological_order(root)


def button(page, name):
    return page.get_by_role("button", name=name, exact=True)


def grad(page, i):
    """The number in value n<i>'s grad cell, as shown."""
    return float(page.text_content(f"#n{i}_g").split()[-1])


def data(page, i):
    return page.text_content(f"#n{i}_d").split()[-1]


def steps(page):
    m = re.match(r"Step (\d+) of (\d+)", page.text_content("#dg-counter"))
    return int(m.group(1)), int(m.group(2))


def test_clicking_through_every_step_ends_with_backwards_gradients(page, tmp_path):
    order = open_page(page, tmp_path, micrograd_L())
    names = [v.label for v in order]
    assert button(page, "Previous step").is_disabled() and button(page, "Next step").is_enabled()
    assert all(data(page, i) == "?" for i in range(7))
    at, total = steps(page)
    assert at == 1 and total == 1 + 7 + 1 + 3 + 1  # start, 7 values forward, seed, 3 ops back, end
    for _ in range(total - 1):
        button(page, "Next step").click()
        at, _ = steps(page)
        if at == 8:  # the forward pass is done: every value shown, no grad yet
            assert [data(page, i) for i in range(7)] == ["2", "-3", "-6", "10", "4", "-2", "-8"]
            assert all(grad(page, i) == 0 for i in range(7))
        if at == 10:  # L's step: d.grad = f = -2 and f.grad = d = 4, nothing further yet
            assert (grad(page, names.index("d")), grad(page, names.index("f"))) == (-2, 4)
            assert grad(page, names.index("a")) == 0
    assert button(page, "Next step").is_disabled() and button(page, "Previous step").is_enabled()
    # By hand: ∂L/∂a = b·f = 6, ∂L/∂b = a·f = -4, ∂L/∂c = f = -2, ∂L/∂e = f = -2.
    expected = {"a": 6, "b": -4, "c": -2, "e": -2, "d": -2, "f": 4, "L": 1}
    assert {n: grad(page, i) for i, n in enumerate(names)} == expected
    assert "Done" in page.text_content("#dg-step")
    assert not page.console_errors


def test_a_fan_out_value_shows_its_running_sum_mid_accumulation(page, tmp_path):
    order = open_page(page, tmp_path, fan_out())
    ia = [v.label for v in order].index("a")
    seen = []
    while button(page, "Next step").is_enabled():
        button(page, "Next step").click()
        text = page.text_content("#dg-lines")
        if "a.grad +=" in text:
            seen.append((grad(page, ia), text))
    # Newest consumer first: + gives 1 × s.grad = 2, then × gives b × 2 = -4: 2 + (-4) = -2.
    assert [g for g, _ in seen] == [2, -2]
    assert "a.grad: 0 + 2 = 2  (use 1 of 2)" in seen[0][1]
    assert "a.grad += ∂n2/∂a × n2.grad = (-2) × 2 = -4" in seen[1][1]
    assert "a.grad: 2 + (-4) = -2  (use 2 of 2" in seen[1][1]
    h = 1e-6  # and the end agrees with a finite difference of y(a) = 2(a·b + a)

    def y(a):
        return 2 * (a * -2 + a)
    assert grad(page, ia) == pytest.approx((y(3 + h) - y(3 - h)) / (2 * h))


def test_keys_step_forward_and_back_and_back_restores_the_numbers(page, tmp_path):
    order = open_page(page, tmp_path, micrograd_L())
    iL = len(order) - 1
    page.focus("#dg-graph")
    for _ in range(8):  # from the start through 7 forward steps to the seed
        page.keyboard.press("ArrowRight")
    assert steps(page)[0] == 9 and grad(page, iL) == 1 and data(page, iL) == "-8"
    page.keyboard.press("ArrowLeft")
    assert steps(page)[0] == 8 and grad(page, iL) == 0
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert data(page, iL) == "?" and "dg-pending" in page.get_attribute(f"#n{iL}", "class")
    button(page, "Reset").click()
    assert steps(page)[0] == 1 and button(page, "Previous step").is_disabled()


def test_the_current_step_is_read_out_and_highlighted(page, tmp_path):
    order = open_page(page, tmp_path, micrograd_L())
    live = page.locator("[aria-live]")
    assert live.count() == 1
    for _ in range(9):  # to step 10, L's backward step
        button(page, "Next step").click()
    said = live.text_content()
    assert "Backward at L" in said and "d.grad += ∂L/∂d × L.grad = (-2) × 1 = -2" in said
    iL, i_d = len(order) - 1, [v.label for v in order].index("d")
    assert "dg-cur" in page.get_attribute(f"#n{iL}", "class")
    assert "dg-recv" in page.get_attribute(f"#n{i_d}", "class")
    assert "dg-edge" in page.get_attribute(f"#n{iL}_in0", "class")
    # Not colour alone: the highlighted node's outline is thicker than a plain one's.
    width = "el => getComputedStyle(el.querySelector('rect')).strokeWidth"
    assert page.eval_on_selector(f"#n{iL}", width) == "3px"
    assert page.eval_on_selector("#n0", width) in ("1px", "1")


def test_clicking_a_value_shows_explains_chain_rule_sum(page, tmp_path):
    order = open_page(page, tmp_path, fan_out())
    names = [v.label or f"n{i}" for i, v in enumerate(order)]
    page.click(f"#n{names.index('a')}")
    assert page.text_content("#dg-chain-head") == "Chain rule for a"
    lines = page.text_content("#dg-chain").splitlines()
    assert lines[0] == "a = 3  (leaf)"
    assert re.fullmatch(r"    s\.grad × ∂s/∂a = 2 × 1 = 2  \[\+: ∂/∂b = 1\]", lines[1])
    assert re.fullmatch(r"    n2\.grad × ∂n2/∂a = 2 × \(-2\) = -4  \[×: ∂/∂a = b\]", lines[2])
    assert lines[3] == "    a.grad = 2 + -4 = -2"
    out = io.StringIO()  # the same lines explain prints, but for its padding into a column
    order[-1].explain(limit=None, file=out)
    entry = out.getvalue().split("\na = 3  (leaf)\n")[1].splitlines()[:3]
    assert [re.sub(r"(\S)  +", r"\1  ", line) for line in entry] == lines[1:4]
    consumers = [names.index("s"), names.index("n2")]
    assert all("dg-use" in page.get_attribute(f"#n{i}", "class") for i in consumers)
    page.focus(f"#n{len(order) - 1}")  # by keyboard too
    page.keyboard.press("Enter")
    assert page.text_content("#dg-chain").splitlines()[1] == "    y.grad = 1  (where backward starts: ∂y/∂y)"


def test_play_steps_by_itself_and_pause_stops_it(page, tmp_path):
    open_page(page, tmp_path, micrograd_L())
    button(page, "Play").click()
    assert page.get_attribute("#dg-play", "aria-pressed") == "true"
    page.wait_for_function("() => /Step [3-9]/.test(document.getElementById('dg-counter').textContent)")
    button(page, "Pause").click()
    at = steps(page)[0]
    page.wait_for_timeout(900)
    assert steps(page)[0] == at and page.text_content("#dg-play") == "Play"


def test_a_hostile_label_renders_as_typed_and_runs_nothing(page, tmp_path):
    hostile = "</script><script>alert(1)</script>"
    a = Value(2.0, hostile)
    y = a * a
    y.label = '<img src=x onerror="alert(2)">'
    y.backward()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, tmp_path, y)
    assert page.text_content("#n0 text") == hostile
    assert page.title() == 'Backprop step by step: <img src=x onerror="alert(2)">'
    for _ in range(4):
        button(page, "Next step").click()
    assert hostile + ".grad += " in page.text_content("#dg-lines")
    page.click("#n0")
    assert page.text_content("#dg-chain").startswith(hostile + " = 2  (leaf)")
    assert page.locator("img").count() == 0 and not dialogs and not page.console_errors


def test_the_graph_area_is_not_blank(page, tmp_path):
    from PIL import Image

    open_page(page, tmp_path, micrograd_L())
    for _ in range(11):
        button(page, "Next step").click()
    shot = Image.open(io.BytesIO(page.locator("#dg-graph").screenshot())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert len(colours) > 10
    orange = sum(n for n, (r, g, b) in colours if r > 200 and 60 < g < 130 and b < 60)
    assert orange > 50  # the highlighted node and edges are drawn
    assert not page.console_errors


def test_the_page_fits_a_laptop_window_and_its_text_is_readable(page, tmp_path, measure):
    open_page(page, tmp_path, micrograd_L())
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1400
    boxes = measure.text_boxes(page)
    assert min(b["px"] for b in boxes if b["text"].startswith("data")) >= 10
