"""Plain-loop numpy references for the convolution family (tests/op_table.py, tests/layer_table.py):
written from the definitions, one output element (or one input pixel) at a time, sharing no code
with the library's im2col, col2im or interpolation matrices."""

from __future__ import annotations

import math

import numpy as np


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, i, j] = sum over the group's channels c and taps (p, q) of
    x[n, c, i*s - pad + p*d, j*s - pad + q*d] * w[o, c, p, q] (outside x counts as 0)."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                total = np.zeros(n)
                for ci in range(cg):
                    for p in range(kh):
                        for q in range(kw):
                            r, s = i * sh - ph + p * dh, j * sw - pw + q * dw
                            if 0 <= r < h and 0 <= s < wd:
                                total += x[:, g * cg + ci, r, s] * w[oc, ci, p, q]
                out[:, oc, i, j] = total
    return out if b is None else out + np.asarray(b)[None, :, None, None]


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return conv2d(x[:, :, None, :], w[:, :, None, :], b, (1, stride), (0, padding),
                  (1, dilation), groups)[:, :, 0, :]


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel x[n, c, i, j] adds x * w[c, o, p, q] at (i*s + p*d - pad, j*s + q*d - pad)
    of output channel (group of c) * O/groups + o."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    oph, opw = pair(output_padding)
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // groups
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    out = np.zeros((n, og * groups, oh, ow))
    for ci in range(c):
        g = ci // cg
        for i in range(h):
            for j in range(wd):
                for p in range(kh):
                    for q in range(kw):
                        r, s = i * sh + p * dh - ph, j * sw + q * dw - pw
                        if 0 <= r < oh and 0 <= s < ow:
                            out[:, g * og:(g + 1) * og, r, s] += x[:, ci, i, j][:, None] * w[ci, :, p, q]
    return out if b is None else out + np.asarray(b)[None, :, None, None]


def _pool_size(n, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool2d(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, kind="max",
           count_include_pad=True, divisor_override=None):
    """PyTorch's max_pool2d / avg_pool2d, one window at a time."""
    (kh, kw) = pair(kernel)
    (sh, sw) = pair(kernel if stride is None else stride)
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    n, c, h, w = x.shape
    oh, ow = _pool_size(h, kh, sh, ph, dh, ceil_mode), _pool_size(w, kw, sw, pw, dw, ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - ph, j * sw - pw
            rows = [r0 + a * dh for a in range(kh) if 0 <= r0 + a * dh < h]
            cols = [c0 + a * dw for a in range(kw) if 0 <= c0 + a * dw < w]
            win = x[:, :, rows][:, :, :, cols]
            if kind == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
                continue
            if divisor_override is not None:
                div = divisor_override
            elif count_include_pad:
                div = (min(r0 + kh, h + ph) - r0) * (min(c0 + kw, w + pw) - c0)
            else:
                div = len(rows) * len(cols)
            out[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return out


def _bins(n, out):
    return [(math.floor(i * n / out), math.ceil((i + 1) * n / out)) for i in range(out)]


def adaptive_pool2d(x, output_size, kind="avg"):
    oh, ow = pair(output_size)
    oh, ow = oh or x.shape[2], ow or x.shape[3]
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i, (r0, r1) in enumerate(_bins(x.shape[2], oh)):
        for j, (c0, c1) in enumerate(_bins(x.shape[3], ow)):
            win = x[:, :, r0:r1, c0:c1]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return out


def _source(n_in, n_out, scale_factor, mode, align_corners):
    """For each output index: (i0, i1, weight of i1) along one axis."""
    result = []
    for dst in range(n_out):
        if mode == "nearest":
            scale = (np.float32(1.0 / scale_factor) if scale_factor else
                     np.float32(n_in) / np.float32(n_out))
            i = n_out == n_in and dst or min(int(np.floor(np.float32(dst) * scale)), n_in - 1)
            result.append((i, i, 0.0))
            continue
        if align_corners:
            src = dst * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            scale = 1.0 / scale_factor if scale_factor else n_in / n_out
            src = max((dst + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(src), n_in - 1)
        result.append((i0, min(i0 + 1, n_in - 1), src - i0))
    return result


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's F.interpolate for 3-D and 4-D inputs, element by element."""
    spatial = x.shape[2:]
    k = len(spatial)
    scales = pair(scale_factor) if scale_factor is not None else (None,) * k
    scales = scales[:k]
    sizes = (tuple(pair(size))[:k] if size is not None else
             tuple(int(math.floor(n * f)) for n, f in zip(spatial, scales)))
    out = x
    for axis, (n_in, n_out, f) in enumerate(zip(spatial, sizes, scales)):
        axis += 2
        pieces = []
        for i0, i1, t in _source(n_in, n_out, f, mode, align_corners):
            a, b = np.take(out, i0, axis=axis), np.take(out, i1, axis=axis)
            pieces.append(a * (1 - t) + b * t)
        out = np.stack(pieces, axis=axis)
    return out
