"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay (PyTorch's
algorithm). Plain full-batch gradient descent is SGD on the whole data set."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, check_hyperparameter, check_nonnegative


class SGD(Optimizer):
    """theta <- theta - lr * d, where g is the gradient (negated if maximize) plus
    weight_decay * theta, and d = g, or with momentum the buffer b <- momentum * b +
    (1 - dampening) * g (b = g on the first step), d = b (or g + momentum * b for Nesterov).

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> w.tolist()
    [0.800000011920929]
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        check_nonnegative(group, "momentum", "weight_decay")
        check_hyperparameter(not group["nesterov"] or (group["momentum"] > 0
                                                       and group["dampening"] == 0),
                             "Nesterov momentum requires a momentum and zero dampening")

    def update(self, p, grad, state, group):
        momentum = group["momentum"]
        if not (momentum or group["weight_decay"] or group["maximize"]):
            p.data -= group["lr"] * grad  # NOTE: the common case: plain descent, in place
            return
        grad = self._direction(p, grad, group)
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # NOTE: np.array, not grad.copy(): for a 0-d p, grad may be a numpy scalar here,
                # and `buf *= momentum` on a scalar would rebind it instead of updating the state
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.dtype)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad
