"""PyTorch's module-level functions: `tg.flatten(x, 1)`, `tg.exp(x)`, `tg.max(x, dim=1)`, ...

Each is the Tensor method of the same name (numpy's meaning, PyTorch's `dim=`/`keepdim=`
accepted, see tensor.py's `_TORCH_AXIS_METHODS`); the argument may be array-like. They live in
their own module so that names like `sum`, `max` and `abs` never shadow Python's builtins inside
the library. Not here: `transpose` (torch.transpose(x, 0, 1) swaps two axes, numpy's
np.transpose(x, axes) permutes them: ambiguous), `repeat` (numpy's repeat is torch's
repeat_interleave; use `repeat_interleave` or `tile`).
"""

from __future__ import annotations

from .tensor import Tensor


def _method_function(name):
    """tg.<name>(x, ...) for Tensor.<name> (PyTorch's torch.<name>): x may be array-like."""
    method = getattr(Tensor, name)

    def function(input, *args, **kwargs):  # noqa: A002 (PyTorch's argument name)
        return method(input if isinstance(input, Tensor) else Tensor(input), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`tg.{name}(x, ...)` is `x.{name}(...)` (PyTorch's torch.{name})."
    function.__wrapped__ = method
    return function


abs, exp, log, sqrt, sin, cos, tan = (_method_function(n) for n in (  # noqa: A001
    "abs", "exp", "log", "sqrt", "sin", "cos", "tan"))
arcsin, arccos, arctan, asin, acos, atan, sinh, cosh, tanh = (_method_function(n) for n in (
    "arcsin", "arccos", "arctan", "asin", "acos", "atan", "sinh", "cosh", "tanh"))
log2, log10, log1p, exp2, expm1, rsqrt, reciprocal, erf, square = (_method_function(n) for n in (
    "log2", "log10", "log1p", "exp2", "expm1", "rsqrt", "reciprocal", "erf", "square"))
sign, floor, ceil, trunc, nan_to_num, isclose, allclose = (_method_function(n) for n in (  # noqa: A001
    "sign", "floor", "ceil", "trunc", "nan_to_num", "isclose", "allclose"))
sigmoid, relu, softmax, log_softmax, logsumexp = (_method_function(n) for n in (
    "sigmoid", "relu", "softmax", "log_softmax", "logsumexp"))
sum, mean, var, std, prod, argmax, argmin = (_method_function(n) for n in (  # noqa: A001
    "sum", "mean", "var", "std", "prod", "argmax", "argmin"))
max, min, maximum, minimum, clip, clamp = (_method_function(n) for n in (  # noqa: A001
    "max", "min", "maximum", "minimum", "clip", "clamp"))
cumsum, cumprod, cummax, cummin, sort, argsort, topk, median, norm = (_method_function(n) for n in (
    "cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "topk", "median", "norm"))
reshape, flatten, ravel, squeeze, unsqueeze, expand_dims, permute = (_method_function(n) for n in (
    "reshape", "flatten", "ravel", "squeeze", "unsqueeze", "expand_dims", "permute"))
swapaxes, broadcast_to, split, chunk, flip, fliplr, flipud, roll, rot90 = (
    _method_function(n) for n in ("swapaxes", "broadcast_to", "split", "chunk", "flip", "fliplr",
                                  "flipud", "roll", "rot90"))
repeat_interleave, tile, tril, triu, diag, diagonal, trace, outer = (_method_function(n) for n in (
    "repeat_interleave", "tile", "tril", "triu", "diag", "diagonal", "trace", "outer"))
tensordot, matmul, dot, gather, scatter, scatter_add, index_add = (_method_function(n) for n in (
    "tensordot", "matmul", "dot", "gather", "scatter", "scatter_add", "index_add"))
take_along_axis, masked_fill, pad = (_method_function(n) for n in (
    "take_along_axis", "masked_fill", "pad"))
