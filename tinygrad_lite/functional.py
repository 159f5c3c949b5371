"""The higher-order toolbox on top of the engine: grad, jacobian, hessian, hvp.

Every primitive's backward is written with Tensor operations, so a gradient computed with
`create_graph=True` is itself a graph that can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .autograd import run_backward
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated into .grad),
    like `torch.autograd.grad`.

    >>> x = Tensor(3.0, requires_grad=True)
    >>> (dx,) = grad(x ** 3, x, create_graph=True)   # 3x^2 = 27
    >>> (ddx,) = grad(dx, x)                          # 6x = 18
    >>> dx.item(), ddx.item()
    (27.0, 18.0)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(f"grad: an output (shape {out.shape}) does not require grad")
        if g is None:
            if out.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; pass grad_outputs for "
                    f"the output of shape {out.shape}"
                )
            g = Tensor(np.ones(out.shape, dtype=out.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=out.dtype))
        if g.shape != out.shape:
            raise RuntimeError(f"grad_outputs shape {g.shape} does not match output shape {out.shape}")
        seeds.append(g)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input (shape {t.shape}) does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outputs, seeds, retain_graph=retain, create_graph=create_graph,
                          inputs=inputs, allow_unused=allow_unused)
    return tuple(result)


def _zeros_if_none(g, like):
    return Tensor(np.zeros(like.shape, dtype=like.dtype)) if g is None else g


def jacobian(f: Callable, x: Tensor, create_graph: bool = False) -> Tensor:
    """The Jacobian of f at x, shaped f(x).shape + x.shape (one backward pass per output element).

    >>> jacobian(lambda t: t * t, Tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    x = x.detach().requires_grad_() if not x.requires_grad or not x.is_leaf else x
    out = f(x)
    if not out.requires_grad:  # f does not depend on x
        return Tensor(np.zeros(out.shape + x.shape, dtype=out.dtype))
    rows = []
    for i in range(out.size):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[i] = 1
        (g,) = grad(out, x, grad_outputs=Tensor(seed.reshape(out.shape)), retain_graph=True,
                    create_graph=create_graph, allow_unused=True)
        rows.append(_zeros_if_none(g, x))
    if not rows:
        return Tensor(np.zeros(out.shape + x.shape, dtype=out.dtype))
    return Tensor.stack(rows).reshape(out.shape + x.shape)


def hessian(f: Callable, x: Tensor) -> Tensor:
    """The Hessian of a scalar function f at x, shaped x.shape + x.shape.

    >>> hessian(lambda t: (t ** 3).sum(), Tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    def gradient(t):
        y = f(t)
        if y.size != 1:
            raise ValueError(f"hessian needs a scalar function, f returned shape {y.shape}")
        (g,) = grad(y, t, create_graph=True, allow_unused=True)
        return _zeros_if_none(g, t)

    return jacobian(gradient, x)


def hvp(f: Callable, x: Tensor, v) -> Tensor:
    """The Hessian-vector product H(x) @ v of a scalar f, shaped like x, with two backward passes
    (the Hessian is never formed).

    >>> hvp(lambda t: (t ** 3).sum(), Tensor([1.0, 2.0]), Tensor([1.0, 1.0])).tolist()
    [6.0, 12.0]
    """
    x = x.detach().requires_grad_()
    v = v if isinstance(v, Tensor) else Tensor(v)
    if v.shape != x.shape:
        raise ValueError(f"hvp: v has shape {v.shape} but x has shape {x.shape}")
    y = f(x)
    (g,) = grad(y, x, create_graph=True, allow_unused=True)
    if g is None or not g.requires_grad:
        return Tensor(np.zeros(x.shape, dtype=x.dtype))
    (hv,) = grad((g * v).sum(), x, allow_unused=True)
    return _zeros_if_none(hv, x)


def vjp(f: Callable, inputs: Sequence[Tensor], v) -> tuple:
    """f's outputs and the vector-Jacobian product v^T J for each input."""
    inputs = [t.detach().requires_grad_() for t in inputs]
    out = f(*inputs)
    return out, grad(out, inputs, grad_outputs=v, allow_unused=True)
