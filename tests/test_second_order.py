"""Newton and NewtonCG: logistic regression on the Pima training data reaches the maximum-likelihood
coefficients of a numpy IRLS reference (with and without an L2 penalty, for both closure styles)
in at most 10 steps; the size limit; a 3000-parameter least-squares problem for NewtonCG;
singular Hessians; per-parameter state."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinygrad_lite import Tensor, optim
from tinygrad_lite.data import pima

SECOND_ORDER = [optim.Newton, optim.NewtonCG]


def pima_design(duplicate: int | None = None):
    """Standardized Pima training features (optionally with column `duplicate` repeated at the
    end) and the 0/1 labels."""
    X, y = pima.load("train")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if duplicate is not None:
        X = np.hstack([X, X[:, duplicate:duplicate + 1]])
    return X, y


def irls(X, y, lam=0.0, iters=100):
    """Maximum-likelihood (or ridge-penalized, lam/2 |w|^2 on the slopes, not the intercept)
    logistic regression by iteratively reweighted least squares. Returns (intercept, slopes)."""
    A = np.hstack([np.ones((len(X), 1)), X])
    penalty = lam * np.eye(A.shape[1])
    penalty[0, 0] = 0.0
    beta = np.zeros(A.shape[1])
    for _ in range(iters):
        prob = 1.0 / (1.0 + np.exp(-A @ beta))
        W = prob * (1.0 - prob)
        z = A @ beta + (y - prob) / W  # the working response
        beta = np.linalg.solve(A.T @ (W[:, None] * A) + penalty, A.T @ (W * z))
    prob = 1.0 / (1.0 + np.exp(-A @ beta))
    gradient = A.T @ (prob - y) + penalty @ beta
    assert np.abs(gradient).max() < 1e-10  # the reference itself has converged
    return beta[0], beta[1:]


def logistic_problem(X, y, lam=0.0, dtype=np.float64):
    """Parameters (slopes w, intercept b) and the negative log-likelihood (+ lam/2 |w|^2)."""
    w = Tensor(np.zeros(X.shape[1], dtype=dtype), requires_grad=True)
    b = Tensor(np.zeros(1, dtype=dtype), requires_grad=True)
    Xt, yt = Tensor(X.astype(dtype)), Tensor(y.astype(dtype))

    def loss_fn():
        z = Xt @ w + b
        loss = (z.softplus() - yt * z).sum()
        if lam:
            loss = loss + (w * w).sum() * (lam / 2)
        return loss

    return w, b, loss_fn


def make_closure(opt, loss_fn, style):
    if style == "plain":  # the closure only computes the loss
        return loss_fn

    def closure():  # PyTorch's habit: zero_grad, backward, return the loss
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    return closure


# ------------------------------------------------------------------------ logistic regression ----
@pytest.mark.parametrize("lam", [0.0, 5.0], ids=["mle", "ridge"])
@pytest.mark.parametrize("style", ["plain", "backward"])
@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_reaches_irls_solution(cls, style, lam):
    X, y = pima_design()
    ref_b, ref_w = irls(X, y, lam)
    w, b, loss_fn = logistic_problem(X, y, lam)
    opt = cls([w, b])
    closure = make_closure(opt, loss_fn, style)
    losses = []
    for _ in range(10):
        losses.append(opt.step(closure).item())
        if np.abs(w.data - ref_w).max() < 1e-9 and abs(b.data[0] - ref_b) < 1e-9:
            break
    np.testing.assert_allclose(w.data, ref_w, atol=1e-9)
    np.testing.assert_allclose(b.data, [ref_b], atol=1e-9)
    assert len(losses) <= 10
    assert all(a >= c - 1e-9 for a, c in zip(losses, losses[1:]))  # the loss never rose
    # the per-parameter state counts the steps taken
    for p in (w, b):
        assert opt.state[p]["step"] == len(losses)
    if style == "backward":  # the closure's backward left the gradient at the last point
        assert w.grad is not None and w.grad.shape == w.shape


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e6])
@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_invariant_to_loss_scale(cls, scale):
    """Newton's step (H^-1 g) does not change when the loss is multiplied by a constant, so a
    loss times 1e-12 (tiny gradients from the start) converges the same way: NewtonCG's
    stopping rule must not mistake a small gradient for a solved system."""
    X, y = pima_design()
    ref_b, ref_w = irls(X, y)
    w, b, loss_fn = logistic_problem(X, y)
    opt = cls([w, b])
    for _ in range(8):
        opt.step(lambda: loss_fn() * scale)
    np.testing.assert_allclose(w.data, ref_w, atol=1e-9)
    np.testing.assert_allclose(b.data, [ref_b], atol=1e-9)


@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_quadratic_convergence(cls):
    """Newton's error roughly squares each step near the solution (the hallmark of the method:
    a gradient method would shrink it by a constant factor)."""
    X, y = pima_design()
    ref_b, ref_w = irls(X, y)
    w, b, loss_fn = logistic_problem(X, y)
    opt = cls([w, b])
    errors = []
    for _ in range(6):
        opt.step(loss_fn)
        errors.append(np.abs(np.r_[w.data - ref_w, b.data - ref_b]).max())
    assert errors[4] < 1e-8 and errors[5] < 1e-12
    for k in (2, 3):  # e_{k+1} <= C e_k^2 (a linear rate c would need c <= C e_k: tiny)
        assert errors[k + 1] <= 5 * errors[k] ** 2, errors


def test_newton_hessian_matches_analytic():
    """Newton.hessian gives the loss, the gradient and A^T diag(p(1-p)) A, the coordinates in
    parameter order (w's, then b's)."""
    X, y = pima_design()
    rng = np.random.default_rng(0)
    w, b, loss_fn = logistic_problem(X, y)
    w.data[:] = rng.normal(scale=0.3, size=w.shape)
    b.data[:] = 0.2
    loss, g, h = optim.Newton([w, b]).hessian(loss_fn)
    A = np.hstack([X, np.ones((len(X), 1))])  # w's coordinates first, then b
    z = A @ np.r_[w.data, b.data]
    prob = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(loss.item(), np.sum(np.logaddexp(0, z) - y * z), rtol=1e-12)
    np.testing.assert_allclose(g, A.T @ (prob - y), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h, A.T @ ((prob * (1 - prob))[:, None] * A), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_array_equal(h, h.T)


# ---------------------------------------------------------------------------- limits ----
def test_newton_refuses_large_models_pointing_to_newtoncg():
    w = Tensor(np.zeros(3000), requires_grad=True)
    with pytest.raises(ValueError, match="NewtonCG") as info:
        optim.Newton([w])
    assert "3,000" in str(info.value) or "3000" in str(info.value)
    small = Tensor(np.zeros(10), requires_grad=True)
    with pytest.raises(ValueError, match="NewtonCG"):
        optim.Newton([small], max_params=5)
    opt = optim.Newton([small], max_params=15)
    with pytest.raises(ValueError, match="NewtonCG"):  # a group added later counts too
        opt.add_param_group({"params": [Tensor(np.zeros(10), requires_grad=True)]})


def test_newton_documents_its_limit():
    assert "max_params" in optim.Newton.__doc__ and "NewtonCG" in optim.Newton.__doc__
    w = Tensor(np.zeros(2000), requires_grad=True)
    optim.Newton([w])  # the documented default limit (2000) itself is allowed


def test_newtoncg_solves_large_least_squares():
    """3000 parameters (too many for Newton): min 1/2 |X W - Y|^2 over W (30 x 100) has the
    known solution lstsq(X, Y); NewtonCG reaches it in a couple of steps."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 30))
    W_true = rng.standard_normal((30, 100))
    Y = X @ W_true + 0.1 * rng.standard_normal((200, 100))
    solution = np.linalg.lstsq(X, Y, rcond=None)[0]
    W = Tensor(np.zeros((30, 100)), requires_grad=True)
    with pytest.raises(ValueError, match="NewtonCG"):
        optim.Newton([W])
    opt = optim.NewtonCG([W], cg_iters=100)
    Xt, Yt = Tensor(X), Tensor(Y)
    for _ in range(3):
        opt.step(lambda: ((Xt @ W - Yt) ** 2).sum() * 0.5)
        if np.abs(W.data - solution).max() < 1e-8:
            break
    np.testing.assert_allclose(W.data, solution, atol=1e-8)
    assert opt.state[W]["step"] <= 3
    assert 0 < opt.cg_iterations <= 100


def test_newtoncg_iteration_budget():
    """cg_iters caps the work: with 1 CG iteration the step is the exact line minimum along
    the gradient (steepest descent), not the Newton step."""
    A = np.diag([1.0, 10.0])
    x = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.NewtonCG([x], cg_iters=1)
    opt.step(lambda: (x * (Tensor(A) @ x)).sum() * 0.5)
    g = A @ np.array([1.0, 1.0])
    expected = np.array([1.0, 1.0]) - (g @ g) / (g @ A @ g) * g
    np.testing.assert_allclose(x.data, expected, rtol=1e-12)
    assert opt.cg_iterations == 1


# -------------------------------------------------------------------------- singular cases ----
@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_singular_hessian_duplicated_feature(cls):
    """A duplicated feature makes X^T W X singular: no crash, finite parameters, and the fit
    (probabilities, loss) of the de-duplicated problem's maximum likelihood."""
    X, y = pima_design(duplicate=1)
    ref_b, ref_w = irls(X[:, :-1], y)
    w, b, loss_fn = logistic_problem(X, y)
    opt = cls([w, b])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Newton may warn about the singularity
        for _ in range(10):
            opt.step(loss_fn)
    assert np.all(np.isfinite(w.data)) and np.all(np.isfinite(b.data))
    np.testing.assert_allclose(X @ w.data + b.data, X[:, :-1] @ ref_w + ref_b, atol=1e-7)
    merged = w.data[:-1].copy()
    merged[1] += w.data[-1]
    np.testing.assert_allclose(merged, ref_w, atol=1e-7)
    assert np.abs(w.data).max() < 10  # not a huge +-c pair along the null direction


@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_exactly_singular_unused_parameter(cls):
    """A parameter that the loss ignores gives a zero row and column in H: the step leaves it
    alone and still solves for the others."""
    x = Tensor(np.array([3.0, -1.0]), requires_grad=True)
    unused = Tensor(np.array([0.5]), requires_grad=True)
    opt = cls([x, unused])
    if cls is optim.Newton:  # the fallback is announced, with the remedy
        with pytest.warns(RuntimeWarning, match="singular.*damping"):
            opt.step(lambda: ((x - Tensor(np.array([1.0, 2.0]))) ** 2).sum())
    else:
        opt.step(lambda: ((x - Tensor(np.array([1.0, 2.0]))) ** 2).sum())
    np.testing.assert_allclose(x.data, [1.0, 2.0], atol=1e-12)
    np.testing.assert_array_equal(unused.data, [0.5])


def test_newton_damping_and_lr():
    """On 1/2 a x^2: Newton with damping d moves x by a x / (a + d), times lr."""
    a, x0 = 4.0, 2.0
    for lr, damping in [(1.0, 0.0), (0.5, 0.0), (1.0, 4.0), (0.5, 1.0)]:
        for cls in SECOND_ORDER:
            x = Tensor(np.array([x0]), requires_grad=True)
            opt = cls([x], lr=lr, damping=damping)
            opt.step(lambda: (x * x).sum() * (a / 2))  # noqa: B023
            np.testing.assert_allclose(x.data, [x0 - lr * a * x0 / (a + damping)], rtol=1e-12,
                                       err_msg=f"{cls.__name__} lr={lr} damping={damping}")


def test_newtoncg_negative_curvature_falls_back_to_gradient():
    """At x = 0.1, f = x^4 - 2 x^2 has negative curvature: CG stops and the step is the
    (lr-scaled) gradient step, which decreases f, instead of Newton's jump uphill."""
    x = Tensor(np.array([0.1]), requires_grad=True)
    opt = optim.NewtonCG([x], lr=0.1)
    f = lambda: (x ** 4 - (x * x) * 2.0).sum()  # noqa: E731
    before = f().item()
    opt.step(f)
    g = 4 * 0.1 ** 3 - 4 * 0.1
    np.testing.assert_allclose(x.data, [0.1 - 0.1 * g], rtol=1e-12)
    assert f().item() < before


def test_newton_linear_loss_does_not_crash():
    """A loss linear in the parameters has H = 0: with damping the step is g / damping."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    for cls in SECOND_ORDER:
        x.data[:] = [1.0, 2.0]
        opt = cls([x], damping=2.0)
        opt.step(lambda: (x * Tensor(np.array([4.0, -2.0]))).sum())
        np.testing.assert_allclose(x.data, [1.0 - 2.0, 2.0 + 1.0], rtol=1e-12)


# ------------------------------------------------------------------------------- behaviour ----
@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_needs_a_closure(cls):
    w = Tensor(np.zeros(2), requires_grad=True)
    opt = cls([w])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="scalar"):
        opt.step(lambda: w * 2.0)


@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_float32_params_stay_float32(cls):
    X, y = pima_design()
    ref_b, ref_w = irls(X, y)
    w, b, loss_fn = logistic_problem(X, y, dtype=np.float32)
    opt = cls([w, b])
    for _ in range(8):
        opt.step(loss_fn)
    assert w.dtype == np.float32 and b.dtype == np.float32
    for p in (w, b):
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
    np.testing.assert_allclose(w.data, ref_w, atol=1e-3)


@pytest.mark.parametrize("cls", SECOND_ORDER, ids=lambda c: c.__name__)
def test_newton_state_dict_round_trip(cls):
    X, y = pima_design()
    w, b, loss_fn = logistic_problem(X, y)
    opt = cls([w, b], lr=0.5)
    opt.step(loss_fn)
    other_w, other_b, _ = logistic_problem(X, y)
    other = cls([other_w, other_b])
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["lr"] == 0.5 and other.state[other_b]["step"] == 1


def test_newton_hyperparameter_messages():
    w = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Newton([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid damping value: -0.5"):
        optim.Newton([w], damping=-0.5)
    with pytest.raises(ValueError, match="Invalid damping value: -0.5"):
        optim.NewtonCG([w], damping=-0.5)
    with pytest.raises(ValueError, match="cg_iters"):
        optim.NewtonCG([w], cg_iters=0)
