"""First-order optimizers against numpy trajectories written from PyTorch's algorithm boxes (float64,
tight tolerances), plus the Optimizer base: groups, state, zero_grad, closures, state_dict,
validation, dtypes; torch.optim as an extra reference when importable."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim

STEPS = 6

# ------------------------------------------------------------------------------ the problem ----
# Two parameters with a nonlinear loss, so the gradients change along the trajectory:
#   f = sum(scale * (theta - target)^2) + 0.1 * sum(theta^4)  for each parameter theta
# and its gradient, written once with Tensor ops (through backward) and once in numpy.
W0 = np.array([0.5, -1.5, 2.0])
M0 = np.array([[1.0, -0.25], [0.75, -2.0]])
TARGETS = [np.array([1.0, 0.5, -0.5]), np.array([[0.0, 1.0], [-1.0, 0.5]])]
SCALES = [np.array([1.0, 0.3, 2.0]), np.array([[0.5, 1.5], [1.0, 0.2]])]


def tensor_loss(params):
    total = None
    for p, target, scale in zip(params, TARGETS, SCALES):
        term = ((p - Tensor(target.astype(p.dtype))) ** 2 * Tensor(scale.astype(p.dtype))).sum() \
            + (p ** 4).sum() * 0.1
        total = term if total is None else total + term
    return total


def numpy_grad(i, theta):
    return 2 * SCALES[i] * (theta - TARGETS[i]) + 0.4 * theta ** 3


def make_params(dtype=np.float64):
    return [Tensor(W0.astype(dtype), requires_grad=True), Tensor(M0.astype(dtype), requires_grad=True)]


def run(make_opt, steps=STEPS, dtype=np.float64, params=None):
    """Trajectory of both parameters under tinygrad_lite (loss.backward, then opt.step)."""
    params = make_params(dtype) if params is None else params
    opt = make_opt(params)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        tensor_loss(params).backward()
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory, opt, params


def run_reference(step_fn, options, steps=STEPS):
    """The same trajectory from a numpy step function; options: one dict per parameter."""
    thetas, states = [W0.copy(), M0.copy()], [{}, {}]
    trajectory = []
    for _ in range(steps):
        for i in range(2):
            g = numpy_grad(i, thetas[i])
            thetas[i] = step_fn(thetas[i].copy(), g, states[i], **options[i])
        trajectory.append([t.copy() for t in thetas])
    return trajectory


def assert_same_trajectory(actual, expected, rtol=1e-12, atol=1e-14):
    assert len(actual) == len(expected)
    for t, (a_step, e_step) in enumerate(zip(actual, expected)):
        for a, e in zip(a_step, e_step):
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"step {t + 1}")


# ---------------------------------------------------- numpy references (PyTorch's algorithm boxes) --
# NOTE: maximize negates the gradient first (what torch.optim's code does), so weight decay still
# pulls toward zero when maximizing.

def ref_sgd(theta, g, st, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * theta
    if momentum != 0:
        st["b"] = g.copy() if "b" not in st else momentum * st["b"] + (1 - dampening) * g
        g = g + momentum * st["b"] if nesterov else st["b"]
    return theta - lr * g


def ref_adagrad(theta, g, st, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10):
    st["t"] = st.get("t", 0) + 1
    st.setdefault("sum", np.full_like(theta, initial_accumulator_value))
    g = g + weight_decay * theta
    clr = lr / (1 + (st["t"] - 1) * lr_decay)
    st["sum"] = st["sum"] + g ** 2
    return theta - clr * g / (np.sqrt(st["sum"]) + eps)


def ref_rmsprop(theta, g, st, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    g = g + weight_decay * theta
    v = st["v"] = alpha * st.get("v", 0.0) + (1 - alpha) * g ** 2
    v_tilde = v
    if centered:
        ga = st["g_ave"] = alpha * st.get("g_ave", 0.0) + (1 - alpha) * g
        v_tilde = v - ga ** 2
    if momentum > 0:
        b = st["b"] = momentum * st.get("b", 0.0) + g / (np.sqrt(v_tilde) + eps)
        return theta - lr * b
    return theta - lr * g / (np.sqrt(v_tilde) + eps)


def ref_adadelta(theta, g, st, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    g = g + weight_decay * theta
    v = st["v"] = rho * st.get("v", 0.0) + (1 - rho) * g ** 2
    u = st.get("u", 0.0)
    dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    st["u"] = rho * u + (1 - rho) * dx ** 2
    return theta - lr * dx


def ref_adam(theta, g, st, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    t = st["t"] = st.get("t", 0) + 1
    g = -g if maximize else g
    if decoupled:
        theta = theta - lr * weight_decay * theta
    else:
        g = g + weight_decay * theta
    m = st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    v = st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g ** 2
    m_hat = m / (1 - b1 ** t)
    if amsgrad:
        st["v_max"] = np.maximum(st.get("v_max", 0.0), v)
        v_hat = st["v_max"] / (1 - b2 ** t)
    else:
        v_hat = v / (1 - b2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(theta, g, st, **options):
    return ref_adam(theta, g, st, decoupled=True, **options)


def two_groups(cls, first: dict, second: dict, **defaults):
    return lambda ps: cls([{"params": [ps[0]], **first}, {"params": [ps[1]], **second}], **defaults)


# (id, optimizer factory, reference step, options for parameter 0, options for parameter 1)
CASES = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.05), ref_sgd, {"lr": 0.05}, {"lr": 0.05}),
    ("sgd_momentum", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9), ref_sgd,
     {"lr": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9}),
    ("sgd_dampening_wd", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3,
                                              weight_decay=0.1), ref_sgd,
     {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
     {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    ("sgd_nesterov", lambda ps: optim.SGD(ps, lr=0.03, momentum=0.9, nesterov=True), ref_sgd,
     {"lr": 0.03, "momentum": 0.9, "nesterov": True}, {"lr": 0.03, "momentum": 0.9, "nesterov": True}),
    ("sgd_maximize_wd", lambda ps: optim.SGD(ps, lr=0.01, weight_decay=0.5, maximize=True), ref_sgd,
     {"lr": 0.01, "weight_decay": 0.5, "maximize": True},
     {"lr": 0.01, "weight_decay": 0.5, "maximize": True}),
    ("sgd_groups", two_groups(optim.SGD, {"momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.2},
                              lr=0.05), ref_sgd,
     {"lr": 0.05, "momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.2}),
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1), ref_adagrad, {"lr": 0.1}, {"lr": 0.1}),
    ("adagrad_decay_wd_init", lambda ps: optim.Adagrad(ps, lr=0.2, lr_decay=0.1, weight_decay=0.05,
                                                      initial_accumulator_value=0.5),
     ref_adagrad,
     {"lr": 0.2, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.5},
     {"lr": 0.2, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.5}),
    ("adagrad_groups", two_groups(optim.Adagrad, {}, {"lr": 0.3, "lr_decay": 0.5}, lr=0.1),
     ref_adagrad, {"lr": 0.1}, {"lr": 0.3, "lr_decay": 0.5}),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01), ref_rmsprop, {"lr": 0.01}, {"lr": 0.01}),
    ("rmsprop_momentum", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5),
     ref_rmsprop, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5},
     {"lr": 0.01, "alpha": 0.9, "momentum": 0.5}),
    ("rmsprop_centered", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.8, centered=True),
     ref_rmsprop, {"lr": 0.01, "alpha": 0.8, "centered": True},
     {"lr": 0.01, "alpha": 0.8, "centered": True}),
    ("rmsprop_centered_momentum_wd",
     lambda ps: optim.RMSprop(ps, lr=0.02, alpha=0.7, momentum=0.6, centered=True,
                              weight_decay=0.1, eps=1e-6), ref_rmsprop,
     {"lr": 0.02, "alpha": 0.7, "momentum": 0.6, "centered": True, "weight_decay": 0.1, "eps": 1e-6},
     {"lr": 0.02, "alpha": 0.7, "momentum": 0.6, "centered": True, "weight_decay": 0.1, "eps": 1e-6}),
    ("rmsprop_groups", two_groups(optim.RMSprop, {"centered": True}, {"lr": 0.05, "momentum": 0.9},
                                  lr=0.01), ref_rmsprop,
     {"lr": 0.01, "centered": True}, {"lr": 0.05, "momentum": 0.9}),
    ("adadelta", lambda ps: optim.Adadelta(ps), ref_adadelta, {}, {}),
    ("adadelta_wd", lambda ps: optim.Adadelta(ps, lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1),
     ref_adadelta, {"lr": 0.5, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1},
     {"lr": 0.5, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1}),
    ("adadelta_groups", two_groups(optim.Adadelta, {"rho": 0.2}, {"lr": 2.0, "eps": 1e-2}),
     ref_adadelta, {"rho": 0.2}, {"lr": 2.0, "eps": 1e-2}),
    ("adam", lambda ps: optim.Adam(ps, lr=0.1), ref_adam, {"lr": 0.1}, {"lr": 0.1}),
    ("adam_wd_betas", lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.9), weight_decay=0.3),
     ref_adam, {"lr": 0.1, "betas": (0.8, 0.9), "weight_decay": 0.3},
     {"lr": 0.1, "betas": (0.8, 0.9), "weight_decay": 0.3}),
    ("adam_amsgrad", lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.5), amsgrad=True), ref_adam,
     {"lr": 0.1, "betas": (0.8, 0.5), "amsgrad": True},
     {"lr": 0.1, "betas": (0.8, 0.5), "amsgrad": True}),
    ("adam_maximize", lambda ps: optim.Adam(ps, lr=0.01, eps=1e-3, maximize=True), ref_adam,
     {"lr": 0.01, "eps": 1e-3, "maximize": True}, {"lr": 0.01, "eps": 1e-3, "maximize": True}),
    ("adam_groups", two_groups(optim.Adam, {"amsgrad": True, "betas": (0.8, 0.5)},
                               {"lr": 0.02, "weight_decay": 0.1}, lr=0.1), ref_adam,
     {"lr": 0.1, "amsgrad": True, "betas": (0.8, 0.5)}, {"lr": 0.02, "weight_decay": 0.1}),
    ("adamw", lambda ps: optim.AdamW(ps, lr=0.1), ref_adamw,
     {"lr": 0.1, "weight_decay": 1e-2}, {"lr": 0.1, "weight_decay": 1e-2}),
    ("adamw_amsgrad", lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5, betas=(0.8, 0.5),
                                             amsgrad=True), ref_adamw,
     {"lr": 0.1, "weight_decay": 0.5, "betas": (0.8, 0.5), "amsgrad": True},
     {"lr": 0.1, "weight_decay": 0.5, "betas": (0.8, 0.5), "amsgrad": True}),
    ("adamw_groups", two_groups(optim.AdamW, {"weight_decay": 0.0}, {"lr": 0.05}, lr=0.1,
                                weight_decay=0.4), ref_adamw,
     {"lr": 0.1, "weight_decay": 0.0}, {"lr": 0.05, "weight_decay": 0.4}),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,make_opt,ref,opts0,opts1", CASES, ids=CASE_IDS)
def test_optimizer_trajectory_matches_numpy_reference(name, make_opt, ref, opts0, opts1):
    trajectory, _, _ = run(make_opt)
    expected = run_reference(ref, [opts0, opts1])
    assert_same_trajectory(trajectory, expected)
    # the check can fail: the parameters really moved, differently for different options
    assert not np.allclose(trajectory[-1][0], W0, atol=1e-3)


def test_optimizer_reference_check_catches_a_wrong_update():
    """A planted bias-correction bug (1 - b1^(t+1)) is caught by the trajectory comparison."""
    trajectory, _, _ = run(lambda ps: optim.Adam(ps, lr=0.1))

    def wrong_adam(theta, g, st, lr):
        t = st["t"] = st.get("t", 0) + 1
        m = st["m"] = 0.9 * st.get("m", 0.0) + 0.1 * g
        v = st["v"] = 0.999 * st.get("v", 0.0) + 0.001 * g ** 2
        return theta - lr * (m / (1 - 0.9 ** (t + 1))) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)

    with pytest.raises(AssertionError):
        assert_same_trajectory(trajectory, run_reference(wrong_adam, [{"lr": 0.1}, {"lr": 0.1}]))


@pytest.mark.parametrize("cls,options", [
    (optim.SGD, dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    (optim.Adagrad, dict(lr=0.1, weight_decay=0.1)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    (optim.Adadelta, dict(weight_decay=0.1)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
])
def test_maximize_equals_minimizing_the_negated_loss(cls, options):
    """maximize negates the gradient before anything else (weight decay still shrinks)."""
    up = make_params()
    down = make_params()
    opt_up, opt_down = cls(up, maximize=True, **options), cls(down, **options)
    for _ in range(STEPS):
        opt_up.zero_grad()
        opt_down.zero_grad()
        tensor_loss(up).backward()
        (-tensor_loss(down)).backward()
        opt_up.step()
        opt_down.step()
    for a, b in zip(up, down):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
    assert not np.allclose(up[0].numpy(), W0, atol=1e-3)


def test_amsgrad_changes_the_trajectory_when_the_second_moment_falls():
    plain, _, _ = run(lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.5)))
    ams, opt, params = run(lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.5), amsgrad=True))
    state = opt.state[params[0]]
    assert np.all(state["max_exp_avg_sq"] >= state["exp_avg_sq"])
    assert np.any(state["max_exp_avg_sq"] > state["exp_avg_sq"])
    assert not np.allclose(plain[-1][0], ams[-1][0])


def test_adamw_differs_from_adam_with_l2():
    adam, _, _ = run(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.5))
    adamw, _, _ = run(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5))
    assert not np.allclose(adam[-1][0], adamw[-1][0])


def test_sgd_plain_is_gradient_descent_on_the_full_batch():
    """Full-batch gradient descent on least squares converges to numpy's lstsq solution."""
    gen = np.random.default_rng(0)
    X, y = gen.normal(size=(50, 3)), gen.normal(size=50)
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        (((Tensor(X) @ w - Tensor(y)) ** 2).mean() * 0.5).backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-8)


# ---------------------------------------------------------------------------- state names ----
@pytest.mark.parametrize("make_opt,keys", [
    (lambda ps: optim.SGD(ps, lr=0.1), set()),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), {"momentum_buffer"}),
    (lambda ps: optim.Adagrad(ps), {"step", "sum"}),
    (lambda ps: optim.RMSprop(ps), {"step", "square_avg"}),
    (lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True),
     {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (lambda ps: optim.Adadelta(ps), {"step", "square_avg", "acc_delta"}),
    (lambda ps: optim.Adam(ps), {"step", "exp_avg", "exp_avg_sq"}),
    (lambda ps: optim.Adam(ps, amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    (lambda ps: optim.AdamW(ps, amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
])
def test_optimizer_state_uses_pytorch_key_names(make_opt, keys):
    _, opt, params = run(make_opt, steps=3)
    for p in params:
        assert set(opt.state[p]) == keys
        if "step" in keys:
            assert opt.state[p]["step"] == 3
        for k in keys - {"step"}:
            assert opt.state[p][k].shape == p.shape


def test_optimizer_state_is_created_lazily():
    params = make_params()
    opt = optim.Adam(params)
    assert len(opt.state) == 0
    params[0].grad = Tensor(np.ones(3))
    opt.step()
    assert params[0] in opt.state and params[1] not in opt.state


def test_optimizer_skips_parameters_without_gradient():
    params = make_params()
    opt = optim.Adam(params, lr=0.1)
    params[0].grad = Tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(params[1].numpy(), M0)
    assert not np.allclose(params[0].numpy(), W0)


# ------------------------------------------------------------------------------- zero_grad ----
def test_zero_grad_sets_none_by_default():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    tensor_loss(params).backward()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_set_to_none_false_gives_zeros():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    tensor_loss(params).backward()
    opt.zero_grad(set_to_none=False)
    for p in params:
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype
        assert not p.grad.numpy().any()
    # and gradients accumulate onto the zeros
    tensor_loss(params).backward()
    np.testing.assert_allclose(params[0].grad.numpy(), numpy_grad(0, W0))


def test_zero_grad_leaves_missing_gradients_missing():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is None


# --------------------------------------------------------------------------------- closure ----
def test_step_calls_the_closure_under_enable_grad_and_returns_its_loss():
    params = make_params()
    opt = optim.SGD(params, lr=0.05)
    calls = []

    def closure():
        calls.append(tg.is_grad_enabled())
        opt.zero_grad()
        loss = tensor_loss(params)
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    expected = sum((SCALES[i] * (t - TARGETS[i]) ** 2).sum() + 0.1 * (t ** 4).sum()
                   for i, t in enumerate([W0, M0]))
    assert loss.item() == pytest.approx(expected)
    np.testing.assert_allclose(params[0].numpy(), W0 - 0.05 * numpy_grad(0, W0))
    assert opt.step() is None


# ------------------------------------------------------------------------------ param groups ----
def test_param_groups_hold_every_option():
    params = make_params()
    opt = optim.Adam([{"params": [params[0]]}, {"params": params[1], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    for g in opt.param_groups:
        assert set(g) == {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"}
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is params[1]
    assert opt.defaults["lr"] == 0.1


def test_add_param_group_later():
    params = make_params()
    opt = optim.SGD([params[0]], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [params[1]], "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [params[0]]})


@pytest.mark.parametrize("bad,error,match", [
    (lambda ps: ps[0], TypeError, "iterable of Tensors"),
    (lambda ps: [], ValueError, "empty parameter list"),
    (lambda ps: [np.zeros(3)], TypeError, "can only optimize Tensors"),
    (lambda ps: [Tensor(np.zeros(3))], ValueError, "doesn't require gradients"),
    (lambda ps: [ps[0] * 2.0], ValueError, "non-leaf"),
    (lambda ps: [ps[0], ps[0]], ValueError, "more than once"),
    (lambda ps: {ps[0]}, TypeError, "ordered collections"),
    (lambda ps: [{"params": {ps[0]}}], TypeError, "ordered collections"),
])
def test_optimizer_rejects_bad_params(bad, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(bad(make_params()), lr=0.1)


# ------------------------------------------------------------------------------- validation ----
@pytest.mark.parametrize("make,message", [
    (lambda ps: optim.SGD(ps, lr=-1), "Invalid learning rate: -1"),
    (lambda ps: optim.SGD(ps, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda ps: optim.SGD(ps, lr=-1, momentum=-1), "Invalid learning rate: -1"),  # lr first
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda ps: optim.Adagrad(ps, eps=-1), "Invalid epsilon value: -1"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda ps: optim.RMSprop(ps, eps=-0.1), "Invalid epsilon value: -0.1"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "Invalid rho value: 1.5"),
    (lambda ps: optim.Adadelta(ps, lr=-0.5), "Invalid learning rate: -0.5"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda ps: optim.Adam(ps, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda ps: optim.AdamW(ps, lr=-1e-3), "Invalid learning rate: -0.001"),
    # a group's own options are validated too
    (lambda ps: optim.SGD([{"params": ps, "lr": -2}], lr=0.1), "Invalid learning rate: -2"),
    (lambda ps: optim.Adam([{"params": ps, "betas": (0.9, 1.0)}]),
     "Invalid beta parameter at index 1: 1.0"),
])
def test_optimizer_validates_hyperparameters_with_pytorch_messages(make, message):
    with pytest.raises(ValueError) as info:
        make(make_params())
    assert str(info.value) == message


# ------------------------------------------------------------------------------- state dict ----
STATEFUL = [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: optim.Adadelta(ps),
    two_groups(optim.Adam, {"amsgrad": True}, {"lr": 0.05}, lr=0.1, betas=(0.8, 0.5)),
    lambda ps: optim.AdamW(ps, lr=0.1),
]


@pytest.mark.parametrize("make_opt", STATEFUL, ids=["sgd", "adagrad", "rmsprop", "adadelta",
                                                     "adam", "adamw"])
def test_state_dict_round_trip_continues_the_same_trajectory(make_opt):
    params = make_params()
    opt = make_opt(params)
    for _ in range(3):
        opt.zero_grad()
        tensor_loss(params).backward()
        opt.step()
    saved = opt.state_dict()
    clones = [Tensor(p.numpy().copy(), requires_grad=True) for p in params]
    fresh = make_opt(clones)
    fresh.param_groups[0]["lr"] = 123.0  # overwritten by the load
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for _ in range(3):
        for o, ps in ((opt, params), (fresh, clones)):
            o.zero_grad()
            tensor_loss(ps).backward()
            o.step()
    for p, c in zip(params, clones):
        np.testing.assert_array_equal(p.numpy(), c.numpy())


def test_state_dict_has_pytorch_layout_and_copies_arrays():
    params = make_params()
    opt = optim.Adam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1)
    run(lambda ps: opt, steps=2, params=params)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][1]["step"] == 2
    before = sd["state"][0]["exp_avg"].copy()
    run(lambda ps: opt, steps=1, params=params)  # stepping on does not change the saved copy
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    # loading copies too: mutating the dict afterwards does not reach the optimizer
    other = optim.Adam([{"params": [params[0]]}, {"params": [params[1]]}])
    other.load_state_dict(sd)
    sd["state"][0]["exp_avg"][:] = 99.0
    np.testing.assert_array_equal(other.state[params[0]]["exp_avg"], before)


def test_load_state_dict_rejects_mismatched_optimizers():
    params = make_params()
    opt = optim.Adam(params)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [params[0]]}, {"params": [params[1]]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([params[0]]).load_state_dict(sd)
    run(lambda ps: opt, steps=1, params=params)
    swapped = opt.state_dict()
    swapped["state"][0], swapped["state"][1] = swapped["state"][1], swapped["state"][0]
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(params).load_state_dict(swapped)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    params64 = make_params(np.float64)
    opt = optim.Adam(params64)
    run(lambda ps: opt, steps=2, params=params64)
    params32 = make_params(np.float32)
    opt32 = optim.Adam(params32)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32


# ------------------------------------------------------------------------------------ dtypes ----
ALL_OPTIONS = [
    lambda ps: optim.SGD(ps, lr=0.05),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5, maximize=True),
    lambda ps: optim.Adagrad(ps, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.1),
    lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
    lambda ps: optim.Adadelta(ps, weight_decay=0.1),
    lambda ps: optim.Adam(ps, amsgrad=True, weight_decay=0.1, maximize=True),
    lambda ps: optim.AdamW(ps, amsgrad=True),
]


@pytest.mark.parametrize("make_opt", ALL_OPTIONS)
def test_float32_parameters_and_state_stay_float32(make_opt):
    traj32, opt, params = run(make_opt, dtype=np.float32)
    for p in params:
        assert p.dtype == np.float32
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
    traj64, _, _ = run(make_opt, dtype=np.float64)
    for a, b in zip(traj32[-1], traj64[-1]):  # and they compute the same thing
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_float32_gradient_from_numpy_float64_hyperparameters_stays_float32():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=np.float64(0.1), betas=(np.float64(0.9), np.float64(0.99)))
    p.grad = Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert p.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32


def test_sgd_momentum_buffer_does_not_alias_the_gradient():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor(np.array([1.0, 2.0]))
    opt.step()
    opt.step()  # the buffer is scaled in place: the gradient must not change with it
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.9, 3.8])


def test_optimizer_repr_lists_groups():
    text = repr(optim.SGD(make_params(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_optimizer_trains_a_logistic_regression():
    """A model from plain Tensors, (X @ w + b).sigmoid(), learns a separable-ish problem."""
    gen = np.random.default_rng(1)
    X = gen.normal(size=(200, 2)).astype(np.float32)
    y = (X @ np.array([2.0, -1.0]) + 0.5 > 0).astype(np.float32)
    w = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1)
    Xt, yt = Tensor(X), Tensor(y)
    for _ in range(100):
        opt.zero_grad()
        p = (Xt @ w + b).sigmoid()
        loss = -(yt * (p + 1e-7).log() + (1.0 - yt) * (1.0 - p + 1e-7).log()).mean()
        loss.backward()
        opt.step()
    accuracy = (((X @ w.numpy() + b.numpy()) > 0) == (y > 0.5)).mean()
    assert loss.item() < 0.15 and accuracy > 0.95
    assert w.dtype == np.float32


# ------------------------------------------------------------------------ torch as a reference ----
TORCH_CASES = {
    "sgd_dampening_wd": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    "sgd_nesterov": ("SGD", dict(lr=0.03, momentum=0.9, nesterov=True)),
    "sgd_maximize_wd": ("SGD", dict(lr=0.01, weight_decay=0.5, maximize=True)),
    "adagrad_decay_wd_init": ("Adagrad", dict(lr=0.2, lr_decay=0.1, weight_decay=0.05,
                                              initial_accumulator_value=0.5)),
    "rmsprop_centered_momentum_wd": ("RMSprop", dict(lr=0.02, alpha=0.7, momentum=0.6,
                                                     centered=True, weight_decay=0.1, eps=1e-6)),
    "adadelta_wd": ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1)),
    "adadelta_maximize": ("Adadelta", dict(lr=0.5, eps=1e-3, maximize=True)),
    "adagrad_maximize": ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    "rmsprop_maximize": ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    "adam_wd_amsgrad_maximize": ("Adam", dict(lr=0.1, betas=(0.8, 0.5), weight_decay=0.3,
                                              amsgrad=True, maximize=True)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.1, weight_decay=0.5, betas=(0.8, 0.5), amsgrad=True)),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_optimizer_matches_torch_optim(case):
    torch = pytest.importorskip("torch")
    name, options = TORCH_CASES[case]
    ours, _, _ = run(lambda ps: getattr(optim, name)(ps, **options))
    tparams = [torch.tensor(W0.copy(), requires_grad=True), torch.tensor(M0.copy(), requires_grad=True)]
    topt = getattr(torch.optim, name)(tparams, **options)
    for t in range(STEPS):
        for i, p in enumerate(tparams):
            p.grad = torch.tensor(numpy_grad(i, p.detach().numpy()))
        topt.step()
        for a, p in zip(ours[t], tparams):
            np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_state_dict_loads_into_torch_layout_names():
    """Our state_dict carries the same state names and group keys torch.optim.Adam uses."""
    torch = pytest.importorskip("torch")
    params = make_params()
    _, opt, _ = run(lambda ps: optim.Adam(ps, amsgrad=True), steps=1, params=params)
    tp = [torch.tensor(W0.copy(), requires_grad=True), torch.tensor(M0.copy(), requires_grad=True)]
    topt = torch.optim.Adam(tp, amsgrad=True)
    for p in tp:
        p.grad = torch.ones_like(p)
    topt.step()
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])
    assert math.isclose(ours["param_groups"][0]["lr"], theirs["param_groups"][0]["lr"])
