"""Adadelta (Zeiler 2012), PyTorch's algorithm: lr only scales the step (1.0 by default)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, check_hyperparameter, check_nonnegative


class Adadelta(Optimizer):
    """v <- rho v + (1 - rho) g^2; delta = sqrt(u + eps) / sqrt(v + eps) * g;
    u <- rho u + (1 - rho) delta^2; theta <- theta - lr * delta (v: square_avg, u: acc_delta).

    delta uses the *old* acc_delta and the *new* square_avg, as in the paper and PyTorch.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = Adadelta([w], rho=0.0, eps=1.0)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> round(w.item(), 4), sorted(opt.state[w])
    (0.1056, ['acc_delta', 'square_avg', 'step'])
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, maximize: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        check_hyperparameter(0.0 <= group["rho"] <= 1.0, f"Invalid rho value: {group['rho']}")
        check_nonnegative(group, "eps", "weight_decay")

    def update(self, p, grad, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            self._init_state(state, p, "square_avg", "acc_delta")
        state["step"] += 1
        grad = self._direction(p, grad, group)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = np.sqrt(acc_delta + eps)
        delta /= np.sqrt(square_avg + eps)
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        p.data -= group["lr"] * delta
