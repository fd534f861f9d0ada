"""The module classes of ``engine.nn`` (one family per file, as in PyTorch)."""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .linear import Identity, Linear
from .loss import BCELoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module

__all__ = ["BCELoss", "CrossEntropyLoss", "Identity", "L1Loss", "Linear", "LogSoftmax",
           "MSELoss", "Module", "ModuleList", "NLLLoss", "ReLU", "Sequential", "Sigmoid",
           "Softmax", "Tanh"]
