"""Activation functions as functions (also in nn.functional) and as modules, PyTorch's names.
All are compositions of Tensor operations."""

from __future__ import annotations

import numpy as np

from .. import rng
from ..tensor import Tensor
from .module import Module, Parameter


# ------------------------------------------------------------------------------------ functions ----
def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return x.tanh()


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0). (`inplace` is accepted for PyTorch code; the result is always a new tensor.)"""
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (gradient negative_slope at 0, as in PyTorch).

    >>> leaky_relu(Tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    return x.leaky_relu(negative_slope)


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    >>> elu(Tensor([-1.0, 2.0])).tolist()
    [-0.6321206092834473, 2.0]
    """
    # NOTE: exp of clip(x, max=0) never overflows, and clip's gradient is 1 at the bound, so the
    # gradient at 0 is alpha (the left branch), as in PyTorch
    negative = (x.clip(max=0.0).exp() - 1.0) * alpha
    return Tensor.where(x.data > 0, x, negative)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta; linear above `threshold` (PyTorch's argument; the stable
    formula makes it only a speed choice)."""
    return x.softplus(beta)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + weight * min(0, x), with one weight or one per channel (dimension 1)."""
    if weight.size > 1:
        if x.ndim < 2 or x.shape[1] != weight.size:
            raise ValueError(f"prelu: {weight.size} slopes need inputs with {weight.size} channels "
                             f"in dimension 1, got shape {tuple(x.shape)}")
        weight = weight.reshape((1, weight.size) + (1,) * (x.ndim - 2))
    return Tensor.where(x.data > 0, x, x * weight)  # at 0: gradient `weight`, as in PyTorch


def rrelu(x: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, generator=None) -> Tensor:
    """Randomized leaky ReLU: in training each element gets its own slope from U(lower, upper);
    in eval the slope is the mean (lower + upper) / 2."""
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slopes = rng.resolve(generator).uniform(lower, upper, x.shape).astype(x.dtype)
    return Tensor.where(x.data > 0, x, x * slopes)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along dim."""
    return x.softmax(axis=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) along dim, computed stably."""
    return x.log_softmax(axis=dim)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (the standard normal CDF), or its tanh form with approximate="tanh"."""
    return x.gelu(approximate)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return x.silu()


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return x.mish()


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return x.selu()


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return x.relu6()


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]."""
    return x.hardtanh(min_val, max_val)


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return x.hardsigmoid()


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return x.hardswish()


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return x.softsign()


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for any x."""
    return x.logsigmoid()


# -------------------------------------------------------------------------------------- modules ----
class Sigmoid(Module):
    """Elementwise sigmoid.

    >>> Sigmoid()(Tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    """Elementwise tanh.

    >>> Tanh()(Tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x):
        return x.tanh()


class ReLU(Module):
    """Elementwise max(x, 0). `inplace` is accepted for PyTorch code (the result is always a new
    tensor, the input is left as it is).

    >>> ReLU()(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.relu()

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise.

    >>> LeakyReLU(0.5)(Tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """Leaky ReLU with a learnable slope (one, or one per channel), initialized to `init`.

    >>> act = PReLU()
    >>> act(Tensor([-2.0, 3.0])).tolist()
    [-0.5, 3.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=np.float32))

    def forward(self, x):
        return prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: random slopes from U(lower, upper) per element in training, the mean
    slope in eval.

    >>> RReLU(0.25, 0.75).eval()(Tensor([-2.0, 1.0])).tolist()
    [-1.0, 1.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.inplace = inplace
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU needs 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def forward(self, x):
        return rrelu(x, self.lower, self.upper, self.training)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    >>> ELU(alpha=2.0)(Tensor([-1000.0, 3.0])).tolist()
    [-2.0, 3.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """log(1 + exp(beta x)) / beta.

    >>> round(Softplus()(Tensor([0.0])).item(), 4)
    0.6931
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along `dim`.

    >>> Softmax(dim=1)(Tensor([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.softmax(axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along `dim`.

    >>> LogSoftmax(dim=1)(Tensor([[0.0, 0.0]])).exp().tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.log_softmax(axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _Elementwise(Module):
    """An activation without settings: forward is the Tensor method `_method`."""

    _method = ""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # NOTE: accepted for PyTorch code; the result is always new

    def forward(self, x):
        return getattr(x, self._method)()

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Elementwise):
    """x * sigmoid(x) (swish).

    >>> SiLU()(Tensor([0.0, 1.0])).tolist()
    [0.0, 0.7310585975646973]
    """

    _method = "silu"


class Mish(_Elementwise):
    """x * tanh(softplus(x)).

    >>> Mish()(Tensor([0.0])).tolist()
    [0.0]
    """

    _method = "mish"


class SELU(_Elementwise):
    """Self-normalizing ELU: 1.0507 * elu(x, 1.6733).

    >>> SELU()(Tensor([1.0])).tolist()
    [1.0507010221481323]
    """

    _method = "selu"


class ReLU6(_Elementwise):
    """min(max(x, 0), 6).

    >>> ReLU6()(Tensor([-1.0, 7.0])).tolist()
    [0.0, 6.0]
    """

    _method = "relu6"


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6.

    >>> Hardsigmoid()(Tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """

    _method = "hardsigmoid"


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6.

    >>> Hardswish()(Tensor([-4.0, 4.0])).tolist()
    [-0.0, 4.0]
    """

    _method = "hardswish"


class Softsign(Module):
    """x / (1 + |x|).

    >>> Softsign()(Tensor([1.0])).tolist()
    [0.5]
    """

    def forward(self, x):
        return x.softsign()


class LogSigmoid(Module):
    """log(sigmoid(x)), stable for any x.

    >>> LogSigmoid()(Tensor([-1000.0])).tolist()
    [-1000.0]
    """

    def forward(self, x):
        return x.logsigmoid()


class GELU(Module):
    """x * Phi(x) (Phi: the standard normal CDF); approximate="tanh" is the tanh form.

    >>> GELU()(Tensor([0.0, 1.0])).tolist()
    [0.0, 0.8413447141647339]
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return x.gelu(self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (gradient 0 at and beyond the bounds).

    >>> Hardtanh(-2.0, 2.0)(Tensor([-3.0, 1.0, 3.0])).tolist()
    [-2.0, 1.0, 2.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is larger than max_val {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return x.hardtanh(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"
