"""Newton and NewtonCG: maximum-likelihood logistic regression on the Pima training data against an
IRLS reference written in numpy (plain and with an L2 term, both closure styles), the max_params
refusal, a model too large for Newton, singular and linear cases, state, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim
from tinygrad_lite.autograd import STATE

PIMA = Path(tg.__file__).resolve().parent / "data" / "files" / "pima" / "pima_train.csv"


def pima():
    """Standardized features (200, 7) and 0/1 labels, float64, read straight from the CSV."""
    raw = np.loadtxt(PIMA, delimiter=",", skiprows=1)  # rownames, 7 features, type
    X, y = raw[:, 1:8], raw[:, 8]
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def irls(X, Y, lam=0.0, iters=30):
    """Penalized IRLS (weighted least squares) for the mean logistic loss + lam/2 |w|^2 (intercept
    unpenalized), for each column of Y at once: returns (intercepts (K,), weights (d, K))."""
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    D = np.eye(d + 1)
    D[0, 0] = 0.0
    beta = np.zeros((Y.shape[1], d + 1))
    for _ in range(iters):
        eta = beta @ A.T  # (K, n)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1 - p)
        z = eta + (Y.T - p) / w  # the working response
        lhs = np.einsum("ni,kn,nj->kij", A, w, A) + n * lam * D
        rhs = np.einsum("ni,kn->ki", A, w * z)
        beta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    return beta[:, 0], beta[:, 1:].T


def logistic_loss(Xt, Yt, W, b, lam=0.0):
    """Mean (over rows) of the summed (over outputs) logistic loss, + lam/2 |W|^2."""
    z = Xt @ W + b
    nll = z.softplus() - Yt * z
    loss = (nll.sum(axis=1) if nll.ndim == 2 else nll).mean()
    return loss + (W * W).sum() * (lam / 2) if lam else loss


def fit(cls, lam, closure_style, steps=10, **kwargs):
    X, y = pima()
    Xt, yt = Tensor(X), Tensor(y)
    w, b = Tensor(np.zeros(7), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    opt = cls([w, b], **kwargs)

    if closure_style == "loss_only":
        def closure():
            return logistic_loss(Xt, yt, w, b, lam)
    else:  # PyTorch's habit
        def closure():
            opt.zero_grad()
            loss = logistic_loss(Xt, yt, w, b, lam)
            loss.backward()
            return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return w, b, opt, losses


@pytest.mark.parametrize("closure_style", ["loss_only", "calls_backward"])
@pytest.mark.parametrize("lam", [0.0, 0.05])
@pytest.mark.parametrize("cls", [optim.Newton, optim.NewtonCG])
def test_newton_reaches_the_irls_solution_in_ten_steps(cls, lam, closure_style):
    X, y = pima()
    b_ref, w_ref = irls(X, y[:, None], lam)
    # the reference really is the optimum: its gradient vanishes
    A = np.hstack([np.ones((len(y), 1)), X])
    beta = np.r_[b_ref, w_ref[:, 0]]
    p = 1 / (1 + np.exp(-A @ beta))
    assert np.abs(A.T @ (p - y) / len(y) + lam * np.r_[0.0, beta[1:]]).max() < 1e-12

    w, b, opt, losses = fit(cls, lam, closure_style)
    np.testing.assert_allclose(w.numpy(), w_ref[:, 0], atol=1e-6)
    np.testing.assert_allclose(b.numpy(), b_ref, atol=1e-6)
    assert losses[0] == pytest.approx(np.log(2))  # the loss before the first step, at zero
    assert all(a >= c - 1e-12 for a, c in zip(losses, losses[1:]))  # monotone on this convex problem
    assert opt.state[w]["step"] == 10 and opt.state[w]["direction"].shape == (7,)


def test_newton_converges_quadratically():
    X, y = pima()
    b_ref, w_ref = irls(X, y[:, None])
    Xt, yt = Tensor(X), Tensor(y)
    w, b = Tensor(np.zeros(7), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    opt = optim.Newton([w, b])
    errors = []
    for _ in range(5):
        opt.step(lambda: logistic_loss(Xt, yt, w, b))
        errors.append(max(np.abs(w.numpy() - w_ref[:, 0]).max(), abs(b.item() - b_ref[0])))
    assert errors[4] < 1e-8
    for e1, e2 in zip(errors[1:3], errors[2:4]):  # each error about the square of the last
        assert e2 < 10 * e1 ** 2


def test_newton_closure_that_calls_backward_still_accumulates_grad():
    _, _, opt, _ = fit(optim.Newton, 0.0, "calls_backward", steps=1)
    w = opt.param_groups[0]["params"][0]
    X, y = pima()
    expected = X.T @ (0.5 - y) / len(y)  # the gradient at zero, where every p is 1/2
    np.testing.assert_allclose(w.grad.numpy(), expected, atol=1e-12)


def test_newton_leaves_graph_release_as_it_was():
    fit(optim.Newton, 0.0, "calls_backward", steps=1)
    assert STATE.keep_graphs is False
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


@pytest.mark.parametrize("cls", [optim.Newton, optim.NewtonCG])
def test_newton_solves_a_quadratic_in_one_step(cls):
    gen = np.random.default_rng(0)
    M = gen.normal(size=(5, 5))
    A, c = M @ M.T + np.eye(5), gen.normal(size=5)
    x = Tensor(np.zeros(5), requires_grad=True)
    opt = cls([x])
    opt.step(lambda: (x @ (Tensor(A) @ x)) * 0.5 - (Tensor(c) * x).sum())
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, c), atol=1e-10)


@pytest.mark.parametrize("cls", [optim.Newton, optim.NewtonCG])
def test_newton_damping_and_lr(cls):
    x = Tensor(np.zeros(2), requires_grad=True)
    target = Tensor(np.array([1.0, -2.0]))
    opt = cls([x], lr=0.5, damping=2.0)
    opt.step(lambda: ((x - target) ** 2).sum())  # H = 2I, g = -2 target: d = -2 target / 4
    np.testing.assert_allclose(x.numpy(), 0.5 * np.array([1.0, -2.0]) / 2, atol=1e-12)


def test_newton_per_group_lr_and_damping():
    u, v = Tensor(np.zeros(1), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    opt = optim.Newton([{"params": [u]}, {"params": [v], "lr": 0.5, "damping": 2.0}])
    opt.step(lambda: ((u - 1.0) ** 2).sum() + ((v - 1.0) ** 2).sum())
    assert u.item() == pytest.approx(1.0) and v.item() == pytest.approx(0.5 * 2.0 / 4.0)


def test_newton_refuses_too_many_parameters_and_points_to_newton_cg():
    with pytest.raises(ValueError, match="NewtonCG") as info:
        optim.Newton([Tensor(np.zeros((50, 50)), requires_grad=True)])
    assert "2,500 parameters" in str(info.value)
    opt = optim.Newton([Tensor(np.zeros(10), requires_grad=True)], max_params=20)
    with pytest.raises(ValueError, match="NewtonCG"):
        opt.add_param_group({"params": [Tensor(np.zeros(11), requires_grad=True)]})
    optim.Newton([Tensor(np.zeros((50, 50)), requires_grad=True)], max_params=2500)  # allowed


def test_newton_cg_fits_a_model_too_large_for_newton():
    """300 logistic regressions sharing the Pima features: 7 x 300 weights + 300 biases (2,400
    parameters, with an L2 term) against the IRLS reference, in at most 10 steps."""
    X, _ = pima()
    gen = np.random.default_rng(0)
    k, lam = 300, 1e-2
    probs = 1 / (1 + np.exp(-(X @ gen.normal(size=(7, k)) + gen.normal(size=k))))
    Y = (gen.random(probs.shape) < probs).astype(np.float64)
    b_ref, w_ref = irls(X, Y, lam)
    W, b = Tensor(np.zeros((7, k)), requires_grad=True), Tensor(np.zeros(k), requires_grad=True)
    with pytest.raises(ValueError, match="NewtonCG"):
        optim.Newton([W, b])
    opt = optim.NewtonCG([W, b])
    Xt, Yt = Tensor(X), Tensor(Y)
    for _ in range(10):
        opt.step(lambda: logistic_loss(Xt, Yt, W, b, lam))
    np.testing.assert_allclose(W.numpy(), w_ref, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), b_ref, atol=1e-6)
    assert opt.cg_iterations <= opt.cg_iters


def test_newton_cg_is_truncated_by_cg_iters():
    gen = np.random.default_rng(1)
    diag = np.linspace(1.0, 10.0, 6)
    x = Tensor(np.zeros(6), requires_grad=True)
    c = gen.normal(size=6)
    opt = optim.NewtonCG([x], cg_iters=2)
    opt.step(lambda: (Tensor(diag) * x * x).sum() * 0.5 - (Tensor(c) * x).sum())
    assert opt.cg_iterations == 2
    assert not np.allclose(x.numpy(), c / diag, atol=1e-3)  # two CG iterations are not enough


def test_newton_singular_hessian_warns_and_takes_the_minimum_norm_step():
    x = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.Newton([x])
    with pytest.warns(RuntimeWarning, match="damping"):
        opt.step(lambda: (x.sum() - 1.0) ** 2)  # H = 2 [[1, 1], [1, 1]]
    np.testing.assert_allclose(x.numpy(), [0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize("cls", [optim.Newton, optim.NewtonCG])
def test_newton_handles_a_loss_linear_in_some_parameters(cls):
    """A parameter the loss ignores gets a zero gradient; a linear term gives zero curvature."""
    x, unused = Tensor(np.zeros(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = cls([x, unused], damping=1.0)
    opt.step(lambda: (x * Tensor(np.array([1.0, 2.0]))).sum())  # H = 0: d = g / damping
    np.testing.assert_allclose(x.numpy(), [-1.0, -2.0])
    np.testing.assert_array_equal(unused.numpy(), np.ones(3))


@pytest.mark.parametrize("cls", [optim.Newton, optim.NewtonCG])
def test_newton_needs_a_closure_returning_a_scalar_loss(cls):
    x = Tensor(np.zeros(2), requires_grad=True)
    opt = cls([x])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="scalar loss"):
        opt.step(lambda: x * 2.0)
    with pytest.raises(TypeError, match="scalar loss"):
        opt.step(lambda: 1.0)

    def detached():
        with tg.no_grad():
            return (x * x).sum()

    with pytest.raises(RuntimeError, match="does not depend on the parameters"):
        opt.step(detached)


def test_newton_validates_options():
    x = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid damping value: -1"):
        optim.Newton([x], damping=-1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.NewtonCG([x], lr=-1)
    with pytest.raises(ValueError, match="Invalid cg_iters value: 0"):
        optim.NewtonCG([x], cg_iters=0)


def test_newton_keeps_float32_parameters_float32():
    X, y = pima()
    Xt, yt = Tensor(X.astype(np.float32)), Tensor(y.astype(np.float32))
    w = Tensor(np.zeros(7, dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    opt = optim.Newton([w, b])
    for _ in range(6):
        opt.step(lambda: logistic_loss(Xt, yt, w, b))
    b_ref, w_ref = irls(X, y[:, None])
    assert w.dtype == np.float32 and opt.state[w]["direction"].dtype == np.float32
    np.testing.assert_allclose(w.numpy(), w_ref[:, 0], atol=1e-4)


def test_newton_hessian_matches_the_analytic_one():
    X, y = pima()
    Xt, yt = Tensor(X), Tensor(y)
    w, b = Tensor(np.full(7, 0.1), requires_grad=True), Tensor(np.array([-0.2]), requires_grad=True)
    _, g, h = optim.Newton([w, b]).hessian(lambda: logistic_loss(Xt, yt, w, b))
    A = np.hstack([X, np.ones((len(y), 1))])  # parameter order: w, then b
    p = 1 / (1 + np.exp(-(A @ np.r_[np.full(7, 0.1), -0.2])))
    np.testing.assert_allclose(g, A.T @ (p - y) / len(y), atol=1e-12)
    np.testing.assert_allclose(h, A.T @ (A * (p * (1 - p))[:, None]) / len(y), atol=1e-12)
