"""optim.LBFGS against torch.optim.LBFGS: the same iterates, losses and evaluation counts on
Rosenbrock (fixed steps and strong-Wolfe line search, short and long histories) and on logistic
regression of the Pima data (which it solves, matching the IRLS optimum of tests/test_newton.py);
the same state-dict keys, a resumed run that continues the same trajectory; closures that call
backward or not; float32; what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import Tensor, optim

from .test_newton import irls, pima


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _run_both(make_params, loss_fn, steps, **options):
    """Iterates, losses and func_evals of ours and PyTorch's (float64), step by step."""
    torch = pytest.importorskip("torch")
    ours = [Tensor(a.copy(), requires_grad=True) for a in make_params()]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in make_params()]
    opt, topt = optim.LBFGS(ours, **options), torch.optim.LBFGS(theirs, **options)

    def closure():
        opt.zero_grad()
        loss = loss_fn(*ours)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = loss_fn(*theirs)
        loss.backward()
        return loss

    rows = []
    for _ in range(steps):
        a, b = opt.step(closure).item(), topt.step(tclosure).item()
        rows.append((a, b, np.concatenate([p.data.ravel() for p in ours]),
                     np.concatenate([p.detach().numpy().ravel() for p in theirs]),
                     opt.state[ours[0]]["func_evals"], topt.state[theirs[0]]["func_evals"]))
    return rows, opt, topt, ours, theirs


@pytest.mark.parametrize("options", [
    {"line_search_fn": "strong_wolfe"},
    {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 7},
    {"lr": 0.001, "history_size": 4, "max_iter": 12},
])
def test_lbfgs_follows_torch_on_rosenbrock(options):
    rows, *_ = _run_both(lambda: [np.array([-1.5, 2.0])], _rosenbrock, 6, **options)
    for i, (loss, tloss, x, tx, evals, tevals) in enumerate(rows):
        assert evals == tevals, f"step {i}: {evals} closure calls, PyTorch {tevals}"
        # NOTE: last-bit differences (numpy's and PyTorch's arithmetic) grow along Rosenbrock's
        # curved valley to about 3e-7 with a 3-pair history before both converge (1e-9 apart)
        assert loss == pytest.approx(tloss, rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(x, tx, rtol=1e-6, atol=1e-6, err_msg=f"step {i}")
    if options.get("lr", 1.0) == 1.0 and options.get("max_iter", 20) == 20:
        np.testing.assert_allclose(rows[-1][2], [1.0, 1.0], atol=1e-4)  # it solves the problem


def test_lbfgs_follows_torch_and_reaches_the_optimum_on_logistic_regression():
    torch = pytest.importorskip("torch")
    X, y = pima()
    data = {Tensor: (Tensor(X), Tensor(y)), torch.Tensor: (torch.tensor(X), torch.tensor(y))}

    def loss_fn(w, b):  # the mean logistic loss, the same formula in both libraries
        Xd, yd = data[Tensor if isinstance(w, Tensor) else torch.Tensor]
        z = Xd @ w + b
        return (z.exp().log1p() - yd * z).mean()

    rows, opt, _, (w, b), _ = _run_both(lambda: [np.zeros(7), np.zeros(1)], loss_fn, 3,
                                        line_search_fn="strong_wolfe")
    for i, (loss, tloss, x, tx, evals, tevals) in enumerate(rows):
        assert evals == tevals
        assert loss == pytest.approx(tloss, rel=1e-10)
        np.testing.assert_allclose(x, tx, rtol=1e-7, atol=1e-9, err_msg=f"step {i}")
    # it stops when the loss changes by < tolerance_change (1e-9): at the optimum's loss, with the
    # parameters within about 1e-4 of IRLS's (the loss is flat there)
    b_ref, w_ref = irls(X, y[:, None])
    best = loss_fn(Tensor(w_ref[:, 0]), Tensor(b_ref)).item()
    assert loss_fn(w, b).item() == pytest.approx(best, abs=1e-8)
    np.testing.assert_allclose(w.data, w_ref[:, 0], atol=1e-3)
    np.testing.assert_allclose(b.data, b_ref, atol=1e-3)


def test_lbfgs_state_dict_has_torch_keys_and_resumes_the_trajectory():
    rows, opt, topt, ours, theirs = _run_both(lambda: [np.array([-1.2, 1.0])], _rosenbrock, 2,
                                              line_search_fn="strong_wolfe", history_size=4)
    mine, ref = opt.state_dict(), topt.state_dict()
    assert set(mine["state"][0]) == set(ref["state"][0])
    assert set(mine["param_groups"][0]) == set(ref["param_groups"][0])
    # a fresh optimizer loaded with the state continues exactly as the original does
    w2 = Tensor(ours[0].data.copy(), requires_grad=True)
    opt2 = optim.LBFGS([w2], line_search_fn="strong_wolfe", history_size=4)
    opt2.load_state_dict(mine)
    for o, p in ((opt, ours[0]), (opt2, w2)):
        o.step(lambda p=p: _rosenbrock(p))
    np.testing.assert_array_equal(w2.data, ours[0].data)
    assert opt2.state[w2]["n_iter"] == opt.state[ours[0]]["n_iter"]
    bad = opt.state_dict()
    bad["state"][0]["d"] = np.zeros(5)
    with pytest.raises(ValueError, match="'d' has shape"):
        opt2.load_state_dict(bad)


def test_lbfgs_closure_may_skip_backward_and_zero_grad():
    """A closure that only returns the loss, or one that forgets zero_grad, gives the same steps
    as PyTorch's habit: L-BFGS clears the gradients itself before each call."""
    results = []
    for style in ("habit", "loss_only", "no_zero_grad"):
        w = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
        opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

        def closure(style=style, w=w, opt=opt):
            if style == "habit":
                opt.zero_grad()
            loss = _rosenbrock(w)
            if style != "loss_only":
                loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        results.append(w.data.copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_lbfgs_multiple_parameters_float32_and_unused_parameters():
    torch = pytest.importorskip("torch")
    a = Tensor(np.array([3.0, -1.0], np.float32), requires_grad=True)
    unused = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.LBFGS([a, unused], line_search_fn="strong_wolfe")
    opt.step(lambda: ((a - Tensor(np.array([1.0, 2.0], np.float32))) ** 2).sum())
    assert a.dtype == np.float32 and unused.dtype == np.float32
    np.testing.assert_allclose(a.data, [1.0, 2.0], atol=1e-5)
    np.testing.assert_array_equal(unused.data, np.ones(3))
    ta = torch.tensor([3.0, -1.0], requires_grad=True)
    topt = torch.optim.LBFGS([ta], line_search_fn="strong_wolfe")

    def tclosure():
        topt.zero_grad()
        loss = ((ta - torch.tensor([1.0, 2.0])) ** 2).sum()
        loss.backward()
        return loss

    topt.step(tclosure)
    np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-6)


def test_lbfgs_step_invalidates_older_graphs():
    w = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
    old = _rosenbrock(w)
    optim.LBFGS([w], line_search_fn="strong_wolfe").step(lambda: _rosenbrock(w))
    with pytest.raises(RuntimeError, match="backward"):
        old.backward()


def test_lbfgs_stops_at_once_at_an_optimum():
    w = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.LBFGS([w])
    assert opt.step(lambda: _rosenbrock(w)).item() == 0.0
    assert opt.state[w] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(w.data, [1.0, 1.0])


def test_lbfgs_refusals():
    w, v = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [v], "lr": 0.1}])
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([w]).add_param_group({"params": [v]})
    with pytest.raises(ValueError, match="strong_wolfe"):
        optim.LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.LBFGS([w], lr=-1.0)
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS([w], history_size=0)
    opt = optim.LBFGS([w])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="scalar loss"):
        opt.step(lambda: w * Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="does not depend"):
        opt.step(lambda: Tensor(3.0))
