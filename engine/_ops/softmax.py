"""``softmax`` and ``log_softmax`` along a dim, numerically stable (the row max is
subtracted before ``exp``), each beside its backward node.

``torch.softmax`` / ``Tensor.softmax`` need ``dim``; ``nn.functional.softmax`` may pick it
(with PyTorch's deprecation warning), see ``engine/nn/functional.py``.
"""

from __future__ import annotations

from .._device import backend_of
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method, torch_type_name, wrap_dim

__all__ = ["softmax", "log_softmax"]

_MISSING = object()


class SoftmaxBackward0(Node):
    """``y = softmax(x)``: ``dx = y * (g - sum(g * y, dim))``; needs only the result."""

    __slots__ = ("result", "dim")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        y = self.result
        gy = B.multiply(g, y)
        return (B.subtract(gy, B.multiply(y, B.sum(gy, axis=self.dim, keepdims=True))),)

    def _drop_values(self):
        self.result = None


class LogSoftmaxBackward0(Node):
    """``y = log_softmax(x)``: ``dx = g - exp(y) * sum(g, dim)``; needs only the result."""

    __slots__ = ("result", "dim")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        s = B.sum(g, axis=self.dim, keepdims=True)
        return (B.subtract(g, B.multiply(B.exp(self.result), s)),)

    def _drop_values(self):
        self.result = None


def _prepare(input: Tensor, dim, dtype, name: str):  # noqa: A002 - PyTorch's argument name
    """(input cast to ``dtype``, the wrapped dim) after PyTorch's checks."""
    if dim is _MISSING:
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')
    if dtype is not None:
        input = input.to(dtype)  # noqa: A001 - PyTorch records ToCopyBackward0 here too
    x = input._data
    d = wrap_dim(dim, x.ndim)
    if x.dtype.kind not in "fc":
        where = "lastdim_" if x.ndim == 0 or d == x.ndim - 1 else ""
        raise NotImplementedError(
            f'"{name}_{where}kernel_impl" not implemented for \'{torch_type_name(x.dtype)}\''
        )
    return input, d


def _contiguous(B, x):
    # PyTorch's softmax kernels write a fresh contiguous result whatever the input's
    # strides; numpy would keep a transposed layout, and a later view() would then differ
    return x if B.is_contiguous(x) else B.ascontiguousarray(x)


def _softmax(B, x, axis: int):
    e = B.exp(B.subtract(x, B.amax(x, axis=axis, keepdims=True)))
    return B.divide(e, B.sum(e, axis=axis, keepdims=True), out=e)


def _log_softmax(B, x, axis: int):
    shifted = B.subtract(x, B.amax(x, axis=axis, keepdims=True))
    return B.subtract(shifted, B.log(B.sum(B.exp(shifted), axis=axis, keepdims=True)),
                      out=shifted)


@method("softmax")
def softmax(input: Tensor, dim=_MISSING, dtype=None) -> Tensor:  # noqa: A002
    """``exp(x) / exp(x).sum(dim)`` computed as ``exp(x - max)`` so large inputs don't overflow.

    >>> torch.tensor([1.0, 2.0, 3.0]).softmax(0)
    tensor([0.0900, 0.2447, 0.6652])
    """
    input, axis = _prepare(input, dim, dtype, "softmax")  # noqa: A001
    B = input._B
    x = _contiguous(B, input._data)
    if x.ndim == 0:
        # numpy ufuncs turn 0-d arrays into scalars; work on one element and reshape back
        out = B.reshape(_softmax(B, B.reshape(x, (1,)), 0), ())
        axis = None  # the backward sums over "everything", which for 0-d is the element
    else:
        out = _softmax(B, x, axis)
    if needs_grad(input):
        node = SoftmaxBackward0((input._edge(),))
        node.result, node.dim = out, axis
        t = record(out, B, node, (input,))
        node.save(outputs=(t,))
        return t
    return Tensor._wrap(out, B)


@method("log_softmax")
def log_softmax(input: Tensor, dim=_MISSING, dtype=None) -> Tensor:  # noqa: A002
    """``x - log(exp(x).sum(dim))`` computed as ``(x - max) - log(exp(x - max).sum(dim))``.

    >>> torch.tensor([1.0, 2.0, 3.0]).log_softmax(0)
    tensor([-2.4076, -1.4076, -0.4076])
    """
    input, axis = _prepare(input, dim, dtype, "log_softmax")  # noqa: A001
    B = input._B
    x = _contiguous(B, input._data)
    if x.ndim == 0:
        out = B.reshape(_log_softmax(B, B.reshape(x, (1,)), 0), ())
        axis = None
    else:
        out = _log_softmax(B, x, axis)
    if needs_grad(input):
        node = LogSoftmaxBackward0((input._edge(),))
        node.result, node.dim = out, axis
        t = record(out, B, node, (input,))
        node.save(outputs=(t,))
        return t
    return Tensor._wrap(out, B)
