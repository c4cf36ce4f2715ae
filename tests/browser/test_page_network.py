"""viz.html's network mode in headless Chromium: a 2-2-1 network stepped neuron by neuron.
Expected numbers come from nn.manual_backprop (the textbook's formulas on plain floats) and
an SGD step done by hand on a copy, never from the engine."""

import copy
import io
import re

import pytest

import nn
import viz

X, Y, LR = [0.5, -0.2], 1.0, 0.1


def model221():
    return nn.MLP(2, [2, 1], activation="tanh", seed=1)


def open_network(page, tmp_path, model, **options):
    path = tmp_path / "network.html"
    path.write_text(viz.html(model, x=X, y=Y, lr=LR, **options), encoding="utf-8")
    page.goto(path.as_uri())


def button(page, name):
    return page.get_by_role("button", name=name, exact=True)


def number(page, selector):
    return float(page.text_content(selector).split()[-1])


def counter(page):
    m = re.match(r"Step (\d+) of (\d+)", page.text_content("#dg-counter"))
    return int(m.group(1)), int(m.group(2))


def sgd_err(model):
    """Err after one SGD step on (X, Y), in plain floats from manual_backprop."""
    grads = nn.manual_backprop(model, X, Y).grads
    moved = copy.deepcopy(model)
    for name, p in moved.named_parameters():
        p.data = p.data - LR * grads[name]
    return nn.manual_backprop(moved, X, Y).err


def test_each_delta_and_edge_gradient_shown_equals_manual_backprop(page, tmp_path):
    model = model221()
    want = nn.manual_backprop(model, X, Y)
    open_network(page, tmp_path, model)
    assert page.text_content("#n1_0_d") == "δ ?" and page.text_content("#n0_0_u") == "u ?"
    seen_delta, seen_grad = {}, {}
    while button(page, "Next step").is_enabled():
        button(page, "Next step").click()
        text = page.text_content("#dg-step")
        cur = page.eval_on_selector_all(".dg-cur", "els => els.map(e => e.id)")
        if "· backward" in text and "δ[" in page.text_content("#dg-lines") and "∂Err/∂θ" not in text:
            k, i = map(int, cur[0][1:].split("_"))
            seen_delta[(k, i)] = number(page, f"#{cur[0]}_d")
        if "∂Err/∂θ[" in page.text_content("#dg-lines"):  # a gradient step: numbers on the lit lines
            for edge in page.eval_on_selector_all(".dg-edge", "els => els.map(e => e.id)"):
                assert page.is_visible(f"#{edge}_l")
                seen_grad[edge] = number(page, f"#{edge}_l")
    assert seen_delta == {(k, i): pytest.approx(d, rel=1e-3) for k, layer in enumerate(want.delta)
                          for i, d in enumerate(layer)}
    assert seen_grad == {f"w{k}_{i}_{ell}": pytest.approx(want.grads[f"layers.{k}.neurons.{i}.w.{ell}"],
                                                          rel=1e-3)
                         for k, n in ((0, 2), (1, 1)) for i in range(n) for ell in range(2)}
    assert "SGD step" in page.text_content("#dg-counter") and button(page, "SGD step").is_disabled()
    assert not page.console_errors


def test_the_sgd_button_updates_the_weights_and_shows_the_new_error(page, tmp_path):
    model = model221()
    open_network(page, tmp_path, model)
    button(page, "Next step").click()
    button(page, "SGD step").click()  # from anywhere: it plays the rest of the step first
    assert button(page, "SGD step").is_disabled() and button(page, "Next step").is_disabled()
    assert number(page, "#err_e") == pytest.approx(sgd_err(model), rel=1e-3)
    lines = page.text_content("#dg-lines")
    assert re.search(r"Err after the step: [\d.]+  \(before: 1\.062; down by [\d.]+\)", lines)
    # θ[1,0,0] ← θ − η·∂Err/∂θ, by hand from manual_backprop's gradient
    theta = model.layers[1].neurons[0].w[0].data
    grad = nn.manual_backprop(model, X, Y).grads["layers.1.neurons.0.w.0"]
    line = next(li for li in lines.split("θ[") if li.startswith("1,0,0]"))
    new = float(re.search(r"= (-?[\d.e-]+)$", line.strip()).group(1))
    assert new == pytest.approx(theta - LR * grad, rel=1e-3)
    assert number(page, "#w1_0_0_l") == pytest.approx(theta - LR * grad, rel=1e-3)  # on the lit line
    button(page, "Previous step").click()  # back: the old Err again
    assert number(page, "#err_e") == pytest.approx(nn.manual_backprop(model, X, Y).err, rel=1e-3)
    assert not button(page, "SGD step").is_disabled()
    assert not page.console_errors


def test_keys_step_forward_and_back_and_reset_restores_unknowns(page, tmp_path):
    open_network(page, tmp_path, model221())
    assert button(page, "Previous step").is_disabled()
    page.focus("#dg-graph")
    for _ in range(3):  # the three neurons' forward steps
        page.keyboard.press("ArrowRight")
    assert counter(page)[0] == 4 and page.text_content("#n1_0_o") != "o ?"
    assert "dg-pending" not in page.get_attribute("#n1_0", "class")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#n1_0_o") == "o ?" and "dg-pending" in page.get_attribute("#n1_0", "class")
    button(page, "SGD step").click()
    button(page, "Reset").click()
    assert counter(page)[0] == 1 and page.text_content("#err_e") == "Err ?"
    assert page.text_content("#n0_0_b") == "b 0" and page.text_content("#n0_0_d") == "δ ?"
    assert not page.console_errors


def test_clicking_a_neuron_lists_its_steps(page, tmp_path):
    open_network(page, tmp_path, model221())
    page.click("#n0_1")
    assert page.text_content("#dg-chain-head") == "Steps of neuron 1 of layer 0"
    story = page.text_content("#dg-chain")
    assert story.startswith("u[0,1] = θ[0,1,0]·x[0] + θ[0,1,1]·x[1] + b[0,1]")
    assert "δ[0,1] = σ'(u[0,1]) × (δ[1,0]·θ[1,0,1])" in story and "∂Err/∂b[0,1] = δ[0,1]" in story
    assert "dg-pick" in page.get_attribute("#n0_1", "class")
    page.focus("#err")
    page.keyboard.press("Enter")
    assert page.text_content("#dg-chain").startswith("Err = mse(ŷ, y) = mse(")
    assert not page.console_errors


def test_the_network_page_is_not_blank_and_fits(page, tmp_path):
    from PIL import Image

    open_network(page, tmp_path, model221())
    for _ in range(6):  # mid-backward: the first hidden δ
        button(page, "Next step").click()
    shot = Image.open(io.BytesIO(page.locator("#dg-graph").screenshot())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert len(colours) > 10
    orange = sum(n for n, (r, g, b) in colours if r > 200 and 60 < g < 130 and b < 60)
    assert orange > 50
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
    assert not page.console_errors
