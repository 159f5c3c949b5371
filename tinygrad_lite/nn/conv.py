"""The convolution family beyond Conv2d and the basic pools: Conv1d, ConvTranspose2d, adaptive
pools, Upsample, and the functional forms of every convolution, pooling and resizing op with
PyTorch's signatures. Parameter names, shapes and default initialization are PyTorch's, so its
state dicts load unchanged. Each forward is a Tensor method: no gradient code here."""

from __future__ import annotations

import math

from ..argcheck import check_int, int_pair
from ..tensor import Tensor
from .layers import _channels, _conv_padding, _conv_repr, _uniform_parameter
from .module import Module


# ------------------------------------------------------------------------------- functional ----
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation): (N, C, L) with (O, C / groups, k) -> (N, O, out_L)."""
    if isinstance(padding, str):
        padding = _conv_padding(padding, (1, weight.shape[-1]), (1, stride), (1, dilation))[1]
    return input.conv1d(weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation): (N, C, H, W) with (O, C / groups, kh, kw) ->
    (N, O, oh, ow); padding may be "valid" or "same" (odd spans)."""
    if isinstance(padding, str):
        padding = _conv_padding(padding, tuple(weight.shape[-2:]), int_pair(stride, "stride", 1),
                                int_pair(dilation, "dilation", 1))
    return input.conv2d(weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups=1, dilation=1) -> Tensor:
    """Transposed 2-D convolution: (N, C, H, W) with (C, O / groups, kh, kw) -> (N, O, oh, ow)."""
    return input.conv_transpose2d(weight, bias, stride, padding, output_padding, groups, dilation)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling; stride defaults to kernel_size."""
    return input.max_pool2d(kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling (padded zeros count unless count_include_pad=False)."""
    return input.avg_pool2d(kernel_size, stride, padding, ceil_mode, count_include_pad,
                            divisor_override)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to the given output size."""
    return input.adaptive_avg_pool2d(output_size)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices=False):
    """Max pooling to the given output size."""
    return input.adaptive_max_pool2d(output_size, return_indices)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None) -> Tensor:
    """Resizing: "nearest", "linear" (3-D) or "bilinear" (4-D), as PyTorch's F.interpolate."""
    return input.interpolate(size, scale_factor, mode, align_corners)


# ----------------------------------------------------------------------------------- layers ----
class Conv1d(Module):
    """1-D convolution over (N, C, L) inputs; weight (out_channels, in_channels / groups, k).

    >>> conv = Conv1d(2, 4, kernel_size=3, padding=1)
    >>> conv.weight.shape, conv(Tensor.zeros(5, 2, 10)).shape
    ((4, 2, 3), (5, 4, 10))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = _channels(
            "Conv1d", in_channels, out_channels, groups)
        self.kernel_size = (_single(kernel_size, "Conv1d: kernel_size", 1),)
        self.stride = (_single(stride, "Conv1d: stride", 1),)
        self.dilation = (_single(dilation, "Conv1d: dilation", 1),)
        if isinstance(padding, str):
            padding = _conv_padding(padding, (1, *self.kernel_size), (1, *self.stride),
                                    (1, *self.dilation))[1]
        self.padding = (_single(padding, "Conv1d: padding", 0),)
        fan_in = in_channels // groups * self.kernel_size[0]
        bound = 1.0 / math.sqrt(fan_in)  # NOTE: PyTorch's kaiming_uniform_(a=sqrt(5)) reduces to this
        self.weight = _uniform_parameter((out_channels, in_channels // groups, *self.kernel_size),
                                         bound)
        self.bias = _uniform_parameter((out_channels,), bound) if bias else None

    def forward(self, x):
        if x.ndim not in (2, 3) or x.shape[-2] != self.in_channels:
            raise ValueError(f"Conv1d(in_channels={self.in_channels}) got an input of shape "
                             f"{tuple(x.shape)}; expected (N, {self.in_channels}, L)")
        return x.conv1d(self.weight, self.bias, self.stride[0], self.padding[0], self.dilation[0],
                        self.groups)

    def extra_repr(self):
        return _conv_repr(self)


class ConvTranspose2d(Module):
    """Transposed 2-D convolution (the adjoint of Conv2d: upsamples with stride > 1); weight
    (in_channels, out_channels / groups, kh, kw), PyTorch's layout.

    >>> up = ConvTranspose2d(4, 2, kernel_size=2, stride=2)
    >>> up.weight.shape, up(Tensor.zeros(1, 4, 7, 7)).shape
    ((4, 2, 2, 2), (1, 2, 14, 14))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = _channels(
            "ConvTranspose2d", in_channels, out_channels, groups)
        self.kernel_size = int_pair(kernel_size, "ConvTranspose2d: kernel_size", 1)
        self.stride = int_pair(stride, "ConvTranspose2d: stride", 1)
        self.padding = int_pair(padding, "ConvTranspose2d: padding", 0)
        self.output_padding = int_pair(output_padding, "ConvTranspose2d: output_padding", 0)
        self.dilation = int_pair(dilation, "ConvTranspose2d: dilation", 1)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be "
                                 f"smaller than either stride {self.stride} or dilation "
                                 f"{self.dilation} in each dimension")
        # NOTE: PyTorch takes fan_in from the weight's dimension 1 (out_channels / groups) here
        fan_in = out_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = _uniform_parameter((in_channels, out_channels // groups, *self.kernel_size),
                                         bound)
        self.bias = _uniform_parameter((out_channels,), bound) if bias else None

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"ConvTranspose2d(in_channels={self.in_channels}) got an input of "
                             f"shape {tuple(x.shape)}; expected (N, {self.in_channels}, H, W)")
        return x.conv_transpose2d(self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)

    def extra_repr(self):
        text = _conv_repr(self)
        return text + (f", output_padding={self.output_padding}"
                       if self.output_padding != (0, 0) else "")


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input's (None keeps that size).

    >>> AdaptiveAvgPool2d(1)(Tensor.ones(2, 3, 5, 7)).shape
    (2, 3, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return x.adaptive_avg_pool2d(self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size; with return_indices also where each maximum was.

    >>> AdaptiveMaxPool2d((2, 3))(Tensor.ones(1, 1, 5, 7)).shape
    (1, 1, 2, 3)
    """

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return x.adaptive_max_pool2d(self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resizes (N, C, L) or (N, C, H, W) inputs: "nearest", "linear" or "bilinear".

    >>> Upsample(scale_factor=2, mode="bilinear")(Tensor.ones(1, 1, 3, 3)).shape
    (1, 1, 6, 6)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners

    def forward(self, x):
        return x.interpolate(self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


def _single(value, name, minimum):
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return check_int(value, name, minimum)
