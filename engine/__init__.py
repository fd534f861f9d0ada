"""gradviz's autograd engine: PyTorch's API, node names, reprs and errors, on numpy (CPU)
and CuPy (GPU). ``import engine as torch`` runs everyday PyTorch teaching code unchanged.

What is implemented is listed in the README's coverage table; anything else fails with one
line naming it (``gradviz's engine does not implement torch.fft``).
"""

from __future__ import annotations

import numpy as _np

# PyTorch prints no warning for 1/0 or log(-1); neither does the engine. (numpy's global
# error state is the only way to keep its warnings out without paying on every op.)
_np.seterr(all="ignore")

from . import autograd, cuda, events  # noqa: E402, F401
from ._device import device, get_default_device, set_default_device  # noqa: E402, F401
from ._dtype import (  # noqa: E402, F401
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from ._format import get_printoptions, set_printoptions  # noqa: E402, F401
from ._grad_mode import (  # noqa: E402, F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ._ops import FUNCTIONS as _FUNCTIONS  # noqa: E402
from ._ops.creation import Generator, default_generator  # noqa: E402, F401
from ._size import Size  # noqa: E402, F401
from ._tensor import Tensor  # noqa: E402

globals().update(_FUNCTIONS)

__version__ = "2.13.0+gradviz"


class NotImplementedByEngine(AttributeError, NotImplementedError):
    """Raised for a part of PyTorch's API that gradviz's engine does not implement."""


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t) -> bool:
    return t.is_floating_point()


def numel(t) -> int:
    return t.numel()


def __getattr__(name: str):
    if name in ("nn", "optim"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedByEngine(f"gradviz's engine does not implement torch.{name}")


def _tensor_getattr(self, name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedByEngine(f"gradviz's engine does not implement Tensor.{name}")


Tensor.__getattr__ = _tensor_getattr
