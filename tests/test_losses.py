"""Losses and regularizers (functional and module forms) against the numpy references in
tests/reference.py, float64 gradcheck, extreme inputs (p = 0 / 1, |z| = 1000, masked -inf logits),
label smoothing, probability targets, and the error messages. PyTorch comparisons are extra
(skipped without torch). Every loss also has rows in tests/layer_table.py."""

import warnings

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, nn

from .reference import bce as np_bce
from .reference import bce_with_logits as np_bce_logits
from .reference import cross_entropy as np_cross_entropy
from .reference import kl_sparsity as np_kl_sparsity
from .reference import log_softmax as np_log_softmax
from .reference import t64

RNG = np.random.default_rng(1234)


# -------------------------------------------------------------------------------------- mse ----
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_values_match_numpy(reduction):
    a, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    expected = {"mean": np.mean((a - y) ** 2), "sum": np.sum((a - y) ** 2), "none": (a - y) ** 2}
    out = F.mse_loss(Tensor(a), Tensor(y), reduction=reduction)
    np.testing.assert_allclose(out.data, expected[reduction], rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss(reduction=reduction)(Tensor(a), Tensor(y)).data,
                               expected[reduction], rtol=1e-12)


def test_mse_loss_relates_to_lesson_cost():
    # the lesson's cost: per sample sum of squared errors over the 10 outputs, averaged over samples
    a, y = RNG.random((5, 10)), np.eye(10)[RNG.integers(0, 10, 5)]
    cost = np.mean(np.sum((a - y) ** 2, axis=1))
    assert F.mse_loss(Tensor(a), Tensor(y), reduction="sum").item() / 5 == pytest.approx(cost)
    assert F.mse_loss(Tensor(a), Tensor(y)).item() * 10 == pytest.approx(cost)
    assert "cost" in F.mse_loss.__doc__


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_gradcheck(reduction):
    a, y = t64(RNG.standard_normal((3, 2))), t64(RNG.standard_normal((3, 2)))
    assert gradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction), [a, y])


def test_mse_loss_gradient_is_two_diff_over_n():
    a = Tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    F.mse_loss(a, Tensor(np.array([0.0, 2.0, 1.0]))).backward()
    np.testing.assert_allclose(a.grad.data, [2 / 3, 0.0, 2.0])


def test_mse_loss_keeps_float32_with_list_target():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    out = F.mse_loss(a, [1.0, 2.0, 3.0])
    assert out.dtype == np.float32
    assert out.item() == pytest.approx(5 / 3)


def test_mse_loss_mismatched_shapes_names_both():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(Tensor.zeros(4, 1), Tensor.zeros(4))


def test_losses_keep_float32():
    p = Tensor(np.full(3, 0.5, np.float32))
    y = Tensor(np.ones(3, np.float32))
    assert F.binary_cross_entropy(p, y).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(p, y).dtype == np.float32
    z = Tensor(np.zeros((2, 3), np.float32))
    assert F.cross_entropy(z, Tensor([0, 2])).dtype == np.float32
    assert F.cross_entropy(z, Tensor(np.full((2, 3), 1 / 3))).dtype == np.float32  # float64 probs


def test_loss_bad_reduction_is_an_error():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(Tensor.zeros(2), Tensor.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# -------------------------------------------------------------------------------------- bce ----
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_values_match_numpy(reduction):
    p, y = RNG.uniform(0.01, 0.99, (3, 4)), RNG.integers(0, 2, (3, 4)).astype(float)
    ref = np_bce(p, y)
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    out = F.binary_cross_entropy(Tensor(p), Tensor(y), reduction=reduction)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    np.testing.assert_allclose(nn.BCELoss(reduction=reduction)(Tensor(p), Tensor(y)).data, ref,
                               rtol=1e-12)


def test_binary_cross_entropy_weight_scales_each_element():
    p, y, w = RNG.uniform(0.1, 0.9, 4), np.array([1.0, 0, 1, 0]), np.array([1.0, 2.0, 0.5, 3.0])
    out = F.binary_cross_entropy(Tensor(p), Tensor(y), weight=Tensor(w))
    assert out.item() == pytest.approx(np.mean(w * np_bce(p, y)))
    module = nn.BCELoss(weight=Tensor(w), reduction="sum")(Tensor(p), Tensor(y))
    assert module.item() == pytest.approx(np.sum(w * np_bce(p, y)))
    assert gradcheck(lambda t: F.binary_cross_entropy(t, Tensor(y), weight=w, reduction="sum"),
                     [t64(p)])


def test_bce_weights_given_as_float64_arrays_keep_a_float32_loss():
    p, y = Tensor(np.array([0.3, 0.8], np.float32)), Tensor(np.array([1.0, 0.0], np.float32))
    w = np.array([1.0, 2.0])  # float64
    assert F.binary_cross_entropy(p, y, weight=w).dtype == np.float32
    z = Tensor(np.array([0.3, -0.8], np.float32))
    out = F.binary_cross_entropy_with_logits(z, y, weight=w, pos_weight=np.array([2.0, 3.0]))
    assert out.dtype == np.float32
    assert out.item() == pytest.approx(np.mean(w * np_bce_logits(z.data.astype(float), y.data,
                                                                 np.array([2.0, 3.0]))), rel=1e-6)


def test_binary_cross_entropy_gradcheck_with_soft_targets():
    p, y = t64(RNG.uniform(0.05, 0.95, (2, 3))), t64(RNG.uniform(0, 1, (2, 3)), False)
    assert gradcheck(lambda u: F.binary_cross_entropy(u, y), [p])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_at_zero_and_one_is_finite(dtype):
    # p = 0 with y = 1 and p = 1 with y = 0 are maximally wrong: each log is clamped at -100
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype))
    loss = F.binary_cross_entropy(p, y, reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(200.0, rel=1e-6)
    assert np.all(np.isfinite(p.grad.data))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_tiny_probabilities_keep_finite_gradients(dtype):
    # float32 subnormals (1e-40, 1 - 1e-8 rounds to 1) once gave 1/p = inf in the gradient
    tiny = np.array([1e-40, 1e-30, 1e-300 if dtype == np.float64 else 1e-44], dtype)
    p = Tensor(np.concatenate([tiny, 1 - tiny]).astype(dtype), requires_grad=True)
    y = Tensor(np.array([1, 1, 1, 0, 0, 0], dtype))
    loss = F.binary_cross_entropy(p, y, reduction="none")
    ref = np_bce(p.data.astype(np.float64), y.data.astype(np.float64))
    np.testing.assert_allclose(loss.data, ref, rtol=1e-3)
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.data)), p.grad


def test_binary_cross_entropy_gradient_inside_matches_formula():
    p, y = np.array([0.2, 0.7, 0.5]), np.array([1.0, 0.0, 1.0])
    pt = Tensor(p, requires_grad=True)
    F.binary_cross_entropy(pt, Tensor(y)).backward()
    np.testing.assert_allclose(pt.grad.data, (p - y) / (p * (1 - p)) / 3, rtol=1e-12)


def test_binary_cross_entropy_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(Tensor([1.5, 0.5]), Tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(Tensor([-0.1, 0.5]), Tensor([0.0, 1.0]))


def test_binary_cross_entropy_mismatched_shapes_names_both():
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        F.binary_cross_entropy(Tensor([0.5, 0.5, 0.5]), Tensor.zeros(3, 1))


# ------------------------------------------------------------------------- bce with logits ----
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_values_match_numpy(reduction):
    z, y = RNG.standard_normal((3, 4)) * 3, RNG.uniform(0, 1, (3, 4))
    ref = np_bce_logits(z, y)
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(Tensor(z), Tensor(y), reduction=reduction).data, ref,
        rtol=1e-12)
    np.testing.assert_allclose(
        nn.BCEWithLogitsLoss(reduction=reduction)(Tensor(z), Tensor(y)).data, ref, rtol=1e-12)


def test_bce_with_logits_pos_weight_matches_numpy():
    z, y = RNG.standard_normal((5, 3)), RNG.integers(0, 2, (5, 3)).astype(float)
    pw = np.array([1.0, 3.0, 0.5])
    out = F.binary_cross_entropy_with_logits(Tensor(z), Tensor(y), pos_weight=Tensor(pw))
    assert out.item() == pytest.approx(np_bce_logits(z, y, pw).mean(), rel=1e-12)
    module = nn.BCEWithLogitsLoss(pos_weight=Tensor(pw))(Tensor(z), Tensor(y))
    assert module.item() == pytest.approx(np_bce_logits(z, y, pw).mean(), rel=1e-12)
    zt = t64(z)
    assert gradcheck(lambda u: F.binary_cross_entropy_with_logits(u, Tensor(y), pos_weight=pw),
                     [zt])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_exact_at_plus_minus_1000(dtype):
    z = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype))
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_array_equal(loss.data, [0.0, 0.0, 1000.0, 1000.0])  # exact
    loss.sum().backward()
    # d/dz = sigmoid(z) - y
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0, 1.0, -1.0])


def test_bce_with_logits_gradcheck():
    z, y = t64(RNG.standard_normal((2, 3)) * 4), t64(RNG.uniform(0, 1, (2, 3)))
    assert gradcheck(F.binary_cross_entropy_with_logits, [z, y])


def test_bce_with_logits_mismatched_shapes_names_both():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        F.binary_cross_entropy_with_logits(Tensor.zeros(2, 3), Tensor.zeros(3, 2))


# -------------------------------------------------------------------------- cross entropy ----
def test_cross_entropy_matches_numpy():
    z, y = RNG.standard_normal((6, 5)), RNG.integers(0, 5, 6)
    assert F.cross_entropy(Tensor(z), Tensor(y)).item() == pytest.approx(np_cross_entropy(z, y))
    assert nn.CrossEntropyLoss()(Tensor(z), Tensor(y)).item() == pytest.approx(
        np_cross_entropy(z, y))


def test_cross_entropy_is_nll_of_log_softmax():
    z, y = RNG.standard_normal((5, 4)), RNG.integers(0, 4, 5)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y)).data,
                               F.nll_loss(F.log_softmax(Tensor(z), dim=1), Tensor(y)).data)
    assert nn.NLLLoss()(Tensor(np_log_softmax(z)), Tensor(y)).item() == pytest.approx(
        np_cross_entropy(z, y))


def test_cross_entropy_reductions_match_numpy():
    z, y = RNG.standard_normal((4, 3)), RNG.integers(0, 3, 4)
    per = -np_log_softmax(z)[np.arange(4), y]
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), Tensor(y), reduction="none").data, per)
    assert F.cross_entropy(Tensor(z), Tensor(y), reduction="sum").item() == pytest.approx(per.sum())


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]], np.float32),
               requires_grad=True)
    loss = F.cross_entropy(z, Tensor([0, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 1000.0])
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.data, [[0, 0, 0], [0, 1, -1]], atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_label_smoothing_matches_formula(smoothing):
    z, y = RNG.standard_normal((5, 4)), RNG.integers(0, 4, 5)
    # the smoothed target: (1 - e) on the true class plus e / C on every class
    q = (1 - smoothing) * np.eye(4)[y] + smoothing / 4
    expected = -(q * np_log_softmax(z)).sum(axis=1).mean()
    out = F.cross_entropy(Tensor(z), Tensor(y), label_smoothing=smoothing)
    assert out.item() == pytest.approx(expected, rel=1e-12)
    assert out.item() == pytest.approx(np_cross_entropy(z, y, smoothing=smoothing), rel=1e-12)
    assert nn.CrossEntropyLoss(label_smoothing=smoothing)(Tensor(z), Tensor(y)).item() == \
        pytest.approx(expected, rel=1e-12)


def test_cross_entropy_weights_with_ignore_index_match_numpy():
    z, y = RNG.standard_normal((4, 3)), np.array([0, 2, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    for smoothing in (0.0, 0.2):
        out = F.cross_entropy(Tensor(z), Tensor(y), weight=w, label_smoothing=smoothing)
        assert out.item() == pytest.approx(np_cross_entropy(z, y, w, smoothing), rel=1e-12)
    assert gradcheck(lambda t: F.cross_entropy(t, Tensor(y), weight=w, reduction="none"),
                     [t64(z)])


def test_cross_entropy_class_weights_match_numpy():
    z, y, w = RNG.standard_normal((6, 3)), np.array([0, 1, 2, 2, 1, 0]), np.array([0.2, 1.0, 3.0])
    for smoothing in (0.0, 0.2):
        out = F.cross_entropy(Tensor(z), Tensor(y), weight=Tensor(w), label_smoothing=smoothing)
        assert out.item() == pytest.approx(np_cross_entropy(z, y, w, smoothing), rel=1e-12)


def test_cross_entropy_ignore_index_drops_those_samples():
    z, y = RNG.standard_normal((5, 3)), np.array([0, -100, 2, 1, -100])
    keep = y != -100
    expected = np_cross_entropy(z[keep], y[keep])
    assert F.cross_entropy(Tensor(z), Tensor(y)).item() == pytest.approx(expected)
    assert F.cross_entropy(Tensor(z), Tensor(np.where(keep, y, 7)), ignore_index=7).item() == \
        pytest.approx(expected)
    # with smoothing too, ignored rows contribute nothing
    assert F.cross_entropy(Tensor(z), Tensor(y), label_smoothing=0.3).item() == pytest.approx(
        np_cross_entropy(z[keep], y[keep], smoothing=0.3))
    zt = Tensor(z, requires_grad=True)
    F.cross_entropy(zt, Tensor(y)).backward()
    assert np.all(zt.grad.data[~keep] == 0)


def test_cross_entropy_probability_targets_match_numpy():
    z = RNG.standard_normal((4, 3))
    q = RNG.dirichlet(np.ones(3), 4)
    expected = -(q * np_log_softmax(z)).sum(axis=1).mean()
    assert F.cross_entropy(Tensor(z), Tensor(q)).item() == pytest.approx(expected, rel=1e-12)
    # smoothing applies to probability targets too: q -> (1 - e) q + e / C
    qs = 0.8 * q + 0.2 / 3
    assert F.cross_entropy(Tensor(z), Tensor(q), label_smoothing=0.2).item() == pytest.approx(
        -(qs * np_log_softmax(z)).sum(axis=1).mean(), rel=1e-12)


def test_cross_entropy_spatial_inputs_match_flattened():
    z, y = RNG.standard_normal((2, 3, 4, 5)), RNG.integers(0, 3, (2, 4, 5))
    flat_z = z.transpose(0, 2, 3, 1).reshape(-1, 3)
    out = F.cross_entropy(Tensor(z), Tensor(y))
    assert out.item() == pytest.approx(np_cross_entropy(flat_z, y.reshape(-1)))
    assert F.cross_entropy(Tensor(z), Tensor(y), reduction="none").shape == (2, 4, 5)


def test_cross_entropy_unbatched_input():
    z = RNG.standard_normal(4)
    assert F.cross_entropy(Tensor(z), Tensor(np.array(2))).item() == pytest.approx(
        -np_log_softmax(z[None])[0, 2])


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_gradcheck(smoothing):
    z, y = t64(RNG.standard_normal((3, 4))), Tensor(np.array([3, 0, 1]))
    w = np.array([1.0, 0.5, 2.0, 1.5])
    assert gradcheck(lambda u: F.cross_entropy(u, y, label_smoothing=smoothing), [z])
    assert gradcheck(lambda u: F.cross_entropy(u, y, weight=w, label_smoothing=smoothing), [z])


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    z, y = RNG.standard_normal((3, 4)), np.array([1, 3, 0])
    zt = Tensor(z, requires_grad=True)
    F.cross_entropy(zt, Tensor(y)).backward()
    p = np.exp(np_log_softmax(z))
    np.testing.assert_allclose(zt.grad.data, (p - np.eye(4)[y]) / 3, rtol=1e-10)


def test_cross_entropy_out_of_range_index_names_it():
    with pytest.raises(IndexError, match=r"cross_entropy: target 4 is out of bounds.*4 classes"):
        F.cross_entropy(Tensor.zeros(2, 4), Tensor([1, 4]))
    with pytest.raises(IndexError, match=r"nll_loss: target -1"):
        F.nll_loss(Tensor.zeros(2, 4), Tensor([-1, 0]))
    with pytest.raises(IndexError, match=r"cross_entropy.*\b7\b.*\[0, 2\]"):
        F.cross_entropy(Tensor.zeros(3, 3), Tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"-3"):
        F.cross_entropy(Tensor.zeros(3, 3), Tensor([0, -3, 1]))


def test_cross_entropy_mismatched_target_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3,\).*\(4, 5\)|\(4, 5\).*\(3,\)"):
        F.cross_entropy(Tensor.zeros(4, 5), Tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 3\)"):  # probabilities of a wrong width
        F.cross_entropy(Tensor.zeros(4, 5), Tensor.zeros(4, 3))


def test_loss_arguments_are_checked_with_named_errors():
    z = Tensor.zeros(2, 3)
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(ValueError, match="class dimension"):
            fn(Tensor(1.0), Tensor(np.array(0)))
        with pytest.raises(ValueError, match=r"one entry per class \(3\)"):
            fn(z, Tensor([0, 1]), weight=np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F.nll_loss(z, Tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        F.cross_entropy(z, Tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="lam >= 0 and n > 0"):
        F.l2_penalty([Tensor([1.0])], lam=-1.0, n=3)


def test_cross_entropy_float_labels_in_index_shape_is_explained():
    with pytest.raises((TypeError, ValueError), match=r"integer|\(4,\)"):
        F.cross_entropy(Tensor.zeros(4, 3), Tensor([0.0, 1.0, 2.0, 1.0]))


# ------------------------------------------------------- masked logits, probability targets ----
INF = float("inf")
MASKED = np.array([[0.0, -INF, 1.0], [2.0, 0.0, -INF], [-INF, 3.0, 0.5]])  # a -inf off-target


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_a_masked_non_target_logit_is_finite(reduction, weighted):
    """Masking logits with -inf is common; the target's log-probability must be picked out, not
    multiplied by a one-hot mask (0 * -inf is NaN). It once returned NaN."""
    y = np.array([0, 1, 2])
    w = np.array([1.0, 2.0, 0.5]) if weighted else None
    z = Tensor(MASKED, requires_grad=True)
    loss = F.cross_entropy(z, Tensor(y), weight=w, reduction=reduction)
    with np.errstate(invalid="ignore"):
        logp = np_log_softmax(MASKED)  # -inf stays -inf: exp(-inf) = 0 in the sum
    per = -logp[np.arange(3), y] * (1.0 if w is None else w[y])
    expected = {"mean": per.sum() / (3 if w is None else w[y].sum()), "sum": per.sum(),
                "none": per}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(z.grad.data))
    assert np.all(z.grad.data[~np.isfinite(MASKED)] == 0)  # a masked class gets no gradient
    nll = F.nll_loss(Tensor(logp, requires_grad=True), Tensor(y), weight=w, reduction=reduction)
    np.testing.assert_allclose(nll.data, expected, rtol=1e-12)


def test_cross_entropy_ignored_sample_with_masked_stand_in_class_is_finite():
    z = Tensor(MASKED, requires_grad=True)  # row 2 is ignored, and its class 0 is -inf
    loss = F.cross_entropy(z, Tensor([0, 1, -100]), reduction="none")
    assert loss.data[2] == 0.0 and np.all(np.isfinite(loss.data))
    loss.sum().backward()
    assert np.all(np.isfinite(z.grad.data)) and not z.grad.data[2].any()


def test_cross_entropy_masked_logits_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    y = np.array([0, 1, 2])
    for kw in ({}, {"weight": np.array([1.0, 2.0, 0.5])}, {"ignore_index": 2}):
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        for reduction in ("mean", "sum", "none"):
            ours = Tensor(MASKED, requires_grad=True)
            theirs = torch.tensor(MASKED, requires_grad=True)
            out = F.cross_entropy(ours, Tensor(y), reduction=reduction, **kw)
            ref = tf.cross_entropy(theirs, torch.tensor(y), reduction=reduction, **tkw)
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
            out.sum().backward()
            ref.sum().backward()
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12,
                                       atol=1e-15, err_msg=f"{kw} {reduction}")


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_get_their_gradient(smoothing):
    """PyTorch differentiates cross_entropy with respect to probability targets (d/dq = -log p,
    scaled); the target was once a constant, silently getting no gradient."""
    z, q = RNG.standard_normal((4, 3)), RNG.dirichlet(np.ones(3), 4)
    target = t64(q)
    F.cross_entropy(Tensor(z), target, label_smoothing=smoothing).backward()
    np.testing.assert_allclose(target.grad.data, -np_log_softmax(z) * (1 - smoothing) / 4,
                               rtol=1e-12)
    w = np.array([1.0, 0.5, 2.0])
    assert gradcheck(lambda u, v: F.cross_entropy(u, v, weight=w, label_smoothing=smoothing),
                     [t64(z), t64(q)])


def test_cross_entropy_probability_target_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    z, q = RNG.standard_normal((2, 3, 2, 2)), RNG.dirichlet(np.ones(3), (2, 2, 2)).transpose(0, 3, 1, 2)
    for kw in ({}, {"label_smoothing": 0.1}, {"weight": np.array([1.0, 2.0, 0.5])}):
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        zt, qt = t64(z), t64(q)
        tz, tq = torch.tensor(z, requires_grad=True), torch.tensor(q, requires_grad=True)
        F.cross_entropy(zt, qt, **kw).backward()
        torch.nn.functional.cross_entropy(tz, tq, **tkw).backward()
        np.testing.assert_allclose(qt.grad.data, tq.grad.numpy(), rtol=1e-12, err_msg=str(kw))
        np.testing.assert_allclose(zt.grad.data, tz.grad.numpy(), rtol=1e-12, err_msg=str(kw))


# ----------------------------------------------------------------------------------- nll ----
def test_nll_loss_matches_numpy_and_module():
    logp = np_log_softmax(RNG.standard_normal((5, 4)))
    y = RNG.integers(0, 4, 5)
    expected = -logp[np.arange(5), y].mean()
    assert F.nll_loss(Tensor(logp), Tensor(y)).item() == pytest.approx(expected)
    assert nn.NLLLoss()(Tensor(logp), Tensor(y)).item() == pytest.approx(expected)
    w = np.array([1.0, 2.0, 0.5, 4.0])
    assert F.nll_loss(Tensor(logp), Tensor(y), weight=w).item() == pytest.approx(
        -(w[y] * logp[np.arange(5), y]).sum() / w[y].sum())
    np.testing.assert_allclose(F.nll_loss(Tensor(logp), Tensor(y), reduction="none").data,
                               -logp[np.arange(5), y])


def test_nll_loss_gradcheck():
    x, y = t64(RNG.standard_normal((4, 3))), Tensor(np.array([0, 2, 2, 1]))
    assert gradcheck(lambda u: F.nll_loss(u, y, weight=np.array([1.0, 2.0, 3.0])), [x])


def test_nll_loss_errors_name_the_function():
    with pytest.raises(IndexError, match=r"nll_loss.*\b3\b"):
        F.nll_loss(Tensor.zeros(2, 3), Tensor([0, 3]))
    with pytest.raises(ValueError, match=r"nll_loss.*\(2, 3\).*\(3,\)|nll_loss.*\(3,\).*\(2, 3\)"):
        F.nll_loss(Tensor.zeros(2, 3), Tensor([0, 1, 2]))


# ---------------------------------------------------------------------------- regularizers ----
class _TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(3, 2), nn.Linear(2, 1)

    def forward(self, x):
        return self.fc2(self.fc1(x).sigmoid())


def test_l2_penalty_on_a_module_with_and_without_biases():
    model = _TwoLayer()
    w2 = sum(float(np.sum(m.weight.data.astype(np.float64) ** 2)) for m in (model.fc1, model.fc2))
    b2 = sum(float(np.sum(m.bias.data.astype(np.float64) ** 2)) for m in (model.fc1, model.fc2))
    lam, n = 0.7, 20
    assert F.l2_penalty(model, lam, n).item() == pytest.approx(lam / (2 * n) * w2, rel=1e-6)
    assert F.l2_penalty(model, lam, n, include_bias=True).item() == pytest.approx(
        lam / (2 * n) * (w2 + b2), rel=1e-6)
    # named pairs work the same as the module
    assert F.l2_penalty(model.named_parameters(), lam, n).item() == pytest.approx(
        lam / (2 * n) * w2, rel=1e-6)


def test_l2_penalty_leaves_recurrent_biases_out():
    rnn = nn.RNN(2, 3)
    w2 = float(np.sum(rnn.weight_ih_l0.data.astype(np.float64) ** 2)
               + np.sum(rnn.weight_hh_l0.data.astype(np.float64) ** 2))
    assert F.l2_penalty(rnn, 1.0, 1).item() == pytest.approx(w2 / 2, rel=1e-6)


def test_l2_penalty_gradient_is_lam_theta_over_n():
    model = _TwoLayer()
    F.l2_penalty(model, lam=2.0, n=4).backward()
    np.testing.assert_allclose(model.fc1.weight.grad.data, model.fc1.weight.data * 0.5, rtol=1e-6)
    assert model.fc1.bias.grad is None  # left out


def test_l2_penalty_names_pick_the_bias_out_of_bare_pairs():
    theta = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([5.0]), requires_grad=True)
    F.l2_penalty([("theta", theta), ("bias", b)], lam=2.0, n=4).backward()
    np.testing.assert_allclose(theta.grad.data, 2.0 / 4 * theta.data)
    assert b.grad is None  # the intercept is not penalized
    assert F.l2_penalty([theta, b], lam=1.0, n=1).item() == pytest.approx(0.5 * 39)


def test_l2_penalty_of_bare_tensors_and_nothing():
    assert F.l2_penalty([Tensor([3.0, 4.0]), Tensor([1.0])], lam=1.0, n=1).item() == 13.0
    assert F.l2_penalty([], lam=1.0, n=1).item() == 0.0


@pytest.mark.parametrize("rho", [0.05, 0.3])
def test_kl_sparsity_matches_numpy(rho):
    a = RNG.uniform(0.0, 1.0, (8, 5))
    assert F.kl_sparsity(Tensor(a), rho).item() == pytest.approx(np_kl_sparsity(a, rho), rel=1e-10)


def test_kl_sparsity_is_zero_at_target_and_finite_at_zero_and_one():
    assert F.kl_sparsity(Tensor(np.full((3, 4), 0.05))).item() == pytest.approx(0.0, abs=1e-12)
    for dtype in (np.float32, np.float64):
        a = Tensor(np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5]], dtype), requires_grad=True)
        loss = F.kl_sparsity(a)
        assert np.isfinite(loss.item()) and loss.item() > 1.0
        assert loss.item() == pytest.approx(np_kl_sparsity(a.data.astype(np.float64), 0.05),
                                            rel=1e-3)
        loss.backward()
        assert np.all(np.isfinite(a.grad.data))


def test_kl_sparsity_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="rho"):
        F.kl_sparsity(Tensor([[0.5]]), rho=0.0)
    with pytest.raises(ValueError, match=r"\[0, 1\].*-0\.5"):  # e.g. tanh outputs
        F.kl_sparsity(Tensor([[-0.5, 0.2]]))


def test_kl_sparsity_gradcheck():
    a = t64(RNG.uniform(0.1, 0.9, (4, 3)))
    assert gradcheck(lambda u: F.kl_sparsity(u, 0.2), [a])


# --------------------------------------------------------------------------- torch (extra) ----
def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    z, y = RNG.standard_normal((6, 4)), RNG.integers(0, 4, 6)
    y[1] = -100
    w = np.array([0.5, 1.0, 2.0, 1.5])
    for kw in ({}, {"label_smoothing": 0.2}, {"weight": w}, {"weight": w, "label_smoothing": 0.3}):
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        for reduction in ("mean", "sum", "none"):
            ours = F.cross_entropy(Tensor(z), Tensor(y), reduction=reduction, **kw).data
            ref = tf.cross_entropy(torch.tensor(z), torch.tensor(y), reduction=reduction, **tkw)
            np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-10, err_msg=str(kw))
    q = RNG.dirichlet(np.ones(4), 6)
    for kw in ({}, {"label_smoothing": 0.2}, {"weight": w}):
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        ours = F.cross_entropy(Tensor(z), Tensor(q), **kw).item()
        ref = tf.cross_entropy(torch.tensor(z), torch.tensor(q), **tkw).item()
        assert ours == pytest.approx(ref, rel=1e-10), kw
    p, t = np.array([0.0, 1.0, 0.3, 0.9]), np.array([1.0, 0.0, 1.0, 0.0])
    assert F.binary_cross_entropy(Tensor(p), Tensor(t)).item() == pytest.approx(
        tf.binary_cross_entropy(torch.tensor(p), torch.tensor(t)).item())
    zz = np.array([1000.0, -1000.0, 0.3, -2.0])
    pw = np.array([2.0, 0.5, 1.0, 3.0])
    assert F.binary_cross_entropy_with_logits(Tensor(zz), Tensor(t), pos_weight=pw).item() == \
        pytest.approx(tf.binary_cross_entropy_with_logits(
            torch.tensor(zz), torch.tensor(t), pos_weight=torch.tensor(pw)).item())


def test_bce_with_logits_and_mse_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    z, yb = RNG.standard_normal((6, 4)), RNG.integers(0, 2, (6, 4)).astype(float)
    p = RNG.uniform(0.01, 0.99, (6, 4))
    pw = np.arange(1.0, 5.0)
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(Tensor(z), Tensor(yb), pos_weight=pw).data,
        tf.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(yb),
                                            pos_weight=torch.tensor(pw)).numpy(), rtol=1e-10)
    np.testing.assert_allclose(F.binary_cross_entropy(Tensor(p), Tensor(yb)).data,
                               tf.binary_cross_entropy(torch.tensor(p), torch.tensor(yb)).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(F.mse_loss(Tensor(p), Tensor(yb), reduction="sum").data,
                               tf.mse_loss(torch.tensor(p), torch.tensor(yb), reduction="sum").numpy(),
                               rtol=1e-10)


# ------------------------------------------------ regression and margin losses (issue 10) ----
def _pm(shape):
    return RNG.choice([-1, 1], shape)


def _margin_cases():
    """(name, our args, kwargs) for every new loss, with inputs that reach both branches."""
    a, b = RNG.standard_normal((6, 4)) * 2, RNG.standard_normal((6, 4)) * 2
    lp, q = np.log(RNG.dirichlet(np.ones(4), 6)), RNG.dirichlet(np.ones(4), 6)
    q[0, 1] = 0.0  # a zero probability: 0 * log 0 counts as 0
    return [
        ("l1_loss", (a, b), {}),
        ("smooth_l1_loss", (a, b), {"beta": 0.8}),
        ("smooth_l1_loss", (a, b), {"beta": 0.0}),
        ("huber_loss", (a, b), {"delta": 1.3}),
        ("kl_div", (lp, q), {}),
        ("kl_div", (lp, np.log(RNG.dirichlet(np.ones(4), 6))), {"log_target": True}),
        ("cosine_embedding_loss", (a, b, _pm(6)), {"margin": 0.2}),
        ("cosine_embedding_loss", (a[0], b[0], np.array(-1)), {"margin": -0.3}),
        ("margin_ranking_loss", (a[:, 0], b[:, 0], _pm(6).astype(float)), {"margin": 0.5}),
        ("hinge_embedding_loss", (a, _pm((6, 4))), {"margin": 1.5}),
        ("multi_margin_loss", (a, RNG.integers(0, 4, 6)), {}),
        ("multi_margin_loss", (a, RNG.integers(0, 4, 6)),
         {"p": 2, "margin": 0.7, "weight": np.array([0.5, 1.0, 2.0, 1.5])}),
        ("multi_margin_loss", (a[0], np.array(2)), {"margin": 2.0}),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_and_regression_losses_match_torch_values_and_gradients(reduction):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():  # kl_div's reduction="mean" warns, in both libraries
        warnings.simplefilter("ignore", UserWarning)
        for name, args, kw in _margin_cases():
            # NOTE: kl_div's target with a zero is held constant (its gradient there is -inf)
            grads = [x.dtype.kind == "f" and bool(np.all(x != 0)) for x in args]
            ours_in = [Tensor(x, requires_grad=g) for x, g in zip(args, grads)]
            theirs_in = [torch.tensor(x, requires_grad=g) for x, g in zip(args, grads)]
            tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
            ours = getattr(F, name)(*ours_in, reduction=reduction, **kw)
            ref = getattr(torch.nn.functional, name)(*theirs_in, reduction=reduction, **tkw)
            np.testing.assert_allclose(ours.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} {kw}")
            up = RNG.standard_normal(ours.shape)
            (ours * Tensor(up)).sum().backward()
            (ref * torch.tensor(up)).sum().backward()
            for o, t in zip(ours_in, theirs_in):
                if t.requires_grad and t.grad is not None:
                    np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9,
                                               atol=1e-12, err_msg=f"{name} {kw} gradient")


def test_margin_and_regression_losses_gradcheck():
    for name, args, kw in _margin_cases():
        floats = [i for i, x in enumerate(args) if x.dtype.kind == "f"]
        if name == "margin_ranking_loss":
            floats = floats[:2]  # the +-1 target is held fixed: a perturbed one is refused

        def fn(*xs, name=name, args=args, kw=kw, floats=floats):
            full = [Tensor(x) for x in args]
            for i, x in zip(floats, xs):
                full[i] = x
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return getattr(F, name)(*full, reduction="sum", **kw)

        if name == "kl_div" and not kw:
            floats = floats[:1]  # a zero probability in the target: differentiate the input only
        assert gradcheck(fn, [t64(args[i]) for i in floats]), (name, kw)


def test_kl_div_mean_warns_and_batchmean_is_the_divergence():
    lp, q = np.log(np.array([[0.5, 0.5], [0.9, 0.1]])), np.array([[0.25, 0.75], [0.5, 0.5]])
    per_sample = (q * (np.log(q) - lp)).sum(axis=1)
    with pytest.warns(UserWarning, match="batchmean"):
        mean = F.kl_div(Tensor(lp), Tensor(q))
    assert mean.item() == pytest.approx(per_sample.sum() / 4)
    assert F.kl_div(Tensor(lp), Tensor(q), reduction="batchmean").item() == pytest.approx(
        per_sample.mean())
    assert nn.KLDivLoss(reduction="batchmean")(Tensor(lp), Tensor(q)).item() == pytest.approx(
        per_sample.mean())


def test_kl_div_zero_target_is_finite_with_minus_inf_log_probability():
    lp = Tensor(np.array([[0.0, -np.inf]]), requires_grad=True)  # the model rules class 1 out
    out = F.kl_div(lp, Tensor(np.array([[1.0, 0.0]])), reduction="sum")
    assert out.item() == 0.0
    out.backward()
    np.testing.assert_array_equal(lp.grad.data, [[-1.0, 0.0]])


def test_cosine_embedding_loss_of_a_zero_vector_is_finite():
    x = Tensor(np.zeros((1, 3)), requires_grad=True)
    out = F.cosine_embedding_loss(x, Tensor(np.ones((1, 3))), Tensor([1]))
    assert out.item() == 1.0
    out.backward()
    assert np.all(np.isfinite(x.grad.data))


def test_new_losses_keep_float32():
    a, b = Tensor(np.ones((2, 3), np.float32)), Tensor(np.zeros((2, 3), np.float32))
    y = Tensor(np.array([1, -1]))
    outs = [F.l1_loss(a, b), F.smooth_l1_loss(a, b), F.huber_loss(a, b),
            F.kl_div(a, b, reduction="batchmean"), F.cosine_embedding_loss(a, b, y),
            F.margin_ranking_loss(a[:, 0], b[:, 0], y), F.hinge_embedding_loss(a, y.reshape(2, 1)
                                                                               * np.ones((1, 3), int)),
            F.multi_margin_loss(a, Tensor([0, 2]))]
    assert [o.dtype for o in outs] == [np.float32] * len(outs)


@pytest.mark.parametrize("call, message", [
    (lambda: F.smooth_l1_loss(Tensor.zeros(2), Tensor.zeros(2), beta=-1.0), "negative values for beta"),
    (lambda: F.huber_loss(Tensor.zeros(2), Tensor.zeros(2), delta=0.0), "non-positive values for delta"),
    (lambda: F.l1_loss(Tensor.zeros(2, 1), Tensor.zeros(2)), r"\(2, 1\).*\(2,\)"),
    (lambda: F.kl_div(Tensor.zeros(2), Tensor([0.5, -0.5])), "log_target=True"),
    (lambda: F.kl_div(Tensor.zeros(2), Tensor.zeros(2), reduction="avg"), "batchmean"),
    (lambda: F.kl_div(Tensor.zeros(2), Tensor([0.0, 1.0], requires_grad=True)), "-inf"),
    (lambda: F.hinge_embedding_loss(Tensor.zeros(2), Tensor([1, 0])), "1 or -1, got 0"),
    (lambda: F.margin_ranking_loss(Tensor.zeros(2), Tensor.zeros(2), Tensor([1])), "target shape"),
    (lambda: F.cosine_embedding_loss(Tensor.zeros(2, 3), Tensor.zeros(2, 3), Tensor([1, 2])),
     "1 or -1, got 2"),
    (lambda: F.cosine_embedding_loss(Tensor.zeros(1, 2, 3), Tensor.zeros(1, 2, 3), Tensor([1])),
     r"\(N, D\)"),
    (lambda: F.multi_margin_loss(Tensor.zeros(2, 3), Tensor([0, 3])), "out of bounds"),
    (lambda: F.multi_margin_loss(Tensor.zeros(2, 3), Tensor([0.0, 1.0])), "integers"),
    (lambda: F.multi_margin_loss(Tensor.zeros(2, 3), Tensor([0, 1]), p=3), "p == 1 and p == 2"),
    (lambda: F.multi_margin_loss(Tensor.zeros(2, 3), Tensor([0, 1]), weight=[1.0]), "weight"),
    (lambda: nn.MultiMarginLoss(p=0), "p == 1"),
    (lambda: nn.KLDivLoss(reduction="max"), "batchmean"),
])
def test_new_losses_refuse_bad_arguments_by_name(call, message):
    with pytest.raises((ValueError, TypeError, IndexError), match=message):
        call()
