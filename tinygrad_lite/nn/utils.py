"""Gradient clipping and flat parameter vectors (PyTorch's `torch.nn.utils` names and semantics).

Clipping rebinds each `.grad` to a new Tensor (never writing into a gradient array someone may
hold); `vector_to_parameters` writes parameter values outside the graph, so it announces each
write with `increment_version`: a graph recorded before it then refuses to backward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..autograd import increment_version
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _tensors(parameters, name: str) -> list:
    """A Tensor or an iterable of Tensors (a generator such as model.parameters()) as a list."""
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: expected Tensors (e.g. model.parameters()), got "
                            f"{type(p).__name__}")
    return params


def _norm(array: np.ndarray, norm_type: float) -> float:
    """The norm_type-norm of an array's entries, in float64."""
    a = np.abs(array.astype(np.float64, copy=False)).ravel()
    if norm_type == math.inf:
        return float(a.max()) if a.size else 0.0
    if norm_type == -math.inf:
        return float(a.min()) if a.size else math.inf
    if norm_type == 0:
        return float(np.count_nonzero(a))
    return float((a ** norm_type).sum() ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), total_norm being the
    norm_type-norm of all gradients together (as one vector); returns total_norm (a 0-d Tensor).
    Parameters whose grad is None are skipped. `foreach` is accepted for PyTorch code.

    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = Tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    params = [p for p in _tensors(parameters, "clip_grad_norm_") if p.grad is not None]
    norm_type, max_norm = float(norm_type), float(max_norm)
    if not params:
        return Tensor(0.0)
    norms = [_norm(p.grad.data, norm_type) for p in params]
    total = _norm(np.array(norms), norm_type)
    dtype = np.result_type(*[p.grad.dtype for p in params])
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                               "`parameters` is non-finite, so it cannot be clipped. To disable "
                               "this error and scale the gradients by the non-finite norm anyway, "
                               "set `error_if_nonfinite=False`")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        g = p.grad.data
        # NOTE: a new Tensor, in the gradient's dtype: the old .grad's array is left untouched
        p.grad = Tensor((g * g.dtype.type(coef)).astype(g.dtype, copy=False))
    return Tensor(np.array(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clip every gradient elementwise to [-clip_value, clip_value] (grads of None skipped).

    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = Tensor([-3.0, 0.5])
    >>> clip_grad_value_([w], 1.0); w.grad.tolist()
    [-1.0, 0.5]
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _tensors(parameters, "clip_grad_value_"):
        if p.grad is not None:
            p.grad = Tensor(np.clip(p.grad.data, -clip_value, clip_value))


def parameters_to_vector(parameters: Iterable) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable, like PyTorch's).

    >>> parameters_to_vector([Tensor([[1.0, 2.0]]), Tensor([3.0])]).tolist()
    [1.0, 2.0, 3.0]
    """
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return Tensor.concatenate([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable) -> None:
    """Copy consecutive slices of a 1-D vector into the parameters (each cast to its dtype), the
    inverse of parameters_to_vector. Outside the graph, like PyTorch's `.data` assignment, and
    announced: a graph recorded before it refuses to backward.

    >>> w, b = Tensor([[0.0, 0.0]], requires_grad=True), Tensor([0.0], requires_grad=True)
    >>> vector_to_parameters(Tensor([1.0, 2.0, 3.0]), [w, b]); w.tolist(), b.tolist()
    ([[1.0, 2.0]], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    params = _tensors(parameters, "vector_to_parameters")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    total = sum(p.size for p in params)
    if vec.size != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.size} elements but the parameters "
                         f"have {total} in all; they must match")
    values, offset = vec.data, 0
    for p in params:
        p.data = values[offset:offset + p.size].reshape(p.shape).astype(p.dtype, copy=True)
        increment_version(p)
        offset += p.size
