"""Neural-network building blocks with PyTorch's names: Module, layers, activations, losses, init."""

from . import functional, init, utils
from .activations import (
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
)
from .attention import MultiheadAttention
from .conv import AdaptiveAvgPool2d, AdaptiveMaxPool2d, Conv1d, ConvTranspose2d, Upsample
from .layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    Unflatten,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .normalization import GroupNorm, LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "ELU", "LSTM", "RNN", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "Conv2d", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "Identity", "LSTMCell",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict",
    "ModuleList", "NLLLoss", "PReLU", "RNNCell", "RReLU", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Softplus", "Tanh", "Parameter", "functional", "init",
    "GELU", "GRU", "GRUCell", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "LayerNorm",
    "LogSigmoid", "Mish", "MultiheadAttention", "ReLU6", "SELU", "SiLU", "Softsign",
    "TransformerEncoder", "TransformerEncoderLayer", "Unflatten",
    "CosineEmbeddingLoss", "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss",
    "MarginRankingLoss", "MultiMarginLoss", "SmoothL1Loss", "utils",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Conv1d", "ConvTranspose2d", "Upsample",
]
