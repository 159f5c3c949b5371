"""nn layers, activations and nn.init: forward against numpy references written here, float64
gradcheck at small sizes, PyTorch's parameter names/shapes/initialization, train/eval behaviour and
error messages. PyTorch comparisons are extra (skipped without torch)."""

import math

import numpy as np
import pytest

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, nn
from tinygrad_lite.nn import init

RNG = np.random.default_rng(7)


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def check_module_grads(module, *shape, low=-1.0, high=1.0):
    """gradcheck of a float64 copy of module, with respect to its input and every parameter."""
    module = module.double()
    x = t64(RNG.uniform(low, high, shape))
    params = list(module.parameters())
    assert gradcheck(lambda x, *ps: module(x), [x, *params])


# ----------------------------------------------------------------------------- numpy references ----
def conv_ref(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # (n, c, kh, kw)
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


def pool_ref(x, k, stride, padding, reduce, pad_value):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                constant_values=pad_value)
    n, c, h, w = xp.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k],
                                     axis=(2, 3))
    return out


def batchnorm_ref(x, axes, w, b, eps=1e-5):
    shape = [1] * x.ndim
    shape[1] = -1
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


# ------------------------------------------------------------------------------------- Linear ----
def test_linear_forward_matches_numpy_and_shapes_follow_pytorch():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data,
                               rtol=1e-6)
    x3 = RNG.standard_normal((2, 4, 5)).astype(np.float32)  # leading dimensions pass through
    assert lin(Tensor(x3)).shape == (2, 4, 3)
    assert nn.Linear(5, 3, bias=False).bias is None
    assert [n for n, _ in nn.Linear(5, 3, bias=False).named_parameters()] == ["weight"]


def test_linear_init_is_pytorchs_uniform_bound():
    lin = nn.Linear(100, 200)
    bound = 1 / math.sqrt(100)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.95 * bound  # really spread over the interval
    assert abs(lin.weight.data.mean()) < 0.01
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_linear_init_is_reproducible_with_manual_seed():
    tg.manual_seed(3)
    a = nn.Linear(4, 4).weight.data.copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, a)


def test_linear_gradcheck():
    check_module_grads(nn.Linear(3, 2), 4, 3)
    check_module_grads(nn.Linear(3, 2, bias=False), 2, 3)


def test_linear_wrong_width_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*in_features=3|in_features=3.*\(4, 5\)") as e:
        nn.Linear(3, 2)(Tensor.zeros(4, 5))
    assert "(2, 3)" in str(e.value)  # the weight's shape


# ------------------------------------------------------------------------------------- Conv2d ----
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_conv2d_matches_numpy(stride, padding):
    conv = nn.Conv2d(2, 3, kernel_size=(3, 2), stride=stride, padding=padding)
    assert conv.weight.shape == (3, 2, 3, 2) and conv.bias.shape == (3,)
    x = RNG.standard_normal((2, 2, 6, 5)).astype(np.float32)
    expected = conv_ref(x, conv.weight.data, conv.bias.data, conv.stride, conv.padding)
    np.testing.assert_allclose(conv(Tensor(x)).data, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_without_bias_and_unbatched_input():
    conv = nn.Conv2d(1, 2, 2, bias=False)
    x = RNG.standard_normal((1, 4, 4)).astype(np.float32)
    expected = conv_ref(x[None], conv.weight.data, None, (1, 1), (0, 0))[0]
    np.testing.assert_allclose(conv(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_conv2d_init_bound_uses_fan_in():
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / math.sqrt(4 * 3 * 3)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound


def test_conv2d_gradcheck_with_stride_and_padding():
    check_module_grads(nn.Conv2d(2, 2, kernel_size=3, stride=2, padding=1), 1, 2, 5, 4)


def test_conv2d_wrong_channels_is_a_clear_error():
    with pytest.raises(ValueError, match=r"in_channels=3.*\(2, 1, 5, 5\)"):
        nn.Conv2d(3, 4, 3)(Tensor.zeros(2, 1, 5, 5))


def test_conv2d_repr_is_pytorchs():
    assert repr(nn.Conv2d(1, 4, 3, padding=1)) == \
        "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv2d(2, 4, (3, 5), stride=2, bias=False)) == \
        "Conv2d(2, 4, kernel_size=(3, 5), stride=(2, 2), bias=False)"


# -------------------------------------------------------------------------------------- pools ----
@pytest.mark.parametrize("k,stride,padding", [(2, None, 0), (3, 2, 1), (2, 1, 1)])
def test_max_pool_matches_numpy(k, stride, padding):
    x = RNG.standard_normal((2, 3, 6, 5))
    out = nn.MaxPool2d(k, stride, padding)(Tensor(x))
    np.testing.assert_allclose(out.data, pool_ref(x, k, stride or k, padding, np.max, -np.inf))
    np.testing.assert_allclose(F.max_pool2d(Tensor(x), k, stride, padding).data, out.data)


@pytest.mark.parametrize("k,stride,padding", [(2, None, 0), (3, 2, 1), (2, 1, 1)])
def test_avg_pool_matches_numpy_with_padded_zeros_counted(k, stride, padding):
    x = RNG.standard_normal((2, 3, 6, 5))
    out = nn.AvgPool2d(k, stride, padding)(Tensor(x))
    np.testing.assert_allclose(out.data, pool_ref(x, k, stride or k, padding, np.mean, 0.0))
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), k, stride, padding).data, out.data)


def test_pools_gradcheck_with_stride_and_padding():
    x = t64(RNG.permutation(40).reshape(1, 2, 5, 4) / 7.0)  # distinct values: no ties in a window
    assert gradcheck(lambda t: nn.MaxPool2d(3, 2, 1)(t), [x])
    assert gradcheck(lambda t: nn.AvgPool2d(3, 2, 1)(t), [x])
    assert gradcheck(lambda t: nn.MaxPool2d(2)(t), [x])


def test_max_pool_gradient_goes_to_the_maximum():
    x = Tensor(np.array([[[[1.0, 5.0], [3.0, 2.0]]]]), requires_grad=True)
    nn.MaxPool2d(2)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 1], [0, 0]]]])


# ------------------------------------------------------------------------ Flatten, Identity ----
def test_flatten_and_identity():
    x = Tensor.zeros(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(0)(x).shape == (120,)
    assert nn.Identity()(x) is x


# ------------------------------------------------------------------------------------ Dropout ----
def test_dropout_zeroes_about_p_and_scales_the_rest_in_training():
    x = Tensor(np.ones((200, 100), np.float32), requires_grad=True)
    drop = nn.Dropout(0.3)
    out = drop(x)
    zero = out.data == 0
    assert zero.mean() == pytest.approx(0.3, abs=0.02)
    np.testing.assert_allclose(out.data[~zero], 1 / 0.7, rtol=1e-6)
    assert out.dtype == np.float32
    out.sum().backward()  # the gradient is the same mask and scale
    np.testing.assert_allclose(x.grad.data, out.data, rtol=1e-6)


def test_dropout_is_the_identity_in_eval_and_for_p_zero():
    x = Tensor(RNG.standard_normal((3, 4)))
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout_uses_the_package_generator():
    x = Tensor.ones(50)
    tg.manual_seed(5)
    a = nn.Dropout(0.5)(x).data
    tg.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, a)
    assert not np.array_equal(nn.Dropout(0.5)(x).data, a)


def test_dropout_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="between 0 and 1.*1.5"):
        nn.Dropout(1.5)


# --------------------------------------------------------------------------------- BatchNorm ----
def test_batchnorm1d_train_matches_numpy_and_updates_running_stats():
    bn = nn.BatchNorm1d(3)
    bn.weight.data = np.array([1.0, 2.0, 0.5], np.float32)
    bn.bias.data = np.array([0.0, -1.0, 3.0], np.float32)
    x1 = RNG.standard_normal((6, 3)) * 2 + 1
    x2 = RNG.standard_normal((6, 3)) - 3
    out = bn(Tensor(x1))
    np.testing.assert_allclose(out.data, batchnorm_ref(x1, 0, bn.weight.data, bn.bias.data),
                               rtol=1e-5, atol=1e-6)
    bn(Tensor(x2))
    rm, rv = np.zeros(3), np.ones(3)
    for x in (x1, x2):  # PyTorch's update: momentum 0.1, unbiased variance
        rm = 0.9 * rm + 0.1 * x.mean(axis=0)
        rv = 0.9 * rv + 0.1 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-5)
    assert int(bn.num_batches_tracked.data) == 2
    assert bn.running_mean.dtype == np.float32


def test_batchnorm_eval_uses_running_stats():
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
    assert bn(Tensor(x[:1])).shape == (1, 2)  # one sample is fine in eval


def test_batchnorm2d_train_matches_numpy_over_batch_and_space():
    bn = nn.BatchNorm2d(3)
    x = RNG.standard_normal((4, 3, 2, 5))
    out = bn(Tensor(x))
    np.testing.assert_allclose(out.data, batchnorm_ref(x, (0, 2, 3), np.ones(3), np.zeros(3)),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bn.running_var.data,
                               0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    names = [n for n, _ in bn.named_parameters()] + [n for n, _ in bn.named_buffers()]
    assert names == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    xs = [RNG.standard_normal((4, 2)) for _ in range(3)]
    for x in xs:
        bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(axis=0) for x in xs], axis=0),
                               rtol=1e-5, atol=1e-7)


def test_batchnorm_gradcheck_in_train_and_eval():
    check_module_grads(nn.BatchNorm1d(3), 4, 3)
    check_module_grads(nn.BatchNorm2d(2), 3, 2, 2, 2)
    bn = nn.BatchNorm1d(3).double()
    bn(t64(RNG.standard_normal((5, 3)), requires_grad=False))
    check_module_grads(bn.eval(), 2, 3)


def test_batchnorm_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(2, 3\)"):
        nn.BatchNorm2d(3)(Tensor.zeros(2, 3))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(Tensor.zeros(1, 3))


def test_batchnorm_repr_is_pytorchs():
    assert repr(nn.BatchNorm1d(16)) == \
        "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


# --------------------------------------------------------------------------------- Embedding ----
def test_embedding_looks_up_rows_and_accumulates_repeated_gradients():
    emb = nn.Embedding(5, 3)
    idx = Tensor(np.array([[1, 2], [1, 1]]))
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx.data])
    up = RNG.standard_normal((2, 2, 3))
    out.backward(Tensor(up.astype(np.float32)))
    expected = np.zeros((5, 3))
    np.add.at(expected, idx.data, up)
    np.testing.assert_allclose(emb.weight.grad.data, expected, rtol=1e-6)
    assert not emb.weight.grad.data[[0, 3, 4]].any()


def test_embedding_gradcheck_and_init():
    emb = nn.Embedding(4, 2).double()
    idx = np.array([0, 3, 3, 1])
    assert gradcheck(lambda w: emb(idx) * emb(idx), [emb.weight])
    big = nn.Embedding(1000, 50).weight.data
    assert big.mean() == pytest.approx(0.0, abs=0.01) and big.std() == pytest.approx(1.0, abs=0.02)


def test_embedding_bad_indices_are_clear_errors():
    with pytest.raises(IndexError, match="index 5 is out of range for 5"):
        nn.Embedding(5, 2)(Tensor([0, 5]))
    with pytest.raises(TypeError, match="integer"):
        nn.Embedding(5, 2)(Tensor([0.0, 1.0]))


# ------------------------------------------------------------------------------- activations ----
def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = [  # (module, functional form, numpy reference)
    (nn.Sigmoid(), F.sigmoid, np_sigmoid),
    (nn.Tanh(), F.tanh, np.tanh),
    (nn.ReLU(), F.relu, lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(), F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(), F.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.Softplus(), F.softplus, lambda x: np.logaddexp(0, x)),
    (nn.Softplus(beta=2.0), lambda x: F.softplus(x, 2.0), lambda x: np.logaddexp(0, 2 * x) / 2),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, dim=1),
     lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    (nn.Softmax(dim=0), lambda x: F.softmax(x, dim=0),
     lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, dim=1),
     lambda x: x - np.log(np.exp(x).sum(axis=1, keepdims=True))),
]


@pytest.mark.parametrize("module,fn,ref", ACTIVATIONS, ids=lambda v: repr(v)[:20])
def test_activation_matches_numpy_and_gradchecks(module, fn, ref):
    x = RNG.standard_normal((3, 4)) * 2
    x[np.abs(x) < 0.05] = 0.5  # keep away from the kinks at 0
    np.testing.assert_allclose(module(Tensor(x)).data, ref(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fn(Tensor(x)).data, ref(x), rtol=1e-10, atol=1e-12)
    assert module(Tensor(x.astype(np.float32))).dtype == np.float32
    assert gradcheck(lambda t: module(t), [t64(x)])


def test_activations_are_stable_at_extremes():
    x = Tensor([-1000.0, 1000.0], requires_grad=True)
    for f in (F.sigmoid, F.tanh, F.elu, F.softplus, F.log_softmax, F.softmax):
        out = f(x)
        out.sum().backward()
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data)), f.__name__
        x.grad = None
    np.testing.assert_array_equal(F.elu(x).data, [-1.0, 1000.0])


def test_activation_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.ReLU()) == "ReLU()"


def test_prelu_single_slope_forward_and_slope_gradient():
    act = nn.PReLU()
    assert act.weight.shape == (1,) and act.weight.data[0] == np.float32(0.25)
    x = np.array([-2.0, 3.0, -0.5], np.float32)
    out = act(Tensor(x))
    np.testing.assert_allclose(out.data, [-0.5, 3.0, -0.125])
    out.sum().backward()
    assert act.weight.grad.data[0] == pytest.approx(-2.5)  # sum of the negative inputs


def test_prelu_per_channel_along_dim_1():
    act = nn.PReLU(num_parameters=3, init=0.1)
    act.weight.data = np.array([0.1, 0.2, 0.3], np.float32)
    x = RNG.standard_normal((2, 3, 4))
    slopes = np.array([0.1, 0.2, 0.3])[None, :, None]
    np.testing.assert_allclose(act(Tensor(x)).data, np.where(x > 0, x, slopes * x), rtol=1e-6)
    x[np.abs(x) < 0.05] = 0.3
    check_module_grads(act, 2, 3, 4, low=-2, high=2)
    with pytest.raises(ValueError, match=r"3 slopes.*\(2, 4\)"):
        act(Tensor.zeros(2, 4))
    w = t64([0.1, 0.2, 0.3])
    assert gradcheck(lambda w: F.prelu(Tensor(x), w), [w])  # the slopes' gradient alone


def test_rrelu_eval_is_leaky_relu_with_the_mean_slope():
    act = nn.RReLU(0.1, 0.3).eval()
    x = RNG.standard_normal(20)
    np.testing.assert_allclose(act(Tensor(x)).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(F.rrelu(Tensor(x)).data,
                               np.where(x > 0, x, (1 / 8 + 1 / 3) / 2 * x))


def test_rrelu_training_draws_one_slope_per_element_in_range():
    act = nn.RReLU()  # lower=1/8, upper=1/3
    x = Tensor(-np.abs(RNG.standard_normal(500)) - 0.1, requires_grad=True)
    out = act(x)
    slopes = out.data / x.data
    assert slopes.min() >= 1 / 8 and slopes.max() <= 1 / 3
    assert len(np.unique(slopes)) > 400  # differ per element
    assert slopes.mean() == pytest.approx((1 / 8 + 1 / 3) / 2, abs=0.01)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, slopes, rtol=1e-12)  # gradient uses the same slopes
    pos = Tensor(np.abs(RNG.standard_normal(10)) + 0.1)
    np.testing.assert_array_equal(act(pos).data, pos.data)
    tg.manual_seed(2)
    a = act(x).data
    tg.manual_seed(2)
    np.testing.assert_array_equal(act(x).data, a)  # the package generator


def test_rrelu_rejects_bad_bounds():
    with pytest.raises(ValueError, match="lower"):
        nn.RReLU(0.5, 0.1)


# -------------------------------------------------------------------------------- functional ----
def test_functional_linear_conv_and_pools_match_layers():
    lin = nn.Linear(3, 2)
    x = Tensor(RNG.standard_normal((4, 3)).astype(np.float32))
    np.testing.assert_array_equal(F.linear(x, lin.weight, lin.bias).data, lin(x).data)
    np.testing.assert_array_equal(F.linear(x, lin.weight).data, (x @ lin.weight.T).data)
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1)
    img = Tensor(RNG.standard_normal((1, 1, 5, 5)).astype(np.float32))
    np.testing.assert_array_equal(F.conv2d(img, conv.weight, conv.bias, 2, 1).data, conv(img).data)
    np.testing.assert_array_equal(F.one_hot(Tensor([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])


# -------------------------------------------------------------------------------------- init ----
def test_calculate_gain_matches_pytorchs_table():
    assert init.calculate_gain("linear") == 1.0 and init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def test_init_functions_fill_in_place_and_keep_dtype():
    t = Tensor(np.zeros((300, 200)))  # float64 stays float64
    assert init.uniform_(t, -2.0, 3.0) is t
    assert t.dtype == np.float64 and t.data.min() >= -2 and t.data.max() < 3
    assert t.data.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(t, 1.0, 2.0)
    assert t.data.mean() == pytest.approx(1.0, abs=0.05) and t.data.std() == pytest.approx(2, rel=0.02)
    p = nn.Parameter(Tensor.zeros(2, 3))
    assert init.constant_(p, 0.5) is p and np.all(p.data == 0.5) and p.dtype == np.float32
    init.ones_(p)
    assert np.all(p.data == 1)
    init.zeros_(p)
    assert not p.data.any() and p.requires_grad


def test_xavier_bounds_and_std_use_fan_in_plus_fan_out():
    w = Tensor.zeros(200, 300)
    bound = math.sqrt(6 / (300 + 200))
    init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.data).max() > 1.9 * bound
    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)


def test_kaiming_uses_gain_for_the_nonlinearity_and_fan_mode():
    w = Tensor.zeros(200, 300)  # fan_in 300, fan_out 200
    init.kaiming_uniform_(w, a=math.sqrt(5))  # Linear's default: U(-1/sqrt(fan_in), ..)
    assert np.abs(w.data).max() <= 1 / math.sqrt(300)
    assert np.abs(w.data).max() > 0.95 / math.sqrt(300)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    init.kaiming_uniform_(w, a=0.2, nonlinearity="leaky_relu")
    bound = math.sqrt(2 / (1 + 0.04)) * math.sqrt(3 / 300)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    with pytest.raises(ValueError, match="fan_sideways"):
        init.kaiming_normal_(w, mode="fan_sideways")


def test_fans_of_a_conv_weight_include_the_receptive_field():
    w = Tensor.zeros(16, 8, 3, 3)  # fan_in = 8*9 = 72, fan_out = 16*9 = 144
    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2 / (72 + 144)), rel=0.05)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 144), rel=0.05)


def test_fan_based_init_of_a_vector_is_a_clear_error():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(Tensor.zeros(5))


def test_init_is_seeded_by_the_package_generator_or_generator_argument():
    tg.manual_seed(11)
    a = init.normal_(Tensor.zeros(4)).data.copy()
    tg.manual_seed(11)
    np.testing.assert_array_equal(init.normal_(Tensor.zeros(4)).data, a)
    b = init.uniform_(Tensor.zeros(4), generator=3).data.copy()
    np.testing.assert_array_equal(init.uniform_(Tensor.zeros(4), generator=3).data, b)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(init.kaiming_uniform_(Tensor.zeros(3, 3), generator=g1).data,
                                  init.kaiming_uniform_(Tensor.zeros(3, 3), generator=g2).data)


# ------------------------------------------------------------------------- PyTorch (extra) ----
def test_torch_linear_conv_batchnorm_state_dicts_load_and_agree():
    torch = pytest.importorskip("torch")
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
