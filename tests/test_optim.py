"""First-order optimizers and the Optimizer base: trajectories against the numpy references in
tests/reference.py (written from PyTorch's algorithms, float64, tight tolerances), through set
gradients and through backward(); PyTorch's state keys and values, 0-d parameters, groups,
zero_grad, skipping, closures, state_dict round trips, hyper-parameter messages, dtypes;
torch.optim itself as an extra reference (skipped without torch)."""

from __future__ import annotations

import copy
import math
import re
import tracemalloc

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim
from tinygrad_lite.optim.optimizer import CHUNK

from . import reference

STEPS = 8
SHAPES = [(3, 2), (4,)]  # group 0 holds the first parameter, group 1 the second


def initial_params():
    rng = np.random.default_rng(42)
    return [rng.uniform(-1.5, 1.5, size=s) for s in SHAPES]


def gradient(x: np.ndarray, k: int) -> np.ndarray:
    """The gradient of a non-quadratic loss (sum of x^4/4 - cos(2x) - x), plus a drift with the
    step k so that its size rises and falls (amsgrad's maximum then matters)."""
    return x ** 3 + 2.0 * np.sin(2.0 * x) - 1.0 + 0.5 * math.cos(1.3 * k)


# (name, optimizer class, reference, defaults, options of the second group, PyTorch's state keys)
CASES = [
    ("sgd", optim.SGD, reference.sgd, dict(lr=0.05), dict(lr=0.02), set()),
    ("sgd_momentum", optim.SGD, reference.sgd, dict(lr=0.03, momentum=0.9), dict(lr=0.01, momentum=0.5),
     {"momentum_buffer"}),
    ("sgd_dampening_wd", optim.SGD, reference.sgd,
     dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.1),
     dict(weight_decay=0.0, dampening=0.0), {"momentum_buffer"}),
    ("sgd_nesterov", optim.SGD, reference.sgd,
     dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.05), dict(lr=0.01, momentum=0.6),
     {"momentum_buffer"}),
    ("sgd_maximize", optim.SGD, reference.sgd, dict(lr=0.02, momentum=0.5, maximize=True),
     dict(maximize=False), {"momentum_buffer"}),
    ("sgd_maximize_wd", optim.SGD, reference.sgd, dict(lr=0.01, weight_decay=0.5, maximize=True),
     dict(lr=0.02, weight_decay=0.2), set()),
    ("adagrad", optim.Adagrad, reference.adagrad, dict(lr=0.1), dict(lr=0.3), {"step", "sum"}),
    ("adagrad_decay_init", optim.Adagrad, reference.adagrad,
     dict(lr=0.2, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
     dict(lr_decay=0.0, initial_accumulator_value=2.0), {"step", "sum"}),
    ("adagrad_eps_maximize", optim.Adagrad, reference.adagrad, dict(lr=0.1, eps=1e-2, maximize=True),
     dict(lr=0.05), {"step", "sum"}),
    ("rmsprop", optim.RMSprop, reference.rmsprop, dict(lr=0.01), dict(lr=0.03, alpha=0.5),
     {"step", "square_avg"}),
    ("rmsprop_centered_momentum", optim.RMSprop, reference.rmsprop,
     dict(lr=0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.05),
     dict(lr=0.005, momentum=0.3), {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    ("rmsprop_centered", optim.RMSprop, reference.rmsprop, dict(lr=0.01, centered=True, eps=1e-3),
     dict(alpha=0.8), {"step", "square_avg", "grad_avg"}),
    ("rmsprop_momentum_maximize", optim.RMSprop, reference.rmsprop,
     dict(lr=0.01, momentum=0.5, maximize=True), dict(lr=0.02),
     {"step", "square_avg", "momentum_buffer"}),
    ("adadelta", optim.Adadelta, reference.adadelta, dict(), dict(lr=2.0, rho=0.95),
     {"step", "square_avg", "acc_delta"}),
    ("adadelta_options", optim.Adadelta, reference.adadelta,
     dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1), dict(rho=0.5, maximize=True),
     {"step", "square_avg", "acc_delta"}),
    ("adam", optim.Adam, reference.adam, dict(lr=0.01), dict(lr=0.05, betas=(0.5, 0.99)),
     {"step", "exp_avg", "exp_avg_sq"}),
    ("adam_wd_betas", optim.Adam, reference.adam,
     dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1), dict(weight_decay=0.0),
     {"step", "exp_avg", "exp_avg_sq"}),
    ("adam_amsgrad", optim.Adam, reference.adam, dict(lr=0.02, betas=(0.9, 0.9), amsgrad=True),
     dict(lr=0.05, weight_decay=0.2), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("adam_maximize", optim.Adam, reference.adam, dict(lr=0.01, maximize=True, weight_decay=0.05),
     dict(lr=0.03), {"step", "exp_avg", "exp_avg_sq"}),
    ("adamw", optim.AdamW, reference.adamw, dict(lr=0.01), dict(lr=0.05, weight_decay=0.5),
     {"step", "exp_avg", "exp_avg_sq"}),
    ("adamw_amsgrad", optim.AdamW, reference.adamw,
     dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.3, amsgrad=True), dict(weight_decay=0.0),
     {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
]
IDS = [c[0] for c in CASES]


def make_params(dtype=np.float64):
    return [Tensor(a.astype(dtype), requires_grad=True) for a in initial_params()]


def make_opt(cls, params, defaults, group_options):
    return cls([{"params": [params[0]]}, {"params": [params[1]], **group_options}], **defaults)


def run_ours(opt, params, steps, start=0):
    """Step `steps` times with p.grad set to the gradient at the current p; the trajectory."""
    trajectory = []
    for k in range(start, start + steps):
        for p in params:
            p.grad = Tensor(gradient(p.data, k))
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


def run_reference(ref, defaults, group_options, steps):
    ps = initial_params()
    options = [dict(defaults), {**defaults, **group_options}]
    states = [{}, {}]
    trajectory = []
    for k in range(steps):
        ps = [ref(p, gradient(p, k), s, **o) for p, s, o in zip(ps, states, options)]
        trajectory.append([p.copy() for p in ps])
    return trajectory, states


# ---------------------------------------------------------------------------- trajectories ----
@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_trajectory_matches_reference(name, cls, ref, defaults, group_options, keys):
    params = make_params()
    opt = make_opt(cls, params, defaults, group_options)
    ours = run_ours(opt, params, STEPS)
    expected, ref_states = run_reference(ref, defaults, group_options, STEPS)
    for k in range(STEPS):
        for mine, theirs in zip(ours[k], expected[k]):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name}: step {k + 1}")
    # the optimizer moved the parameters (a reference that does nothing would also "match" zero)
    assert not np.allclose(ours[-1][0], initial_params()[0])
    # PyTorch's state names, and the same values as the reference's state
    for p, ref_state in zip(params, ref_states):
        assert set(opt.state[p]) == keys, name
        for key in keys:
            assert np.shape(opt.state[p][key]) == np.shape(ref_state[key]), (name, key)
            np.testing.assert_allclose(opt.state[p][key], ref_state[key], rtol=1e-12, atol=1e-14)
        if "step" in keys:
            assert opt.state[p]["step"] == STEPS


def test_optimizer_second_group_options_matter():
    """The two groups really use their own options: with group 1's options for both groups the
    first parameter's trajectory changes."""
    for name, cls, _ref, defaults, group_options, _keys in CASES:
        a = make_params()
        run_a = run_ours(make_opt(cls, a, defaults, group_options), a, 3)
        b = make_params()
        run_b = run_ours(make_opt(cls, b, {**defaults, **group_options}, {}), b, 3)
        assert not np.allclose(run_a[-1][0], run_b[-1][0]), name
        np.testing.assert_allclose(run_a[-1][1], run_b[-1][1], rtol=1e-13, err_msg=name)


@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_scalar_parameter(name, cls, ref, defaults, group_options, keys):
    """A 0-d parameter (a learnable temperature, say) works like any other: numpy turns 0-d
    results into scalars, which must not leak into in-place updates or out= arguments."""
    for dtype in (np.float64, np.float32):
        p = Tensor(np.array(0.7, dtype=dtype), requires_grad=True)
        opt = cls([p], **defaults)
        x, state = np.array(0.7), {}
        for k in range(STEPS):
            p.grad = Tensor(np.asarray(gradient(p.data.astype(np.float64), k), dtype=dtype))
            opt.step()
            x = ref(x, gradient(x, k), state, **defaults)
        assert p.shape == () and p.dtype == dtype and isinstance(p.data, np.ndarray)
        np.testing.assert_allclose(p.data, x, rtol=1e-12 if dtype == np.float64 else 1e-4,
                                   err_msg=name)


def test_adam_amsgrad_maximum_is_used():
    """The gradient sequence makes max_exp_avg_sq differ from exp_avg_sq, so the amsgrad case
    above really tests the maximum (and Adam's trajectory differs with and without it)."""
    params = make_params()
    opt = optim.Adam(params, lr=0.02, betas=(0.9, 0.9), amsgrad=True)
    amsgrad_run = run_ours(opt, params, STEPS)
    state = opt.state[params[0]]
    assert np.any(state["max_exp_avg_sq"] > state["exp_avg_sq"] * (1 + 1e-6))
    plain = make_params()
    plain_run = run_ours(optim.Adam(plain, lr=0.02, betas=(0.9, 0.9)), plain, STEPS)
    assert not np.allclose(amsgrad_run[-1][0], plain_run[-1][0])


def test_adam_first_step_is_lr_sized():
    """Bias correction 1 - beta^t: the first step moves every coordinate by about lr (sign of
    the gradient), whatever the gradient's scale."""
    for scale in (1e-2, 1.0, 1e4):
        w = Tensor(np.zeros(3), requires_grad=True)
        w.grad = Tensor(np.array([1.0, -2.0, 3.0]) * scale)
        optim.Adam([w], lr=0.1).step()
        np.testing.assert_allclose(w.data, [-0.1, 0.1, -0.1], rtol=1e-5)


def test_adamw_decay_is_decoupled():
    """AdamW with a zero gradient shrinks the weights by (1 - lr * wd) exactly; Adam's L2 decay
    instead goes through the adaptive step (about lr in size at the first step)."""
    w = Tensor(np.array([2.0, -4.0]), requires_grad=True)
    w.grad = Tensor(np.zeros(2))
    optim.AdamW([w], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(w.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-14)
    v = Tensor(np.array([2.0, -4.0]), requires_grad=True)
    v.grad = Tensor(np.zeros(2))
    optim.Adam([v], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(v.data, [1.9, -3.9], rtol=1e-6)


def test_optimizer_with_autograd_gradients():
    """Gradients from backward() (not set by hand): least squares with SGD+momentum matches a
    numpy loop of the same algorithm, and reaches the solution."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.05, momentum=0.9)
    ref, buf = np.zeros(3), None
    for _ in range(300):
        opt.zero_grad()
        loss = ((Tensor(x) @ w - Tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        g = 2 * x.T @ (x @ ref - y) / len(y)
        buf = g.copy() if buf is None else 0.9 * buf + g
        ref = ref - 0.05 * buf
    np.testing.assert_allclose(w.data, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.data, np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-4)


# --------------------------------------------------------------------- behaviour of the base ----
def test_optimizer_zero_grad_set_to_none():
    w = Tensor(np.ones(3), requires_grad=True)
    (w * w).sum().backward()
    opt = optim.SGD([w], lr=0.1)
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.shape == (3,) and not w.grad.data.any()
    (w * 3.0).sum().backward()  # accumulates onto the zeros
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0, 3.0])


def test_optimizer_zero_grad_zeros_keep_the_gradient_dtype():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    (w * w).sum().backward()
    optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.dtype == np.float32 and w.grad.shape == (3,) and not w.grad.data.any()


def test_optimizer_zero_grad_false_keeps_none():
    w = Tensor(np.ones(2), requires_grad=True)
    optim.Adam([w]).zero_grad(set_to_none=False)
    assert w.grad is None


@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_skips_params_without_grad(name, cls, ref, defaults, group_options, keys):
    params = make_params()
    before = params[1].data.copy()
    opt = make_opt(cls, params, defaults, group_options)
    for k in range(3):
        params[0].grad = Tensor(gradient(params[0].data, k))
        opt.step()
    np.testing.assert_array_equal(params[1].data, before)
    assert params[1] not in opt.state or not opt.state[params[1]]
    assert not np.array_equal(params[0].data, initial_params()[0])


def test_optimizer_frozen_param_accepted_and_skipped():
    """Like PyTorch, a parameter with requires_grad=False may be handed to the optimizer (a
    frozen layer inside model.parameters()); it has no gradient, so it never moves."""
    frozen = Tensor(np.ones(2))
    w = Tensor(np.ones(2), requires_grad=True)
    try:
        opt = optim.SGD([w, frozen], lr=0.5)
    except ValueError as e:  # the older PyTorch rule; acceptable, but then the message must say it
        assert "require" in str(e)
        return
    w.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(frozen.data, [1.0, 1.0])
    np.testing.assert_array_equal(w.data, [0.5, 0.5])


def test_optimizer_updates_in_place():
    """The parameter's array object is updated in place (views of it see the new values)."""
    for name, cls, _ref, defaults, group_options, _keys in CASES:
        params = make_params()
        arrays = [p.data for p in params]
        run_ours(make_opt(cls, params, defaults, group_options), params, 2)
        assert all(p.data is a for p, a in zip(params, arrays)), name


def test_optimizer_step_closure_returns_loss_and_records():
    """step(closure) calls the closure with grad recording on (even under no_grad) and returns
    its loss; the update then uses the gradient the closure's backward produced."""
    from tinygrad_lite import no_grad

    w = Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    calls = []

    def closure():
        calls.append(tg.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])
    assert opt.step() is None


@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_gradient_of_wrong_shape(name, cls, ref, defaults, group_options, keys):
    """A gradient of another shape is an error naming both shapes, where it is assigned (numpy
    would broadcast a (1,) gradient over the parameter silently in step())."""
    for p_shape, g_shape in [((3,), (1,)), ((3, 1), (3,)), ((2, 3), (3, 2))]:
        w = Tensor(np.zeros(p_shape), requires_grad=True)
        with pytest.raises(ValueError, match=re.escape(f"{p_shape}") + ".*"
                           + re.escape(f"{g_shape}")):
            w.grad = Tensor(np.ones(g_shape))
        cls([w], **defaults).step()  # no gradient was set: nothing changes
        assert not w.data.any() and w.grad is None


@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_never_writes_into_grad(name, cls, ref, defaults, group_options, keys):
    """The update reads p.grad and never modifies it (a read-only gradient array works, and
    keeps its values)."""
    params = make_params()
    opt = make_opt(cls, params, defaults, group_options)
    for k in range(3):
        grads = [gradient(p.data, k) for p in params]
        for p, g in zip(params, grads):
            g.setflags(write=False)
            p.grad = Tensor(g)
        opt.step()
        for p, g in zip(params, grads):
            np.testing.assert_array_equal(p.grad.data, g)


def test_optimizer_step_invalidates_older_graphs():
    """Like PyTorch's version counter: backward through a graph recorded before step() would use
    the updated parameter values, so it is refused with the in-place message; a graph recorded
    after the step works as usual."""
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    for opt in (optim.SGD([w], lr=1.0), optim.Adam([w]), optim.Newton([w])):
        loss = (w * x).sum()
        loss.backward(retain_graph=True)
        if isinstance(opt, optim.Newton):
            opt.step(lambda: (w * w).sum())
        else:
            opt.step()
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()
        w.grad = x.grad = None
        (w * x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, w.data)


def test_optimizer_state_is_lazy_defaultdict():
    w = Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([w])
    assert len(opt.state) == 0
    assert opt.state[w] == {}  # PyTorch: a defaultdict(dict)
    w.grad = Tensor(np.ones(2))
    opt.step()
    assert opt.state[w]["step"] == 1


def test_optimizer_param_group_defaults_and_add():
    a, b, c = (Tensor(np.ones(2), requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b
    opt.add_param_group({"params": [c], "weight_decay": 0.1})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["weight_decay"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_optimizer_bad_params_errors():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="more than once|duplicate"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't require gradients"):
        optim.SGD([Tensor(np.zeros(3))], lr=0.1)


def test_optimizer_base_errors():
    w = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([w])
    with pytest.raises(ValueError, match="'params' entry"):
        opt.add_param_group({"lr": 0.1})

    class Unfinished(optim.Optimizer):
        pass

    w.grad = Tensor(np.ones(2))
    with pytest.raises(NotImplementedError, match="Unfinished must implement update"):
        Unfinished([w], {"lr": 0.1}).step()


def test_optimizer_repr_lists_groups():
    w = Tensor(np.ones(2), requires_grad=True)
    text = repr(optim.SGD([w], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text
    assert "lr: 0.1" in text and "momentum: 0.9" in text


# ------------------------------------------------------------------------------ state dict ----
@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_state_dict_round_trip(name, cls, ref, defaults, group_options, keys):
    """Save after 4 steps, load into a NEW optimizer over copies of the parameters, keep going:
    the two trajectories are identical."""
    params = make_params()
    opt = make_opt(cls, params, defaults, group_options)
    run_ours(opt, params, 4)
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    copies = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    # the new optimizer is made with other options: load_state_dict restores the saved ones
    other = make_opt(cls, copies, {**defaults, "lr": 0.5}, {})
    other.load_state_dict(saved)
    assert [g["lr"] for g in other.param_groups] == [g["lr"] for g in opt.param_groups]
    first = run_ours(opt, params, 4, start=4)
    second = run_ours(other, copies, 4, start=4)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    # state_dict() is a snapshot: stepping did not change what was saved, nor did loading share
    for i, entry in saved["state"].items():
        for k, v in entry.items():
            np.testing.assert_array_equal(v, snapshot["state"][i][k])
    assert set(saved["state"]) == ({0, 1} if keys else set(saved["state"]))
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]


def test_optimizer_load_state_dict_mismatch_errors():
    a, b = (Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    sd = optim.Adam([a, b]).state_dict()
    with pytest.raises(ValueError, match="parameter group"):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    params = make_params()
    opt = optim.Adam(params)
    run_ours(opt, params, 1)
    swapped = opt.state_dict()
    swapped["state"][0], swapped["state"][1] = swapped["state"][1], swapped["state"][0]
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(make_params()).load_state_dict(swapped)


def test_optimizer_load_state_dict_casts_to_param_dtype():
    """State saved from a float64 run loads into float32 parameters as float32 arrays."""
    w64 = Tensor(np.ones(3), requires_grad=True)
    opt64 = optim.Adam([w64], lr=0.1)
    w64.grad = Tensor(np.ones(3))
    opt64.step()
    w32 = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt32 = optim.Adam([w32], lr=0.1)
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[w32]["exp_avg"].dtype == np.float32
    w32.grad = Tensor(np.ones(3, dtype=np.float32))
    opt32.step()
    assert w32.dtype == np.float32 and opt32.state[w32]["step"] == 2


# ---------------------------------------------------------------------------- validation ----
BAD = [
    (optim.SGD, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.SGD, dict(lr=-1, momentum=-1), "Invalid learning rate: -1"),  # lr is checked first
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero "
                                             "dampening"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (optim.Adagrad, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.Adagrad, dict(lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    (optim.Adagrad, dict(initial_accumulator_value=-1.0),
     "Invalid initial_accumulator_value value: -1.0"),
    (optim.Adagrad, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.Adagrad, dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (optim.RMSprop, dict(lr=-0.01), "Invalid learning rate: -0.01"),
    (optim.RMSprop, dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    (optim.RMSprop, dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.RMSprop, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (optim.RMSprop, dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    (optim.Adadelta, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
    (optim.Adadelta, dict(rho=-0.1), "Invalid rho value: -0.1"),
    (optim.Adadelta, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.Adadelta, dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (optim.Adam, dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(-0.1, 0.999)), "Invalid beta parameter at index 0: -0.1"),
    (optim.Adam, dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (optim.Adam, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.Adam, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (optim.AdamW, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.AdamW, dict(betas=(0.9, -0.5)), "Invalid beta parameter at index 1: -0.5"),
    (optim.AdamW, dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD])
def test_optimizer_validation_messages(cls, kwargs, message):
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        cls([w], **kwargs)


def test_optimizer_validation_refuses_nan():
    """Checks are written `not 0.0 <= x`, so NaN fails them (PyTorch lets a NaN lr through)."""
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="^Invalid learning rate: nan$"):
        optim.SGD([w], lr=float("nan"))
    with pytest.raises(ValueError, match="^Invalid weight_decay value: nan$"):
        optim.Adam([w], weight_decay=float("nan"))


@pytest.mark.parametrize("cls, kwargs, message", BAD,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD])
def test_optimizer_validation_messages_in_param_groups(cls, kwargs, message):
    """A parameter group's own options are checked too (defaults valid, the group's not)."""
    w, v = (Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    defaults = {"lr": 0.1} if cls is optim.SGD else {}
    group = {"params": [v], **kwargs}
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        cls([{"params": [w]}, group], **defaults)


@pytest.mark.parametrize("cls, kwargs, message", BAD,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD])
def test_optimizer_validation_messages_match_torch(cls, kwargs, message):
    torch = pytest.importorskip("torch")
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        getattr(torch.optim, cls.__name__)([w], **kwargs)


# --------------------------------------------------------------------------------- dtypes ----
@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_float32_stays_float32(name, cls, ref, defaults, group_options, keys):
    """float32 parameters stay float32 (and the same arrays), state arrays are float32, even
    when the gradient arrives as float64 or the lr is a numpy float64; values follow the float64
    run to float32 accuracy."""
    params = make_params(np.float32)
    arrays = [p.data for p in params]
    opt = make_opt(cls, params, {**defaults, "lr": np.float64(defaults.get("lr", 1.0))},
                   group_options)
    for k in range(STEPS):
        for i, p in enumerate(params):
            g = gradient(p.data.astype(np.float64), k)
            p.grad = Tensor(g if i == 0 else g.astype(np.float32))
        opt.step()
    expected, _ = run_reference(ref, defaults, group_options, STEPS)
    for p, a, e in zip(params, arrays, expected[-1]):
        assert p.data.dtype == np.float32 and p.data is a
        np.testing.assert_allclose(p.data, e, rtol=2e-4, atol=2e-4)
        for key, value in opt.state[p].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, (name, key)


def test_optimizer_numpy_scalar_options_become_python_numbers():
    """np.float64(lr) * a float32 array is float64 under numpy 2's rules (a hidden float64
    temporary every step), so numpy scalars among the options are stored as Python numbers."""
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    v = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=np.float64(0.1), betas=(np.float64(0.9), 0.99),
                     weight_decay=np.float32(0.5))
    opt.add_param_group({"params": [v], "eps": np.float64(1e-6)})
    for group in opt.param_groups:
        assert type(group["lr"]) is float and type(group["weight_decay"]) is float
        assert all(type(b) is float for b in group["betas"])
    assert type(opt.param_groups[1]["eps"]) is float
    assert opt.param_groups[0]["betas"] == (0.9, 0.99) and opt.param_groups[1]["eps"] == 1e-6


# ------------------------------------------------------------------ end to end, by backward ----
def tensor_loss(x: Tensor, k: int) -> Tensor:
    """A loss whose gradient is `gradient(x, k)`: sum(x^4/4 - cos(2x) - x + 0.5 cos(1.3k) x)."""
    return (x ** 4 * 0.25 - (x * 2.0).cos() - x * (1.0 - 0.5 * math.cos(1.3 * k))).sum()


@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_trajectory_through_backward_matches_reference(name, cls, ref, defaults,
                                                                 group_options, keys):
    """The training loop as users write it: zero_grad, loss.backward(), step."""
    params = make_params()
    opt = make_opt(cls, params, defaults, group_options)
    expected, _ = run_reference(ref, defaults, group_options, STEPS)
    for k in range(STEPS):
        opt.zero_grad()
        (tensor_loss(params[0], k) + tensor_loss(params[1], k)).backward()
        opt.step()
        for p, e in zip(params, expected[k]):
            np.testing.assert_allclose(p.data, e, rtol=1e-10, atol=1e-12, err_msg=f"{name} {k}")


def test_optimizer_reference_check_catches_a_wrong_update():
    """A planted bias-correction bug (1 - b1^(t+1)) makes the trajectory comparison fail."""
    params = make_params()
    ours = run_ours(optim.Adam(params, lr=0.1), params, STEPS)

    def wrong_adam(p, g, s, lr):
        t = s["t"] = s.get("t", 0) + 1
        m = s["m"] = 0.9 * s.get("m", 0.0) + 0.1 * g
        v = s["v"] = 0.999 * s.get("v", 0.0) + 0.001 * g ** 2
        return p - lr * (m / (1 - 0.9 ** (t + 1))) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)

    expected, _ = run_reference(wrong_adam, {"lr": 0.1}, {}, STEPS)
    with pytest.raises(AssertionError):
        for mine, theirs in zip(ours[-1], expected[-1]):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
    right, _ = run_reference(reference.adam, {"lr": 0.1}, {}, STEPS)
    for mine, theirs in zip(ours[-1], right[-1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


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
    up, down = make_params(), make_params()
    opt_up, opt_down = cls(up, maximize=True, **options), cls(down, **options)
    for k in range(STEPS):
        opt_up.zero_grad()
        opt_down.zero_grad()
        (tensor_loss(up[0], k) + tensor_loss(up[1], k)).backward()
        (-(tensor_loss(down[0], k) + tensor_loss(down[1], k))).backward()
        opt_up.step()
        opt_down.step()
    for a, b in zip(up, down):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13, atol=1e-15)
    assert not np.allclose(up[0].data, initial_params()[0], atol=1e-3)


def test_sgd_plain_is_gradient_descent_on_the_full_batch():
    """Full-batch gradient descent on least squares converges to numpy's lstsq solution."""
    gen = np.random.default_rng(0)
    x, y = gen.normal(size=(50, 3)), gen.normal(size=50)
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        (((Tensor(x) @ w - Tensor(y)) ** 2).mean() * 0.5).backward()
        opt.step()
    np.testing.assert_allclose(w.data, np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-8)


def test_optimizer_trains_a_logistic_regression_in_float32():
    """A model from plain Tensors, (X @ w + b).sigmoid(), learns a separable-ish problem."""
    gen = np.random.default_rng(1)
    x = gen.normal(size=(200, 2)).astype(np.float32)
    y = (x @ np.array([2.0, -1.0]) + 0.5 > 0).astype(np.float32)
    w = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1)
    xt, yt = Tensor(x), Tensor(y)
    for _ in range(100):
        opt.zero_grad()
        p = (xt @ w + b).sigmoid()
        loss = -(yt * (p + 1e-7).log() + (1.0 - yt) * (1.0 - p + 1e-7).log()).mean()
        loss.backward()
        opt.step()
    accuracy = (((x @ w.data + b.data) > 0) == (y > 0.5)).mean()
    assert loss.item() < 0.15 and accuracy > 0.95
    assert w.dtype == np.float32


# ------------------------------------------------------------------------- base, more cases ----
def test_param_groups_hold_every_option():
    params = make_params()
    opt = optim.Adam([{"params": [params[0]]}, {"params": params[1], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    for g in opt.param_groups:
        assert set(g) == {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"}
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is params[1]
    assert opt.defaults["lr"] == 0.1


def test_state_dict_has_pytorch_layout_and_loading_copies():
    params = make_params()
    opt = optim.Adam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1)
    run_ours(opt, params, 2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][1]["step"] == 2
    before = sd["state"][0]["exp_avg"].copy()
    other = optim.Adam([{"params": [params[0]]}, {"params": [params[1]]}])
    other.load_state_dict(sd)
    sd["state"][0]["exp_avg"][:] = 99.0  # mutating the dict afterwards does not reach `other`
    np.testing.assert_array_equal(other.state[params[0]]["exp_avg"], before)


def test_sgd_momentum_buffer_does_not_alias_the_gradient():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor(np.array([1.0, 2.0]))
    opt.step()
    opt.step()  # the buffer is scaled in place: the gradient must not change with it
    np.testing.assert_array_equal(p.grad.data, [1.0, 2.0])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.9, 3.8])


def _adadelta_formula(p, g, s, lr, rho, eps, weight_decay, maximize):
    """Adadelta's update as it was written before the in-place rewrite (issue 11): the reference
    for bits, not only values (same operations, same order, same dtypes)."""
    if not s:
        s["square_avg"], s["acc_delta"] = np.zeros_like(p), np.zeros_like(p)
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    square_avg, acc_delta = s["square_avg"], s["acc_delta"]
    square_avg *= rho
    square_avg += (1 - rho) * (g * g)
    delta = np.sqrt(acc_delta + eps)
    delta /= np.sqrt(square_avg + eps)
    delta *= g
    acc_delta *= rho
    acc_delta += (1 - rho) * (delta * delta)
    p -= lr * delta


def _bits(a):
    return np.asarray(a).tobytes()


@pytest.mark.parametrize("weight_decay, maximize", [(0.0, False), (0.1, False), (0.0, True),
                                                    (0.05, True)])
@pytest.mark.parametrize("shape, dtype, grad_dtype", [
    ((3, 2), np.float64, np.float64),
    ((), np.float32, np.float32),                                # 0-d: -grad is a numpy scalar
    ((2 * CHUNK + 77,), np.float32, np.float32),  # blocks, and a shorter last one
    ((40, 30), np.float32, np.float64),                          # a float64 gradient, float32 p
    ("transposed", np.float32, np.float32),                      # not contiguous: one block
])
def test_adadelta_in_place_update_is_bitwise_the_formula(shape, dtype, grad_dtype, weight_decay,
                                                         maximize):
    rng = np.random.default_rng(7)
    start = (rng.standard_normal((30, 40)).T if shape == "transposed"
             else rng.standard_normal(shape)).astype(dtype)
    options = dict(lr=0.7, rho=0.85, eps=1e-5, weight_decay=weight_decay, maximize=maximize)
    p = Tensor(start, requires_grad=True)
    if shape == "transposed":
        p.data = start.copy(order="F")  # (Tensor(start) makes a C-contiguous copy)
        assert not p.data.flags.c_contiguous
    opt = optim.Adadelta([p], **options)
    ref, ref_state = start.copy(), {}
    for k in range(5):
        g = (rng.standard_normal(start.shape) * (k + 1)).astype(grad_dtype)
        p.grad = Tensor(g.copy())
        grad_array = p.grad.data
        opt.step()
        _adadelta_formula(ref, g, ref_state, **options)
        assert p.grad.data is grad_array and _bits(grad_array) == _bits(g), "grad was modified"
        assert p.dtype == ref.dtype and _bits(p.data) == _bits(ref), f"step {k + 1}: p"
        for key in ("square_avg", "acc_delta"):
            assert _bits(opt.state[p][key]) == _bits(ref_state[key]), f"step {k + 1}: {key}"
    assert opt.state[p]["step"] == 5 and not np.array_equal(p.data, start)


def test_adadelta_bitwise_check_sees_a_reordered_formula():
    """The bitwise test above can fail: (1 - rho) * g * g instead of (1 - rho) * (g * g), equal in
    exact arithmetic, already changes some float32 bits."""
    rng = np.random.default_rng(3)
    g = rng.standard_normal(1000).astype(np.float32)
    assert _bits((1 - 0.85) * g * g) != _bits((1 - 0.85) * (g * g))


@pytest.mark.parametrize("cls", [optim.Adam, optim.Adadelta])
def test_blocked_update_holds_no_more_memory_step_after_step(cls):
    # the blocks' views were tuple(generator)s: each, made larger and shrunk, stayed on CPython's
    # free lists (4 blocks: 288 bytes a step, up to 145 KiB)
    p = Tensor(np.ones(3 * CHUNK + 5, np.float32), requires_grad=True)
    p.grad = Tensor(np.full(p.shape, 0.5, np.float32))
    opt = cls([p])
    opt.step()
    tracemalloc.start()
    try:
        for _ in range(20):
            opt.step()
        held = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            opt.step()
        grown = tracemalloc.get_traced_memory()[0] - held
    finally:
        tracemalloc.stop()
    assert opt.state[p]["step"] == 221 and grown < 1000, grown


def _adam_formula(p, g, s, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    """Adam's (and AdamW's) update as it was written before the blocked in-place rewrite (issue
    11): the reference for bits, not only values (same operations, same order, same dtypes)."""
    b1, b2 = betas
    if not s:
        s["step"], s["exp_avg"], s["exp_avg_sq"] = 0, np.zeros_like(p), np.zeros_like(p)
        if amsgrad:
            s["max_exp_avg_sq"] = np.zeros_like(p)
    s["step"] = t = s["step"] + 1
    g = -g if maximize else g
    if weight_decay and decoupled:
        p *= 1 - lr * weight_decay
    elif weight_decay:
        g = g + weight_decay * p
    exp_avg, exp_avg_sq = s["exp_avg"], s["exp_avg_sq"]
    exp_avg *= b1
    exp_avg += (1 - b1) * g
    exp_avg_sq *= b2
    sq = np.multiply(g, g, out=np.empty_like(exp_avg_sq))
    sq *= 1 - b2
    exp_avg_sq += sq
    if amsgrad:
        second = s["max_exp_avg_sq"]
        np.maximum(second, exp_avg_sq, out=second)
    else:
        second = exp_avg_sq
    denom = np.sqrt(second, out=sq)
    denom /= math.sqrt(1 - b2 ** t)
    denom += eps
    np.divide(exp_avg, denom, out=denom)
    denom *= lr / (1 - b1 ** t)
    p -= denom


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("weight_decay, amsgrad, maximize", [
    (0.0, False, False), (0.1, False, False), (0.0, True, False), (0.0, False, True),
    (0.05, True, True)])
@pytest.mark.parametrize("shape, dtype, grad_dtype", [
    ((3, 2), np.float64, np.float64),
    ((), np.float32, np.float32),                        # 0-d: -grad is a numpy scalar
    ((2 * CHUNK + 77,), np.float32, np.float32),         # blocks, and a shorter last one
    ((40, 30), np.float32, np.float64),                  # a float64 gradient, float32 p
    ((30, 40), np.float64, np.float32),                  # a float32 gradient, float64 p
    ("transposed", np.float32, np.float32),              # not contiguous: one block
])
def test_adam_in_place_update_is_bitwise_the_formula(cls, shape, dtype, grad_dtype, weight_decay,
                                                     amsgrad, maximize):
    rng = np.random.default_rng(11)
    start = (rng.standard_normal((30, 40)).T if shape == "transposed"
             else rng.standard_normal(shape)).astype(dtype)
    options = dict(lr=0.03, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay,
                   amsgrad=amsgrad, maximize=maximize)
    p = Tensor(start, requires_grad=True)
    if shape == "transposed":
        p.data = start.copy(order="F")  # (Tensor(start) makes a C-contiguous copy)
        assert not p.data.flags.c_contiguous
    opt = cls([p], **options)
    ref, ref_state = start.copy(), {}
    keys = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
    for k in range(6):
        scale = 3.0 if k == 3 else 1.0 / (k + 1)  # (a large gradient, then smaller: amsgrad's max)
        g = (rng.standard_normal(start.shape) * scale).astype(grad_dtype)
        p.grad = Tensor(g.copy())
        grad_array = p.grad.data
        opt.step()
        _adam_formula(ref, g, ref_state, **options, decoupled=cls is optim.AdamW)
        assert p.grad.data is grad_array and _bits(grad_array) == _bits(g), "grad was modified"
        assert p.dtype == ref.dtype and _bits(p.data) == _bits(ref), f"step {k + 1}: p"
        for key in keys:
            assert opt.state[p][key].dtype == ref.dtype, key
            assert _bits(opt.state[p][key]) == _bits(ref_state[key]), f"step {k + 1}: {key}"
    assert opt.state[p]["step"] == 6 and sorted(opt.state[p]) == sorted(keys + ["step"])
    assert not np.array_equal(p.data, start)
    if amsgrad:  # the maximum is really used: it differs from exp_avg_sq after the large step
        assert not np.array_equal(opt.state[p]["max_exp_avg_sq"], opt.state[p]["exp_avg_sq"])


def test_adam_bitwise_check_sees_a_reordered_formula():
    """The bitwise test above can fail: dividing by sqrt(1 - b2^t) * lr / (1 - b1^t) folded into
    one factor, equal in exact arithmetic, already changes some float32 bits."""
    rng = np.random.default_rng(5)
    m, v = (rng.random(1000).astype(np.float32) for _ in range(2))
    t, lr, b1, b2, eps = 3, 0.03, 0.8, 0.95, 1e-6
    ours = m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps) * (lr / (1 - b1 ** t))
    folded = m / (np.sqrt(v) + eps * math.sqrt(1 - b2 ** t)) * (lr * math.sqrt(1 - b2 ** t)
                                                               / (1 - b1 ** t))
    assert np.allclose(ours, folded) and _bits(ours) != _bits(folded)


# ---------------------------------------------------------------------- torch (extra) ----
@pytest.mark.parametrize("name, cls, ref, defaults, group_options, keys", CASES, ids=IDS)
def test_optimizer_trajectory_matches_torch(name, cls, ref, defaults, group_options, keys):
    torch = pytest.importorskip("torch")
    # NOTE: PyTorch's Adagrad fills every group's "sum" with the constructor's
    # initial_accumulator_value (a group's own value is ignored); ours honours the group's.
    group_options = {k: v for k, v in group_options.items() if k != "initial_accumulator_value"}
    params = make_params()
    opt = make_opt(cls, params, defaults, group_options)
    ours = run_ours(opt, params, STEPS)
    tparams = [torch.tensor(a, requires_grad=True) for a in initial_params()]
    topt = getattr(torch.optim, cls.__name__)(
        [{"params": [tparams[0]]}, {"params": [tparams[1]], **group_options}], **defaults)
    for k in range(STEPS):
        for p in tparams:
            p.grad = torch.tensor(gradient(p.detach().numpy(), k))
        topt.step()
        for mine, theirs in zip(ours[k], tparams):
            np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-6, atol=1e-9,
                                       err_msg=f"{name}: step {k + 1}")
    for p, tp in zip(params, tparams):
        assert set(opt.state[p]) == set(topt.state[tp]), name
        for key, value in topt.state[tp].items():
            np.testing.assert_allclose(np.asarray(opt.state[p][key]), value.detach().numpy(),
                                       rtol=1e-6, atol=1e-12, err_msg=f"{name}: {key}")


def test_state_dict_uses_torch_layout_names():
    """Our state_dict carries the same state names and group keys torch.optim.Adam uses."""
    torch = pytest.importorskip("torch")
    params = make_params()
    opt = optim.Adam(params, amsgrad=True)
    run_ours(opt, params, 1)
    tp = [torch.tensor(a, requires_grad=True) for a in initial_params()]
    topt = torch.optim.Adam(tp, amsgrad=True)
    for p in tp:
        p.grad = torch.ones_like(p)
    topt.step()
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])
    assert math.isclose(ours["param_groups"][0]["lr"], theirs["param_groups"][0]["lr"])
