"""Tensor: an ndarray plus its place in the computation graph.

The file has four parts: construction, one-line bindings of the primitives in ops.py, composite ops
(built only from other Tensor operations, never with gradient code), and autograd entry points.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence

import numpy as np

from . import rng
from .argcheck import check_int, check_real_dtype, int_pair, normalize_axis
from .autograd import STATE, Node, mark_modified, no_grad, run_backward
from .ops import (
    Add,
    Arccos,
    Arcsin,
    Arctan,
    Cast,
    Concatenate,
    Conv2d,
    Cos,
    Cumprod,
    Cumsum,
    Div,
    Einsum,
    Erf,
    Exp,
    Expand,
    Expm1,
    FoldWindows,
    GetItem,
    Log,
    Log1p,
    Log2,
    Log10,
    LogSoftmax,
    MatMul,
    Max,
    Maximum,
    Min,
    Minimum,
    Mul,
    Neg,
    Pad,
    Permute,
    Pow,
    Relu,
    Remainder,
    Reshape,
    ScatterAdd,
    SetItem,
    Sigmoid,
    Sin,
    Sinh,
    SlidingWindow,
    Softplus,
    Sub,
    Sum,
    Tanh,
    Where,
    _keepdims_shape,
    _normalize_axes,
)

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_


def _as_dtype(dtype):
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; use a numpy dtype or a name like 'float32'") from None
    check_real_dtype(dtype, "dtype")
    return dtype


def _to_array(data, dtype):
    """The ndarray a Tensor holds for `data` (Python floats become float32, like PyTorch)."""
    if isinstance(data, Tensor):
        data = data.data
        return data.astype(dtype) if dtype is not None else data.copy()
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # NOTE: floats from Python default to float32, as in PyTorch
    if arr.dtype == object:
        raise TypeError(f"cannot make a Tensor from {type(data).__name__} data: {data!r:.80}")
    return arr


def _shape_arg(shape, minimum=0):
    """zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) all mean shape (2, 3); each size an int of at
    least `minimum` (-1 where a size may be inferred)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(n if type(n) is int and n >= minimum else check_int(n, "shape", minimum)
                 for n in shape)


def _axis_arg(axis):
    """A reduction's axis: None, an int or a tuple/list of ints (each checked by the op)."""
    if isinstance(axis, (tuple, list)):
        return tuple(check_int(a, "axis") for a in axis)
    return check_int(axis, "axis")


def _index_arg(index):
    """A Tensor index as numpy understands it (tensors and lists become arrays)."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


class _hybridmethod:
    """`Tensor.where(cond, x, y)` on the class and `x.where(cond, y)` on an instance."""

    def __init__(self, on_class, on_instance):
        self.on_class, self.on_instance = on_class, on_instance
        self.__doc__ = on_class.__doc__

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self.on_class
        return self.on_instance.__get__(obj, objtype)


class Tensor(Node):
    """An n-dimensional array that records the operations on it, for reverse-mode autodiff.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ()
    # NOTE: numpy's dispatch protocols: np.exp(t), ndarray * t, np.sum(t), np.concatenate([t, u])
    # run the Tensor operation and stay in the graph (tables and refusals in numpy_api.py).
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .numpy_api import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_api import array_function

        return array_function(func, types, args, kwargs)

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        arr = _to_array(data, _as_dtype(dtype))
        if arr.dtype.kind not in "biuf":
            check_real_dtype(arr.dtype, f"Tensor(data) with {type(data).__name__} data {data!r:.40}")
        if requires_grad and arr.dtype.kind not in "fc":
            raise ValueError(
                f"Only floating-point tensors can require gradients; this one has dtype {arr.dtype}. "
                "Convert it first with .float()."
            )
        if requires_grad and isinstance(data, np.ndarray) and arr is data:
            arr = arr.copy()  # NOTE: optimizers update parameters in place; never mutate the caller's array
        self.data = arr
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._version = 0
        self._retains_grad = False

    def _from_op(self, data, ctx):
        t = Tensor.__new__(Tensor)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t._grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t._version = 0
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------------------ creation ----
    @staticmethod
    def zeros(*shape, dtype=float32, requires_grad=False) -> Tensor:
        """A tensor of zeros: `Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`."""
        return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def ones(*shape, dtype=float32, requires_grad=False) -> Tensor:
        """A tensor of ones."""
        return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
        """A tensor of `shape` filled with `fill_value` (float32 for a Python float)."""
        shape = _shape_arg((shape,) if not isinstance(shape, (tuple, list)) else shape)
        return Tensor(np.full(shape, _to_array(fill_value, _as_dtype(dtype))), requires_grad=requires_grad)

    @staticmethod
    def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
        """Evenly spaced values in [start, stop), numpy's arange (float32 if any bound is a float)."""
        if stop is None:
            start, stop = 0, start
        arr = np.arange(start, stop, step, dtype=_as_dtype(dtype))
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return Tensor(arr, requires_grad=requires_grad)

    @staticmethod
    def eye(n, m=None, dtype=float32, requires_grad=False) -> Tensor:
        """The n x m identity matrix."""
        n, m = check_int(n, "n", 0), None if m is None else check_int(m, "m", 0)
        return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def rand(*shape, generator=None, dtype=float32, requires_grad=False) -> Tensor:
        """Uniform samples from [0, 1)."""
        arr = rng.resolve(generator).random(_shape_arg(shape)).astype(dtype)
        return Tensor(arr, requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, generator=None, dtype=float32, requires_grad=False) -> Tensor:
        """Standard normal samples."""
        arr = rng.resolve(generator).standard_normal(_shape_arg(shape)).astype(dtype)
        return Tensor(arr, requires_grad=requires_grad)

    @staticmethod
    def uniform(*shape, low=0.0, high=1.0, generator=None, dtype=float32, requires_grad=False) -> Tensor:
        """Uniform samples from [low, high)."""
        arr = rng.resolve(generator).uniform(low, high, _shape_arg(shape)).astype(dtype)
        return Tensor(arr, requires_grad=requires_grad)

    @staticmethod
    def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
        """Zeros with the shape (and dtype, unless given) of `t`."""
        return Tensor(np.zeros(np.shape(t), dtype=dtype or _dtype_of(t)), requires_grad=requires_grad)

    @staticmethod
    def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
        """Ones with the shape (and dtype, unless given) of `t`."""
        return Tensor(np.ones(np.shape(t), dtype=dtype or _dtype_of(t)), requires_grad=requires_grad)

    # ---------------------------------------------------------------------------- properties ----
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters, constants)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The recorded op that made this tensor (None for leaves)."""
        return self._ctx

    @property
    def T(self) -> Tensor:  # noqa: N802 (numpy's name)
        """The tensor with its axes reversed (the transpose of a matrix)."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The values as an ndarray: a read-only view (shared, not copied).

        NOTE: read-only because a write through it would change values a recorded graph saved,
        behind autograd's back (see "versions" in autograd.py); `.numpy().copy()` gives a scratch
        copy, and in-place Tensor operations (`t[i] = v`, `t += 1`) change a tensor safely.
        """
        return _read_only(self.data)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The DLPack capsule of `numpy()`'s read-only view (zero-copy), for `torch.from_dlpack`,
        `np.from_dlpack` and any DLPack consumer; the arguments are the array API's."""
        kwargs = {"stream": stream, "dl_device": dl_device, "copy": copy}
        if max_version is not None:  # NOTE: numpy signals read-only memory only to DLPack >= 1.0
            kwargs["max_version"] = max_version
        return _read_only(self.data).__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple:
        """(device type, device id) for DLPack: (1, 0), the CPU."""
        return self.data.__dlpack_device__()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else _read_only(self.data)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors with one element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__  # identity, even though == is elementwise

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extras = []
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------------------- dtypes ----
    def astype(self, dtype) -> Tensor:
        """A copy converted to `dtype` (numpy's astype); gradients flow back in the old dtype."""
        if dtype is None:
            raise TypeError("astype needs a dtype (e.g. np.float32 or 'float64'), got None")
        dtype = _as_dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if dtype.kind not in "fc":  # NOTE: integer and bool results carry no gradient
            return Tensor(self.data.astype(dtype))
        return Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        """Converted to float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Converted to float64."""
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """Converted to int64 (no gradient)."""
        return self.astype(np.int64)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (gradients flow back to self)."""
        return Cast.apply(self, dtype=self.data.dtype)

    # --------------------------------------------------------------------------- arithmetic ----

    def __add__(self, other):
        """self + other (numpy broadcasting and type promotion)."""
        return Add.apply(self, _operand(other))

    def __radd__(self, other):
        """other + self."""
        return Add.apply(_operand(other), self)

    def __mul__(self, other):
        """self * other (elementwise)."""
        return Mul.apply(self, _operand(other))

    def __rmul__(self, other):
        """other * self."""
        return Mul.apply(_operand(other), self)

    def __truediv__(self, other):
        """self / other (true division)."""
        return Div.apply(self, _operand(other))

    def __rtruediv__(self, other):
        """other / self."""
        return Div.apply(_operand(other), self)

    def __pow__(self, other):
        """self ** other."""
        return Pow.apply(self, _operand(other))

    def __rpow__(self, other):
        """other ** self."""
        return Pow.apply(_operand(other), self)

    def __matmul__(self, other):
        """self @ other (numpy's matmul)."""
        return MatMul.apply(self, _operand(other))

    def __rmatmul__(self, other):
        """other @ self."""
        return MatMul.apply(_operand(other), self)

    def __neg__(self): return Neg.apply(self)
    def __pos__(self): return self
    def __abs__(self): return self.abs()

    def __sub__(self, other):
        """self - other."""
        return Sub.apply(self, _operand(other))

    def __rsub__(self, other):
        """other - self."""
        return Sub.apply(_operand(other), self)

    # comparisons: no gradient, bool results
    def __lt__(self, other): return Tensor(self.data < _array(other))
    def __le__(self, other): return Tensor(self.data <= _array(other))
    def __gt__(self, other): return Tensor(self.data > _array(other))
    def __ge__(self, other): return Tensor(self.data >= _array(other))
    # NOTE: == and != take anything, as in numpy (`x == None` is all False; `x in [None]` works)
    def __eq__(self, other): return Tensor(self.data == _raw(other))  # type: ignore[override]
    def __ne__(self, other): return Tensor(self.data != _raw(other))  # type: ignore[override]
    def __invert__(self): return Tensor(~_logical(self, "~"))
    def __and__(self, other): return Tensor(_logical(self, "&") & _logical(other, "&"))
    def __or__(self, other): return Tensor(_logical(self, "|") | _logical(other, "|"))

    def _np_axes(self, axis):
        """`axis` for a numpy reduction: checked, normalized (a 0-d tensor takes 0 and -1)."""
        if axis is None or self.ndim == 0 and _axis_arg(axis) in (0, -1, (0,), (-1,), ()):
            return None
        axes = _axis_arg(axis)
        return tuple(normalize_axis(a, self.ndim) for a in axes) if isinstance(axes, tuple) else (
            normalize_axis(axes, self.ndim))

    def any(self, axis=None, keepdims=False) -> Tensor:
        """True where any element along `axis` is true (no gradient)."""
        return Tensor(np.any(self.data, axis=self._np_axes(axis), keepdims=keepdims))

    def all(self, axis=None, keepdims=False) -> Tensor:
        """True where all elements along `axis` are true (no gradient)."""
        return Tensor(np.all(self.data, axis=self._np_axes(axis), keepdims=keepdims))

    # ------------------------------------------------------------------ unary (primitives) ----
    def exp(self) -> Tensor:
        """Elementwise e**x.

        >>> Tensor([0.0, 1.0]).exp()
        tensor([1.      , 2.718282])
        """
        return Exp.apply(self)

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        return Log.apply(self)

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        x = self if self.data.dtype.kind == "f" else self.astype(np.promote_types(self.dtype, np.float16))
        return x ** 0.5  # numpy computes x ** 0.5 with sqrt; integers get np.sqrt's float type

    def sin(self) -> Tensor:
        """Elementwise sine."""
        return Sin.apply(self)

    def cos(self) -> Tensor:
        """Elementwise cosine."""
        return Cos.apply(self)

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent."""
        return Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """Elementwise 1 / (1 + exp(-x)), stable for any x.

        >>> Tensor([-1000.0, 0.0, 1000.0]).sigmoid()
        tensor([0. , 0.5, 1. ])
        """
        return Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """Elementwise max(x, 0).

        >>> Tensor([-1.0, 2.0]).relu()
        tensor([0., 2.])
        """
        return Relu.apply(self)

    # ---------------------------------------------------------------------- unary composites ----
    def abs(self) -> Tensor:
        """Elementwise |x| (gradient 0 at 0, like PyTorch)."""
        return self.relu() + (-self).relu()

    def square(self) -> Tensor:
        """Elementwise x**2."""
        return self * self

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x where x > 0, negative_slope * x elsewhere (gradient negative_slope at 0, as PyTorch).

        >>> Tensor([-2.0, 3.0]).leaky_relu(0.1)
        tensor([-0.2,  3. ])
        """
        return Where.apply(self.data > 0, self, self * negative_slope)

    def softplus(self, beta: float = 1.0) -> Tensor:
        """log(1 + exp(beta * x)) / beta, computed stably (no overflow for large x).

        >>> Tensor([0.0, 100.0]).softplus()
        tensor([  0.6931472, 100.       ])
        """
        if beta == 1.0:
            return Softplus.apply(self)
        return Softplus.apply(self * beta) / beta

    def clip(self, min=None, max=None) -> Tensor:  # noqa: A002 (numpy's names)
        """Values limited to [min, max]; the gradient is 1 inside (bounds included), 0 outside."""
        if min is None and max is None:
            raise ValueError("clip needs at least one of min and max")
        lo = -np.inf if min is None else _array(min)
        hi = np.inf if max is None else _array(max)
        inside = (self.data >= lo) & (self.data <= hi)
        clipped = np.clip(self.data, lo, hi).astype(self.data.dtype, copy=False)
        return self.where(inside, clipped)

    def maximum(self, other) -> Tensor:
        """Elementwise maximum (ties share the gradient equally)."""
        return Maximum.apply(self, _operand(other))

    def minimum(self, other) -> Tensor:
        """Elementwise minimum (ties share the gradient equally)."""
        return Minimum.apply(self, _operand(other))

    def _where(cond, x, y) -> Tensor:  # noqa: N805
        """where(cond, x, y): x where cond is true, else y (numpy's where)."""
        cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
        if cond.dtype != np.bool_:
            cond = cond.astype(bool)
        if not isinstance(x, Tensor) and not isinstance(y, Tensor):
            return Tensor(np.where(cond, x, y))
        return Where.apply(cond, _operand(x), _operand(y))

    def _where_method(self, cond, other) -> Tensor:
        """x.where(cond, y) is where(cond, x, y) (PyTorch's method form): the condition comes
        first and must be boolean.

        >>> Tensor([1.0, 2.0]).where(Tensor([True, False]), 0.0)
        tensor([1., 0.])
        """
        dtype = cond.data.dtype if isinstance(cond, Tensor) else np.asarray(cond).dtype
        if dtype != np.bool_:
            raise TypeError(
                f"x.where(condition, y) takes a boolean condition first (PyTorch's order), got one "
                f"of dtype {dtype}. For tinygrad's spelling cond.where(x, y) write "
                "tg.where(cond, x, y); to use non-boolean values as a condition, compare them "
                "(e.g. mask != 0)."
            )
        return Tensor._where(cond, self, other)

    _where.__name__ = _where.__qualname__ = "where"  # (help() shows `where`, not `_where`)
    where = _hybridmethod(_where, _where_method)

    # -------------------------------------------------------------------------- reductions ----
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
        """Sum over `axis` (int, tuple or None for all); PyTorch's `dim=`/`keepdim=` work too.

        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
        tensor([4., 6.])
        """
        if dim is not None or keepdim is not None:
            axis, keepdims = _torch_axis("sum", axis, keepdims, dim, keepdim)
        if axis is not None:
            axis = _axis_arg(axis)
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
        """Mean over `axis`; PyTorch's `dim=`/`keepdim=` work too."""
        if dim is not None or keepdim is not None:
            axis, keepdims = _torch_axis("mean", axis, keepdims, dim, keepdim)
        out = self.sum(axis=axis, keepdims=keepdims)
        n = self.data.size // max(out.data.size, 1) if self.data.size else 0
        return out / n if n != 1 else out

    def var(self, axis=None, ddof=0, keepdims=False) -> Tensor:
        """Variance over `axis` with numpy's `ddof` (0: divide by N)."""
        centered = self - self.mean(axis=axis, keepdims=True)
        sq = (centered * centered).sum(axis=axis, keepdims=keepdims)
        n = self.data.size // max(sq.data.size, 1)
        return sq / max(n - ddof, 0)  # N <= ddof: inf or NaN, as numpy and PyTorch give

    def std(self, axis=None, ddof=0, keepdims=False) -> Tensor:
        """Standard deviation over `axis` with numpy's `ddof`."""
        return self.var(axis=axis, ddof=ddof, keepdims=keepdims).sqrt()

    def max(self, axis=None, keepdims=False) -> Tensor:
        """Maximum over `axis`. Ties split the gradient evenly among the maximal elements."""
        if axis is not None:
            axis = _axis_arg(axis)
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False) -> Tensor:
        """Minimum over `axis` (ties split the gradient evenly)."""
        if axis is not None:
            axis = _axis_arg(axis)
        return Min.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False) -> Tensor:
        """Index of the maximum (no gradient)."""
        axis = None if axis is None else normalize_axis(axis, max(self.ndim, 1))
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False) -> Tensor:
        """Index of the minimum (no gradient)."""
        axis = None if axis is None else normalize_axis(axis, max(self.ndim, 1))
        return Tensor(np.argmin(self.data, axis=axis, keepdims=keepdims))

    def logsumexp(self, axis=None, keepdims=False) -> Tensor:
        """log(sum(exp(x))) over `axis`, stable for large |x|.

        >>> Tensor([1000.0, 0.0, -1000.0]).logsumexp()
        tensor(1000.)
        """
        # NOTE: the shift cancels in the gradient; an infinite max (all -inf, or a +inf) is not a
        # usable shift (-inf - -inf is NaN), so there the shift is 0 and the result -inf or +inf
        m = self.max(axis=axis, keepdims=True).detach()
        if not np.isfinite(m.data).all():
            m = Tensor(np.where(np.isfinite(m.data), m.data, 0).astype(m.dtype))
        out = (self - m).exp().sum(axis=axis, keepdims=True).log() + m
        return out if keepdims else out.squeeze(axis if axis is not None else None)

    def softmax(self, axis=-1) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis`, stable for large |x|.

        >>> Tensor([1000.0, 0.0, -1000.0]).softmax()
        tensor([1., 0., 0.])
        """
        e = (self - self.max(axis=axis, keepdims=True).detach()).exp()
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(self, axis=-1) -> Tensor:
        """log(softmax(x)) along `axis`, computed without taking the log of a small number.

        >>> Tensor([1000.0, 0.0]).log_softmax()
        tensor([    0., -1000.])
        """
        return LogSoftmax.apply(self, axis=normalize_axis(axis, max(self.ndim, 1)))  # 0-d: as PyTorch

    # ---------------------------------------------------------------------------- movement ----
    def reshape(self, *shape) -> Tensor:
        """The same values in a new shape; one dimension may be -1.

        >>> Tensor.arange(6).reshape(2, 3).shape
        (2, 3)
        """
        shape = _shape_arg(shape, minimum=-1)
        if shape == self.data.shape:
            return self
        return Reshape.apply(self, shape=shape)

    def view(self, *shape) -> Tensor:
        """PyTorch's name for reshape."""
        return self.reshape(*shape)

    def transpose(self, *axes) -> Tensor:
        """Axes permuted (numpy's transpose: no axes reverses them)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        axes = tuple(normalize_axis(a, self.ndim, "axes: axis") for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of range({self.ndim}) (a tensor "
                             f"with shape {self.shape})")
        if axes == tuple(range(self.ndim)):
            return self
        return Permute.apply(self, axes=axes)

    def permute(self, *axes) -> Tensor:
        """PyTorch's name for transpose with an explicit permutation."""
        return self.transpose(*axes)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Two axes exchanged."""
        axis1, axis2 = normalize_axis(axis1, self.ndim, "axis1"), normalize_axis(axis2, self.ndim, "axis2")
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dimensions start_dim..end_dim merged into one (all of them by default, like numpy)."""
        start = normalize_axis(start_dim, max(self.ndim, 1), "start_dim")  # 0-d: 0 and -1, as PyTorch
        end = normalize_axis(end_dim, max(self.ndim, 1), "end_dim")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                             f"tensor with {self.ndim} dimension(s)")
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def squeeze(self, axis=None) -> Tensor:
        """Size-1 dimensions removed (only `axis` if given)."""
        if axis is None:
            axes = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
            axes = tuple(normalize_axis(a, max(self.ndim, 1), "axis") for a in axes)  # 0-d: as PyTorch
            if len(set(axes)) != len(axes):
                raise ValueError(f"squeeze: repeated axis in {axis}")
            if self.ndim == 0:
                return self
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(f"cannot squeeze axis {a} of a tensor with shape {self.shape}")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def expand_dims(self, axis) -> Tensor:
        """A size-1 dimension inserted at `axis` (int or tuple), numpy's expand_dims."""
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        axis = tuple(normalize_axis(a, self.ndim + len(axes)) for a in axes)
        return self.reshape(np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """PyTorch's name for expand_dims."""
        return self.expand_dims(axis)

    def broadcast_to(self, shape) -> Tensor:
        """The tensor broadcast to `shape` (numpy's broadcast_to); gradients are summed back."""
        shape = _shape_arg((shape,) if not isinstance(shape, (tuple, list)) else shape)
        if shape == self.data.shape:
            return self
        return Expand.apply(self, shape=shape)

    def expand(self, *shape) -> Tensor:
        """PyTorch's expand: broadcast to `shape`, where -1 keeps a dimension."""
        shape = _shape_arg(shape, minimum=-1)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return self.broadcast_to(shape)

    def __getitem__(self, index) -> Tensor:
        """numpy indexing: ints, slices, None, Ellipsis, integer arrays and boolean masks. Repeated
        integer indices accumulate their gradients."""
        return GetItem.apply(self, index=_index_arg(index))

    def pad(self, pad_width, mode: str = "constant", constant_values=0.0) -> Tensor:
        """numpy's pad: `pad_width` is one (before, after) pair per axis, or one pair / one int for
        all axes; modes "constant", "edge" (PyTorch's "replicate"), "reflect", "symmetric" and
        "wrap" ("circular"). A negative width crops (as PyTorch's F.pad).

        >>> Tensor([1, 2, 3, 4]).pad((2, -1), mode="reflect")
        tensor([3, 2, 1, 2, 3])
        """
        mode = _PAD_MODES.get(mode, mode)
        if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
            raise ValueError(f"pad: mode must be one of 'constant', 'edge' ('replicate'), 'reflect', "
                             f"'symmetric', 'wrap' ('circular'), got {mode!r}")
        widths = np.asarray(pad_width)
        if widths.dtype.kind not in "iu" or widths.ndim > 2:
            raise TypeError(f"pad_width must be ints: one (before, after) pair per axis, one pair, "
                            f"or one int; got {pad_width!r:.60}")
        try:
            widths = np.broadcast_to(widths, (self.ndim, 2))
        except ValueError:
            raise ValueError(f"pad_width {pad_width!r:.60} does not fit a tensor with {self.ndim} "
                             "dimension(s): give one (before, after) pair per axis") from None
        pad_width = tuple((int(a), int(b)) for a, b in widths)
        x = self
        if any(a < 0 or b < 0 for a, b in pad_width):  # negative widths crop first
            if any(max(-a, 0) + max(-b, 0) > n for (a, b), n in zip(pad_width, self.shape)):
                raise ValueError(f"pad: negative widths {pad_width} crop more than the tensor's "
                                 f"shape {self.shape}")
            x = self[tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(pad_width, self.shape))]
            pad_width = tuple((max(a, 0), max(b, 0)) for a, b in pad_width)
        if mode != "constant":
            for axis, (a, b) in enumerate(pad_width):
                if a or b:  # NOTE: numpy's own pad of the positions gives every mode's exact meaning
                    index = np.pad(np.arange(x.shape[axis]), (a, b), mode=mode)
                    x = x[(slice(None),) * axis + (index,)]
            return x
        if not any(a or b for a, b in pad_width):
            return x
        return Pad.apply(x, pad_width=pad_width, value=constant_values)

    @staticmethod
    def concatenate(tensors: Sequence, axis: int = 0) -> Tensor:
        """Tensors joined along an existing axis (numpy's concatenate)."""
        tensors = _tensor_list(tensors, "concatenate")
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("concatenate: 0-d tensors have no axis to join along; use stack")
        axis = normalize_axis(axis, ndim, "axis")
        for t in tensors[1:]:
            if t.ndim != ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != axis
            ):
                raise ValueError(
                    f"concatenate along axis {axis}: shapes {[x.shape for x in tensors]} differ "
                    "outside that axis"
                )
        return Concatenate.apply(*tensors, axis=axis)

    cat = concatenate

    @staticmethod
    def stack(tensors: Sequence, axis: int = 0) -> Tensor:
        """Tensors of one shape joined along a new axis (numpy's stack)."""
        tensors = _tensor_list(tensors, "stack")
        shapes = {t.shape for t in tensors}
        if len(shapes) > 1:
            raise ValueError(f"stack needs tensors of one shape, got {[t.shape for t in tensors]}")
        axis = normalize_axis(axis, tensors[0].ndim + 1, "axis")
        return Tensor.concatenate([t.expand_dims(axis) for t in tensors], axis=axis)

    def split(self, indices_or_sections, axis: int = 0) -> list:
        """numpy's split: an int N gives N equal parts, a list gives the split points."""
        axis = normalize_axis(axis, self.ndim, "axis")
        n = self.shape[axis]
        if not isinstance(indices_or_sections, (list, tuple, np.ndarray, Tensor)):
            check_int(indices_or_sections, "split: indices_or_sections", minimum=1)
            if n % indices_or_sections:
                raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                                 f"{indices_or_sections} equal parts")
            step = n // indices_or_sections
            bounds = list(range(0, n + 1, step)) if step else [0] * (indices_or_sections + 1)
        else:
            points = [check_int(i, "split: each index in indices_or_sections")
                      for i in np.asarray(indices_or_sections).tolist()]
            # NOTE: the points are slice bounds, as in numpy: negative ones count from the end
            bounds = [0, *[min(max(i + n if i < 0 else i, 0), n) for i in points], n]
        lead = (slice(None),) * axis
        return [self[lead + (slice(a, max(a, b)),)] for a, b in zip(bounds[:-1], bounds[1:])]

    def chunk(self, chunks: int, axis: int = 0) -> list:
        """PyTorch's chunk: parts of ceil(n / chunks) along `axis`, the last one smaller."""
        check_int(chunks, "chunks", minimum=1)
        axis = normalize_axis(axis, self.ndim, "axis")
        n = self.shape[axis]
        size = -(-n // chunks)
        points = list(range(size, n, size)) if n else [0] * (chunks - 1)  # PyTorch: empty chunks
        return self.split(points, axis=axis)

    # ------------------------------------------------------------------------------ linalg ----
    def matmul(self, other) -> Tensor:
        """Matrix product (1-D, 2-D and batched, numpy's matmul)."""
        return MatMul.apply(self, _operand(other))

    def linear(self, weight, bias=None) -> Tensor:
        """self @ weight.T + bias, with weight shaped (out_features, in_features) like PyTorch's
        nn.Linear; one op (no transposed copy of the weight, the bias added in place).

        >>> Tensor.ones(2, 3).linear(Tensor.ones(4, 3), Tensor.zeros(4)).shape
        (2, 4)
        """
        weight = _operand(weight)
        if bias is None:
            return MatMul.apply(self, weight, transpose_b=True)
        bias = _operand(bias)
        return MatMul.apply(self, weight, bias, transpose_b=True)

    def dot(self, other) -> Tensor:
        """numpy's dot for 1-D and 2-D operands (the same as matmul there)."""
        other = _operand(other)
        if self.ndim > 2 or np.ndim(other) > 2:
            raise ValueError("dot supports 1-D and 2-D operands; use matmul for batched products")
        if self.ndim == 0 or np.ndim(other) == 0:
            return self * other
        return self.matmul(other)

    # --------------------------------------------------------------------------- no-grad ops ----
    def one_hot(self, num_classes: int = -1, dtype=float32) -> Tensor:
        """Integer labels as one-hot rows (no gradient). float32 by default so it multiplies float32
        tensors without promoting them to float64 (PyTorch returns int64 here).

        >>> Tensor([0, 2]).one_hot(3)
        tensor([[1., 0., 0.],
                [0., 0., 1.]])
        """
        labels = self.data
        if labels.dtype.kind not in "iu":
            raise TypeError(f"one_hot needs integer labels, got dtype {labels.dtype}")
        if check_int(num_classes, "num_classes", -1) < 0:
            num_classes = int(labels.max()) + 1 if labels.size else 0
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)].flat[0]
            raise IndexError(f"one_hot: class index {bad} is out of range for {num_classes} classes")
        # NOTE: a comparison, not np.eye(n)[labels]: numpy calls on the labels are what tg.jit
        # records, while indexing a plain array with them would be invisible to it
        return Tensor((labels[..., None] == np.arange(num_classes)).astype(dtype))

    def dropout(self, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
        """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
        if not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        if not training or p == 0.0:
            return self
        if p == 1.0:
            return self * np.zeros((), dtype=self.dtype)
        keep = rng.resolve(generator).random(self.shape) >= p
        return self * (keep * (1.0 / (1.0 - p))).astype(self.dtype)

    # ----------------------------------------------------------------------------- conv / pool ----
    def _windows(self, kernel, stride, padding, pad_value, dilation=(1, 1), extra=(0, 0)):
        """(N, C, H, W) -> padded sliding windows (N, C, out_h, out_w, kh, kw); `extra` pads the
        bottom and right further (pooling's ceil_mode)."""
        self._check_window(kernel, padding, dilation)
        (ph, pw), (kh, kw), (dh, dw) = _pair(padding), _pair(kernel), _pair(dilation)
        widths = ((0, 0), (0, 0), (ph, ph + extra[0]), (pw, pw + extra[1]))
        x = self.pad(widths, constant_values=pad_value) if ph or pw or any(extra) else self
        settings = {"dilation": (dh, dw)} if (dh, dw) != (1, 1) else {}
        return SlidingWindow.apply(x, window=(kh, kw), stride=_pair(stride), **settings)

    def _check_window(self, kernel, padding, dilation):
        """Refuse a non-4-D input, or a window that does not fit in the padded plane."""
        if self.ndim != 4:
            raise ValueError(f"expected a 4-D input (N, C, H, W), got shape {self.shape}")
        (ph, pw), (kh, kw), (dh, dw) = _pair(padding), _pair(kernel), _pair(dilation)
        h, w = self.shape[2:]
        if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
            raise ValueError(f"kernel_size {(kh, kw)} (dilation {(dh, dw)}) is larger than the "
                             f"input's {h}x{w} plane (padded by {(ph, pw)}); the output would be empty")

    def _batched(self, name, ndim=4):
        """The input with a batch axis (PyTorch accepts one sample without it), and whether it
        had none."""
        if self.ndim == ndim - 1:
            return self.expand_dims(0), True
        if self.ndim != ndim:
            shape = "(N, C, H, W) or (C, H, W)" if ndim == 4 else "(N, C, L) or (C, L)"
            raise ValueError(f"{name}: expected an input of shape {shape}, got {self.shape}")
        return self, False

    def conv2d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
        """2-D convolution (cross-correlation, as PyTorch): input (N, C, H, W), weight
        (O, C / groups, kh, kw), optional bias (O,) -> (N, O, out_h, out_w). `dilation` spaces the
        kernel's taps; `groups` splits the channels into that many independent convolutions.

        >>> x = Tensor.ones(1, 1, 3, 3)
        >>> x.conv2d(Tensor.ones(1, 1, 2, 2)).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
        >>> Tensor.ones(1, 4, 5, 5).conv2d(Tensor.ones(6, 2, 3, 3), groups=2, dilation=2).shape
        (1, 6, 1, 1)
        """
        x, unbatched = self._batched("conv2d")
        weight = _operand(weight)
        groups = check_int(groups, "conv2d: groups", 1)
        if (weight.ndim != 4 or weight.shape[1] * groups != x.shape[1]
                or weight.shape[0] % groups):
            raise ValueError(
                f"conv2d: input of shape {self.shape} and weight of shape {tuple(weight.shape)} do not "
                f"fit (groups={groups}): weight must be (out_channels, in_channels / groups, kh, kw) "
                "with out_channels divisible by groups")
        out_c, in_g, kh, kw = weight.shape
        stride, padding = int_pair(stride, "stride", 1), int_pair(padding, "padding", 0)
        dilation = int_pair(dilation, "conv2d: dilation", 1)
        if kh < 1 or kw < 1:
            raise ValueError(f"conv2d: the kernel (weight of shape {tuple(weight.shape)}) is empty")
        _check_bias("conv2d", bias, out_c)
        if (groups == 1 and x.dtype == weight.dtype and x.dtype.kind == "f"
                and (bias is None or isinstance(bias, Tensor) and bias.dtype == x.dtype)):
            x._check_window((kh, kw), padding, dilation)
            args = (x, weight) if bias is None else (x, weight, bias)
            out = Conv2d.apply(*args, stride=stride, padding=padding, dilation=dilation)
            return out[0] if unbatched else out
        cols = x._windows((kh, kw), stride, padding, 0.0, dilation)  # (N, C, oh, ow, kh, kw)
        n, _, oh, ow = cols.shape[:4]
        # NOTE: im2col as (N, C*kh*kw, oh*ow), not (N*oh*ow, C*kh*kw): the copy reads whole rows
        # of the input, one matmul per image gives the output in (N, O, ...) order with no final
        # transpose copy, and the backward's col2im adds contiguous planes (2-4x cheaper each).
        if groups == 1:
            cols = cols.transpose(0, 1, 4, 5, 2, 3).reshape(n, in_g * kh * kw, oh * ow)
            w2 = weight.reshape(out_c, in_g * kh * kw)
            # NOTE: the bias is added in place into the fresh product (MatMul's bias operand)
            out = (MatMul.apply(w2, cols, bias.reshape(out_c, 1)) if isinstance(bias, Tensor)
                   else w2 @ cols)  # (N, O, oh*ow)
            if bias is not None and not isinstance(bias, Tensor):
                out = out + np.reshape(bias, (out_c, 1))
        else:
            cols = cols.reshape(n, groups, in_g, oh, ow, kh, kw).transpose(0, 1, 2, 5, 6, 3, 4)
            cols = cols.reshape(n, groups, in_g * kh * kw, oh * ow)
            out = weight.reshape(groups, out_c // groups, in_g * kh * kw) @ cols  # (N, G, O/G, L)
            out = out.reshape(n, out_c, oh * ow)
            if bias is not None:
                out = out + bias.reshape(out_c, 1)
        out = out.reshape(n, out_c, oh, ow)
        return out[0] if unbatched else out

    def conv1d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
        """1-D convolution (cross-correlation, as PyTorch): input (N, C, L), weight
        (O, C / groups, k), optional bias (O,) -> (N, O, out_L).

        >>> Tensor([[[1.0, 2.0, 3.0, 4.0]]]).conv1d(Tensor([[[1.0, -1.0]]])).tolist()
        [[[-1.0, -1.0, -1.0]]]
        """
        x, unbatched = self._batched("conv1d", 3)
        weight = _operand(weight)
        if weight.ndim != 3:
            raise ValueError(f"conv1d: weight must be (out_channels, in_channels / groups, k), got "
                             f"shape {tuple(weight.shape)}")
        s = check_int(stride, "conv1d: stride", 1)
        p = check_int(padding, "conv1d: padding", 0)
        d = check_int(dilation, "conv1d: dilation", 1)
        n, c, length = x.shape
        out = x.reshape(n, c, 1, length).conv2d(
            weight.reshape(*weight.shape[:2], 1, weight.shape[2]), bias, stride=(1, s),
            padding=(0, p), dilation=(1, d), groups=groups)
        out = out.reshape(n, out.shape[1], out.shape[3])
        return out[0] if unbatched else out

    def conv_transpose2d(self, weight, bias=None, stride=1, padding=0, output_padding=0,
                         groups=1, dilation=1) -> Tensor:
        """Transposed 2-D convolution (the gradient of conv2d with respect to its input, as
        PyTorch's): input (N, C, H, W), weight (C, O / groups, kh, kw) -> (N, O, H_out, W_out) with
        H_out = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.

        >>> Tensor.ones(1, 1, 2, 2).conv_transpose2d(Tensor.ones(1, 1, 2, 2), stride=2).shape
        (1, 1, 4, 4)
        """
        x, unbatched = self._batched("conv_transpose2d")
        weight = _operand(weight)
        groups = check_int(groups, "conv_transpose2d: groups", 1)
        n, in_c, h, w = x.shape
        if weight.ndim != 4 or weight.shape[0] != in_c or in_c % groups:
            raise ValueError(
                f"conv_transpose2d: input of shape {self.shape} and weight of shape "
                f"{tuple(weight.shape)} do not fit (groups={groups}): weight must be (in_channels, "
                "out_channels / groups, kh, kw) with in_channels = the input's C, divisible by groups")
        _, out_g, kh, kw = weight.shape
        if kh < 1 or kw < 1 or out_g < 1:
            raise ValueError(f"conv_transpose2d: the kernel (weight of shape "
                             f"{tuple(weight.shape)}) is empty")
        (sh, sw), (ph, pw) = int_pair(stride, "stride", 1), int_pair(padding, "padding", 0)
        (dh, dw) = int_pair(dilation, "conv_transpose2d: dilation", 1)
        (oph, opw) = int_pair(output_padding, "conv_transpose2d: output_padding", 0)
        if oph >= max(sh, dh) or opw >= max(sw, dw):
            raise ValueError(f"conv_transpose2d: output_padding {(oph, opw)} must be smaller than "
                             f"either stride {(sh, sw)} or dilation {(dh, dw)} in each dimension")
        out_c = out_g * groups
        _check_bias("conv_transpose2d", bias, out_c)
        full_h, full_w = (h - 1) * sh + dh * (kh - 1) + 1 + oph, (w - 1) * sw + dw * (kw - 1) + 1 + opw
        out_h, out_w = full_h - 2 * ph, full_w - 2 * pw
        if out_h < 1 or out_w < 1:
            raise ValueError(f"conv_transpose2d: padding {(ph, pw)} leaves no output "
                             f"(size {(out_h, out_w)}) for an input of shape {self.shape}")
        # NOTE: the adjoint of conv2d's im2col product: one matmul spreads every input pixel into
        # a kh x kw patch, and col2im (FoldWindows) adds the overlapping patches up
        wg = weight.reshape(groups, in_c // groups, out_g * kh * kw)
        cols = wg.swapaxes(-1, -2) @ x.reshape(n, groups, in_c // groups, h * w)
        cols = cols.reshape(n, out_c, kh, kw, h, w).transpose(0, 1, 4, 5, 2, 3)
        settings = {"dilation": (dh, dw)} if (dh, dw) != (1, 1) else {}
        out = FoldWindows.apply(cols, window=(kh, kw), stride=(sh, sw),
                                shape=(n, out_c, full_h, full_w), **settings)
        if ph or pw:
            out = out[:, :, ph:ph + out_h, pw:pw + out_w]
        if bias is not None:
            out = out + bias.reshape(out_c, 1, 1)
        return out[0] if unbatched else out

    def max_pool2d(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                   return_indices=False):
        """2-D max pooling with PyTorch's arguments (stride defaults to kernel_size; padding is
        -inf; ceil_mode keeps a last, partial window). Ties inside a window split the gradient
        evenly. With return_indices, also each maximum's position in its input plane, flattened
        (h * W + w, the first maximum on ties, as PyTorch).

        >>> Tensor.arange(16.0).reshape(1, 1, 4, 4).max_pool2d(3, 2, ceil_mode=True).tolist()
        [[[[10.0, 11.0], [14.0, 15.0]]]]
        """
        kernel, stride, padding, dilation = _pool_args("max_pool2d", kernel_size, stride, padding,
                                                      dilation)
        x, unbatched = self._batched("max_pool2d")
        extra = _ceil_extra(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
        blocks = (x._blocks(kernel, stride, padding)
                  if dilation == (1, 1) and extra == (0, 0) and not return_indices else None)
        if blocks is not None:
            out = blocks.max(axis=(3, 5))
        else:
            # NOTE: padding never wins the max: -inf for floats, the smallest value for integers
            low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            windows = x._windows(kernel, stride, padding, low, dilation, extra)
            out = windows.max(axis=(-2, -1))
        if not return_indices:
            return out[0] if unbatched else out
        indices = Tensor(_window_argmax(windows.data, x.shape[3], stride, padding, dilation))
        return (out[0], indices[0]) if unbatched else (out, indices)

    def avg_pool2d(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None) -> Tensor:
        """2-D average pooling with PyTorch's arguments: padded zeros count in the average unless
        count_include_pad=False; ceil_mode keeps a last, partial window (averaged over what it
        covers of the padded input, as PyTorch); divisor_override replaces the divisor.

        >>> Tensor.arange(9.0).reshape(1, 1, 3, 3).avg_pool2d(2, ceil_mode=True).tolist()
        [[[[2.0, 3.5], [6.5, 8.0]]]]
        """
        kernel, stride, padding, _ = _pool_args("avg_pool2d", kernel_size, stride, padding)
        if divisor_override is not None:
            check_int(divisor_override, "avg_pool2d: divisor_override", 1)
        x, unbatched = self._batched("avg_pool2d")
        extra = _ceil_extra(x.shape[2:], kernel, stride, padding, (1, 1), ceil_mode)
        blocks = x._blocks(kernel, stride, padding) if extra == (0, 0) else None
        if blocks is not None and divisor_override is None:
            out = blocks.mean(axis=(3, 5))
        else:
            windows = x._windows(kernel, stride, padding, 0.0, (1, 1), extra)
            if divisor_override is not None:
                out = windows.sum(axis=(-2, -1)) / divisor_override
            elif extra == (0, 0) and (count_include_pad or padding == (0, 0)):
                out = windows.mean(axis=(-2, -1))
            else:  # windows cover different numbers of counted elements: divide each by its own
                h, w = x.shape[2:]
                (ph, pw), (sh, sw) = padding, stride
                area = np.zeros((h + 2 * ph + extra[0], w + 2 * pw + extra[1]))
                if count_include_pad:
                    area[:h + 2 * ph, :w + 2 * pw] = 1.0
                else:
                    area[ph:ph + h, pw:pw + w] = 1.0
                counted = np.lib.stride_tricks.sliding_window_view(area, kernel)[::sh, ::sw]
                counted = counted.sum(axis=(-2, -1))[:windows.shape[2], :windows.shape[3]]
                out = windows.sum(axis=(-2, -1)) / counted.astype(_float_of(x.dtype))
        return out[0] if unbatched else out

    def _blocks(self, kernel, stride, padding):
        """Non-overlapping pooling windows (stride = kernel, no padding) as a reshape (N, C, oh, kh,
        ow, kw): free for a contiguous input, and its backward is a reshape too (no col2im).
        None when the windows overlap or are padded (then `_windows` is used)."""
        (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
        if self.ndim != 4 or (kh, kw) != (sh, sw) or ph or pw or kh < 1 or kw < 1:
            return None
        n, c, h, w = self.shape
        oh, ow = h // kh, w // kw  # PyTorch's floor mode: leftover rows and columns are dropped
        if oh == 0 or ow == 0:
            return None  # let _windows explain
        x = self if (oh * kh, ow * kw) == (h, w) else self[:, :, :oh * kh, :ow * kw]
        return x.reshape(n, c, oh, kh, ow, kw)

    def adaptive_avg_pool2d(self, output_size) -> Tensor:
        """Average pooling to a given output size (PyTorch's bins: output i averages input rows
        floor(i*H/oh) to ceil((i+1)*H/oh)); None in output_size keeps that input size.

        >>> Tensor.arange(9.0).reshape(1, 1, 3, 3).adaptive_avg_pool2d(2).tolist()
        [[[[2.0, 3.0], [5.0, 6.0]]]]
        """
        x, unbatched = self._batched("adaptive_avg_pool2d")
        (h, w), (oh, ow) = x.shape[2:], _output_size("adaptive_avg_pool2d", output_size, x.shape[2:])
        if h % oh == 0 and w % ow == 0:
            out = x.avg_pool2d((h // oh, w // ow))
        else:
            # NOTE: uneven bins as two averaging matrices, rows then columns: (oh, H) @ x @ (W, ow)
            dtype = _float_of(x.dtype)
            rows, cols = _adaptive_bins(h, oh), _adaptive_bins(w, ow)
            out = (Tensor(_bin_matrix(rows, h, dtype)) @ x) @ Tensor(_bin_matrix(cols, w, dtype).T)
        return out[0] if unbatched else out

    def adaptive_max_pool2d(self, output_size, return_indices=False):
        """Max pooling to a given output size (PyTorch's bins, as adaptive_avg_pool2d); with
        return_indices also each maximum's flattened position in its input plane.

        >>> Tensor.arange(9.0).reshape(1, 1, 3, 3).adaptive_max_pool2d(2).tolist()
        [[[[4.0, 5.0], [7.0, 8.0]]]]
        """
        x, unbatched = self._batched("adaptive_max_pool2d")
        (h, w), (oh, ow) = x.shape[2:], _output_size("adaptive_max_pool2d", output_size, x.shape[2:])
        if h % oh == 0 and w % ow == 0:
            out = x.max_pool2d((h // oh, w // ow), return_indices=return_indices)
            return tuple(o[0] for o in out) if unbatched and return_indices else (
                out[0] if unbatched else out)
        rows, cols = _adaptive_bins(h, oh), _adaptive_bins(w, ow)
        # NOTE: the max over a rectangle is the max over its columns of the max over its rows
        out = Tensor.concatenate([x[:, :, a:b].max(axis=2, keepdims=True) for a, b in rows], 2)
        out = Tensor.concatenate([out[:, :, :, a:b].max(axis=3, keepdims=True) for a, b in cols], 3)
        if not return_indices:
            return out[0] if unbatched else out
        indices = np.empty(out.shape, dtype=np.int64)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                block = x.data[:, :, r0:r1, c0:c1].reshape(*x.shape[:2], (r1 - r0) * (c1 - c0))
                k = block.argmax(axis=-1)
                indices[:, :, i, j] = (r0 + k // (c1 - c0)) * w + c0 + k % (c1 - c0)
        indices = Tensor(indices)
        return (out[0], indices[0]) if unbatched else (out, indices)

    def interpolate(self, size=None, scale_factor=None, mode: str = "nearest",
                    align_corners=None) -> Tensor:
        """Resizes (N, C, L) or (N, C, H, W) inputs as PyTorch's F.interpolate: mode "nearest"
        (source index floor(i * in / out)), "linear" (3-D) or "bilinear" (4-D), with or without
        align_corners. Give either size or scale_factor.

        >>> Tensor([[[1.0, 2.0]]]).interpolate(scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
        >>> Tensor([[[1.0, 2.0]]]).interpolate(size=3, mode="linear", align_corners=True).tolist()
        [[[1.0, 1.5, 2.0]]]
        """
        if self.ndim not in (3, 4):
            raise ValueError(f"interpolate: expected an input of shape (N, C, L) or (N, C, H, W), "
                             f"got {self.shape}")
        spatial = self.shape[2:]
        linear = {3: "linear", 4: "bilinear"}[self.ndim]
        if mode not in ("nearest", linear):
            raise ValueError(f"interpolate: mode {mode!r} is not supported for a {self.ndim}-D "
                             f"input (supported: 'nearest', {linear!r})")
        if mode == "nearest" and align_corners is not None:
            raise ValueError("interpolate: align_corners only applies to the linear modes, not "
                             "'nearest'")
        sizes, scales = _interpolate_sizes(size, scale_factor, spatial)
        out = self
        for k, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales)):
            axis = 2 + k
            if mode == "nearest":
                index = _nearest_source(n_in, n_out, scale)
                out = out[(slice(None),) * axis + (index,)]
            else:
                m = Tensor(_linear_matrix(n_in, n_out, scale, bool(align_corners),
                                          _float_of(self.dtype)))
                out = out @ m.T if axis == self.ndim - 1 else m @ out  # (oh, H) @ (..., H, W)
        return out

    # ------------------------------------------------------------------------------ autograd ----
    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Reverse-mode autodiff from this tensor; leaves that require grad accumulate into .grad.

        A non-scalar tensor needs `gradient` (the vector in the vector-Jacobian product).
        """
        if gradient is None and self.requires_grad and self.data.size == 1:
            gradient = _seed(self.data) if not create_graph else self._from_op(
                _one(self.data.dtype).reshape(self.data.shape), None)
        else:
            gradient = self._check_backward_args(gradient)
        run_backward([self], [gradient], retain_graph=retain_graph or create_graph,
                     create_graph=create_graph)

    def _check_backward_args(self, gradient):
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the computation "
                "has requires_grad=True (or it ran under no_grad())."
            )
        if gradient is None:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output, but this tensor has shape "
                f"{self.shape}; pass gradient= (a tensor of that shape), or reduce it first "
                "(e.g. .sum())."
            )
        gradient = _operand(gradient)
        if not isinstance(gradient, Tensor):
            gradient = Tensor(np.asarray(gradient, dtype=self.dtype))
        if gradient.shape != self.shape:
            raise RuntimeError(
                f"backward(gradient=...): the gradient has shape {gradient.shape} but the tensor "
                f"has shape {self.shape}; they must match"
            )
        return gradient

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place on a leaf; returns self."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_(False) is only allowed on leaves; use detach() instead")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise ValueError(
                f"Only floating-point tensors can require gradients; this one has dtype {self.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor during backward (leaves always get one)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    # ------------------------------------------------------------------------------ in-place ----
    def __setitem__(self, index, value):
        """x[index] = value. Recorded as an op when a gradient is involved; refused on a leaf
        that requires grad (as in PyTorch)."""
        index = _index_arg(index)
        self._assign(lambda old: SetItem.apply(old, _operand(value), index=index), value)

    def _inplace(op):  # noqa: N805
        def method(self, other):
            self._assign(lambda old: op(old, _operand(other)), other)
            return self

        method.__name__ = f"__i{op.__name__.strip('_')}__"
        method.__qualname__ = f"Tensor.{method.__name__}"
        method.__doc__ = "In-place form: the result replaces self's data (and its place in the graph)."
        return method

    __iadd__ = _inplace(operator.add)
    __isub__ = _inplace(operator.sub)
    __imul__ = _inplace(operator.mul)
    __itruediv__ = _inplace(operator.truediv)
    __ipow__ = _inplace(operator.pow)

    def _assign(self, compute, value):
        """Replace self's value by compute(old self). Never writes into an existing array (arrays
        shared with other tensors stay intact). Inside a recorded graph the old state is kept as a
        snapshot, so ops that used it still backpropagate through the value they saw; outside
        (no_grad, plain data) ops that used the old value refuse to backward instead."""
        involves_grad = STATE.grad_enabled and (
            self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
        )
        if involves_grad and self.requires_grad and self.is_leaf:
            raise RuntimeError(
                "a leaf tensor that requires grad is being modified in place; wrap the update in "
                "`with no_grad():` (optimizers do) or use an out-of-place operation (x = x + y)"
            )
        old = Tensor.__new__(Tensor)
        old.data, old._grad, old.requires_grad = self.data, None, self.requires_grad
        old._ctx, old._version, old._retains_grad = self._ctx, self._version, False
        if involves_grad:
            out = compute(old)
        else:
            with no_grad():
                out = compute(old)
        if out.data.dtype != self.data.dtype:
            if not np.can_cast(out.data.dtype, self.data.dtype, casting="same_kind"):
                raise TypeError(
                    f"in-place result of dtype {out.data.dtype} cannot be stored in a tensor of dtype "
                    f"{self.data.dtype}"
                )
            out = out.astype(self.data.dtype)
        if out.data.shape != self.data.shape:
            raise ValueError(
                f"in-place result has shape {out.data.shape} but the tensor has shape {self.shape}"
            )
        self.data = out.data
        if involves_grad:
            self._ctx, self.requires_grad = out._ctx, True
            mark_modified(self, snapshot=old)
        else:
            mark_modified(self)


    # ============================================================== issue 10: more ops ====
    # Everything below composes the primitives (no gradient code), except the few new primitives
    # of ops.py's "issue 10" sections, each with a NOTE saying why it is one.

    # ------------------------------------------------------- elementwise: zero gradient ----
    def sign(self) -> Tensor:
        """-1, 0 or 1 by the sign of each element (zero gradient; NaN stays NaN).

        >>> Tensor([-2.0, 0.0, 3.0]).sign()
        tensor([-1.,  0.,  1.])
        """
        return _piecewise(np.sign(self.data), self)

    def floor(self) -> Tensor:
        """Elementwise floor (zero gradient)."""
        return _piecewise(np.floor(self.data), self)

    def ceil(self) -> Tensor:
        """Elementwise ceiling (zero gradient)."""
        return _piecewise(np.ceil(self.data), self)

    def round(self, decimals: int = 0) -> Tensor:
        """Rounded to `decimals` places, halves to even as numpy and PyTorch (zero gradient).

        >>> Tensor([0.5, 1.5, 2.5]).round()
        tensor([0., 2., 2.])
        """
        return _piecewise(np.round(self.data, check_int(decimals, "decimals")), self)

    def trunc(self) -> Tensor:
        """Rounded toward zero (zero gradient)."""
        return _piecewise(np.trunc(self.data), self)

    # -------------------------------------------------------------- elementwise: maths ----
    def tan(self) -> Tensor:
        """Elementwise tangent."""
        return self.sin() / self.cos()

    def arcsin(self) -> Tensor:
        """Elementwise inverse sine (NaN outside [-1, 1], as numpy)."""
        return Arcsin.apply(self)

    def arccos(self) -> Tensor:
        """Elementwise inverse cosine."""
        return Arccos.apply(self)

    def arctan(self) -> Tensor:
        """Elementwise inverse tangent."""
        return Arctan.apply(self)

    asin, acos, atan = arcsin, arccos, arctan  # PyTorch's names

    def sinh(self) -> Tensor:
        """Elementwise hyperbolic sine (accurate for small x)."""
        return Sinh.apply(self)

    def cosh(self) -> Tensor:
        """Elementwise hyperbolic cosine."""
        return (self.exp() + (-self).exp()) * 0.5

    def log2(self) -> Tensor:
        """Elementwise base-2 logarithm (exact at powers of two).

        >>> Tensor([1.0, 8.0]).log2()
        tensor([0., 3.])
        """
        return Log2.apply(self)

    def log10(self) -> Tensor:
        """Elementwise base-10 logarithm."""
        return Log10.apply(self)

    def log1p(self) -> Tensor:
        """log(1 + x), accurate for small x."""
        return Log1p.apply(self)

    def expm1(self) -> Tensor:
        """exp(x) - 1, accurate for small x."""
        return Expm1.apply(self)

    def exp2(self) -> Tensor:
        """Elementwise 2**x."""
        return 2.0 ** self

    def rsqrt(self) -> Tensor:
        """Elementwise 1 / sqrt(x)."""
        return 1.0 / self.sqrt()

    def reciprocal(self) -> Tensor:
        """Elementwise 1 / x."""
        return 1.0 / self

    def erf(self) -> Tensor:
        """The error function, elementwise (scipy.special's when scipy is installed).

        >>> round(Tensor([1.0]).erf().item(), 6)
        0.842701
        """
        return Erf.apply(self)

    def nan_to_num(self, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
        """NaN, +inf and -inf replaced by finite numbers (numpy's defaults: 0 and the dtype's
        largest and smallest values); the replaced elements get a zero gradient.

        >>> Tensor([float("nan"), 1.0]).nan_to_num()
        tensor([0., 1.])
        """
        replaced = np.nan_to_num(self.data, nan=nan, posinf=posinf, neginf=neginf)
        return Tensor._where(np.isfinite(self.data), self, replaced)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:
        """numpy's isclose (no gradient): |self - other| <= atol + rtol * |other|."""
        return Tensor(np.isclose(self.data, _array(other), rtol=rtol, atol=atol,
                                 equal_nan=equal_nan))

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        """numpy's allclose: True if every element is close (a Python bool)."""
        return bool(np.allclose(self.data, _array(other), rtol=rtol, atol=atol,
                                equal_nan=equal_nan))

    # --------------------------------------------- % // and integer bit operators ----
    def __mod__(self, other):
        """numpy's x % y: the result has the sign of y (PyTorch's remainder)."""
        return Remainder.apply(self, _operand(other))

    def __rmod__(self, other):
        return Remainder.apply(_operand(other), self)

    def __floordiv__(self, other):
        """numpy's x // y (floor division; zero gradient)."""
        return _floor_divide(self, _operand(other))

    def __rfloordiv__(self, other):
        return _floor_divide(_operand(other), self)

    def __xor__(self, other): return Tensor(_bitwise(np.bitwise_xor, self, other))
    def __rxor__(self, other): return Tensor(_bitwise(np.bitwise_xor, other, self))
    def __lshift__(self, other): return Tensor(_bitwise(np.left_shift, self, other))
    def __rlshift__(self, other): return Tensor(_bitwise(np.left_shift, other, self))
    def __rshift__(self, other): return Tensor(_bitwise(np.right_shift, self, other))
    def __rrshift__(self, other): return Tensor(_bitwise(np.right_shift, other, self))
    def __rand__(self, other): return Tensor(_bitwise(np.bitwise_and, other, self))
    def __ror__(self, other): return Tensor(_bitwise(np.bitwise_or, other, self))

    # --------------------------------------------------------------------- activations ----
    def gelu(self, approximate: str = "none") -> Tensor:
        """x * Phi(x) (Phi: the standard normal CDF); approximate="tanh" is the tanh form
        (PyTorch's argument).

        >>> Tensor([-1.0, 0.0, 1.0]).gelu()
        tensor([-0.15865526,  0.        ,  0.8413447 ])
        """
        if approximate == "none":
            return self * ((self * _SQRT_HALF).erf() + 1.0) * 0.5
        if approximate == "tanh":
            inner = (self + self * self * self * 0.044715) * _SQRT_2_OVER_PI
            return self * (inner.tanh() + 1.0) * 0.5
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")

    def silu(self) -> Tensor:
        """x * sigmoid(x) (also called swish)."""
        return self * self.sigmoid()

    def mish(self) -> Tensor:
        """x * tanh(softplus(x))."""
        return self * self.softplus().tanh()

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha * (exp(x) - 1) otherwise (gradient alpha at 0, as PyTorch).

        >>> Tensor([-1.0, 2.0]).elu()
        tensor([-0.63212055,  2.        ])
        """
        # NOTE: expm1 of min(x, 0) never overflows, so the unused branch holds no inf
        negative = Tensor._where(self.data > 0, 0.0, self).expm1() * alpha
        return Tensor._where(self.data > 0, self, negative)

    def selu(self) -> Tensor:
        """scale * elu(x, alpha) with the self-normalizing constants (PyTorch's)."""
        return self.elu(_SELU_ALPHA) * _SELU_SCALE

    def hardtanh(self, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
        """x clipped to [min_val, max_val]; the gradient is 0 at and beyond the bounds (PyTorch)."""
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} is larger than max_val {max_val}")
        inside = (self.data > min_val) & (self.data < max_val)
        return Tensor._where(inside, self, np.clip(self.data, min_val, max_val))

    def relu6(self) -> Tensor:
        """min(max(x, 0), 6).

        >>> Tensor([-1.0, 3.0, 8.0]).relu6()
        tensor([0., 3., 6.])
        """
        return self.hardtanh(0.0, 6.0)

    def hardsigmoid(self) -> Tensor:
        """relu6(x + 3) / 6 (PyTorch's hardsigmoid)."""
        inside = (self.data > -3.0) & (self.data < 3.0)
        return Tensor._where(inside, self * (1.0 / 6.0) + 0.5, (self.data >= 3.0).astype(self.dtype))

    def hardswish(self) -> Tensor:
        """x * relu6(x + 3) / 6."""
        return self * self.hardsigmoid()

    def softsign(self) -> Tensor:
        """x / (1 + |x|)."""
        return self / (abs(self) + 1.0)

    def logsigmoid(self) -> Tensor:
        """log(sigmoid(x)) = -softplus(-x), stable for any x.

        >>> Tensor([-1000.0, 0.0]).logsigmoid().tolist()
        [-1000.0, -0.6931471824645996]
        """
        return -(-self).softplus()

    # ------------------------------------------------------------- reductions and scans ----
    def _axis_last(self, axis):
        """self with `axis` (None: flattened) moved last, and that axis's index (a helper for
        scans and sorts)."""
        if axis is None:
            return self.reshape(-1), 0
        return self, normalize_axis(axis, max(self.ndim, 1), "axis")

    def prod(self, axis=None, keepdims: bool = False) -> Tensor:
        """Product over `axis`; the gradient is exact with zeros in the input.

        >>> x = Tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> x.prod().backward(); x.grad
        tensor([0., 6., 0.])
        """
        axes = _normalize_axes(axis, self.ndim)
        kept = tuple(i for i in range(self.ndim) if i not in axes)
        out_shape = _keepdims_shape(self.shape, axes) if keepdims else tuple(
            self.shape[i] for i in kept)
        n = int(np.prod([self.shape[a] for a in axes], dtype=np.int64))
        x = self.transpose(kept + axes).reshape(tuple(self.shape[i] for i in kept) + (n,))
        if n == 0:  # the empty product is 1 (a constant: no element to differentiate)
            return Tensor(np.ones(out_shape, dtype=np.prod(self.data[..., :0]).dtype))
        return Cumprod.apply(x, axis=x.ndim - 1)[..., -1].reshape(out_shape)

    def cumsum(self, axis=None) -> Tensor:
        """Running sums along `axis` (None: of the flattened tensor), numpy's cumsum.

        >>> Tensor([1, 2, 3]).cumsum()
        tensor([1, 3, 6])
        """
        x, axis = self._axis_last(axis)
        return Cumsum.apply(x if x.ndim else x.reshape(1), axis=axis).reshape(
            x.shape if x.ndim else ())

    def cumprod(self, axis=None) -> Tensor:
        """Running products along `axis` (None: flattened); exact gradients with zeros."""
        x, axis = self._axis_last(axis)
        return Cumprod.apply(x if x.ndim else x.reshape(1), axis=axis).reshape(
            x.shape if x.ndim else ())

    def _cumulative_extreme(self, axis, accumulate):
        """(values, indices) of a running max or min (ties: the later index, as PyTorch)."""
        axis = normalize_axis(axis, max(self.ndim, 1), "axis")
        x = self if self.ndim else self.reshape(1)
        running = accumulate(x.data, axis=axis)
        positions = np.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - axis - 1))
        hit = (x.data == running) | np.isnan(x.data)
        indices = np.maximum.accumulate(np.where(hit, positions, 0), axis=axis)
        values = x.take_along_axis(indices, axis)
        return _ValuesIndices(values.reshape(self.shape), Tensor(indices.reshape(self.shape)))

    def cummax(self, axis) -> tuple:
        """(values, indices) of the running maximum along `axis` (PyTorch's cummax).

        >>> Tensor([1.0, 3.0, 2.0]).cummax(0).values
        tensor([1., 3., 3.])
        """
        return self._cumulative_extreme(axis, np.maximum.accumulate)

    def cummin(self, axis) -> tuple:
        """(values, indices) of the running minimum along `axis`."""
        return self._cumulative_extreme(axis, np.minimum.accumulate)

    def argsort(self, axis=-1, descending: bool = False) -> Tensor:
        """Indices that sort along `axis` (stable; None: flattened), no gradient."""
        x, axis = self._axis_last(axis)
        if x.ndim == 0:
            return Tensor(np.zeros((), dtype=np.int64))
        if not descending:
            return Tensor(np.argsort(x.data, axis=axis, kind="stable"))
        n = x.shape[axis]  # NOTE: stable descending (equal elements keep their order), NaN first
        flipped = np.argsort(np.flip(x.data, axis), axis=axis, kind="stable")
        return Tensor(np.flip(n - 1 - flipped, axis))

    def sort(self, axis=-1, descending: bool = False) -> Tensor:
        """The values sorted along `axis` (numpy's sort: values only; None flattens). With
        PyTorch's `dim=` it returns (values, indices), as torch.sort.

        >>> Tensor([3.0, 1.0, 2.0]).sort()
        tensor([1., 2., 3.])
        """
        x, axis = self._axis_last(axis)
        if x.ndim == 0:
            return x
        return x.take_along_axis(x.argsort(axis, descending).data, axis)

    def topk(self, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> tuple:  # noqa: A002
        """(values, indices) of the k largest (or smallest) elements along `axis` (PyTorch's
        topk; the result is always sorted).

        >>> Tensor([1.0, 5.0, 3.0]).topk(2).values
        tensor([5., 3.])
        """
        axis = normalize_axis(axis, max(self.ndim, 1), "axis")
        n = self.shape[axis] if self.ndim else 1
        check_int(k, "topk: k", minimum=0)
        if k > n:
            raise ValueError(f"topk: k={k} is larger than the {n} elements along axis {axis}")
        order = self.argsort(axis, descending=largest).data
        indices = order[(slice(None),) * axis + (slice(0, k),)] if self.ndim else order
        values = self.take_along_axis(indices, axis) if self.ndim else self
        return _ValuesIndices(values, Tensor(indices))

    def median(self, axis=None, keepdims: bool = False) -> Tensor:
        """numpy's median: the middle value along `axis`, or the mean of the two middle values
        for an even count (each gets half the gradient); NaN if the slice holds a NaN. (With
        PyTorch's `dim=` it is torch.median: the lower middle value and its index.)

        >>> Tensor([1.0, 4.0, 2.0, 3.0]).median()
        tensor(2.5)
        """
        x = self.reshape(-1) if axis is None else self
        ax = 0 if axis is None else normalize_axis(axis, max(self.ndim, 1), "axis")
        if x.ndim == 0:
            return x
        n = x.shape[ax]
        if n == 0:
            raise ValueError("median of an empty axis has no value")
        s = x.sort(ax)
        lead = (slice(None),) * ax
        mid = s[lead + (slice((n - 1) // 2, n // 2 + 1),)].mean(axis=ax, keepdims=True)
        has_nan = np.isnan(x.data).any(axis=ax, keepdims=True)
        if has_nan.any():
            mid = Tensor._where(has_nan, np.array(np.nan, dtype=mid.dtype), mid)
        if keepdims:
            return mid.reshape(_keepdims_shape(self.shape, _normalize_axes(axis, self.ndim)))
        return mid.squeeze(ax) if axis is not None else mid.reshape(())

    def norm(self, ord=None, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A002
        """numpy.linalg.norm: vector norms (ord None/2, 1, inf, -inf, 0 or any p) over one axis
        (or of a 1-D tensor), matrix norms ('fro', 1, -1, inf, -inf) over two; ord=None and no
        axis is the 2-norm of all elements. The gradient at 0 is 0 (as PyTorch).

        >>> Tensor([3.0, 4.0]).norm()
        tensor(5.)
        """
        if axis is None:
            if ord is None or (ord == "fro" and self.ndim == 2):
                return _safe_sqrt((self * self).sum(), keepdims, self)
            if self.ndim not in (1, 2):
                raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D tensor, or axis=; this "
                                 f"one has shape {self.shape}")
            axis = tuple(range(self.ndim))
        axes = _normalize_axes(axis, self.ndim)
        if len(axes) == 1:
            return self._vector_norm(ord, axes[0], keepdims)
        if len(axes) == 2:
            return self._matrix_norm(ord, axes, keepdims)
        raise ValueError(f"norm: axis must name one or two axes, got {axis}")

    def _vector_norm(self, ord, axis, keepdims):  # noqa: A002
        a = abs(self)
        if ord is None or ord == 2:
            return _safe_sqrt((self * self).sum(axis=axis, keepdims=True), keepdims, self, axis)
        if ord == 1:
            out = a.sum(axis=axis, keepdims=keepdims)
        elif ord == np.inf:
            out = a.max(axis=axis, keepdims=keepdims)
        elif ord == -np.inf:
            out = a.min(axis=axis, keepdims=keepdims)
        elif ord == 0:
            out = Tensor((self.data != 0).sum(axis=axis, keepdims=keepdims).astype(self.dtype))
        elif isinstance(ord, (int, float)) and not isinstance(ord, bool):
            out = (a ** ord).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)
        else:
            raise ValueError(f"norm: invalid ord {ord!r} for a vector norm")
        return out

    def _matrix_norm(self, ord, axes, keepdims):  # noqa: A002
        row, col = axes
        if ord is None or ord == "fro":
            return _safe_sqrt((self * self).sum(axis=axes, keepdims=True), keepdims, self, axes)
        if ord in (1, -1, np.inf, -np.inf):
            inner, outer = (row, col) if ord in (1, -1) else (col, row)
            sums = abs(self).sum(axis=inner, keepdims=True)
            out = sums.max(axis=outer, keepdims=True) if ord > 0 else sums.min(axis=outer,
                                                                              keepdims=True)
            return out if keepdims else out.squeeze(axes)
        raise ValueError(f"norm: matrix ord {ord!r} is not supported (2, -2 and 'nuc' need an "
                         "SVD); use 'fro', 1, -1, inf or -inf")

    # ------------------------------------------------------------ movement and indexing ----
    def flip(self, axis=None) -> Tensor:
        """Elements reversed along `axis` (int, tuple, or None for all), numpy's flip.

        >>> Tensor([1, 2, 3]).flip()
        tensor([3, 2, 1])
        """
        axes = _normalize_axes(axis, self.ndim)
        if not axes:
            return self
        return self[tuple(slice(None, None, -1) if i in axes else slice(None)
                          for i in range(self.ndim))]

    def fliplr(self) -> Tensor:
        """Reversed along axis 1 (needs at least 2 dimensions)."""
        if self.ndim < 2:
            raise ValueError(f"fliplr needs at least 2 dimensions, got shape {self.shape}")
        return self.flip(1)

    def flipud(self) -> Tensor:
        """Reversed along axis 0 (needs at least 1 dimension)."""
        if self.ndim < 1:
            raise ValueError("flipud needs at least 1 dimension")
        return self.flip(0)

    def roll(self, shift, axis=None) -> Tensor:
        """Elements shifted along `axis` with wrap-around (None: the flattened tensor), numpy's
        roll; `shift` and `axis` may be tuples.

        >>> Tensor([1, 2, 3, 4]).roll(1)
        tensor([4, 1, 2, 3])
        """
        if axis is None:
            return self.reshape(-1).roll(shift, 0).reshape(self.shape)
        shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
        total = {}
        for s, a in zip(shifts.tolist(), axes.tolist()):
            a = normalize_axis(check_int(a, "roll: axis"), self.ndim, "roll: axis")
            total[a] = total.get(a, 0) + check_int(s, "roll: shift")
        out = self
        for a, s in total.items():
            n = self.shape[a]
            s = s % n if n else 0
            if s:
                lead = (slice(None),) * a
                out = Tensor.concatenate([out[lead + (slice(n - s, None),)],
                                          out[lead + (slice(0, n - s),)]], axis=a)
        return out

    def rot90(self, k: int = 1, axes=(0, 1)) -> Tensor:
        """Rotated by 90 degrees k times in the plane of `axes` (numpy's rot90)."""
        if len(axes) != 2:
            raise ValueError("rot90: axes must name two axes")
        a0, a1 = (normalize_axis(a, self.ndim, "rot90: axes") for a in axes)
        if a0 == a1:
            raise ValueError("rot90: axes must be different")
        k = check_int(k, "rot90: k") % 4
        if k == 0:
            return self
        if k == 2:
            return self.flip((a0, a1))
        perm = list(range(self.ndim))
        perm[a0], perm[a1] = perm[a1], perm[a0]
        if k == 1:
            return self.flip(a1).transpose(perm)
        return self.transpose(perm).flip(a1)

    def repeat(self, repeats, axis=None) -> Tensor:
        """Each element repeated (numpy's repeat, PyTorch's repeat_interleave; PyTorch's repeat
        is `tile`). `repeats` is an int or one count per element along `axis`.

        >>> Tensor([1, 2]).repeat(2)
        tensor([1, 1, 2, 2])
        """
        x, axis = self._axis_last(axis)
        if x.ndim == 0:
            x = x.reshape(1)
        counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
        if counts.dtype.kind not in "iu" or (counts < 0).any():
            raise ValueError(f"repeat: repeats must be non-negative integers, got {repeats!r:.60}")
        index = np.repeat(np.arange(x.shape[axis]), counts)
        return x[(slice(None),) * axis + (index,)]

    repeat_interleave = repeat

    def tile(self, reps) -> Tensor:
        """The tensor repeated `reps` times along each axis (numpy's tile; PyTorch's repeat).

        >>> Tensor([1, 2]).tile(2)
        tensor([1, 2, 1, 2])
        """
        reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
        reps = tuple(check_int(r, "tile: reps", minimum=0) for r in reps)
        ndim = max(len(reps), self.ndim)
        reps = (1,) * (ndim - len(reps)) + reps
        shape = (1,) * (ndim - self.ndim) + self.shape
        x = self.reshape(tuple(d for n in shape for d in (1, n)))
        x = x.broadcast_to(tuple(d for r, n in zip(reps, shape) for d in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(reps, shape)))

    def tril(self, k: int = 0) -> Tensor:
        """The lower triangle of the last two axes (above the k-th diagonal set to 0)."""
        return self._triangle(k, lower=True)

    def triu(self, k: int = 0) -> Tensor:
        """The upper triangle of the last two axes (below the k-th diagonal set to 0)."""
        return self._triangle(k, lower=False)

    def _triangle(self, k, lower):
        if self.ndim < 2:
            raise ValueError(f"tril/triu need at least 2 dimensions, got shape {self.shape}")
        n, m = self.shape[-2:]
        keep = np.tri(n, m, check_int(k, "k"), dtype=bool)
        keep = keep if lower else ~np.tri(n, m, k - 1, dtype=bool)
        return Tensor._where(keep, self, np.zeros((), dtype=self.dtype))

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        """The diagonal of the (axis1, axis2) planes, as a last axis (numpy's diagonal)."""
        a1, a2 = normalize_axis(axis1, self.ndim, "axis1"), normalize_axis(axis2, self.ndim, "axis2")
        if a1 == a2:
            raise ValueError("diagonal: axis1 and axis2 cannot be the same")
        offset = check_int(offset, "offset")
        rest = tuple(i for i in range(self.ndim) if i not in (a1, a2))
        x = self.transpose(rest + (a1, a2))
        n, m = self.shape[a1], self.shape[a2]
        start_r, start_c = max(-offset, 0), max(offset, 0)
        length = max(min(n - start_r, m - start_c), 0)
        rows, cols = np.arange(length) + start_r, np.arange(length) + start_c
        return x[(Ellipsis, rows, cols)]

    def diag(self, k: int = 0) -> Tensor:
        """numpy's diag: a 1-D tensor becomes a matrix with it on the k-th diagonal; a 2-D one
        gives its k-th diagonal.

        >>> Tensor([1, 2]).diag()
        tensor([[1, 0],
                [0, 2]])
        """
        k = check_int(k, "k")
        if self.ndim == 2:
            return self.diagonal(k)
        if self.ndim != 1:
            raise ValueError(f"diag needs a 1-D or 2-D tensor, got shape {self.shape}")
        n = self.shape[0] + abs(k)
        rows = np.arange(self.shape[0]) + max(-k, 0)
        return ScatterAdd.apply(self, index=(rows, rows + k), shape=(n, n))

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        """Sum of the diagonal (numpy's trace)."""
        return self.diagonal(offset, axis1, axis2).sum(axis=-1)

    def outer(self, other) -> Tensor:
        """The outer product of the flattened tensors (numpy's outer)."""
        other = other if isinstance(other, Tensor) else Tensor(other)
        return self.reshape(-1, 1) * other.reshape(1, -1)

    def tensordot(self, other, axes=2) -> Tensor:
        """numpy's tensordot: the sum of products over `axes` (an int N: the last N of self with
        the first N of other; or two lists of axes)."""
        other = other if isinstance(other, Tensor) else Tensor(other)
        if isinstance(axes, (int, np.integer)):
            n = check_int(axes, "tensordot: axes", minimum=0)
            if n > min(self.ndim, other.ndim):
                raise ValueError(f"tensordot: axes={n} is more than the dimensions of {self.shape}"
                                 f" or {other.shape}")
            a_axes, b_axes = list(range(self.ndim - n, self.ndim)), list(range(n))
        else:
            a_axes, b_axes = ([a] if isinstance(a, (int, np.integer)) else list(a) for a in axes)
        a_axes = [normalize_axis(a, self.ndim, "tensordot: axes") for a in a_axes]
        b_axes = [normalize_axis(b, other.ndim, "tensordot: axes") for b in b_axes]
        if len(a_axes) != len(b_axes):
            raise ValueError("tensordot: the two lists of axes must have the same length")
        letters = iter(_LETTERS)
        a_sub = [next(letters) for _ in range(self.ndim)]
        b_sub = [next(letters) for _ in range(other.ndim)]
        for a, b in zip(a_axes, b_axes):
            b_sub[b] = a_sub[a]
        out = [c for i, c in enumerate(a_sub) if i not in a_axes]
        out += [c for i, c in enumerate(b_sub) if i not in b_axes]
        return einsum("".join(a_sub) + "," + "".join(b_sub) + "->" + "".join(out), self, other)

    def take_along_axis(self, indices, axis) -> Tensor:
        """numpy's take_along_axis: values picked by `indices` along `axis` (broadcast against
        the other axes; None: the flattened tensor). Repeated indices accumulate gradients."""
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"take_along_axis: indices must be integers, got dtype {indices.dtype}")
        if axis is None:
            return self.reshape(-1).take_along_axis(indices, 0)
        axis = normalize_axis(axis, self.ndim, "axis")
        if indices.ndim != self.ndim:
            raise ValueError(f"take_along_axis: indices ({indices.ndim}-D) and tensor "
                             f"({self.ndim}-D) must have the same number of dimensions")
        index = [np.arange(n).reshape((1,) * i + (-1,) + (1,) * (self.ndim - i - 1))
                 for i, n in enumerate(self.shape)]
        index[axis] = indices
        return self[tuple(index)]

    def gather(self, axis: int, index) -> Tensor:
        """PyTorch's gather: `out[i][j] = self[index[i][j]][j]` for axis 0 (index has self's
        number of dimensions and is no larger than self outside `axis`)."""
        index, axis = self._scatter_index(axis, index, "gather")
        return self[_positions(index, axis)]

    def scatter(self, axis: int, index, src) -> Tensor:
        """PyTorch's scatter, out of place: a copy of self with src's values written at the
        positions `index` names along `axis`. Where an index repeats, the last write wins (the
        last in order) and only that source element gets a gradient."""
        index, axis = self._scatter_index(axis, index, "scatter")
        positions = np.broadcast_arrays(*_positions(index, axis))
        targets = np.ravel_multi_index(positions, self.shape).reshape(-1)
        _, last = np.unique(targets[::-1], return_index=True)
        winners = np.sort(targets.size - 1 - last)
        target = tuple(p.reshape(-1)[winners] for p in positions)
        if isinstance(src, (int, float, np.generic)):
            return SetItem.apply(self, np.asarray(src, dtype=self.dtype), index=target)
        src = _source(src, index, "scatter")
        return SetItem.apply(self, src.reshape(-1)[winners], index=target)

    def scatter_add(self, axis: int, index, src) -> Tensor:
        """PyTorch's scatter_add, out of place: self plus src's values added at the positions
        `index` names along `axis` (repeated positions accumulate)."""
        index, axis = self._scatter_index(axis, index, "scatter_add")
        src = _source(src, index, "scatter_add")
        positions = tuple(np.broadcast_arrays(*_positions(index, axis)))
        return self + ScatterAdd.apply(src, index=positions, shape=self.shape)

    def index_add(self, axis: int, index, source, alpha=1) -> Tensor:
        """PyTorch's index_add, out of place: self with alpha * source[k] added at position
        index[k] along `axis` (repeated indices accumulate)."""
        axis = normalize_axis(axis, max(self.ndim, 1), "axis")
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        if index.dtype.kind not in "iu" or index.ndim > 1:
            raise TypeError("index_add: index must be a 1-D integer tensor")
        n = self.shape[axis] if self.ndim else 1
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"index_add: an index is out of range for axis {axis} of size {n}")
        source = source if isinstance(source, Tensor) else Tensor(source)
        expected = self.shape[:axis] + (index.size,) + self.shape[axis + 1:]
        if self.ndim and source.shape != expected:
            raise ValueError(f"index_add: source must have shape {expected}, got {source.shape}")
        added = source * alpha if alpha != 1 else source
        target = (slice(None),) * axis + (index.reshape(-1),)
        return self + ScatterAdd.apply(added.reshape(expected), index=target, shape=self.shape)

    def _scatter_index(self, axis, index, name):
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        axis = normalize_axis(axis, max(self.ndim, 1), "axis")
        if index.dtype.kind not in "iu":
            raise TypeError(f"{name}: index must be an integer tensor, got dtype {index.dtype}")
        if index.ndim != self.ndim:
            raise ValueError(f"{name}: index ({index.ndim}-D) must have the tensor's number of "
                             f"dimensions ({self.ndim})")
        if any(i > n for d, (i, n) in enumerate(zip(index.shape, self.shape)) if d != axis):
            raise ValueError(f"{name}: index of shape {index.shape} is larger than the tensor "
                             f"{self.shape} outside axis {axis}")
        n = self.shape[axis] if self.ndim else 1
        if index.size and (index.min() < 0 or index.max() >= n):
            bad = index[(index < 0) | (index >= n)].flat[0]
            raise IndexError(f"{name}: index {bad} is out of range for axis {axis} of size {n}")
        return index, axis

    def ravel(self) -> Tensor:
        """The flattened tensor (numpy's ravel)."""
        return self.reshape(-1)

    # ---------------------------------------------------------------- PyTorch spellings ----
    # numpy's names stay primary; these are PyTorch's where they cannot mean anything else.
    # (dim=/keepdim= are accepted by every method with axis=/keepdims=: see _TORCH_AXIS_METHODS.)
    def eq(self, other) -> Tensor:
        """self == other (PyTorch's name)."""
        return self == other

    def ne(self, other) -> Tensor:
        """self != other."""
        return self != other

    def lt(self, other) -> Tensor:
        """self < other."""
        return self < other

    def le(self, other) -> Tensor:
        """self <= other."""
        return self <= other

    def gt(self, other) -> Tensor:
        """self > other."""
        return self > other

    def ge(self, other) -> Tensor:
        """self >= other."""
        return self >= other

    def add(self, other, alpha=1) -> Tensor:
        """self + alpha * other (PyTorch's add)."""
        return self + (other if alpha == 1 else _operand(other) * alpha)

    def sub(self, other, alpha=1) -> Tensor:
        """self - alpha * other (PyTorch's sub)."""
        return self - (other if alpha == 1 else _operand(other) * alpha)

    def mul(self, other) -> Tensor:
        """self * other."""
        return self * other

    def div(self, other, rounding_mode=None) -> Tensor:
        """self / other; rounding_mode "floor" or "trunc" rounds the quotient (zero gradient),
        as PyTorch's div."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self // other
        if rounding_mode == "trunc":
            return _piecewise(np.trunc(np.true_divide(self.data, _array(other))).astype(
                np.result_type(self.data, _array(other))), self, other)
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got "
                         f"{rounding_mode!r}")

    def pow(self, other) -> Tensor:
        """self ** other."""
        return self ** other

    def neg(self) -> Tensor:
        """-self."""
        return -self

    def clamp(self, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's names)
        """PyTorch's name for clip."""
        return self.clip(min, max)

    def masked_fill(self, mask, value) -> Tensor:
        """self with `value` where the boolean `mask` is true (PyTorch's masked_fill).

        >>> Tensor([1.0, 2.0]).masked_fill(Tensor([True, False]), 0.0)
        tensor([0., 2.])
        """
        mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {mask.dtype}")
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError("masked_fill: value must be a number or a 0-d tensor")
        if not isinstance(value, Tensor):
            value = np.asarray(value, dtype=self.dtype)
        out = Tensor._where(mask, value, self)
        if out.shape != self.shape:
            raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the "
                             f"tensor's shape {self.shape}")
        return out

    def view_as(self, other) -> Tensor:
        """self reshaped to other's shape."""
        return self.reshape(np.shape(other.data if isinstance(other, Tensor) else other))

    reshape_as = view_as

    def expand_as(self, other) -> Tensor:
        """self broadcast to other's shape."""
        return self.broadcast_to(np.shape(other.data if isinstance(other, Tensor) else other))

    def type_as(self, other) -> Tensor:
        """self converted to other's dtype."""
        return self.astype(_dtype_of(other))

    @property
    def device(self) -> device:
        """Where the data lives: always the CPU (numpy)."""
        return _CPU

    def cpu(self) -> Tensor:
        """self (tensors already live on the CPU)."""
        return self

    def to(self, *args, **kwargs) -> Tensor:
        """PyTorch's to(): to(device), to(dtype), to(device, dtype) or to(other tensor). The
        only device is the CPU; any other is an error, not a silent no-op."""
        dtype = kwargs.pop("dtype", None)
        target = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)) and not _is_dtype_name(a):
                target = a
            else:
                dtype = a
        if target is not None:
            device(target)  # refuses anything but the CPU
        return self if dtype is None else self.astype(dtype)

_CONST = (Tensor, int, float)  # operands ops take as they are (arrays are checked in _operand)


def _operand(x):
    """Binary-op operand: Tensors, Python scalars and numpy arrays/scalars pass straight to the op
    (the op treats non-Tensors as constants, and numpy 2 promotion applies as in numpy: Python
    scalars are 'weak', so float32 * 2.0 stays float32); anything else (lists) becomes a Tensor."""
    if isinstance(x, _CONST):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype.kind not in "biuf":
            check_real_dtype(x.dtype, f"operand {type(x).__name__}")
        return x
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"unsupported operand {x!r:.40} ({type(x).__name__}): ops take Tensors, "
                        "numbers and numeric arrays")
    try:
        return Tensor(x)
    except TypeError as err:
        raise TypeError(f"unsupported operand {x!r:.40} ({type(x).__name__}): {err}") from None


_ONES = {}
_SEEDS = {}


def _seed(data):
    """The seed of backward() from a one-element tensor shaped like `data`: a 1 of its dtype and
    shape, cached. (Only where nothing is recorded: the engine then reads its array, read-only, and
    the Tensor never reaches the user; with create_graph a seed can become a .grad, so it is new.)

    NOTE: cached, a W4 step (`((a*b)+c).sum().backward()`) costs 2.3% fewer instructions."""
    key = (data.dtype, data.shape)
    seed = _SEEDS.get(key)
    if seed is None:
        seed = _SEEDS[key] = Tensor(_one(data.dtype).reshape(data.shape))
    return seed


def _one(dtype):
    """A cached read-only 1 of `dtype`: the seed of backward() (the engine never hands a seed
    array to a .grad without copying it)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype=dtype)
        one.flags.writeable = False
    return one


def _read_only(array):
    """A read-only view of `array` (see Tensor.numpy)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _array(x):
    """A comparison's other side as an array or number (checked like a binary op's operand)."""
    if isinstance(x, Tensor):
        return x.data
    x = x if isinstance(x, _CONST) else _operand(x)
    return x.data if isinstance(x, Tensor) else x


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _logical(x, op):
    """The array behind an operand of & | ~: bool or integer only (numpy's bitwise ops)."""
    x = _array(x)
    dtype = np.asarray(x).dtype if not isinstance(x, np.ndarray) else x.dtype
    if dtype.kind not in "biu":
        raise TypeError(f"{op} takes bool or integer tensors, got an operand of dtype {dtype} (compare "
                        "first, e.g. (x > 0) & (y > 0))")
    return x


def _tensor_list(tensors, name):
    """concatenate/stack's first argument: a non-empty sequence of tensors (or array-likes)."""
    if isinstance(tensors, (Tensor, np.ndarray)) or not isinstance(tensors, Sequence):
        raise TypeError(f"{name} takes a sequence (list or tuple) of tensors, got a "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name} needs at least one tensor")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]


def _pool_args(name, kernel_size, stride, padding, dilation=1):
    """PyTorch's checks on pooling settings: a positive kernel, stride and dilation (stride
    defaults to the kernel), and padding at most half the kernel (more would give windows entirely
    of padding)."""
    kernel = int_pair(kernel_size, f"{name}: kernel_size", 1)
    stride = kernel if stride is None else int_pair(stride, f"{name}: stride", 1)
    padding = int_pair(padding, f"{name}: padding", 0)
    dilation = int_pair(dilation, f"{name}: dilation", 1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding should be at most half of kernel_size, got "
                         f"padding={padding} for kernel_size={kernel}")
    return kernel, stride, padding, dilation


def _check_bias(name, bias, channels):
    if bias is not None and tuple(np.shape(bias)) != (channels,):
        raise ValueError(f"{name}: bias must have shape ({channels},) (one per output channel), "
                         f"got {tuple(np.shape(bias))}")


def _float_of(dtype):
    """The dtype averages and interpolation weights are computed in: float inputs keep theirs."""
    return dtype if np.dtype(dtype).kind == "f" else np.dtype(np.float32)


def _ceil_extra(size, kernel, stride, padding, dilation, ceil_mode):
    """Rows and columns of padding to add at the bottom and right so that ceil_mode's last window
    fits: PyTorch's rule, out = ceil((n + 2p - span) / s) + 1, less one if the last window would
    start past the input and its left padding."""
    if not ceil_mode:
        return (0, 0)
    extra = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            return (0, 0)  # let _windows explain
        out = -(-(n + 2 * p - span) // s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
        extra.append(max(0, (out - 1) * s + span - (n + 2 * p)))
    return tuple(extra)


def _window_argmax(windows, width, stride, padding, dilation):
    """Each window's first maximum as a flattened position h * width + w in the unpadded plane."""
    n, c, oh, ow, kh, kw = windows.shape
    k = windows.reshape(n, c, oh, ow, kh * kw).argmax(axis=-1)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    rows = np.arange(oh)[:, None] * sh - ph + (k // kw) * dh
    cols = np.arange(ow)[None, :] * sw - pw + (k % kw) * dw
    return (rows * width + cols).astype(np.int64)


def _output_size(name, output_size, size):
    """An adaptive pool's (oh, ow): an int, or a pair whose None entries keep the input's size."""
    pair = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(pair) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    out = tuple(n if o is None else check_int(o, f"{name}: output_size", 1)
                for o, n in zip(pair, size))
    if min(size) < 1:
        raise ValueError(f"{name}: the input's plane {tuple(size)} is empty")
    return out


def _adaptive_bins(n, out):
    """PyTorch's adaptive pooling bins: output i covers [floor(i*n/out), ceil((i+1)*n/out))."""
    return [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]


def _bin_matrix(bins, n, dtype):
    m = np.zeros((len(bins), n), dtype=np.float64)
    for i, (a, b) in enumerate(bins):
        m[i, a:b] = 1.0 / (b - a)
    return m.astype(dtype)


def _interpolate_sizes(size, scale_factor, spatial):
    """interpolate's output sizes, and the scale (input per output step) each axis maps with:
    1 / scale_factor when one is given (PyTorch's default), else in / out."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    k = len(spatial)
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * k
        if len(sizes) != k:
            raise ValueError(f"interpolate: size needs {k} value(s) for this input, got {size!r}")
        sizes = tuple(check_int(s, "interpolate: size", 1) for s in sizes)
        return sizes, tuple(None for _ in sizes)
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * k
    if len(scales) != k or not all(isinstance(f, (int, float, np.integer, np.floating))
                                   and not isinstance(f, bool) and f > 0 for f in scales):
        raise ValueError(f"interpolate: scale_factor must be a positive number or {k} of them, "
                         f"got {scale_factor!r}")
    sizes = tuple(int(math.floor(n * float(f))) for n, f in zip(spatial, scales))
    if min(sizes) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} leaves an empty output "
                         f"{sizes} for the input's size {tuple(spatial)}")
    return sizes, tuple(float(f) for f in scales)


def _nearest_source(n_in, n_out, scale_factor):
    """PyTorch's 'nearest' source indices, in its float32 arithmetic: floor(i * scale)."""
    if n_out == n_in:
        return np.arange(n_out)
    scale = (np.float32(1.0 / scale_factor) if scale_factor is not None
             else np.float32(n_in) / np.float32(n_out))
    index = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(index, n_in - 1)


def _linear_matrix(n_in, n_out, scale_factor, align_corners, dtype):
    """(n_out, n_in) weights of PyTorch's linear interpolation along one axis."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        scale = 1.0 / scale_factor if scale_factor is not None else n_in / n_out
        src = np.maximum(scale * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(m, (np.arange(n_out), i0), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), i1), frac)
    return m.astype(dtype)


def _dtype_of(t):
    return t.dtype if isinstance(t, (Tensor, np.ndarray)) else np.asarray(t).dtype


_pair = int_pair  # an int or a pair of ints, as a checked pair


# ------------------------------------------------------------------------------ module level ----
def concatenate(tensors, axis=0, *, dim=None):
    """Tensors joined along an existing axis (`dim=`: PyTorch's spelling)."""
    return Tensor.concatenate(tensors, axis, dim=dim)


def stack(tensors, axis=0, *, dim=None):
    """Tensors joined along a new axis (`dim=`: PyTorch's spelling)."""
    return Tensor.stack(tensors, axis, dim=dim)


def from_dlpack(x) -> Tensor:
    """A Tensor sharing the memory of a DLPack producer on the CPU (a PyTorch tensor, a numpy or
    JAX array): no copy, so a write through `x` shows in the Tensor. (Such a write is not seen by
    the graph: do not make one while a recorded graph uses the Tensor.)

    >>> import numpy as np
    >>> a = np.arange(3.0)
    >>> t = from_dlpack(a)
    >>> a[0] = 7.0
    >>> t.tolist()
    [7.0, 1.0, 2.0]
    """
    device = getattr(x, "__dlpack_device__", None)
    if device is None:
        raise TypeError(f"from_dlpack needs an object with __dlpack__ and __dlpack_device__ (a DLPack "
                        f"producer), got {type(x).__name__}")
    kind, index = device()
    if int(kind) not in (1, 3):  # kDLCPU, kDLCUDAHost (pinned host memory)
        raise BufferError(f"from_dlpack: the data is on DLPack device ({int(kind)}, {index}), not in "
                          "CPU memory; tinygrad_lite tensors live on the CPU: move it there first "
                          "(e.g. x.cpu() in PyTorch)")
    return Tensor(np.from_dlpack(x))


def where(cond, x, y):
    """x where cond is true, else y."""
    return Tensor.where(cond, x, y)


zeros, ones, full, arange, eye = Tensor.zeros, Tensor.ones, Tensor.full, Tensor.arange, Tensor.eye
rand, randn, uniform = Tensor.rand, Tensor.randn, Tensor.uniform
zeros_like, ones_like = Tensor.zeros_like, Tensor.ones_like


# ================================================================== issue 10: helpers ====
_TRUE = np.ones((), dtype=bool)
_PAD_MODES = {"replicate": "edge", "circular": "wrap"}
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_HALF = math.sqrt(0.5)  # Python floats: weak scalars, so float32 stays float32
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _ValuesIndices(tuple):
    """(values, indices), also as .values and .indices (PyTorch's return type of max(dim=),
    sort, topk, cummax, ...)."""

    __slots__ = ()

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self):
        return f"(values={self[0]!r}, indices={self[1]!r})"


def _piecewise(values, *inputs):
    """`values` as a result that stays in the graph with a zero gradient to every input that
    requires one (PyTorch's floor, sign, floor division): where(True, values, input)."""
    out = Tensor(np.asarray(values))
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            out = Where.apply(_TRUE, out, t)
    return out


def _floor_divide(x, y):
    return _piecewise(np.floor_divide(_array(x), _array(y)), x, y)


def _bitwise(fn, x, y):
    """An integer bit operation on arrays (no gradient); refuses floats as numpy does, with a
    clearer message."""
    a, b = _array(x), _array(y)
    for v in (a, b):
        if np.asarray(v).dtype.kind not in "biu":
            raise TypeError(f"{fn.__name__} needs integer or bool tensors, got dtype "
                            f"{np.asarray(v).dtype}")
    return fn(a, b)


def _safe_sqrt(squares, keepdims, x, axis=None):
    """sqrt of summed squares with gradient 0 (not NaN) where they are 0, shaped for keepdims."""
    zero = squares.data == 0
    root = Tensor._where(zero, 0.0, Tensor._where(zero, 1.0, squares).sqrt())
    if keepdims:
        return root.reshape(_keepdims_shape(x.shape, _normalize_axes(axis, x.ndim)))
    return root.reshape(tuple(n for i, n in enumerate(x.shape)
                              if i not in _normalize_axes(axis, x.ndim)))


def _positions(index, axis):
    """The advanced index that picks index[i...] along `axis` and i... elsewhere (sparse)."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


def _source(src, index, name):
    """scatter's src as a Tensor cut to index's shape (PyTorch uses that corner of it)."""
    src = src if isinstance(src, Tensor) else Tensor(src)
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ValueError(f"{name}: src of shape {src.shape} must be at least as large as index "
                         f"{index.shape} in every dimension")
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    return src


def _is_dtype_name(a):
    if isinstance(a, device):
        return False
    try:
        np.dtype(a)
    except TypeError:
        return False
    return True


class device:  # noqa: N801 (PyTorch's name)
    """A device, PyTorch's spelling: `tg.device("cpu")`. numpy runs on the CPU, so "cpu" (or
    "cpu:0") is the only one; anything else is an error naming it.

    >>> device("cpu")
    device(type='cpu')
    """

    __slots__ = ("type",)

    def __init__(self, spec="cpu"):
        name = spec.type if isinstance(spec, device) else spec
        if not isinstance(name, str) or name.split(":")[0] != "cpu" or name.count(":") > 1 or (
                ":" in name and name.split(":")[1] not in ("0", "")):
            raise RuntimeError(f"unknown device {spec!r}: tinygrad_lite computes with numpy on the "
                               "CPU, so 'cpu' is the only device (drop .to(device) / .cuda(), or "
                               "pass 'cpu')")
        self.type = "cpu"

    def __eq__(self, other):
        return isinstance(other, (device, str)) and device(other).type == self.type

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        return f"device(type='{self.type}')"

    def __str__(self):
        return self.type


_CPU = device("cpu")


# ------------------------------------------------------------ PyTorch's dim= and keepdim= ----
# Methods that take numpy's axis=/keepdims= also take PyTorch's dim=/keepdim= (flip and roll take
# dims=). Where PyTorch's meaning differs, the spelling decides, since only PyTorch code writes
# dim=: max/min/median(dim=) return (values, indices) (median: the lower middle value, as
# torch.median), sort(dim=) returns (values, indices), var/std(dim=) default to correction=1.
_TORCH_AXIS_METHODS = (  # (sum and mean take dim= themselves: see _torch_axis)
    "var", "std", "max", "min", "argmax", "argmin", "logsumexp", "softmax",
    "log_softmax", "any", "all", "squeeze", "expand_dims", "unsqueeze", "split", "chunk",
    "prod", "cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "topk", "median", "norm",
    "flip", "roll", "gather", "scatter", "scatter_add", "index_add", "take_along_axis",
    "repeat", "repeat_interleave",
)


def _torch_kwargs(fn):
    name = fn.__name__

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        if not kwargs or not _TORCH_KEYS.intersection(kwargs):
            return fn(self, *args, **kwargs)
        torch = "dim" in kwargs or "dims" in kwargs
        for old, new in (("dim", "axis"), ("dims", "axis"), ("keepdim", "keepdims")):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{name}() got both {old}= and {new}=; use one")
                kwargs[new] = kwargs.pop(old)
        if name in ("var", "std"):
            return _torch_var(self, fn, torch, kwargs)
        if torch and name in ("max", "min") and kwargs.get("axis") is not None:
            values = fn(self, *args, **kwargs)
            arg = self.argmax if name == "max" else self.argmin
            return _ValuesIndices(values, arg(kwargs["axis"], keepdims=kwargs.get("keepdims", False)))
        if torch and name == "median":
            return _torch_median(self, *args, **kwargs)
        if torch and name == "sort":
            return _ValuesIndices(fn(self, *args, **kwargs), self.argsort(*args, **kwargs))
        return fn(self, *args, **kwargs)

    return method


_TORCH_KEYS = frozenset(("dim", "dims", "keepdim", "correction", "unbiased"))


def _torch_axis(name, axis, keepdims, dim, keepdim):
    """PyTorch's dim=/keepdim= as numpy's axis/keepdims, for the methods that take them in their
    own signature (sum and mean. NOTE: the wrapper above is a Python call more per call: 1% of a
    W4 step, `((a*b)+c).sum().backward()`)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}() got both dim= and axis=; use one")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{name}() got both keepdim= and keepdims=; use one")
        keepdims = keepdim
    return axis, keepdims


def _torch_var(self, fn, torch, kwargs):
    """var/std with PyTorch's correction= (or unbiased=): default 1 when spelled the PyTorch way."""
    correction = kwargs.pop("correction", None)
    unbiased = kwargs.pop("unbiased", None)
    if "ddof" in kwargs and (correction is not None or unbiased is not None):
        raise TypeError("var/std: give ddof= (numpy) or correction=/unbiased= (PyTorch), not both")
    if unbiased is not None:
        if correction is not None:
            raise TypeError("var/std: give correction= or unbiased=, not both")
        correction = int(bool(unbiased))
    if correction is None and "ddof" not in kwargs:
        correction = 1 if torch or unbiased is not None else 0
    if correction is not None:
        kwargs["ddof"] = correction
    return fn(self, **kwargs)


def _torch_median(self, axis, keepdims=False):
    """torch.median(dim): the lower of the two middle values and its index."""
    axis = normalize_axis(axis, max(self.ndim, 1), "dim")
    x = self if self.ndim else self.reshape(1)
    n = x.shape[axis]
    order = x.argsort(axis).data
    pick = order[(slice(None),) * axis + (slice((n - 1) // 2, (n - 1) // 2 + 1),)]
    nan = np.isnan(x.data)
    if nan.any():  # NOTE: torch.median returns the first NaN of a slice that has one
        first_nan = np.argmax(nan, axis=axis, keepdims=True)
        pick = np.where(nan.any(axis=axis, keepdims=True), first_nan, pick)
    values = x.take_along_axis(pick, axis)
    if not keepdims or not self.ndim:
        values, pick = values.squeeze(axis), pick.squeeze(axis)
    return _ValuesIndices(values.reshape(values.shape if self.ndim else ()),
                          Tensor(pick if self.ndim else pick.reshape(())))


def _torch_transpose(fn):
    @functools.wraps(fn)
    def transpose(self, *axes):
        # NOTE: numpy's transpose(1, 0) on a 2-D tensor is a permutation (the same as PyTorch's
        # swap there too); with two axes on more dimensions numpy would refuse, so it is
        # PyTorch's transpose(dim0, dim1)
        if len(axes) == 2 and self.ndim > 2 and all(isinstance(a, (int, np.integer)) for a in axes):
            return self.swapaxes(*axes)
        return fn(self, *axes)

    return transpose


for _name in _TORCH_AXIS_METHODS:
    setattr(Tensor, _name, _torch_kwargs(getattr(Tensor, _name)))
Tensor.transpose = _torch_transpose(Tensor.transpose)


def _torch_join(fn):
    """Tensor.concatenate / Tensor.stack with dim= beside axis=."""
    @functools.wraps(fn)
    def join(tensors, axis=0, *, dim=None):
        if dim is not None:
            if axis != 0:
                raise TypeError(f"{fn.__name__}() got both dim= and axis=; use one")
            axis = dim
        return fn(tensors, axis)

    return staticmethod(join)


Tensor.concatenate = Tensor.cat = _torch_join(Tensor.concatenate)
Tensor.stack = _torch_join(Tensor.stack)


# ------------------------------------------------------------- module-level functions ----
def einsum(subscripts, *operands) -> Tensor:
    """numpy's einsum, differentiable in every operand: any subscripts numpy accepts (implicit
    output, `...`, repeated letters for diagonals, broadcasting of size-1 axes), and numpy's
    sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]).

    >>> a, b = Tensor.ones(2, 3), Tensor.ones(3, 4)
    >>> einsum("ij,jk->ik", a, b).shape
    (2, 4)
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_subscripts(subscripts, operands)
    operands = [t if isinstance(t, Tensor) else _operand(t) for t in operands]
    operands = [t if isinstance(t, (Tensor, np.ndarray)) else np.asarray(t) for t in operands]
    terms, out = _parse_einsum(subscripts.replace(" ", ""), [np.shape(_array(o)) for o in operands])
    sizes = {}
    for term, op in zip(terms, operands):
        for c, n in zip(term, np.shape(_array(op))):
            if n != 1:
                if sizes.setdefault(c, n) != n:
                    raise ValueError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} "
                                     f"in {subscripts!r}")
    new_terms, new_ops = [], []
    for term, op in zip(terms, operands):
        op, term = _einsum_operand(op, term, sizes)
        new_terms.append(term)
        new_ops.append(op)
    spec = ",".join(new_terms) + "->" + out
    if not any(isinstance(o, Tensor) for o in new_ops):
        return Tensor(np.einsum(spec, *new_ops))
    return Einsum.apply(*new_ops, subscripts=spec)


def _sublist_subscripts(first, rest):
    """numpy's einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) as a subscript string."""
    items = [first, *rest]
    ops, subs = items[0::2], items[1::2]
    out = None
    if len(items) % 2:  # a trailing output sublist
        ops, out = ops[:-1], items[-1]

    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[check_int(s, "einsum: sublist")]
                       for s in sub)

    spec = ",".join(letters(s) for s in subs)
    return (spec + ("->" + letters(out) if out is not None else "")), ops


def _parse_einsum(subscripts, shapes):
    """Subscripts as explicit per-operand letter strings and an output string (ellipses spelled
    out with fresh letters, numpy's implicit output when there is no '->')."""
    inputs, arrow, out = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operand subscripts for {len(shapes)} operands")
    used = set(subscripts) - set(".,->")
    bad = used - set(_LETTERS)
    if bad:
        raise ValueError(f"einsum: invalid subscript characters {sorted(bad)}")
    fresh = [c for c in _LETTERS if c not in used]
    ell_dims = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ell_dims = max(ell_dims, len(shape) - named)
        elif named != len(shape):
            raise ValueError(f"einsum: operand subscripts {term!r} name {named} axes but the "
                             f"operand has shape {shape}")
    ell = "".join(fresh[:ell_dims])
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - len(term.replace("...", ""))
            if k < 0:
                raise ValueError(f"einsum: {term!r} names more axes than shape {shape}")
            term = term.replace("...", ell[ell_dims - k:])
        expanded.append(term)
    if not arrow:
        letters = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    elif "..." in out:
        out = out.replace("...", ell)
    if len(set(out)) != len(out) or not set(out) <= set("".join(expanded)):
        raise ValueError(f"einsum: invalid output subscripts {out!r}")
    return expanded, out


def _einsum_operand(op, term, sizes):
    """One operand made fit for the Einsum primitive: repeated letters become a diagonal taken
    by indexing, and size-1 axes broadcast against a longer one are dropped (so the primitive
    never broadcasts)."""
    op = op if isinstance(op, Tensor) else Tensor(op)
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        i, j = term.index(c), term.index(c, term.index(c) + 1)
        op = op.diagonal(0, i, j)  # the diagonal axis goes last
        term = "".join(ch for k, ch in enumerate(term) if k not in (i, j)) + c
    drop = [i for i, c in enumerate(term) if op.shape[i] == 1 and sizes.get(c, 1) != 1]
    if drop:
        op = op.reshape(tuple(n for i, n in enumerate(op.shape) if i not in drop))
        term = "".join(c for i, c in enumerate(term) if i not in drop)
    return (op if op.requires_grad else op.data), term


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None,
             requires_grad: bool = False) -> Tensor:
    """`num` evenly spaced values from start to stop (numpy's linspace; float32 by default).

    >>> linspace(0, 1, 3)
    tensor([0. , 0.5, 1. ])
    """
    arr = np.linspace(start, stop, check_int(num, "num", minimum=0), endpoint=endpoint)
    return Tensor(arr.astype(_as_dtype(dtype) or np.float32), requires_grad=requires_grad)


def meshgrid(*xs, indexing: str = "xy") -> list:
    """numpy's meshgrid (indexing="xy" by default; PyTorch's default is "ij"): coordinate
    tensors, differentiable in the inputs."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [(x if isinstance(x, Tensor) else Tensor(x)).reshape(-1) for x in xs]
    shape = [x.shape[0] for x in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and len(xs) >= 2 else i
        view = [1] * len(xs)
        view[axis] = -1
        out.append(x.reshape(view).broadcast_to(tuple(shape)))
    return out


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, generator=None) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, PyTorch's function: (..., L, E) queries,
    (..., S, E) keys, (..., S, Ev) values. A boolean mask says which keys each query may see
    (True: attend); a float mask is added to the scores; is_causal masks keys after the query.
    A query that may see no key gets zeros (as PyTorch 2.x).

    >>> q = Tensor.ones(1, 2, 4)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (1, 2, 4)
    """
    query, key, value = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError("scaled_dot_product_attention: query, key and value need (..., L, E)")
    n_q, n_k = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    scores = (query @ key.swapaxes(-1, -2)) * scale
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
        attn_mask = np.tri(n_q, n_k, dtype=bool)
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype == np.bool_:
            scores = Tensor._where(mask, scores, np.array(-np.inf, dtype=scores.dtype))
        else:
            scores = scores + attn_mask
    with np.errstate(invalid="ignore"):
        dead = np.isneginf(scores.data.max(axis=-1, keepdims=True)) if scores.size else None
    if dead is not None and dead.any():  # rows that may see nothing: zeros, not NaN
        scores = Tensor._where(dead, np.zeros((), dtype=scores.dtype), scores)
        weights = Tensor._where(dead, np.zeros((), dtype=scores.dtype), scores.softmax(-1))
    else:
        weights = scores.softmax(-1)
    if dropout_p:
        weights = weights.dropout(dropout_p, generator=generator)
    return weights @ value


def cat(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """PyTorch's name for concatenate (dim= or axis=)."""
    return Tensor.concatenate(tensors, axis, dim=dim)

