"""Elementwise functions with one tensor input: ``clamp`` / ``relu`` and the math functions."""

from __future__ import annotations

from .. import _dtype as dt
from .._device import backend_of
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method

__all__ = ["clamp", "clip"]


class ClampBackward1(Node):
    """``clamp(min=, max=)`` with Python-number bounds: gradient passes where in range."""

    __slots__ = ("x", "lo", "hi")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        x, lo, hi = self.x, self.lo, self.hi
        if hi is None:
            mask = B.greater_equal(x, lo)
        elif lo is None:
            mask = B.less_equal(x, hi)
        else:
            mask = B.logical_and(B.greater_equal(x, lo), B.less_equal(x, hi))
        return (B.multiply(g, mask),)

    def _drop_values(self):
        self.x = None


@method("clamp", "clip")
def clamp(input: Tensor, min=None, max=None):  # noqa: A001, A002 - PyTorch's names
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from .tensor_clamp import clamp_tensor

        return clamp_tensor(input, min, max)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    B = input._B
    x = input._data
    if x.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = x.astype(dt.DEFAULTS.float_dtype.np)
    if max is None:
        out = B.maximum(x, min)
    elif min is None:
        out = B.minimum(x, max)
    else:
        out = B.minimum(B.maximum(x, min), max)
    if needs_grad(input):
        node = ClampBackward1((input._edge(),))
        node.x, node.lo, node.hi = x, min, max
        node.save(input)
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


clip = clamp
