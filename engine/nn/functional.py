"""``torch.nn.functional``: activations, ``linear``, softmax and the losses.

Each is the same op as the Tensor method (``F.relu(x)`` is ``x.relu()``), so the graph is
the same; ``linear`` picks PyTorch's nodes (AddmmBackward0 for a 2-D input with bias).
"""

from __future__ import annotations

import warnings

from .._ops.linalg import addmm, matmul
from .._ops.loss import binary_cross_entropy, cross_entropy, l1_loss, mse_loss, nll_loss

__all__ = ["binary_cross_entropy", "cross_entropy", "l1_loss", "linear", "log_softmax",
           "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "tanh"]


def linear(input, weight, bias=None):  # noqa: A002 - PyTorch's argument name
    """``input @ weight.T + bias``, recorded as PyTorch records it: ``addmm`` for 2-D input
    with a bias, flatten / ``addmm`` / view for other contiguous inputs with a bias,
    ``matmul`` (plus AddBackward0 for a bias) otherwise."""
    if input._data.ndim == 0:
        raise RuntimeError(
            "both arguments to linear need to be at least 1D, but they are 0D and "
            f"{weight._data.ndim}D"
        )
    if bias is not None:
        nd = input._data.ndim
        if nd == 2:
            return addmm(bias, input, weight.t())
        if bias._data.ndim == 1 and input.is_contiguous():
            sizes = tuple(input.shape)
            rows = 1
            for s in sizes[:-1]:
                rows *= s
            out = addmm(bias, input.reshape(rows, sizes[-1]), weight.t())
            return out.view(*sizes[:-1], out.shape[1])
        return matmul(input, weight.t()) + bias
    return matmul(input, weight.t())


def relu(input, inplace: bool = False):  # noqa: A002
    """``max(0, x)``; ``inplace=True`` overwrites ``input``."""
    return input.relu_() if inplace else input.relu()


def tanh(input):  # noqa: A002
    return input.tanh()


def sigmoid(input):  # noqa: A002
    return input.sigmoid()


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):  # noqa: A002
    """Softmax along ``dim``; without ``dim``, PyTorch's legacy choice and its warning."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):  # noqa: A002
    """Log-softmax along ``dim``; without ``dim``, PyTorch's legacy choice and its warning."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from .. import NotImplementedByEngine

    raise NotImplementedByEngine(
        f"gradviz's engine does not implement torch.nn.functional.{name}"
    )
