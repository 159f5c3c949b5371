"""RNN, LSTM and their cells against the numpy equations in tests/reference.py (PyTorch's gate order
i, f, g, o and parameter names), in float64 and float32; float64 gradcheck over a few steps;
parameter names/shapes/init, initial states, batch_first, unbatched inputs, errors, graph size per
step; and (extra) the same outputs and gradients as PyTorch with its weights loaded unchanged.
The generic checks of each layer (forward, gradcheck, gradgradcheck, torch) are rows of
tests/layer_table.py."""

import math

import numpy as np
import pytest

from tests.graph_walk import toposort
from tinygrad_lite import Tensor, gradcheck, nn

from .reference import lstm as np_lstm
from .reference import rnn as np_rnn
from .reference import sigmoid, t64

RNG = np.random.default_rng(11)


# ---------------------------------------------------------------------------- parameters ----
def test_lstm_parameter_names_shapes_and_init_follow_pytorch():
    lstm = nn.LSTM(3, 5, num_layers=2)
    assert [(k, v.shape) for k, v in lstm.state_dict().items()] == [
        ("weight_ih_l0", (20, 3)), ("weight_hh_l0", (20, 5)), ("bias_ih_l0", (20,)),
        ("bias_hh_l0", (20,)), ("weight_ih_l1", (20, 5)), ("weight_hh_l1", (20, 5)),
        ("bias_ih_l1", (20,)), ("bias_hh_l1", (20,))]
    bound = 1 / math.sqrt(5)
    assert all(np.abs(p.data).max() <= bound for p in lstm.parameters())
    assert all(p.dtype == np.float32 for p in lstm.parameters())
    big = nn.LSTM(10, 100)
    assert np.abs(big.weight_hh_l0.data).max() > 0.99 * 0.1


def test_rnn_parameter_names_and_no_bias():
    rnn = nn.RNN(3, 4, num_layers=2, bias=False)
    assert list(rnn.state_dict()) == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1",
                                      "weight_hh_l1"]
    assert rnn.weight_ih_l1.shape == (4, 4)
    x = RNG.standard_normal((3, 2, 3)).astype(np.float32)
    out, h = rnn(Tensor(x))
    ref, ref_h = np_rnn(rnn, x.astype(np.float64))
    np.testing.assert_allclose(out.data, ref, rtol=1e-5, atol=1e-6)


def test_lstm_and_cell_parameter_names_shapes_and_bias_false():
    lstm = nn.LSTM(5, 7, num_layers=2)
    assert list(lstm.state_dict()) == [n for n, _ in lstm.named_parameters()]
    assert list(nn.LSTM(5, 7, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert [n for n, _ in nn.LSTMCell(3, 4).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert nn.LSTMCell(3, 4).weight_ih.shape == (16, 3) and nn.RNNCell(3, 4).weight_hh.shape == (4, 4)


# -------------------------------------------------------------------------------- forward ----
@pytest.mark.parametrize("layers,batch_first", [(1, False), (2, True), (3, False)])
def test_lstm_forward_matches_numpy_equations(layers, batch_first):
    lstm = nn.LSTM(3, 4, num_layers=layers, batch_first=batch_first).double()
    x = RNG.standard_normal((5, 2, 3))  # (T, N, F)
    h0, c0 = RNG.standard_normal((2, layers, 2, 4))
    ref, ref_h, ref_c = np_lstm(lstm, x, h0, c0)
    inp = x.transpose(1, 0, 2) if batch_first else x
    out, (h, c) = lstm(Tensor(inp), (Tensor(h0), Tensor(c0)))
    np.testing.assert_allclose(out.data, ref.transpose(1, 0, 2) if batch_first else ref,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.data, ref_c, rtol=1e-12, atol=1e-14)
    # without an initial state: zeros
    out0, (h_zero, _) = lstm(Tensor(inp))
    ref0, ref0_h, _ = np_lstm(lstm, x)
    np.testing.assert_allclose(h_zero.data, ref0_h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("num_layers,bias", [(1, True), (2, True), (2, False)])
def test_lstm_float32_matches_the_numpy_equations(num_layers, bias):
    lstm = nn.LSTM(3, 4, num_layers=num_layers, bias=bias)
    x = RNG.standard_normal((5, 2, 3)).astype(np.float32)
    out, (h, c) = lstm(Tensor(x))
    ref_out, ref_h, ref_c = np_lstm(lstm, x.astype(np.float64))
    assert out.shape == (5, 2, 4) and h.shape == c.shape == (num_layers, 2, 4)
    for ours, ref in ((out, ref_out), (h, ref_h), (c, ref_c)):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.data, ref, rtol=1e-5, atol=1e-6)


def test_lstm_last_output_is_the_final_hidden_state_of_the_top_layer():
    lstm = nn.LSTM(2, 3, num_layers=2, batch_first=True)
    out, (h, c) = lstm(Tensor(RNG.standard_normal((4, 6, 2)).astype(np.float32)))
    assert out.shape == (4, 6, 3) and h.shape == c.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.data[:, -1], h.data[-1])


def test_lstm_float32_stays_float32():
    lstm = nn.LSTM(2, 3)
    out, (h, c) = lstm(Tensor(RNG.standard_normal((3, 1, 2)).astype(np.float32)))
    assert out.dtype == h.dtype == c.dtype == np.float32


@pytest.mark.parametrize("nonlinearity,layers,batch_first", [("tanh", 1, False), ("tanh", 2, True),
                                                             ("relu", 2, False)])
def test_rnn_forward_matches_numpy_equations(nonlinearity, layers, batch_first):
    rnn = nn.RNN(3, 4, num_layers=layers, nonlinearity=nonlinearity,
                 batch_first=batch_first).double()
    x = RNG.standard_normal((6, 2, 3))
    h0 = RNG.standard_normal((layers, 2, 4))
    ref, ref_h = np_rnn(rnn, x, h0)
    out, h = rnn(Tensor(x.transpose(1, 0, 2) if batch_first else x), Tensor(h0))
    np.testing.assert_allclose(out.data, ref.transpose(1, 0, 2) if batch_first else ref,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-12, atol=1e-14)


def test_unbatched_inputs_drop_the_batch_dimension():
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = RNG.standard_normal((5, 3))
    out, (h, c) = lstm(Tensor(x))
    ref_out, ref_h, ref_c = np_lstm(lstm, x[:, None, :])
    assert out.shape == (5, 4) and h.shape == c.shape == (2, 4)
    np.testing.assert_allclose(out.data, ref_out[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.data, ref_c[:, 0], rtol=1e-6, atol=1e-7)
    out, h = nn.RNN(3, 4)(Tensor(x), Tensor.zeros(1, 4))
    assert out.shape == (5, 4) and h.shape == (1, 4)


def test_unbatched_sequences_match_a_batch_of_one():
    lstm = nn.LSTM(3, 2, num_layers=2).double()
    x = RNG.standard_normal((4, 3))
    out, (h, c) = lstm(Tensor(x))
    out_b, (h_b, c_b) = lstm(Tensor(x[:, None]))
    assert out.shape == (4, 2) and h.shape == (2, 2)
    np.testing.assert_allclose(out.data, out_b.data[:, 0], rtol=1e-12)
    np.testing.assert_allclose(c.data, c_b.data[:, 0], rtol=1e-12)
    rnn = nn.RNN(3, 2, batch_first=True).double()
    out, h = rnn(Tensor(x))
    np.testing.assert_allclose(out.data, np_rnn(rnn, x[:, None])[0][:, 0], rtol=1e-12)


def test_cells_match_one_step_of_the_equations():
    cell = nn.LSTMCell(3, 4).double()
    x, h0, c0 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    z = (x @ cell.weight_ih.data.T + h0 @ cell.weight_hh.data.T + cell.bias_ih.data
         + cell.bias_hh.data)
    i, f, g, o = sigmoid(z[:, :4]), sigmoid(z[:, 4:8]), np.tanh(z[:, 8:12]), sigmoid(z[:, 12:])
    c_ref = f * c0 + i * g
    h, c = cell(Tensor(x), (Tensor(h0), Tensor(c0)))
    np.testing.assert_allclose(c.data, c_ref, rtol=1e-12)
    np.testing.assert_allclose(h.data, o * np.tanh(c_ref), rtol=1e-12)
    rcell = nn.RNNCell(3, 4, nonlinearity="relu").double()
    ref = np.maximum(x @ rcell.weight_ih.data.T + h0 @ rcell.weight_hh.data.T + rcell.bias_ih.data
                     + rcell.bias_hh.data, 0)
    np.testing.assert_allclose(rcell(Tensor(x), Tensor(h0)).data, ref, rtol=1e-12)


def test_rnn_cell_equals_one_step_of_rnn_and_default_states_are_zeros():
    rnn, rcell = nn.RNN(3, 4), nn.RNNCell(3, 4)
    rcell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})
    x, h0 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4))
    _, hr = rnn(Tensor(x[None]), Tensor(h0[None]))
    np.testing.assert_allclose(rcell(Tensor(x), Tensor(h0)).data, hr.data[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rcell(Tensor(x)).data, rcell(Tensor(x), Tensor(np.zeros((2, 4)))).data)
    cell = nn.LSTMCell(3, 4)
    zeros = Tensor(np.zeros((2, 4)))
    h, c = cell(Tensor(x))
    h0_, c0_ = cell(Tensor(x), (zeros, zeros))
    np.testing.assert_array_equal(h.data, h0_.data)
    np.testing.assert_array_equal(c.data, c0_.data)


def test_lstm_cell_unrolled_equals_lstm():
    lstm = nn.LSTM(3, 4).double()
    cell = nn.LSTMCell(3, 4).double()
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = RNG.standard_normal((5, 2, 3))
    out, (h_n, c_n) = lstm(Tensor(x))
    state = None
    for t in range(5):
        state = cell(Tensor(x[t]), state)
        np.testing.assert_allclose(state[0].data, out.data[t], rtol=1e-12)
    np.testing.assert_allclose(state[1].data, c_n.data[0], rtol=1e-12)


# ------------------------------------------------------------------------------- gradients ----
def test_lstm_gradcheck_two_layers_three_steps():
    lstm = nn.LSTM(2, 3, num_layers=2, batch_first=True).double()
    x = t64(RNG.standard_normal((2, 3, 2)))
    h0, c0 = t64(RNG.standard_normal((2, 2, 3))), t64(RNG.standard_normal((2, 2, 3)))
    params = list(lstm.parameters())

    def fn(inp, h, c, *ps):
        out, (h_n, c_n) = lstm(inp, (h, c))
        return out, h_n, c_n

    assert gradcheck(fn, [x, h0, c0, *params])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradcheck(nonlinearity):
    rnn = nn.RNN(2, 3, num_layers=2, nonlinearity=nonlinearity).double()
    x, h0 = t64(RNG.standard_normal((4, 2, 2))), t64(RNG.standard_normal((2, 2, 3)))
    assert gradcheck(lambda inp, h, *ps: rnn(inp, h), [x, h0, *rnn.parameters()])


def test_cells_gradcheck():
    cell = nn.LSTMCell(2, 3).double()
    x, h, c = (t64(RNG.standard_normal(s)) for s in [(2, 2), (2, 3), (2, 3)])
    assert gradcheck(lambda a, b, d, *ps: cell(a, (b, d)), [x, h, c, *cell.parameters()])
    rcell = nn.RNNCell(2, 3).double()
    assert gradcheck(lambda a, b, *ps: rcell(a, b), [x, h, *rcell.parameters()])


def test_lstm_trains_its_parameters():
    lstm, head = nn.LSTM(2, 3, batch_first=True), nn.Linear(3, 1)
    _, (h, _) = lstm(Tensor(RNG.standard_normal((4, 5, 2)).astype(np.float32)))
    head(h[-1]).sum().backward()
    for name, p in lstm.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.data.any(), name
        assert p.grad.dtype == np.float32


def test_lstm_graph_grows_by_a_few_ops_per_step():
    """Per step: at most two matmuls (the input projection, unless done for all steps at once, and
    weight_hh), one sigmoid for the i, f, o gates together, one tanh for g, one for the cell, the
    slices and the cell update: at most 17 recorded ops."""
    lstm = nn.LSTM(4, 8)

    def graph(steps):
        out, _ = lstm(Tensor(np.ones((steps, 2, 4), np.float32)))
        return [n.grad_fn.name for n in toposort([out]) if n.grad_fn is not None]

    few, many = graph(3), graph(13)
    assert (len(many) - len(few)) / 10 <= 17
    assert (many.count("MatMul") - few.count("MatMul")) / 10 <= 2
    assert many.count("Sigmoid") == 13 and many.count("Tanh") == 2 * 13


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_no_step_slices_a_whole_sequence_that_needs_a_gradient(kind):
    """Each step projects its own input: slicing step t out of one (T, N, gates) projection would
    make every step's backward a zero-filled (T, N, gates) gradient, T times the work."""
    model = getattr(nn, kind)(3, 4, num_layers=2)
    out, _ = model(Tensor(np.ones((7, 2, 3), np.float32)))  # T = 7: no other axis is 7 long
    sliced = [n.grad_fn.inputs[0].shape for n in toposort([out])
              if n.grad_fn is not None and n.grad_fn.name == "GetItem"]
    assert all(7 not in shape for shape in sliced)  # (the one-projection form fails here)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bias", [True, False])
def test_jit_replay_of_a_training_step_equals_eager_bitwise(kind, bias):
    import tinygrad_lite as tg

    def make():
        model = getattr(nn, kind)(3, 4, num_layers=2, bias=bias, batch_first=True)
        for i, p in enumerate(model.parameters()):
            p.data = np.random.default_rng(i).uniform(-0.5, 0.5, p.shape).astype(np.float32)
        opt = tg.optim.Adam(model.parameters(), lr=1e-2)

        def step(x):
            out, _ = model(x)
            loss = (out * out).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return model, step

    (eager, eager_step), (jitted, jit_step) = make(), make()
    jit_step = tg.jit(jit_step)
    for i in range(4):  # two traced calls, then replays
        x = Tensor(np.random.default_rng(10 + i).standard_normal((2, 5, 3)).astype(np.float32))
        assert eager_step(x).item() == jit_step(x).item()
    for p, q in zip(eager.parameters(), jitted.parameters()):
        assert np.array_equal(p.data, q.data)


def test_gradient_flows_back_through_every_time_step():
    lstm = nn.LSTM(1, 2)
    x = Tensor(np.ones((6, 1, 1), np.float32), requires_grad=True)
    _, (h, _) = lstm(x)
    h.sum().backward()
    assert np.all(x.grad.data != 0)  # the first step influences the final state


# ---------------------------------------------------------------------------------- errors ----
def test_recurrent_bad_inputs_are_explained():
    lstm = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"\(2, 5, 7\)"):
        lstm(Tensor.zeros(2, 5, 7))
    with pytest.raises(ValueError, match=r"\(1, 2, 5\)"):
        lstm(Tensor.zeros(2, 5, 3), (Tensor.zeros(1, 2, 5), Tensor.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        nn.RNN(5, 2)(Tensor.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="nonlinearity|sigmoid"):
        nn.RNN(2, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers"):
        nn.LSTM(2, 2, num_layers=0)


def test_wrong_input_width_rank_and_state_shape_are_clear_errors():
    with pytest.raises(ValueError, match=r"input_size=3.*\(5, 2, 4\)"):
        nn.LSTM(3, 4)(Tensor.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"\(N, T, features\)"):
        nn.RNN(3, 4, batch_first=True)(Tensor.zeros(1, 2, 5, 3))
    with pytest.raises(ValueError, match=r"LSTMCell\(input_size=3\).*\(2, 5\)"):
        nn.LSTMCell(3, 4)(Tensor.zeros(2, 5))
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        nn.RNN(3, 4, num_layers=2)(Tensor.zeros(5, 2, 3), Tensor.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        nn.LSTM(3, 4)(Tensor.zeros(5, 2, 3), (Tensor.zeros(1, 2, 4), Tensor.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNNCell(3, 4, nonlinearity="gelu")


def test_initial_states_may_be_arrays():
    rnn, x = nn.RNN(3, 4).double(), RNG.standard_normal((2, 1, 3))
    h0 = RNG.standard_normal((1, 1, 4))
    np.testing.assert_array_equal(rnn(Tensor(x), h0)[0].data, rnn(Tensor(x), Tensor(h0))[0].data)


def test_recurrent_repr():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == \
        "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4)) == "RNN(3, 4)"
    assert repr(nn.RNN(3, 4, bias=False)) == "RNN(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4)) == "RNNCell(3, 4)" and repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert repr(nn.LSTM(28, 64, batch_first=True)) == "LSTM(28, 64, batch_first=True)"
    assert repr(nn.RNN(3, 4, num_layers=2, nonlinearity="relu")) == \
        "RNN(3, 4, num_layers=2, nonlinearity='relu')"


# --------------------------------------------------------------------------- torch (extra) ----
def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_lstm_two_layers_batch_first_matches_torch_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    tl = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True).double()
    lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True).double()
    _load_from_torch(lstm, tl)
    x = RNG.standard_normal((4, 6, 3))
    h0, c0 = RNG.standard_normal((2, 2, 4, 5))
    up = RNG.standard_normal((4, 6, 5))

    tx = torch.tensor(x, requires_grad=True)
    t_out, (t_h, t_c) = tl(tx, (torch.tensor(h0), torch.tensor(c0)))
    ((t_out * torch.tensor(up)).sum() + t_h.sum() + 2 * t_c.sum()).backward()

    ox = Tensor(x, requires_grad=True)
    out, (h, c) = lstm(ox, (Tensor(h0), Tensor(c0)))
    ((out * Tensor(up)).sum() + h.sum() + 2 * c.sum()).backward()

    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.data, t_h.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.data, t_c.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(tl, name).grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def test_rnn_matches_torch():
    torch = pytest.importorskip("torch")
    tr = torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True).double()
    rnn = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True).double()
    _load_from_torch(rnn, tr)
    x = RNG.standard_normal((2, 5, 3))
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_h = tr(tx)
    t_out.sum().backward()
    ox = Tensor(x, requires_grad=True)
    out, h = rnn(ox)
    out.sum().backward()
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.data, t_h.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in rnn.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(tr, name).grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_float32_torch_weights_load_unchanged_and_agree(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 5, num_layers=2, batch_first=True)
    model = getattr(nn, kind)(3, 5, num_layers=2, batch_first=True)
    _load_from_torch(model, tm)
    x = RNG.standard_normal((2, 6, 3)).astype(np.float32)
    t_out, t_state = tm(torch.from_numpy(x))
    out, state = model(Tensor(x))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    t_states = t_state if kind == "LSTM" else (t_state,)
    states = state if kind == "LSTM" else (state,)
    for ours, theirs in zip(states, t_states):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
