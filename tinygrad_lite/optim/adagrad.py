"""Adagrad: per-coordinate learning rates from the sum of squared gradients (PyTorch's algorithm)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """sum <- sum + g^2; theta <- theta - clr * g / (sqrt(sum) + eps), with
    clr = lr / (1 + (step - 1) * lr_decay) and g the gradient plus weight_decay * theta.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> w.tolist(), opt.state[w]["sum"].tolist()
    ([0.5], [4.0])
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        check_nonnegative(group, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        grad = self._direction(p, grad, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        acc = state["sum"]
        acc += grad * grad
        std = np.sqrt(acc)
        std += group["eps"]
        p.data -= clr * (grad / std)
