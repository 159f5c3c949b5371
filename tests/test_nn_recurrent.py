"""RNN, LSTM and their cells: outputs against numpy implementations of the equations (PyTorch's
gate order i, f, g, o), float64 gradcheck over a few steps, parameter names/shapes/init, initial
states, batch_first, unbatched inputs, errors, graph size per step. PyTorch comparisons are extra."""

import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, gradcheck, nn
from tests.graph_walk import toposort

RNG = np.random.default_rng(3)


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def params_of(module, layer):
    """The numpy weights of one layer: W_ih, W_hh, b_ih + b_hh (zeros without bias)."""
    sd = module.state_dict()
    w_ih, w_hh = sd[f"weight_ih_l{layer}"], sd[f"weight_hh_l{layer}"]
    b = sd.get(f"bias_ih_l{layer}", 0) + sd.get(f"bias_hh_l{layer}", 0)
    return w_ih.astype(np.float64), w_hh.astype(np.float64), np.asarray(b, np.float64)


def lstm_ref(module, x, h0=None, c0=None):
    """The LSTM equations as PyTorch documents them; x is (T, N, F)."""
    steps, n, _ = x.shape
    hid, layers = module.hidden_size, module.num_layers
    h0 = np.zeros((layers, n, hid)) if h0 is None else h0
    c0 = np.zeros((layers, n, hid)) if c0 is None else c0
    hs, cs = [], []
    for layer in range(layers):
        w_ih, w_hh, b = params_of(module, layer)
        h, c, out = h0[layer], c0[layer], []
        for t in range(steps):
            z = x[t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = (z[:, k * hid:(k + 1) * hid] for k in range(4))
            i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
            c = f * c + i * g
            h = o * np.tanh(c)
            out.append(h)
        x = np.stack(out)
        hs.append(h)
        cs.append(c)
    return x, np.stack(hs), np.stack(cs)


def rnn_ref(module, x, h0=None):
    steps, n, _ = x.shape
    act = np.tanh if module.nonlinearity == "tanh" else (lambda z: np.maximum(z, 0))
    h0 = np.zeros((module.num_layers, n, module.hidden_size)) if h0 is None else h0
    hs = []
    for layer in range(module.num_layers):
        w_ih, w_hh, b = params_of(module, layer)
        h, out = h0[layer], []
        for t in range(steps):
            h = act(x[t] @ w_ih.T + h @ w_hh.T + b)
            out.append(h)
        x = np.stack(out)
        hs.append(h)
    return x, np.stack(hs)


# ------------------------------------------------------------------------- names and shapes ----
def test_lstm_parameter_names_shapes_and_init_follow_pytorch():
    lstm = nn.LSTM(5, 7, num_layers=2)
    shapes = {k: v.shape for k, v in lstm.state_dict().items()}
    assert shapes == {
        "weight_ih_l0": (28, 5), "weight_hh_l0": (28, 7), "bias_ih_l0": (28,), "bias_hh_l0": (28,),
        "weight_ih_l1": (28, 7), "weight_hh_l1": (28, 7), "bias_ih_l1": (28,), "bias_hh_l1": (28,),
    }
    assert list(shapes) == [n for n, _ in lstm.named_parameters()]
    bound = 1 / math.sqrt(7)
    for p in lstm.parameters():
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound
    assert max(np.abs(p.data).max() for p in lstm.parameters()) > 0.9 * bound
    assert list(nn.LSTM(5, 7, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


def test_rnn_parameter_names_and_shapes_follow_pytorch():
    shapes = {k: v.shape for k, v in nn.RNN(3, 4, num_layers=2).state_dict().items()}
    assert shapes == {
        "weight_ih_l0": (4, 3), "weight_hh_l0": (4, 4), "bias_ih_l0": (4,), "bias_hh_l0": (4,),
        "weight_ih_l1": (4, 4), "weight_hh_l1": (4, 4), "bias_ih_l1": (4,), "bias_hh_l1": (4,),
    }
    assert [n for n, _ in nn.LSTMCell(3, 4).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert nn.LSTMCell(3, 4).weight_ih.shape == (16, 3) and nn.RNNCell(3, 4).weight_hh.shape == (4, 4)


def test_reprs():
    assert repr(nn.LSTM(28, 64, batch_first=True)) == "LSTM(28, 64, batch_first=True)"
    assert repr(nn.RNN(3, 4, num_layers=2, nonlinearity="relu")) == \
        "RNN(3, 4, num_layers=2, nonlinearity='relu')"


# ---------------------------------------------------------------------- forward vs numpy ----
@pytest.mark.parametrize("num_layers,bias", [(1, True), (2, True), (2, False)])
def test_lstm_matches_the_numpy_equations(num_layers, bias):
    lstm = nn.LSTM(3, 4, num_layers=num_layers, bias=bias)
    x = RNG.standard_normal((5, 2, 3)).astype(np.float32)
    out, (h, c) = lstm(Tensor(x))
    ref_out, ref_h, ref_c = lstm_ref(lstm, x.astype(np.float64))
    assert out.shape == (5, 2, 4) and h.shape == c.shape == (num_layers, 2, 4)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.data, ref_c, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


def test_lstm_batch_first_and_initial_state():
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    x = RNG.standard_normal((2, 6, 3))  # (N, T, F)
    h0, c0 = RNG.standard_normal((2, 2, 4)), RNG.standard_normal((2, 2, 4))
    out, (h, c) = lstm(Tensor(x), (Tensor(h0), Tensor(c0)))
    ref_out, ref_h, ref_c = lstm_ref(lstm, x.transpose(1, 0, 2), h0, c0)
    assert out.shape == (2, 6, 4)
    np.testing.assert_allclose(out.data, ref_out.transpose(1, 0, 2), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.data, ref_c, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out.data[:, -1], h.data[-1])  # the last output is h_n's top layer


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_the_numpy_equations(nonlinearity):
    rnn = nn.RNN(3, 5, num_layers=2, nonlinearity=nonlinearity)
    x, h0 = RNG.standard_normal((4, 2, 3)), RNG.standard_normal((2, 2, 5))
    out, h = rnn(Tensor(x), Tensor(h0))
    ref_out, ref_h = rnn_ref(rnn, x, h0)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-6, atol=1e-7)
    out_bf, h_bf = nn.RNN(3, 5, batch_first=True)(Tensor.zeros(2, 4, 3))
    assert out_bf.shape == (2, 4, 5) and h_bf.shape == (1, 2, 5)


def test_unbatched_inputs_drop_the_batch_dimension():
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = RNG.standard_normal((5, 3))
    out, (h, c) = lstm(Tensor(x))
    ref_out, ref_h, ref_c = lstm_ref(lstm, x[:, None, :])
    assert out.shape == (5, 4) and h.shape == c.shape == (2, 4)
    np.testing.assert_allclose(out.data, ref_out[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.data, ref_c[:, 0], rtol=1e-6, atol=1e-7)
    out, h = nn.RNN(3, 4)(Tensor(x), Tensor.zeros(1, 4))
    assert out.shape == (5, 4) and h.shape == (1, 4)


def test_cells_equal_one_step_of_the_layers():
    lstm, cell = nn.LSTM(3, 4), nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x, h0, c0 = (RNG.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4)))
    h, c = cell(Tensor(x), (Tensor(h0), Tensor(c0)))
    _, (hl, cl) = lstm(Tensor(x[None]), (Tensor(h0[None]), Tensor(c0[None])))
    np.testing.assert_allclose(h.data, hl.data[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.data, cl.data[0], rtol=1e-6, atol=1e-7)
    rnn, rcell = nn.RNN(3, 4), nn.RNNCell(3, 4)
    rcell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})
    _, hr = rnn(Tensor(x[None]), Tensor(h0[None]))
    np.testing.assert_allclose(rcell(Tensor(x), Tensor(h0)).data, hr.data[0], rtol=1e-6, atol=1e-7)
    assert rcell(Tensor(x)).shape == (2, 4) and cell(Tensor(x))[1].shape == (2, 4)


# ---------------------------------------------------------------------------------- gradients ----
def test_lstm_gradcheck_over_three_steps():
    lstm = nn.LSTM(2, 3, num_layers=2).double()
    x = t64(RNG.standard_normal((3, 2, 2)))
    h0, c0 = t64(RNG.standard_normal((2, 2, 3))), t64(RNG.standard_normal((2, 2, 3)))

    def run(x, h0, c0, *params):
        out, (h, c) = lstm(x, (h0, c0))
        return out, h, c

    assert gradcheck(run, [x, h0, c0, *lstm.parameters()])


def test_rnn_and_cells_gradcheck():
    rnn = nn.RNN(2, 3, num_layers=2).double()
    x, h0 = t64(RNG.standard_normal((3, 2, 2))), t64(RNG.standard_normal((2, 2, 3)))
    assert gradcheck(lambda x, h0, *ps: rnn(x, h0), [x, h0, *rnn.parameters()])
    cell = nn.LSTMCell(2, 3).double()
    h, c = t64(RNG.standard_normal((2, 3))), t64(RNG.standard_normal((2, 3)))
    assert gradcheck(lambda x, h, c, *ps: cell(x[0], (h, c)), [x, h, c, *cell.parameters()])
    rcell = nn.RNNCell(2, 3).double()
    assert gradcheck(lambda x, h, *ps: rcell(x[0], h), [x, h, *rcell.parameters()])


def test_lstm_trains_its_parameters():
    lstm, head = nn.LSTM(2, 3, batch_first=True), nn.Linear(3, 1)
    _, (h, _) = lstm(Tensor(RNG.standard_normal((4, 5, 2)).astype(np.float32)))
    head(h[-1]).sum().backward()
    for name, p in lstm.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.data.any(), name
        assert p.grad.dtype == np.float32


# -------------------------------------------------------------------------------- speed shape ----
def test_lstm_graph_grows_by_a_few_ops_per_step():
    """Per step: at most two matmuls (the input projection, unless done for all steps at once, and
    weight_hh), one sigmoid for the i, f, o gates together, one tanh for g, one for the cell, the
    slices and the cell update: at most 17 recorded ops."""
    lstm = nn.LSTM(4, 8)

    def graph(steps):
        out, _ = lstm(Tensor(np.ones((steps, 2, 4), np.float32)))
        return [n._ctx.name for n in toposort([out]) if n._ctx is not None]

    few, many = graph(3), graph(13)
    assert (len(many) - len(few)) / 10 <= 17
    assert (many.count("MatMul") - few.count("MatMul")) / 10 <= 2
    assert many.count("Sigmoid") == 13 and many.count("Tanh") == 2 * 13


# -------------------------------------------------------------------------------------- errors ----
def test_wrong_input_width_and_rank_are_clear_errors():
    with pytest.raises(ValueError, match=r"input_size=3.*\(5, 2, 4\)"):
        nn.LSTM(3, 4)(Tensor.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"\(N, T, features\)"):
        nn.RNN(3, 4, batch_first=True)(Tensor.zeros(1, 2, 5, 3))
    with pytest.raises(ValueError, match=r"LSTMCell\(input_size=3\).*\(2, 5\)"):
        nn.LSTMCell(3, 4)(Tensor.zeros(2, 5))


def test_wrong_initial_state_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        nn.RNN(3, 4, num_layers=2)(Tensor.zeros(5, 2, 3), Tensor.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        nn.LSTM(3, 4)(Tensor.zeros(5, 2, 3), (Tensor.zeros(1, 2, 4), Tensor.zeros(1, 3, 4)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers"):
        nn.LSTM(3, 4, num_layers=0)


# ------------------------------------------------------------------------- PyTorch (extra) ----
@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_torch_weights_load_unchanged_and_agree(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 5, num_layers=2, batch_first=True)
    model = getattr(nn, kind)(3, 5, num_layers=2, batch_first=True)
    model.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((2, 6, 3)).astype(np.float32)
    t_out, t_state = tm(torch.from_numpy(x))
    out, state = model(Tensor(x))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    t_states = t_state if kind == "LSTM" else (t_state,)
    states = state if kind == "LSTM" else (state,)
    for ours, theirs in zip(states, t_states):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_torch_lstm_gradients_agree():
    torch = pytest.importorskip("torch")
    tm = torch.nn.LSTM(3, 4).double()
    model = nn.LSTM(3, 4).double()
    model.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((4, 2, 3))
    tx = torch.tensor(x, requires_grad=True)
    tm(tx)[0].pow(2).sum().backward()
    ox = t64(x)
    (model(ox)[0] ** 2).sum().backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(tm, name).grad.numpy(), rtol=1e-10,
                                   atol=1e-12)
