"""The convolution family against PyTorch (values and gradients, float64 and float32), the indices
max pooling returns, PyTorch's MNIST network end to end, and the refusals at the edges."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn

RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 4, 7, 6))
XP = RNG.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 7.0  # distinct: no ties in a window
X3 = RNG.standard_normal((2, 4, 9))
W4, WT = RNG.standard_normal((6, 2, 3, 2)), RNG.standard_normal((4, 3, 3, 2))
W3 = RNG.standard_normal((6, 2, 3))
B6 = RNG.standard_normal(6)

# (name, function name in F and torch.nn.functional, arrays, keyword arguments)
CASES = [
    ("conv2d_groups_dilation", "conv2d", (X4, W4, B6),
     dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    ("conv2d_unbatched", "conv2d", (X4[0], W4[:, :, :2, :2].repeat(2, 1)), dict(padding=1)),
    ("conv2d_same", "conv2d", (X4, W4[:, :, :, :1].repeat(2, 1), B6), dict(padding="same", dilation=2)),
    ("conv1d", "conv1d", (X3, W3, B6), dict(stride=2, padding=1, dilation=2, groups=2)),
    ("conv1d_unbatched", "conv1d", (X3[0], W3[:, :, :2].repeat(2, 1)), dict(padding=3)),
    ("conv_transpose2d", "conv_transpose2d", (X4, WT, B6),
     dict(stride=(2, 3), padding=(1, 1), output_padding=(1, 2), groups=2, dilation=(1, 2))),
    ("conv_transpose2d_unbatched", "conv_transpose2d", (X4[0], WT[:, :2]), dict(stride=3)),
    ("max_pool2d_ceil", "max_pool2d", (XP,), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d_dilation", "max_pool2d", (XP,),
     dict(kernel_size=(3, 2), stride=(2, 3), dilation=(2, 1), ceil_mode=True, return_indices=True)),
    ("max_pool2d_indices", "max_pool2d", (XP,), dict(kernel_size=2, return_indices=True)),
    ("max_pool2d_indices_padded", "max_pool2d", (XP[0],),
     dict(kernel_size=2, stride=1, padding=1, return_indices=True)),
    ("avg_pool2d_ceil", "avg_pool2d", (XP,), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d_exclude_pad", "avg_pool2d", (XP,),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d_divisor", "avg_pool2d", (XP,), dict(kernel_size=2, divisor_override=3)),
    ("avg_pool2d_ceil_no_pad", "avg_pool2d", (XP,), dict(kernel_size=3, stride=2, ceil_mode=True)),
    *[(f"adaptive_avg_pool2d_{size}", "adaptive_avg_pool2d", (XP,), dict(output_size=size))
      for size in [(3, 5), (7, 4), 1, (None, 3), (2, 2), (5, 8)]],
    *[(f"adaptive_max_pool2d_{size}", "adaptive_max_pool2d", (XP,),
       dict(output_size=size, return_indices=True)) for size in [(3, 5), (7, 4), 1, (None, 3)]],
    *[(f"interpolate_{i}", "interpolate", (XP,), kw) for i, kw in enumerate([
        dict(size=(5, 11)), dict(scale_factor=2), dict(scale_factor=(1.5, 0.7)),
        dict(size=(3, 13), mode="bilinear"), dict(size=(13, 3), mode="bilinear", align_corners=True),
        dict(scale_factor=(2.3, 0.6), mode="bilinear"), dict(scale_factor=1 / 3),
        dict(size=(1, 1), mode="bilinear", align_corners=True), dict(size=(7, 8), mode="bilinear")])],
    *[(f"interpolate_1d_{i}", "interpolate", (X3,), kw) for i, kw in enumerate([
        dict(size=11), dict(scale_factor=1.7, mode="linear"),
        dict(size=4, mode="linear", align_corners=True), dict(scale_factor=3)])],
]


def _run(fn, arrays, kw, module, wrap):
    inputs = [wrap(a) for a in arrays]
    out = getattr(module, fn)(*inputs, **kw)
    return inputs, (out if isinstance(out, tuple) else (out, None))


@pytest.mark.parametrize("name, fn, arrays, kw", CASES, ids=[c[0] for c in CASES])
def test_conv_family_matches_torch(name, fn, arrays, kw):
    torch = pytest.importorskip("torch")
    ours_in, (ours, ours_idx) = _run(fn, arrays, kw, F, lambda a: Tensor(a, requires_grad=True))
    torch_in, (theirs, their_idx) = _run(fn, arrays, kw, torch.nn.functional,
                                        lambda a: torch.tensor(a, requires_grad=True))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    if their_idx is not None:
        assert ours_idx.dtype == np.int64
        np.testing.assert_array_equal(ours_idx.data, their_idx.numpy())
    up = np.random.default_rng(1).standard_normal(ours.shape)
    (ours * Tensor(up)).sum().backward()
    (theirs * torch.tensor(up)).sum().backward()
    for o, t in zip(ours_in, torch_in):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)
    # float32 in, float32 out, within float32 rounding of PyTorch's float32
    _, (ours32, _) = _run(fn, arrays, kw, F, lambda a: Tensor(a.astype(np.float32)))
    _, (theirs32, _) = _run(fn, arrays, kw, torch.nn.functional,
                            lambda a: torch.tensor(a.astype(np.float32)))
    assert ours32.dtype == np.float32
    np.testing.assert_allclose(ours32.data, theirs32.numpy(), rtol=1e-5, atol=1e-6)


def test_max_pool2d_indices_take_the_first_maximum_of_a_tie_like_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [3.0, 3.0, 3.0]]]])
    _, ours = Tensor(x).max_pool2d(2, 1, return_indices=True)
    _, theirs = torch.nn.functional.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_max_pool2d_of_integers_keeps_the_dtype_and_padding_never_wins():
    x = Tensor(np.array([[[[-5, -7], [-9, -6]]]], dtype=np.int32))
    out = x.max_pool2d(2, 1, padding=1)
    assert out.dtype == np.int32
    assert out.tolist() == [[[[-5, -5, -7], [-5, -5, -6], [-9, -6, -6]]]]


class _TorchMnistNet:
    """pytorch/examples mnist/main.py's network (the W6 benchmark), in both frameworks."""

    @staticmethod
    def forward(F_, flatten, m, x):
        x = F_.relu(m["conv1"](x))
        x = F_.relu(m["conv2"](x))
        x = flatten(F_.max_pool2d(x, 2), 1)
        x = F_.relu(m["fc1"](x))
        return F_.log_softmax(m["fc2"](x), dim=1)


def test_pytorch_mnist_network_step_matches_torch():
    """The W6 network: same weights, same batch -> the same loss and every parameter's gradient."""
    torch = pytest.importorskip("torch")
    import tinygrad_lite as tg

    torch.manual_seed(0)
    theirs = {"conv1": torch.nn.Conv2d(1, 32, 3, 1), "conv2": torch.nn.Conv2d(32, 64, 3, 1),
              "fc1": torch.nn.Linear(9216, 128), "fc2": torch.nn.Linear(128, 10)}
    ours = {"conv1": nn.Conv2d(1, 32, 3, 1), "conv2": nn.Conv2d(32, 64, 3, 1),
            "fc1": nn.Linear(9216, 128), "fc2": nn.Linear(128, 10)}
    for key in theirs:
        theirs[key].double()
        ours[key].load_state_dict({k: v.detach().numpy() for k, v in theirs[key].state_dict().items()})
        ours[key].double()
    x = np.random.default_rng(3).standard_normal((3, 1, 28, 28))
    y = np.array([1, 7, 3])
    loss = F.nll_loss(_TorchMnistNet.forward(F, tg.flatten, ours, Tensor(x)), Tensor(y))
    tloss = torch.nn.functional.nll_loss(
        _TorchMnistNet.forward(torch.nn.functional, torch.flatten, theirs, torch.tensor(x)),
        torch.tensor(y))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for key in theirs:
        for name, p in ours[key].named_parameters():
            np.testing.assert_allclose(p.grad.data, getattr(theirs[key], name).grad.numpy(),
                                       rtol=1e-8, atol=1e-12, err_msg=f"{key}.{name}")


def test_conv_modules_load_pytorch_state_dicts():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(nn.Conv1d(4, 6, 3, groups=2), torch.nn.Conv1d(4, 6, 3, groups=2)),
                         (nn.ConvTranspose2d(4, 6, (3, 2), groups=2),
                          torch.nn.ConvTranspose2d(4, 6, (3, 2), groups=2)),
                         (nn.Conv2d(4, 6, 3, dilation=2, groups=2),
                          torch.nn.Conv2d(4, 6, 3, dilation=2, groups=2))]:
        state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}
        ours.load_state_dict(state)
        # PyTorch's default initialization bound, 1/sqrt(fan_in) with its fan_in
        fan_in = theirs.weight[0].numel() if not isinstance(theirs, torch.nn.ConvTranspose2d) else \
            theirs.weight.shape[1] * theirs.weight[0, 0].numel()
        fresh = type(ours)(*[getattr(theirs, a) for a in ("in_channels", "out_channels",
                                                          "kernel_size")], groups=2)
        assert np.abs(fresh.weight.data).max() <= 1 / np.sqrt(fan_in)


@pytest.mark.parametrize("call, match", [
    (lambda: Tensor.ones(1, 4, 5, 5).conv2d(Tensor.ones(6, 3, 3, 3), groups=2), "groups"),
    (lambda: Tensor.ones(1, 4, 5, 5).conv2d(Tensor.ones(5, 2, 3, 3), groups=2), "divisible"),
    (lambda: Tensor.ones(1, 1, 5, 5).conv2d(Tensor.ones(1, 1, 3, 3), dilation=3), "larger"),
    (lambda: Tensor.ones(1, 1, 5, 5).conv2d(Tensor.ones(1, 1, 3, 3), dilation=0), "dilation"),
    (lambda: Tensor.ones(1, 1, 5, 5).conv2d(Tensor.ones(2, 1, 3, 3), Tensor.ones(3)), "bias"),
    (lambda: Tensor.ones(1, 5, 5).conv1d(Tensor.ones(1, 1, 3)), "weight"),
    (lambda: Tensor.ones(5, 5).conv1d(Tensor.ones(1, 1, 3)), "does not|do not|fit"),
    (lambda: Tensor.ones(1, 2, 3, 3).conv_transpose2d(Tensor.ones(2, 1, 3, 3), stride=2,
                                                      output_padding=2), "output_padding"),
    (lambda: Tensor.ones(1, 2, 3, 3).conv_transpose2d(Tensor.ones(3, 1, 3, 3)), "in_channels"),
    (lambda: Tensor.ones(1, 1, 1, 1).conv_transpose2d(Tensor.ones(1, 1, 1, 1), padding=1),
     "no output"),
    (lambda: Tensor.ones(1, 1, 4, 4).max_pool2d(2, padding=2), "half"),
    (lambda: Tensor.ones(1, 1, 4, 4).max_pool2d(2, dilation=4), "larger"),
    (lambda: Tensor.ones(1, 1, 4, 4).avg_pool2d(2, divisor_override=0), "divisor_override"),
    (lambda: Tensor.ones(4, 4).max_pool2d(2), "shape"),
    (lambda: Tensor.ones(1, 1, 4, 4).adaptive_avg_pool2d(0), "output_size"),
    (lambda: Tensor.ones(1, 1, 4, 4).adaptive_max_pool2d((1, 2, 3)), "output_size"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(), "exactly one"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(size=3, scale_factor=2), "exactly one"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(size=3, mode="bicubic"), "bicubic"),
    (lambda: Tensor.ones(1, 1, 4).interpolate(size=3, mode="bilinear"), "bilinear"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(size=3, align_corners=True), "align_corners"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(scale_factor=0.1), "empty"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(scale_factor=-2), "scale_factor"),
    (lambda: Tensor.ones(1, 1, 4, 4).interpolate(size=(2, 2, 2)), "size"),
    (lambda: Tensor.ones(4, 4).interpolate(size=2), "shape"),
    (lambda: nn.Conv1d(3, 4, 3, groups=2), "divisible"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2), "output_padding"),
    (lambda: nn.Conv2d(2, 2, 2, padding="same"), "same"),
    (lambda: nn.Upsample(), "exactly one"),
])
def test_conv_family_refuses_bad_arguments_by_name(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_conv_family_second_derivatives_flow():
    """Double backward through FoldWindows/SlidingWindow (conv_transpose2d) and the matrices of
    bilinear interpolation: gradients of gradients are real numbers, checked elsewhere by
    gradgradcheck; here the hessian-vector product of a small conv_transpose2d net is symmetric."""
    import tinygrad_lite as tg

    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 1, 2, 2)))
    f = lambda t: (t.conv_transpose2d(w, stride=2).interpolate(scale_factor=0.5, mode="bilinear")  # noqa: E731
                   .tanh() ** 2).sum()
    h = tg.functional.hessian(f, x).data.reshape(18, 18)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    assert np.abs(h).max() > 0


def test_max_pool2d_gradient_splits_ties_on_the_fast_slice_path():
    """Large enough for Max's slice-by-slice path (many all-zero windows after a ReLU): each
    window's gradient is split evenly among its maxima, on arrays and when recorded."""
    import tinygrad_lite as tg

    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal((2, 8, 16, 16)), 0.0)
    g = rng.standard_normal((2, 8, 8, 8))
    win = x.reshape(2, 8, 8, 2, 8, 2)
    hit = win == win.max(axis=(3, 5), keepdims=True)
    expected = (hit * (g[:, :, :, None, :, None] / hit.sum(axis=(3, 5), keepdims=True)))
    expected = expected.reshape(x.shape)
    t = Tensor(x, requires_grad=True)
    t.max_pool2d(2).backward(Tensor(g))
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)
    t2 = Tensor(x, requires_grad=True)
    (gx,) = tg.grad((t2.max_pool2d(2) * Tensor(g)).sum(), t2, create_graph=True)
    np.testing.assert_allclose(gx.data, expected, rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda x: x.conv2d(Tensor.ones(3, 2, 3, 3)),
    lambda x: x.conv_transpose2d(Tensor.ones(2, 3, 3, 3), stride=2),
    lambda x: x.max_pool2d(2, ceil_mode=True, return_indices=True)[0],
    lambda x: x.avg_pool2d(2, ceil_mode=True, count_include_pad=False),
    lambda x: x.adaptive_avg_pool2d(3),
    lambda x: x.adaptive_max_pool2d(3, return_indices=True)[0],
    lambda x: x.interpolate(size=7, mode="bilinear"),
], ids=["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
        "adaptive_max_pool2d", "interpolate"])
def test_conv_family_on_an_empty_batch(call):
    """An empty batch gives an empty batch of the shape one sample would have, and backward."""
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    out = call(x)
    one = call(Tensor(np.zeros((1, 2, 5, 5))))
    assert out.shape == (0, *one.shape[1:])
    out.sum().backward()
    assert x.grad.shape == x.shape


# ------------------------------------------------------------------ ops.Conv2d (issue 11) ----
CONV2D_GEOMETRIES = [dict(), dict(stride=2, padding=1), dict(stride=(1, 3), padding=(2, 0)),
                     dict(dilation=(2, 1), padding=(0, 1)), dict(stride=3, dilation=2, padding=2)]


@pytest.mark.parametrize("kw", CONV2D_GEOMETRIES, ids=str)
def test_conv2d_primitive_matches_torch_and_its_gradients_check(kw):
    """groups=1 float convolutions run as the one primitive ops.Conv2d: its values and all three
    gradients against PyTorch (float64 and float32), gradcheck, and gradgradcheck (the recorded
    backward is the composite's)."""
    torch = pytest.importorskip("torch")
    from tinygrad_lite.gradcheck import gradcheck, gradgradcheck

    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((3, 4, 9, 8)), rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5)
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out = ours[0].conv2d(*ours[1:], **kw)
    assert out._ctx is not None and type(out._ctx).__name__ == "Conv2d"
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ref = torch.nn.functional.conv2d(*theirs, **kw)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    up = rng.standard_normal(out.shape)
    (out * Tensor(up)).sum().backward()
    (ref * torch.tensor(up)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)
    out32 = Tensor(x.astype(np.float32)).conv2d(Tensor(w.astype(np.float32)),
                                                Tensor(b.astype(np.float32)), **kw)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    small = [Tensor(a, requires_grad=True) for a in (x[:2, :, :7, :6], w, b)]
    fn = lambda x_, w_, b_: x_.conv2d(w_, b_, **kw)  # noqa: E731
    assert gradcheck(fn, small)
    assert gradgradcheck(fn, small)


def test_conv2d_primitive_output_is_channels_last_and_any_input_layout_gives_the_same():
    """The product comes out channels-last (no transposing copy); the input may be laid out
    either way (a channels-last input is read as it is) with the same numbers."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    out = Tensor(x).conv2d(w)
    assert out.data.transpose(0, 2, 3, 1).flags.c_contiguous
    x_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(Tensor(x_last).conv2d(w).data, out.data)
    again = out.relu().conv2d(Tensor(rng.standard_normal((2, 4, 2, 2)).astype(np.float32)))
    assert again.data.transpose(0, 2, 3, 1).flags.c_contiguous


def test_conv2d_primitive_split_over_threads_gives_the_one_thread_numbers(monkeypatch):
    """Chunks of images dealt out to two workers (tg.set_num_threads(2)), each chunk small so
    there are many: the same values and gradients as one worker, to float rounding of the
    weight's and bias's sums (added up per worker)."""
    from tinygrad_lite import ops, threads

    rng = np.random.default_rng(8)
    x, w, b = (rng.standard_normal(s) for s in ((7, 3, 8, 8), (4, 3, 3, 3), (4,)))
    monkeypatch.setattr(ops, "_CONV_CHUNK", 1)  # one image per chunk
    results = []
    for count in (1, 2):
        monkeypatch.setattr(threads, "split_count", lambda macs, count=count: count)
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        out = ts[0].conv2d(ts[1], ts[2], padding=1)
        (out * out).sum().backward()
        results.append([out.data, *(t.grad.data for t in ts)])
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)
    before = threads.get_num_threads()
    assert threads.split_map(len, [[1], [2, 3], []], 2) == [1, 2, 0]
    assert threads.get_num_threads() == before  # the BLAS count is given back


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (0 * inf, as in numpy)
@pytest.mark.parametrize("bad", [None, np.nan, np.inf])
def test_conv2d_primitive_input_gradient_at_stride_1_with_any_weights_matches_torch(monkeypatch,
                                                                                 bad):
    """At stride 1 the input's gradient is folded back as one run per image and tap (the
    gradient laid out with the padded rows' width, zeros in the extra columns): the same numbers
    as PyTorch; a weight that is NaN or inf takes the tap-by-tap path instead (0 * inf in the
    extra columns would land NaN where the gradient has none)."""
    torch = pytest.importorskip("torch")
    from tinygrad_lite import threads

    keys = []
    real = threads.scratch
    monkeypatch.setattr(threads, "scratch", lambda key, *a: keys.append(key) or real(key, *a))
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((3, 4, 7, 9)), rng.standard_normal((5, 4, 3, 2))
    if bad is not None:
        w[2, 1, 1, 0] = bad
    for kw in (dict(), dict(padding=(1, 2), dilation=(2, 1))):
        keys.clear()
        ours = Tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        up = rng.standard_normal(ours.conv2d(Tensor(w), **kw).shape)
        (ours.conv2d(Tensor(w), **kw) * Tensor(up)).sum().backward()
        (torch.nn.functional.conv2d(theirs, torch.tensor(w), **kw) * torch.tensor(up)).sum().backward()
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
        assert ("conv_gpad" in keys) == (bad is None)


def test_conv2d_of_integers_or_mixed_dtypes_keeps_the_composite_path():
    """Integer inputs, mixed float widths and groups > 1 stay on the composite (SlidingWindow +
    MatMul), which follows numpy's dtype rules."""
    x = Tensor(np.arange(2 * 2 * 4 * 4).reshape(2, 2, 4, 4))
    out = x.conv2d(Tensor(np.ones((3, 2, 2, 2), dtype=np.int64)))
    assert out.dtype == np.int64
    assert out.data[0, 0, 0, 0] == sum([0, 1, 4, 5, 16, 17, 20, 21])
    mixed = Tensor(np.ones((1, 2, 3, 3), np.float32)).conv2d(Tensor(np.ones((1, 2, 2, 2))))
    assert mixed.dtype == np.float64 and mixed.data.max() == 8.0


def test_conv2d_primitive_with_no_input_or_no_output_channels():
    """Empty channel axes at either end: no input channels leave the bias alone, no output
    channels give an empty output, and both gradients have their inputs' shapes."""
    out = Tensor(np.ones((2, 0, 5, 5))).conv2d(Tensor(np.ones((3, 0, 3, 3))), Tensor(np.arange(3.0)))
    assert out.shape == (2, 3, 3, 3) and out.data[1, :, 2, 2].tolist() == [0.0, 1.0, 2.0]
    x = Tensor(np.ones((2, 3, 5, 5)), requires_grad=True)
    w = Tensor(np.ones((0, 3, 3, 3)), requires_grad=True)
    out = x.conv2d(w)
    assert out.shape == (2, 0, 3, 3)
    out.sum().backward()
    assert x.grad.shape == x.shape and not x.grad.data.any() and w.grad.shape == w.shape
