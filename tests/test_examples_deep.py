"""The deep-learning examples (examples/mnist_cnn.py, examples/mnist_lstm.py) in quick mode on the
real bundled MNIST, and the fast paths of conv2d, the pools, Max and the LSTM that they rely on.

Examples are scripts, not a package: each is imported by path and its `main([...])` is called
with `--quick` and a temporary output folder; the returned measurements are checked.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tg
from tests.graph_walk import toposort
from tinygrad_lite import Tensor, gradcheck, gradgradcheck, nn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RNG = np.random.default_rng(7)


def load_example(name: str):
    """Import examples/<name>.py as a module (without running its main)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path) -> None:
    """A real, non-trivial PNG file."""
    path = Path(path)
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert path.stat().st_size > 5_000, (path, path.stat().st_size)


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ------------------------------------------------------------------------------------- the CNN ----
@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist_cnn")
    module = load_example("mnist_cnn")
    return module, module.main(["--quick", "--out", str(out), "--no-progress"]), out


@pytest.mark.slow
def test_mnist_cnn_quick_run_learns_digits(cnn):
    _, result, _ = cnn
    # 4,000 training images seen once: about 91% of 1,000 test digits (chance: 10%)
    assert result["n_train"] == 4_000 and result["n_test"] == 1_000
    assert result["test_accuracy"] >= 0.87
    assert len(result["epoch_seconds"]) == 1 and result["epoch_seconds"][0] > 0
    losses = result["history"]["step_loss"]
    assert len(losses) == 125  # 4,000 / 32
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])
    assert np.log(10) - 0.3 < np.mean(losses[:3]) < np.log(10) + 0.5  # starts near chance


@pytest.mark.slow
def test_mnist_cnn_architecture_and_outputs(cnn):
    module, result, out = cnn
    model = result["model"]
    assert [type(m).__name__ for m in model.children()] == ["Conv2d", "Conv2d", "MaxPool2d",
                                                           "Linear"]
    # 8*1*25+8 + 16*8*25+16 + 256*10+10
    assert result["parameters"] == 208 + 3216 + 2570
    for path in result["figures"]:
        assert_png(path)
    assert {p.name for p in result["figures"]} == {"filters.png", "loss.png"}
    assert Path(result["checkpoint"]).parent == out


@pytest.mark.slow
def test_mnist_cnn_checkpoint_reproduces_the_accuracy(cnn):
    module, result, _ = cnn
    saved = tg.load(result["checkpoint"])
    assert saved["config"]["channels"] == [8, 16] and saved["config"]["quick"] is True
    fresh = module.ConvNet(*saved["config"]["channels"])
    fresh.load_state_dict(saved["model"])
    _, _, x_test, y_test = module.load_data(1, 1_000)
    accuracy, _ = module.evaluate(fresh, x_test, y_test)
    assert accuracy == result["test_accuracy"]


def test_mnist_cnn_import_has_no_side_effects(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    module = load_example("mnist_cnn")
    assert callable(module.main) and not any(tmp_path.iterdir())
    assert capsys.readouterr().out == ""
    config = module.parse_args(["--epochs", "3", "--batch-size", "16", "--lr", "0.01",
                                "--seed", "5", "--out", "x"])
    assert (config.epochs, config.batch_size, config.lr, config.seed) == (3, 16, 0.01, 5)
    assert config.out == Path("x") and config.train_limit is None


# ------------------------------------------------------------------------------------ the LSTM ----
@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist_lstm")
    module = load_example("mnist_lstm")
    return module, module.main(["--quick", "--out", str(out), "--no-progress"]), out


@pytest.mark.slow
def test_mnist_lstm_quick_run_learns_digits(lstm):
    _, result, _ = lstm
    # 10,000 training images seen once: about 87% of 1,000 test digits (chance: 10%)
    assert result["n_train"] == 10_000 and result["n_test"] == 1_000
    assert result["test_accuracy"] >= 0.80
    losses = result["history"]["step_loss"]
    assert len(losses) == 313  # ceil(10,000 / 32)
    assert np.mean(losses[-30:]) < 0.4 * np.mean(losses[:5])


@pytest.mark.slow
def test_mnist_lstm_outputs_and_checkpoint(lstm):
    module, result, out = lstm
    for path in result["figures"]:
        assert_png(path)
    assert {p.name for p in result["figures"]} == {"loss.png", "reading.png"}
    saved = tg.load(result["checkpoint"])
    fresh = module.RowLSTM(saved["config"]["hidden"])
    fresh.load_state_dict(saved["model"])
    _, _, x_test, y_test = module.load_data(1, 1_000)
    assert module.evaluate(fresh, x_test, y_test)[0] == result["test_accuracy"]
    # the network's belief in the true digit, row by row: it knows more at the end than after 3
    # rows, and its final belief is the model's own prediction
    curves = module.reading_curves(fresh, x_test[:200], y_test[:200])
    assert curves.shape == (200, 28) and np.all((curves >= 0) & (curves <= 1))
    assert curves[:, -1].mean() > curves[:, 2].mean() + 0.4
    with tg.no_grad():
        final = fresh(Tensor(x_test[:200])).softmax(axis=-1).numpy()
    np.testing.assert_allclose(curves[:, -1], final[np.arange(200), y_test[:200]], atol=1e-5)


def test_mnist_lstm_model_reads_rows_as_time_steps():
    module = load_example("mnist_lstm")
    tg.manual_seed(0)
    model = module.RowLSTM(hidden=8)
    assert model.lstm.batch_first and (model.lstm.input_size, model.lstm.hidden_size) == (28, 8)
    x = RNG.standard_normal((3, 28, 28)).astype(np.float32)
    scores = model(Tensor(x))
    assert scores.shape == (3, 10) and scores.dtype == np.float32
    # the last row's scores of scores_per_row are the model's scores
    np.testing.assert_allclose(model.scores_per_row(Tensor(x)).numpy()[:, -1], scores.numpy(),
                               rtol=1e-5, atol=1e-6)
    # reversing the rows changes the answer: the order of the sequence matters
    assert not np.allclose(model(Tensor(x[:, ::-1].copy())).numpy(), scores.numpy(), atol=1e-4)


# ------------------------------------------------------ fast paths: pooling, Max, conv2d, LSTM ----
def pool_ref(x, k, stride, reduce):
    """Pooling by explicit windows (no padding), float64."""
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def max_pool_grad_ref(x, k, g):
    """Gradient of non-overlapping k x k max pooling: each window's upstream gradient split evenly
    among the elements equal to the window's max."""
    gx = np.zeros_like(x)
    n, c, h, w = x.shape
    for i in range(h // k):
        for j in range(w // k):
            window = x[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k]
            hit = window == window.max(axis=(2, 3), keepdims=True)
            share = g[:, :, i, j][:, :, None, None] / hit.sum(axis=(2, 3), keepdims=True)
            gx[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k] = hit * share
    return gx


def test_max_pool2d_blocks_forward_and_tie_split_gradient():
    # ReLU'd data rounded to a coarse grid: many windows hold tied maxima (all zeros, or equal)
    x = np.round(np.maximum(RNG.standard_normal((4, 8, 24, 24)), 0), 1).astype(np.float32)
    g = RNG.standard_normal((4, 8, 12, 12)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    out = xt.max_pool2d(2)
    np.testing.assert_array_equal(out.numpy(), pool_ref(x, 2, 2, np.max))
    out.backward(Tensor(g))
    ref = max_pool_grad_ref(x.astype(np.float64), 2, g.astype(np.float64))
    np.testing.assert_allclose(xt.grad.numpy(), ref, rtol=1e-6, atol=1e-7)
    assert xt.grad.dtype == np.float32
    hits = x.reshape(4, 8, 12, 2, 12, 2) == out.numpy()[:, :, :, None, :, None]
    assert (hits.sum(axis=(3, 5)) > 1).mean() > 0.05  # the test does exercise ties


def test_max_pool2d_blocks_drop_leftover_rows_like_pytorch():
    x = RNG.standard_normal((2, 3, 7, 9))
    xt = t64(x)
    out = xt.max_pool2d(2)  # floor mode: (3, 4), the last row and column are not pooled
    assert out.shape == (2, 3, 3, 4)
    np.testing.assert_allclose(out.numpy(), pool_ref(x, 2, 2, np.max))
    out.sum().backward()
    assert not xt.grad.numpy()[:, :, 6, :].any() and not xt.grad.numpy()[:, :, :, 8].any()
    assert xt.grad.numpy().sum() == pytest.approx(2 * 3 * 3 * 4)
    assert gradcheck(lambda t: t.max_pool2d(2), [t64(x)])


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool2d_fast_paths_pass_gradcheck_and_gradgradcheck(pool):
    # (2, 4, 16, 16) float64 is big enough for Max's slice-by-slice path (see ops._small_block)
    x = RNG.standard_normal((2, 4, 16, 16))
    fn = (lambda t: t.max_pool2d(2)) if pool == "max" else (lambda t: t.avg_pool2d(2))
    reduce = np.max if pool == "max" else np.mean
    np.testing.assert_allclose(fn(t64(x, False)).numpy(), pool_ref(x, 2, 2, reduce), rtol=1e-12)
    assert gradcheck(fn, [t64(x)])
    assert gradgradcheck(fn, [t64(x)])


def test_max_pool2d_overlapping_windows_on_the_fast_path():
    # kernel 3, stride 2, padding 1: sliding windows (4*3*8*8 windows of 9 values) reduced by Max
    # over the two window axes, on the slice-by-slice path
    x = RNG.standard_normal((4, 3, 16, 16))
    fn = lambda t: t.max_pool2d(3, stride=2, padding=1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    np.testing.assert_allclose(fn(t64(x, False)).numpy(), pool_ref(padded, 3, 2, np.max))
    assert gradcheck(fn, [t64(x)])
    assert gradgradcheck(fn, [t64(x)])


def test_max_small_block_path_matches_numpy_including_nan():
    from tinygrad_lite import ops

    x = RNG.standard_normal((64, 8, 6, 2, 6, 2)).astype(np.float32)
    assert ops._small_block(x, (3, 5)) is not None  # the fast path is the one under test
    assert ops._small_block(x, (0,)) is None  # leading axes: numpy's own reduction
    assert ops._small_block(x.astype(np.int64), (3, 5)) is None
    x[0, 0, 0, 1, 0, 0] = np.nan
    xt = Tensor(x, requires_grad=True)
    out = xt.max(axis=(3, 5))
    np.testing.assert_array_equal(out.numpy(), np.max(x, axis=(3, 5)))  # NaN propagates too
    g = RNG.standard_normal(out.shape).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out.backward(Tensor(g))
        hit = (x == np.max(x, axis=(3, 5), keepdims=True)).astype(np.float32)
        ref = hit / hit.sum(axis=(3, 5), keepdims=True) * g[:, :, :, None, :, None]
    np.testing.assert_allclose(xt.grad.numpy(), ref, rtol=1e-6)  # NaN where numpy has NaN


def test_conv2d_matches_reference_on_a_network_sized_batch():
    x = RNG.standard_normal((16, 8, 12, 12)).astype(np.float32)
    w = RNG.standard_normal((16, 8, 5, 5)).astype(np.float32)
    b = RNG.standard_normal(16).astype(np.float32)
    for stride, padding in ((1, 0), (2, 2)):
        out = Tensor(x).conv2d(Tensor(w), Tensor(b), stride=stride, padding=padding)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
        oh = (12 + 2 * padding - 5) // stride + 1
        ref = np.zeros((16, 16, oh, oh))
        for i in range(oh):
            for j in range(oh):
                patch = xp[:, :, i * stride:i * stride + 5, j * stride:j * stride + 5]
                ref[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
        assert out.shape == ref.shape and out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-4)
    # channels-last in memory (ops.Conv2d's layout: what the next convolution reads fastest), and
    # no copy on the way out: the product's own array seen through a transpose
    out = Tensor(x).conv2d(Tensor(w)).data
    assert out.transpose(0, 2, 3, 1).flags.c_contiguous and out.base is not None


def test_conv2d_gradients_and_second_derivatives_on_a_batch():
    x, w, b = t64(RNG.standard_normal((3, 2, 7, 7))), t64(RNG.standard_normal((4, 2, 3, 3))), \
        t64(RNG.standard_normal(4))
    fn = lambda x, w, b: x.conv2d(w, b, stride=2, padding=1)
    assert gradcheck(fn, [x, w, b])
    assert gradgradcheck(fn, [x, w, b])


def test_conv_and_pool_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((8, 3, 14, 14)).astype(np.float32)
    w = RNG.standard_normal((6, 3, 5, 5)).astype(np.float32)
    b = RNG.standard_normal(6).astype(np.float32)
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
    ours = xt.conv2d(wt, bt, padding=2).relu().max_pool2d(2)
    xr, wr, br = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    theirs = torch.nn.functional.max_pool2d(torch.conv2d(xr, wr, br, padding=2).relu(), 2)
    g = RNG.standard_normal(ours.shape).astype(np.float32)
    ours.backward(Tensor(g))
    theirs.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)
    for mine, ref in ((xt, xr), (wt, wr), (bt, br)):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-3, atol=1e-3)


def test_lstm_backward_costs_no_full_sequence_gradient_per_step():
    """Each step's input is handed to the step on its own: no op in the graph slices one time step
    out of a (T, ...) tensor that needs a gradient (its adjoint would fill a whole (T, ...) array
    per step: quadratic in T). Two layers: the second reads the first's steps directly."""
    tg.manual_seed(0)
    lstm = nn.LSTM(5, 6, num_layers=2, batch_first=True)
    steps = 9
    out, (h, c) = lstm(Tensor(RNG.standard_normal((4, steps, 5)).astype(np.float32)))
    nodes = toposort([h, c])
    sliced = [n._ctx.inputs[0].shape for n in nodes
              if n._ctx is not None and n._ctx.name == "GetItem"]
    assert all(shape[0] != steps for shape in sliced), sliced
    assert sum(1 for n in nodes if n._ctx is not None and n._ctx.name == "Sigmoid") == 2 * steps
    (h.sum() + c.sum()).backward()
    for name, p in lstm.named_parameters():
        assert p.grad is not None and p.grad.data.any(), name


def test_lstm_matches_a_hand_written_reference():
    """The per-step formulation computes PyTorch's LSTM equations (gate order i, f, g, o)."""
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=True)
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    out, (h_n, c_n) = lstm(Tensor(x))
    w_ih, w_hh = lstm.weight_ih_l0.numpy(), lstm.weight_hh_l0.numpy()
    bias = lstm.bias_ih_l0.numpy() + lstm.bias_hh_l0.numpy()
    sig = lambda z: 1 / (1 + np.exp(-z))
    h, c, hs = np.zeros((2, 4)), np.zeros((2, 4)), []
    for t in range(5):
        z = x[:, t] @ w_ih.T + h @ w_hh.T + bias
        i, f, g, o = sig(z[:, :4]), sig(z[:, 4:8]), np.tanh(z[:, 8:12]), sig(z[:, 12:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    np.testing.assert_allclose(out.numpy(), np.stack(hs, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_n.numpy()[0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_n.numpy()[0], c, rtol=1e-5, atol=1e-6)
