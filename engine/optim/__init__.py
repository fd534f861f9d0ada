"""``torch.optim`` for gradviz's engine: ``SGD`` and ``Adam`` (PyTorch's update equations)
on the ``Optimizer`` base. Anything else fails with one line naming it."""

from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from .. import NotImplementedByEngine

    raise NotImplementedByEngine(f"gradviz's engine does not implement torch.optim.{name}")
