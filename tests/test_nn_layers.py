"""Layers, activations, nn.init and nn.functional: values against the numpy references in
tests/reference.py, float64 gradcheck of every layer (the module cast with .double()), PyTorch's
parameter names/shapes/initialization, train/eval behaviour, reprs and error messages. PyTorch
comparisons at the end are extra (skipped without torch). The generic checks of every layer
(forward in both dtypes, gradcheck, gradgradcheck, torch) are rows of tests/layer_table.py."""

import math

import numpy as np
import pytest

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, nn
from tinygrad_lite.nn import init

from . import reference
from .reference import t64

RNG = np.random.default_rng(7)


def check_module_grads(module, x, **kwargs):
    """gradcheck of module(x) with respect to x and every parameter (module already float64)."""
    params = list(module.parameters())
    return gradcheck(lambda inp, *ps: module(inp), [x, *params], **kwargs)


# ---------------------------------------------------------------------------------- Linear ----
def test_linear_forward_matches_numpy_and_shapes_follow_pytorch():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data,
                               rtol=1e-6)
    x3 = RNG.standard_normal((2, 4, 5)).astype(np.float32)  # extra leading dimensions
    np.testing.assert_allclose(lin(Tensor(x3)).data, x3 @ lin.weight.data.T + lin.bias.data,
                               rtol=1e-5)
    no_bias = nn.Linear(5, 3, bias=False)
    assert no_bias.bias is None and no_bias.num_parameters() == 15
    np.testing.assert_allclose(no_bias(Tensor(x)).data, x @ no_bias.weight.data.T, rtol=1e-6)


def test_linear_init_is_pytorch_default_uniform():
    lin = nn.Linear(100, 60)
    bound = 1 / math.sqrt(100)
    w, b = lin.weight.data, lin.bias.data
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.98 * bound  # spread over the whole interval
    assert abs(w.mean()) < 0.01 and w.var() == pytest.approx(bound ** 2 / 3, rel=0.1)
    assert np.abs(b).max() > 0.8 * bound


def test_linear_init_is_seeded_by_the_package_generator():
    tg.manual_seed(3)
    a = nn.Linear(4, 2)
    tg.manual_seed(3)
    b = nn.Linear(4, 2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Linear(4, 2).weight.data)


def test_linear_gradcheck():
    lin = nn.Linear(3, 2).double()
    assert check_module_grads(lin, t64(RNG.standard_normal((4, 3))))
    assert check_module_grads(nn.Linear(3, 2, bias=False).double(), t64(RNG.standard_normal(3)))


def test_linear_of_a_single_vector_values_and_gradients():
    # Tensor.linear is one MatMul with a transposed weight; its vector branch once ignored the flag
    from tinygrad_lite.ops import MatMul

    x, w, b = t64(RNG.standard_normal(3)), t64(RNG.standard_normal((2, 3))), t64(RNG.standard_normal(2))
    np.testing.assert_allclose(x.linear(w, b).data, w.data @ x.data + b.data, rtol=1e-12)
    assert gradcheck(lambda a, ww, bb: a.linear(ww, bb), [x, w, b])
    assert tg.gradgradcheck(lambda a, ww: a.linear(ww), [x, w])
    m, v = t64(RNG.standard_normal((3, 4))), t64(RNG.standard_normal(3))
    np.testing.assert_allclose(MatMul.apply(m, v, transpose_a=True).data, m.data.T @ v.data,
                               rtol=1e-12)
    assert gradcheck(lambda mm, vv: MatMul.apply(mm, vv, transpose_a=True), [m, v])
    assert gradcheck(lambda vv, mm: MatMul.apply(vv, mm, transpose_b=True), [t64(RNG.standard_normal(4)), m])
    assert tg.gradgradcheck(lambda mm, vv: MatMul.apply(mm, vv, transpose_a=True), [m, v])


def test_linear_wrong_width_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*in_features=3|in_features=3.*\(4, 5\)") as e:
        nn.Linear(3, 2)(Tensor.zeros(4, 5))
    assert "(2, 3)" in str(e.value)  # the weight's shape


def test_functional_linear_matches_module():
    lin = nn.Linear(3, 2)
    x = Tensor(RNG.standard_normal((2, 3)).astype(np.float32))
    np.testing.assert_array_equal(F.linear(x, lin.weight, lin.bias).data, lin(x).data)
    np.testing.assert_array_equal(F.linear(x, lin.weight).data, (x @ lin.weight.T).data)


# ---------------------------------------------------------------------------------- Conv2d ----
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((2, 1), (0, 2)), (3, 2)])
def test_conv2d_forward_matches_numpy(stride, padding):
    conv = nn.Conv2d(2, 3, kernel_size=(3, 2), stride=stride, padding=padding)
    x = RNG.standard_normal((2, 2, 7, 6)).astype(np.float32)
    ref = reference.conv2d(x.astype(np.float64), conv.weight.data.astype(np.float64),
                    conv.bias.data.astype(np.float64), conv.stride, conv.padding)
    out = conv(Tensor(x))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.data, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(F.conv2d(Tensor(x), conv.weight, conv.bias, stride, padding).data,
                               out.data)


def test_conv2d_init_bound_and_unbatched_input():
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / math.sqrt(4 * 9)
    assert conv.weight.shape == (8, 4, 3, 3) and np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound  # fan_in, not a smaller bound
    assert np.abs(conv.bias.data).max() <= bound
    x = RNG.standard_normal((4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(conv(Tensor(x)).data, conv(Tensor(x[None])).data[0], rtol=1e-6)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (2, 0)])
def test_conv2d_gradcheck(stride, padding):
    conv = nn.Conv2d(2, 2, 3, stride=stride, padding=padding).double()
    x = t64(RNG.standard_normal((2, 2, 5, 5)))
    assert check_module_grads(conv, x, max_full=100)


def test_conv2d_repr_is_pytorchs():
    assert repr(nn.Conv2d(1, 4, 3, padding=1)) == \
        "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv2d(2, 4, (3, 5), stride=2, bias=False)) == \
        "Conv2d(2, 4, kernel_size=(3, 5), stride=(2, 2), bias=False)"


def test_conv2d_kernel_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="pair"):
        nn.Conv2d(1, 1, (3, 3, 3))


def test_conv2d_padding_valid_and_same_strings():
    same = nn.Conv2d(2, 3, (3, 5), padding="same")
    assert same.padding == (1, 2) and same(Tensor.zeros(1, 2, 6, 7)).shape == (1, 3, 6, 7)
    assert nn.Conv2d(2, 3, 3, padding="valid").padding == (0, 0)
    with pytest.raises(ValueError, match="same"):
        nn.Conv2d(2, 3, 4, padding="same")
    with pytest.raises(ValueError, match="same"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="'full'"):
        nn.Conv2d(2, 3, 3, padding="full")


def test_conv2d_without_bias_and_wrong_channels():
    conv = nn.Conv2d(3, 2, 2, bias=False)
    assert conv.bias is None and [n for n, _ in conv.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"\(1, 2, 4, 4\)"):
        conv(Tensor.zeros(1, 2, 4, 4))


# ------------------------------------------------------------------------------------ pools ----
@pytest.mark.parametrize("kind,layer,function", [("max", nn.MaxPool2d, F.max_pool2d),
                                                   ("avg", nn.AvgPool2d, F.avg_pool2d)])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1))])
def test_pool2d_matches_numpy_and_gradchecks(kind, layer, function, kernel, stride, padding):
    pool = layer(kernel, stride, padding)
    x = RNG.standard_normal((2, 2, 6, 7))
    ref = reference.pool2d(x, kernel, stride, padding, kind)  # avg: padded zeros count, as PyTorch
    np.testing.assert_allclose(pool(Tensor(x)).data, ref, rtol=1e-12)
    np.testing.assert_allclose(function(Tensor(x), kernel, stride, padding).data, ref, rtol=1e-12)
    assert gradcheck(lambda t: pool(t), [t64(x)])


def test_max_pool2d_gradient_goes_to_the_maximum():
    x = Tensor(np.array([[[[1.0, 5.0], [3.0, 2.0]]]]), requires_grad=True)
    nn.MaxPool2d(2)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_pool_padding_over_half_the_kernel_is_refused_like_pytorch():
    # it once produced windows lying wholly in the padding: -inf outputs from max pooling
    for make in (lambda: nn.MaxPool2d(2, 1, 2), lambda: nn.AvgPool2d(3, padding=2),
                 lambda: F.max_pool2d(Tensor.zeros(1, 1, 4, 4), 2, 1, 2),
                 lambda: F.avg_pool2d(Tensor.zeros(1, 1, 4, 4), (2, 4), 1, (0, 3))):
        with pytest.raises(ValueError, match="half of kernel_size"):
            make()
    with pytest.raises(ValueError, match="positive"):
        nn.MaxPool2d(2, stride=0)
    out = nn.MaxPool2d(3, 1, 1)(Tensor(RNG.standard_normal((1, 1, 3, 3))))  # the largest allowed
    assert np.all(np.isfinite(out.data))


def test_layers_accept_numpy_integers_and_lists_for_sizes():
    conv = nn.Conv2d(1, 2, np.int64(3), stride=np.int32(2), padding=[1, 0])
    assert conv.kernel_size == (3, 3) and conv.stride == (2, 2) and conv.padding == (1, 0)
    assert conv(Tensor.zeros(1, 1, 5, 5)).shape == (1, 2, 3, 2)


# ---------------------------------------------------------------------------------- Flatten ----
def test_flatten_shapes_values_and_gradient():
    x = RNG.standard_normal((2, 3, 4, 5))
    np.testing.assert_array_equal(nn.Flatten()(Tensor(x)).data, x.reshape(2, 60))
    assert nn.Flatten(0)(Tensor(x)).shape == (120,)
    assert nn.Flatten(1, 2)(Tensor(x)).shape == (2, 12, 5)
    assert nn.Flatten(-2)(Tensor(x)).shape == (2, 3, 20)
    assert gradcheck(lambda t: nn.Flatten()(t) * Tensor(np.arange(6.0)), [t64(x[:, :1, :2, :3])])


# ---------------------------------------------------------------------------------- Dropout ----
def test_dropout_is_inverted_in_training_and_identity_in_eval():
    drop = nn.Dropout(0.3)
    x = Tensor(np.ones((100, 100), np.float32), requires_grad=True)
    out = drop(x)
    kept = out.data != 0
    assert 0.27 < 1 - kept.mean() < 0.33
    np.testing.assert_allclose(out.data[kept], 1 / 0.7, rtol=1e-6)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7, rtol=1e-6)
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)


def test_dropout_in_eval_or_with_p_zero_returns_its_input():
    x = Tensor(RNG.standard_normal((3, 4)))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    tg.manual_seed(5)
    a = nn.Dropout(0.5)(Tensor.ones(50)).data
    assert not np.array_equal(nn.Dropout(0.5)(Tensor.ones(50)).data, a)  # a fresh draw each call


def test_dropout_edge_probabilities_and_seeding():
    x = Tensor(np.arange(1.0, 7.0, dtype=np.float32))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros(6))
    tg.manual_seed(11)
    a = nn.Dropout(0.5)(x).data
    tg.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, a)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).data, x.data)
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)


# -------------------------------------------------------------------------------- BatchNorm ----
@pytest.mark.parametrize("cls,shape,axes", [
    (nn.BatchNorm1d, (6, 3), (0,)), (nn.BatchNorm1d, (4, 3, 5), (0, 2)),
    (nn.BatchNorm2d, (2, 3, 4, 5), (0, 2, 3))])
def test_batch_norm_train_forward_and_running_statistics(cls, shape, axes):
    bn = cls(3)
    bn.weight.data = np.array([1.0, 2.0, 0.5], np.float32)
    bn.bias.data = np.array([0.0, -1.0, 3.0], np.float32)
    x1 = RNG.standard_normal(shape) * 2 + 1
    x2 = RNG.standard_normal(shape) - 3
    out = bn(Tensor(x1))
    np.testing.assert_allclose(out.data, reference.batch_norm(x1, axes, bn.weight.data, bn.bias.data),
                               rtol=1e-6, atol=1e-6)
    bn(Tensor(x2))
    n = x1.size // 3
    m1, m2 = x1.mean(axis=axes), x2.mean(axis=axes)
    v1, v2 = x1.var(axis=axes) * n / (n - 1), x2.var(axis=axes) * n / (n - 1)  # unbiased
    np.testing.assert_allclose(bn.running_mean.data, 0.9 * (0.1 * m1) + 0.1 * m2, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.9 * (0.9 + 0.1 * v1) + 0.1 * v2, rtol=1e-5)
    assert int(bn.num_batches_tracked.data) == 2
    assert bn.running_mean.dtype == np.float32  # float64 inputs do not change buffer dtypes
    # eval normalizes with the running statistics
    bn.eval()
    rs = [1, 3] + [1] * (len(shape) - 2)
    expected = ((x1 - bn.running_mean.data.reshape(rs)) / np.sqrt(bn.running_var.data.reshape(rs)
                + 1e-5) * bn.weight.data.reshape(rs) + bn.bias.data.reshape(rs))
    np.testing.assert_allclose(bn(Tensor(x1)).data, expected, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.data) == 2  # eval does not update


def test_batch_norm_eval_uses_set_running_stats():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.data = np.array([1.0, -2.0], np.float32)
    bn.running_var.data = np.array([4.0, 0.25], np.float32)
    bn.weight.data = np.array([2.0, 1.0], np.float32)
    bn.eval()
    x = RNG.standard_normal((5, 2)).astype(np.float32)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0]
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.data) == 0  # eval does not touch the statistics
    np.testing.assert_array_equal(bn.running_mean.data, [1.0, -2.0])


def test_batch_norm_repr_is_pytorchs():
    assert repr(nn.BatchNorm1d(16)) == \
        "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


def test_batch_norm_state_dict_holds_buffers():
    bn = nn.BatchNorm2d(2)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    bn(Tensor(RNG.standard_normal((2, 2, 3, 3)).astype(np.float32)))
    other = nn.BatchNorm2d(2)
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other.running_var.data, bn.running_var.data)
    assert int(other.num_batches_tracked.data) == 1


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    xs = [RNG.standard_normal((5, 2)) for _ in range(3)]
    for x in xs:
        bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in xs], axis=0),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, np.mean([x.var(0, ddof=1) for x in xs], axis=0),
                               rtol=1e-5)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (5, 3)), (nn.BatchNorm2d, (2, 3, 3, 2))])
def test_batch_norm_gradcheck_in_train_and_eval(cls, shape):
    bn = cls(3).double()
    bn.weight.data = RNG.uniform(0.5, 2.0, 3)
    bn.bias.data = RNG.standard_normal(3)
    x = t64(RNG.standard_normal(shape))
    assert check_module_grads(bn, x)
    bn.running_mean.data = RNG.standard_normal(3)
    bn.running_var.data = RNG.uniform(0.5, 2.0, 3)
    bn.eval()
    assert check_module_grads(bn, x)


def test_batch_norm_without_running_stats_or_affine():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert bn.num_parameters() == 0 and bn.state_dict() == {}
    x = RNG.standard_normal((6, 2))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, rtol=1e-6)
    np.testing.assert_allclose(bn.eval()(Tensor(x)).data, expected, rtol=1e-6)  # batch stats


def test_batch_norm_bad_inputs_are_explained():
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        nn.BatchNorm1d(3)(Tensor.zeros(4, 5))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        nn.BatchNorm2d(3)(Tensor.zeros(4, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor.zeros(1, 3))
    assert nn.BatchNorm1d(3).eval()(Tensor.ones(1, 3)).shape == (1, 3)  # fine in eval


# -------------------------------------------------------------------------------- Embedding ----
def test_embedding_lookup_and_gradient_with_repeated_indices():
    emb = nn.Embedding(5, 3)
    assert emb.weight.shape == (5, 3)
    idx = np.array([[1, 3, 1], [1, 0, 4]])
    out = emb(Tensor(idx))
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    upstream = RNG.standard_normal((2, 3, 3)).astype(np.float32)
    out.backward(Tensor(upstream))
    expected = np.zeros((5, 3), np.float32)
    np.add.at(expected, idx, upstream)
    np.testing.assert_allclose(emb.weight.grad.data, expected, rtol=1e-6)
    assert np.all(emb.weight.grad.data[2] == 0)  # row 2 unused
    np.testing.assert_allclose(emb.weight.grad.data[1], upstream[0, 0] + upstream[0, 2]
                               + upstream[1, 0], rtol=1e-6)


def test_embedding_init_gradcheck_and_errors():
    big = nn.Embedding(200, 50)
    assert abs(big.weight.data.mean()) < 0.02 and big.weight.data.std() == pytest.approx(1, rel=0.03)
    emb = nn.Embedding(4, 2).double()
    idx = np.array([0, 2, 2, 3, 0])
    assert gradcheck(lambda w: emb(idx) * Tensor(np.arange(10.0).reshape(5, 2)), [emb.weight])
    assert emb([1, 1]).shape == (2, 2)
    with pytest.raises(IndexError, match=r"\b4\b"):
        emb(Tensor([0, 4]))
    with pytest.raises(TypeError, match="integer"):
        emb(Tensor([0.0, 1.0]))


def test_embedding_padding_idx_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(4, 3, padding_idx=1)
    assert not emb.weight.data[1].any() and emb.weight.data[0].any()
    emb.weight.data[1] = 5.0  # a user-set padding vector is returned as it is
    idx = np.array([[1, 2], [1, 1]])
    out = emb(Tensor(idx))
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[1], 0.0)
    np.testing.assert_array_equal(emb.weight.grad.data[2], 1.0)
    assert nn.Embedding(4, 3, padding_idx=-1).padding_idx == 3
    assert repr(emb) == "Embedding(4, 3, padding_idx=1)"
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 3, padding_idx=4)


# ------------------------------------------------------------------------------ activations ----
def _softplus(x, beta=1.0):
    return np.logaddexp(0, beta * x) / beta


ACTIVATIONS = [  # (module, functional form, numpy reference)
    (nn.Sigmoid(), F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), F.tanh, np.tanh),
    (nn.ReLU(), F.relu, lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.1), lambda t: F.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (nn.LeakyReLU(), F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.ELU(0.7), lambda t: F.elu(t, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.Softplus(), F.softplus, _softplus),
    (nn.Softplus(beta=2.0), lambda t: F.softplus(t, beta=2.0), lambda x: _softplus(x, 2.0)),
    (nn.Softmax(dim=1), lambda t: F.softmax(t, dim=1),
     lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    (nn.Softmax(dim=0), lambda t: F.softmax(t, dim=0),
     lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda t: F.log_softmax(t, dim=1),
     lambda x: x - np.log(np.exp(x).sum(axis=1, keepdims=True))),
    (nn.RReLU().eval(), F.rrelu, lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2)),
    (nn.PReLU(), lambda t: F.prelu(t, Tensor([0.25])), lambda x: np.where(x > 0, x, 0.25 * x)),
]


def _away_from_kinks(shape):
    x = RNG.uniform(0.2, 3.0, shape) * RNG.choice([-1.0, 1.0], shape)
    return x


@pytest.mark.parametrize("module,fn,ref", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activation_values_match_numpy(module, fn, ref):
    x = _away_from_kinks((3, 4))
    np.testing.assert_allclose(module(Tensor(x)).data, ref(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(Tensor(x)).data, ref(x), rtol=1e-12, atol=1e-14)
    x32 = Tensor(x.astype(np.float32))
    assert module(x32).dtype == np.float32


@pytest.mark.parametrize("module,fn,ref", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activation_gradcheck(module, fn, ref):
    module.double()
    assert gradcheck(lambda t: module(t), [t64(_away_from_kinks((3, 4)))])


def test_activation_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Softplus(beta=2.0)) == "Softplus(beta=2.0, threshold=20.0)"
    assert repr(nn.LogSoftmax(dim=0)) == "LogSoftmax(dim=0)"


def test_activations_are_finite_at_extremes():
    x = Tensor(np.array([-1000.0, 1000.0], np.float32), requires_grad=True)
    for act in (nn.Sigmoid(), nn.Tanh(), nn.ELU(), nn.Softplus(), nn.LogSoftmax(dim=0),
                nn.Softmax(dim=0)):
        out = act(x)
        assert np.all(np.isfinite(out.data)), act
        out.sum().backward()
        assert np.all(np.isfinite(x.grad.data)), act
        x.grad = None
    np.testing.assert_allclose(F.elu(Tensor([-1000.0])).data, [-1.0])
    np.testing.assert_allclose(F.softplus(Tensor([1000.0, -1000.0])).data, [1000.0, 0.0])


def test_elu_gradient_at_zero_is_alpha():
    x = Tensor(np.array([0.0]), requires_grad=True)
    F.elu(x, alpha=0.5).sum().backward()
    assert x.grad.item() == pytest.approx(0.5)


def test_leaky_relu_prelu_rrelu_gradient_at_zero_is_the_slope_as_in_pytorch():
    x = Tensor(np.zeros(3), requires_grad=True)
    F.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.1)
    x.grad = None
    nn.LeakyReLU(0.2)(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.2)
    x.grad = None
    F.prelu(x, Tensor(np.array([0.3]))).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.3)
    x.grad = None
    nn.RReLU(0.1, 0.3).eval()(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.2)
    x.grad = None
    nn.RReLU(0.1, 0.3)(x).sum().backward()
    assert np.all((x.grad.data >= 0.1) & (x.grad.data <= 0.3))


def test_prelu_single_slope_gradient():
    act = nn.PReLU(init=0.2).double()
    x = RNG.standard_normal((3, 4, 2))
    up = RNG.standard_normal((3, 4, 2))
    xt = Tensor(x, requires_grad=True)
    act(xt).backward(Tensor(up))
    assert act.weight.shape == (1,)
    np.testing.assert_allclose(act.weight.grad.data, [np.sum(up * np.minimum(x, 0))], rtol=1e-12)
    slope = act.weight.data[0]  # float32 0.2, cast to float64
    np.testing.assert_allclose(xt.grad.data, up * np.where(x > 0, 1.0, slope), rtol=1e-12)
    assert gradcheck(lambda t, w: act(t), [t64(_away_from_kinks((2, 3))), act.weight])


def test_prelu_per_channel_slopes_and_gradient():
    act = nn.PReLU(num_parameters=3).double()
    act.weight.data = np.array([0.1, 0.2, 0.3])
    x = RNG.standard_normal((2, 3, 4, 5))
    up = RNG.standard_normal((2, 3, 4, 5))
    out = act(Tensor(x))
    slopes = np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out.data, np.where(x > 0, x, slopes * x), rtol=1e-12)
    act(Tensor(x)).backward(Tensor(up))
    np.testing.assert_allclose(act.weight.grad.data, np.sum(up * np.minimum(x, 0), axis=(0, 2, 3)),
                               rtol=1e-12)
    x2 = t64(_away_from_kinks((2, 3)))  # (N, C) input
    assert gradcheck(lambda t, w: act(t), [x2, act.weight])
    with pytest.raises(ValueError, match=r"3.*\(2, 4\)"):
        act(Tensor.zeros(2, 4))


def test_rrelu_training_uses_a_random_slope_per_element():
    act = nn.RReLU(0.1, 0.3)
    x = Tensor(-np.ones((50, 40)), requires_grad=True)
    out = act(x)
    slopes = out.data / x.data
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert len(np.unique(slopes)) > 1000  # one draw per element
    assert abs(slopes.mean() - 0.2) < 0.01
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, slopes)  # the gradient uses the same slopes
    pos = Tensor(np.array([0.5, 2.0]))
    np.testing.assert_array_equal(act(pos).data, [0.5, 2.0])
    tg.manual_seed(4)
    a = act(x).data
    tg.manual_seed(4)
    np.testing.assert_array_equal(act(x).data, a)


def test_rrelu_eval_uses_the_mean_slope():
    act = nn.RReLU(0.1, 0.3).eval()
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    np.testing.assert_allclose(act(Tensor(x)).data, np.where(x >= 0, x, 0.2 * x))
    np.testing.assert_array_equal(act(Tensor(x)).data, act(Tensor(x)).data)
    np.testing.assert_allclose(F.rrelu(Tensor(x), 0.1, 0.3, training=False).data,
                               np.where(x >= 0, x, 0.2 * x))
    with pytest.raises(ValueError, match="lower"):
        nn.RReLU(0.5, 0.1)


# ------------------------------------------------------------------------------------- init ----
def test_init_uniform_normal_constant():
    t = Tensor.zeros(200, 100)
    assert init.uniform_(t, -2.0, 3.0) is t
    assert t.data.min() >= -2.0 and t.data.max() < 3.0 and t.dtype == np.float32
    assert t.data.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(t, mean=1.0, std=0.5)
    assert t.data.mean() == pytest.approx(1.0, abs=0.02)
    assert t.data.std() == pytest.approx(0.5, rel=0.02)
    init.zeros_(t)
    assert not t.data.any()
    init.ones_(t)
    assert np.all(t.data == 1)
    init.constant_(t, 0.3)
    assert np.allclose(t.data, 0.3)
    t64_ = Tensor(np.zeros(5))
    init.uniform_(t64_)
    assert t64_.dtype == np.float64


def test_init_xavier_bounds_and_std():
    w = Tensor.zeros(300, 200)
    a = math.sqrt(6 / (200 + 300))
    init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= a and np.abs(w.data).max() > 0.99 * a
    init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.data).max() <= 2 * a and np.abs(w.data).max() > 1.98 * a
    init.xavier_normal_(w, gain=1.5)
    assert w.data.std() == pytest.approx(1.5 * math.sqrt(2 / 500), rel=0.02)


def test_init_kaiming_bounds_and_std_with_conv_fans():
    w = Tensor.zeros(64, 16, 3, 3)  # fan_in 144, fan_out 576
    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 144)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    init.kaiming_uniform_(w, a=math.sqrt(5))  # PyTorch's Linear/Conv default: 1/sqrt(fan_in)
    assert np.abs(w.data).max() <= 1 / 12 and np.abs(w.data).max() > 0.99 / 12
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 576), rel=0.02)
    init.kaiming_normal_(w, nonlinearity="tanh")
    assert w.data.std() == pytest.approx(5 / 3 / 12, rel=0.02)
    with pytest.raises(ValueError, match="fan"):
        init.kaiming_uniform_(Tensor.zeros(5))
    with pytest.raises(ValueError, match="fan_sideways"):
        init.kaiming_normal_(w, mode="fan_sideways")


def test_init_keeps_parameters_trainable_and_float32():
    p = nn.Parameter(Tensor.zeros(2, 3))
    assert init.constant_(p, 0.5) is p and np.all(p.data == 0.5) and p.dtype == np.float32
    init.zeros_(p)
    assert not p.data.any() and p.requires_grad


def test_init_xavier_normal_and_kaiming_leaky_bound_with_fans():
    w = Tensor.zeros(16, 8, 3, 3)  # fan_in = 8*9 = 72, fan_out = 16*9 = 144
    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2 / (72 + 144)), rel=0.05)
    v = Tensor.zeros(200, 300)
    init.kaiming_uniform_(v, a=0.2, nonlinearity="leaky_relu")
    bound = math.sqrt(2 / (1 + 0.04)) * math.sqrt(3 / 300)
    assert np.abs(v.data).max() <= bound and np.abs(v.data).max() > 0.95 * bound
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(Tensor.zeros(5))


def test_init_is_seeded_through_the_package_generator_and_generator_argument():
    def draw():
        out = []
        for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
                   init.kaiming_uniform_, init.kaiming_normal_):
            out.append(fn(Tensor.zeros(4, 3)).data.copy())
        return out

    tg.manual_seed(21)
    first = draw()
    tg.manual_seed(21)
    for a, b in zip(first, draw()):
        np.testing.assert_array_equal(a, b)
    x = init.normal_(Tensor.zeros(3), generator=5).data.copy()
    np.testing.assert_array_equal(init.normal_(Tensor.zeros(3), generator=5).data, x)
    np.testing.assert_array_equal(
        init.normal_(Tensor.zeros(3), generator=np.random.default_rng(5)).data, x)


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def test_functional_one_hot_and_identity():
    np.testing.assert_array_equal(F.one_hot(Tensor([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])
    x = Tensor([1.0, 2.0])
    assert nn.Identity()(x) is x


# --------------------------------------------------------------------------- torch (extra) ----
def _torch():
    return pytest.importorskip("torch")


def test_linear_and_conv2d_load_torch_state_dicts_and_agree():
    torch = _torch()
    tl = torch.nn.Linear(5, 3)
    lin = nn.Linear(5, 3)
    lin.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lin(Tensor(x)).data, tl(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    tc = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1)
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    xc = RNG.standard_normal((2, 2, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(conv(Tensor(xc)).data, tc(torch.tensor(xc)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2])
def test_batch_norm_matches_torch_in_train_and_eval(dims):
    torch = _torch()
    tb = (torch.nn.BatchNorm1d if dims == 1 else torch.nn.BatchNorm2d)(3)
    ours = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(3)
    with torch.no_grad():
        tb.weight.uniform_(0.5, 1.5)
        tb.bias.uniform_(-1, 1)
    ours.load_state_dict({k: v.detach().numpy() for k, v in tb.state_dict().items()})
    shape = (8, 3) if dims == 1 else (4, 3, 2, 3)
    for _ in range(3):
        x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
        np.testing.assert_allclose(ours(Tensor(x)).data, tb(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    for k, v in tb.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-5, err_msg=k)
    ours.eval()
    tb.eval()
    np.testing.assert_allclose(ours(Tensor(x)).data, tb(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_pools_and_activations_match_torch():
    torch = _torch()
    tf = torch.nn.functional
    x = RNG.standard_normal((2, 3, 7, 6))
    tx = torch.tensor(x)
    np.testing.assert_allclose(F.max_pool2d(Tensor(x), 3, 2, 1).data,
                               tf.max_pool2d(tx, 3, 2, 1).numpy())
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), 3, 2, 1).data,
                               tf.avg_pool2d(tx, 3, 2, 1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.elu(Tensor(x), 0.7).data, tf.elu(tx, 0.7).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.softplus(Tensor(x), beta=2.0).data,
                               tf.softplus(tx, beta=2.0).numpy(), rtol=1e-9)
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(F.prelu(Tensor(x), Tensor(w)).data,
                               tf.prelu(tx, torch.tensor(w)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(nn.RReLU(0.1, 0.4).eval()(Tensor(x)).data,
                               torch.nn.RReLU(0.1, 0.4).eval()(tx).numpy(), rtol=1e-12)
    np.testing.assert_allclose(nn.RReLU().eval()(Tensor(x)).data,
                               torch.nn.RReLU().eval()(tx).numpy(), rtol=1e-12)


def test_embedding_padding_idx_and_slopes_at_zero_match_torch():
    torch = _torch()
    te = torch.nn.Embedding(5, 2, padding_idx=0)
    emb = nn.Embedding(5, 2, padding_idx=0)
    emb.load_state_dict({k: v.detach().numpy() for k, v in te.state_dict().items()})
    idx = np.array([0, 3, 0, 4])
    te(torch.tensor(idx)).sum().backward()
    emb(Tensor(idx)).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data, te.weight.grad.numpy())
    x = np.array([-1.0, 0.0, 2.0])
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.leaky_relu(tx, 0.1).sum().backward()
    ours = Tensor(x, requires_grad=True)
    F.leaky_relu(ours, 0.1).sum().backward()
    np.testing.assert_allclose(ours.grad.data, tx.grad.numpy())


def test_inplace_flags_of_pytorch_code_are_accepted_and_leave_the_input_alone():
    x = Tensor(np.array([-1.0, 2.0]))
    for act, ref in ((nn.ReLU(inplace=True), [0.0, 2.0]), (nn.LeakyReLU(0.5, inplace=True), [-0.5, 2.0]),
                     (nn.ELU(inplace=True), [math.expm1(-1.0), 2.0]),
                     (nn.RReLU(0.2, 0.4, inplace=True).eval(), [-0.3, 2.0]),
                     (nn.Dropout(0.5, inplace=True).eval(), [-1.0, 2.0])):
        np.testing.assert_allclose(act(x).data, ref, rtol=1e-12)
        assert x.tolist() == [-1.0, 2.0]
        assert "inplace=True" in repr(act)
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.Dropout()) == "Dropout(p=0.5)"
    assert F.relu(x, inplace=True).tolist() == [0.0, 2.0]
    assert F.dropout(x, 0.5, False, True).tolist() == [-1.0, 2.0]
    assert F.leaky_relu(x, 0.5, True).tolist() == [-0.5, 2.0]
    assert F.rrelu(x, 0.2, 0.4, False, True).tolist() == pytest.approx([-0.3, 2.0])


def test_torch_conv_batchnorm_pool_linear_stack_loads_and_agrees_in_train_and_eval():
    torch = _torch()
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, stride=2, padding=1), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                             torch.nn.Linear(4 * 2 * 2, 3))
    model = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 3))
    tsd = tm.state_dict()
    assert list(model.state_dict()) == list(tsd)
    assert all(model.state_dict()[k].shape == tuple(v.shape) for k, v in tsd.items())
    model.load_state_dict({k: v.numpy() for k, v in tsd.items()})
    x = RNG.standard_normal((3, 2, 8, 8)).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(tm, mode)()
        getattr(model, mode)()
        np.testing.assert_allclose(model(Tensor(x)).data, tm(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model[1].running_var.data, tm[1].running_var.numpy(), rtol=1e-5)
    assert int(model[1].num_batches_tracked.data) == int(tm[1].num_batches_tracked)
