"""``torch.nn`` for gradviz's engine: ``Module``, ``Parameter``, layers, containers, losses,
``functional`` and ``init``. Anything else fails with one line naming it
(``gradviz's engine does not implement torch.nn.Conv2d``)."""

from . import functional, init
from .modules import (
    BCELoss,
    CrossEntropyLoss,
    Identity,
    L1Loss,
    Linear,
    LogSoftmax,
    Module,
    ModuleList,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .parameter import Parameter

__all__ = ["BCELoss", "CrossEntropyLoss", "Identity", "L1Loss", "Linear", "LogSoftmax",
           "MSELoss", "Module", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential",
           "Sigmoid", "Softmax", "Tanh", "functional", "init"]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from .. import NotImplementedByEngine

    raise NotImplementedByEngine(f"gradviz's engine does not implement torch.nn.{name}")
