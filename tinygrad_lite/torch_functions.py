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


abs = _method_function("abs")  # noqa: A001
"""`tg.abs(x, ...)` is `x.abs(...)`: see `Tensor.abs`."""
exp = _method_function("exp")
"""`tg.exp(x, ...)` is `x.exp(...)`: see `Tensor.exp`."""
log = _method_function("log")
"""`tg.log(x, ...)` is `x.log(...)`: see `Tensor.log`."""
sqrt = _method_function("sqrt")
"""`tg.sqrt(x, ...)` is `x.sqrt(...)`: see `Tensor.sqrt`."""
sin = _method_function("sin")
"""`tg.sin(x, ...)` is `x.sin(...)`: see `Tensor.sin`."""
cos = _method_function("cos")
"""`tg.cos(x, ...)` is `x.cos(...)`: see `Tensor.cos`."""
tan = _method_function("tan")
"""`tg.tan(x, ...)` is `x.tan(...)`: see `Tensor.tan`."""
arcsin = _method_function("arcsin")
"""`tg.arcsin(x, ...)` is `x.arcsin(...)`: see `Tensor.arcsin`."""
arccos = _method_function("arccos")
"""`tg.arccos(x, ...)` is `x.arccos(...)`: see `Tensor.arccos`."""
arctan = _method_function("arctan")
"""`tg.arctan(x, ...)` is `x.arctan(...)`: see `Tensor.arctan`."""
asin = _method_function("asin")
"""`tg.asin(x, ...)` is `x.asin(...)`: see `Tensor.asin`."""
acos = _method_function("acos")
"""`tg.acos(x, ...)` is `x.acos(...)`: see `Tensor.acos`."""
atan = _method_function("atan")
"""`tg.atan(x, ...)` is `x.atan(...)`: see `Tensor.atan`."""
sinh = _method_function("sinh")
"""`tg.sinh(x, ...)` is `x.sinh(...)`: see `Tensor.sinh`."""
cosh = _method_function("cosh")
"""`tg.cosh(x, ...)` is `x.cosh(...)`: see `Tensor.cosh`."""
tanh = _method_function("tanh")
"""`tg.tanh(x, ...)` is `x.tanh(...)`: see `Tensor.tanh`."""
log2 = _method_function("log2")
"""`tg.log2(x, ...)` is `x.log2(...)`: see `Tensor.log2`."""
log10 = _method_function("log10")
"""`tg.log10(x, ...)` is `x.log10(...)`: see `Tensor.log10`."""
log1p = _method_function("log1p")
"""`tg.log1p(x, ...)` is `x.log1p(...)`: see `Tensor.log1p`."""
exp2 = _method_function("exp2")
"""`tg.exp2(x, ...)` is `x.exp2(...)`: see `Tensor.exp2`."""
expm1 = _method_function("expm1")
"""`tg.expm1(x, ...)` is `x.expm1(...)`: see `Tensor.expm1`."""
rsqrt = _method_function("rsqrt")
"""`tg.rsqrt(x, ...)` is `x.rsqrt(...)`: see `Tensor.rsqrt`."""
reciprocal = _method_function("reciprocal")
"""`tg.reciprocal(x, ...)` is `x.reciprocal(...)`: see `Tensor.reciprocal`."""
erf = _method_function("erf")
"""`tg.erf(x, ...)` is `x.erf(...)`: see `Tensor.erf`."""
square = _method_function("square")
"""`tg.square(x, ...)` is `x.square(...)`: see `Tensor.square`."""
sign = _method_function("sign")
"""`tg.sign(x, ...)` is `x.sign(...)`: see `Tensor.sign`."""
floor = _method_function("floor")
"""`tg.floor(x, ...)` is `x.floor(...)`: see `Tensor.floor`."""
ceil = _method_function("ceil")
"""`tg.ceil(x, ...)` is `x.ceil(...)`: see `Tensor.ceil`."""
trunc = _method_function("trunc")
"""`tg.trunc(x, ...)` is `x.trunc(...)`: see `Tensor.trunc`."""
nan_to_num = _method_function("nan_to_num")
"""`tg.nan_to_num(x, ...)` is `x.nan_to_num(...)`: see `Tensor.nan_to_num`."""
isclose = _method_function("isclose")
"""`tg.isclose(x, ...)` is `x.isclose(...)`: see `Tensor.isclose`."""
allclose = _method_function("allclose")
"""`tg.allclose(x, ...)` is `x.allclose(...)`: see `Tensor.allclose`."""
sigmoid = _method_function("sigmoid")
"""`tg.sigmoid(x, ...)` is `x.sigmoid(...)`: see `Tensor.sigmoid`."""
relu = _method_function("relu")
"""`tg.relu(x, ...)` is `x.relu(...)`: see `Tensor.relu`."""
softmax = _method_function("softmax")
"""`tg.softmax(x, ...)` is `x.softmax(...)`: see `Tensor.softmax`."""
log_softmax = _method_function("log_softmax")
"""`tg.log_softmax(x, ...)` is `x.log_softmax(...)`: see `Tensor.log_softmax`."""
logsumexp = _method_function("logsumexp")
"""`tg.logsumexp(x, ...)` is `x.logsumexp(...)`: see `Tensor.logsumexp`."""
sum = _method_function("sum")  # noqa: A001
"""`tg.sum(x, ...)` is `x.sum(...)`: see `Tensor.sum`."""
mean = _method_function("mean")
"""`tg.mean(x, ...)` is `x.mean(...)`: see `Tensor.mean`."""
var = _method_function("var")
"""`tg.var(x, ...)` is `x.var(...)`: see `Tensor.var`."""
std = _method_function("std")
"""`tg.std(x, ...)` is `x.std(...)`: see `Tensor.std`."""
prod = _method_function("prod")
"""`tg.prod(x, ...)` is `x.prod(...)`: see `Tensor.prod`."""
argmax = _method_function("argmax")
"""`tg.argmax(x, ...)` is `x.argmax(...)`: see `Tensor.argmax`."""
argmin = _method_function("argmin")
"""`tg.argmin(x, ...)` is `x.argmin(...)`: see `Tensor.argmin`."""
max = _method_function("max")  # noqa: A001
"""`tg.max(x, ...)` is `x.max(...)`: see `Tensor.max`."""
min = _method_function("min")  # noqa: A001
"""`tg.min(x, ...)` is `x.min(...)`: see `Tensor.min`."""
maximum = _method_function("maximum")
"""`tg.maximum(x, ...)` is `x.maximum(...)`: see `Tensor.maximum`."""
minimum = _method_function("minimum")
"""`tg.minimum(x, ...)` is `x.minimum(...)`: see `Tensor.minimum`."""
clip = _method_function("clip")
"""`tg.clip(x, ...)` is `x.clip(...)`: see `Tensor.clip`."""
clamp = _method_function("clamp")
"""`tg.clamp(x, ...)` is `x.clamp(...)`: see `Tensor.clamp`."""
cumsum = _method_function("cumsum")
"""`tg.cumsum(x, ...)` is `x.cumsum(...)`: see `Tensor.cumsum`."""
cumprod = _method_function("cumprod")
"""`tg.cumprod(x, ...)` is `x.cumprod(...)`: see `Tensor.cumprod`."""
cummax = _method_function("cummax")
"""`tg.cummax(x, ...)` is `x.cummax(...)`: see `Tensor.cummax`."""
cummin = _method_function("cummin")
"""`tg.cummin(x, ...)` is `x.cummin(...)`: see `Tensor.cummin`."""
sort = _method_function("sort")
"""`tg.sort(x, ...)` is `x.sort(...)`: see `Tensor.sort`."""
argsort = _method_function("argsort")
"""`tg.argsort(x, ...)` is `x.argsort(...)`: see `Tensor.argsort`."""
topk = _method_function("topk")
"""`tg.topk(x, ...)` is `x.topk(...)`: see `Tensor.topk`."""
median = _method_function("median")
"""`tg.median(x, ...)` is `x.median(...)`: see `Tensor.median`."""
norm = _method_function("norm")
"""`tg.norm(x, ...)` is `x.norm(...)`: see `Tensor.norm`."""
reshape = _method_function("reshape")
"""`tg.reshape(x, ...)` is `x.reshape(...)`: see `Tensor.reshape`."""
flatten = _method_function("flatten")
"""`tg.flatten(x, ...)` is `x.flatten(...)`: see `Tensor.flatten`."""
ravel = _method_function("ravel")
"""`tg.ravel(x, ...)` is `x.ravel(...)`: see `Tensor.ravel`."""
squeeze = _method_function("squeeze")
"""`tg.squeeze(x, ...)` is `x.squeeze(...)`: see `Tensor.squeeze`."""
unsqueeze = _method_function("unsqueeze")
"""`tg.unsqueeze(x, ...)` is `x.unsqueeze(...)`: see `Tensor.unsqueeze`."""
expand_dims = _method_function("expand_dims")
"""`tg.expand_dims(x, ...)` is `x.expand_dims(...)`: see `Tensor.expand_dims`."""
permute = _method_function("permute")
"""`tg.permute(x, ...)` is `x.permute(...)`: see `Tensor.permute`."""
swapaxes = _method_function("swapaxes")
"""`tg.swapaxes(x, ...)` is `x.swapaxes(...)`: see `Tensor.swapaxes`."""
broadcast_to = _method_function("broadcast_to")
"""`tg.broadcast_to(x, ...)` is `x.broadcast_to(...)`: see `Tensor.broadcast_to`."""
split = _method_function("split")
"""`tg.split(x, ...)` is `x.split(...)`: see `Tensor.split`."""
chunk = _method_function("chunk")
"""`tg.chunk(x, ...)` is `x.chunk(...)`: see `Tensor.chunk`."""
flip = _method_function("flip")
"""`tg.flip(x, ...)` is `x.flip(...)`: see `Tensor.flip`."""
fliplr = _method_function("fliplr")
"""`tg.fliplr(x, ...)` is `x.fliplr(...)`: see `Tensor.fliplr`."""
flipud = _method_function("flipud")
"""`tg.flipud(x, ...)` is `x.flipud(...)`: see `Tensor.flipud`."""
roll = _method_function("roll")
"""`tg.roll(x, ...)` is `x.roll(...)`: see `Tensor.roll`."""
rot90 = _method_function("rot90")
"""`tg.rot90(x, ...)` is `x.rot90(...)`: see `Tensor.rot90`."""
repeat_interleave = _method_function("repeat_interleave")
"""`tg.repeat_interleave(x, ...)` is `x.repeat_interleave(...)`: see `Tensor.repeat_interleave`."""
tile = _method_function("tile")
"""`tg.tile(x, ...)` is `x.tile(...)`: see `Tensor.tile`."""
tril = _method_function("tril")
"""`tg.tril(x, ...)` is `x.tril(...)`: see `Tensor.tril`."""
triu = _method_function("triu")
"""`tg.triu(x, ...)` is `x.triu(...)`: see `Tensor.triu`."""
diag = _method_function("diag")
"""`tg.diag(x, ...)` is `x.diag(...)`: see `Tensor.diag`."""
diagonal = _method_function("diagonal")
"""`tg.diagonal(x, ...)` is `x.diagonal(...)`: see `Tensor.diagonal`."""
trace = _method_function("trace")
"""`tg.trace(x, ...)` is `x.trace(...)`: see `Tensor.trace`."""
outer = _method_function("outer")
"""`tg.outer(x, ...)` is `x.outer(...)`: see `Tensor.outer`."""
tensordot = _method_function("tensordot")
"""`tg.tensordot(x, ...)` is `x.tensordot(...)`: see `Tensor.tensordot`."""
matmul = _method_function("matmul")
"""`tg.matmul(x, ...)` is `x.matmul(...)`: see `Tensor.matmul`."""
dot = _method_function("dot")
"""`tg.dot(x, ...)` is `x.dot(...)`: see `Tensor.dot`."""
gather = _method_function("gather")
"""`tg.gather(x, ...)` is `x.gather(...)`: see `Tensor.gather`."""
scatter = _method_function("scatter")
"""`tg.scatter(x, ...)` is `x.scatter(...)`: see `Tensor.scatter`."""
scatter_add = _method_function("scatter_add")
"""`tg.scatter_add(x, ...)` is `x.scatter_add(...)`: see `Tensor.scatter_add`."""
index_add = _method_function("index_add")
"""`tg.index_add(x, ...)` is `x.index_add(...)`: see `Tensor.index_add`."""
take_along_axis = _method_function("take_along_axis")
"""`tg.take_along_axis(x, ...)` is `x.take_along_axis(...)`: see `Tensor.take_along_axis`."""
masked_fill = _method_function("masked_fill")
"""`tg.masked_fill(x, ...)` is `x.masked_fill(...)`: see `Tensor.masked_fill`."""
pad = _method_function("pad")
"""`tg.pad(x, ...)` is `x.pad(...)`: see `Tensor.pad`."""
