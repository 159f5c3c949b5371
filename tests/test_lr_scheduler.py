"""Learning-rate schedulers: values against the closed forms, the recursive (chainable) update,
resuming, the lr the optimizer really uses, ReduceLROnPlateau's rules (patience, cooldown, min_lr,
eps, threshold modes, mode="max") on hand-worked sequences, state_dict round trips;
torch.optim.lr_scheduler as an extra reference (skipped without torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, optim
from tinygrad_lite.optim import lr_scheduler

LRS = (0.1, 0.03)  # two parameter groups with different base lrs
EPOCHS = 25


def two_group_sgd(lrs=LRS):
    params = [Tensor(np.ones(2), requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])


def lr_history(sched, epochs=EPOCHS):
    """The lrs in force at epochs 0..epochs-1 (read before each step), checking that
    get_last_lr() agrees with the optimizer's groups."""
    history = []
    for _ in range(epochs):
        current = [g["lr"] for g in sched.optimizer.param_groups]
        assert sched.get_last_lr() == current
        history.append(current)
        sched.step()
    return np.array(history)


# (name, class, options, closed form lr(base, epoch))
CLOSED_FORMS = [
    ("step", lr_scheduler.StepLR, dict(step_size=3, gamma=0.5),
     lambda base, e: base * 0.5 ** (e // 3)),
    ("step_default_gamma", lr_scheduler.StepLR, dict(step_size=4),
     lambda base, e: base * 0.1 ** (e // 4)),
    ("exponential", lr_scheduler.ExponentialLR, dict(gamma=0.9),
     lambda base, e: base * 0.9 ** e),
    ("cosine", lr_scheduler.CosineAnnealingLR, dict(T_max=10),
     lambda base, e: base * (1 + math.cos(math.pi * e / 10)) / 2),
    ("cosine_eta_min", lr_scheduler.CosineAnnealingLR, dict(T_max=7, eta_min=0.01),
     lambda base, e: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * e / 7)) / 2),
]
IDS = [c[0] for c in CLOSED_FORMS]


@pytest.mark.parametrize("name, cls, options, formula", CLOSED_FORMS, ids=IDS)
def test_scheduler_matches_closed_form(name, cls, options, formula):
    sched = cls(two_group_sgd(), **options)
    got = lr_history(sched)
    expected = np.array([[formula(base, e) for base in LRS] for e in range(EPOCHS)])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    assert sched.last_epoch == EPOCHS
    assert sched.base_lrs == list(LRS)


def test_cosine_annealing_reaches_eta_min_and_rises_again():
    """At epoch T_max the lr is eta_min; afterwards it goes back up (no restart, as in PyTorch)
    and is back to base_lr at 2 T_max."""
    sched = lr_scheduler.CosineAnnealingLR(two_group_sgd(), T_max=5, eta_min=0.001)
    got = lr_history(sched, 11)
    np.testing.assert_allclose(got[5], [0.001, 0.001], rtol=1e-10)
    np.testing.assert_allclose(got[10], LRS, rtol=1e-10)
    assert np.all(np.diff(got[:6, 0]) < 0) and np.all(np.diff(got[5:, 0]) > 0)


def test_scheduler_drives_the_optimizer():
    """SGD really steps with the scheduled lr: with a unit gradient, the parameter moves by lr."""
    w = Tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    moves = []
    for _ in range(6):
        before = w.data.copy()
        w.grad = Tensor(np.ones(1))
        opt.step()
        sched.step()
        moves.append(float(before[0] - w.data[0]))
    assert moves == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_scheduler_sets_initial_lr_and_resume_needs_it():
    opt = two_group_sgd()
    lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(two_group_sgd(), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)


@pytest.mark.parametrize("name, cls, options, formula", CLOSED_FORMS, ids=IDS)
def test_scheduler_state_dict_round_trip(name, cls, options, formula):
    """Save optimizer and scheduler after 6 epochs, load both into NEW objects: the next epochs'
    lrs are identical to the uninterrupted run's."""
    opt = two_group_sgd()
    sched = cls(opt, **options)
    lr_history(sched, 6)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    rest = lr_history(sched, 12)
    opt2 = two_group_sgd(lrs=(1.0, 1.0))
    opt2.load_state_dict(opt_state)
    sched2 = cls(opt2, **options)
    sched2.load_state_dict(sched_state)
    np.testing.assert_array_equal(lr_history(sched2, 12), rest)


def test_schedulers_update_recursively_like_pytorch():
    """A manual change of the lr carries on (PyTorch's chainable form), not reset to the formula."""
    opt = two_group_sgd((1.0,))
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    sched.step()
    opt.param_groups[0]["lr"] = 10.0
    sched.step()  # epoch 2: halve what is there now
    assert sched.get_last_lr() == [5.0]
    assert sched._get_closed_form_lr() == [0.5]


def test_resumed_cosine_annealing_starts_from_the_closed_form():
    opt = two_group_sgd()
    lr_scheduler.StepLR(opt, step_size=2)  # sets initial_lr
    resumed = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=3)  # now at epoch 4
    assert resumed.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 4 / 10)) / 2)


def test_scheduler_base_needs_get_lr():
    with pytest.raises(NotImplementedError):
        lr_scheduler.LRScheduler(two_group_sgd())
    # ReduceLROnPlateau is a scheduler too (as in PyTorch), built on the same base
    assert issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())


# ------------------------------------------------------------------------- ReduceLROnPlateau ----
def plateau_lrs(metrics, lr=1.0, **options):
    opt = optim.SGD([Tensor(np.ones(1), requires_grad=True)], lr=lr)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **options)
    out = []
    for m in metrics:
        sched.step(m)
        assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
        out.append(opt.param_groups[0]["lr"])
    return out


def test_plateau_reacts_after_patience():
    """patience=2: the third epoch in a row without improvement lowers the lr (not earlier)."""
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3]
    assert plateau_lrs(metrics, factor=0.5, patience=2) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5,
                                                             0.25, 0.25]


def test_plateau_improvement_resets_the_count():
    metrics = [5, 5, 4, 4, 3, 3, 2]  # never two bad epochs in a row
    assert plateau_lrs(metrics, factor=0.5, patience=1) == [1.0] * 7


def test_plateau_respects_cooldown():
    """cooldown=2: after a reduction, 2 epochs are ignored before bad epochs count again."""
    assert plateau_lrs([1.0] * 8, factor=0.5, patience=0, cooldown=2) == [
        1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    assert plateau_lrs([1.0] * 5, factor=0.5, patience=0) == [1, 0.5, 0.25, 0.125, 0.0625]


def test_plateau_min_lr_and_eps():
    assert plateau_lrs([1.0] * 6, factor=0.1, patience=0, min_lr=0.05) == [
        1, 0.1, 0.05, 0.05, 0.05, 0.05]
    # a reduction smaller than eps is skipped
    assert plateau_lrs([1.0] * 4, lr=1e-9, factor=0.5, patience=0) == [1e-9] * 4
    assert plateau_lrs([1.0] * 3, lr=1e-9, factor=0.5, patience=0, eps=1e-12) == [
        1e-9, 5e-10, 2.5e-10]


def test_plateau_min_lr_per_group():
    opt = two_group_sgd(lrs=(1.0, 1.0))
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0, min_lr=[0.5, 0.01])
    for m in [1.0, 1.0, 1.0, 1.0]:
        sched.step(m)
    assert sched.get_last_lr() == pytest.approx([0.5, 0.01], rel=1e-12)
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.1, 0.1])


def test_plateau_threshold_modes():
    # rel: an improvement must beat best * (1 - threshold)
    assert plateau_lrs([10, 9.5, 8.9, 8.1], factor=0.5, patience=0, threshold=0.1) == [
        1, 0.5, 0.5, 0.25]
    # abs: an improvement must beat best - threshold
    assert plateau_lrs([10, 9.6, 9.4, 8.95], factor=0.5, patience=0, threshold=0.5,
                       threshold_mode="abs") == [1, 0.5, 0.5, 0.25]


@pytest.mark.parametrize("mode,threshold_mode,metrics,reduced", [
    ("min", "rel", [1.0, 0.99995], True),  # less than a 1e-4 relative improvement: bad
    ("min", "rel", [1.0, 0.9998], False),
    ("min", "abs", [1.0, 0.99995], True),
    ("min", "abs", [1.0, 0.9998], False),
    ("max", "rel", [1.0, 1.00005], True),
    ("max", "rel", [1.0, 1.0002], False),
    ("max", "abs", [1.0, 1.2], False),
    ("max", "abs", [1.0, 0.5], True),
])
def test_plateau_default_threshold_in_each_mode(mode, threshold_mode, metrics, reduced):
    lrs = plateau_lrs(metrics, mode=mode, threshold_mode=threshold_mode, patience=0, factor=0.5)
    assert (lrs[-1] == 0.5) is reduced


def test_plateau_min_lr_floors_and_eps_stops_tiny_changes_per_group():
    opt = two_group_sgd()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=[0.02, 0.0])
    for _ in range(12):
        sched.step(1.0)
    assert sched.get_last_lr()[0] == 0.02  # floored
    # 3e-8 -> 3e-9 changes the lr by 2.7e-8 > eps; 3e-9 -> 3e-10 by less than eps=1e-8: no change
    assert sched.get_last_lr()[1] == pytest.approx(3e-9, rel=1e-6)


def test_plateau_mode_max():
    assert plateau_lrs([1, 1.05, 1.2, 1.25, 1.3, 1.5], mode="max", factor=0.5, patience=1,
                       threshold=0.1) == [1, 1, 1, 1, 0.5, 0.5]
    assert plateau_lrs([1, 1.05, 1.2], mode="max", factor=0.5, patience=0, threshold=0.1,
                       threshold_mode="abs") == [1, 0.5, 0.5]
    # rising accuracy never lowers the lr in max mode (it would in min mode)
    assert plateau_lrs([0.5, 0.6, 0.7, 0.8], mode="max", patience=0) == [1.0] * 4
    assert plateau_lrs([0.5, 0.6, 0.7, 0.8], patience=0)[-1] < 1.0


def test_plateau_accepts_tensor_metric():
    assert plateau_lrs([Tensor(3.0), Tensor(3.0)], patience=0, factor=0.5) == [1.0, 0.5]


def test_plateau_errors():
    opt = two_group_sgd()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(ValueError, match="threshold mode"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="relative")


def test_plateau_state_dict_round_trip():
    rng = np.random.default_rng(3)
    metrics = list(np.cumsum(rng.normal(-0.1, 1.0, size=40)))
    options = dict(factor=0.5, patience=2, cooldown=1, min_lr=1e-3)
    opt = two_group_sgd()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **options)
    for m in metrics[:20]:
        sched.step(m)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    rest = []
    for m in metrics[20:]:
        sched.step(m)
        rest.append(sched.get_last_lr())
    opt2 = two_group_sgd(lrs=(1.0, 1.0))
    opt2.load_state_dict(opt_state)
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)  # other options: the saved ones come back
    sched2.load_state_dict(sched_state)
    rest2 = []
    for m in metrics[20:]:
        sched2.step(m)
        rest2.append(sched2.get_last_lr())
    assert rest2 == rest
    assert len({tuple(r) for r in rest}) > 1  # the lr did change in the resumed part


# ---------------------------------------------------------------------- torch (extra) ----
@pytest.mark.parametrize("name, cls, options, formula", CLOSED_FORMS, ids=IDS)
def test_scheduler_matches_torch(name, cls, options, formula):
    torch = pytest.importorskip("torch")
    ours = lr_history(cls(two_group_sgd(), **options), 40)
    params = [torch.ones(2, requires_grad=True) for _ in LRS]
    topt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)])
    tsched = getattr(torch.optim.lr_scheduler, cls.__name__)(topt, **options)
    theirs = []
    for _ in range(40):
        theirs.append(tsched.get_last_lr())
        topt.step()
        tsched.step()
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-10, atol=1e-15)


PLATEAU_OPTIONS = [
    dict(),
    dict(factor=0.5, patience=2),
    dict(factor=0.5, patience=1, cooldown=2, min_lr=0.02),
    dict(factor=0.3, patience=0, threshold=0.05, threshold_mode="abs"),
    dict(mode="max", factor=0.5, patience=1, threshold=0.01),
    dict(mode="max", factor=0.7, patience=3, threshold=0.2, threshold_mode="abs", cooldown=1),
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_plateau_matches_torch(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    metrics = np.cumsum(rng.normal(0.0, 0.3, size=60)) + 10.0
    ours = plateau_lrs(metrics, lr=0.1, **options)
    topt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **options)
    theirs = []
    for m in metrics:
        tsched.step(float(m))
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len(set(ours)) > 1  # the sequence exercised at least one reduction


def test_plateau_with_two_groups_and_min_lr_matches_torch():
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(0)
    metrics = np.cumsum(gen.normal(size=60)) * 0.1 + 5.0  # a random walk with plateaus
    kwargs = dict(mode="min", factor=0.5, patience=3, threshold=1e-2, cooldown=2, min_lr=1e-3)
    ours = lr_scheduler.ReduceLROnPlateau(two_group_sgd(), **kwargs)
    topt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                            for lr in LRS])
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    changes = 0
    for m in metrics:
        before = ours.get_last_lr()
        ours.step(m)
        theirs.step(m)
        changes += ours.get_last_lr() != before
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-14)
    assert changes >= 2  # the comparison saw reductions


# ------------------------------------------------- issue 10's schedulers against torch ----
class _Halve:
    """A callable object: PyTorch saves its attributes in the scheduler's state dict."""

    def __init__(self):
        self.rate = 0.5

    def __call__(self, epoch):
        return self.rate ** (epoch // 2)


def _make(lib, kind):
    """(optimizer, scheduler) of the library `lib` (tinygrad_lite's optim or torch.optim): two
    parameter groups; `kind` names the schedule."""
    if lib is optim:
        params = [Tensor(np.ones(2), requires_grad=True) for _ in LRS]
    else:
        import torch

        params = [torch.ones(2, requires_grad=True) for _ in LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
    adam = kind.startswith("one_cycle_adam")
    opt = lib.Adam(groups, lr=LRS[0]) if adam else lib.SGD(groups, lr=LRS[0], momentum=0.9)
    s = lib.lr_scheduler
    if kind == "lambda":
        return opt, s.LambdaLR(opt, lambda e: 1.0 / (1 + e))
    if kind == "lambda_per_group":
        return opt, s.LambdaLR(opt, [lambda e: 0.9 ** e, _Halve()])
    if kind == "multistep":
        return opt, s.MultiStepLR(opt, milestones=[3, 7, 7, 12], gamma=0.3)
    if kind == "linear_warmup":
        return opt, s.LinearLR(opt, start_factor=0.1, total_iters=6)
    if kind == "linear_decay":
        return opt, s.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=9)
    if kind == "one_cycle":
        return opt, s.OneCycleLR(opt, max_lr=[1.0, 0.4], total_steps=EPOCHS)
    if kind == "one_cycle_linear_three_phase":
        return opt, s.OneCycleLR(opt, max_lr=0.5, epochs=5, steps_per_epoch=5, pct_start=0.25,
                                 anneal_strategy="linear", three_phase=True)
    if kind == "one_cycle_adam":
        return opt, s.OneCycleLR(opt, max_lr=0.01, total_steps=EPOCHS, div_factor=10.0,
                                 final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9)
    if kind == "warmup_then_cosine":
        warm = s.LinearLR(opt, start_factor=0.2, total_iters=5)
        return opt, s.SequentialLR(opt, [warm, s.CosineAnnealingLR(opt, T_max=15)], [5])
    if kind == "three_in_sequence":
        scheds = [s.ExponentialLR(opt, gamma=0.8), s.StepLR(opt, step_size=2, gamma=0.5),
                  s.MultiStepLR(opt, milestones=[3], gamma=0.1)]
        return opt, s.SequentialLR(opt, scheds, milestones=[4, 11])
    raise ValueError(kind)


NEW_KINDS = ["lambda", "lambda_per_group", "multistep", "linear_warmup", "linear_decay",
             "one_cycle", "one_cycle_linear_three_phase", "one_cycle_adam",
             "warmup_then_cosine", "three_in_sequence"]


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_new_schedulers_match_torch_lr_and_momentum_sequences(kind):
    torch = pytest.importorskip("torch")
    opt, sched = _make(optim, kind)
    topt, tsched = _make(torch.optim, kind)
    for epoch in range(EPOCHS):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12,
                                   atol=1e-15, err_msg=f"{kind}, epoch {epoch}")
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        for g, tg in zip(opt.param_groups, topt.param_groups):
            key = "betas" if "betas" in g else "momentum"
            np.testing.assert_allclose(g[key], tg[key], rtol=1e-12, err_msg=f"{kind} {key}")
        if epoch < EPOCHS - 1 or not kind.startswith("one_cycle"):
            opt.step()
            topt.step()
            sched.step()
            tsched.step()


def test_one_cycle_refuses_a_step_past_total_steps_like_torch():
    _, sched = _make(optim, "one_cycle")
    for _ in range(EPOCHS - 1):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 26 times"):
        sched.step()
        sched.step()


def test_new_scheduler_state_dict_round_trip():
    opt, sched = _make(optim, "warmup_then_cosine")
    for _ in range(7):
        sched.step()
    saved, lrs_now = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    expected = lr_history(sched, 6)
    opt2, sched2 = _make(optim, "warmup_then_cosine")
    sched2.load_state_dict(saved)
    for g2, lr in zip(opt2.param_groups, lrs_now):  # the optimizer's own state, restored apart
        g2["lr"] = lr
    np.testing.assert_allclose(lr_history(sched2, 6), expected, rtol=1e-12)
    opt3, lam = _make(optim, "lambda_per_group")
    state = lam.state_dict()
    assert state["lr_lambdas"][0] is None and state["lr_lambdas"][1] == {"rate": 0.5}
    state["lr_lambdas"][1] = {"rate": 0.25}
    lam.load_state_dict(state)
    assert lam.lr_lambdas[1].rate == 0.25


@pytest.mark.parametrize("make, message", [
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), "Expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), "callable"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), "Starting multiplicative factor"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), "Ending multiplicative factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), "total_steps OR"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0), "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1), "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=5), "same length"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 5, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), "at least one scheduler"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]), "milestone"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []),
     "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(two_group_sgd(), 2)], []),
     "same optimizer"),
])
def test_new_schedulers_refuse_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message) if "callable" not in message else \
            pytest.raises(TypeError, match=message):
        make(two_group_sgd())


def test_one_cycle_needs_momentum_to_cycle():
    params = [Tensor(np.ones(2), requires_grad=True)]
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad(params, lr=0.1), max_lr=1.0, total_steps=5)
    sched = lr_scheduler.OneCycleLR(optim.Adagrad(params, lr=0.1), max_lr=1.0, total_steps=5,
                                    cycle_momentum=False)
    assert sched.get_last_lr() == [pytest.approx(0.04)]
