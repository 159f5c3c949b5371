"""Losses (functions and modules) and the lesson's regularizers, composed from Tensor operations.

Input and target shapes must match exactly (PyTorch only warns when they broadcast; a silently
broadcast (N, 1) - (N,) is a classic bug, so here it is an error).
"""

from __future__ import annotations

import math
import warnings

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


# ------------------------------------------------------------- regression and margin losses ----
def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean (or summed) absolute error |input - target| (gradient sign(input - target), 0 at a tie).

    >>> l1_loss(Tensor([1.0, 2.0]), Tensor([1.0, 5.0])).item()
    1.5
    """
    target = _as_tensor(target, input)
    _same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _piecewise_quadratic(name, input, target, width, scale, reduction):
    """0.5 d^2 * (scale / width) for |d| < width, else scale * (|d| - width / 2): the shared body
    of smooth_l1_loss (scale 1) and huber_loss (scale = width = delta)."""
    target = _as_tensor(target, input)
    _same_shape(name, input, target)
    diff = input - target
    size = diff.abs()
    quadratic = diff * diff * (0.5 * scale / width)
    return _reduce(Tensor.where(size.data < width, quadratic, (size - 0.5 * width) * scale),
                   reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (d = input - target); beta = 0 is
    l1_loss. PyTorch's formula: quadratic near zero, linear (gradient +-1) beyond beta.

    >>> smooth_l1_loss(Tensor([0.5, 3.0]), Tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return _piecewise_quadratic("smooth_l1_loss", input, target, float(beta), 1.0, reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta * (|d| - delta / 2): smooth_l1_loss times delta
    (gradient clipped to +-delta).

    >>> huber_loss(Tensor([0.5, 3.0]), Tensor([0.0, 0.0]), reduction="none", delta=2.0).tolist()
    [0.125, 4.0]
    """
    if not delta > 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    return _piecewise_quadratic("huber_loss", input, target, float(delta), float(delta), reduction)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || model) with the model's log-probabilities as input (PyTorch's convention):
    target * (log(target) - input) pointwise (0 where target = 0), or
    exp(target) * (target - input) when log_target. reduction "batchmean" divides the sum by the
    batch size (the true KL divergence per sample); "mean" (PyTorch's default, kept for
    compatibility) divides by the number of elements, and warns, as PyTorch does. A target that
    requires grad may not hold zeros (its gradient there is -inf; PyTorch gives NaN). Where the
    target is 0 the term is 0, even for an input of -inf (PyTorch gives NaN).

    >>> q = Tensor([0.25, 0.75])
    >>> round(kl_div(Tensor([0.5, 0.5]).log(), q, reduction="sum").item(), 6)
    0.130812
    """
    if reduction not in (*_REDUCTIONS, "batchmean"):
        raise ValueError(f"reduction must be one of {(*_REDUCTIONS, 'batchmean')}, got "
                         f"{reduction!r}")
    target = _as_tensor(target, input)
    _same_shape("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        t = target.data
        if t.size and not np.nanmin(t) >= 0:
            raise ValueError(f"kl_div: target must hold probabilities (>= 0), got a minimum of "
                             f"{np.nanmin(t)}; pass log_target=True for log-probabilities")
        positive = t > 0
        if target.requires_grad and not positive.all():
            raise ValueError("kl_div: the target requires grad and holds zeros, where the "
                             "gradient of target * log(target) is -inf; detach the target, keep "
                             "it away from 0, or pass log-probabilities with log_target=True")
        # NOTE: stand-ins where the target is 0, whose term is 0 (0 log 0 = 0, and 0 * -inf = 0
        # too: a class the model rules out costs nothing where the target has no mass)
        safe = Tensor.where(positive, target, 1.0), Tensor.where(positive, input, 0.0)
        loss = Tensor.where(positive, target * (safe[0].log() - safe[1]), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and "
                      "the support size; 'batchmean' divides only by the batch size and is the "
                      "KL divergence's definition", UserWarning, stacklevel=2)
    return _reduce(loss, reduction)


def _signs(name, target, expected_shape, like):
    """A +-1 target as a Tensor of the input's dtype; any other value is refused (PyTorch would
    silently give such elements a loss of 0)."""
    target = _as_tensor(target, like)
    if target.dtype.kind != "f" and like.dtype.kind == "f":  # NOTE: int64 * float32 is float64
        target = target.astype(like.dtype)
    if tuple(target.shape) != tuple(expected_shape):
        raise ValueError(f"{name}: target shape {tuple(target.shape)} does not fit the inputs; "
                         f"expected {tuple(expected_shape)} (one +1 or -1 per sample)")
    values = target.data
    if not np.isin(values, (1, -1)).all():
        bad = values[~np.isin(values, (1, -1))].flat[0]
        raise ValueError(f"{name}: target values must be 1 or -1, got {bad}")
    return target


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where the target is 1, max(0, cos(x1, x2) - margin) where it is -1;
    inputs (N, D) with target (N,), or (D,) with a 0-d target. As in PyTorch, 1e-12 is added to
    each squared norm, so a zero vector gives cos = 0, not NaN.

    >>> cosine_embedding_loss(Tensor([[1.0, 0.0]]), Tensor([[0.0, 2.0]]), Tensor([1])).item()
    1.0
    """
    _same_shape("cosine_embedding_loss", input1, _as_tensor(input2, input1))
    input2 = _as_tensor(input2, input1)
    if input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: inputs must be (N, D) or (D,), got shape "
                         f"{tuple(input1.shape)}")
    target = _signs("cosine_embedding_loss", target, input1.shape[:-1], input1)
    dot = (input1 * input2).sum(axis=-1)
    norms = (((input1 * input1).sum(axis=-1) + 1e-12) * ((input2 * input2).sum(axis=-1) + 1e-12))
    cos = dot / norms.sqrt()
    positive = target.data == 1
    loss = Tensor.where(positive, 1.0 - cos, (cos - margin).clip(min=0.0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin): target 1 asks for input1 ranked higher,
    -1 for input2 (all three of one shape).

    >>> margin_ranking_loss(Tensor([1.0, 3.0]), Tensor([2.0, 1.0]), Tensor([1.0, 1.0])).item()
    0.5
    """
    input2 = _as_tensor(input2, input1)
    _same_shape("margin_ranking_loss", input1, input2)
    target = _signs("margin_ranking_loss", target, input1.shape, input1)
    return _reduce((-target * (input1 - input2) + margin).clip(min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0,
                         reduction: str = "mean") -> Tensor:
    """input where the target is 1, max(0, margin - input) where it is -1 (input: e.g. a distance
    between two embeddings).

    >>> hinge_embedding_loss(Tensor([0.3, 0.4]), Tensor([1.0, -1.0]), reduction="none").tolist()
    [0.30000001192092896, 0.6000000238418579]
    """
    target = _signs("hinge_embedding_loss", target, input.shape, input)
    loss = Tensor.where(target.data == 1, input, (margin - input).clip(min=0.0))
    return _reduce(loss, reduction)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss: for each sample, sum over classes i != y of
    max(0, margin - x[y] + x[i]) ** p, divided by the number of classes C (each term times
    weight[y] with class weights). Scores (N, C) with class indices (N,), or (C,) with a 0-d index.

    >>> multi_margin_loss(Tensor([[0.1, 0.2, 0.4, 0.8]]), Tensor([3])).item()
    0.32499998807907104
    """
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 supported, got {p}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: input must be (N, C) or (C,), got shape "
                         f"{tuple(input.shape)}")
    labels, _, n_classes, expected = _check_classes("multi_margin_loss", target, input.shape,
                                                    ignore_index=None)
    scores = _class_last(input)
    rows = np.arange(len(labels))
    picked = scores[rows, labels].reshape(-1, 1)
    margins = (scores - picked + margin).relu()  # NOTE: relu: a term of exactly 0 adds nothing
    terms = margins * margins if p == 2 else margins
    others = np.ones(scores.shape, dtype=scores.dtype)
    others[rows, labels] = 0.0  # the target class is not a term of its own sum
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=scores.dtype)
        if w.shape != (n_classes,):
            raise ValueError(f"multi_margin_loss: weight must have one entry per class "
                             f"({n_classes}), got shape {w.shape}")
        others = others * w[labels].reshape(-1, 1)
    loss = (terms * (others / n_classes)).sum(axis=1).reshape(expected)
    return _reduce(loss, reduction)


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


class L1Loss(_Loss):
    """Module form of l1_loss.

    >>> L1Loss()(Tensor([1.0, 2.0]), Tensor([1.0, 5.0])).item()
    1.5
    """

    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of smooth_l1_loss.

    >>> SmoothL1Loss(beta=2.0)(Tensor([1.0]), Tensor([0.0])).item()
    0.25
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Module form of huber_loss.

    >>> HuberLoss(delta=0.5)(Tensor([3.0]), Tensor([0.0])).item()
    1.375
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """Module form of kl_div (reduction may also be "batchmean").

    >>> round(KLDivLoss(reduction="batchmean")(Tensor([[0.5, 0.5]]).log(), Tensor([[0.25, 0.75]])).item(), 6)
    0.130812
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        Module.__init__(self)
        if reduction not in (*_REDUCTIONS, "batchmean"):
            raise ValueError(f"reduction must be one of {(*_REDUCTIONS, 'batchmean')}, got "
                             f"{reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return kl_div(input, target, self.reduction, self.log_target)


class CosineEmbeddingLoss(_Loss):
    """Module form of cosine_embedding_loss.

    >>> CosineEmbeddingLoss()(Tensor([[1.0, 0.0]]), Tensor([[1.0, 0.0]]), Tensor([-1])).item()
    1.0
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class MarginRankingLoss(_Loss):
    """Module form of margin_ranking_loss.

    >>> MarginRankingLoss(margin=1.0)(Tensor([2.0]), Tensor([1.0]), Tensor([1.0])).item()
    0.0
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """Module form of hinge_embedding_loss.

    >>> HingeEmbeddingLoss(margin=2.0)(Tensor([0.5]), Tensor([-1.0])).item()
    1.5
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_embedding_loss(input, target, self.margin, self.reduction)


class MultiMarginLoss(_Loss):
    """Module form of multi_margin_loss.

    >>> MultiMarginLoss()(Tensor([[0.1, 0.2, 0.4, 0.8]]), Tensor([3])).item()
    0.32499998807907104
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got {p}")
        self.p, self.margin, self.weight = p, margin, weight

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)
