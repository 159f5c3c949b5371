"""Adam and AdamW (PyTorch's algorithms, including amsgrad)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, blocks, check_hyperparameter, check_nonnegative


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
        grad = np.asarray(self._direction(p, grad, group))  # (-grad of a 0-d array is a scalar)
        amsgrad = group["amsgrad"]
        arrays = (p.data, grad, state["exp_avg"], state["exp_avg_sq"],
                  *([state["max_exp_avg_sq"]] if amsgrad else []))
        # NOTE: the formula's 13 operations (see _adam), in the same order and dtypes (so the same
        # bits), in place through one or two scratch arrays of a block each, block by block of
        # CHUNK items: a parameter-sized temporary less at the training step's peak (the update
        # of its largest weight), and each block's passes run in cache. grad (the user's .grad,
        # or _direction's new array) is only read.
        n, views = blocks(*arrays)
        sq = np.empty(n, p.dtype)  # grad * grad, then the denominator, in the state's dtype
        scaled = sq if grad.dtype == p.dtype else np.empty(n, grad.dtype)  # (1 - b1) * grad
        root, step = math.sqrt(1 - b2 ** t), group["lr"] / (1 - b1 ** t)
        for param, g, exp_avg, exp_avg_sq, *second in views:
            if param.shape != sq.shape:  # the last, shorter block
                sq, scaled = sq[:param.size], scaled[:param.size]
            _adam(param, g, exp_avg, exp_avg_sq, second[0] if amsgrad else exp_avg_sq, sq,
                  scaled, b1, b2, root, group["eps"], step)


def _adam(param, grad, exp_avg, exp_avg_sq, second, sq, scaled, b1, b2, root, eps, step):
    """One block of the update, in place; sq and scaled are scratch (they may be one array).
    second is max_exp_avg_sq with amsgrad, else exp_avg_sq. The formula:
    exp_avg = b1 * exp_avg + (1 - b1) * grad; exp_avg_sq = b2 * exp_avg_sq + (1 - b2) * grad^2;
    param -= lr / (1 - b1^t) * exp_avg / (sqrt(second) / sqrt(1 - b2^t) + eps)
    (root is sqrt(1 - b2^t), step is lr / (1 - b1^t))."""
    exp_avg *= b1
    np.multiply(grad, 1 - b1, out=scaled)
    exp_avg += scaled
    exp_avg_sq *= b2
    np.multiply(grad, grad, out=sq)
    sq *= 1 - b2
    exp_avg_sq += sq
    if second is not exp_avg_sq:  # amsgrad: the running maximum
        np.maximum(second, exp_avg_sq, out=second)
    denom = np.sqrt(second, out=sq)
    denom /= root
    denom += eps
    np.divide(exp_avg, denom, out=denom)
    denom *= step
    param -= denom


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
