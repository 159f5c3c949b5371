"""Every primitive: one class each, forward on numpy arrays and backward in Tensor operations.

Rules of the house (see STYLE.md and `autograd.Function`):
- forward gets arrays (or Python scalars) positionally and settings as keywords, returns one array,
  and keeps what backward needs in `ctx.saved_tensors` (`ctx.saved_tensors = (x, y)` is what
  `ctx.save_for_backward(x, y)`, PyTorch's spelling, does: written out because every op of every
  step runs it, and the method's call cost 1.2% of a W1 step at batch 10);
- backward gets the upstream gradient and returns one gradient (or None) per input, shaped like the
  broadcast output: the engine sums it back to each input's shape;
- backward is written with Tensor operations on `grad` and `ctx.saved_tensors`, so `create_graph=True`
  makes it differentiable. Every primitive is a `Primitive`: see there for why the same code also
  runs on plain arrays.

This is the only file (besides a few creation helpers) that calls numpy on tensor data, so a GPU backend
can swap the array module in one place.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import threads as _threads
from .autograd import Function, Node
from .threads import matmul as _blas_matmul  # one BLAS thread for small products

# NOTE: CuPy mirrors numpy's API; a GPU backend would rebind this name.
xp = np


class Primitive(Function):
    """A built-in op whose backward also runs on plain ndarrays: the fast path, declared here once.

    When a backward pass records nothing (no `create_graph`, the common case: every training step),
    the engine hands a primitive's backward `grad` as an ndarray and `ctx.saved_tensors` gives back
    the arrays forward saved, so backward runs as plain numpy with no Tensor objects. Its code is
    the same Tensor-op code either way, which is why every primitive's backward keeps to what
    Tensors and ndarrays share: operators, the methods both have (`sum`, `reshape`, `swapaxes`,
    `astype`, indexing), and other ops' `Op.apply(...)`, which on arrays just computes. With
    `create_graph=True` the same code gets Tensors and records, and gradients of gradients follow.
    """

    array_backward = True
    arrays_on_ctx = False  # (True on the few that keep masks as ctx attributes: Maximum, Where, Max)


def _data(x):
    """The array behind a Tensor, or the value itself (for masks, which carry no gradient)."""
    return x.data if isinstance(x, Node) else x


def _chain(grad, local):
    """grad * local, but exactly 0 wherever grad is 0 even if `local` is inf or NaN there.

    NOTE: this is why `where(x >= 0, x, sqrt(-x))` has gradient 1 at x = 1 instead of NaN: the
    branch `where` did not pick gets a zero gradient, and 0 * (derivative of sqrt at -1) must stay 0.
    The mask is only paid for when the local derivative actually has a non-finite value. (np.isfinite
    works on numpy scalars too, which is what 0-d arithmetic returns.)
    """
    out = grad * local
    if not np.isfinite(_data(local)).all():
        out = Where.apply(_data(grad) == 0, 0.0, out)
    return out


def _by_rows(x, *like):
    """Whether an element-wise op on the float array `x` (and arrays `like` of its shape) should
    go through threads.split_rows: large enough to be split; the check costs W1's small ops
    nothing more than one comparison."""
    return (isinstance(x, np.ndarray) and x.size >= _threads.ROWS_SPLIT and x.dtype.kind == "f"
            and all(isinstance(y, np.ndarray) and y.shape == x.shape for y in like))


def _normalize_axes(axis, ndim):
    """`axis` (None, an int or a tuple) as a tuple of non-negative axes; out of range is an error
    (numpy's AxisError, both IndexError and ValueError), never a wrap-around. A 0-d tensor accepts
    axis 0 and -1 (PyTorch's rule) and reduces over nothing."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:  # the common case, checked cheaply
        return (axis,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"axis must be an int or a tuple of ints, got {axis!r}")
        if ndim == 0:
            if a not in (0, -1):
                raise np.exceptions.AxisError(f"axis {a} is out of bounds for a 0-d tensor "
                                              "(only 0 and -1 are accepted)")
            continue
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"axis {a} is out of bounds for a tensor of {ndim} dimension(s) "
                f"(valid: {-ndim} to {ndim - 1})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(out)


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ------------------------------------------------------------------------------------------ unary ----
class Cast(Primitive):
    @staticmethod
    def forward(ctx, x, *, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)  # always a copy, so Cast to the same dtype is `clone`

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype)


class Neg(Primitive):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = xp.exp(x)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return _chain(grad, out)


class Log(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.saved_tensors = (x,)
        return xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return _chain(grad, 1.0 / x)


class Sin(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.saved_tensors = (x,)
        return xp.sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * Cos.apply(x)


class Cos(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.saved_tensors = (x,)
        return xp.cos(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return -grad * Sin.apply(x)


class Sigmoid(Primitive):
    # NOTE: a primitive for stability and speed. 1 / (1 + exp(-x)) is accurate far into both tails
    # (sigmoid(-30) = 9.4e-14, not 0); where exp(-x) overflows (x < -88 in float32) the result is
    # the correct limit 0, so the overflow warning is silenced. Four in-place passes: the fastest
    # exact form (strided gate slices of an LSTM included).
    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            out = xp.asarray(xp.negative(x if x.dtype.kind in "fc" else x.astype(np.float64)))
            xp.exp(out, out=out)
            out += 1
            xp.reciprocal(out, out=out)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx, grad):
        s, = ctx.saved_tensors
        return grad * (s * (1 - s))


class Tanh(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = xp.tanh(x)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx, grad):
        t, = ctx.saved_tensors
        return grad * (1 - t * t)


class Softplus(Primitive):
    # NOTE: a primitive for stability: logaddexp(0, x) is exact in both tails (the composite
    # relu(x) + log(1 + exp(-|x|)) has kinks at 0 that break second derivatives there).
    @staticmethod
    def forward(ctx, x):
        ctx.saved_tensors = (x,)
        return xp.logaddexp(0, x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * Sigmoid.apply(x)


class LogSoftmax(Primitive):
    # NOTE: a primitive for stability (the max shift, log-sum-exp, and a backward that never takes
    # the log of a small number): out = x - max - log(sum(exp(x - max))). Not for speed: the
    # six-op composite costs W2 only 1.4% more instructions (benchmarks/tricks.md).
    # d out / d x: grad - softmax * sum(grad), with softmax = exp(out).
    @staticmethod
    def forward(ctx, x, *, axis=-1):
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        axis = ctx.settings.get("axis", -1)
        return grad - Exp.apply(out) * grad.sum(axis=axis, keepdims=True)


class Relu(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.saved_tensors = (x,)
        if _by_rows(x):  # (W6's conv outputs at two threads: see threads.split_rows)
            out = xp.empty_like(x)
            _threads.split_rows(lambda b: xp.maximum(x[b], 0, out=out[b]), len(x), x.size)
            return out
        return xp.maximum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        if _by_rows(grad, _data(x)):
            x, out = _data(x), xp.empty_like(grad)
            _threads.split_rows(lambda b: xp.multiply(grad[b], x[b] > 0, out=out[b]), len(x),
                                grad.size)
            return out
        return grad * (_data(x) > 0)  # relu'(0) = 0, as in PyTorch


# ----------------------------------------------------------------------------------------- binary ----
class Add(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad):
        return grad, grad  # the engine never mutates gradients, so sharing one is safe


class Sub(Primitive):
    # NOTE: a primitive (not x + (-y)) for numpy's integer rules: uint8 x - 3 is fine but x + (-3)
    # is an OverflowError (and int8 x - (-128) works where x + 128 fails). Not for speed: the
    # composite costs 1% more instructions on W1 at batch 10, under the 5% bar (benchmarks/tricks.md).
    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad):
        nx, ny = ctx.needs_input_grad
        return (grad if nx else None), (-grad if ny else None)


class Mul(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.saved_tensors = (x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        return (grad * y if nx else None), (grad * x if ny else None)


def _scalar_as_array(v, dtype):
    """A Python number as a 0-d array of `dtype` (1 / 0 is then inf, as in numpy, not an error)."""
    return xp.asarray(v, dtype=dtype) if isinstance(v, (int, float)) else v


class Div(Primitive):
    # NOTE: a primitive (not x * y ** -1) for exact results: x * (1 / y) rounds twice (49 * (1 / 49)
    # is not 1.0) and int ** -1 is an error in numpy. Not for speed: no bench_core workload divides.
    @staticmethod
    def forward(ctx, x, y):
        ctx.saved_tensors = (x, y)
        return x / y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        y = _scalar_as_array(y, _data(grad).dtype)
        nx, ny = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            gx = _chain(grad, 1.0 / y) if nx else None
            gy = _chain(grad, -x / (y * y)) if ny else None
        return gx, gy


class Pow(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.saved_tensors = (x, y)
        return x ** y

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's conventions at base 0: d/dx x**y is 0 where y == 0 (x**0 is constant 1, even
        # at x = 0), and d/dy x**y is 0 where x == 0 and y >= 0 (x**y is 0 or 1 there, flat in y);
        # for x == 0 and y < 0 it is inf * log(0) = -inf.
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        if nx and not ny and isinstance(y, (int, float)) and y >= 1:  # x ** 2: the common case
            return _chain(grad, y * x ** (y - 1)), None  # (no division by 0 here: no errstate)
        gx = gy = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if nx:
                if isinstance(y, (int, float)):  # x ** 0.5, x ** -1
                    local = 0.0 * x if y == 0 else y * x ** (y - 1)
                else:
                    local = Where.apply(_data(y) == 0, 0.0, y * x ** (y - 1))
                gx = _chain(grad, local)
            if ny:
                flat = (_data(x) == 0) & (_data(y) >= 0)
                gy = _chain(grad, Where.apply(flat, 0.0, x ** y * Log.apply(x)))
        return gx, gy


class Maximum(Primitive):
    """Elementwise maximum; ties split the gradient evenly (1 to the larger input, 0.5 each on a
    tie), like PyTorch."""

    pick = staticmethod(xp.maximum)
    arrays_on_ctx = True  # its masks (see forward)

    @classmethod
    def forward(cls, ctx, x, y):
        ctx.x, ctx.y = x, y  # masks only: the gradient is not a function of them
        return cls.pick(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.x, ctx.y
        dtype = _data(grad).dtype
        share_x = ((ctx.pick(x, y) == x) & (x != y)) + 0.5 * (x == y)
        nx, ny = ctx.needs_input_grad
        return (grad * share_x.astype(dtype) if nx else None), (
            grad * (1 - share_x).astype(dtype) if ny else None)


class Minimum(Maximum):
    """Elementwise minimum (its own primitive: -max(-x, -y) is wrong for unsigned integers)."""

    pick = staticmethod(xp.minimum)


class Where(Primitive):
    arrays_on_ctx = True  # its masks (see forward)

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.cond = cond  # a mask: no gradient flows to it
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        cond = ctx.cond
        _, nx, ny = ctx.needs_input_grad
        zero = np.zeros((), dtype=_data(grad).dtype)
        gx = Where.apply(cond, grad, zero) if nx else None
        gy = Where.apply(cond, zero, grad) if ny else None
        return None, gx, gy


# ------------------------------------------------------------------------------------- reductions ----
def _small_block(x, axes):
    """The positions of the reduced axes, if `x` should be reduced over them by a loop of whole
    slices (one index tuple per position, reduced axes kept as size 1), else None.

    NOTE: numpy reduces a few short axes that are not the leading ones element by element: max
    pooling 2x2 of (64, 8, 24, 24), viewed as (64, 8, 12, 2, 12, 2) and reduced over axes (3, 5),
    takes 7 ms with np.max and 0.3 ms as three np.maximum of strided slices, each vectorized over
    the kept axes. So: float arrays, 2 to 16 positions, at least 512 kept elements per position.
    Without it, 2x2 max pooling of that tensor, forward and backward, takes 8.9 times the
    instructions (benchmarks/tricks.md, POOL).
    """
    if x.size < 1024 or x.dtype.kind != "f" or axes == tuple(range(len(axes))):
        return None
    block = math.prod(x.shape[a] for a in axes)
    if not 1 < block <= 16 or x.size < 512 * block:
        return None
    indices = []
    for position in itertools.product(*(range(x.shape[a]) for a in axes)):
        index = [slice(None)] * x.ndim
        for a, i in zip(axes, position):
            index[a] = slice(i, i + 1)
        indices.append(tuple(index))
    return indices


class Sum(Primitive):
    @staticmethod
    def forward(ctx, x, *, axis=None, keepdims=False):
        ctx.axes = None if axis is None else _normalize_axes(axis, x.ndim)
        ctx.in_shape = x.shape
        return x.sum(axis=ctx.axes, keepdims=keepdims)  # bool/int sum as numpy promotes them

    @staticmethod
    def backward(ctx, grad):
        axes = ctx.axes
        # numpy broadcasting aligns trailing axes, so only reduced axes that are not leading need
        # to be put back as size-1 dimensions before broadcasting the gradient out again
        if axes is not None and not ctx.settings.get("keepdims") and axes != tuple(range(len(axes))):
            grad = grad.reshape(_keepdims_shape(ctx.in_shape, axes))
        return Expand.apply(grad, shape=ctx.in_shape)


class Max(Primitive):
    """The maximum over axes. Ties split the gradient evenly among the maximal elements (PyTorch's
    max() does the same for full reductions), so the gradient stays a valid subgradient."""

    reduce = staticmethod(xp.max)
    pick = staticmethod(xp.maximum)
    arrays_on_ctx = True  # its masks (see forward)

    @classmethod
    def forward(cls, ctx, x, *, axis=None, keepdims=False):
        ctx.axes = axes = _normalize_axes(axis, x.ndim)
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{cls.__name__.lower()}() over an axis of length 0 (tensor of shape "
                             f"{x.shape}, axis {axis}) has no value: there is no identity for it")
        indices = _small_block(x, axes)
        if indices is None:
            out = cls.reduce(x, axis=axes, keepdims=True)
        else:
            out = xp.empty_like(x[indices[0]])  # NOTE: in x's memory order: channels-last stays so

            def run(b):  # (a block of rows: threads.split_rows)
                xb, ob = x[b], out[b]
                xp.copyto(ob, xb[indices[0]])
                for index in indices[1:]:
                    cls.pick(ob, xb[index], out=ob)

            _by_leading(run, x, axes)
        ctx.x, ctx.out = x, out  # masks only: which elements were maximal
        return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in axes])

    @staticmethod
    def backward(ctx, grad):
        x, out, axes = ctx.x, ctx.out, ctx.axes
        dtype = _data(grad).dtype
        indices = _small_block(x, axes)
        if indices is None:
            mask = (x == out).astype(dtype)
            mask /= mask.sum(axis=axes, keepdims=True)
        elif isinstance(grad, np.ndarray):
            # NOTE: on plain arrays the upstream gradient goes into each slice's share: one
            # grad * mask over the whole input would broadcast along the short reduced axes
            # (inner loops of 2 elements for 2x2 pooling: 4x slower than the whole backward)
            gx = xp.empty_like(x, dtype=dtype)  # in x's memory order, as the slices
            g = grad.reshape(out.shape)

            def run(b):  # (a block of rows: threads.split_rows)
                xb, gxb = x[b], gx[b]
                hits, share = _max_hits(xb, out[b], indices, dtype)
                share *= g[b]
                for index, hit in zip(indices, hits):
                    xp.multiply(hit, share, out=gxb[index])

            _by_leading(run, x, axes)
            return gx
        else:  # the same mask, built slice by slice (see _small_block)
            hits, share = _max_hits(x, out, indices, dtype)
            mask = xp.empty(x.shape, dtype=dtype)
            for index, hit in zip(indices, hits):
                xp.multiply(hit, share, out=mask[index])
        kshape = _keepdims_shape(x.shape, axes)
        if grad.shape != kshape:
            grad = grad.reshape(kshape)
        return grad * mask


def _max_hits(x, out, indices, dtype):
    """Max's masks slice by slice (see _small_block): where each slice of `x` equals the maximum
    `out`, and each window's share of its gradient (1 / its number of maximal elements)."""
    hits = [x[index] == out for index in indices]
    share = xp.zeros_like(out, dtype=dtype)
    for hit in hits:
        share += hit
    with np.errstate(divide="ignore"):  # no hit at all (NaN in the window): NaN, as in Max
        xp.reciprocal(share, out=share)
    return hits, share


def _by_leading(run, x, axes):
    """run(block) over row blocks of x's leading axis (threads.split_rows) when a reduction over
    `axes` keeps that axis; else run(slice(None)) once."""
    if 0 in axes:
        run(slice(None))
    else:
        _threads.split_rows(run, len(x), x.size)


class Min(Max):
    """The minimum over axes (its own primitive: -max(-x) is wrong for unsigned integers and for
    the most negative signed integer)."""

    reduce = staticmethod(xp.min)
    pick = staticmethod(xp.minimum)


# ---------------------------------------------------------------------------------------- movement ----
class Reshape(Primitive):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape {shape}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


class Permute(Primitive):
    @staticmethod
    def forward(ctx, x, *, axes):
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        axes = ctx.settings["axes"]
        inverse = [0] * len(axes)
        for position, axis in enumerate(axes):
            inverse[axis] = position
        return Permute.apply(grad, axes=tuple(inverse))


class Expand(Primitive):
    @staticmethod
    def forward(ctx, x, *, shape):
        try:
            if math.prod(shape) <= 4096:
                # NOTE: small results are materialized (empty, then a broadcasting assignment): ten
                # times faster than np.broadcast_to's Python-level machinery, which costs W4 (the
                # per-op workload) 10% more instructions (benchmarks/tricks.md). Large ones stay views.
                out = xp.empty(shape, dtype=x.dtype)
                out[...] = x
                return out
            return xp.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"cannot broadcast a tensor of shape {x.shape} to shape {shape}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad  # the engine sums the broadcast dimensions back (unbroadcast)


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


class GetItem(Primitive):
    @staticmethod
    def forward(ctx, x, *, index):
        ctx.in_shape = x.shape
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        return ScatterAdd.apply(grad, index=ctx.settings["index"], shape=ctx.in_shape)


class ScatterAdd(Primitive):
    """The adjoint of GetItem: a zero tensor of `shape` with `src` added at `index` (repeated
    indices accumulate, so x[[0, 0]] sends both gradients to x[0])."""

    @staticmethod
    def forward(ctx, src, *, index, shape):
        out = xp.zeros(shape, dtype=src.dtype)
        if _is_basic_index(index):
            out[index] = src  # basic indexing never repeats a position
        else:
            xp.add.at(out, index, src)
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, index=ctx.settings["index"])


class SetItem(Primitive):
    """x with `value` written at `index` (out of place; Tensor.__setitem__ rebinds to the result)."""

    @staticmethod
    def forward(ctx, x, value, *, index):
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        index = ctx.settings["index"]
        nx, nv = ctx.needs_input_grad
        gx = SetItem.apply(grad, np.zeros((), dtype=grad.dtype), index=index) if nx else None
        gv = GetItem.apply(grad, index=index) if nv else None
        return gx, gv


class Pad(Primitive):
    @staticmethod
    def forward(ctx, x, *, pad_width, value=0.0):
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        index = tuple(slice(lo, n - hi) for (lo, hi), n in zip(ctx.settings["pad_width"], grad.shape))
        return GetItem.apply(grad, index=index)


class Concatenate(Primitive):
    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.sizes = [x.shape[axis] for x in xs]
        return xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.settings.get("axis", 0) % grad.ndim
        grads, start = [], 0
        for size, needs in zip(ctx.sizes, ctx.needs_input_grad):
            index = (slice(None),) * axis + (slice(start, start + size),)
            grads.append(GetItem.apply(grad, index=index) if needs else None)
            start += size
        return tuple(grads)


# ------------------------------------------------------------------------------------------ matmul ----
class MatMul(Primitive):
    """numpy's matmul (1-D, 2-D, batched) as BLAS's gemm: op(x) @ op(y) (+ bias), where op swaps an
    operand's last two axes when its transpose flag is set. So `x @ w.T + b` (nn.Linear) is one op,
    its gradients come back in each operand's own layout (no transposed copies), and the bias is
    added in place into the fresh product (no extra array).

    NOTE: the transpose flags pay: nn.Linear as `x @ w.T` (a Permute op, and the weight's gradient
    made by transposing) costs 18% more instructions on W1 at batch 10 and 12% on W2
    (benchmarks/tricks.md). The in-place bias is not measurable on bench_core's workloads."""

    @staticmethod
    def forward(ctx, x, y, bias=None, *, transpose_a=False, transpose_b=False):
        ctx.saved_tensors = (x, y)
        # NOTE: the shapes are looked at only when numpy refuses them (checked first, 2% of a W1
        # step at batch 10, which makes 8 products)
        try:
            a = x.swapaxes(-1, -2) if transpose_a else x
            b = y.swapaxes(-1, -2) if transpose_b else y
            if _threads._restore is not None and a.size * b.size < _threads.SMALL_PRODUCT:
                out = a @ b  # (threads.matmul's common case, checked here without a call)
            else:
                out = _blas_matmul(a, b)  # the BLAS policy: one thread for small products
        except ValueError as error:
            message = _matmul_shape_error(x.shape, y.shape, transpose_a, transpose_b)
            if message is None:  # (batch dimensions that do not broadcast: apply words it)
                raise
            raise ValueError(message) from error
        if bias is None:
            return out
        if getattr(bias, "dtype", None) == out.dtype and (
                bias.shape == out.shape[-1:] or _fits_into(bias.shape, out.shape)):
            out += bias  # NOTE: in place into the product, which nothing else holds
            return out
        return out + bias

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad[:2]
        gbias = (grad,) if len(ctx.inputs) == 3 else ()  # the engine sums it to the bias's shape
        ta, tb = ctx.settings.get("transpose_a", False), ctx.settings.get("transpose_b", False)
        if x.ndim == 1 or y.ndim == 1:
            # NOTE: a vector operand: work with the transposed matrix as used (op(x), op(y)) and
            # swap its gradient back into the operand's own layout (x.linear(w) with 1-D x)
            a, b = (x.swapaxes(-1, -2) if ta else x), (y.swapaxes(-1, -2) if tb else y)
            ga, gb = _matmul_vector_grads(grad, a, b, nx, ny)
            return (ga.swapaxes(-1, -2) if ta and ga is not None else ga,
                    gb.swapaxes(-1, -2) if tb and gb is not None else gb, *gbias)
        # C = op(x) @ op(y): dx and dy, each written so it comes out in x's / y's own layout
        gx = gy = None
        if nx:
            gx = (MatMul.apply(grad, y, transpose_b=not tb) if not ta
                  else MatMul.apply(y, grad, transpose_a=tb, transpose_b=True))
        if ny:
            gy = (MatMul.apply(x, grad, transpose_a=not ta) if not tb
                  else MatMul.apply(grad, x, transpose_a=True, transpose_b=ta))
        return (gx, gy, *gbias)


def _matmul_shape_error(xs, ys, transpose_a, transpose_b):
    """Why numpy's matmul refused operands of shapes xs and ys (None if not for their last axes)."""
    if not xs or not ys:
        return f"matmul: both operands need at least 1 dimension, got {xs} and {ys}"
    if (transpose_a and len(xs) < 2) or (transpose_b and len(ys) < 2):
        return f"matmul: transposing an operand needs at least 2 dimensions, got {xs} and {ys}"
    a = xs[:-2] + xs[:-3:-1] if transpose_a else xs
    b = ys[:-2] + ys[:-3:-1] if transpose_b else ys
    k = b[0 if len(b) == 1 else -2]
    if a[-1] != k:
        return (f"matmul: shapes {a} and {b} do not align: the last dimension of the first "
                f"({a[-1]}) must equal the {'first' if len(b) == 1 else 'second-to-last'} "
                f"dimension of the second ({k})")
    return None


def _fits_into(shape, target):
    """True if an array of `shape` broadcasts to `target` without growing it (conv2d's (O, 1)
    bias against its (N, O, L) product)."""
    return len(shape) <= len(target) and all(
        n in (1, t) for n, t in zip(reversed(shape), reversed(target)))


def _matmul_vector_grads(grad, x, y, nx, ny):
    """Gradients of x @ y when x or y is 1-D (numpy's matmul promotion rules)."""
    if x.ndim == 1 and y.ndim == 1:  # dot product: grad is a scalar
        return (grad * y if nx else None), (grad * x if ny else None)
    if x.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        g = grad[..., None, :]
        gx = (g @ y.swapaxes(-1, -2))[..., 0, :] if nx else None
        gy = x[:, None] * g if ny else None
        return gx, gy
    g = grad[..., :, None]  # (..., n, k) @ (k,) -> (..., n)
    gx = g * y if nx else None
    gy = (x.swapaxes(-1, -2) @ g)[..., 0] if ny else None
    return gx, gy


# -------------------------------------------------------------------------------- sliding windows ----
class SlidingWindow(Primitive):
    """Windows of the last two axes: (..., H, W) -> (..., out_h, out_w, kh, kw), a strided view
    (no copy), window element (i, j) of output (r, c) being x[..., r*sh + i*dh, c*sw + j*dw]
    (`dilation` spreads the window). The im2col behind conv2d, conv_transpose2d and the pools."""

    @staticmethod
    def forward(ctx, x, *, window, stride, dilation=(1, 1)):
        (kh, kw), (sh, sw), (dh, dw) = window, stride, dilation
        h, w = x.shape[-2:]
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if span_h > h or span_w > w:
            raise ValueError(f"window {window} (dilation {dilation}) spans {(span_h, span_w)}, more "
                             f"than the input's spatial size {(h, w)}")
        ctx.in_shape = x.shape
        oh, ow = (h - span_h) // sh + 1, (w - span_w) // sw + 1
        s_h, s_w = x.strides[-2:]
        # NOTE: a step that is never taken (one window, a one-tap kernel) stays 0, so a huge
        # stride or dilation cannot overflow the view's byte strides
        steps = (s_h * sh if oh > 1 else 0, s_w * sw if ow > 1 else 0,
                 s_h * dh if kh > 1 else 0, s_w * dw if kw > 1 else 0)
        return np.lib.stride_tricks.as_strided(x, x.shape[:-2] + (oh, ow, kh, kw),
                                               x.strides[:-2] + steps, writeable=False)

    @staticmethod
    def backward(ctx, grad):
        s = ctx.settings
        return FoldWindows.apply(grad, window=s["window"], stride=s["stride"], shape=ctx.in_shape,
                                 dilation=s.get("dilation", (1, 1)))


class FoldWindows(Primitive):
    """The adjoint of SlidingWindow (col2im): adds every window back to where it came from, in an
    array of `shape` (rows and columns no window reaches stay zero)."""

    @staticmethod
    def forward(ctx, cols, *, window, stride, shape, dilation=(1, 1)):
        (kh, kw), (sh, sw), (dh, dw) = window, stride, dilation
        ctx.windows = oh, ow = cols.shape[-4], cols.shape[-3]
        out = xp.zeros(shape, dtype=cols.dtype)
        for i in range(kh):  # NOTE: kh*kw strided adds beat one np.add.at scatter by far
            for j in range(kw):
                out[..., i * dh:i * dh + sh * (oh - 1) + 1:sh,
                    j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[..., i, j]
        return out

    @staticmethod
    def backward(ctx, grad):
        s = ctx.settings
        out = SlidingWindow.apply(grad, window=s["window"], stride=s["stride"],
                                  dilation=s.get("dilation", (1, 1)))
        oh, ow = ctx.windows  # output_padding: the grown shape holds more windows than cols had
        return out if out.shape[-4:-2] == (oh, ow) else out[..., :oh, :ow, :, :]


class Conv2d(Primitive):
    """2-D cross-correlation with one group: x (N, C, H, W), w (O, C, kh, kw), optional bias (O,)
    -> (N, O, oh, ow), zero `padding`, `stride` and `dilation` as pairs. The result is laid out
    channels-last in memory (a (N, oh, ow, O) array seen through a transpose), which is the layout
    the next convolution reads fastest and its gradient arrives in.

    NOTE: a primitive for speed (W6, the PyTorch MNIST network: 1.8x PyTorch's step time as the
    composite SlidingWindow -> copy -> MatMul -> FoldWindows, 1.3x to 1.4x as this primitive, in
    CPU time at one thread; docs/performance.md). Here the im2col rows are output pixels and the
    columns (kh, kw, C) with C fastest, so the copy reads runs of kw * C contiguous values and one
    gemm per chunk gives the output in (N, oh, ow, O) order with no transposing copy. The work goes
    chunk by chunk of images (about `_CONV_CHUNK` bytes of im2col each): the columns are made,
    multiplied and (backward) folded back while they are in cache (1.5x faster than the whole
    batch at once), and never kept for backward, which makes them again. Each chunk's gemm writes
    into its rows of the output; the chunks are dealt out to the threads the BLAS policy gives the
    whole product (`threads.split_map`). Recorded (create_graph), the backward is the composite's:
    SlidingWindow, MatMul, FoldWindows, so gradients of gradients work."""

    @staticmethod
    def forward(ctx, x, w, bias=None, *, stride, padding, dilation):
        ctx.saved_tensors = (x, w)
        n, o, k = x.shape[0], w.shape[0], math.prod(w.shape[1:])  # (sizes, never -1: 0 happens)
        win, _ = _conv_windows(x, w.shape[2:], stride, padding, dilation)
        oh, ow = win.shape[1:3]
        w2 = w.transpose(0, 2, 3, 1).reshape(o, k)  # columns (kh, kw, C), as the windows
        if bias is not None:  # NOTE: the bias as one more column, against a column of ones
            w2 = xp.concatenate([w2, bias.reshape(o, 1).astype(w2.dtype)], axis=1)
        out = xp.empty((n, oh, ow, o), dtype=np.result_type(x, w))

        def run(chunks):
            for c in chunks:
                cols = _im2col(win[c], ones=bias is not None)
                xp.matmul(cols, w2.T, out=out[c].reshape(cols.shape[0], o))

        _split_map(run, win, w2.size)
        return out.transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        s = ctx.settings
        needs = ctx.needs_input_grad
        if not isinstance(grad, np.ndarray):
            return _conv2d_grads_recorded(grad, x, w, needs, s["stride"], s["padding"],
                                          s["dilation"])
        nx, nw, nb = needs[0], needs[1], len(needs) == 3 and needs[2]
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = w.shape[2:], s["stride"], s["dilation"], s["padding"]
        o = w.shape[0]
        win, padded = _conv_windows(x, (kh, kw), s["stride"], s["padding"], s["dilation"])
        n, oh, ow = win.shape[:3]
        rows, dtype = oh * ow, grad.dtype
        g2 = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * rows, o)  # channels-last: free
        gxh = xp.zeros(padded, dtype=dtype) if nx else None
        # NOTE: the input's gradient tap by tap, (kh*kw, O, C) matrices in one batched matmul: each
        # tap's (pixels, C) block is then contiguous and col2im adds whole image rows (ow * C
        # values at a time). One (pixels, kh*kw*C) product leaves C-long runs to add: 2x slower
        # adds for a 25% cheaper product (W6's conv2 backward: 2-4% slower in all).
        c_in, k = w.shape[1], math.prod(w.shape[1:])
        taps = w.transpose(2, 3, 0, 1).reshape(kh * kw, o, c_in) if nx else None
        # NOTE: at stride 1 each tap's block lands on a contiguous run of the padded input's
        # gradient if the gradient g is laid out with the padded rows' width wp (zeros in the
        # wp - ow extra columns): tap (i, j)'s product row (r, c) goes to flat position
        # r * wp + c + (i * dh * wp + j * dw), and the rows that wrap into the next input row are
        # the zero columns. col2im is then kh*kw adds of one long run per image: W6's conv2
        # backward's input gradient alone 23.0 -> 20.1 ms at one thread (adds 8 -> 5 ms; 8% more
        # product rows cost nothing measurable), the whole backward 36.4 -> 35.8 ms at one thread
        # (the weight's gradient, interleaved, gets less of the cache) and 21.8 -> 20.4 ms at two
        # (idle machine). Only with finite weights: 0 * inf would put NaN where the wrap lands.
        hp, wp = padded[1:3]
        flat = nx and (sh, sw) == (1, 1) and bool(np.isfinite(taps).all())

        def run(chunks):  # -> this worker's share of the weight's and the bias's gradients
            gw2 = xp.zeros((o, k + nb), dtype=dtype) if nw else None
            gb = xp.zeros(o, dtype=dtype) if nb and not nw else None
            for c in chunks:
                g = g2[c.start * rows:c.stop * rows]
                if nw:  # (with the bias's gradient as the last column: the sum of g's rows)
                    gw2 += g.T @ _im2col(win[c], ones=nb)
                elif nb:
                    gb += xp.ones(g.shape[0], dtype=dtype) @ g
                if flat:
                    images = c.stop - c.start
                    gpad = _threads.scratch("conv_gpad", images * oh * wp * o, dtype)
                    gpad = gpad.reshape(images, oh, wp, o)
                    gpad[:, :, ow:] = 0
                    gpad[:, :, :ow] = g.reshape(images, oh, ow, o)
                    wide_rows = images * oh * wp
                    dbuf = _threads.scratch("col2im", kh * kw * wide_rows * c_in, dtype)
                    dcols = xp.matmul(gpad.reshape(wide_rows, o), taps,
                                      out=dbuf.reshape(kh * kw, wide_rows, c_in))
                    dcols = dcols.reshape(kh * kw, images, oh * wp * c_in)
                    part = gxh[c].reshape(images, hp * wp * c_in)
                    for i in range(kh):  # col2im: kh*kw adds of one run per image
                        for j in range(kw):
                            at = (i * dh * wp + j * dw) * c_in
                            end = min(at + oh * wp * c_in, part.shape[1])
                            part[:, at:end] += dcols[i * kw + j, :, :end - at]
                elif nx:
                    dbuf = _threads.scratch("col2im", kh * kw * g.shape[0] * c_in, dtype)
                    dcols = xp.matmul(g, taps, out=dbuf.reshape(kh * kw, g.shape[0], c_in))
                    dcols = dcols.reshape(kh, kw, c.stop - c.start, oh, ow, c_in)
                    part = gxh[c]
                    for i in range(kh):  # col2im: kh*kw strided adds of whole (oh, ow, C) blocks
                        for j in range(kw):
                            part[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                 j * dw:j * dw + sw * (ow - 1) + 1:sw] += dcols[i, j]
            return gw2, gb

        shares = _split_map(run, win, w.size * (nx + nw))
        gx = gw = gb = None
        if nx:
            h, wd = x.shape[2:]
            gx = gxh[:, ph:ph + h, pw:pw + wd].transpose(0, 3, 1, 2)
        for share in shares[1:]:  # the workers' shares (one worker: nothing to add)
            shares[0] = tuple(a + b if a is not None else None for a, b in zip(shares[0], share))
        if nw:
            gw2 = shares[0][0]
            gw = gw2[:, :k].reshape(o, kh, kw, c_in).transpose(0, 3, 1, 2)
        if nb:
            gb = gw2[:, -1] if nw else shares[0][1]
        return (gx, gw) if len(needs) == 2 else (gx, gw, gb)


# NOTE: not 2 MiB: alone, W6's conv2 backward took 2-6% less time with it (3 images a chunk
# instead of 1), but in the training step it made 3564 page faults a step (8 ms of system time;
# every op's fresh arrays slower) against 120, and the step 101 ms CPU against 89
_CONV_CHUNK = 1 << 20  # bytes of im2col columns per chunk of images (see Conv2d)


def _conv_windows(x, kernel, stride, padding, dilation):
    """x (N, C, H, W) padded with zeros and seen as windows (N, oh, ow, kh, kw, C): a strided
    view of the input's channels-last transpose (a copy only for padding); and the padded
    shape (N, H + 2 ph, W + 2 pw, C), where the gradient is folded back."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    if ph or pw:
        xh = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
        xh[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
    else:
        xh = x.transpose(0, 2, 3, 1)
    hp, wp = xh.shape[1:3]
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    s_n, s_h, s_w, s_c = xh.strides
    # NOTE: a step never taken stays 0 (as in SlidingWindow: no overflow from a huge stride)
    steps = (s_h * sh if oh > 1 else 0, s_w * sw if ow > 1 else 0,
             s_h * dh if kh > 1 else 0, s_w * dw if kw > 1 else 0)
    win = np.lib.stride_tricks.as_strided(xh, (n, oh, ow, kh, kw, c), (s_n, *steps, s_c),
                                          writeable=False)
    return win, xh.shape


def _split_map(run, win, weights):
    """`run` over the chunks of images of `win` (slices of whole images, each with about
    _CONV_CHUNK bytes of im2col columns), the chunks dealt out in contiguous runs to as many
    threads as the BLAS policy gives the whole product (`weights` multiply-adds per window);
    returns each run's result."""
    n = win.shape[0]
    per_image = math.prod(win.shape[1:]) * win.itemsize
    step = max(1, min(n, _CONV_CHUNK // max(per_image, 1)))
    count = max(1, min(n, _threads.split_count(math.prod(win.shape[:3]) * weights)))
    if count > 1:  # as many chunks for each thread (W6's conv1: 43 and 21 images otherwise)
        chunks = math.ceil(math.ceil(n / step) / count) * count
        step = math.ceil(n / chunks)
    chunks = [slice(i, min(n, i + step)) for i in range(0, n, step)]
    count = min(len(chunks), count)
    bounds = [len(chunks) * k // count for k in range(count + 1)]
    parts = [chunks[a:b] for a, b in zip(bounds, bounds[1:])]
    return _threads.split_map(run, parts, count)


def _im2col(win, ones=False):
    """The windows of a chunk copied into rows (pixels) by columns (kh, kw, C), and with `ones` a
    last column of ones (the bias's), in this thread's scratch array (kept between calls:
    `threads.scratch`); returns the (rows, columns) array."""
    rows, k = math.prod(win.shape[:3]), math.prod(win.shape[3:])
    cols = _threads.scratch("im2col", rows * (k + ones), win.dtype).reshape(rows, k + ones)
    if ones:
        cols[:, k] = 1
    xp.copyto(cols[:, :k].reshape(win.shape, copy=False), win)  # (a view: never a copy)
    return cols


def _conv2d_grads_recorded(grad, x, w, needs, stride, padding, dilation):
    """Conv2d's gradients as the composite's ops (recorded, so differentiable again): the windows
    of the padded input times the gradient for w, the gradient times w folded back for x."""
    (ph, pw), (o, c, kh, kw) = padding, w.shape
    n, _, h, wd = x.shape
    xpad = Pad.apply(x, pad_width=((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    g2 = Permute.apply(grad, axes=(0, 2, 3, 1))
    oh, ow = g2.shape[1:3]
    g2 = g2.reshape(n * oh * ow, o)
    gx = gw = None
    if needs[0]:
        cols = MatMul.apply(g2, w.reshape(o, c * kh * kw)).reshape(n, oh, ow, c, kh, kw)
        cols = Permute.apply(cols, axes=(0, 3, 1, 2, 4, 5))
        gx = FoldWindows.apply(cols, window=(kh, kw), stride=stride, shape=xpad.shape,
                               dilation=dilation)
        if ph or pw:
            gx = GetItem.apply(gx, index=(slice(None), slice(None), slice(ph, ph + h),
                                          slice(pw, pw + wd)))
    if needs[1]:
        win = SlidingWindow.apply(xpad, window=(kh, kw), stride=stride, dilation=dilation)
        cols = Permute.apply(win, axes=(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * kh * kw)
        gw = MatMul.apply(g2, cols, transpose_a=True).reshape(w.shape)
    if len(needs) == 2:
        return gx, gw
    return gx, gw, (grad.sum(axis=(0, 2, 3)) if needs[2] else None)


# ---------------------------------------------------------------------- more unary (issue 10) ----
class _Unary(Primitive):
    """An elementwise function with a numpy `fn` and its derivative written in ops (`derivative`
    gets the input, an array or a Tensor); the subclasses below are one line each."""

    fn = None

    @classmethod
    def forward(cls, ctx, x):
        ctx.saved_tensors = (x,)
        return cls.fn(x)

    @classmethod
    def backward(cls, ctx, grad):
        x, = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _chain(grad, cls.derivative(x))


class Arcsin(_Unary):
    # NOTE: a primitive: no composite of the other primitives computes arcsin
    fn = staticmethod(xp.arcsin)
    derivative = staticmethod(lambda x: 1.0 / Pow.apply(1.0 - x * x, 0.5))


class Arccos(_Unary):
    # NOTE: a primitive: pi/2 - arcsin(x) loses the relative precision of small results near 1
    fn = staticmethod(xp.arccos)
    derivative = staticmethod(lambda x: -1.0 / Pow.apply(1.0 - x * x, 0.5))


class Arctan(_Unary):
    # NOTE: a primitive: no composite of the other primitives computes arctan
    fn = staticmethod(xp.arctan)
    derivative = staticmethod(lambda x: 1.0 / (1.0 + x * x))


class Sinh(_Unary):
    # NOTE: a primitive for accuracy: (exp(x) - exp(-x)) / 2 cancels to 0 for small float32 x
    fn = staticmethod(xp.sinh)
    derivative = staticmethod(lambda x: (Exp.apply(x) + Exp.apply(-x)) * 0.5)


class Log1p(_Unary):
    # NOTE: a primitive for accuracy: log(1 + x) is 0 for |x| below float eps
    fn = staticmethod(xp.log1p)
    derivative = staticmethod(lambda x: 1.0 / (1.0 + x))


class Expm1(_Unary):
    # NOTE: a primitive for accuracy: exp(x) - 1 cancels for small x
    fn = staticmethod(xp.expm1)
    derivative = staticmethod(lambda x: Exp.apply(x))


class Log2(_Unary):
    # NOTE: a primitive for exactness: log(x) / log(2) misses exact powers of two (log2(8) came
    # out 2.9999998 in float32 for 46 of 267 powers), and floor(log2(n)) is a common use
    fn = staticmethod(xp.log2)
    derivative = staticmethod(lambda x: 1.0 / (x * math.log(2.0)))


class Log10(_Unary):
    # NOTE: a primitive for exactness, as Log2 (log(1000) / log(10) is not 3)
    fn = staticmethod(xp.log10)
    derivative = staticmethod(lambda x: 1.0 / (x * math.log(10.0)))


def _erf(x):
    """erf elementwise: scipy.special's (fast) when scipy is installed, else the standard
    library's math.erf per element (exact, slower); dtype kept for floats."""
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - exercised by a test that hides scipy
        erf = None
    out_dtype = x.dtype if x.dtype.kind == "f" else np.float64
    if erf is not None:
        return erf(x).astype(out_dtype, copy=False)
    # (np.asarray: on a 0-d input frompyfunc returns a Python float, not an array)
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x)).astype(out_dtype)


class Erf(_Unary):
    # NOTE: a primitive: no composite computes erf (gelu's exact form needs it)
    fn = staticmethod(_erf)
    derivative = staticmethod(lambda x: Exp.apply(-(x * x)) * (2.0 / math.sqrt(math.pi)))


class Remainder(Primitive):
    """numpy's x % y (the result has the sign of y). A primitive because x - floor(x / y) * y is
    not exactly numpy's value; d/dx = 1, d/dy = -floor(x / y) (PyTorch's convention)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.saved_tensors = (x, y)
        return xp.remainder(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        gy = None
        if ny:
            gy = grad * -xp.floor_divide(_data(x), _data(y)).astype(_data(grad).dtype)
        return (grad if nx else None), gy


# ------------------------------------------------------------------------------------- scans ----
def _reverse(x, axis):
    """x reversed along `axis` (basic indexing: works on arrays and Tensors, a view on arrays)."""
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


class Cumsum(Primitive):
    # NOTE: a primitive for speed: as a composite it would be a triangular matmul (n^2 work)
    @staticmethod
    def forward(ctx, x, *, axis):
        return xp.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.settings["axis"]
        return _reverse(Cumsum.apply(_reverse(grad, axis), axis=axis), axis)


class Cumprod(Primitive):
    """Running products along `axis` (a non-negative int). The gradient is exact with zeros in
    the input, and differentiable again (see _cumprod_grad)."""

    @staticmethod
    def forward(ctx, x, *, axis):
        out = xp.cumprod(x, axis=axis)
        ctx.saved_tensors = (x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return _cumprod_grad(x, out, grad, ctx.settings["axis"])


def _cumprod_grad(x, y, g, axis):
    """d/dx_k of sum_i g_i y_i with y = cumprod(x) along `axis`:
    sum_{i >= k} g_i prod_{j <= i, j != k} x_j, written with ops so it differentiates again.

    With no zero in a slice this is revcumsum(g * y)_k / x_k. With a first zero at z: for k < z the
    same formula; for k = z, revcumsum(g * cumprod(x'))_z where x' is x with x_z set to 1; for
    k > z every term holds the factor x_z, so it is x_z times the gradient at x' (one zero fewer:
    the recursion ends after as many levels as a slice has zeros).
    """
    def revcumsum(v):
        return _reverse(Cumsum.apply(_reverse(v, axis), axis=axis), axis)

    xd = _data(x)
    zero = xd == 0
    if not zero.any():
        return revcumsum(g * y) / x
    seen = xp.cumsum(zero, axis=axis)
    before, first = seen == 0, zero & (seen == 1)
    dtype = xd.dtype
    one = np.ones((), dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_before = revcumsum(g * y) / Where.apply(before, x, one)
    x1 = Where.apply(first, one, x)
    y1 = Cumprod.apply(x1, axis=axis)
    g_first = revcumsum(g * y1)
    x_z = Where.apply(first, x, np.zeros((), dtype=dtype)).sum(axis=axis, keepdims=True)
    g_after = x_z * _cumprod_grad(x1, y1, g, axis)
    return Where.apply(before, g_before, Where.apply(first, g_first, g_after))


# ------------------------------------------------------------------------------------ einsum ----
class Einsum(Primitive):
    """numpy's einsum on explicit subscripts with no ellipsis, no broadcasting and no letter
    repeated within one operand whose gradient is needed (Tensor.einsum rewrites any subscripts
    numpy accepts into this form). The gradient of operand i is an einsum of the output gradient
    with the other operands; letters summed in operand i alone come back by broadcasting."""

    # NOTE: a primitive for speed: numpy's einsum (with optimize) contracts in one call what a
    # composite of transposes, reshapes and matmuls would spell out by hand for each subscript
    @staticmethod
    def forward(ctx, *operands, subscripts):
        ctx.shapes = [np.shape(o) for o in operands]
        ctx.saved_tensors = operands
        return xp.asarray(xp.einsum(subscripts, *operands, optimize=len(operands) > 2))

    @staticmethod
    def backward(ctx, grad):
        inputs, out = ctx.settings["subscripts"].split("->")
        terms = inputs.split(",")
        operands = ctx.saved_tensors
        grads = []
        for i, needs in enumerate(ctx.needs_input_grad):
            if not needs:
                grads.append(None)
                continue
            target, shape = terms[i], ctx.shapes[i]
            others = [t for j, t in enumerate(terms) if j != i]
            available = set(out).union(*others)
            kept = "".join(c for c in target if c in available)
            g = Einsum.apply(grad, *[o for j, o in enumerate(operands) if j != i],
                             subscripts=",".join([out, *others]) + "->" + kept)
            if kept != target:  # letters summed in this operand alone: broadcast back
                sizes = dict(zip(target, shape))
                g = g.reshape(tuple(sizes[c] if c in kept else 1 for c in target))
                g = Expand.apply(g, shape=tuple(shape))
            grads.append(g)
        return tuple(grads)


# Every primitive, for the coverage test and the docs.
PRIMITIVES = (
    Cast, Neg, Exp, Log, Sin, Cos, Sigmoid, Tanh, Softplus, LogSoftmax, Relu,
    Add, Sub, Mul, Div, Pow, Maximum, Minimum, Where,
    Sum, Max, Min,
    Reshape, Permute, Expand, GetItem, ScatterAdd, SetItem, Pad, Concatenate,
    MatMul, SlidingWindow, FoldWindows, Conv2d,
    Arcsin, Arccos, Arctan, Sinh, Log1p, Expm1, Log2, Log10, Erf, Remainder,
    Cumsum, Cumprod, Einsum,
)

