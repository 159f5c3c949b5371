"""grad() (torch.autograd.grad's contract), jacobian, hessian, hvp, vjp, higher-order gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.functional import hessian, hvp, jacobian, vjp


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf([1.0, 2.0]), leaf(3.0)
    gx, gy = tg.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])
    assert gy.item() == 3.0 and x.grad is None and y.grad is None


def test_grad_allow_unused():
    x, unused = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tg.grad(x * 2.0, [x, unused])
    gx, gu = tg.grad(x * 2.0, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_with_respect_to_an_intermediate_tensor():
    x = leaf(2.0)
    h = x * 3.0
    (gh,) = tg.grad((h * h).sum(), h)
    assert gh.item() == 12.0


def test_grad_outputs_and_retain_graph():
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = tg.grad(y, x, grad_outputs=Tensor(np.array([1.0, 10.0])), retain_graph=True)
    np.testing.assert_allclose(g.numpy(), [2.0, 40.0])
    (g2,) = tg.grad(y.sum(), x)  # the graph of y was retained
    np.testing.assert_allclose(g2.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="retain_graph"):
        tg.grad(y.sum(), x)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        tg.grad(leaf([1.0, 2.0]) * 2.0, x)


def test_grad_create_graph_gives_third_derivatives():
    x = leaf(0.5)
    y = x.sin() * x.exp()
    (d1,) = tg.grad(y, x, create_graph=True)
    (d2,) = tg.grad(d1, x, create_graph=True)
    (d3,) = tg.grad(d2, x)
    v = 0.5
    # (sin x e^x)''' = 2 e^x (cos x - sin x)
    assert d1.item() == pytest.approx(np.exp(v) * (np.sin(v) + np.cos(v)))
    assert d2.item() == pytest.approx(2 * np.exp(v) * np.cos(v))
    assert d3.item() == pytest.approx(2 * np.exp(v) * (np.cos(v) - np.sin(v)))


def test_backward_create_graph_builds_a_differentiable_dot_grad():
    x = leaf(3.0)
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.item() == 27.0
    (gx,) = tg.grad(x.grad, x)
    assert gx.item() == 18.0


def test_jacobian_matches_the_analytic_matrix():
    a = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])
    x = leaf([0.3, -0.2])
    jac = jacobian(lambda t: (Tensor(a) @ t).tanh(), x)
    z = a @ x.numpy()
    np.testing.assert_allclose(jac.numpy(), (1 - np.tanh(z) ** 2)[:, None] * a)
    assert jac.shape == (3, 2)


def test_hessian_shape_and_values():
    def f(t):
        return (t[0] ** 2) * t[1] + t[1].exp() + (t * t).sum() * 0.5

    x = leaf([1.0, 0.5])
    h = hessian(f, x)
    expected = np.array([[2 * 0.5 + 1, 2 * 1.0], [2 * 1.0, np.exp(0.5) + 1]])
    np.testing.assert_allclose(h.numpy(), expected)
    m = leaf(np.ones((2, 2)))
    assert hessian(lambda t: (t ** 3).sum(), m).shape == (2, 2, 2, 2)
    with pytest.raises(ValueError, match="scalar function"):
        hessian(lambda t: t * 2, x)


def test_hvp_equals_hessian_times_vector():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))

    def f(t):
        return ((Tensor(a) @ t).sigmoid() ** 2).sum()

    x = leaf(rng.standard_normal(4))
    v = Tensor(rng.standard_normal(4))
    np.testing.assert_allclose(hvp(f, x, v).numpy(), hessian(f, x).numpy() @ v.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="v has shape"):
        hvp(f, x, Tensor(np.ones(3)))


def test_vjp_returns_outputs_and_products():
    out, (g,) = vjp(lambda t: t * t, [Tensor(np.array([1.0, 2.0]))], Tensor(np.array([1.0, 1.0])))
    np.testing.assert_allclose(out.numpy(), [1.0, 4.0])
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_hessian_of_logistic_loss_matches_closed_form():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3))
    y = (rng.random(20) > 0.5).astype(np.float64)

    def loss(w):
        z = Tensor(X) @ w
        return (z.softplus() - Tensor(y) * z).sum()

    w = leaf(rng.standard_normal(3) * 0.1)
    p = 1 / (1 + np.exp(-X @ w.numpy()))
    np.testing.assert_allclose(hessian(loss, w).numpy(), X.T @ (X * (p * (1 - p))[:, None]))
