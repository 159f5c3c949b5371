"""Adam and AdamW (PyTorch's algorithms, including amsgrad)."""

from __future__ import annotations

import math

import numpy as np

from ..ops import xp
from .optimizer import Optimizer


class Adam(Optimizer):
    """m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
    theta <- theta - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    The bias corrections use the step count t of *this parameter* (1 on the first step), and eps
    is added after the bias-corrected square root, exactly as PyTorch does. (Write-ups that drop
    the corrections take tiny first steps; ones that put eps inside the sqrt differ for small v.)
    weight_decay adds wd * theta to the gradient (L2); AdamW decays the weights directly.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        b1, b2 = betas
        if not 0.0 <= b1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {b1}")
        if not 0.0 <= b2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {b2}")
        super().__init__(params, dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _decay(self, p, grad, group):
        """L2 weight decay, folded into the gradient (AdamW overrides this)."""
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        return grad

    def update(self, p, grad, state, group):
        b1, b2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        grad = self._decay(p, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= b1
        exp_avg += (1 - b1) * grad
        exp_avg_sq *= b2
        exp_avg_sq += (1 - b2) * (grad * grad)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second)
        denom *= 1.0 / math.sqrt(1 - b2 ** t)
        denom += group["eps"]
        step_size = group["lr"] / (1 - b1 ** t)
        p.data -= step_size * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: theta <- theta * (1 - lr * wd) before the Adam step
    (Loshchilov & Hutter), instead of adding wd * theta to the gradient."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def _decay(self, p, grad, group):
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        return grad
