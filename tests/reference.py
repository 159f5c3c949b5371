"""Reference implementations the nn/optim tests compare against, written once: plain numpy (float64),
straight from the formulas PyTorch documents (conv, pooling, batch norm, the losses, the RNN and
LSTM equations, the six optimizers' algorithm boxes), plus small helpers shared by those tests.

Nothing here imports tinygrad_lite's internals: a reference that reused the code under test could
not catch its bugs.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_lite import Tensor


def t64(a, requires_grad=True) -> Tensor:
    """A float64 Tensor (gradcheck's dtype)."""
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def pair(v) -> tuple:
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


# ------------------------------------------------------------------------------- activations ----
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x, beta=1.0):
    return np.logaddexp(0, beta * x) / beta


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


# -------------------------------------------------------------------------- conv and pooling ----
def conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlation of (N, C, H, W) with (O, C, kh, kw), loop over output positions."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out if b is None else out + np.asarray(b)[None, :, None, None]


def pool2d(x, kernel, stride=None, padding=0, kind="max"):
    """Max pooling (padding -inf) or average pooling (padded zeros count, PyTorch's default)."""
    (kh, kw) = pair(kernel)
    (sh, sw), (ph, pw) = pair(kernel if stride is None else stride), pair(padding)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return out


def batch_norm(x, axes, w, b, eps=1e-5):
    """Training-mode batch norm: the batch's biased variance normalizes."""
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * np.reshape(w, shape) + np.reshape(b, shape)


# ------------------------------------------------------------------------------------ losses ----
def bce(p, y):
    """Binary cross-entropy with PyTorch's clamp of each log at -100."""
    with np.errstate(divide="ignore"):
        return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))


def bce_with_logits(z, y, pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -z)  # log sigmoid(z)
    log_one_minus = -np.logaddexp(0, z)  # log(1 - sigmoid(z))
    return -(pw * y * log_sig + (1 - y) * log_one_minus)


def cross_entropy(z, y, weight=None, smoothing=0.0, ignore_index=-100):
    """PyTorch's documented formula, for (N, C) logits and integer targets (mean reduction)."""
    n, c = z.shape
    logp = log_softmax(z)
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    valid = y != ignore_index
    yv = np.where(valid, y, 0)
    nll = -(w[yv] * logp[np.arange(n), yv])[valid].sum() / w[yv][valid].sum()
    smooth = -(logp * w).sum(axis=1)[valid].sum() / w[yv][valid].sum() / c
    return (1 - smoothing) * nll + smoothing * smooth


def kl_sparsity(a, rho, eps=1e-6):
    rho_hat = np.clip(a.mean(axis=0), eps, 1 - eps)
    return np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))


# --------------------------------------------------------------------------------- recurrent ----
def recurrent_params(module, layer):
    """One layer's numpy weights: W_ih, W_hh, b_ih + b_hh (0.0 without bias)."""
    sd = {k: v.astype(np.float64) for k, v in module.state_dict().items()}
    w_ih, w_hh = sd[f"weight_ih_l{layer}"], sd[f"weight_hh_l{layer}"]
    b = sd[f"bias_ih_l{layer}"] + sd[f"bias_hh_l{layer}"] if f"bias_ih_l{layer}" in sd else 0.0
    return w_ih, w_hh, b


def lstm(module, x, h0=None, c0=None):
    """x (T, N, F) -> outputs (T, N, H), h_n, c_n (layers, N, H): PyTorch's LSTM equations, step
    by step, gate order i, f, g, o."""
    steps, n, _ = x.shape
    hid, layers = module.hidden_size, module.num_layers
    h0 = np.zeros((layers, n, hid)) if h0 is None else h0
    c0 = np.zeros((layers, n, hid)) if c0 is None else c0
    hs, cs = [], []
    for layer in range(layers):
        w_ih, w_hh, b = recurrent_params(module, layer)
        h, c, out = h0[layer], c0[layer], []
        for t in range(steps):
            z = x[t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = (z[:, k * hid:(k + 1) * hid] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            out.append(h)
        x = np.stack(out)
        hs.append(h)
        cs.append(c)
    return x, np.stack(hs), np.stack(cs)


def rnn(module, x, h0=None):
    """x (T, N, F) -> outputs (T, N, H), h_n (layers, N, H): the Elman RNN (tanh or relu)."""
    steps, n, _ = x.shape
    act = np.tanh if module.nonlinearity == "tanh" else (lambda z: np.maximum(z, 0))
    h0 = np.zeros((module.num_layers, n, module.hidden_size)) if h0 is None else h0
    finals = []
    for layer in range(module.num_layers):
        w_ih, w_hh, b = recurrent_params(module, layer)
        h, out = h0[layer], []
        for t in range(steps):
            h = act(x[t] @ w_ih.T + h @ w_hh.T + b)
            out.append(h)
        x = np.stack(out)
        finals.append(h)
    return x, np.stack(finals)


# -------------------------------------------------------------------------------- optimizers ----
# Each updates one parameter array: ref(p, g, s, **options) -> new p; `s` is that parameter's state,
# kept under PyTorch's names so tests can compare it with the optimizer's. maximize negates the
# gradient first (as torch.optim does), so weight decay still pulls toward zero when maximizing.
def sgd(p, g, s, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
        maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        if "momentum_buffer" not in s:
            s["momentum_buffer"] = g.copy()
        else:
            s["momentum_buffer"] = momentum * s["momentum_buffer"] + (1 - dampening) * g
        g = g + momentum * s["momentum_buffer"] if nesterov else s["momentum_buffer"]
    return p - lr * g


def adagrad(p, g, s, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
            eps=1e-10, maximize=False):
    if not s:
        s["step"], s["sum"] = 0, np.full_like(p, initial_accumulator_value)
    s["step"] += 1
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    clr = lr / (1 + (s["step"] - 1) * lr_decay)
    s["sum"] = s["sum"] + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def rmsprop(p, g, s, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False, maximize=False):
    if not s:
        s["step"], s["square_avg"] = 0, np.zeros_like(p)
        if momentum > 0:
            s["momentum_buffer"] = np.zeros_like(p)
        if centered:
            s["grad_avg"] = np.zeros_like(p)
    s["step"] += 1
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    s["square_avg"] = alpha * s["square_avg"] + (1 - alpha) * g * g
    if centered:
        s["grad_avg"] = alpha * s["grad_avg"] + (1 - alpha) * g
        avg = np.sqrt(s["square_avg"] - s["grad_avg"] ** 2) + eps
    else:
        avg = np.sqrt(s["square_avg"]) + eps
    if momentum > 0:
        s["momentum_buffer"] = momentum * s["momentum_buffer"] + g / avg
        return p - lr * s["momentum_buffer"]
    return p - lr * g / avg


def adadelta(p, g, s, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    if not s:
        s["step"], s["square_avg"], s["acc_delta"] = 0, np.zeros_like(p), np.zeros_like(p)
    s["step"] += 1
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    s["square_avg"] = rho * s["square_avg"] + (1 - rho) * g * g
    delta = np.sqrt(s["acc_delta"] + eps) / np.sqrt(s["square_avg"] + eps) * g  # the old acc_delta
    s["acc_delta"] = rho * s["acc_delta"] + (1 - rho) * delta * delta
    return p - lr * delta


def _adam(p, g, s, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    b1, b2 = betas
    if not s:
        s["step"], s["exp_avg"], s["exp_avg_sq"] = 0, np.zeros_like(p), np.zeros_like(p)
        if amsgrad:
            s["max_exp_avg_sq"] = np.zeros_like(p)
    s["step"] += 1
    t = s["step"]
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
    s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
    second = s["exp_avg_sq"]
    if amsgrad:
        s["max_exp_avg_sq"] = second = np.maximum(s["max_exp_avg_sq"], s["exp_avg_sq"])
    m_hat = s["exp_avg"] / (1 - b1 ** t)
    return p - lr * m_hat / (np.sqrt(second) / math.sqrt(1 - b2 ** t) + eps)


def adam(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         maximize=False):
    return _adam(p, g, s, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=False)


def adamw(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
          maximize=False):
    return _adam(p, g, s, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=True)
