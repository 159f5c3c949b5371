"""One table of layers and losses drives the generic nn tests (tests/test_layer_table.py): forward
against a numpy reference (tests/reference.py) in float64 and float32, the same values and gradients
as PyTorch's module or function of the same name where torch is installed, gradcheck and
gradgradcheck with respect to every float input and parameter, and the coverage test.

A row names the constructor (`nn.<ctor>(*args, **kwargs)`) or the function (`F.<fn>`, called with
`kwargs`); PyTorch's of the same name takes the same arguments. `inputs` draw the forward's
arguments (float arrays are differentiated, integer ones are class indices); `ref(state, *arrays)`
gets the layer's state_dict in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinygrad_lite import nn

from . import conv_reference as C
from . import reference as R


@dataclass(frozen=True)
class LayerSpec:
    name: str
    ref: Callable  # (state dict of float64 arrays, *input arrays) -> array or tuple of arrays
    inputs: tuple  # one callable(rng) -> array per forward argument
    ctor: str | None = None  # nn.<ctor>(*args, **kwargs)
    fn: str | None = None  # or F.<fn>(*inputs, **kwargs)
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    eval: bool = False  # compare in eval mode (dropout, RReLU, running statistics)
    call: Callable | None = None  # (layer, *tensors) -> output, when not layer(*tensors)
    setup: Callable | None = None  # (layer) -> None: e.g. random affine weights
    torch: bool = True  # PyTorch has the same-named module/function with these arguments
    gradgrad: bool = True
    covers: tuple = ()


# ------------------------------------------------------------------------------- input makers ----
def normal(*shape):
    """Values in +-[0.2, 2]: away from the kinks at 0 of ReLU and friends."""
    return lambda rng: rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """Distinct values (no ties inside a max-pooling window)."""
    return lambda rng: (rng.permutation(int(np.prod(shape))).reshape(shape) - 3.0) / 7.0


def probs(*shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def simplex(n, c):
    return lambda rng: rng.dirichlet(np.ones(c), n)


def labels(n, c):
    return lambda rng: rng.integers(0, c, n)


def pm_ones(*shape):
    """Integer targets of +1 and -1."""
    return lambda rng: rng.choice([-1, 1], shape)


def _affine(layer):
    rng = np.random.default_rng(5)
    layer.weight.data = rng.uniform(0.5, 1.5, layer.weight.shape).astype(layer.weight.dtype)
    layer.bias.data = rng.uniform(-1, 1, layer.bias.shape).astype(layer.bias.dtype)


def _slopes(layer):
    layer.weight.data = np.array([0.1, 0.2, 0.3], layer.weight.dtype)


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def _nll(logp, y, w=None, reduction="mean"):
    w = np.ones(logp.shape[1]) if w is None else w
    per = -logp[np.arange(len(y)), y] * w[y]
    return per.sum() / w[y].sum() if reduction == "mean" else _reduce(per, reduction)


def _rnn_cell(s, x, h):
    return np.tanh(x @ s["weight_ih"].T + s["bias_ih"] + h @ s["weight_hh"].T + s["bias_hh"])


def _lstm_cell(s, x, h, c):
    z = x @ s["weight_ih"].T + s["bias_ih"] + h @ s["weight_hh"].T + s["bias_hh"]
    i, f, g, o = np.split(z, 4, axis=1)
    c = R.sigmoid(f) * c + R.sigmoid(i) * np.tanh(g)
    return R.sigmoid(o) * np.tanh(c), c


class _Params:
    """The few attributes the recurrent references read, from a state dict."""

    def __init__(self, state, hidden, layers, nonlinearity="tanh"):
        self._state, self.hidden_size, self.num_layers = state, hidden, layers
        self.nonlinearity = nonlinearity

    def state_dict(self):
        return self._state


def wide(*shape):
    """Values in +-[0.2, 8], avoiding the kinks of relu6 (0, 6) and hardsigmoid (-3, 3)."""
    def make(rng):
        x = rng.uniform(0.2, 8.0, shape) * rng.choice([-1.0, 1.0], shape)
        return np.where(np.isin(np.round(x), (-3, 3, 6)), x + 0.5, x)
    return make


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
CAUSAL = np.triu(np.ones((4, 4), bool), 1)  # True: may not attend (PyTorch's meaning in MHA)
PADDED = np.array([[False, False, False, True], [False, False, False, False]])


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _mask(module, mask):
    """The mask as the module's framework wants it (the torch comparison calls the same row)."""
    if type(module).__module__.startswith("torch"):
        import torch

        return torch.tensor(mask)
    return mask


def _layer_norm(x, w, b, axes, eps=1e-5):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def _group_norm(s, x, groups):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    z = _layer_norm(x.reshape(x.shape[0], groups, -1), 1.0, 0.0, (2,)).reshape(x.shape)
    return z * s["weight"].reshape(shape) + s["bias"].reshape(shape)


def _gru_cell(s, x, h, suffix=""):
    gi = x @ s["weight_ih" + suffix].T + s["bias_ih" + suffix]
    gh = h @ s["weight_hh" + suffix].T + s["bias_hh" + suffix]
    (ir, iz, i_n), (hr, hz, hn) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
    r, z = R.sigmoid(ir + hr), R.sigmoid(iz + hz)
    n = np.tanh(i_n + r * hn)
    return (1 - z) * n + z * h


def _gru(s, x, h0):
    """Batch-first multi-layer GRU: (output, h_n)."""
    finals = []
    for layer in range(len(h0)):
        h, outs = h0[layer], []
        for t in range(x.shape[1]):
            h = _gru_cell(s, x[:, t], h, f"_l{layer}")
            outs.append(h)
        x = np.stack(outs, axis=1)
        finals.append(h)
    return x, np.stack(finals)


def _mha(s, q, k, v, heads, prefix="", average=True, mask=None):
    """Batch-first multi-head attention: (output, weights); mask True: may not attend."""
    e = q.shape[-1]
    d = e // heads
    w, b = s[prefix + "in_proj_weight"], s[prefix + "in_proj_bias"]

    def project(x, i):
        y = x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]
        return y.reshape(x.shape[0], x.shape[1], heads, d).transpose(0, 2, 1, 3)

    scores = project(q, 0) @ project(k, 1).transpose(0, 1, 3, 2) / np.sqrt(d)
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    weights = R.softmax(scores, -1)
    out = (weights @ project(v, 2)).transpose(0, 2, 1, 3).reshape(q.shape)
    out = out @ s[prefix + "out_proj.weight"].T + s[prefix + "out_proj.bias"]
    return out, (weights.mean(axis=1) if average else weights)


def _batch_second(outputs, weights=False):
    out, w = outputs
    return out.swapaxes(0, 1), w


def _encoder_layer(s, x, heads, prefix="", norm_first=False, activation=None):
    """Batch-first TransformerEncoderLayer (dropout off)."""
    activation = activation or (lambda z: np.maximum(z, 0))

    def norm(z, i):
        return _layer_norm(z, s[f"{prefix}norm{i}.weight"], s[f"{prefix}norm{i}.bias"], (-1,))

    def attend(z):
        return _mha(s, z, z, z, heads, prefix + "self_attn.")[0]

    def feed_forward(z):
        hidden = activation(z @ s[prefix + "linear1.weight"].T + s[prefix + "linear1.bias"])
        return hidden @ s[prefix + "linear2.weight"].T + s[prefix + "linear2.bias"]

    if norm_first:
        x = x + attend(norm(x, 1))
        return x + feed_forward(norm(x, 2))
    x = norm(x + attend(x), 1)
    return norm(x + feed_forward(x), 2)


W3 = np.array([1.0, 2.0, 0.5])
W4 = np.array([1.0, 0.5, 2.0, 1.5])

LAYERS = [
    # ------------------------------------------------------------------------------- layers ----
    LayerSpec("identity", lambda s, x: x, (normal(2, 3),), ctor="Identity"),
    LayerSpec("linear", lambda s, x: x @ s["weight"].T + s["bias"], (normal(4, 3),),
              ctor="Linear", args=(3, 2)),
    LayerSpec("linear_no_bias_batched", lambda s, x: x @ s["weight"].T, (normal(2, 3, 3),),
              ctor="Linear", args=(3, 2), kwargs={"bias": False}),
    LayerSpec("conv2d", lambda s, x: R.conv2d(x, s["weight"], s["bias"], (2, 1), (1, 0)),
              (normal(2, 2, 5, 4),), ctor="Conv2d", args=(2, 3, (3, 2)),
              kwargs={"stride": (2, 1), "padding": (1, 0)}),
    LayerSpec("max_pool2d", lambda s, x: R.pool2d(x, 2, 1, 1, "max"), (distinct(1, 2, 3, 3),),
              ctor="MaxPool2d", args=(2, 1, 1)),
    LayerSpec("avg_pool2d", lambda s, x: R.pool2d(x, 3, 2, 1, "avg"), (normal(2, 1, 5, 5),),
              ctor="AvgPool2d", args=(3, 2, 1)),
    LayerSpec("conv2d_groups_dilation",
              lambda s, x: C.conv2d(x, s["weight"], s["bias"], 1, (2, 1), (2, 1), 2),
              (normal(2, 4, 5, 4),), ctor="Conv2d", args=(4, 6, (2, 3)),
              kwargs={"padding": (2, 1), "dilation": (2, 1), "groups": 2}, covers=("Conv2d",)),
    LayerSpec("conv1d", lambda s, x: C.conv1d(x, s["weight"], s["bias"], 2, 1, 2, 2),
              (normal(2, 4, 9),), ctor="Conv1d", args=(4, 2, 3),
              kwargs={"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
    LayerSpec("conv_transpose2d",
              lambda s, x: C.conv_transpose2d(x, s["weight"], s["bias"], 2, 1, (1, 0), 2),
              (normal(2, 4, 3, 2),), ctor="ConvTranspose2d", args=(4, 6, (3, 2)),
              kwargs={"stride": 2, "padding": 1, "output_padding": (1, 0), "groups": 2}),
    LayerSpec("max_pool2d_ceil_dilation",
              lambda s, x: C.pool2d(x, 3, 2, 1, (1, 2), True), (distinct(1, 2, 6, 7),),
              ctor="MaxPool2d", args=(3, 2, 1), kwargs={"dilation": (1, 2), "ceil_mode": True},
              covers=("MaxPool2d",)),
    LayerSpec("avg_pool2d_ceil_exclude_pad",
              lambda s, x: C.pool2d(x, 3, 2, 1, 1, True, "avg", False), (normal(2, 1, 6, 7),),
              ctor="AvgPool2d", args=(3, 2, 1),
              kwargs={"ceil_mode": True, "count_include_pad": False}, covers=("AvgPool2d",)),
    LayerSpec("adaptive_avg_pool2d", lambda s, x: C.adaptive_pool2d(x, (3, 2)),
              (normal(2, 2, 7, 5),), ctor="AdaptiveAvgPool2d", args=((3, 2),)),
    LayerSpec("adaptive_max_pool2d", lambda s, x: C.adaptive_pool2d(x, (3, None), "max"),
              (distinct(2, 2, 7, 5),), ctor="AdaptiveMaxPool2d", args=((3, None),)),
    LayerSpec("upsample_nearest", lambda s, x: C.interpolate(x, scale_factor=2),
              (normal(1, 2, 3, 2),), ctor="Upsample", kwargs={"scale_factor": 2},
              covers=("Upsample",)),
    LayerSpec("upsample_bilinear",
              lambda s, x: C.interpolate(x, size=(5, 3), mode="bilinear", align_corners=True),
              (normal(1, 2, 3, 2),), ctor="Upsample",
              kwargs={"size": (5, 3), "mode": "bilinear", "align_corners": True}),
    LayerSpec("interpolate", lambda s, x: C.interpolate(x, size=(4, 5), mode="bilinear"),
              (normal(1, 2, 3, 2),), fn="interpolate", kwargs={"size": (4, 5), "mode": "bilinear"}),
    LayerSpec("conv_transpose2d_fn", lambda s, x, w: C.conv_transpose2d(x, w, None, 2),
              (normal(1, 2, 3, 3), normal(2, 1, 2, 2)), fn="conv_transpose2d",
              kwargs={"stride": 2}, covers=("conv_transpose2d",)),
    LayerSpec("flatten", lambda s, x: x.reshape(2, -1), (normal(2, 3, 2),), ctor="Flatten"),
    LayerSpec("dropout_eval", lambda s, x: x, (normal(3, 4),), ctor="Dropout", args=(0.3,),
              eval=True),
    LayerSpec("batch_norm1d", lambda s, x: R.batch_norm(x, (0,), s["weight"], s["bias"]),
              (normal(5, 3),), ctor="BatchNorm1d", args=(3,), setup=_affine),
    LayerSpec("batch_norm2d", lambda s, x: R.batch_norm(x, (0, 2, 3), s["weight"], s["bias"]),
              (normal(3, 3, 2, 2),), ctor="BatchNorm2d", args=(3,), setup=_affine),
    LayerSpec("batch_norm1d_eval", lambda s, x: (x - s["running_mean"]) / np.sqrt(
        s["running_var"] + 1e-5) * s["weight"] + s["bias"], (normal(2, 3),), ctor="BatchNorm1d",
        args=(3,), setup=_affine, eval=True, covers=("BatchNorm1d",)),
    LayerSpec("embedding", lambda s, i: s["weight"][i], (lambda rng: rng.integers(0, 5, (2, 3)),),
              ctor="Embedding", args=(5, 3)),
    LayerSpec("rnn_cell", _rnn_cell, (normal(2, 3), normal(2, 4)), ctor="RNNCell", args=(3, 4)),
    LayerSpec("lstm_cell", _lstm_cell, (normal(2, 3), normal(2, 4), normal(2, 4)),
              ctor="LSTMCell", args=(3, 4), call=lambda m, x, h, c: m(x, (h, c))),
    LayerSpec("rnn", lambda s, x, h: R.rnn(_Params(s, 4, 2), x, h), (normal(3, 2, 3), normal(2, 2, 4)),
              ctor="RNN", args=(3, 4), kwargs={"num_layers": 2}),
    LayerSpec("lstm_batch_first",
              lambda s, x: _batch_first(R.lstm(_Params(s, 4, 2), x.transpose(1, 0, 2))),
              (normal(2, 3, 3),), ctor="LSTM", args=(3, 4),
              kwargs={"num_layers": 2, "batch_first": True}),
    # ------------------------------------------------- normalization, GRU, attention ----
    LayerSpec("layer_norm", lambda s, x: _layer_norm(x, s["weight"], s["bias"], (1, 2)),
              (normal(2, 3, 4),), ctor="LayerNorm", args=((3, 4),), setup=_affine),
    LayerSpec("layer_norm_no_affine", lambda s, x: _layer_norm(x, 1.0, 0.0, (2,), 1e-3),
              (normal(2, 3, 4),), ctor="LayerNorm", args=(4,),
              kwargs={"eps": 1e-3, "elementwise_affine": False}),
    LayerSpec("group_norm", lambda s, x: _group_norm(s, x, 2), (normal(2, 4, 3),),
              ctor="GroupNorm", args=(2, 4), setup=_affine),
    LayerSpec("unflatten", lambda s, x: x.reshape(2, 2, 3, 2), (normal(2, 6, 2),),
              ctor="Unflatten", args=(1, (2, 3))),
    LayerSpec("gru_cell", _gru_cell, (normal(2, 3), normal(2, 4)), ctor="GRUCell", args=(3, 4)),
    LayerSpec("gru_batch_first", lambda s, x, h: _gru(s, x, h), (normal(2, 3, 3), normal(2, 2, 4)),
              ctor="GRU", args=(3, 4), kwargs={"num_layers": 2, "batch_first": True}),
    LayerSpec("multihead_attention",
              lambda s, q, k, v: _batch_second(_mha(s, q.swapaxes(0, 1), k.swapaxes(0, 1),
                                                    v.swapaxes(0, 1), 2), weights=True),
              (normal(3, 2, 4), normal(5, 2, 4), normal(5, 2, 4)), ctor="MultiheadAttention",
              args=(4, 2)),
    LayerSpec("multihead_attention_masks_per_head",
              lambda s, x: _mha(s, x, x, x, 2, average=False, mask=CAUSAL | PADDED[:, None, None]),
              (normal(2, 4, 4),), ctor="MultiheadAttention", args=(4, 2),
              kwargs={"batch_first": True},
              call=lambda m, x: m(x, x, x, attn_mask=_mask(m, CAUSAL),
                                  key_padding_mask=_mask(m, PADDED), average_attn_weights=False)),
    LayerSpec("transformer_encoder_layer",
              lambda s, x: _encoder_layer(s, x.swapaxes(0, 1), 2).swapaxes(0, 1),
              (normal(3, 2, 4),), ctor="TransformerEncoderLayer", args=(4, 2),
              kwargs={"dim_feedforward": 6, "dropout": 0.0}),
    LayerSpec("transformer_encoder_layer_norm_first_gelu_eval",
              lambda s, x: _encoder_layer(s, x, 2, norm_first=True, activation=_gelu),
              (normal(2, 3, 4),), ctor="TransformerEncoderLayer", args=(4, 2),
              kwargs={"dim_feedforward": 6, "activation": "gelu", "batch_first": True,
                      "norm_first": True}, eval=True),
    LayerSpec("transformer_encoder",
              lambda s, x: _layer_norm(_encoder_layer(s, _encoder_layer(s, x, 2, "layers.0."), 2,
                                                      "layers.1."), s["norm.weight"],
                                       s["norm.bias"], (2,)),
              (normal(2, 3, 4),), ctor="TransformerEncoder",
              args=(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True), 2),
              setup=lambda m: setattr(m, "norm", nn.LayerNorm(4)), torch=False),
    # -------------------------------------------------------------------------- activations ----
    LayerSpec("sigmoid", lambda s, x: R.sigmoid(x), (normal(3, 4),), ctor="Sigmoid"),
    LayerSpec("tanh", lambda s, x: np.tanh(x), (normal(3, 4),), ctor="Tanh"),
    LayerSpec("relu", lambda s, x: np.maximum(x, 0), (normal(3, 4),), ctor="ReLU"),
    LayerSpec("leaky_relu", lambda s, x: np.where(x > 0, x, 0.2 * x), (normal(3, 4),),
              ctor="LeakyReLU", args=(0.2,)),
    LayerSpec("prelu", lambda s, x: np.where(x > 0, x, s["weight"][None, :, None] * x),
              (normal(2, 3, 4),), ctor="PReLU", args=(3,), setup=_slopes),
    LayerSpec("rrelu_eval", lambda s, x: np.where(x > 0, x, 0.25 * x), (normal(3, 4),),
              ctor="RReLU", args=(0.1, 0.4), eval=True),
    LayerSpec("elu", lambda s, x: np.where(x > 0, x, 0.7 * np.expm1(x)), (normal(3, 4),),
              ctor="ELU", args=(0.7,)),
    LayerSpec("softplus", lambda s, x: R.softplus(x, 2.0), (normal(3, 4),), ctor="Softplus",
              kwargs={"beta": 2.0}),
    LayerSpec("softmax", lambda s, x: R.softmax(x, 1), (normal(3, 4),), ctor="Softmax",
              kwargs={"dim": 1}),
    LayerSpec("log_softmax", lambda s, x: R.log_softmax(x, 0), (normal(3, 4),), ctor="LogSoftmax",
              kwargs={"dim": 0}),
    LayerSpec("gelu", lambda s, x: _gelu(x), (normal(3, 4),), ctor="GELU"),
    LayerSpec("gelu_tanh", lambda s, x: 0.5 * x * (1 + np.tanh(
        np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), (normal(3, 4),), ctor="GELU",
        kwargs={"approximate": "tanh"}),
    LayerSpec("silu", lambda s, x: x * R.sigmoid(x), (normal(3, 4),), ctor="SiLU"),
    LayerSpec("mish", lambda s, x: x * np.tanh(R.softplus(x)), (normal(3, 4),), ctor="Mish"),
    LayerSpec("selu", lambda s, x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
              (normal(3, 4),), ctor="SELU"),
    LayerSpec("relu6", lambda s, x: np.clip(x, 0, 6), (wide(3, 4),), ctor="ReLU6"),
    LayerSpec("hardtanh", lambda s, x: np.clip(x, -0.5, 1.5), (normal(3, 4),), ctor="Hardtanh",
              args=(-0.5, 1.5)),
    # NOTE: torch=False: PyTorch's float64 hardsigmoid backward multiplies by 1/6 rounded to
    # float32 (0.1666666716...); tests/test_nn_transformer.py compares with it at 1e-7
    LayerSpec("hardsigmoid", lambda s, x: np.clip(x / 6 + 0.5, 0, 1), (wide(3, 4),),
              ctor="Hardsigmoid", torch=False),
    LayerSpec("hardswish", lambda s, x: x * np.clip(x / 6 + 0.5, 0, 1), (wide(3, 4),),
              ctor="Hardswish"),
    LayerSpec("softsign", lambda s, x: x / (1 + np.abs(x)), (normal(3, 4),), ctor="Softsign"),
    LayerSpec("logsigmoid", lambda s, x: -R.softplus(-x), (normal(3, 4),), ctor="LogSigmoid"),
    # ------------------------------------------------------------------------ loss modules ----
    LayerSpec("mse_loss_module", lambda s, a, y: ((a - y) ** 2).sum(), (normal(3, 2), normal(3, 2)),
              ctor="MSELoss", kwargs={"reduction": "sum"}),
    LayerSpec("bce_loss_module", lambda s, p, y: (R.bce(p, y) * W3).mean(),
              (probs(2, 3), probs(2, 3)), ctor="BCELoss", kwargs={"weight": W3}),
    LayerSpec("bce_with_logits_module", lambda s, z, y: R.bce_with_logits(z, y, W3).sum(),
              (normal(2, 3), probs(2, 3)), ctor="BCEWithLogitsLoss",
              kwargs={"pos_weight": W3, "reduction": "sum"}),
    LayerSpec("cross_entropy_module", lambda s, z, y: R.cross_entropy(z, y, W4, 0.1),
              (normal(5, 4), labels(5, 4)), ctor="CrossEntropyLoss",
              kwargs={"weight": W4, "label_smoothing": 0.1}),
    LayerSpec("nll_loss_module", lambda s, lp, y: _nll(lp, y, W4, "none"),
              (normal(5, 4), labels(5, 4)), ctor="NLLLoss",
              kwargs={"weight": W4, "reduction": "none"}),
    # ---------------------------------------------------------------------- loss functions ----
    LayerSpec("mse_loss", lambda s, a, y: ((a - y) ** 2), (normal(3, 2), normal(3, 2)),
              fn="mse_loss", kwargs={"reduction": "none"}),
    LayerSpec("binary_cross_entropy", lambda s, p, y: R.bce(p, y).mean(),
              (probs(3, 2), probs(3, 2)), fn="binary_cross_entropy"),
    LayerSpec("binary_cross_entropy_with_logits", lambda s, z, y: R.bce_with_logits(z, y).mean(),
              (normal(3, 2), probs(3, 2)), fn="binary_cross_entropy_with_logits"),
    LayerSpec("cross_entropy", lambda s, z, y: R.cross_entropy(z, y), (normal(4, 3), labels(4, 3)),
              fn="cross_entropy"),
    LayerSpec("cross_entropy_probabilities",
              lambda s, z, q: -(R.log_softmax(z) * (0.8 * q + 0.2 / 3)).sum(axis=1).sum(),
              (normal(4, 3), simplex(4, 3)), fn="cross_entropy",
              kwargs={"label_smoothing": 0.2, "reduction": "sum"}, covers=("cross_entropy",)),
    LayerSpec("nll_loss", lambda s, lp, y: _nll(lp, y, reduction="sum"),
              (normal(4, 3), labels(4, 3)), fn="nll_loss", kwargs={"reduction": "sum"}),
    LayerSpec("l2_penalty", lambda s, a, b: 0.5 / 6 * ((a ** 2).sum() + (b ** 2).sum()),
              (normal(2, 3), normal(3)), fn="l2_penalty", call=lambda f, a, b: f([a, b], 0.5, 3),
              torch=False),
    LayerSpec("kl_sparsity", lambda s, a: R.kl_sparsity(a, 0.2), (probs(4, 3),), fn="kl_sparsity",
              kwargs={"rho": 0.2}, torch=False),
    # ---------------------------------------------------- regression and margin losses ----
    LayerSpec("l1_loss", lambda s, a, y: np.abs(a - y).mean(), (normal(3, 2), normal(3, 2)),
              fn="l1_loss"),
    LayerSpec("l1_loss_module", lambda s, a, y: np.abs(a - y).sum(), (normal(3, 2), normal(3, 2)),
              ctor="L1Loss", kwargs={"reduction": "sum"}),
    LayerSpec("smooth_l1_loss", lambda s, a, y: _smooth_l1(a - y, 1.5), (normal(4, 3), normal(4, 3)),
              fn="smooth_l1_loss", kwargs={"beta": 1.5, "reduction": "none"}),
    LayerSpec("smooth_l1_loss_module", lambda s, a, y: _smooth_l1(a - y, 1.0).mean(),
              (normal(4, 3), normal(4, 3)), ctor="SmoothL1Loss"),
    LayerSpec("huber_loss", lambda s, a, y: (_smooth_l1(a - y, 0.7) * 0.7).sum(),
              (normal(4, 3), normal(4, 3)), fn="huber_loss", kwargs={"delta": 0.7, "reduction": "sum"}),
    LayerSpec("huber_loss_module", lambda s, a, y: _smooth_l1(a - y, 1.0).mean(),
              (normal(4, 3), normal(4, 3)), ctor="HuberLoss"),
    LayerSpec("kl_div", lambda s, lp, q: (q * (np.log(q) - lp)).sum() / 4,
              (lambda rng: np.log(rng.dirichlet(np.ones(3), 4)), simplex(4, 3)), fn="kl_div",
              kwargs={"reduction": "batchmean"}),
    LayerSpec("kl_div_module_log_target", lambda s, lp, lq: np.exp(lq) * (lq - lp),
              (normal(4, 3), normal(4, 3)), ctor="KLDivLoss",
              kwargs={"reduction": "none", "log_target": True}),
    LayerSpec("cosine_embedding_loss", lambda s, a, b, y: _cosine_embedding(a, b, y, 0.1).mean(),
              (normal(5, 3), normal(5, 3), pm_ones(5)), fn="cosine_embedding_loss",
              kwargs={"margin": 0.1}),
    LayerSpec("cosine_embedding_loss_module",
              lambda s, a, b, y: _cosine_embedding(a, b, y, -0.5).sum(),
              (normal(5, 3), normal(5, 3), pm_ones(5)), ctor="CosineEmbeddingLoss",
              kwargs={"margin": -0.5, "reduction": "sum"}),
    LayerSpec("margin_ranking_loss", lambda s, a, b, y: np.maximum(0, -y * (a - b) + 0.3),
              (normal(6), normal(6), pm_ones(6)), fn="margin_ranking_loss",
              kwargs={"margin": 0.3, "reduction": "none"}),
    LayerSpec("margin_ranking_loss_module", lambda s, a, b, y: np.maximum(0, -y * (a - b)).mean(),
              (normal(6), normal(6), pm_ones(6)), ctor="MarginRankingLoss"),
    LayerSpec("hinge_embedding_loss", lambda s, x, y: _hinge(x, y, 1.0).mean(),
              (normal(3, 4), pm_ones(3, 4)), fn="hinge_embedding_loss"),
    LayerSpec("hinge_embedding_loss_module", lambda s, x, y: _hinge(x, y, 1.7).sum(),
              (normal(3, 4), pm_ones(3, 4)), ctor="HingeEmbeddingLoss",
              kwargs={"margin": 1.7, "reduction": "sum"}),
    LayerSpec("multi_margin_loss", lambda s, x, y: _multi_margin(x, y, 1, 1.0).mean(),
              (normal(5, 4), labels(5, 4)), fn="multi_margin_loss"),
    LayerSpec("multi_margin_loss_module_squared_weighted",
              lambda s, x, y: _multi_margin(x, y, 2, 0.8, W4),
              (normal(5, 4), labels(5, 4)), ctor="MultiMarginLoss",
              kwargs={"p": 2, "margin": 0.8, "weight": W4, "reduction": "none"}),
]


def _smooth_l1(d, beta):
    return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)


def _cosine_embedding(a, b, y, margin):
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0, cos - margin))


def _hinge(x, y, margin):
    return np.where(y == 1, x, np.maximum(0, margin - x))


def _multi_margin(x, y, p, margin, w=None):
    n, c = x.shape
    w = np.ones(c) if w is None else w
    z = np.maximum(0, margin - x[np.arange(n), y][:, None] + x) ** p
    z[np.arange(n), y] = 0
    return z.sum(1) * w[y] / c


def _batch_first(outputs):
    out, h, c = outputs
    return out.transpose(1, 0, 2), h, c


# Public names of tinygrad_lite.nn that are not layers or losses (containers, the parameter type,
# submodules); everything else public there, and every public function of nn.losses, needs a row.
NOT_LAYERS = {"Module", "ModuleDict", "ModuleList", "Sequential", "Parameter", "functional", "init",
              "utils"}
