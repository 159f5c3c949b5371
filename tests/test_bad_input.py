"""Bad input gets a named error where the user passed it: out-of-range axes are refused (never a
wrap-around), complex/str/object data is refused, sizes and strides are checked in constructors,
and a 0-d tensor accepts axis 0 and -1 like PyTorch. Each test is a repro from issues 8 and 9."""

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite import argcheck as ac

AxisError = np.exceptions.AxisError


# ------------------------------------------------------------------------------- the helpers ----
def test_argcheck_refuses_bools_floats_and_out_of_range():
    assert ac.check_int(np.int64(3), "n", minimum=1) == 3 and type(ac.check_int(np.int8(3), "n")) is int
    for bad in (True, 1.0, "1", None, np.float32(2)):
        with pytest.raises(TypeError, match="n must be an int"):
            ac.check_int(bad, "n")
    with pytest.raises(ValueError, match="n must be non-negative, got -1"):
        ac.check_int(-1, "n", minimum=0)
    assert ac.int_pair([2, 3], "stride", 1) == (2, 3)
    with pytest.raises(ValueError, match="stride must be an int or a pair"):
        ac.int_pair((1, 2, 3), "stride")
    assert [ac.normalize_axis(a, 3) for a in (-3, -1, 0, 2)] == [0, 2, 0, 2]
    for a in (3, -4, 100):
        with pytest.raises(AxisError, match=rf"axis {a} is out of range .* 3 dimension"):
            ac.normalize_axis(a, 3)
    assert issubclass(AxisError, IndexError) and issubclass(AxisError, ValueError)


# --------------------------------------------------------------------------------- axes ----
@pytest.mark.parametrize("call, name", [
    (lambda: tg.ones(2, 3).transpose(3, 0), "axes"),
    (lambda: tg.ones(2, 3).transpose(0, -3), "axes"),
    (lambda: tg.ones(2, 1).squeeze(5), "axis"),
    (lambda: tg.ones(2, 1).squeeze(-5), "axis"),
    (lambda: tg.ones(2, 3).flatten(5), "start_dim"),
    (lambda: tg.ones(2, 3).flatten(0, 2), "end_dim"),
    (lambda: tg.ones(2, 3).swapaxes(0, 5), "axis2"),
    (lambda: tg.ones(2, 3).swapaxes(-3, 0), "axis1"),
    (lambda: tg.concatenate([tg.ones(2, 3), tg.ones(2, 3)], axis=5), "axis"),
    (lambda: tg.concatenate([tg.ones(2, 3), tg.ones(2, 3)], axis=-3), "axis"),
    (lambda: tg.stack([tg.ones(2), tg.ones(2)], axis=2), "axis"),
    (lambda: tg.ones(4).split(2, axis=1), "axis"),
    (lambda: tg.ones(4).chunk(2, axis=-2), "axis"),
    (lambda: tg.ones(2, 3).sum(axis=2), "axis"),
    (lambda: tg.ones(2, 3).max(axis=-3), "axis"),
])
def test_out_of_range_axis_is_an_axis_error_never_a_wrap_around(call, name):
    with pytest.raises(AxisError, match=name):
        call()


@pytest.mark.parametrize("ours, ref", [
    (lambda t: t.transpose(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda t: t.transpose(-1, -3, -2), lambda a: a.transpose(2, 0, 1)),
    (lambda t: t.swapaxes(-1, 0), lambda a: a.swapaxes(-1, 0)),
    (lambda t: t.flatten(-2), lambda a: a.reshape(2, 3)),
    (lambda t: t.flatten(0, -2), lambda a: a.reshape(2, 3)),
    (lambda t: t.squeeze(-2), lambda a: a.squeeze(-2)),
    (lambda t: t.squeeze(), lambda a: a.squeeze()),
    (lambda t: tg.stack([t, t], axis=-1), lambda a: np.stack([a, a], axis=-1)),
    (lambda t: tg.concatenate([t, t], axis=-1), lambda a: np.concatenate([a, a], axis=-1)),
    (lambda t: t.sum(axis=(-1, 0)), lambda a: a.sum(axis=(-1, 0))),
    (lambda t: t.max(axis=-3), lambda a: a.max(axis=-3)),
    (lambda t: t.chunk(3, axis=-1)[1], lambda a: np.split(a, 3, axis=-1)[1]),
])
def test_in_range_negative_axes_match_numpy(ours, ref):
    a = np.arange(6.0, dtype=np.float32).reshape(2, 1, 3)
    out, expected = ours(Tensor(a)), ref(a)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


def test_transpose_partial_permutation_is_refused():
    # (two axes on more than two dimensions are PyTorch's transpose(dim0, dim1): issue 10)
    with pytest.raises(ValueError, match="not a permutation"):
        tg.ones(2, 3, 4).transpose(1, 0, 1)


def test_flatten_with_start_after_end_is_refused():
    with pytest.raises(ValueError, match="start_dim 2 comes after end_dim 1"):
        tg.ones(2, 3, 4).flatten(2, 1)


def test_squeeze_repeated_axis_and_non_unit_axis_are_refused():
    with pytest.raises(ValueError, match="repeated axis"):
        tg.ones(1, 2).squeeze((0, -2))
    with pytest.raises(ValueError, match="cannot squeeze axis 1"):
        tg.ones(1, 2).squeeze(1)


def test_split_with_negative_points_matches_numpy():
    a = np.arange(7.0, dtype=np.float32)
    for points in ([-2], [2, -2], [-9, 3], [5, 2], [0, 7, 9]):
        ours = [t.data for t in Tensor(a).split(points)]
        ref = np.split(a, points)
        assert len(ours) == len(ref), points
        for x, y in zip(ours, ref):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("call, error, match", [
    (lambda: tg.ones(4).chunk(0), ValueError, "chunks must be positive"),
    (lambda: tg.ones(4).chunk(-1), ValueError, "chunks must be positive"),
    (lambda: tg.ones(4).chunk(2.0), TypeError, "chunks must be an int"),
    (lambda: tg.ones(4).split(0), ValueError, "indices_or_sections must be positive"),
    (lambda: tg.ones(4).split(3), ValueError, "does not divide into 3"),
    (lambda: tg.ones(4).split([1.5]), TypeError, "index in indices_or_sections"),
    (lambda: tg.concatenate([]), ValueError, "at least one tensor"),
    (lambda: tg.stack([]), ValueError, "at least one tensor"),
    (lambda: tg.concatenate(tg.ones(2, 2)), TypeError, "sequence"),
    (lambda: tg.concatenate([Tensor(1.0), Tensor(2.0)]), ValueError, "0-d"),
])
def test_split_chunk_concatenate_arguments_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_chunk_of_an_empty_axis_gives_one_empty_chunk():
    torch = pytest.importorskip("torch")
    parts = tg.ones(0, 2).chunk(3)
    ref = torch.ones(0, 2).chunk(3)
    assert [p.shape for p in parts] == [tuple(r.shape) for r in ref]


# ------------------------------------------------------------------------------------- 0-d ----
@pytest.mark.parametrize("axis", [0, -1])
def test_zero_d_tensor_accepts_axis_0_and_minus_1_like_pytorch(axis):
    torch = pytest.importorskip("torch")
    t, r = Tensor(3.0), torch.tensor(3.0)
    cases = [(t.squeeze(axis), r.squeeze(axis)), (t.sum(axis), r.sum(axis)),
             (t.sum(axis, keepdims=True), r.sum(axis, keepdim=True)),
             (t.logsumexp(axis), r.logsumexp(axis)), (t.softmax(axis), r.softmax(axis)),
             (t.max(axis), r.amax(axis)), (t.flatten(axis), r.flatten(axis)),
             (t.log_softmax(axis), r.log_softmax(axis))]
    for ours, ref in cases:
        assert ours.shape == tuple(ref.shape)
        np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-6)


def test_zero_d_gradients_through_axis_reductions():
    x = Tensor(2.0, requires_grad=True)
    (x.logsumexp(0) + x.sum(-1) * 3 + x.squeeze(0)).backward()
    assert x.grad.shape == () and float(x.grad.data) == pytest.approx(5.0)


@pytest.mark.parametrize("axis", [1, -2])
def test_zero_d_tensor_refuses_other_axes(axis):
    with pytest.raises(AxisError):
        Tensor(3.0).squeeze(axis)
    with pytest.raises(AxisError):
        Tensor(3.0).sum(axis)


# ------------------------------------------------------------------------- dtypes, operands ----
@pytest.mark.parametrize("call, match", [
    (lambda: Tensor([3 + 4j]), "complex"),
    (lambda: Tensor(np.array([1 + 1j], np.complex64)), "complex"),
    (lambda: Tensor([1.0], dtype=np.complex128), "complex"),
    (lambda: Tensor([1.0]).astype(np.complex64), "complex"),
    (lambda: Tensor([1.0]) * np.array([1j]), "complex"),
    (lambda: np.array([1j]) + Tensor([1.0]), "complex"),
    (lambda: Tensor([1.0]) + 2j, "complex"),
    (lambda: Tensor([1.0]) - np.complex64(1j), "complex"),
    (lambda: Tensor([1.0]).maximum(np.array([1j])), "complex"),
    (lambda: tg.full((2,), 1j), "complex"),
    (lambda: tg.zeros(2, dtype=np.complex64), "complex"),
    (lambda: Tensor("abc"), "str data 'abc'"),
    (lambda: Tensor(["a", "b"]), "dtype <U1"),
    (lambda: Tensor(np.array([1.0, None], dtype=object)), "dtype object"),
    (lambda: Tensor([1.0, None]), "dtype object|cannot make a Tensor"),
    (lambda: Tensor([1.0]) + "a", "unsupported operand 'a'"),
    (lambda: "a" * Tensor([1.0]), "unsupported operand 'a'"),
    (lambda: Tensor([1.0]) * None, "unsupported operand None"),
    (lambda: Tensor([1.0]) < "a", "unsupported operand 'a'"),
    (lambda: Tensor([1.0]) @ {"a": 1}, "unsupported operand"),
    (lambda: Tensor([1.0]).astype(str), "dtype <U0|dtype"),
])
def test_unsupported_data_and_operands_are_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_numeric_numpy_operands_still_work_and_promote_like_numpy():
    t = Tensor([1.0, 2.0])
    assert (t * np.float32(2)).dtype == np.float32 and (t * np.arange(2.0)).dtype == np.float64
    assert (t + np.array([1, 2], np.int64)).tolist() == [2.0, 4.0]
    assert (np.ones(2) - t).tolist() == [0.0, -1.0]
    assert (t < np.array([2.0, 2.0])).tolist() == [True, False]


# -------------------------------------------------------------------------- conv and pools ----
@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.Conv2d(1, 1, 3, stride=-1), ValueError, "stride must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), ValueError, "stride must be positive"),
    (lambda: nn.Conv2d(1, 1, 0), ValueError, "kernel_size must be positive"),
    (lambda: nn.Conv2d(1, 1, 2.5), TypeError, "kernel_size must be an int"),
    (lambda: nn.Conv2d(0, 1, 3), ValueError, "in_channels must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, padding=-1), ValueError, "padding must be non-negative"),
    (lambda: nn.MaxPool2d(0), ValueError, "kernel_size must be positive"),
    (lambda: nn.AvgPool2d(2, stride=-1), ValueError, "stride must be positive"),
    (lambda: nn.functional.max_pool2d(tg.ones(1, 1, 4, 4), 0), ValueError, "kernel_size"),
    (lambda: tg.ones(1, 1, 4, 4).max_pool2d(0), ValueError, "kernel_size must be positive"),
    (lambda: tg.ones(1, 1, 4, 4).avg_pool2d(2, stride=0), ValueError, "stride must be positive"),
    (lambda: tg.ones(1, 1, 4, 4).max_pool2d(2, padding=2), ValueError, "half of kernel_size"),
    (lambda: tg.ones(1, 1, 4, 4).conv2d(tg.ones(1, 1, 3, 3), stride=-1), ValueError, "stride"),
    (lambda: tg.ones(1, 1, 4, 4).conv2d(tg.ones(1, 1, 3, 3), padding=-1), ValueError, "padding"),
    (lambda: tg.ones(1, 1, 4, 4).conv2d(tg.ones(1, 1, 0, 0)), ValueError, "kernel"),
    (lambda: tg.ones(1, 1, 2, 2).conv2d(tg.ones(1, 1, 3, 3)), ValueError, "larger than"),
    (lambda: tg.ones(1, 1, 2, 2).max_pool2d(3, stride=1), ValueError, "larger than"),
])
def test_conv_and_pool_settings_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("x, y, settings, match", [
    ((), (3,), {}, r"at least 1 dimension, got \(\) and \(3,\)"),
    ((3, 4), (5, 2), {}, r"shapes \(3, 4\) and \(5, 2\) do not align: .*first \(4\).*second \(5\)"),
    ((2, 3), (3, 4), {"transpose_b": True}, r"shapes \(2, 3\) and \(4, 3\) do not align"),
    ((3,), (3, 2), {"transpose_a": True}, r"transposing an operand needs at least 2 dimensions"),
    ((2, 3, 4), (3, 4, 5), {}, r"shapes \(2, 3, 4\) and \(3, 4, 5\) cannot be broadcast"),
])
def test_matmul_shape_errors_name_the_shapes(x, y, settings, match):
    # (numpy refuses first; the message is worked out only then: see MatMul.forward)
    with pytest.raises(ValueError, match=match):
        tg.ops.MatMul.apply(Tensor(np.ones(x)), Tensor(np.ones(y), requires_grad=True), **settings)


def test_conv_with_negative_stride_no_longer_flips_the_image():
    # the repro: stride=-1 returned a flipped image; now refused, and stride 1 still works
    x = Tensor(np.arange(25.0, dtype=np.float32).reshape(1, 1, 5, 5))
    conv = nn.Conv2d(1, 1, 1, bias=False)
    conv.weight.data[...] = 1.0
    np.testing.assert_array_equal(conv(x).data, x.data)
    with pytest.raises(ValueError):
        nn.Conv2d(1, 1, 1, stride=-1)


# ------------------------------------------------------------------------ layer constructors ----
@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.LSTM(3, 0), ValueError, "LSTM: hidden_size must be positive"),
    (lambda: nn.RNN(3, -2), ValueError, "RNN: hidden_size must be positive"),
    (lambda: nn.LSTMCell(3, 0), ValueError, "LSTMCell: hidden_size"),
    (lambda: nn.RNNCell(3, 2.0), TypeError, "RNNCell: hidden_size must be an int"),
    (lambda: nn.LSTM(-1, 3), ValueError, "input_size must be non-negative"),
    (lambda: nn.LSTM(3, 3, num_layers=0), ValueError, "num_layers must be positive"),
    (lambda: nn.Linear(-1, 2), ValueError, "in_features must be non-negative"),
    (lambda: nn.Linear(2, "3"), TypeError, "out_features must be an int"),
    (lambda: nn.BatchNorm1d(0), ValueError, "num_features must be positive"),
    (lambda: nn.BatchNorm2d(3, momentum=2.0), ValueError, "momentum"),
    (lambda: nn.Embedding(-1, 3), ValueError, "num_embeddings"),
    (lambda: nn.Embedding(4, 3, padding_idx=1.0), TypeError, "padding_idx"),
    (lambda: nn.Dropout("0.5"), ValueError, "dropout probability"),
    (lambda: nn.Flatten(1.0), TypeError, "start_dim"),
])
def test_layer_constructors_check_their_sizes(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_zero_sized_linear_is_allowed_like_pytorch():
    out = nn.Linear(0, 2)(tg.zeros(3, 0))
    assert out.shape == (3, 2)


# ---------------------------------------------------------------------------- empty batches ----
def test_softmax_of_an_empty_batch_is_empty_and_max_over_an_empty_axis_is_named():
    assert tg.ones(0, 3).softmax(-1).shape == (0, 3)
    assert tg.ones(0, 3).log_softmax(-1).shape == (0, 3)
    assert tg.ones(0, 3).max(1).shape == (0,)
    with pytest.raises(ValueError, match="length 0"):
        tg.ones(0, 3).max(0)


# -------------------------------------------------------------------- optimizer state dicts ----
def _opt():
    model = nn.Linear(2, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(tg.ones(1, 2)).sum().backward()
    opt.step()
    return model, opt


@pytest.mark.parametrize("damage, match", [
    (lambda sd: sd["state"].update({5: {"step": 1}}), "parameter 5"),
    (lambda sd: sd["state"].update({"x": {"step": 1}}), "parameter 'x'"),
    (lambda sd: sd.pop("param_groups"), "'state' and 'param_groups'"),
    (lambda sd: sd.update(state=[1]), "state must be a dict"),
    (lambda sd: sd["param_groups"][0].pop("params"), "'params' list"),
])
def test_optimizer_load_state_dict_refuses_malformed_state_and_changes_nothing(damage, match):
    _, opt = _opt()
    sd = opt.state_dict()
    before = opt.state_dict()
    damage(sd)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for k, v in before["state"].items():
        np.testing.assert_array_equal(after["state"][k]["exp_avg"], v["exp_avg"])
