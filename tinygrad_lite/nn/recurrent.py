"""RNN and LSTM (and their cells) from Tensor operations, with PyTorch's parameter names, shapes,
gate order (i, f, g, o) and initialization, so PyTorch weights load unchanged."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def _param(shape, bound):
    return init.uniform_(Parameter(np.zeros(shape, np.float32)), -bound, bound)


def _lstm_step(x_proj, h, c, w_hh_t, hidden):
    """One LSTM step given the input projection x W_ih^T + b_ih + b_hh for this step."""
    gates = x_proj + h @ w_hh_t  # (N, 4H) in PyTorch's order i, f, g, o
    ifo = gates.sigmoid()
    i, f, o = ifo[:, :hidden], ifo[:, hidden:2 * hidden], ifo[:, 3 * hidden:]
    g = gates[:, 2 * hidden:3 * hidden].tanh()
    c = f * c + i * g
    h = o * c.tanh()
    return h, c


class RNNCell(Module):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _param((hidden_size, input_size), k)
        self.weight_hh = _param((hidden_size, hidden_size), k)
        self.bias_ih = _param((hidden_size,), k) if bias else None
        self.bias_hh = _param((hidden_size,), k) if bias else None

    def forward(self, x, h=None):
        if h is None:
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        z = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias_ih is not None:
            z = z + (self.bias_ih + self.bias_hh)
        return z.tanh() if self.nonlinearity == "tanh" else z.relu()


class LSTMCell(Module):
    """One LSTM step: returns (h', c'). Gates i, f, g, o stacked in weight_ih (4H, input_size)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _param((4 * hidden_size, input_size), k)
        self.weight_hh = _param((4 * hidden_size, hidden_size), k)
        self.bias_ih = _param((4 * hidden_size,), k) if bias else None
        self.bias_hh = _param((4 * hidden_size,), k) if bias else None

    def forward(self, x, state=None):
        n = x.shape[0]
        if state is None:
            zeros = Tensor(np.zeros((n, self.hidden_size), dtype=x.dtype))
            state = (zeros, zeros)
        h, c = state
        proj = x @ self.weight_ih.T
        if self.bias_ih is not None:
            proj = proj + (self.bias_ih + self.bias_hh)
        return _lstm_step(proj, h, c, self.weight_hh.T, self.hidden_size)


class _Recurrent(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False):
        super().__init__()
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
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} expects a 3-D input "
                             f"({'(N, T, features)' if self.batch_first else '(T, N, features)'}), "
                             f"got shape {tuple(x.shape)}")
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[2] != self.input_size:
            raise ValueError(f"{type(self).__name__}(input_size={self.input_size}) got inputs with "
                             f"{x.shape[2]} features (input shape {tuple(x.shape)})")
        return x  # (T, N, features)

    def _project(self, x, w_ih, b):
        """The input projection of all time steps at once: one matmul instead of T."""
        steps, n, width = x.shape
        proj = x.reshape(steps * n, width) @ w_ih.T
        if b is not None:
            proj = proj + b
        return proj.reshape(steps, n, -1)

    def _zeros(self, n, dtype):
        return Tensor(np.zeros((self.num_layers, n, self.hidden_size), dtype=dtype))

    def extra_repr(self):
        extras = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extras += f", num_layers={self.num_layers}"
        if self.batch_first:
            extras += ", batch_first=True"
        return extras


class RNN(_Recurrent):
    """Elman RNN (tanh or relu), multi-layer. Returns (output, h_n): output (T, N, H) or
    (N, T, H) with batch_first, h_n (num_layers, N, H).

    >>> rnn = RNN(3, 5, num_layers=2, batch_first=True)
    >>> out, h = rnn(Tensor.zeros(4, 7, 3))
    >>> out.shape, h.shape
    ((4, 7, 5), (2, 4, 5))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0=None):
        x = self._inputs(x)
        steps, n = x.shape[0], x.shape[1]
        h0 = self._zeros(n, x.dtype) if h0 is None else h0
        finals = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b = self._layer_params(layer)
            proj = self._project(x, w_ih, b)
            w_hh_t = w_hh.T
            h = h0[layer]
            hs = []
            for t in range(steps):
                z = proj[t] + h @ w_hh_t
                h = z.tanh() if self.nonlinearity == "tanh" else z.relu()
                hs.append(h)
            finals.append(h)
            x = Tensor.stack(hs, axis=0)
        out = x.transpose(1, 0, 2) if self.batch_first else x
        return out, Tensor.stack(finals, axis=0)


class LSTM(_Recurrent):
    """Long short-term memory, multi-layer, PyTorch's parameters and gate order (i, f, g, o).
    Returns (output, (h_n, c_n)).

    >>> lstm = LSTM(28, 16, batch_first=True)
    >>> out, (h, c) = lstm(Tensor.zeros(2, 28, 28))
    >>> out.shape, h.shape, c.shape
    ((2, 28, 16), (1, 2, 16), (1, 2, 16))
    """

    _gates = 4

    def forward(self, x, state=None):
        x = self._inputs(x)
        steps, n = x.shape[0], x.shape[1]
        h0, c0 = (self._zeros(n, x.dtype), self._zeros(n, x.dtype)) if state is None else state
        h_finals, c_finals = [], []
        for layer in range(self.num_layers):
            w_ih, w_hh, b = self._layer_params(layer)
            proj = self._project(x, w_ih, b)
            w_hh_t = w_hh.T
            h, c = h0[layer], c0[layer]
            hs = []
            for t in range(steps):
                h, c = _lstm_step(proj[t], h, c, w_hh_t, self.hidden_size)
                hs.append(h)
            h_finals.append(h)
            c_finals.append(c)
            x = Tensor.stack(hs, axis=0)
        out = x.transpose(1, 0, 2) if self.batch_first else x
        return out, (Tensor.stack(h_finals, axis=0), Tensor.stack(c_finals, axis=0))
