"""Optimizers with PyTorch's names and algorithms, Newton's method, and learning-rate schedules."""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .newton import Newton, NewtonCG
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Newton", "NewtonCG", "Optimizer",
           "RMSprop", "lr_scheduler"]
