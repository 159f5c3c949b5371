"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay (PyTorch's
algorithm). Plain full-batch gradient descent is SGD on the whole data set."""

from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """theta <- theta - lr * g, where g is the gradient plus weight decay, optionally smoothed by
    momentum: b <- momentum * b + (1 - dampening) * g (b = g on the first step); Nesterov uses
    g + momentum * b instead of b.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> w.tolist()
    [0.800000011920929]
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def update(self, p, grad, state, group):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if wd:
            grad = grad + wd * p.data
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= lr * grad  # NOTE: in place: one numpy call per parameter for plain SGD
