"""RMSprop, plain or centered, with optional momentum (PyTorch's algorithm)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, check_nonnegative


class RMSprop(Optimizer):
    """v <- alpha v + (1 - alpha) g^2; theta <- theta - lr * g / (sqrt(v) + eps). Centered keeps
    the running mean gradient grad_avg and uses sqrt(v - grad_avg^2); momentum accumulates
    b <- momentum b + g / (sqrt(.) + eps) and steps by lr * b.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> round(w.item(), 4), opt.state[w]["square_avg"].tolist()
    (0.98, [1.0])
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        check_nonnegative(group, "eps", "momentum", "weight_decay", "alpha")

    def update(self, p, grad, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            self._init_state(state, p, "square_avg", *(["momentum_buffer"] if momentum > 0 else []),
                             *(["grad_avg"] if group["centered"] else []))
        state["step"] += 1
        grad = self._direction(p, grad, group)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)  # PyTorch's lerp
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (grad / avg)
