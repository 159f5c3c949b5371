"""LayerNorm and GroupNorm with PyTorch's names, parameters and defaults. Both normalize each sample
by its own statistics (no running statistics, the same in training and eval), as compositions of
Tensor operations."""

from __future__ import annotations

import numpy as np

from ..argcheck import check_int
from ..tensor import Tensor
from .module import Module, Parameter


def _normalize(x: Tensor, axes: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance (as PyTorch)."""
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return centered * (var + eps).rsqrt()


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dimensions, then scale and shift.

    >>> layer_norm(Tensor([[1.0, 3.0]]), (2,)).data.round(4).tolist()
    [[-1.0, 1.0]]
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dimensions of the "
                         f"input, got shape {tuple(input.shape)}")
    out = _normalize(input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the channels (dimension 1) into num_groups groups and normalize each group of each
    sample over its channels and positions; then a per-channel scale and shift."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups need an input (N, C, *) with C divisible "
                         f"by {num_groups}, got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    grouped = input.reshape(n, num_groups, -1)
    out = _normalize(grouped, (2,), eps).reshape(input.shape)
    per_channel = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


class LayerNorm(Module):
    """Layer normalization over the last dimensions (`normalized_shape`), with an elementwise
    `weight` (ones) and `bias` (zeros) of that shape, as in transformers.

    >>> norm = LayerNorm(4)
    >>> out = norm(Tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> round(float(out.data.mean()), 6), round(float(out.data.std()), 4)
    (0.0, 1.0)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        for size in shape:
            check_int(size, "LayerNorm: normalized_shape", 0)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalization of (N, C, *) inputs: channels in num_groups groups, each normalized per
    sample; per-channel `weight` (ones) and `bias` (zeros).

    >>> GroupNorm(2, 4)(Tensor.arange(16.0).reshape(2, 4, 2)).shape
    (2, 4, 2)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        check_int(num_groups, "GroupNorm: num_groups", 1)
        check_int(num_channels, "GroupNorm: num_channels", 1)
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels, eps,
                                                                     affine)
        self.weight = Parameter(np.ones(num_channels, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, np.float32)) if affine else None

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) got an input of "
                             f"shape {tuple(x.shape)}; expected (N, {self.num_channels}, *)")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
