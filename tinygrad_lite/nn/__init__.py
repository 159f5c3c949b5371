"""Neural-network building blocks with PyTorch's names: Module, layers, activations, losses, init."""

from . import functional, init
from .activations import (
    ELU,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    RReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
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
)
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .recurrent import LSTM, RNN, LSTMCell, RNNCell

__all__ = [
    "ELU", "LSTM", "RNN", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "Conv2d", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "Identity", "LSTMCell",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict",
    "ModuleList", "NLLLoss", "PReLU", "RNNCell", "RReLU", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Softplus", "Tanh", "Parameter", "functional", "init",
]
