"""Adam and AdamW (PyTorch's algorithms, including amsgrad)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, check_hyperparameter, check_nonnegative


class Adam(Optimizer):
    """m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
    theta <- theta - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    The bias corrections use this parameter's step count t (1 on the first step), and eps is
    added after the bias-corrected square root, exactly as PyTorch does. amsgrad uses the running
    maximum of v (max_exp_avg_sq) instead of v. weight_decay adds wd * theta to the gradient (L2);
    AdamW decays the weights directly.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> round(w.item(), 6), sorted(opt.state[w])
    (0.9, ['exp_avg', 'exp_avg_sq', 'step'])
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        b1, b2 = group["betas"]
        check_nonnegative(group, "eps")
        check_hyperparameter(0.0 <= b1 < 1.0, f"Invalid beta parameter at index 0: {b1}")
        check_hyperparameter(0.0 <= b2 < 1.0, f"Invalid beta parameter at index 1: {b2}")
        check_nonnegative(group, "weight_decay")

    def update(self, p, grad, state, group):
        b1, b2 = group["betas"]
        if not state:
            self._init_state(state, p, "exp_avg", "exp_avg_sq",
                             *(["max_exp_avg_sq"] if group["amsgrad"] else []))
        state["step"] = t = state["step"] + 1
        grad = self._direction(p, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # NOTE: in place, with few temporaries: this is the hot loop of most trainings
        exp_avg *= b1
        exp_avg += (1 - b1) * grad
        exp_avg_sq *= b2
        # NOTE: an explicit out= array: for a 0-d parameter grad * grad is a numpy scalar, which
        # cannot be reused as out= below
        sq = np.multiply(grad, grad, out=np.empty_like(exp_avg_sq))
        sq *= 1 - b2
        exp_avg_sq += sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            np.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        denom = np.sqrt(second, out=sq)
        denom /= math.sqrt(1 - b2 ** t)
        denom += group["eps"]
        np.divide(exp_avg, denom, out=denom)
        denom *= group["lr"] / (1 - b1 ** t)
        p.data -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay: theta <- theta * (1 - lr * wd) before the Adam step
    (Loshchilov & Hutter), instead of adding wd * theta to the gradient.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward(); _ = opt.step()
    >>> round(w.item(), 6)
    0.85
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def _decay(self, p, grad, group):
        p.data *= 1 - group["lr"] * group["weight_decay"]
        return grad
