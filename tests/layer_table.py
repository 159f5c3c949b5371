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

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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
NOT_LAYERS = {"Module", "ModuleDict", "ModuleList", "Sequential", "Parameter", "functional", "init"}
