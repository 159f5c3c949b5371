"""numpy's dispatch protocols for Tensor: `np.exp(t)`, `ndarray * t`, `np.sum(t, axis=0)`,
`np.concatenate([t, u])`, `np.where(c, t, u)`, `np.einsum(...)` run the Tensor operation, so the
result is a Tensor that stays in the graph.

Two tables say what is implemented: `UFUNCS` (numpy's ufuncs, called as functions and, for a few,
through `.reduce` / `.accumulate` / `.outer`) and `FUNCTIONS` (numpy functions, each with numpy's
own signature). For anything else:
- if a Tensor argument requires grad (while grad mode is on), a TypeError names the function:
  numpy would otherwise compute on the bare array and silently drop the graph;
- otherwise the call runs on the arrays as before and returns numpy's result (`np.histogram(t)`,
  `np.percentile(t, 5)` keep working for plotting and statistics).
`np.asarray(t)` and `np.array(t)` are not dispatched: they give the read-only view (or a copy).
Arguments numpy has but a Tensor op cannot honour (`out=`, `where=`, `dtype=` of most reductions)
are refused by name, never ignored.
"""

from __future__ import annotations

import numpy as np

from .autograd import STATE
from .tensor import Tensor, einsum, meshgrid

# ----------------------------------------------------------------------------------- ufuncs ----
# ufunc -> Tensor method name (binary ones are called on the first operand when it is a Tensor,
# else through the reflected method on the second, so numpy's promotion of scalars holds)
_BINARY = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
    np.remainder: ("__mod__", "__rmod__"), np.floor_divide: ("__floordiv__", "__rfloordiv__"),
    np.maximum: ("maximum", None), np.minimum: ("minimum", None),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__"),
    np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
    np.bitwise_and: ("__and__", "__rand__"), np.bitwise_or: ("__or__", "__ror__"),
    np.bitwise_xor: ("__xor__", "__rxor__"), np.left_shift: ("__lshift__", "__rlshift__"),
    np.right_shift: ("__rshift__", "__rrshift__"),
}
_UNARY = {
    np.negative: "__neg__", np.positive: "__pos__", np.absolute: "abs", np.exp: "exp",
    np.exp2: "exp2", np.expm1: "expm1", np.log: "log", np.log2: "log2", np.log10: "log10",
    np.log1p: "log1p", np.sqrt: "sqrt", np.square: "square", np.reciprocal: "reciprocal",
    np.sin: "sin", np.cos: "cos", np.tan: "tan", np.arcsin: "arcsin", np.arccos: "arccos",
    np.arctan: "arctan", np.sinh: "sinh", np.cosh: "cosh", np.tanh: "tanh", np.sign: "sign",
    np.floor: "floor", np.ceil: "ceil", np.trunc: "trunc", np.rint: "round",
    np.invert: "__invert__",
}
# no gradient: computed on the arrays, the result wrapped as a Tensor
_NO_GRAD = {np.isnan, np.isinf, np.isfinite, np.signbit, np.logical_not, np.logical_and,
            np.logical_or, np.logical_xor}
# ufunc.reduce / .accumulate -> Tensor method
_REDUCE = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}
_ACCUMULATE = {np.add: "cumsum", np.multiply: "cumprod"}

UFUNCS = frozenset(_BINARY) | frozenset(_UNARY) | frozenset(_NO_GRAD)


def array_ufunc(ufunc, method, inputs, kwargs):
    """Tensor.__array_ufunc__: run a ufunc as Tensor operations (see the module docstring)."""
    name = None
    if kwargs:
        name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        _refuse_arguments(name, kwargs, allowed=("axis", "keepdims") if method != "__call__" else ())
    if method == "__call__":
        if ufunc in _BINARY and len(inputs) == 2:
            a, b = inputs
            forward, reflected = _BINARY[ufunc]
            if isinstance(a, Tensor):
                return getattr(a, forward)(b)
            if reflected is not None:
                return getattr(b, reflected)(a)
            return getattr(Tensor(a), forward)(b)
        if ufunc in _UNARY and len(inputs) == 1:
            return getattr(inputs[0], _UNARY[ufunc])()
        if ufunc in _NO_GRAD:
            return Tensor(ufunc(*[_plain(x) for x in inputs]))
    elif method in ("reduce", "accumulate") and len(inputs) == 1:
        table = _REDUCE if method == "reduce" else _ACCUMULATE
        if ufunc in table:
            x = inputs[0]
            axis = kwargs.get("axis", 0)
            if method == "reduce":
                return getattr(x, table[ufunc])(axis=axis, keepdims=kwargs.get("keepdims", False))
            return getattr(x, table[ufunc])(axis=axis)
    elif method == "outer" and ufunc in _BINARY and len(inputs) == 2:
        a, b = (x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
        a = a.reshape(a.shape + (1,) * b.ndim)
        return array_ufunc(ufunc, "__call__", (a, b), {})
    name = name or f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    return _fallback(name, ufunc if method == "__call__" else getattr(ufunc, method), inputs,
                     kwargs)


# -------------------------------------------------------------------------------- functions ----
def _no(name, **given):
    """Refuse numpy arguments a Tensor op cannot honour, by name (never silently ignored)."""
    for key, value in given.items():
        if value is not None and value is not np._NoValue:
            raise TypeError(f"np.{name}(..., {key}=...) is not supported on Tensors "
                            f"(tinygrad_lite tensors are never written in place, and {key}= would "
                            "be ignored); drop it")


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no("sum", dtype=dtype, out=out, initial=initial, where=where)
    return _t(a).sum(axis=axis, keepdims=keepdims)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no("mean", dtype=dtype, out=out, where=where)
    return _t(a).mean(axis=axis, keepdims=keepdims)


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
         correction=None):
    _no("var", dtype=dtype, out=out, where=where, mean=mean)
    return _t(a).var(axis=axis, ddof=ddof if correction is None else correction, keepdims=keepdims)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
         correction=None):
    _no("std", dtype=dtype, out=out, where=where, mean=mean)
    return _t(a).std(axis=axis, ddof=ddof if correction is None else correction, keepdims=keepdims)


def _extreme(method):
    def reduce(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        _no(method, out=out, initial=initial, where=where)
        return getattr(_t(a), method)(axis=axis, keepdims=keepdims)
    return reduce


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no("prod", dtype=dtype, out=out, initial=initial, where=where)
    return _t(a).prod(axis=axis, keepdims=keepdims)


def _scan(method):
    def scan(a, axis=None, dtype=None, out=None):
        _no(method, dtype=dtype, out=out)
        return getattr(_t(a), method)(axis=axis)
    return scan


def _arg(method):
    def arg(a, axis=None, out=None, *, keepdims=False):
        _no(method, out=out)
        return getattr(_t(a), method)(axis=axis, keepdims=keepdims)
    return arg


def _logical(method):
    def reduce(a, axis=None, out=None, keepdims=False, *, where=None):
        _no(method, out=out, where=where)
        return getattr(_t(a), method)(axis=axis, keepdims=keepdims)
    return reduce


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _no("sort", order=order)
    return _t(a).sort(axis=axis)


def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    _no("argsort", order=order)
    return _t(a).argsort(axis=axis)


def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _no("median", out=out)
    return _t(a).median(axis=axis, keepdims=keepdims)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise TypeError("np.reshape(..., order=...): only order='C' is supported on Tensors")
    return _t(a).reshape(shape if shape is not None else newshape)


def _transpose(a, axes=None):
    return _t(a).transpose() if axes is None else _t(a).transpose(tuple(axes))


def _moveaxis(a, source, destination):
    a = _t(a)
    source = [s % a.ndim for s in np.atleast_1d(source).tolist()]
    destination = [d % a.ndim for d in np.atleast_1d(destination).tolist()]
    order = [n for n in range(a.ndim) if n not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return a.transpose(tuple(order))


def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting=None):
    _no("concatenate", out=out, dtype=dtype)
    if axis is None:
        return Tensor.concatenate([_t(x).reshape(-1) for x in arrays])
    return Tensor.concatenate(list(arrays), axis)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting=None):
    _no("stack", out=out, dtype=dtype)
    return Tensor.stack(list(arrays), axis)


def _vstack(tup, *, dtype=None, casting=None):
    _no("vstack", dtype=dtype)
    return Tensor.concatenate([x.reshape(1, -1) if x.ndim < 2 else x for x in map(_t, tup)], 0)


def _hstack(tup, *, dtype=None, casting=None):
    _no("hstack", dtype=dtype)
    xs = [x.reshape(1) if x.ndim == 0 else x for x in map(_t, tup)]
    return Tensor.concatenate(xs, 0 if xs[0].ndim == 1 else 1)


def _split(ary, indices_or_sections, axis=0):
    return _t(ary).split(indices_or_sections, axis)


def _where(condition, x=None, y=None):
    if x is None and y is None:  # np.where(cond): indices, no gradient
        return tuple(Tensor(i) for i in np.nonzero(_plain(condition)))
    return Tensor.where(condition, x, y)


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,  # noqa: A002
          max=np._NoValue, **kwargs):  # noqa: A002
    _no("clip", out=out, **{k: v for k, v in kwargs.items()})
    lo = a_min if a_min is not np._NoValue else (None if min is np._NoValue else min)
    hi = a_max if a_max is not np._NoValue else (None if max is np._NoValue else max)
    return _t(a).clip(lo, hi)


def _pad(array, pad_width, mode="constant", **kwargs):
    constant = kwargs.pop("constant_values", 0)
    if kwargs or not np.isscalar(constant):
        raise TypeError(f"np.pad on a Tensor supports constant_values (one number) only, got "
                        f"{sorted(kwargs) or 'per-axis constant_values'}")
    return _t(array).pad(pad_width, mode=mode, constant_values=constant)


def _round(a, decimals=0, out=None):
    _no("round", out=out)
    return _t(a).round(decimals)


def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _t(a).isclose(b, rtol, atol, equal_nan)


def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _t(a).allclose(b, rtol, atol, equal_nan)


def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return _t(x).nan_to_num(nan, posinf, neginf)


def _norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return _t(x).norm(ord, axis, keepdims)


def _einsum(*operands, out=None, optimize=False, **kwargs):
    _no("einsum", out=out, **kwargs)
    return einsum(*operands)


def _dot(a, b, out=None):
    _no("dot", out=out)
    return _t(a).dot(b)


def _tensordot(a, b, axes=2):
    return _t(a).tensordot(b, axes)


def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    _no("diff", prepend=prepend, append=append)
    a = _t(a)
    axis = axis % a.ndim
    lead = (slice(None),) * axis
    for _ in range(n):
        a = a[lead + (slice(1, None),)] - a[lead + (slice(None, -1),)]
    return a


def _like(fn):
    """zeros_like & co: the values of the argument do not matter, so there is no graph to keep."""
    def like(a, *args, **kwargs):
        return Tensor(fn(_plain(a), *args, **kwargs))
    return like


def _shape_query(fn):
    """np.shape, np.ndim, np.size: numbers, as numpy gives them."""
    def query(a, *args, **kwargs):
        return fn(_plain(a), *args, **kwargs)
    return query


FUNCTIONS = {
    np.sum: _sum, np.mean: _mean, np.var: _var, np.std: _std,
    np.max: _extreme("max"), np.min: _extreme("min"), np.amax: _extreme("max"),
    np.amin: _extreme("min"), np.prod: _prod, np.cumsum: _scan("cumsum"),
    np.cumprod: _scan("cumprod"), np.argmax: _arg("argmax"), np.argmin: _arg("argmin"),
    np.any: _logical("any"), np.all: _logical("all"), np.sort: _sort, np.argsort: _argsort,
    np.median: _median,
    np.reshape: _reshape, np.ravel: lambda a, order="C": _t(a).ravel(),
    np.transpose: _transpose, np.swapaxes: lambda a, axis1, axis2: _t(a).swapaxes(axis1, axis2),
    np.moveaxis: _moveaxis, np.squeeze: lambda a, axis=None: _t(a).squeeze(axis),
    np.expand_dims: lambda a, axis: _t(a).expand_dims(axis),
    np.broadcast_to: lambda array, shape, subok=False: _t(array).broadcast_to(shape),
    np.concatenate: _concatenate, np.stack: _stack, np.vstack: _vstack, np.hstack: _hstack,
    np.split: _split, np.flip: lambda m, axis=None: _t(m).flip(axis),
    np.fliplr: lambda m: _t(m).fliplr(), np.flipud: lambda m: _t(m).flipud(),
    np.roll: lambda a, shift, axis=None: _t(a).roll(shift, axis),
    np.rot90: lambda m, k=1, axes=(0, 1): _t(m).rot90(k, axes),
    np.repeat: lambda a, repeats, axis=None: _t(a).repeat(repeats, axis),
    np.tile: lambda A, reps: _t(A).tile(reps),
    np.tril: lambda m, k=0: _t(m).tril(k), np.triu: lambda m, k=0: _t(m).triu(k),
    np.diag: lambda v, k=0: _t(v).diag(k),
    np.diagonal: lambda a, offset=0, axis1=0, axis2=1: _t(a).diagonal(offset, axis1, axis2),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: (
        _no("trace", dtype=dtype, out=out) or _t(a).trace(offset, axis1, axis2)),
    np.outer: lambda a, b, out=None: _no("outer", out=out) or _t(a).outer(b),
    np.tensordot: _tensordot, np.einsum: _einsum, np.dot: _dot,
    np.take_along_axis: lambda arr, indices, axis=-1: _t(arr).take_along_axis(indices, axis),
    np.where: _where, np.clip: _clip, np.pad: _pad, np.round: _round, np.around: _round,
    np.isclose: _isclose, np.allclose: _allclose, np.nan_to_num: _nan_to_num,
    np.linalg.norm: _norm, np.diff: _diff,
    np.meshgrid: lambda *xi, copy=True, sparse=False, indexing="xy": meshgrid(
        *xi, indexing=indexing),
    np.copy: lambda a, order="K", subok=False: _t(a).clone(),
    np.zeros_like: _like(np.zeros_like), np.ones_like: _like(np.ones_like),
    np.full_like: _like(np.full_like), np.empty_like: _like(np.empty_like),
    np.shape: _shape_query(np.shape), np.ndim: _shape_query(np.ndim),
    np.size: _shape_query(np.size),
}


def array_function(func, types, args, kwargs):
    """Tensor.__array_function__: run a numpy function as Tensor operations (module docstring)."""
    impl = FUNCTIONS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    return _fallback(f"np.{func.__name__}", func, args, kwargs)


# --------------------------------------------------------------------------------- fallback ----
def _fallback(name, fn, args, kwargs):
    """numpy on the arrays, unless a Tensor that requires grad is among the arguments (then the
    graph would be lost silently: refused, naming the function)."""
    if STATE.grad_enabled and _any_requires_grad((args, kwargs)):
        raise TypeError(
            f"{name} is not implemented for Tensors that require grad: numpy would compute on the "
            "bare array and the result would silently leave the graph. Use Tensor operations "
            "(the list of numpy functions that work is in docs/api/tensor.md), or call it on "
            "t.detach().numpy() if no gradient should flow through it.")
    return fn(*_plain(args), **_plain(kwargs))


def _any_requires_grad(obj) -> bool:
    if isinstance(obj, Tensor):
        return obj.requires_grad
    if isinstance(obj, (list, tuple)):
        return any(_any_requires_grad(x) for x in obj)
    if isinstance(obj, dict):
        return any(_any_requires_grad(x) for x in obj.values())
    return False


def _plain(obj):
    """Tensors inside `obj` (nested lists, tuples, dicts) replaced by their read-only arrays."""
    if isinstance(obj, Tensor):
        return obj.numpy()
    if isinstance(obj, list):
        return [_plain(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _refuse_arguments(name, kwargs, allowed=()):
    for key, value in kwargs.items():
        if key in allowed:
            continue
        if key == "out" and all(v is None for v in (value if isinstance(value, tuple) else (value,))):
            continue
        if value is not None:
            raise TypeError(f"{name}(..., {key}=...) is not supported on Tensors (tinygrad_lite "
                            f"tensors are never written in place, and {key}= would be ignored); "
                            "drop it")
