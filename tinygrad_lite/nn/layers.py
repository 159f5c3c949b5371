"""Layers with PyTorch's names, parameter names/shapes and default initialization. Each forward is a
composition of Tensor operations: no layer has gradient code."""

from __future__ import annotations

import math

import numpy as np

from ..argcheck import check_int, int_pair
from ..tensor import Tensor, _pool_args
from . import init
from .module import Module, Parameter


def _uniform_parameter(shape, bound):
    """A float32 Parameter drawn from U(-bound, bound): PyTorch's default for Linear, Conv2d and
    the recurrent layers."""
    return init.uniform_(Parameter(np.zeros(shape, dtype=np.float32)), -bound, bound)


class Identity(Module):
    """Returns its input unchanged.

    >>> Identity()(Tensor([1.0])).tolist()
    [1.0]
    """

    def forward(self, x):
        return x


class Linear(Module):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features) like PyTorch.

    Initialized as PyTorch does: weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)).

    >>> layer = Linear(3, 2)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 3), (2,))
    >>> layer(Tensor.ones(4, 3)).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        check_int(in_features, "Linear: in_features", 0)
        check_int(out_features, "Linear: out_features", 0)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        # NOTE: kaiming_uniform_(a=sqrt(5)) in PyTorch reduces to exactly this bound
        self.weight = _uniform_parameter((out_features, in_features), bound)
        self.bias = _uniform_parameter((out_features,), bound) if bias else None

    def forward(self, x):
        if x.data.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}) got an "
                f"input of shape {tuple(x.shape)}; its last dimension must be {self.in_features} "
                f"(weight shape {self.weight.shape})"
            )
        return x.linear(self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _conv_padding(padding, kernel_size, stride, dilation=(1, 1)):
    """An int, a pair, or PyTorch's "valid" (none) and "same" (output size = input size: stride 1
    and, since padding here is symmetric, an even dilation * (kernel_size - 1))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            spans = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
            if stride != (1, 1) or spans[0] % 2 or spans[1] % 2:
                raise ValueError(f"padding='same' needs stride 1 and odd kernel sizes here, got "
                                 f"kernel_size={kernel_size}, stride={stride}, dilation={dilation}; "
                                 "give the padding as numbers instead")
            return (spans[0] // 2, spans[1] // 2)
        raise ValueError(f"padding must be a number, a pair, 'valid' or 'same', got {padding!r}")
    return int_pair(padding, "Conv2d: padding", 0)


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) inputs; weight (out_channels, in_channels / groups, kh,
    kw).

    >>> conv = Conv2d(1, 4, kernel_size=3, padding=1)
    >>> conv(Tensor.zeros(2, 1, 28, 28)).shape
    (2, 4, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = _channels(
            "Conv2d", in_channels, out_channels, groups)
        self.kernel_size = int_pair(kernel_size, "Conv2d: kernel_size", 1)
        self.stride = int_pair(stride, "Conv2d: stride", 1)
        self.dilation = int_pair(dilation, "Conv2d: dilation", 1)
        self.padding = _conv_padding(padding, self.kernel_size, self.stride, self.dilation)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = _uniform_parameter((out_channels, in_channels // groups, *self.kernel_size),
                                         bound)
        self.bias = _uniform_parameter((out_channels,), bound) if bias else None

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(
                f"Conv2d(in_channels={self.in_channels}) got an input of shape {tuple(x.shape)}; "
                f"expected (N, {self.in_channels}, H, W)"
            )
        return x.conv2d(self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return _conv_repr(self)


def _channels(name, in_channels, out_channels, groups):
    check_int(in_channels, f"{name}: in_channels", 1)
    check_int(out_channels, f"{name}: out_channels", 1)
    check_int(groups, f"{name}: groups", 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                         f"must both be divisible by groups ({groups})")
    return in_channels, out_channels, groups


def _conv_repr(layer):
    text = (f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
            f"stride={layer.stride}")
    if any(layer.padding):
        text += f", padding={layer.padding}"
    if any(d != 1 for d in layer.dilation):
        text += f", dilation={layer.dilation}"
    if layer.groups != 1:
        text += f", groups={layer.groups}"
    return text if layer.bias is not None else text + ", bias=False"


class _Pool2d(Module):
    """The settings of a 2-D pooling layer (stride defaults to kernel_size), checked as PyTorch
    does; a subclass writes only forward."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, dilation=1):
        super().__init__()
        _pool_args(type(self).__name__, kernel_size, stride, padding, dilation)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.dilation = ceil_mode, dilation

    def extra_repr(self):
        stride = self.stride or self.kernel_size
        text = f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool2d):
    """2-D max pooling (stride defaults to kernel_size); return_indices also gives where each
    maximum was (flattened within its plane).

    >>> MaxPool2d(2)(Tensor.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode, dilation)
        self.return_indices = return_indices

    def forward(self, x):
        return x.max_pool2d(self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(_Pool2d):
    """2-D average pooling (padded zeros count unless count_include_pad=False, as PyTorch).

    >>> AvgPool2d(2)(Tensor.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return x.avg_pool2d(self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class Flatten(Module):
    """Merges dimensions start_dim..end_dim (by default all but the batch dimension).

    >>> Flatten()(Tensor.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        check_int(start_dim, "Flatten: start_dim")
        check_int(end_dim, "Flatten: end_dim")
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension `dim` into `unflattened_size` (the inverse of Flatten; one size may be -1).

    >>> Unflatten(1, (2, 5))(Tensor.zeros(3, 10)).shape
    (3, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        check_int(dim, "Unflatten: dim")
        sizes = tuple(unflattened_size)
        for size in sizes:
            check_int(size, "Unflatten: unflattened_size", -1)
        if sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: only one size may be -1, got {sizes}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x):
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < x.ndim:
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for an input of shape "
                             f"{tuple(x.shape)}")
        known = int(np.prod([s for s in self.unflattened_size if s != -1]))
        size = x.shape[dim]
        if (-1 in self.unflattened_size and (known == 0 or size % known)) or (
                -1 not in self.unflattened_size and known != size):
            raise ValueError(f"Unflatten: dimension {self.dim} of size {size} cannot be split into "
                             f"{self.unflattened_size}")
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by
    1/(1-p); the identity in eval mode.

    >>> drop = Dropout(0.5)
    >>> sorted(set(drop(Tensor.ones(100)).tolist()))  # kept values are scaled by 1/(1-p)
    [0.0, 2.0]
    >>> drop.eval()(Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace  # NOTE: inplace is accepted; the result is always new

    def forward(self, x):
        return x.dropout(self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class _BatchNorm(Module):
    _axes_by_ndim: dict = {}
    _expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        check_int(num_features, f"{type(self).__name__}: num_features", 1)
        if momentum is not None and not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
            raise ValueError(f"{type(self).__name__}: momentum must be None or in [0, 1], got "
                             f"{momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))

    def forward(self, x):
        axes = self._axes_by_ndim.get(x.ndim)
        if axes is None or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) got an input of shape {tuple(x.shape)}; "
                f"expected {self._expected} with C = {self.num_features}"
            )
        shape = [1] * x.ndim
        shape[1] = self.num_features
        if self.training or not self.track_running_stats:
            n = x.size // self.num_features  # values per channel
            if self.training and n <= 1:
                raise ValueError(
                    f"{type(self).__name__}: expected more than 1 value per channel when training, "
                    f"got input shape {tuple(x.shape)} (use a batch of 2 or more, or eval())"
                )
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)  # biased, to normalize
            if self.training and self.track_running_stats:
                self._update_running_stats(mean.data.reshape(-1), var.data.reshape(-1), n)
            out = centered / (var + self.eps).sqrt()
        else:
            mean = self.running_mean.data.reshape(shape)
            std = np.sqrt(self.running_var.data + self.eps).reshape(shape)
            out = (x - mean) / std
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    def _update_running_stats(self, mean, var, n):
        """PyTorch's update, outside the graph: the running variance uses the unbiased batch
        variance (times n / (n - 1)); momentum=None means a cumulative average."""
        # NOTE: np.asarray: a 0-d array plus 1 is a numpy scalar, and .data must stay an ndarray
        self.num_batches_tracked.data = np.asarray(self.num_batches_tracked.data + 1)
        m = self.momentum
        if m is None:
            m = 1.0 / float(self.num_batches_tracked.data)
        rm, rv = self.running_mean, self.running_var
        rm.data = ((1 - m) * rm.data + m * mean).astype(rm.dtype)
        rv.data = ((1 - m) * rv.data + m * var * (n / (n - 1))).astype(rv.dtype)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, with PyTorch's running statistics
    (`running_mean`, `running_var` with the unbiased update, `num_batches_tracked`).

    >>> bn = BatchNorm1d(2)
    >>> bn(Tensor([[1.0, 10.0], [3.0, 30.0]])).data.round(4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [round(v, 4) for v in bn.running_var.tolist()], int(bn.num_batches_tracked.data)
    ([1.1, 20.9], 1)
    """

    _axes_by_ndim = {2: (0,), 3: (0, 2)}
    _expected = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, with PyTorch's running statistics.

    >>> bn = BatchNorm2d(3).eval()  # eval: the running statistics (0 and 1 at first)
    >>> round(float(bn(Tensor.ones(2, 3, 4, 4)).data.max()), 4)
    1.0
    """

    _axes_by_ndim = {4: (0, 2, 3)}
    _expected = "(N, C, H, W)"


class Embedding(Module):
    """A lookup table: integer indices -> rows of `weight` (num_embeddings, embedding_dim), N(0, 1).
    With `padding_idx` (PyTorch's), that row starts at zero and gets no gradient.

    >>> emb = Embedding(10, 3)
    >>> emb(Tensor([[1, 2], [3, 1]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        check_int(num_embeddings, "Embedding: num_embeddings", 0)
        check_int(embedding_dim, "Embedding: embedding_dim", 0)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            check_int(padding_idx, "Embedding: padding_idx")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx {padding_idx} must be within num_embeddings "
                                 f"({num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = init.normal_(Parameter(np.zeros((num_embeddings, embedding_dim), np.float32)))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, indices):
        idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding needs integer indices, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx[(idx < 0) | (idx >= self.num_embeddings)].flat[0]
            raise IndexError(f"Embedding: index {bad} is out of range for {self.num_embeddings} rows")
        out = self.weight[idx]
        if self.padding_idx is not None:  # the padding row's value, but no gradient to it
            out = Tensor.where((idx == self.padding_idx)[..., None], self.weight.detach()[idx], out)
        return out

    def extra_repr(self):
        extra = f"{self.num_embeddings}, {self.embedding_dim}"
        return extra if self.padding_idx is None else extra + f", padding_idx={self.padding_idx}"
