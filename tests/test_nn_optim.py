"""Optimisers, schedules and clipping against updates worked out by hand."""

from __future__ import annotations

import inspect
import math

import pytest

import nn
from autograd import Value
from nn import optim
from nn.optim import (
    SGD, Adam, AdamW, CosineDecay, ExponentialDecay, LinearDecay, RMSprop, StepDecay, clip_grad_norm,
    clip_grad_value,
)

NO_TORCH = "needs torch: pip install 'deltagrad[torch]' (PyTorch has no PyPy wheel)"


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
    (lambda ps: SGD(ps, lr=0.1, momentum=1.5), ValueError, "grows geometrically"),
    (lambda ps: SGD(ps, momentum=-0.1), ValueError, "momentum must be in [0, 1]"),
    (lambda ps: SGD(ps, momentum=0.9, dampening=1.5), ValueError, "dampening must be in [0, 1]"),
    (lambda ps: SGD(ps, nesterov=True), ValueError, "nesterov needs momentum > 0 and dampening = 0"),
    (lambda ps: SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening = 0"),
    (lambda ps: SGD(ps, momentum=0.9, nesterov=1), TypeError, "nesterov must be True or False"),
    (lambda ps: Adam(ps, amsgrad="yes"), TypeError, "Adam amsgrad must be True or False"),
    (lambda ps: AdamW(ps, betas=(0.9, 1.5)), ValueError, "AdamW: betas[1]"),
    (lambda ps: AdamW(ps, weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda ps: RMSprop(ps, alpha=1.5), ValueError, "alpha must be in [0, 1]"),
    (lambda ps: RMSprop(ps, eps=0.0), ValueError, "RMSprop: eps must be > 0"),
    (lambda ps: RMSprop(ps, momentum=2.0), ValueError, "momentum must be in [0, 1]"),
    (lambda ps: RMSprop(ps, centered=None), TypeError, "centered must be True or False"),
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
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps),
                                  lambda ps: AdamW(ps), lambda ps: RMSprop(ps, centered=True)])
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


# --- 20 steps against the formulas, written out in plain floats ------------------------
# Each parameter sits in its own bowl, a·(θ − c)², pushed by a term that changes with the
# step, so the gradient depends on θ and changes sign: momentum and moment buffers matter.

BOWL = [0.5, 2.0, 1.0, 0.1]
CENTRE = [1.0, -0.5, 0.25, 3.0]
THETA0 = [0.3, 0.7, -1.2, 2.0]
STEPS = 20


def bowl_grad(k, i, theta):
    return 2.0 * BOWL[i] * (theta - CENTRE[i]) + 0.5 * math.sin(1.3 * k + i)


def run_optimizer(make):
    ps = [Value(x) for x in THETA0]
    opt = make(ps)
    for k in range(STEPS):
        for i, p in enumerate(ps):
            p.grad = bowl_grad(k, i, p.data)
        opt.step()
    assert opt.steps == STEPS
    return [p.data for p in ps]


def sgd_by_hand(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    out = []
    for i, theta in enumerate(THETA0):
        b = None
        for k in range(STEPS):
            g = bowl_grad(k, i, theta) + weight_decay * theta
            if momentum:
                b = g if b is None else momentum * b + (1 - dampening) * g
                g = g + momentum * b if nesterov else b
            theta = theta - lr * g
        out.append(theta)
    return out


def adam_by_hand(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled=False):
    b1, b2 = betas
    out = []
    for i, theta in enumerate(THETA0):
        m = v = v_max = 0.0
        for t in range(1, STEPS + 1):
            g = bowl_grad(t - 1, i, theta)
            if decoupled:
                theta = theta - lr * weight_decay * theta
            else:
                g = g + weight_decay * theta
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g ** 2
            v_max = max(v_max, v)  # AMSGrad keeps the largest raw v, then corrects its bias
            m_hat = m / (1 - b1 ** t)
            v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
            theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def adamw_by_hand(weight_decay=1e-2, **kwargs):
    return adam_by_hand(weight_decay=weight_decay, decoupled=True, **kwargs)


def rmsprop_by_hand(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    out = []
    for i, theta in enumerate(THETA0):
        s = g_avg = b = 0.0
        for k in range(STEPS):
            g = bowl_grad(k, i, theta) + weight_decay * theta
            s = alpha * s + (1 - alpha) * g ** 2
            if centered:
                g_avg = alpha * g_avg + (1 - alpha) * g
                denom = math.sqrt(s - g_avg ** 2) + eps
            else:
                denom = math.sqrt(s) + eps
            if momentum:
                b = momentum * b + g / denom
                theta = theta - lr * b
            else:
                theta = theta - lr * g / denom
        out.append(theta)
    return out


CASES = [
    (SGD, sgd_by_hand, {"lr": 0.05}),
    (SGD, sgd_by_hand, {}),  # PyTorch's default lr, 1e-3
    (SGD, sgd_by_hand, {"lr": 0.05, "momentum": 0.9}),
    (SGD, sgd_by_hand, {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    (SGD, sgd_by_hand, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, sgd_by_hand, {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1, "nesterov": True}),
    (SGD, sgd_by_hand, {"lr": 0.01, "momentum": 1.0}),
    (SGD, sgd_by_hand, {"lr": 0.01, "momentum": 1.0, "dampening": 1.0}),
    (Adam, adam_by_hand, {"lr": 0.05}),
    (Adam, adam_by_hand, {}),
    (Adam, adam_by_hand, {"lr": 0.05, "amsgrad": True}),
    (Adam, adam_by_hand, {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "betas": (0.8, 0.9)}),
    (AdamW, adamw_by_hand, {"lr": 0.05}),
    (AdamW, adamw_by_hand, {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
    (RMSprop, rmsprop_by_hand, {}),
    (RMSprop, rmsprop_by_hand, {"lr": 0.05, "alpha": 0.9}),
    (RMSprop, rmsprop_by_hand, {"lr": 0.01, "momentum": 0.9}),
    (RMSprop, rmsprop_by_hand, {"lr": 0.01, "centered": True}),
    (RMSprop, rmsprop_by_hand, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True,
                                "weight_decay": 0.1}),
]


def case_id(case):
    cls, _, kwargs = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("cls, by_hand, kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_twenty_steps_match_the_formulas(cls, by_hand, kwargs):
    hand = by_hand(**kwargs)
    ours = run_optimizer(lambda ps: cls(ps, **kwargs))
    assert ours == approx(hand)
    assert all(abs(a - b) > 1e-3 for a, b in zip(ours, THETA0))  # every parameter moved


def test_adamw_decay_does_not_enter_the_moments():
    # with g = 0 throughout, Adam's L2 decay becomes a full-size Adam step (m̂/√v̂ = ±1),
    # while AdamW only shrinks θ by the factor 1 − η·wd
    ps_adam, ps_adamw = params_with([2.0], [0.0]), params_with([2.0], [0.0])
    Adam(ps_adam, lr=0.1, weight_decay=0.01).step()
    AdamW(ps_adamw, lr=0.1, weight_decay=0.01).step()
    assert ps_adam[0].data == pytest.approx(1.9, rel=1e-7)
    assert ps_adamw[0].data == approx(2.0 * (1 - 0.1 * 0.01))


def test_momentum_one_sums_every_gradient():
    (p,) = ps = params_with([0.0], [1.0])
    opt = SGD(ps, lr=0.1, momentum=1.0)
    for g in (1.0, 2.0, -0.5):
        p.grad = g
        opt.step()
    # buffers 1, 3, 2.5: the steps are the running sums of the gradients
    assert p.data == approx(-0.1 * (1.0 + 3.0 + 2.5))


# --- against torch.optim on the same model ---------------------------------------------

TORCH_CASES = [(cls.__name__, kwargs) for cls, _, kwargs in CASES] + [("AdamW", {})]


def torch_mse(torch, seq, xs, ys):
    """nn.mse(reduction="mean") in torch: summed over outputs, averaged over samples."""
    out = seq(torch.tensor(xs, dtype=torch.float64))
    return torch.nn.functional.mse_loss(out, torch.tensor(ys, dtype=torch.float64),
                                        reduction="sum") / len(xs)


def nn_and_torch_weights(torch, model, seq):
    """The weights of both, in nn's order (each neuron's w, then b)."""
    ours = [p.data for p in model.parameters()]
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    theirs = [x for lin in linears for w, b in zip(lin.weight.tolist(), lin.bias.tolist())
              for x in (*w, b)]
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", TORCH_CASES, ids=[f"{n}-{k}" for n, k in TORCH_CASES])
def test_twenty_steps_match_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    model = nn.MLP(2, [4, 2], activation="tanh", output_activation="tanh", seed=5)
    seq = nn.to_torch(model)
    xs = [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8]]
    ys = [[0.2, -0.4], [-0.6, 0.9], [0.1, 0.3]]
    ours = getattr(optim, name)(model.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(seq.parameters(), **kwargs)
    worst = 0.0
    for _ in range(STEPS):
        ours.zero_grad()
        nn.mse([model(x) for x in xs], ys).backward()
        ours.step()
        theirs.zero_grad()
        torch_mse(torch, seq, xs, ys).backward()
        theirs.step()
        a, b = nn_and_torch_weights(torch, model, seq)
        worst = max(worst, max(abs(x - y) / max(abs(x), abs(y)) for x, y in zip(a, b)))
    assert worst <= 1e-12
    start = nn.MLP(2, [4, 2], activation="tanh", output_activation="tanh", seed=5)
    moved = max(abs(p.data - q.data) for p, q in zip(model.parameters(), start.parameters()))
    assert moved > 1e-4  # the comparison is not between two models that stood still


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop])
def test_argument_names_and_defaults_are_torchs(cls):
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(getattr(torch.optim, cls.__name__)).parameters
    for name, param in ours.items():
        assert name in theirs, name
        if param.default is not inspect.Parameter.empty:
            assert param.default == theirs[name].default, name
    # and in PyTorch's positional order
    assert list(ours) == [n for n in theirs if n in ours]


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
