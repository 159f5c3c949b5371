"""Tensor: an ndarray plus its place in the computation graph.

The file has four parts: construction, one-line bindings of the primitives in ops.py, composite ops
(built only from other Tensor operations, never with gradient code), and autograd entry points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import rng
from .argcheck import check_int, check_real_dtype, int_pair, normalize_axis
from .autograd import STATE, Node, mark_modified, no_grad, run_backward
from .ops import (
    Add,
    Cast,
    Concatenate,
    Cos,
    Div,
    Exp,
    Expand,
    GetItem,
    Log,
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
    Reshape,
    SetItem,
    Sigmoid,
    Sin,
    SlidingWindow,
    Softplus,
    Sqrt,
    Sub,
    Sum,
    Tanh,
    Where,
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
    # NOTE: numpy defers to our reflected operators, so ndarray * Tensor is a Tensor, not an
    # object array of Tensors.
    __array_ufunc__ = None

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
    # NOTE: `other if isinstance(other, _CONST) else _operand(other)` inlines the common case of
    # _operand (a Tensor, scalar or array passes through): these run for every op of every step.
    def __add__(self, other):
        return Add.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __radd__(self, other):
        return Add.apply(other if isinstance(other, _CONST) else _operand(other), self)

    def __mul__(self, other):
        return Mul.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __rmul__(self, other):
        return Mul.apply(other if isinstance(other, _CONST) else _operand(other), self)

    def __truediv__(self, other):
        return Div.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __rtruediv__(self, other):
        return Div.apply(other if isinstance(other, _CONST) else _operand(other), self)

    def __pow__(self, other):
        return Pow.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __rpow__(self, other):
        return Pow.apply(other if isinstance(other, _CONST) else _operand(other), self)

    def __matmul__(self, other):
        return MatMul.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __rmatmul__(self, other):
        return MatMul.apply(other if isinstance(other, _CONST) else _operand(other), self)

    def __neg__(self): return Neg.apply(self)
    def __pos__(self): return self
    def __abs__(self): return self.abs()

    def __sub__(self, other):
        return Sub.apply(self, other if isinstance(other, _CONST) else _operand(other))

    def __rsub__(self, other):
        return Sub.apply(other if isinstance(other, _CONST) else _operand(other), self)

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
        return Sqrt.apply(self)

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

    where = _hybridmethod(_where, _where_method)

    # -------------------------------------------------------------------------- reductions ----
    def sum(self, axis=None, keepdims=False) -> Tensor:
        """Sum over `axis` (int, tuple or None for all).

        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
        tensor([4., 6.])
        """
        if axis is not None and type(axis) is not int:  # NOTE: the common cases skip the check
            axis = _axis_arg(axis)
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False) -> Tensor:
        """Mean over `axis`."""
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
        if axis is not None and type(axis) is not int:
            axis = _axis_arg(axis)
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False) -> Tensor:
        """Minimum over `axis` (ties split the gradient evenly)."""
        if axis is not None and type(axis) is not int:
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
        if not axes and self.data.ndim == 2:  # NOTE: the common case (x @ w.T), kept cheap
            return Permute.apply(self, axes=(1, 0))
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
        """numpy's pad (constant mode): `pad_width` is one (before, after) pair per axis, or one
        pair / one int for all axes."""
        if mode != "constant":
            raise ValueError(f"pad supports mode='constant' only, got {mode!r}")
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
        if any(a < 0 or b < 0 for a, b in pad_width):
            raise ValueError(f"pad widths must be non-negative, got {pad_width}")
        return Pad.apply(self, pad_width=pad_width, value=constant_values)

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
        weight = weight if isinstance(weight, _CONST) else _operand(weight)
        if bias is None:
            return MatMul.apply(self, weight, transpose_b=True)
        bias = bias if isinstance(bias, _CONST) else _operand(bias)
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
        return Tensor(np.eye(num_classes, dtype=dtype)[labels])

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
    def _windows(self, kernel, stride, padding, pad_value):
        """(N, C, H, W) -> padded sliding windows (N, C, out_h, out_w, kh, kw)."""
        if self.ndim != 4:
            raise ValueError(f"expected a 4-D input (N, C, H, W), got shape {self.shape}")
        ph, pw = _pair(padding)
        (kh, kw), (h, w) = _pair(kernel), self.shape[2:]
        if kh > h + 2 * ph or kw > w + 2 * pw:
            raise ValueError(f"kernel_size {(kh, kw)} is larger than the input's {h}x{w} plane "
                             f"(padded by {(ph, pw)}); the output would be empty")
        x = self.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value) if ph or pw else self
        return SlidingWindow.apply(x, window=_pair(kernel), stride=_pair(stride))

    def conv2d(self, weight, bias=None, stride=1, padding=0) -> Tensor:
        """2-D convolution (cross-correlation, as PyTorch): input (N, C, H, W), weight
        (O, C, kh, kw), optional bias (O,) -> (N, O, out_h, out_w).

        >>> x = Tensor.ones(1, 1, 3, 3)
        >>> x.conv2d(Tensor.ones(1, 1, 2, 2)).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
        """
        unbatched = self.ndim == 3
        x = self.expand_dims(0) if unbatched else self
        weight = _operand(weight)
        if weight.ndim != 4 or x.ndim != 4 or weight.shape[1] != x.shape[1]:
            raise ValueError(
                f"conv2d: input of shape {self.shape} and weight of shape {tuple(weight.shape)} do not "
                "fit: weight must be (out_channels, in_channels, kh, kw) with in_channels = input's C"
            )
        out_c, in_c, kh, kw = weight.shape
        stride, padding = int_pair(stride, "stride", 1), int_pair(padding, "padding", 0)
        if kh < 1 or kw < 1:
            raise ValueError(f"conv2d: the kernel (weight of shape {tuple(weight.shape)}) is empty")
        cols = x._windows((kh, kw), stride, padding, 0.0)  # (N, C, oh, ow, kh, kw)
        n, _, oh, ow = cols.shape[:4]
        # NOTE: im2col as (N, C*kh*kw, oh*ow), not (N*oh*ow, C*kh*kw): the copy reads whole rows
        # of the input, one matmul per image gives the output in (N, O, ...) order with no final
        # transpose copy, and the backward's col2im adds contiguous planes (2-4x cheaper each).
        cols = cols.transpose(0, 1, 4, 5, 2, 3).reshape(n, in_c * kh * kw, oh * ow)
        out = weight.reshape(out_c, in_c * kh * kw) @ cols  # (N, O, oh*ow)
        if bias is not None:
            out = out + bias.reshape(out_c, 1)
        out = out.reshape(n, out_c, oh, ow)
        return out[0] if unbatched else out

    def max_pool2d(self, kernel_size, stride=None, padding=0) -> Tensor:
        """2-D max pooling with PyTorch's arguments (stride defaults to kernel_size; padding is -inf).
        Ties inside a window split the gradient evenly."""
        kernel_size, stride, padding = _pool_args("max_pool2d", kernel_size, stride, padding)
        blocks = self._blocks(kernel_size, stride, padding)
        if blocks is not None:
            return blocks.max(axis=(3, 5))
        # NOTE: padding never wins the max: -inf for floats, the smallest value for integers
        low = -np.inf if self.dtype.kind == "f" else np.iinfo(self.dtype).min
        return self._windows(kernel_size, stride, padding, low).max(axis=(-2, -1))

    def avg_pool2d(self, kernel_size, stride=None, padding=0) -> Tensor:
        """2-D average pooling with PyTorch's arguments; padded zeros count in the average
        (PyTorch's default count_include_pad=True)."""
        kernel_size, stride, padding = _pool_args("avg_pool2d", kernel_size, stride, padding)
        blocks = self._blocks(kernel_size, stride, padding)
        if blocks is not None:
            return blocks.mean(axis=(3, 5))
        return self._windows(kernel_size, stride, padding, 0.0).mean(axis=(-2, -1))

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

    # ------------------------------------------------------------------------------ autograd ----
    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Reverse-mode autodiff from this tensor; leaves that require grad accumulate into .grad.

        A non-scalar tensor needs `gradient` (the vector in the vector-Jacobian product).
        """
        if gradient is None and self.requires_grad and self.data.size == 1:
            gradient = self._from_op(_one(self.data.dtype).reshape(self.data.shape), None)
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
        method.__doc__ = "In-place form: the result replaces self's data (and its place in the graph)."
        return method

    __iadd__ = _inplace(lambda a, b: a + b)
    __isub__ = _inplace(lambda a, b: a - b)
    __imul__ = _inplace(lambda a, b: a * b)
    __itruediv__ = _inplace(lambda a, b: a / b)
    __ipow__ = _inplace(lambda a, b: a ** b)

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


def _pool_args(name, kernel_size, stride, padding):
    """PyTorch's checks on pooling settings: a positive kernel and stride (stride defaults to the
    kernel), and padding at most half the kernel (more would give windows entirely of padding)."""
    kernel = int_pair(kernel_size, f"{name}: kernel_size", 1)
    stride = kernel if stride is None else int_pair(stride, f"{name}: stride", 1)
    padding = int_pair(padding, f"{name}: padding", 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding should be at most half of kernel_size, got "
                         f"padding={padding} for kernel_size={kernel}")
    return kernel, stride, padding


def _dtype_of(t):
    return t.dtype if isinstance(t, (Tensor, np.ndarray)) else np.asarray(t).dtype


_pair = int_pair  # an int or a pair of ints, as a checked pair


# ------------------------------------------------------------------------------ module level ----
def concatenate(tensors, axis=0):
    """Tensors joined along an existing axis."""
    return Tensor.concatenate(tensors, axis)


def stack(tensors, axis=0):
    """Tensors joined along a new axis."""
    return Tensor.stack(tensors, axis)


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
