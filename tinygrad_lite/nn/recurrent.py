"""RNN, LSTM and GRU (and their cells) from Tensor operations, with PyTorch's parameter names, shapes,
gate order (i, f, g, o) and initialization, so PyTorch weights load unchanged.

Speed: every step projects its own input (see the NOTE in `_Recurrent._step_inputs`), and the first
layer's bias rides in that product as one more column of weight_ih, against a column of ones
appended to the input once per call. The LSTM applies one sigmoid over the i, f, o gates together
and one tanh over g. (For that, the gate rows are regrouped once per call as i, f, o, g: three
slices and a concatenation of the weights instead of per-step work.)
"""

from __future__ import annotations

import math

import numpy as np

from ..argcheck import check_int
from ..tensor import Tensor
from .layers import _uniform_parameter as _param
from .module import Module


def _ifog(t: Tensor, hidden: int) -> Tensor:
    """Rows (or entries) in PyTorch's gate order i, f, g, o regrouped as i, f, o, g."""
    return Tensor.concatenate([t[:2 * hidden], t[3 * hidden:], t[2 * hidden:3 * hidden]], axis=0)


def _bias_column(w: Tensor, b: Tensor) -> Tensor:
    """[w | b]: the input weight with the bias as its last column, for inputs that end in a 1."""
    return Tensor.concatenate([w, b.reshape(b.shape[0], 1)], axis=1)


def _check_state(name, t, shape):
    if not isinstance(t, Tensor):
        t = Tensor(np.asarray(t))
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    return t


class RNNCell(Module):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    >>> cell = RNNCell(3, 4)
    >>> cell(Tensor.zeros(2, 3)).shape
    (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        _cell_parameters(self, input_size, hidden_size, bias, gates=1)

    def forward(self, x, h=None):
        _check_width(self, x, 2)
        if h is None:
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        h = _check_state("RNNCell: h", h, (x.shape[0], self.hidden_size))
        b = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return self.step(x.linear(self.weight_ih, b), h, self.weight_hh.T, self.nonlinearity)

    @staticmethod
    def step(x_proj: Tensor, h: Tensor, w_hh_t: Tensor, nonlinearity: str = "tanh") -> Tensor:
        """One step from the projected input x W_ih^T + b (N, H): h' = tanh(x_proj + h W_hh^T)
        (or relu). RNN calls it too, with every step's input projected at once."""
        z = x_proj + h @ w_hh_t
        return z.tanh() if nonlinearity == "tanh" else z.relu()

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class LSTMCell(Module):
    """One LSTM step: (x, (h, c)) -> (h', c'); gates i, f, g, o stacked in weight_ih (4H, input).

    >>> cell = LSTMCell(3, 4)
    >>> h, c = cell(Tensor.zeros(2, 3))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        _cell_parameters(self, input_size, hidden_size, bias, gates=4)

    def forward(self, x, state=None):
        _check_width(self, x, 2)
        n, hidden = x.shape[0], self.hidden_size
        if state is None:
            zeros = Tensor(np.zeros((n, hidden), dtype=x.dtype))
            state = (zeros, zeros)
        h = _check_state("LSTMCell: h", state[0], (n, hidden))
        c = _check_state("LSTMCell: c", state[1], (n, hidden))
        b = None if self.bias_ih is None else _ifog(self.bias_ih + self.bias_hh, hidden)
        return self.step(x, h, c, _ifog(self.weight_ih, hidden), _ifog(self.weight_hh, hidden), b)

    @staticmethod
    def step(x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
             b: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step -> (h', c'), with the weights' gate rows regrouped as i, f, o, g (`_ifog`), so
        one sigmoid covers i, f, o and one tanh covers g. LSTM calls it for every step."""
        hidden = h.shape[-1]
        gates = x.linear(w_ih, b) + h.linear(w_hh)
        ifo = gates[:, :3 * hidden].sigmoid()
        g = gates[:, 3 * hidden:].tanh()
        c = ifo[:, hidden:2 * hidden] * c + ifo[:, :hidden] * g
        h = ifo[:, 2 * hidden:] * c.tanh()
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


def _cell_parameters(cell, input_size, hidden_size, bias, gates):
    """A cell's sizes (checked) and its weight_ih, weight_hh, bias_ih and bias_hh (gates *
    hidden_size rows each), drawn in that order from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)),
    as PyTorch does."""
    _check_sizes(cell, input_size, hidden_size)
    cell.input_size, cell.hidden_size = input_size, hidden_size
    k = 1.0 / math.sqrt(hidden_size)
    cell.weight_ih = _param((gates * hidden_size, input_size), k)
    cell.weight_hh = _param((gates * hidden_size, hidden_size), k)
    cell.bias_ih = _param((gates * hidden_size,), k) if bias else None
    cell.bias_hh = _param((gates * hidden_size,), k) if bias else None


def _check_sizes(module, input_size, hidden_size):
    name = type(module).__name__
    check_int(input_size, f"{name}: input_size", 0)
    check_int(hidden_size, f"{name}: hidden_size", 1)  # NOTE: PyTorch refuses 0 too


def _check_width(module, x, ndim):
    if x.ndim != ndim or x.shape[-1] != module.input_size:
        raise ValueError(
            f"{type(module).__name__}(input_size={module.input_size}) got an input of shape "
            f"{tuple(x.shape)}; expected {ndim} dimensions, the last of size {module.input_size}"
        )


class _Recurrent(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False):
        super().__init__()
        _check_sizes(self, input_size, hidden_size)
        check_int(num_layers, f"{type(self).__name__}: num_layers", 1)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        k = 1.0 / math.sqrt(hidden_size)
        rows = self._gates * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _param((rows, width), k))
            setattr(self, f"weight_hh_l{layer}", _param((rows, hidden_size), k))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _param((rows,), k))
                setattr(self, f"bias_hh_l{layer}", _param((rows,), k))

    def _layer_params(self, layer):
        w_ih = getattr(self, f"weight_ih_l{layer}")
        w_hh = getattr(self, f"weight_hh_l{layer}")
        b = None
        if self.bias:
            b = getattr(self, f"bias_ih_l{layer}") + getattr(self, f"bias_hh_l{layer}")
        return w_ih, w_hh, b

    def _inputs(self, x):
        """x as (T, N, features), and whether it came without a batch dimension."""
        layout = "(N, T, features)" if self.batch_first else "(T, N, features)"
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}(input_size={self.input_size}) got an input of shape "
                f"{tuple(x.shape)}; expected {layout} (or (T, features) unbatched) with "
                f"features = {self.input_size}"
            )
        if x.ndim == 2:
            return x.reshape(x.shape[0], 1, x.shape[1]), True
        return (x.transpose(1, 0, 2) if self.batch_first else x), False

    def _state(self, name, t, n, dtype, unbatched):
        shape = (self.num_layers, n, self.hidden_size)
        if t is None:
            return Tensor(np.zeros(shape, dtype=dtype))
        if unbatched:
            t = _check_state(f"{type(self).__name__}: {name}", t, (self.num_layers, self.hidden_size))
            return t.reshape(shape)
        return _check_state(f"{type(self).__name__}: {name}", t, shape)

    def _step_inputs(self, x):
        """The first layer's input per time step, x[t] (N, features), each ending in a column of
        ones when the module has biases: `_bias_column` makes the bias part of weight_ih.

        NOTE: each step projects its own input. Slicing step t out of one (T, N, gates) projection
        costs every step's backward a zero-filled (T, N, gates) gradient (GetItem's adjoint), T
        times the work: for MNIST rows (T = 28, batch 128, hidden 64) the LSTM's eager step took
        1.7x the instructions (1.9x the time) and even its tg.jit replay 4% more instructions (the
        replay writes the slices into one zero array, but each step's gate gradient is still made
        on its own and copied), and the RNN's eager step 2.5x to 2.9x the time. The column of ones
        puts the bias inside the product, so its gradient comes out of the weight-gradient product
        instead of a sum over the batch at every step (RNN replayed: 1.4x faster; LSTM: 1% fewer
        instructions, eager and replayed). Measured with benchmarks/lstm_callgrind.py's step
        (callgrind) and interleaved timings, one BLAS thread.
        """
        if self.bias:
            x = Tensor.concatenate([x, Tensor(np.ones(x.shape[:2] + (1,), dtype=x.dtype))], axis=2)
        return [x[t] for t in range(x.shape[0])]

    def _outputs(self, x, finals, unbatched):
        """Output (T, N, H) in the caller's layout and the final states stacked per layer."""
        finals = [Tensor.stack(f, axis=0) for f in finals]
        if unbatched:
            return x.reshape(x.shape[0], x.shape[2]), [f.reshape(f.shape[0], f.shape[2])
                                                       for f in finals]
        return (x.transpose(1, 0, 2) if self.batch_first else x), finals

    def extra_repr(self):
        extras = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extras += f", num_layers={self.num_layers}"
        if not self.bias:
            extras += ", bias=False"
        if self.batch_first:
            extras += ", batch_first=True"
        return extras


class RNN(_Recurrent):
    """Elman RNN (tanh or relu), multi-layer. Returns (output, h_n): output (T, N, H), or
    (N, T, H) with batch_first; h_n (num_layers, N, H). h0 is optional (zeros).

    >>> rnn = RNN(3, 5, num_layers=2, batch_first=True)
    >>> out, h = rnn(Tensor.zeros(4, 7, 3))
    >>> out.shape, h.shape
    ((4, 7, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, h0: Tensor | None = None):
        x, unbatched = self._inputs(x)
        n = x.shape[1]
        h0 = self._state("h0", h0, n, x.dtype, unbatched)
        finals = []
        inputs = self._step_inputs(x)
        for layer in range(self.num_layers):
            w_ih, w_hh, b = self._layer_params(layer)
            if layer == 0 and b is not None:
                w_ih, b = _bias_column(w_ih, b), None
            w_hh_t = w_hh.T
            h = h0[layer]
            hs = []
            for x_t in inputs:
                h = RNNCell.step(x_t.linear(w_ih, b), h, w_hh_t, self.nonlinearity)
                hs.append(h)
            finals.append(h)
            inputs = hs
        out, (h_n,) = self._outputs(Tensor.stack(inputs, axis=0), [finals], unbatched)
        return out, h_n

    def extra_repr(self):
        extras = super().extra_repr()
        return extras if self.nonlinearity == "tanh" else extras + ", nonlinearity='relu'"


class LSTM(_Recurrent):
    """Long short-term memory, multi-layer, PyTorch's parameters and gate order (i, f, g, o).
    Returns (output, (h_n, c_n)); the initial state (h0, c0) is optional (zeros).

    >>> lstm = LSTM(28, 16, batch_first=True)
    >>> out, (h, c) = lstm(Tensor.zeros(2, 28, 28))
    >>> out.shape, h.shape, c.shape
    ((2, 28, 16), (1, 2, 16), (1, 2, 16))
    """

    _gates = 4

    def forward(self, x: Tensor, state: tuple | None = None):
        x, unbatched = self._inputs(x)
        n = x.shape[1]
        hidden = self.hidden_size
        h0, c0 = (None, None) if state is None else state
        h0 = self._state("h0", h0, n, x.dtype, unbatched)
        c0 = self._state("c0", c0, n, x.dtype, unbatched)
        h_finals, c_finals = [], []
        inputs = self._step_inputs(x)  # (the steps go from layer to layer as a list)
        for layer in range(self.num_layers):
            w_ih, w_hh, b = self._layer_params(layer)
            w_ih, w_hh = _ifog(w_ih, hidden), _ifog(w_hh, hidden)
            b = None if b is None else _ifog(b, hidden)
            if layer == 0 and b is not None:
                w_ih, b = _bias_column(w_ih, b), None
            h, c = h0[layer], c0[layer]
            hs = []
            for x_t in inputs:
                h, c = LSTMCell.step(x_t, h, c, w_ih, w_hh, b)
                hs.append(h)
            h_finals.append(h)
            c_finals.append(c)
            inputs = hs
        x = Tensor.stack(inputs, axis=0)
        out, (h_n, c_n) = self._outputs(x, [h_finals, c_finals], unbatched)
        return out, (h_n, c_n)


class GRUCell(Module):
    """One GRU step, PyTorch's gates r, z, n stacked in weight_ih (3H, input) and weight_hh (3H, H):
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn)), h' = (1 - z) * n + z * h.

    >>> cell = GRUCell(3, 4)
    >>> cell(Tensor.zeros(2, 3)).shape
    (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        _cell_parameters(self, input_size, hidden_size, bias, gates=3)

    def forward(self, x, h=None):
        _check_width(self, x, 2)
        if h is None:
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        h = _check_state("GRUCell: h", h, (x.shape[0], self.hidden_size))
        return self.step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    @staticmethod
    def step(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
             b_hh: Tensor | None) -> Tensor:
        """One step -> h'. GRU calls it for every step. (The hidden bias b_hn stays inside r * (...),
        so the two biases cannot be summed as in the LSTM.)"""
        hidden = h.shape[-1]
        gi, gh = x.linear(w_ih, b_ih), h.linear(w_hh, b_hh)
        rz = (gi[:, :2 * hidden] + gh[:, :2 * hidden]).sigmoid()
        n = (gi[:, 2 * hidden:] + rz[:, :hidden] * gh[:, 2 * hidden:]).tanh()
        return n + rz[:, hidden:] * (h - n)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class GRU(_Recurrent):
    """Gated recurrent unit, multi-layer, PyTorch's parameters and gate order (r, z, n). Returns
    (output, h_n): output (T, N, H), or (N, T, H) with batch_first; h_n (num_layers, N, H). h0 is
    optional (zeros).

    >>> gru = GRU(3, 5, num_layers=2, batch_first=True)
    >>> out, h = gru(Tensor.zeros(4, 7, 3))
    >>> out.shape, h.shape
    ((4, 7, 5), (2, 4, 5))
    """

    _gates = 3

    def forward(self, x: Tensor, h0: Tensor | None = None):
        x, unbatched = self._inputs(x)
        n = x.shape[1]
        h0 = self._state("h0", h0, n, x.dtype, unbatched)
        finals = []
        inputs = self._step_inputs(x)
        for layer in range(self.num_layers):
            w_ih = getattr(self, f"weight_ih_l{layer}")
            w_hh = getattr(self, f"weight_hh_l{layer}")
            b_ih = getattr(self, f"bias_ih_l{layer}") if self.bias else None
            b_hh = getattr(self, f"bias_hh_l{layer}") if self.bias else None
            if layer == 0 and b_ih is not None:
                w_ih, b_ih = _bias_column(w_ih, b_ih), None
            h = h0[layer]
            hs = []
            for x_t in inputs:
                h = GRUCell.step(x_t, h, w_ih, w_hh, b_ih, b_hh)
                hs.append(h)
            finals.append(h)
            inputs = hs
        out, (h_n,) = self._outputs(Tensor.stack(inputs, axis=0), [finals], unbatched)
        return out, h_n
