"""One table of operations drives the generic op tests (forward vs numpy, gradcheck, gradgradcheck,
broadcast gradient shapes) and the coverage test.

Each row's `fn` is written with numpy's names, so where numpy has the same method the one lambda is
both the Tensor function and its numpy reference; otherwise `ref` gives the numpy reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor

from . import conv_reference as C


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable  # Tensor(s) -> Tensor; also the numpy reference when ref is None
    ref: Callable | None = None  # numpy arrays -> array
    arity: int = 1
    # "elementwise": any shape; "broadcast": arity-2 with mutually broadcastable shapes;
    # "reduce": shape with >= 1 dim; "fixed": only the shapes in `shapes`
    kind: str = "elementwise"
    domain: tuple = (-2.0, 2.0)
    kinks: tuple = ()  # non-differentiable points that sampled values keep away from
    shapes: tuple = ()  # for kind="fixed": a tuple of shape tuples, one per input
    min_dims: int = 0
    nonempty: bool = False  # the op needs at least one element (max of an empty array is undefined)
    distinct: bool = False  # values must differ (ties make max/min/sort non-differentiable)
    grad: bool = True
    gradgrad: bool = True
    covers: tuple = field(default_factory=tuple)  # Tensor methods/primitives this row exercises
    rtol: float = 1e-5
    atol: float = 1e-6

    def reference(self, *arrays):
        return (self.ref or self.fn)(*arrays)


def _conv_ref(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, -1, 1, 1)


def _pool_ref(x, k, stride, padding, reduce, pad_value):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                constant_values=pad_value)
    n, c, h, w = xp.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k],
                                     axis=(2, 3))
    return out


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softplus(x):
    return np.logaddexp(0, x)


OPS = [
    # ------------------------------------------------------------------ elementwise unary ----
    OpSpec("neg", lambda a: -a, covers=("__neg__", "Neg")),
    OpSpec("exp", lambda a: a.exp(), np.exp, covers=("Exp",)),
    OpSpec("log", lambda a: a.log(), np.log, domain=(0.2, 3.0), covers=("Log",)),
    OpSpec("sqrt", lambda a: a.sqrt(), np.sqrt, domain=(0.2, 3.0)),
    OpSpec("sin", lambda a: a.sin(), np.sin, covers=("Sin",)),
    OpSpec("cos", lambda a: a.cos(), np.cos, covers=("Cos",)),
    OpSpec("tanh", lambda a: a.tanh(), np.tanh, covers=("Tanh",)),
    OpSpec("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), domain=(-6, 6),
           covers=("Sigmoid",)),
    OpSpec("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), kinks=(0.0,), covers=("Relu",)),
    OpSpec("leaky_relu", lambda a: a.leaky_relu(0.1), lambda a: np.where(a > 0, a, 0.1 * a),
           kinks=(0.0,)),
    OpSpec("softplus", lambda a: a.softplus(), _softplus, domain=(-5, 5), covers=("Softplus",)),
    OpSpec("softplus_beta", lambda a: a.softplus(beta=2.0), lambda a: _softplus(2 * a) / 2,
           covers=("softplus",)),
    OpSpec("abs", lambda a: abs(a), np.abs, kinks=(0.0,), covers=("abs", "__abs__")),
    OpSpec("square", lambda a: a.square(), np.square),
    OpSpec("clip", lambda a: a.clip(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
           kinks=(-0.5, 0.7)),
    OpSpec("clip_max_only", lambda a: a.clip(max=0.3), lambda a: np.minimum(a, 0.3), kinks=(0.3,),
           covers=("clip",)),
    OpSpec("pow_scalar", lambda a: a ** 3, covers=("__pow__", "Pow")),
    OpSpec("pow_frac", lambda a: a ** 1.5, domain=(0.2, 2.0), covers=("__pow__",)),
    OpSpec("rpow", lambda a: 2.0 ** a, covers=("__rpow__",)),
    OpSpec("scalar_arith", lambda a: (3.0 - a) * 2.0 / 4.0 + 1.0 - (a / 2.0),
           covers=("__rsub__", "__sub__", "__truediv__", "__mul__", "__add__")),
    OpSpec("rdiv", lambda a: 1.0 / a, domain=(0.3, 2.0), covers=("__rtruediv__", "Div")),
    OpSpec("astype64", lambda a: a.astype(np.float64) * 2, covers=("astype", "double", "Cast")),
    OpSpec("clone", lambda a: a.clone() * 2, lambda a: a * 2, covers=("clone", "Cast")),
    # ---------------------------------------------------------------- broadcasting binary ----
    OpSpec("add", lambda a, b: a + b, arity=2, kind="broadcast", covers=("__add__", "Add")),
    OpSpec("sub", lambda a, b: a - b, arity=2, kind="broadcast", covers=("__sub__", "Sub")),
    OpSpec("mul", lambda a, b: a * b, arity=2, kind="broadcast", covers=("__mul__", "Mul")),
    OpSpec("div", lambda a, b: a / b, lambda a, b: a / b, arity=2, kind="broadcast",
           domain=(0.5, 2.0), covers=("__truediv__", "Div")),
    OpSpec("pow", lambda a, b: a ** b, arity=2, kind="broadcast", domain=(0.5, 2.0),
           covers=("__pow__", "Pow")),
    OpSpec("maximum", lambda a, b: a.maximum(b), np.maximum, arity=2, kind="broadcast",
           distinct=True, covers=("Maximum",)),
    OpSpec("minimum", lambda a, b: a.minimum(b), np.minimum, arity=2, kind="broadcast",
           distinct=True, covers=("Minimum",)),
    OpSpec("where", lambda a, b: tg.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b),
           arity=2, kind="broadcast", kinks=(0.0,), covers=("where", "Where", "__gt__")),
    OpSpec("where_method", lambda a, b: a.where(b < 0.1, b), lambda a, b: np.where(b < 0.1, a, b),
           arity=2, kind="broadcast", kinks=(0.1,), covers=("where", "__lt__")),
    # -------------------------------------------------------------------------- reductions ----
    OpSpec("sum", lambda a: a.sum(), covers=("Sum",)),
    OpSpec("sum_axis", lambda a: a.sum(axis=-1), kind="reduce", min_dims=1, covers=("sum",)),
    OpSpec("sum_tuple_keepdims", lambda a: a.sum(axis=(0, -1), keepdims=True), kind="reduce",
           min_dims=2, covers=("sum",)),
    OpSpec("mean", lambda a: a.mean(axis=0), kind="reduce", min_dims=1, nonempty=True),
    OpSpec("mean_all", lambda a: a.mean(), nonempty=True, covers=("mean",)),
    OpSpec("var", lambda a: a.var(axis=-1, ddof=0), kind="reduce", min_dims=1, nonempty=True),
    OpSpec("var_ddof", lambda a: a.var(ddof=1), kind="fixed", shapes=((3, 2),), covers=("var",)),
    OpSpec("std", lambda a: a.std(axis=0, keepdims=True), kind="fixed", shapes=((3, 2),),
           distinct=True),
    OpSpec("max", lambda a: a.max(), nonempty=True, distinct=True, covers=("Max",)),
    OpSpec("max_axis", lambda a: a.max(axis=-1, keepdims=True), kind="reduce", min_dims=1,
           nonempty=True, distinct=True, covers=("max",)),
    OpSpec("min", lambda a: a.min(axis=0), kind="reduce", min_dims=1, nonempty=True,
           distinct=True, covers=("Min",)),
    OpSpec("logsumexp", lambda a: a.logsumexp(axis=-1),
           lambda a: np.log(np.exp(a).sum(axis=-1)), kind="reduce", min_dims=1, nonempty=True),
    OpSpec("logsumexp_all", lambda a: a.logsumexp(), lambda a: np.log(np.exp(a).sum()),
           nonempty=True, covers=("logsumexp",)),
    OpSpec("softmax", lambda a: a.softmax(), _softmax, kind="reduce", min_dims=1, nonempty=True),
    OpSpec("softmax_axis0", lambda a: a.softmax(axis=0), lambda a: _softmax(a, 0), kind="reduce",
           min_dims=1, nonempty=True, covers=("softmax",)),
    OpSpec("log_softmax", lambda a: a.log_softmax(), lambda a: np.log(_softmax(a)), kind="reduce",
           min_dims=1, nonempty=True, covers=("LogSoftmax",)),
    OpSpec("log_softmax_axis0", lambda a: a.log_softmax(axis=0), lambda a: np.log(_softmax(a, 0)),
           kind="reduce", min_dims=1, nonempty=True, covers=("log_softmax",)),
    # ---------------------------------------------------------------------------- movement ----
    OpSpec("reshape", lambda a: a.reshape(-1), covers=("Reshape",)),
    OpSpec("view", lambda a: a.view(2, 3), lambda a: a.reshape(2, 3), kind="fixed",
           shapes=((3, 2),)),
    OpSpec("transpose", lambda a: a.transpose(), covers=("Permute", "T")),
    OpSpec("transpose_axes", lambda a: a.transpose(1, 2, 0), kind="fixed", shapes=((2, 3, 1),),
           covers=("transpose",)),
    OpSpec("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), kind="fixed",
           shapes=((2, 3, 2),)),
    OpSpec("swapaxes", lambda a: a.swapaxes(0, -1), kind="reduce", min_dims=1),
    OpSpec("T", lambda a: a.T, kind="fixed", shapes=((2, 3),)),
    OpSpec("flatten", lambda a: a.flatten(), kind="elementwise"),
    OpSpec("flatten_dims", lambda a: a.flatten(1), lambda a: a.reshape(a.shape[0], -1),
           kind="fixed", shapes=((2, 3, 2),), covers=("flatten",)),
    OpSpec("squeeze", lambda a: a.squeeze(), kind="fixed", shapes=((1, 3, 1),)),
    OpSpec("expand_dims", lambda a: a.expand_dims(1), lambda a: np.expand_dims(a, 1),
           kind="fixed", shapes=((2, 3),)),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(0), lambda a: a[None], kind="fixed",
           shapes=((2, 3),)),
    OpSpec("broadcast_to", lambda a: a.broadcast_to((2, 3, 2)),
           lambda a: np.broadcast_to(a, (2, 3, 2)), kind="fixed", shapes=((3, 1),),
           covers=("Expand",)),
    OpSpec("expand", lambda a: a.expand(4, -1), lambda a: np.broadcast_to(a, (4, 3)),
           kind="fixed", shapes=((1, 3),)),
    OpSpec("getitem_basic", lambda a: a[1:, ::2, None, ...], kind="fixed", shapes=((3, 4, 2),),
           covers=("__getitem__", "GetItem", "ScatterAdd")),
    OpSpec("getitem_int", lambda a: a[-1, 0], kind="fixed", shapes=((3, 2),),
           covers=("__getitem__",)),
    OpSpec("getitem_repeat", lambda a: a[np.array([0, 2, 0, 0])], kind="fixed", shapes=((3, 2),),
           covers=("__getitem__", "ScatterAdd")),
    OpSpec("getitem_2d_fancy", lambda a: a[np.array([1, 1]), np.array([0, 1])], kind="fixed",
           shapes=((2, 2),), covers=("__getitem__",)),
    OpSpec("getitem_mask", lambda a: a[a > 0], kind="fixed", shapes=((3, 4),), kinks=(0.0,),
           covers=("__getitem__",)),
    OpSpec("pad", lambda a: a.pad(((1, 0), (2, 1))), lambda a: np.pad(a, ((1, 0), (2, 1))),
           kind="fixed", shapes=((2, 3),), covers=("Pad",)),
    OpSpec("pad_value", lambda a: a.pad(1, constant_values=-2.0),
           lambda a: np.pad(a, 1, constant_values=-2.0), kind="fixed", shapes=((2, 2),),
           covers=("pad",)),
    OpSpec("concatenate", lambda a, b: tg.concatenate([a, b], axis=1),
           lambda a, b: np.concatenate([a, b], axis=1), arity=2, kind="fixed",
           shapes=((2, 3), (2, 1)), covers=("Concatenate",)),
    OpSpec("concatenate_static", lambda a, b: Tensor.concatenate([a, b]) if isinstance(a, Tensor)
           else np.concatenate([a, b]), arity=2, kind="fixed", shapes=((1, 2), (3, 2)),
           covers=("concatenate", "cat")),
    OpSpec("stack", lambda a, b: Tensor.stack([a, b], axis=-1) if isinstance(a, Tensor)
           else np.stack([a, b], axis=-1), arity=2, kind="fixed", shapes=((2, 3), (2, 3))),
    OpSpec("split", lambda a: a.split([1, 3], axis=1)[1] * 2,
           lambda a: np.split(a, [1, 3], axis=1)[1] * 2, kind="fixed", shapes=((2, 5),)),
    OpSpec("split_sections", lambda a: a.split(2)[1], lambda a: np.split(a, 2)[1], kind="fixed",
           shapes=((4, 2),), covers=("split",)),
    OpSpec("chunk", lambda a: a.chunk(3)[-1], lambda a: a[4:], kind="fixed", shapes=((5, 2),)),
    OpSpec("setitem", lambda a, b: _setitem(a, b), lambda a, b: _setitem(a, b), arity=2,
           kind="fixed", shapes=((3, 2), (2,)), covers=("__setitem__", "SetItem")),
    OpSpec("iadd", lambda a, b: _iadd(a, b), lambda a, b: _iadd(a, b), arity=2, kind="fixed",
           shapes=((3, 2), (2,)), covers=("__iadd__",)),
    # ------------------------------------------------------------------------------ linalg ----
    OpSpec("matmul", lambda a, b: a @ b, arity=2, kind="fixed", shapes=((3, 4), (4, 2)),
           covers=("__matmul__", "MatMul")),
    OpSpec("matmul_method", lambda a, b: a.matmul(b), np.matmul, arity=2, kind="fixed",
           shapes=((2, 1, 2, 3), (4, 3, 2)), covers=("matmul",)),
    OpSpec("matmul_vec_left", lambda a, b: a @ b, arity=2, kind="fixed", shapes=((3,), (2, 3, 2)),
           covers=("__matmul__",)),
    OpSpec("matmul_vec_right", lambda a, b: a @ b, arity=2, kind="fixed", shapes=((2, 3), (3,)),
           covers=("__matmul__",)),
    OpSpec("rmatmul", lambda a, b: np.ones((2, 3), dtype=b.dtype) @ b, arity=2, kind="fixed",
           shapes=((1,), (3, 2)), covers=("__rmatmul__",)),
    OpSpec("dot", lambda a, b: a.dot(b), np.dot, arity=2, kind="fixed", shapes=((3,), (3,))),
    OpSpec("linear", lambda x, w, b: x.linear(w, b), lambda x, w, b: x @ w.T + b, arity=3,
           kind="fixed", shapes=((4, 3), (2, 3), (2,)), covers=("MatMul",)),
    OpSpec("linear_batched", lambda x, w: x.linear(w), lambda x, w: x @ w.T, arity=2,
           kind="fixed", shapes=((2, 4, 3), (5, 3)), covers=("linear",)),
    OpSpec("matmul_transposed", lambda x, y: _matmul_t(x, y, True, True),
           lambda x, y: x.T @ y.T, arity=2, kind="fixed", shapes=((3, 2), (4, 3)),
           covers=("MatMul",)),
    OpSpec("matmul_transposed_a", lambda x, y: _matmul_t(x, y, True, False),
           lambda x, y: x.swapaxes(-1, -2) @ y, arity=2, kind="fixed", shapes=((2, 3, 2), (3, 4)),
           covers=("MatMul",)),
    # ---------------------------------------------------------------------- conv / pooling ----
    OpSpec("conv2d", lambda x, w, b: x.conv2d(w, b, stride=2, padding=1),
           lambda x, w, b: _conv_ref(x, w, b, 2, 1), arity=3, kind="fixed",
           shapes=((2, 2, 5, 4), (3, 2, 3, 2), (3,)),
           covers=("Conv2d", "SlidingWindow", "FoldWindows")),
    OpSpec("conv2d_plain", lambda x, w: x.conv2d(w),
           lambda x, w: _conv_ref(x, w, np.zeros(w.shape[0]), 1, 0), arity=2, kind="fixed",
           shapes=((1, 1, 4, 4), (2, 1, 2, 2)), covers=("conv2d",)),
    OpSpec("max_pool2d", lambda x: x.max_pool2d(2, stride=1, padding=1),
           lambda x: _pool_ref(x, 2, 1, 1, np.max, -np.inf), kind="fixed", shapes=((1, 2, 3, 3),),
           distinct=True),
    OpSpec("avg_pool2d", lambda x: x.avg_pool2d(3, stride=2, padding=1),
           lambda x: _pool_ref(x, 3, 2, 1, np.mean, 0.0), kind="fixed", shapes=((2, 1, 5, 5),)),
    # --------------------------------------------------- the convolution family (issue 10) ----
    OpSpec("conv2d_groups_dilation",
           lambda x, w, b: x.conv2d(w, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
           lambda x, w, b: C.conv2d(x, w, b, (2, 1), (1, 2), (2, 1), 2), arity=3, kind="fixed",
           shapes=((2, 4, 6, 5), (6, 2, 2, 2), (6,)), covers=("conv2d", "SlidingWindow")),
    OpSpec("conv1d", lambda x, w, b: x.conv1d(w, b, stride=2, padding=1, dilation=2, groups=2),
           lambda x, w, b: C.conv1d(x, w, b, 2, 1, 2, 2), arity=3, kind="fixed",
           shapes=((2, 4, 9), (4, 2, 3), (4,))),
    OpSpec("conv_transpose2d",
           lambda x, w, b: x.conv_transpose2d(w, b, stride=(2, 3), padding=(1, 0),
                                              output_padding=(1, 2), groups=2, dilation=(1, 2)),
           lambda x, w, b: C.conv_transpose2d(x, w, b, (2, 3), (1, 0), (1, 2), 2, (1, 2)), arity=3,
           kind="fixed", shapes=((2, 4, 3, 2), (4, 2, 3, 2), (4,)), covers=("FoldWindows",)),
    OpSpec("conv_transpose2d_plain", lambda x, w: x.conv_transpose2d(w),
           lambda x, w: C.conv_transpose2d(x, w), arity=2, kind="fixed",
           shapes=((1, 2, 3, 3), (2, 3, 2, 2)), covers=("conv_transpose2d",)),
    OpSpec("max_pool2d_ceil_dilation",
           lambda x: x.max_pool2d((3, 2), (2, 3), (1, 0), dilation=(1, 2), ceil_mode=True),
           lambda x: C.pool2d(x, (3, 2), (2, 3), (1, 0), (1, 2), True), kind="fixed",
           shapes=((1, 2, 6, 8),), distinct=True, covers=("max_pool2d",)),
    OpSpec("max_pool2d_indices", lambda x: x.max_pool2d(2, return_indices=True)[0],
           lambda x: C.pool2d(x, 2), kind="fixed", shapes=((2, 2, 4, 5),), distinct=True,
           covers=("max_pool2d",)),
    OpSpec("avg_pool2d_ceil_exclude_pad",
           lambda x: x.avg_pool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
           lambda x: C.pool2d(x, 3, 2, 1, 1, True, "avg", False), kind="fixed",
           shapes=((2, 1, 6, 7),), covers=("avg_pool2d",)),
    OpSpec("avg_pool2d_ceil_divisor", lambda x: x.avg_pool2d(2, ceil_mode=True, divisor_override=3),
           lambda x: C.pool2d(x, 2, ceil_mode=True, kind="avg", divisor_override=3), kind="fixed",
           shapes=((1, 2, 5, 5),), covers=("avg_pool2d",)),
    OpSpec("adaptive_avg_pool2d", lambda x: x.adaptive_avg_pool2d((3, 4)),
           lambda x: C.adaptive_pool2d(x, (3, 4)), kind="fixed", shapes=((2, 2, 7, 6),)),
    OpSpec("adaptive_avg_pool2d_even", lambda x: x.adaptive_avg_pool2d((2, None)),
           lambda x: C.adaptive_pool2d(x, (2, None)), kind="fixed", shapes=((1, 2, 4, 3),),
           covers=("adaptive_avg_pool2d",)),
    OpSpec("adaptive_max_pool2d", lambda x: x.adaptive_max_pool2d((3, 4)),
           lambda x: C.adaptive_pool2d(x, (3, 4), "max"), kind="fixed", shapes=((2, 2, 7, 6),),
           distinct=True),
    OpSpec("interpolate_nearest", lambda x: x.interpolate(size=(5, 7)),
           lambda x: C.interpolate(x, size=(5, 7)), kind="fixed", shapes=((1, 2, 3, 4),),
           covers=("interpolate",)),
    OpSpec("interpolate_bilinear",
           lambda x: x.interpolate(scale_factor=(1.5, 0.6), mode="bilinear"),
           lambda x: C.interpolate(x, scale_factor=(1.5, 0.6), mode="bilinear"), kind="fixed",
           shapes=((2, 1, 4, 5),), covers=("interpolate",)),
    OpSpec("interpolate_bilinear_align_corners",
           lambda x: x.interpolate(size=(5, 2), mode="bilinear", align_corners=True),
           lambda x: C.interpolate(x, size=(5, 2), mode="bilinear", align_corners=True),
           kind="fixed", shapes=((1, 2, 3, 4),), covers=("interpolate",)),
    OpSpec("interpolate_linear", lambda x: x.interpolate(size=7, mode="linear"),
           lambda x: C.interpolate(x, size=7, mode="linear"), kind="fixed", shapes=((2, 2, 4),),
           covers=("interpolate",)),
    # ===================================================================== issue 10 ops ====
    # ---------------------------------------------------------- elementwise: zero gradient ----
    OpSpec("sign", lambda a: a.sign(), np.sign, kinks=(0.0,)),
    OpSpec("floor", lambda a: a.floor(), np.floor, kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("ceil", lambda a: a.ceil(), np.ceil, kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("round", lambda a: a.round(), np.round, kinks=(-1.5, -0.5, 0.5, 1.5)),
    OpSpec("trunc", lambda a: a.trunc(), np.trunc, kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("floordiv", lambda a: a // 0.7, lambda a: np.floor_divide(a, 0.7),
           kinks=(-1.4, -0.7, 0.0, 0.7, 1.4), covers=("__floordiv__",)),
    OpSpec("rfloordiv", lambda a: 5.0 // a, lambda a: np.floor_divide(5.0, a), domain=(0.6, 2.0),
           kinks=(5 / 8, 5 / 7, 5 / 6, 1.0, 1.25, 5 / 3), covers=("__rfloordiv__",)),
    OpSpec("div_floor", lambda a: a.div(0.7, rounding_mode="floor"),
           lambda a: np.floor_divide(a, 0.7), kinks=(-1.4, -0.7, 0.0, 0.7, 1.4), covers=("div",)),
    OpSpec("div_trunc", lambda a: a.div(0.7, rounding_mode="trunc"), lambda a: np.trunc(a / 0.7),
           kinks=(-1.4, -0.7, 0.0, 0.7, 1.4), covers=("div",)),
    # ----------------------------------------------------------------- elementwise: maths ----
    OpSpec("mod", lambda a: a % 0.7, lambda a: np.remainder(a, 0.7),
           kinks=(-1.4, -0.7, 0.0, 0.7, 1.4), covers=("__mod__", "Remainder")),
    OpSpec("rmod", lambda a: 5.0 % a, lambda a: np.remainder(5.0, a), domain=(0.6, 2.0),
           kinks=(5 / 8, 5 / 7, 5 / 6, 1.0, 1.25, 5 / 3), covers=("__rmod__", "Remainder")),
    OpSpec("tan", lambda a: a.tan(), np.tan, domain=(-1.2, 1.2)),
    OpSpec("arcsin", lambda a: a.arcsin(), np.arcsin, domain=(-0.9, 0.9),
           covers=("Arcsin", "asin")),
    OpSpec("arccos", lambda a: a.arccos(), np.arccos, domain=(-0.9, 0.9),
           covers=("Arccos", "acos")),
    OpSpec("arctan", lambda a: a.arctan(), np.arctan, covers=("Arctan", "atan")),
    OpSpec("sinh", lambda a: a.sinh(), np.sinh, covers=("Sinh",)),
    OpSpec("cosh", lambda a: a.cosh(), np.cosh),
    OpSpec("log2", lambda a: a.log2(), np.log2, domain=(0.2, 3.0), covers=("Log2",)),
    OpSpec("log10", lambda a: a.log10(), np.log10, domain=(0.2, 3.0), covers=("Log10",)),
    OpSpec("log1p", lambda a: a.log1p(), np.log1p, domain=(-0.5, 2.0), covers=("Log1p",)),
    OpSpec("expm1", lambda a: a.expm1(), np.expm1, covers=("Expm1",)),
    OpSpec("exp2", lambda a: a.exp2(), np.exp2),
    OpSpec("rsqrt", lambda a: a.rsqrt(), lambda a: 1 / np.sqrt(a), domain=(0.2, 3.0)),
    OpSpec("reciprocal", lambda a: a.reciprocal(), np.reciprocal, domain=(0.3, 2.0)),
    OpSpec("erf", lambda a: a.erf(), lambda a: _erf(a), covers=("Erf",)),
    OpSpec("nan_to_num", lambda a: (a / (a > 0)).nan_to_num(posinf=5.0, neginf=-5.0),
           lambda a: np.nan_to_num(a / (a > 0), posinf=5.0, neginf=-5.0), kinks=(0.0,)),
    # ----------------------------------------------------------------------- activations ----
    OpSpec("gelu", lambda a: a.gelu(), lambda a: 0.5 * a * (1 + _erf(a / np.sqrt(2))),
           domain=(-4, 4)),
    OpSpec("gelu_tanh", lambda a: a.gelu("tanh"),
           lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))),
           domain=(-4, 4), covers=("gelu",)),
    OpSpec("silu", lambda a: a.silu(), lambda a: a / (1 + np.exp(-a)), domain=(-5, 5)),
    OpSpec("mish", lambda a: a.mish(), lambda a: a * np.tanh(np.logaddexp(0, a)), domain=(-5, 5)),
    OpSpec("elu", lambda a: a.elu(0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)),
           kinks=(0.0,)),
    OpSpec("selu", lambda a: a.selu(),
           lambda a: _SELU[1] * np.where(a > 0, a, _SELU[0] * np.expm1(a)), kinks=(0.0,)),
    OpSpec("hardtanh", lambda a: a.hardtanh(-0.5, 1.0), lambda a: np.clip(a, -0.5, 1.0),
           kinks=(-0.5, 1.0)),
    OpSpec("relu6", lambda a: a.relu6(), lambda a: np.clip(a, 0, 6), domain=(-1.0, 7.0),
           kinks=(0.0, 6.0)),
    OpSpec("hardsigmoid", lambda a: a.hardsigmoid(), lambda a: np.clip(a / 6 + 0.5, 0, 1),
           domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    OpSpec("hardswish", lambda a: a.hardswish(), lambda a: a * np.clip(a / 6 + 0.5, 0, 1),
           domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    OpSpec("softsign", lambda a: a.softsign(), lambda a: a / (1 + np.abs(a)), kinks=(0.0,)),
    OpSpec("logsigmoid", lambda a: a.logsigmoid(), lambda a: -np.logaddexp(0, -a),
           domain=(-6, 6)),
    # ------------------------------------------------------------ reductions and scans ----
    # (prod/cumprod rows keep values off 0: products of values like 1e-250 underflow and the
    # quotient rule's 1/x**2 in the second derivative overflows; exact zeros have rows of their own)
    OpSpec("prod", lambda a: a.prod(), np.prod,
           kinks=(0.0,)),
    OpSpec("prod_axis", lambda a: a.prod(axis=0, keepdims=True),
           lambda a: np.prod(a, axis=0, keepdims=True), kind="reduce", min_dims=1,
           covers=("prod", "Cumprod"),
           kinks=(0.0,)),
    OpSpec("prod_axes", lambda a: a.prod(axis=(0, 2)), lambda a: np.prod(a, axis=(0, 2)),
           kind="fixed", shapes=((2, 3, 2),), covers=("prod",),
           kinks=(0.0,)),
    OpSpec("prod_zeros", lambda a: (a * _ZEROS).prod(axis=1), lambda a: np.prod(a * _ZEROS, 1),
           kind="fixed", shapes=((3, 4),), covers=("prod",),
           kinks=(0.0,)),
    OpSpec("cumsum", lambda a: a.cumsum(), np.cumsum, covers=("Cumsum",)),
    OpSpec("cumsum_axis", lambda a: a.cumsum(axis=0), lambda a: np.cumsum(a, axis=0),
           kind="reduce", min_dims=1, covers=("cumsum",)),
    OpSpec("cumprod", lambda a: a.cumprod(axis=-1), lambda a: np.cumprod(a, axis=-1),
           kind="reduce", min_dims=1, covers=("Cumprod",),
           kinks=(0.0,)),
    OpSpec("cumprod_zeros", lambda a: (a * _ZEROS).cumprod(axis=1),
           lambda a: np.cumprod(a * _ZEROS, 1), kind="fixed", shapes=((3, 4),),
           covers=("cumprod", "Cumprod"),
           kinks=(0.0,)),
    OpSpec("cummax", lambda a: a.cummax(-1).values, lambda a: np.maximum.accumulate(a, -1),
           kind="reduce", min_dims=1, distinct=True),
    OpSpec("cummin", lambda a: a.cummin(0)[0], lambda a: np.minimum.accumulate(a, 0),
           kind="reduce", min_dims=1, distinct=True),
    OpSpec("sort", lambda a: a.sort(-1), lambda a: np.sort(a, -1), kind="reduce", min_dims=1,
           distinct=True),
    OpSpec("sort_descending", lambda a: a.sort(0, descending=True),
           lambda a: np.flip(np.sort(a, 0), 0), kind="reduce", min_dims=1, distinct=True,
           covers=("sort",)),
    OpSpec("topk", lambda a: a.topk(2).values, lambda a: np.flip(np.sort(a, -1), -1)[..., :2],
           kind="fixed", shapes=((3, 4),), distinct=True),
    OpSpec("topk_smallest", lambda a: a.topk(1, axis=0, largest=False)[0],
           lambda a: np.sort(a, 0)[:1], kind="fixed", shapes=((3, 4),), distinct=True,
           covers=("topk",)),
    OpSpec("median", lambda a: a.median(axis=-1), lambda a: np.median(a, axis=-1),
           kind="reduce", min_dims=1, nonempty=True, distinct=True),
    OpSpec("median_all", lambda a: a.median(), np.median, nonempty=True, distinct=True,
           covers=("median",)),
    OpSpec("norm", lambda a: a.norm(), np.linalg.norm, domain=(0.1, 2.0)),
    OpSpec("norm_axis", lambda a: a.norm(axis=-1, keepdims=True),
           lambda a: np.linalg.norm(a, axis=-1, keepdims=True), kind="reduce", min_dims=1,
           domain=(0.1, 2.0), covers=("norm",)),
    OpSpec("norm_1", lambda a: a.norm(1, axis=0), lambda a: np.linalg.norm(a, 1, axis=0),
           kind="reduce", min_dims=1, kinks=(0.0,), covers=("norm",)),
    OpSpec("norm_inf", lambda a: a.norm(np.inf), lambda a: np.linalg.norm(a, np.inf),
           kind="fixed", shapes=((5,),), domain=(0.1, 2.0), distinct=True, covers=("norm",)),
    OpSpec("norm_p", lambda a: a.norm(3, axis=1), lambda a: np.linalg.norm(a, 3, axis=1),
           kind="fixed", shapes=((2, 3),), domain=(0.1, 2.0), covers=("norm",)),
    OpSpec("norm_fro", lambda a: a.norm("fro"), lambda a: np.linalg.norm(a, "fro"),
           kind="fixed", shapes=((3, 2),), domain=(0.1, 2.0), covers=("norm",)),
    OpSpec("norm_matrix_1", lambda a: a.norm(1, axis=(0, 1)),
           lambda a: np.linalg.norm(a, 1, axis=(0, 1)), kind="fixed", shapes=((3, 2),),
           domain=(0.1, 2.0), distinct=True, covers=("norm",)),
    OpSpec("norm_matrix_inf", lambda a: a.norm(np.inf, axis=(1, 2), keepdims=True),
           lambda a: np.linalg.norm(a, np.inf, axis=(1, 2), keepdims=True), kind="fixed",
           shapes=((2, 3, 2),), domain=(0.1, 2.0), distinct=True, covers=("norm",)),
    # ----------------------------------------------------------- movement and indexing ----
    OpSpec("flip", lambda a: a.flip(), np.flip),
    OpSpec("flip_axis", lambda a: a.flip(-1), lambda a: np.flip(a, -1), kind="reduce",
           min_dims=1, covers=("flip",)),
    OpSpec("fliplr", lambda a: a.fliplr(), np.fliplr, kind="fixed", shapes=((2, 3, 2),)),
    OpSpec("flipud", lambda a: a.flipud(), np.flipud, kind="reduce", min_dims=1),
    OpSpec("roll", lambda a: a.roll(2), lambda a: np.roll(a, 2)),
    OpSpec("roll_axes", lambda a: a.roll((1, -4), axis=(0, 1)),
           lambda a: np.roll(a, (1, -4), axis=(0, 1)), kind="fixed", shapes=((3, 3),),
           covers=("roll",)),
    OpSpec("rot90", lambda a: a.rot90(), np.rot90, kind="fixed", shapes=((2, 3),)),
    OpSpec("rot90_k", lambda a: a.rot90(-1, axes=(2, 0)),
           lambda a: np.rot90(a, -1, axes=(2, 0)), kind="fixed", shapes=((2, 3, 4),),
           covers=("rot90",)),
    OpSpec("repeat", lambda a: a.repeat(2), lambda a: np.repeat(a, 2)),
    OpSpec("repeat_counts", lambda a: a.repeat_interleave(np.array([0, 2, 1]), axis=1),
           lambda a: np.repeat(a, np.array([0, 2, 1]), axis=1), kind="fixed", shapes=((2, 3),),
           covers=("repeat", "repeat_interleave")),
    OpSpec("tile", lambda a: a.tile((2, 1, 3)), lambda a: np.tile(a, (2, 1, 3))),
    OpSpec("tril", lambda a: a.tril(), np.tril, kind="fixed", shapes=((2, 3, 4),)),
    OpSpec("triu", lambda a: a.triu(-1), lambda a: np.triu(a, -1), kind="fixed",
           shapes=((4, 3),)),
    OpSpec("diag_vector", lambda a: a.diag(1), lambda a: np.diag(a, 1), kind="fixed",
           shapes=((3,),), covers=("diag", "ScatterAdd")),
    OpSpec("diag_matrix", lambda a: a.diag(-1), lambda a: np.diag(a, -1), kind="fixed",
           shapes=((3, 4),), covers=("diag",)),
    OpSpec("diagonal", lambda a: a.diagonal(1, 2, 0), lambda a: np.diagonal(a, 1, 2, 0),
           kind="fixed", shapes=((3, 2, 4),)),
    OpSpec("trace", lambda a: a.trace(), np.trace, kind="fixed", shapes=((3, 4),)),
    OpSpec("outer", lambda a, b: a.outer(b), np.outer, arity=2, kind="fixed",
           shapes=((3,), (2, 2))),
    OpSpec("tensordot", lambda a, b: a.tensordot(b, axes=([0, 2], [2, 0])),
           lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])), arity=2, kind="fixed",
           shapes=((2, 3, 4), (4, 5, 2))),
    OpSpec("tensordot_int", lambda a, b: a.tensordot(b, 1), lambda a, b: np.tensordot(a, b, 1),
           arity=2, kind="fixed", shapes=((2, 3), (3, 2)), covers=("tensordot",)),
    OpSpec("einsum_matmul", lambda a, b: tg.einsum("ij,jk->ik", a, b),
           lambda a, b: np.einsum("ij,jk->ik", a, b), arity=2, kind="fixed",
           shapes=((2, 3), (3, 4)), covers=("Einsum",)),
    OpSpec("einsum_three", lambda a, b, c: tg.einsum("ij,jk,kl->li", a, b, c),
           lambda a, b, c: np.einsum("ij,jk,kl->li", a, b, c), arity=3, kind="fixed",
           shapes=((2, 3), (3, 2), (2, 2)), covers=("Einsum",)),
    OpSpec("einsum_diagonal", lambda a, b: tg.einsum("iij,j->i", a, b),
           lambda a, b: np.einsum("iij,j->i", a, b), arity=2, kind="fixed",
           shapes=((3, 3, 2), (2,)), covers=("Einsum",)),
    OpSpec("einsum_trace", lambda a: tg.einsum("ii", a), lambda a: np.einsum("ii", a),
           kind="fixed", shapes=((3, 3),), covers=("Einsum",)),
    OpSpec("einsum_ellipsis", lambda a, b: tg.einsum("...ij,...jk", a, b),
           lambda a, b: np.einsum("...ij,...jk", a, b), arity=2, kind="fixed",
           shapes=((2, 1, 2, 3), (4, 3, 2)), covers=("Einsum",)),
    OpSpec("einsum_summed_alone", lambda a, b: tg.einsum("ijk,j->i", a, b),
           lambda a, b: np.einsum("ijk,j->i", a, b), arity=2, kind="fixed",
           shapes=((2, 3, 2), (3,)), covers=("Einsum",)),
    OpSpec("einsum_broadcast", lambda a, b: tg.einsum("ij,ij->i", a, b),
           lambda a, b: np.einsum("ij,ij->i", a, b), arity=2, kind="fixed",
           shapes=((3, 1), (3, 4)), covers=("Einsum",)),
    OpSpec("einsum_sublist", lambda a, b: tg.einsum(a, [0, 1], b, [1, 2], [2, 0]),
           lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [2, 0]), arity=2, kind="fixed",
           shapes=((2, 3), (3, 2)), covers=("Einsum",)),
    OpSpec("take_along_axis", lambda a: a.take_along_axis(_IDX, 1),
           lambda a: np.take_along_axis(a, _IDX, 1), kind="fixed", shapes=((3, 4),)),
    OpSpec("gather", lambda a: a.gather(1, _IDX), lambda a: np.take_along_axis(a, _IDX, 1),
           kind="fixed", shapes=((3, 4),)),
    OpSpec("scatter", lambda a, b: a.scatter(1, _IDX, b), lambda a, b: _scatter(a, 1, _IDX, b),
           arity=2, kind="fixed", shapes=((3, 4), (3, 3))),
    OpSpec("scatter_add", lambda a, b: a.scatter_add(0, _IDX0, b),
           lambda a, b: _scatter_add(a, 0, _IDX0, b), arity=2, kind="fixed",
           shapes=((3, 4), (2, 4))),
    OpSpec("index_add", lambda a, b: a.index_add(1, np.array([2, 0, 2]), b, alpha=2.0),
           lambda a, b: _index_add(a, 1, np.array([2, 0, 2]), b * 2.0), arity=2, kind="fixed",
           shapes=((2, 4), (2, 3))),
    OpSpec("ravel", lambda a: a.ravel(), np.ravel),
    OpSpec("meshgrid", lambda a, b: _meshgrid(a, b), lambda a, b: _meshgrid(a, b), arity=2,
           kind="fixed", shapes=((3,), (2,))),
    OpSpec("pad_reflect", lambda a: a.pad(((1, 2), (2, 0)), mode="reflect"),
           lambda a: np.pad(a, ((1, 2), (2, 0)), mode="reflect"), kind="fixed",
           shapes=((3, 4),), covers=("pad",)),
    OpSpec("pad_edge", lambda a: a.pad(2, mode="replicate"), lambda a: np.pad(a, 2, mode="edge"),
           kind="fixed", shapes=((2, 3),), covers=("pad",)),
    OpSpec("pad_wrap", lambda a: a.pad((1, 3), mode="circular"),
           lambda a: np.pad(a, (1, 3), mode="wrap"), kind="fixed", shapes=((2, 3),),
           covers=("pad",)),
    OpSpec("pad_crop", lambda a: a.pad(((-1, 2), (1, -2))),
           lambda a: np.pad(a[1:, :-2], ((0, 2), (1, 0))), kind="fixed", shapes=((3, 4),),
           covers=("pad",)),
    OpSpec("sdpa", lambda q, k, v: tg.scaled_dot_product_attention(q, k, v),
           lambda q, k, v: _sdpa(q, k, v, None), arity=3, kind="fixed",
           shapes=((2, 3, 4), (2, 5, 4), (2, 5, 2))),
    OpSpec("sdpa_causal", lambda q, k, v: tg.scaled_dot_product_attention(q, k, v, is_causal=True),
           lambda q, k, v: _sdpa(q, k, v, np.tri(4, 4, dtype=bool)), arity=3, kind="fixed",
           shapes=((1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3))),
    OpSpec("sdpa_masks", lambda q, k, v: tg.scaled_dot_product_attention(q, k, v, attn_mask=_MASK),
           lambda q, k, v: _sdpa(q, k, v, _MASK), arity=3, kind="fixed",
           shapes=((3, 2), (3, 2), (3, 2))),
    # ------------------------------------------------------------------ PyTorch spellings ----
    OpSpec("torch_arith", lambda a, b: a.add(b, alpha=2).sub(b).mul(b).div(b + 3).pow(2).neg(),
           lambda a, b: -(((a + 2 * b - b) * b / (b + 3)) ** 2), arity=2, kind="broadcast",
           covers=("add", "sub", "mul", "div", "pow", "neg")),
    OpSpec("clamp", lambda a: a.clamp(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
           kinks=(-0.5, 0.5)),
    OpSpec("masked_fill", lambda a, b: a.masked_fill(b > 0, -1.0),
           lambda a, b: np.where(b > 0, -1.0, a), arity=2, kind="fixed", shapes=((2, 3), (3,)),
           kinks=(0.0,)),
    OpSpec("view_as", lambda a, b: a.view_as(b) * b, lambda a, b: a.reshape(b.shape) * b, arity=2,
           kind="fixed", shapes=((2, 3), (3, 2)), covers=("view_as", "reshape_as")),
    OpSpec("expand_as", lambda a, b: a.expand_as(b) * b, lambda a, b: a * b, arity=2,
           kind="fixed", shapes=((3, 1), (3, 2))),
    OpSpec("type_as", lambda a, b: a.type_as(b) * 2, lambda a, b: a * 2, arity=2,
           kind="fixed", shapes=((2,), (2,))),
    OpSpec("torch_dims", lambda a: a.sum(dim=1, keepdim=True) * a.mean(dim=0) + a.max(dim=1)[0][:, None]
           + a.var(dim=0, correction=0) + a.cumsum(dim=1) + a.flip(dims=(0,)),
           lambda a: a.sum(1, keepdims=True) * a.mean(0) + a.max(1)[:, None] + a.var(0)
           + np.cumsum(a, 1) + np.flip(a, 0), kind="fixed", shapes=((3, 4),), distinct=True,
           covers=("sum", "mean", "max", "var", "cumsum", "flip")),
    OpSpec("transpose_dims", lambda a: a.transpose(0, 2) if isinstance(a, Tensor)
           else np.swapaxes(a, 0, 2), kind="fixed", shapes=((2, 3, 4),), covers=("transpose",)),
]


def _matmul_t(x, y, ta, tb):
    """The MatMul primitive with BLAS-style transpose flags (what Tensor.linear uses)."""
    from tinygrad_lite.ops import MatMul

    return MatMul.apply(x, y, transpose_a=ta, transpose_b=tb)


def _setitem(a, b):
    out = a * 1.0
    out[0] = b
    return out * 2.0


def _iadd(a, b):
    out = a * 1.0
    out += b
    return out


# Public Tensor members that are not differentiable operations (or are not ops at all); each has
# tests of its own in test_tensor.py / test_engine.py.
NOT_OPS = {
    "T_", "all", "any", "arange", "argmax", "argmin", "backward", "data", "detach", "dtype",
    "eye", "float", "full", "grad", "grad_fn", "is_leaf", "item", "long", "ndim", "numpy",
    "one_hot", "ones", "ones_like", "rand", "randn", "requires_grad", "requires_grad_",
    "retain_grad", "shape", "size", "tolist", "uniform", "zeros", "zeros_like", "dropout",
    # issue 10: no gradient (tests in test_ops_more.py)
    "argsort", "isclose", "allclose", "eq", "ne", "lt", "le", "gt", "ge", "cpu", "to", "device",
}


# ------------------------------------------------------------------- issue 10 references ----
_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)
_ZEROS = np.array([[1, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=np.float32)
_IDX = np.array([[0, 3, 0], [2, 2, 1], [1, 0, 1]])  # repeated positions in rows 0 and 1
_IDX0 = np.array([[0, 2, 0, 1], [0, 0, 2, 1]])
_MASK = np.array([[True, False, True], [False, False, True], [True, True, True]])


def _erf(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a)


def _scatter(a, axis, index, src):
    out = np.array(a, copy=True)
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[axis] = index[pos]
        out[tuple(target)] = src[pos]  # in order: the last write wins
    return out


def _scatter_add(a, axis, index, src):
    out = np.array(a, copy=True)
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[axis] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _index_add(a, axis, index, src):
    out = np.array(a, copy=True)
    for k, i in enumerate(index):
        out[(slice(None),) * axis + (i,)] += src[(slice(None),) * axis + (k,)]
    return out


def _meshgrid(a, b):
    x, y = tg.meshgrid(a, b) if isinstance(a, Tensor) else np.meshgrid(a, b)
    return x * 2 + y * y


def _sdpa(q, k, v, mask):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    return _softmax(s) @ v
