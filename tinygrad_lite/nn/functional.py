"""The functional forms of layers, activations and losses (`import tinygrad_lite.nn.functional as F`).

Convolution and pooling are the Tensor methods of the same names, re-exported here with PyTorch's
signatures.
"""

from __future__ import annotations

from ..tensor import Tensor, scaled_dot_product_attention  # noqa: F401 (re-export)
from .activations import (  # noqa: F401 (re-exports)
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from .conv import (  # noqa: F401 (re-exports)
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose2d,
    interpolate,
    max_pool2d,
)
from .losses import (  # noqa: F401 (re-exports)
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    kl_sparsity,
    l1_loss,
    l2_penalty,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import group_norm, layer_norm  # noqa: F401 (re-exports)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias (weight shaped (out, in), like nn.Linear)."""
    return x.linear(weight, bias)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout (`inplace` is accepted for PyTorch code; the result is always new)."""
    return input.dropout(p, training)


def one_hot(target: Tensor, num_classes: int = -1) -> Tensor:
    """Integer labels as float32 one-hot rows."""
    return target.one_hot(num_classes)
