"""One table of operations drives the generic op tests (forward vs numpy, gradcheck, gradgradcheck,
broadcast gradient shapes) and the coverage test.

Each row's `fn` is written with numpy's names, so where numpy has the same method the one lambda is
both the Tensor function and its numpy reference; otherwise `ref` gives the numpy reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor


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
    OpSpec("sqrt", lambda a: a.sqrt(), np.sqrt, domain=(0.2, 3.0), covers=("Sqrt",)),
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
           shapes=((2, 2, 5, 4), (3, 2, 3, 2), (3,)), covers=("SlidingWindow", "FoldWindows")),
    OpSpec("conv2d_plain", lambda x, w: x.conv2d(w),
           lambda x, w: _conv_ref(x, w, np.zeros(w.shape[0]), 1, 0), arity=2, kind="fixed",
           shapes=((1, 1, 4, 4), (2, 1, 2, 2)), covers=("conv2d",)),
    OpSpec("max_pool2d", lambda x: x.max_pool2d(2, stride=1, padding=1),
           lambda x: _pool_ref(x, 2, 1, 1, np.max, -np.inf), kind="fixed", shapes=((1, 2, 3, 3),),
           distinct=True),
    OpSpec("avg_pool2d", lambda x: x.avg_pool2d(3, stride=2, padding=1),
           lambda x: _pool_ref(x, 3, 2, 1, np.mean, 0.0), kind="fixed", shapes=((2, 1, 5, 5),)),
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
}
