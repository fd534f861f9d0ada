"""Reductions: ``sum`` and ``mean`` (over everything or over dims)."""

from __future__ import annotations

from .. import _dtype as dt
from .._device import backend_of
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method, wrap_dim

__all__ = ["sum", "mean"]


def _dims(dim, ndim: int) -> tuple:
    if isinstance(dim, int):
        return (wrap_dim(dim, ndim),)
    seen = tuple(wrap_dim(d, ndim) for d in dim)
    if len(set(seen)) != len(seen):
        raise RuntimeError(f"dim {seen[0]} appears multiple times in the list of dims")
    return seen


def _expand_back(B, g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims (a view, never a copy)."""
    if dims is not None and not keepdim and len(in_shape):
        shape = list(in_shape)
        for d in dims:
            shape[d] = 1
        g = B.reshape(g, tuple(shape))
    return B.broadcast_to(g, in_shape)


class SumBackward0(Node):
    """``t.sum()`` over all elements."""

    __slots__ = ("in_shape",)

    def backward(self, g):
        return (backend_of(g).broadcast_to(g, self.in_shape),)


class SumBackward1(Node):
    """``t.sum(dim, keepdim)``."""

    __slots__ = ("in_shape", "dims", "keepdim")

    def backward(self, g):
        return (_expand_back(backend_of(g), g, self.in_shape, self.dims, self.keepdim),)


def _sum_dtype(x, dtype):
    if dtype is not None:
        return dt.to_dtype(dtype).np
    if x.dtype.kind in "biu":
        return dt.int64.np  # PyTorch sums integers (and bools) as int64
    return None


@method("sum")
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A001, A002
    B = input._B
    x = input._data
    want = _sum_dtype(x, dtype)
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0 and x.ndim == 0):
        out = B.sum(x, dtype=want)
        if not hasattr(out, "shape") or out.shape != ():
            out = B.asarray(out)
        if needs_grad(input):
            node = SumBackward0((input._edge(),))
            node.in_shape = x.shape
            return record(out, B, node, (input,))
        return Tensor._wrap(out, B)
    dims = _dims(dim, x.ndim) if x.ndim else ()
    out = B.sum(x, axis=dims, keepdims=keepdim, dtype=want) if x.ndim else B.copy(x)
    out = B.asarray(out)
    if needs_grad(input):
        node = SumBackward1((input._edge(),))
        node.in_shape, node.dims, node.keepdim = x.shape, dims, keepdim
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


class MeanBackward0(Node):
    __slots__ = ("in_shape", "count")

    def backward(self, g):
        B = backend_of(g)
        return (B.broadcast_to(B.divide(g, self.count), self.in_shape),)


class MeanBackward1(Node):
    __slots__ = ("in_shape", "dims", "keepdim", "count")

    def backward(self, g):
        B = backend_of(g)
        return (_expand_back(B, B.divide(g, self.count), self.in_shape, self.dims, self.keepdim),)


@method("mean")
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A002
    B = input._B
    x = input._data
    if dtype is not None:
        x = x.astype(dt.to_dtype(dtype).np)
    if x.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_type_word(x.dtype)}"
        )
    if dim is None:
        out = B.asarray(B.mean(x))
        if needs_grad(input):
            node = MeanBackward0((input._edge(),))
            node.in_shape, node.count = x.shape, max(x.size, 1)
            return record(out, B, node, (input,))
        return Tensor._wrap(out, B)
    dims = _dims(dim, x.ndim) if x.ndim else ()
    out = B.asarray(B.mean(x, axis=dims, keepdims=keepdim)) if x.ndim else B.copy(x)
    if needs_grad(input):
        node = MeanBackward1((input._edge(),))
        count = 1
        for d in dims:
            count *= x.shape[d]
        node.in_shape, node.dims, node.keepdim, node.count = x.shape, dims, keepdim, count
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


def _type_word(np_dtype) -> str:
    from .common import torch_type_name

    return torch_type_name(np_dtype)
