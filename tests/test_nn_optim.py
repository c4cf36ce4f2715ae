"""Optimisers, schedules and clipping against updates worked out by hand."""

from __future__ import annotations

import math

import pytest

from autograd import Value
from nn.optim import (
    SGD, Adam, CosineDecay, ExponentialDecay, LinearDecay, StepDecay, clip_grad_norm, clip_grad_value,
)


def params_with(data, grads):
    ps = [Value(d) for d in data]
    for p, g in zip(ps, grads):
        p.grad = g
    return ps


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


# --- SGD ----------------------------------------------------------------------------

def test_sgd_plain_step_is_theta_minus_lr_grad():
    ps = params_with([1.0, -2.0], [0.5, -1.5])
    SGD(ps, lr=0.1).step()
    assert [p.data for p in ps] == approx([0.95, -1.85])
    assert [p.grad for p in ps] == [0.5, -1.5]  # step leaves the gradients alone


def test_sgd_momentum_buffer_two_steps():
    (p,) = ps = params_with([1.0], [0.5])
    opt = SGD(ps, lr=0.1, momentum=0.9)
    opt.step()  # b = 0.5, θ = 1 − 0.1·0.5
    assert p.data == approx(0.95)
    p.grad = 0.2
    opt.step()  # b = 0.9·0.5 + 0.2 = 0.65, θ = 0.95 − 0.065
    assert p.data == approx(0.885)


def test_sgd_weight_decay_adds_wd_theta_to_grad():
    ps = params_with([1.0, -3.0], [0.5, 0.0])
    SGD(ps, lr=0.1, weight_decay=0.01).step()
    # g = 0.5 + 0.01·1 = 0.51;  g = 0 + 0.01·(−3) = −0.03
    assert [p.data for p in ps] == approx([1.0 - 0.051, -3.0 + 0.003])


def test_zero_grad_and_lr_is_settable():
    ps = params_with([1.0, 2.0], [3.0, 4.0])
    opt = SGD(ps, lr=0.5)
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]
    opt.lr = 0.25
    assert opt.lr == 0.25
    ps[0].grad = 1.0
    opt.step()
    assert ps[0].data == approx(0.75)


def test_step_builds_no_graph():
    ps = params_with([1.0], [1.0])
    SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.1).step()
    Adam(ps, lr=0.1).step()
    assert ps[0].is_leaf and ps[0].data.__class__ is float


# --- Adam ---------------------------------------------------------------------------

def test_adam_first_two_steps_by_hand():
    (p,) = ps = params_with([1.0], [0.5])
    opt = Adam(ps, lr=0.1)
    opt.step()
    # m = 0.1·0.5 = 0.05, v = 0.001·0.25 = 0.00025; m̂ = 0.05/0.1 = 0.5, v̂ = 0.00025/0.001 = 0.25
    first = 1.0 - 0.1 * 0.5 / (math.sqrt(0.25) + 1e-8)
    assert p.data == approx(first)
    p.grad = -0.3
    opt.step()
    # m = 0.9·0.05 + 0.1·(−0.3) = 0.015;  v = 0.999·0.00025 + 0.001·0.09 = 0.00033975
    # m̂ = 0.015/(1 − 0.81) ;  v̂ = 0.00033975/(1 − 0.998001)
    m_hat = 0.015 / 0.19
    v_hat = 0.00033975 / 0.001999
    assert p.data == pytest.approx(first - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8), rel=1e-10)


def test_adam_first_step_moves_every_param_by_lr():
    # with bias correction the first step is lr·g/|g| (up to eps), whatever the scale of g
    ps = params_with([0.0, 0.0, 0.0], [1e-4, -20.0, 3.0])
    Adam(ps, lr=0.01, eps=1e-12).step()
    assert [p.data for p in ps] == pytest.approx([-0.01, 0.01, -0.01], rel=1e-6)


def test_adam_weight_decay_is_added_to_the_gradient():
    ps = params_with([2.0], [0.0])
    Adam(ps, lr=0.1, weight_decay=0.5).step()  # g = 0 + 0.5·2 = 1 → step of lr
    assert ps[0].data == pytest.approx(1.9, rel=1e-7)


def test_adam_custom_betas():
    (p,) = ps = params_with([0.0], [2.0])
    opt = Adam(ps, lr=1.0, betas=(0.5, 0.5), eps=0.0 + 1e-300)
    opt.step()
    assert p.data == approx(-1.0)
    p.grad = 0.0
    opt.step()
    # m = 0.5·0.5·2 = 0.5, m̂ = 0.5/0.75; v = 0.5·0.5·4 = 1, v̂ = 1/0.75
    assert p.data == approx(-1.0 - (0.5 / 0.75) / math.sqrt(1 / 0.75))


# --- argument checks and non-finite gradients -----------------------------------------

@pytest.mark.parametrize("make, exc, text", [
    (lambda ps: SGD(ps, lr=-0.1), ValueError, "lr must be >= 0"),
    (lambda ps: SGD(ps, lr="fast"), TypeError, "lr must be a real number"),
    (lambda ps: SGD(ps, lr=math.nan), ValueError, "finite"),
    (lambda ps: SGD(ps, lr=0.1, momentum=1.5), ValueError, "momentum"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), ValueError, "betas[1]"),
    (lambda ps: Adam(ps, betas=(-0.1, 0.9)), ValueError, "betas[0]"),
    (lambda ps: Adam(ps, betas=0.9), TypeError, "pair"),
    (lambda ps: Adam(ps, eps=0), ValueError, "eps"),
    (lambda ps: SGD([], lr=0.1), ValueError, "empty"),
    (lambda ps: SGD([ps[0], 1.0], lr=0.1), TypeError, "params[1] is a float"),
    (lambda ps: SGD([ps[0], ps[0]], lr=0.1), ValueError, "more than once"),
    (lambda ps: SGD(ps[0], lr=0.1), TypeError, "iterable of Values"),
])
def test_bad_arguments(make, exc, text):
    ps = params_with([1.0], [1.0])
    with pytest.raises(exc) as info:
        make(ps)
    assert text in str(info.value)


def test_passing_a_model_hints_at_parameters():
    class Model:
        def parameters(self):
            return []

    with pytest.raises(TypeError, match=r"model\.parameters\(\)"):
        SGD(Model(), lr=0.1)


def test_setting_a_negative_lr_is_refused():
    opt = SGD(params_with([1.0], [1.0]), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == 0.1


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps)])
def test_non_finite_gradient_raises_and_changes_nothing(make, bad):
    ps = params_with([1.0, 2.0, 3.0], [0.1, bad, 0.2])
    ps[1].label = "w1"
    opt = make(ps)
    with pytest.raises(FloatingPointError, match=r"parameter 1 'w1'.*no weight was changed"):
        opt.step()
    assert [p.data for p in ps] == [1.0, 2.0, 3.0]


def test_huge_but_finite_gradients_still_step():
    ps = params_with([0.0, 0.0], [1e308, 1e308])  # their sum overflows; each is finite
    SGD(ps, lr=1e-308).step()
    assert [p.data for p in ps] == approx([-1.0, -1.0])


# --- schedules ------------------------------------------------------------------------

def test_linear_decay_is_micrograds_schedule():
    opt = SGD(params_with([1.0], [0.0]), lr=123.0)
    sched = LinearDecay(opt, start=1.0, end=0.1, steps=100)
    assert opt.lr == 1.0  # set for step 0 on construction
    seen = [opt.lr]
    for _ in range(104):
        opt.step()
        seen.append(sched.step())
    assert seen[:100] == pytest.approx([1.0 - 0.9 * k / 100 for k in range(100)], rel=1e-12)
    assert seen[100:] == [0.1] * 5 and opt.lr == 0.1


def test_step_decay():
    opt = SGD(params_with([1.0], [0.0]), lr=1.0)
    sched = StepDecay(opt, step_size=2, gamma=0.5)
    assert [opt.lr] + [sched.step() for _ in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_exponential_and_cosine_decay():
    opt = SGD(params_with([1.0], [0.0]), lr=2.0)
    sched = ExponentialDecay(opt, gamma=0.5)
    assert [sched.step() for _ in range(3)] == [1.0, 0.5, 0.25]
    opt = Adam(params_with([1.0], [0.0]), lr=1.0)
    sched = CosineDecay(opt, steps=4, end=0.0)
    lrs = [sched.step() for _ in range(6)]
    assert lrs == pytest.approx([(1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2,
                                 0.0, 0.0, 0.0], abs=1e-15)


@pytest.mark.parametrize("make, exc", [
    (lambda opt: LinearDecay(opt, 1.0, -0.1, 10), ValueError),
    (lambda opt: LinearDecay(opt, 1.0, 0.1, 0), ValueError),
    (lambda opt: LinearDecay(opt, 1.0, 0.1, 2.5), TypeError),
    (lambda opt: StepDecay(opt, 0), ValueError),
    (lambda opt: StepDecay(opt, 1, gamma=-1), ValueError),
    (lambda opt: ExponentialDecay(opt, "x"), TypeError),
    (lambda opt: CosineDecay(opt, 10, end=-1), ValueError),
    (lambda opt: LinearDecay("sgd", 1.0, 0.1, 10), TypeError),
])
def test_bad_schedule_arguments(make, exc):
    with pytest.raises(exc):
        make(SGD(params_with([1.0], [0.0]), lr=1.0))


# --- clipping -------------------------------------------------------------------------

def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm():
    ps = params_with([0.0, 0.0], [3.0, -4.0])
    assert clip_grad_norm(ps, 1.0) == 5.0
    assert [p.grad for p in ps] == approx([0.6, -0.8])


def test_clip_grad_norm_below_the_limit_changes_nothing():
    ps = params_with([0.0, 0.0, 0.0], [1.0, 2.0, 2.0])
    assert clip_grad_norm(ps, 3.0) == 3.0
    assert [p.grad for p in ps] == [1.0, 2.0, 2.0]


def test_clip_grad_norm_of_huge_gradients_does_not_overflow():
    ps = params_with([0.0, 0.0], [3e300, 4e300])
    assert clip_grad_norm(ps, 5.0) == pytest.approx(5e300)
    assert [p.grad for p in ps] == approx([3.0, 4.0])


@pytest.mark.parametrize("bad, expect", [(math.inf, math.inf), (math.nan, math.nan)])
def test_clip_grad_norm_non_finite_is_returned_unscaled(bad, expect):
    ps = params_with([0.0, 0.0], [3.0, bad])
    norm = clip_grad_norm(ps, 1.0)
    assert (math.isnan(norm) if math.isnan(expect) else norm == expect)
    assert ps[0].grad == 3.0


def test_clip_grad_norm_bad_max_norm():
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm(params_with([0.0], [1.0]), -1.0)


def test_clip_grad_value():
    ps = params_with([0.0] * 4, [3.0, -4.0, 0.5, math.nan])
    clip_grad_value(ps, 1.0)
    assert [p.grad for p in ps[:3]] == [1.0, -1.0, 0.5]
    assert math.isnan(ps[3].grad)  # left for the optimiser to report
    with pytest.raises(ValueError, match="clip must be >= 0"):
        clip_grad_value(ps, -0.5)
