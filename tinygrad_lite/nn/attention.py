"""Multi-head attention with PyTorch's names, parameter layout (`in_proj_weight` stacking the query,
key and value projections, `out_proj`), masks and initialization, so its state dicts load unchanged.
A composition of Tensor operations."""

from __future__ import annotations

import math

import numpy as np

from ..argcheck import check_int
from ..tensor import Tensor
from . import init
from .layers import Linear
from .module import Module, Parameter


def _additive(mask, what: str, dtype) -> Tensor | np.ndarray:
    """A mask as something to add to the scores: a boolean mask's True entries (not allowed to
    attend, PyTorch's meaning in MultiheadAttention) become -inf; a float mask is added as it is."""
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype == np.bool_:
        return np.where(array, -np.inf, 0.0).astype(dtype)
    if array.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {what} must be a bool or float mask, got dtype "
                        f"{array.dtype}")
    return mask if isinstance(mask, Tensor) else array.astype(dtype)


def _softmax_rows(scores: Tensor) -> Tensor:
    """softmax over the last axis; a row that may see no key (all -inf) gets zeros, not NaN, as
    scaled_dot_product_attention does."""
    with np.errstate(invalid="ignore"):
        dead = np.isneginf(scores.data.max(axis=-1, keepdims=True)) if scores.size else None
    if dead is None or not dead.any():
        return scores.softmax(-1)
    zero = np.zeros((), dtype=scores.dtype)
    return Tensor.where(dead, zero, Tensor.where(dead, zero, scores).softmax(-1))


class MultiheadAttention(Module):
    """Attention from num_heads heads of size embed_dim // num_heads, PyTorch's module: inputs
    (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)); returns (output, weights),
    the weights (N, L, S) averaged over heads (or (N, num_heads, L, S) with
    average_attn_weights=False, or None with need_weights=False).

    Masks use PyTorch's meaning here: in a boolean `attn_mask` (L, S) or (N * num_heads, L, S) and
    `key_padding_mask` (N, S), True means "may NOT attend"; float masks are added to the scores.
    A query that may see no key at all gets zeros.

    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> out, weights = mha(Tensor.ones(3, 5, 8), Tensor.ones(3, 4, 8), Tensor.ones(3, 4, 8))
    >>> out.shape, weights.shape
    ((3, 5, 8), (3, 5, 4))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False):
        super().__init__()
        check_int(embed_dim, "MultiheadAttention: embed_dim", 1)
        check_int(num_heads, "MultiheadAttention: num_heads", 1)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported; append the extra key/value rows to the inputs")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        self.kdim = embed_dim if kdim is None else check_int(kdim, "MultiheadAttention: kdim", 1)
        self.vdim = embed_dim if vdim is None else check_int(vdim, "MultiheadAttention: vdim", 1)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim

        def weight(rows, cols):
            return init.xavier_uniform_(Parameter(np.zeros((rows, cols), np.float32)))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
        else:  # PyTorch's names when key/value widths differ from embed_dim
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, self.kdim)
            self.v_proj_weight = weight(embed_dim, self.vdim)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        """(weight, bias) of the query, key and value projections."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return zip(weights, biases)

    def _layout(self, query, key, value):
        """The inputs as (N, L, E) batch-first tensors, and whether they came unbatched."""
        dims = {query.ndim, key.ndim, value.ndim}
        if len(dims) != 1 or dims.pop() not in (2, 3):
            raise ValueError(
                "MultiheadAttention: query, key and value must all be 3-D ("
                + ("(N, L, E)" if self.batch_first else "(L, N, E)") + ") or all 2-D (L, E) "
                f"unbatched, got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                f"{tuple(value.shape)}")
        for t, width, name in ((query, self.embed_dim, "query"), (key, self.kdim, "key"),
                               (value, self.vdim, "value")):
            if t.shape[-1] != width:
                raise ValueError(f"MultiheadAttention: {name} has shape {tuple(t.shape)}; its last "
                                 f"dimension must be {width}")
        if query.ndim == 2:
            return [t.reshape(1, *t.shape) for t in (query, key, value)], True
        if not self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError("MultiheadAttention: query, key and value need the same batch size "
                             "and key and value the same length, got shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        return [query, key, value], False

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal is a hint that attn_mask is the "
                               "causal mask; pass that mask too (as PyTorch requires)")
        (q, k, v), unbatched = self._layout(query, key, value)
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        heads, d = self.num_heads, self.head_dim
        q, k, v = (x.linear(w, b).reshape(n, -1, heads, d).transpose(0, 2, 1, 3)
                   for x, (w, b) in zip((q, k, v), self._projections()))
        scores = (q * (1.0 / math.sqrt(d))) @ k.swapaxes(-1, -2)  # (N, heads, L, S)
        if attn_mask is not None:
            mask = _additive(attn_mask, "attn_mask", scores.dtype)
            if mask.ndim == 3:
                if tuple(mask.shape) != (n * heads, length, source):
                    raise ValueError(f"MultiheadAttention: a 3-D attn_mask must be "
                                     f"{(n * heads, length, source)}, got {tuple(mask.shape)}")
                mask = mask.reshape(n, heads, length, source)
            elif tuple(mask.shape) != (length, source):
                raise ValueError(f"MultiheadAttention: a 2-D attn_mask must be {(length, source)}, "
                                 f"got {tuple(mask.shape)}")
            scores = scores + mask
        if key_padding_mask is not None:
            mask = _additive(key_padding_mask, "key_padding_mask", scores.dtype)
            if tuple(mask.shape) != ((source,) if unbatched else (n, source)):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, S) = "
                                 f"{(n, source)}, got {tuple(mask.shape)}")
            scores = scores + mask.reshape(n, 1, 1, source)
        weights = _softmax_rows(scores)
        if self.dropout and self.training:
            weights = weights.dropout(self.dropout)
        out = (weights @ v).transpose(0, 2, 1, 3).reshape(n, length, self.embed_dim)
        out = self.out_proj(out)
        if unbatched:
            out = out.reshape(length, self.embed_dim)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, (weights.reshape(weights.shape[1:]) if unbatched else weights)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
