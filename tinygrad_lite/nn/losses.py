"""Losses (functions and modules) and the lesson's regularizers, composed from Tensor operations.

Input and target shapes must match exactly (PyTorch only warns when they broadcast; a silently
broadcast (N, 1) - (N,) is a classic bug, so here it is an error).
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


def _as_tensor(t, like=None):
    """t as a Tensor; a list or array target takes the input's float dtype (no float64 surprise)."""
    if isinstance(t, Tensor):
        return t
    arr = np.asarray(t)
    if like is not None and arr.dtype.kind in "fiub" and like.dtype.kind == "f":
        arr = arr.astype(like.dtype)
    return Tensor(arr)


def _same_shape(name, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; they must match (reshape one of them, e.g. target.reshape(input.shape))"
        )


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean (or summed) squared error.

    The lesson's "cost" of one sample is the sum of squared differences over the 10 outputs, and
    the cost of a batch is its average over samples: cost = mse_loss(a, y, reduction="sum") / N,
    which equals mse_loss(a, y) * 10 (the default mean divides by N * 10). Gradient descent on
    either differs only by that constant factor in the learning rate; the lesson's
    0.5 * sum((a - y)^2) / N has gradient (a - y) / N.

    >>> mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """
    target = _as_tensor(target, input)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def _clamped_log(p: Tensor) -> Tensor:
    """max(log(p), -100) (PyTorch's BCE rule) with a finite gradient everywhere. The gradient is
    that of log(max(p, floor)) (1/p above the floor, 0 below), the floor being exp(-100) in float64
    and the smallest normal number (about 1.2e-38) in float32, so 1/p never overflows; a constant
    correction (no gradient) makes the value exact below the floor too (p = 0 gives -100)."""
    floor = max(math.exp(-100.0), float(np.finfo(p.dtype).tiny))
    out = p.clip(min=floor).log()
    with np.errstate(divide="ignore"):
        exact = np.maximum(np.log(p.data), -100.0).astype(p.dtype, copy=False)
    correction = exact - out.data
    return out + correction if np.any(correction) else out


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p. As in PyTorch, each log is clamped at
    -100, so p = 0 or 1 gives a finite loss (100 per wrong element) and a finite gradient.

    >>> round(binary_cross_entropy(Tensor([0.8]), Tensor([1.0])).item(), 4)
    0.2231
    >>> binary_cross_entropy(Tensor([0.0]), Tensor([1.0])).item()
    100.0
    """
    target = _as_tensor(target, input)
    _same_shape("binary_cross_entropy", input, target)
    p = input.data
    if p.size and not (p.min() >= 0 and p.max() <= 1):
        raise ValueError("binary_cross_entropy: all elements of input should be probabilities in "
                         f"[0, 1], got values in [{p.min()}, {p.max()}] (use "
                         "binary_cross_entropy_with_logits for raw scores)")
    loss = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula: softplus(z) - y z (finite and exact
    for |z| = 1000).

    >>> binary_cross_entropy_with_logits(Tensor([1000.0, -1000.0]), Tensor([1.0, 0.0])).item()
    0.0
    """
    target = _as_tensor(target, input)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = input.softplus() - target * input
    else:
        pos_weight = _as_tensor(pos_weight, input)
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * (-input).softplus()
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def _class_last(t: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C); (N, C) unchanged."""
    if t.ndim == 1:
        return t.reshape(1, -1)
    if t.ndim == 2:
        return t
    axes = (0, *range(2, t.ndim), 1)
    return t.transpose(axes).reshape(-1, t.shape[1])


def _check_classes(name, target, input_shape, ignore_index):
    """Integer class targets checked against (N, C, d1, ...) scores: flat labels and validity."""
    n_classes = input_shape[1] if len(input_shape) > 1 else input_shape[0]
    expected = (input_shape[0], *input_shape[2:]) if len(input_shape) > 1 else ()
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: class targets must be integers (class indices), got dtype "
                        f"{labels.dtype} with shape {labels.shape}; for class probabilities pass "
                        f"floats of the input's shape {tuple(input_shape)}")
    if tuple(labels.shape) != expected:
        raise ValueError(f"{name}: target shape {tuple(labels.shape)} does not fit input shape "
                         f"{tuple(input_shape)}; expected target shape {expected} (one class "
                         "index per sample)")
    valid = labels != ignore_index
    bad = valid & ((labels < 0) | (labels >= n_classes))
    if bad.any():
        raise IndexError(f"{name}: target {int(labels[bad].flat[0])} is out of bounds: class "
                         f"indices must be in [0, {n_classes - 1}] for {n_classes} classes")
    return labels.reshape(-1), valid.reshape(-1), n_classes, expected


def nll_loss(input: Tensor, target, weight=None, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood of integer class targets, given log-probabilities (N, C, ...):
    mean over samples of -input[n, target[n]] (weighted mean with class weights; samples whose
    target is ignore_index are left out).

    >>> nll_loss(Tensor([[-1.0, -2.0], [-3.0, -4.0]]), Tensor([1, 0])).item()
    2.5
    """
    return _nll("nll_loss", input, target, weight, reduction, ignore_index)


def _nll(name, input, target, weight, reduction, ignore_index):
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    labels, valid, n_classes, expected = _check_classes(name, target, input.shape, ignore_index)
    logp = _class_last(input)
    rows = np.arange(len(labels))
    # NOTE: the targets' log-probabilities are picked by indexing, never by multiplying with a
    # one-hot mask: a masked (-inf) logit times 0 would be NaN
    if weight is None and reduction == "mean" and valid.all():  # the common case: three ops
        return logp[rows, labels].sum() * (-1.0 / max(len(labels), 1))
    safe = np.where(valid, labels, 0)
    picked = logp[rows, safe]
    if not valid.all():  # an ignored sample's stand-in class 0 may hold -inf: drop its value
        picked = Tensor.where(valid, picked, 0.0)
    coef = valid.astype(logp.dtype)
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=logp.dtype)
        if w.shape != (n_classes,):
            raise ValueError(f"{name}: weight must have one entry per class ({n_classes}), got "
                             f"shape {w.shape}")
        coef = coef * w[safe]
    if reduction == "mean":  # NOTE: the weighted mean's divisor folded into the coefficients
        return -(picked * (coef / max(float(coef.sum()), 1e-12))).sum()
    if reduction == "sum":
        return -(picked * coef).sum()
    return -(picked * coef).reshape(expected)


def cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy from raw scores (logits, classes along dim 1) and integer class targets:
    nll_loss(log_softmax(input), target), stable for any logits. Float targets of the input's shape
    are taken as class probabilities.

    With label_smoothing e, the target becomes (1 - e) on the true class plus e / C on every class
    (PyTorch's formula, class weights included).

    >>> round(cross_entropy(Tensor([[2.0, 0.0, -1.0]]), Tensor([0])).item(), 4)
    0.1698
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    class_dim = 1 if input.ndim > 1 else 0
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(axis=class_dim)
    w = None if weight is None else np.asarray(
        weight.data if isinstance(weight, Tensor) else weight, dtype=logp.dtype)
    if w is not None and w.shape != (n_classes,):
        raise ValueError(f"cross_entropy: weight must have one entry per class ({n_classes}), got "
                         f"shape {w.shape}")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    index_shape = (input.shape[0], *input.shape[2:]) if class_dim else ()
    if target_data.dtype.kind == "f" and target_data.shape == index_shape:
        _check_classes("cross_entropy", target, input.shape, ignore_index)  # explains the dtype
    if target_data.dtype.kind == "f":  # class probabilities: differentiable, as in PyTorch
        probs = _as_tensor(target, input)
        _same_shape("cross_entropy", input, probs)
        if probs.dtype != logp.dtype:
            probs = probs.astype(logp.dtype)
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / n_classes
        if w is not None:
            probs = probs * w.reshape((-1,) + (1,) * (input.ndim - 2) if class_dim else -1)
        return _reduce(-(logp * probs).sum(axis=class_dim), reduction)
    nll = _nll("cross_entropy", logp, target, weight, reduction, ignore_index)
    if label_smoothing == 0.0:
        return nll
    labels, valid, _, expected = _check_classes("cross_entropy", target, input.shape, ignore_index)
    rows = _class_last(logp)  # (M, C)
    smooth = -(rows * w).sum(axis=1) if w is not None else -rows.sum(axis=1)
    smooth = smooth * (valid.astype(logp.dtype) / n_classes)
    if reduction == "mean":
        denom = w[np.where(valid, labels, 0)][valid].sum() if w is not None else valid.sum()
        smooth = smooth.sum() / max(float(denom), 1e-12)
    elif reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "none":
        smooth = smooth.reshape(expected)
    return nll * (1.0 - label_smoothing) + smooth * label_smoothing


# ---------------------------------------------------------------------------------- regularizers ----
def _is_bias(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("bias") or last.endswith("bias")


def l2_penalty(params, lam: float, n: int, include_bias: bool = False) -> Tensor:
    """lam / (2n) * sum(theta^2): the L2 term of the lesson's regularized logistic-regression cost
    (n: the number of training samples; the intercept is not penalized by default).

    `params` is a Module, an iterable of (name, Tensor) pairs, or an iterable of Tensors. The rule
    for "bias": a parameter whose name's last dotted part starts or ends with "bias" (`fc.bias`,
    `bias_ih_l0`). Bare Tensors have no names, so they are always included; pass (name, tensor)
    pairs (or a Module) to leave biases out. (Being 1-D is not the rule: a logistic regression's
    weight vector is 1-D.)

    >>> w = Tensor([3.0, 4.0])
    >>> l2_penalty([w], lam=2.0, n=5).item()
    5.0
    >>> round(l2_penalty([("w", w), ("b", Tensor([1.0])), ("bias", Tensor([9.0]))], 2.0, 5).item(), 4)
    5.2
    """
    if lam < 0 or n <= 0:
        raise ValueError(f"l2_penalty needs lam >= 0 and n > 0, got lam={lam}, n={n}")
    if isinstance(params, Module):
        params = list(params.named_parameters())
    total = None
    for item in params:
        name, p = item if isinstance(item, tuple) else ("", item)
        if not include_bias and name and _is_bias(name):
            continue
        term = (p * p).sum()
        total = term if total is None else total + term
    if total is None:
        return Tensor(0.0)
    return total * (lam / (2.0 * n))


def kl_sparsity(activations: Tensor, rho: float = 0.05, eps: float = 1e-6) -> Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation of hidden unit j over the batch
    (axis 0). rho_hat is clipped to [eps, 1 - eps] inside, so the penalty stays finite when a unit
    is always off (0) or always on (1).

    >>> round(kl_sparsity(Tensor([[0.05, 0.5], [0.05, 0.5]])).item(), 4)
    0.4946
    """
    if not 0.0 < rho < 1.0:
        raise ValueError(f"kl_sparsity: rho must be in (0, 1), got {rho}")
    a = activations.data
    if a.size and not (a.min() >= 0.0 and a.max() <= 1.0):
        raise ValueError(f"kl_sparsity: activations must be in [0, 1] (e.g. sigmoid outputs), got "
                         f"values in [{a.min()}, {a.max()}]")
    rho_hat = activations.mean(axis=0).clip(eps, 1.0 - eps)
    kl = rho * (rho / rho_hat).log() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).log()
    return kl.sum()


# --------------------------------------------------------------------------------------- modules ----
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Module form of mse_loss.

    >>> MSELoss()(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Module form of binary_cross_entropy.

    >>> round(BCELoss()(Tensor([0.8]), Tensor([1.0])).item(), 4)
    0.2231
    """

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of binary_cross_entropy_with_logits.

    >>> round(BCEWithLogitsLoss()(Tensor([0.0]), Tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Module form of cross_entropy.

    >>> round(CrossEntropyLoss()(Tensor([[2.0, 0.0, -1.0]]), Tensor([0])).item(), 4)
    0.1698
    """

    def __init__(self, weight=None, reduction: str = "mean", label_smoothing: float = 0.0,
                 ignore_index: int = -100):
        super().__init__(reduction)
        self.weight, self.label_smoothing, self.ignore_index = weight, label_smoothing, ignore_index

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, self.reduction, self.label_smoothing,
                             self.ignore_index)


class NLLLoss(_Loss):
    """Module form of nll_loss.

    >>> NLLLoss()(Tensor([[-1.0, -2.0]]), Tensor([1])).item()
    2.0
    """

    def __init__(self, weight=None, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, self.reduction, self.ignore_index)
