"""Losses (functional and module forms) and the lesson's regularizers: values against numpy
formulas written here, float64 gradcheck, extreme inputs (p = 0 / 1, |z| = 1000), label smoothing,
and the error messages. PyTorch comparisons are extra (skipped without torch)."""

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, nn

RNG = np.random.default_rng(11)


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def np_log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------------------- MSE ----
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_numpy(reduction):
    a, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    sq = (a - y) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(F.mse_loss(Tensor(a), Tensor(y), reduction=reduction).data, expected)
    np.testing.assert_allclose(nn.MSELoss(reduction)(Tensor(a), Tensor(y)).data, expected)
    assert gradcheck(lambda t: F.mse_loss(t, Tensor(y), reduction=reduction), [t64(a)])


def test_mse_loss_and_the_lessons_cost_per_sample():
    """Lesson: cost of a sample = sum over the 10 outputs of (a - y)^2; cost = its batch average."""
    n, outputs = 8, 10
    a, y = RNG.random((n, outputs)), np.eye(outputs)[RNG.integers(0, outputs, n)]
    lesson_cost = np.mean([np.sum((a[i] - y[i]) ** 2) for i in range(n)])
    at, yt = Tensor(a), Tensor(y)
    assert F.mse_loss(at, yt, reduction="sum").item() / n == pytest.approx(lesson_cost)
    assert F.mse_loss(at, yt).item() * outputs == pytest.approx(lesson_cost)


def test_mse_loss_refuses_broadcasting_and_names_both_shapes():
    with pytest.raises(ValueError, match=r"mse_loss.*\(5, 1\).*\(5,\)"):
        F.mse_loss(Tensor.zeros(5, 1), Tensor.zeros(5))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(Tensor.zeros(2), Tensor.zeros(2), reduction="avg")


def test_losses_keep_float32():
    p = Tensor(np.full(3, 0.5, np.float32))
    y = Tensor(np.ones(3, np.float32))
    assert F.mse_loss(p, [0.0, 1.0, 2.0]).dtype == np.float32
    assert F.binary_cross_entropy(p, y).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(p, y).dtype == np.float32
    assert F.cross_entropy(Tensor(np.zeros((2, 3), np.float32)), Tensor([0, 2])).dtype == np.float32


# ----------------------------------------------------------------------------------------- BCE ----
def test_binary_cross_entropy_matches_numpy_with_weights():
    p, y, w = RNG.uniform(0.05, 0.95, (4, 2)), RNG.integers(0, 2, (4, 2)).astype(float), RNG.random(2)
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(Tensor(p), Tensor(y)).item(), per.mean())
    np.testing.assert_allclose(
        nn.BCELoss(weight=Tensor(w), reduction="sum")(Tensor(p), Tensor(y)).item(), (per * w).sum())
    assert gradcheck(lambda t: F.binary_cross_entropy(t, Tensor(y), reduction="sum"), [t64(p)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_at_p_0_and_1_has_finite_loss_and_gradient(dtype):
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype))
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])  # logs clamped at -100
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.data))
    q = Tensor(np.array([1e-30, 1e-45 if dtype == np.float32 else 1e-300], dtype), requires_grad=True)
    F.binary_cross_entropy(q, Tensor(np.ones(2, dtype)), reduction="sum").backward()
    assert np.all(np.isfinite(q.grad.data)), q.grad


def test_binary_cross_entropy_rejects_non_probabilities():
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(Tensor([-0.1, 0.5]), Tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(2,\).*\(2, 1\)"):
        F.binary_cross_entropy(Tensor([0.2, 0.5]), Tensor.zeros(2, 1))


def test_bce_with_logits_matches_numpy_and_pos_weight():
    z, y = RNG.standard_normal((3, 4)) * 3, RNG.integers(0, 2, (3, 4)).astype(float)
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    log_sig, log_one_minus = -np.logaddexp(0, -z), -np.logaddexp(0, z)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(Tensor(z), Tensor(y)).item(),
                               -(y * log_sig + (1 - y) * log_one_minus).mean())
    np.testing.assert_allclose(
        nn.BCEWithLogitsLoss(pos_weight=Tensor(pw))(Tensor(z), Tensor(y)).item(),
        -(pw * y * log_sig + (1 - y) * log_one_minus).mean())
    assert gradcheck(lambda t: F.binary_cross_entropy_with_logits(t, Tensor(y), pos_weight=pw),
                     [t64(z)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_and_exact_at_1000(dtype):
    z = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype))
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_array_equal(loss.data, [0.0, 0.0, 1000.0, 1000.0])
    loss.sum().backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0, 1.0, -1.0])  # sigmoid(z) - y


# ------------------------------------------------------------------------------ cross-entropy ----
def test_cross_entropy_is_nll_of_log_softmax_and_matches_numpy():
    z, y = RNG.standard_normal((5, 4)), RNG.integers(0, 4, 5)
    expected = -np_log_softmax(z)[np.arange(5), y]
    for reduction, ref in (("mean", expected.mean()), ("sum", expected.sum()), ("none", expected)):
        np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y), reduction=reduction).data,
                                   ref)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y)).data,
                               F.nll_loss(F.log_softmax(Tensor(z), dim=1), Tensor(y)).data)
    np.testing.assert_allclose(nn.CrossEntropyLoss()(Tensor(z), Tensor(y)).data, expected.mean())
    np.testing.assert_allclose(nn.NLLLoss()(Tensor(np_log_softmax(z)), Tensor(y)).data,
                               expected.mean())
    assert gradcheck(lambda t: F.cross_entropy(t, Tensor(y)), [t64(z)])


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1000.0, 0.0, -1000.0]], np.float32), requires_grad=True)
    loss = F.cross_entropy(z, Tensor([2]))
    assert loss.item() == pytest.approx(2000.0)
    loss.backward()
    np.testing.assert_allclose(z.grad.data, [[1.0, 0.0, -1.0]], atol=1e-6)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_cross_entropy_label_smoothing_matches_the_formula(eps):
    z, y = RNG.standard_normal((6, 5)), RNG.integers(0, 5, 6)
    target = (1 - eps) * np.eye(5)[y] + eps / 5  # smoothed target distribution
    expected = -(target * np_log_softmax(z)).sum(axis=1).mean()
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y), label_smoothing=eps).item(),
                               expected)
    np.testing.assert_allclose(
        nn.CrossEntropyLoss(label_smoothing=eps)(Tensor(z), Tensor(y)).item(), expected)
    assert gradcheck(lambda t: F.cross_entropy(t, Tensor(y), label_smoothing=eps), [t64(z)])


def test_cross_entropy_weights_ignore_index_and_spatial_inputs():
    z, y = RNG.standard_normal((4, 3)), np.array([0, 2, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    logp = np_log_softmax(z)
    keep = y != -100
    picked = -logp[np.arange(4)[keep], y[keep]]
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y), weight=w).item(),
                               (w[y[keep]] * picked).sum() / w[y[keep]].sum())
    z4 = RNG.standard_normal((2, 3, 2, 2))  # (N, C, H, W): classes along dim 1
    y4 = RNG.integers(0, 3, (2, 2, 2))
    flat = z4.transpose(0, 2, 3, 1).reshape(-1, 3)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z4), Tensor(y4)).item(),
                               -np_log_softmax(flat)[np.arange(8), y4.reshape(-1)].mean())


def test_cross_entropy_out_of_range_index_names_index_and_class_count():
    with pytest.raises(IndexError, match=r"cross_entropy: target 4 is out of bounds.*4 classes"):
        F.cross_entropy(Tensor.zeros(2, 4), Tensor([1, 4]))
    with pytest.raises(IndexError, match=r"nll_loss: target -1"):
        F.nll_loss(Tensor.zeros(2, 4), Tensor([-1, 0]))


def test_cross_entropy_wrong_target_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(3,\).*input shape \(4, 5\)"):
        F.cross_entropy(Tensor.zeros(4, 5), Tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(Tensor.zeros(4, 5), Tensor([0.0, 1.0, 2.0, 3.0]))


# ------------------------------------------------------------------------------ regularizers ----
def test_l2_penalty_is_lam_over_2n_times_the_sum_of_squares():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    lam, n = 0.7, 12
    weights = sum((model[i].weight.data.astype(np.float64) ** 2).sum() for i in (0, 1))
    biases = sum((model[i].bias.data.astype(np.float64) ** 2).sum() for i in (0, 1))
    assert F.l2_penalty(model, lam, n).item() == pytest.approx(lam / (2 * n) * weights, rel=1e-6)
    assert F.l2_penalty(model, lam, n, include_bias=True).item() == pytest.approx(
        lam / (2 * n) * (weights + biases), rel=1e-6)
    assert F.l2_penalty(model.named_parameters(), lam, n).item() == pytest.approx(
        lam / (2 * n) * weights, rel=1e-6)


def test_l2_penalty_gradient_is_lam_theta_over_n_and_bare_tensors_count():
    theta = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([5.0]), requires_grad=True)
    F.l2_penalty([("theta", theta), ("bias", b)], lam=2.0, n=4).backward()
    np.testing.assert_allclose(theta.grad.data, 2.0 / 4 * theta.data)
    assert b.grad is None  # the intercept is not penalized
    assert F.l2_penalty([theta, b], lam=1.0, n=1).item() == pytest.approx(0.5 * 39)


def test_kl_sparsity_matches_the_formula_and_is_finite_at_0_and_1():
    acts = RNG.uniform(0.01, 0.3, (20, 4))
    rho, rho_hat = 0.05, acts.mean(axis=0)
    expected = (rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))).sum()
    assert F.kl_sparsity(Tensor(acts), rho).item() == pytest.approx(expected)
    assert gradcheck(lambda a: F.kl_sparsity(a, rho), [t64(acts[:5])])
    assert F.kl_sparsity(Tensor(np.full((3, 2), 0.05))).item() == pytest.approx(0.0, abs=1e-12)
    dead = Tensor(np.array([[0.0, 1.0], [0.0, 1.0]]), requires_grad=True)
    loss = F.kl_sparsity(dead)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(dead.grad.data))


# ------------------------------------------------------------------------- PyTorch (extra) ----
def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    z, y = RNG.standard_normal((6, 4)), RNG.integers(0, 4, 6)
    p, yb = RNG.uniform(0.01, 0.99, (6, 4)), RNG.integers(0, 2, (6, 4)).astype(float)
    tz, ty, tp, tyb = (torch.tensor(a) for a in (z, y, p, yb))
    pairs = [
        (F.cross_entropy(Tensor(z), Tensor(y), label_smoothing=0.2),
         tf.cross_entropy(tz, ty, label_smoothing=0.2)),
        (F.cross_entropy(Tensor(z), Tensor(y), weight=np.arange(1.0, 5.0), label_smoothing=0.1),
         tf.cross_entropy(tz, ty, weight=torch.arange(1.0, 5.0, dtype=torch.float64),
                          label_smoothing=0.1)),
        (F.binary_cross_entropy(Tensor(p), Tensor(yb)), tf.binary_cross_entropy(tp, tyb)),
        (F.binary_cross_entropy_with_logits(Tensor(z), Tensor(yb), pos_weight=np.arange(1.0, 5.0)),
         tf.binary_cross_entropy_with_logits(tz, tyb,
                                             pos_weight=torch.arange(1.0, 5.0, dtype=torch.float64))),
        (F.mse_loss(Tensor(p), Tensor(yb), reduction="sum"), tf.mse_loss(tp, tyb, reduction="sum")),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10)
