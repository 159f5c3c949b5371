"""Learning-rate schedules against their closed forms (and torch.optim.lr_scheduler when importable);
ReduceLROnPlateau's patience, threshold, cooldown, min_lr and eps rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, optim
from tinygrad_lite.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)


def make_optimizer(lrs=(0.1, 0.03)):
    """An SGD with one parameter group per learning rate."""
    return optim.SGD([{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs],
                     lr=lrs[0])


def lrs_over(scheduler, epochs):
    """The learning rates in force during each epoch (read, then step, as in a training loop)."""
    seen = []
    for _ in range(epochs):
        seen.append(scheduler.get_last_lr())
        assert scheduler.get_last_lr() == [g["lr"] for g in scheduler.optimizer.param_groups]
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(seen)


def test_step_lr_matches_the_closed_form():
    sched = StepLR(make_optimizer(), step_size=3, gamma=0.5)
    expected = [[base * 0.5 ** (e // 3) for base in (0.1, 0.03)] for e in range(12)]
    np.testing.assert_allclose(lrs_over(sched, 12), expected, rtol=1e-12)


def test_exponential_lr_matches_the_closed_form():
    sched = ExponentialLR(make_optimizer(), gamma=0.9)
    expected = [[base * 0.9 ** e for base in (0.1, 0.03)] for e in range(15)]
    np.testing.assert_allclose(lrs_over(sched, 15), expected, rtol=1e-12)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_lr_matches_the_closed_form_past_t_max(eta_min):
    t_max = 5
    sched = CosineAnnealingLR(make_optimizer(), T_max=t_max, eta_min=eta_min)
    expected = [[eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2
                 for base in (0.1, 0.03)] for e in range(3 * t_max + 2)]
    np.testing.assert_allclose(lrs_over(sched, 3 * t_max + 2), expected, rtol=1e-10, atol=1e-15)
    sched_at_bottom = CosineAnnealingLR(make_optimizer(), T_max=t_max, eta_min=eta_min)
    for _ in range(t_max):
        sched_at_bottom.step()
    assert sched_at_bottom.get_last_lr()[0] == pytest.approx(eta_min, abs=1e-15)


def test_schedulers_update_recursively_like_pytorch():
    """A manual change of the lr carries on (PyTorch's chainable form), not reset to the formula."""
    opt = make_optimizer((1.0,))
    sched = StepLR(opt, step_size=2, gamma=0.5)
    sched.step()
    opt.param_groups[0]["lr"] = 10.0
    sched.step()  # epoch 2: halve what is there now
    assert sched.get_last_lr() == [5.0]
    assert sched._get_closed_form_lr() == [0.5]


def test_scheduler_lr_is_what_the_optimizer_uses():
    p = Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = ExponentialLR(opt, gamma=0.5)
    for _ in range(2):
        sched.step()
    p.grad = Tensor(np.array([1.0]))
    opt.step()
    assert p.item() == pytest.approx(1.0 - 0.25)


def test_scheduler_state_dict_round_trip():
    sched = CosineAnnealingLR(make_optimizer(), T_max=10)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2 = make_optimizer()
    sched2 = CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for g, lr in zip(opt2.param_groups, sched.get_last_lr()):
        g["lr"] = lr
    for _ in range(3):
        sched.step()
        sched2.step()
    np.testing.assert_allclose(sched2.get_last_lr(), sched.get_last_lr(), rtol=1e-14)


def test_scheduler_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_optimizer(), step_size=2, last_epoch=3)
    opt = make_optimizer()
    StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]
    resumed = CosineAnnealingLR(opt, T_max=10, last_epoch=3)  # closed form at epoch 4
    assert resumed.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 4 / 10)) / 2)


def test_scheduler_needs_an_optimizer_and_get_lr():
    with pytest.raises(TypeError, match="not an Optimizer"):
        StepLR(object(), step_size=1)
    with pytest.raises(NotImplementedError):
        LRScheduler(make_optimizer())


# ------------------------------------------------------------------------ ReduceLROnPlateau ----
def test_plateau_reduces_after_patience_bad_epochs():
    sched = ReduceLROnPlateau(make_optimizer(), patience=2, factor=0.5)
    lrs = []
    for metric in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # bad epochs: 0.9 x3 -> the third (> patience) reduces; then 0.8 improves; 0.8 x3 -> reduce
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025])
    assert sched.get_last_lr()[1] == pytest.approx(0.03 / 4)  # every group


def test_plateau_cooldown_ignores_bad_epochs():
    sched = ReduceLROnPlateau(make_optimizer((1.0,)), patience=0, cooldown=2, factor=0.5)
    lrs = []
    for _ in range(8):
        sched.step(5.0)
        lrs.append(sched.get_last_lr()[0])
    # epoch 1 improves on inf; 2 is bad -> reduce, then 2 epochs of cooldown; 5 reduces, ...
    assert lrs == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_respects_min_lr_and_eps():
    sched = ReduceLROnPlateau(make_optimizer(), patience=0, factor=0.1, min_lr=[0.02, 0.0])
    for _ in range(12):
        sched.step(1.0)
    assert sched.get_last_lr()[0] == 0.02  # floored
    # 3e-8 -> 3e-9 changes the lr by 2.7e-8 > eps; 3e-9 -> 3e-10 by less than eps=1e-8: no change
    assert sched.get_last_lr()[1] == pytest.approx(3e-9, rel=1e-6)
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        ReduceLROnPlateau(make_optimizer(), min_lr=[0.1])


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
def test_plateau_threshold_modes(mode, threshold_mode, metrics, reduced):
    sched = ReduceLROnPlateau(make_optimizer((1.0,)), mode=mode, threshold_mode=threshold_mode,
                              patience=0, factor=0.5)
    for m in metrics:
        sched.step(m)
    assert (sched.get_last_lr()[0] == 0.5) is reduced


def test_plateau_validates_options():
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        ReduceLROnPlateau(make_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode middle is unknown"):
        ReduceLROnPlateau(make_optimizer(), mode="middle")
    with pytest.raises(ValueError, match="threshold mode ratio is unknown"):
        ReduceLROnPlateau(make_optimizer(), threshold_mode="ratio")


def test_plateau_accepts_a_tensor_metric_and_round_trips_its_state():
    sched = ReduceLROnPlateau(make_optimizer(), patience=1)
    sched.step(Tensor(2.0))
    sched.step(Tensor(3.0))
    state = sched.state_dict()
    assert state["best"] == 2.0 and state["num_bad_epochs"] == 1 and "optimizer" not in state
    other = ReduceLROnPlateau(make_optimizer(), patience=1)
    other.load_state_dict(state)
    other.step(3.0)
    assert other.get_last_lr()[0] == pytest.approx(0.01)


# ------------------------------------------------------------------------ torch as a reference ----
@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.001)),
])
def test_schedulers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(optim.lr_scheduler, name)(make_optimizer(), **kwargs)
    topt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                            for lr in (0.1, 0.03)])
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(14):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-14, atol=1e-17)
        ours.step()
        topt.step()
        theirs.step()


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(0)
    metrics = np.cumsum(gen.normal(size=60)) * 0.1 + 5.0  # a random walk with plateaus
    kwargs = dict(mode="min", factor=0.5, patience=3, threshold=1e-2, cooldown=2, min_lr=1e-3)
    ours = ReduceLROnPlateau(make_optimizer(), **kwargs)
    topt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                            for lr in (0.1, 0.03)])
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    changes = 0
    for m in metrics:
        before = ours.get_last_lr()
        ours.step(m)
        theirs.step(m)
        changes += ours.get_last_lr() != before
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-14)
    assert changes >= 2  # the comparison saw reductions
