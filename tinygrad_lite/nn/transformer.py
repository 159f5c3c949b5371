"""The transformer encoder: TransformerEncoderLayer (self-attention and a feed-forward block, each
with a residual connection and layer normalization) and TransformerEncoder (a stack of copies), with
PyTorch's names, defaults (post-norm unless norm_first, ReLU, dropout 0.1) and parameter layout."""

from __future__ import annotations

import copy
from collections.abc import Callable

from ..argcheck import check_int
from ..tensor import Tensor
from .attention import MultiheadAttention
from .layers import Dropout, Linear
from .module import Module, ModuleList
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": Tensor.relu, "gelu": Tensor.gelu}


class TransformerEncoderLayer(Module):
    """One encoder block, PyTorch's module: x + self-attention, then x + feed-forward
    (linear1 -> activation -> dropout -> linear2), each followed by a LayerNorm (post-norm, the
    default) or preceded by it (`norm_first=True`). Inputs (S, N, E), or (N, S, E) with
    batch_first, or unbatched (S, E).

    >>> layer = TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    >>> layer(Tensor.ones(3, 5, 8)).shape
    (3, 5, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        super().__init__()
        check_int(dim_feedforward, "TransformerEncoderLayer: dim_feedforward", 1)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        elif not callable(activation):
            raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
        self.activation = activation

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """`num_layers` independent copies of `encoder_layer` applied in turn (PyTorch's module and
    state-dict keys: `layers.0.self_attn.in_proj_weight`, ...), then `norm` if given.

    >>> layer = TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
    >>> encoder = TransformerEncoder(layer, num_layers=3)
    >>> encoder(Tensor.ones(5, 2, 8)).shape, len(encoder.layers)
    ((5, 2, 8), 3)
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True):
        super().__init__()
        check_int(num_layers, "TransformerEncoder: num_layers", 0)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
