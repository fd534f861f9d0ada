"""Reductions: ``sum`` and ``mean`` (over everything or over dims).

PyTorch records SumBackward0 / MeanBackward0 only for a call without any ``dim`` argument;
passing ``dim`` at all, even ``None`` or ``()``, selects the dim overload (SumBackward1 /
MeanBackward1), and an empty dim list reduces over every dimension.
"""

from __future__ import annotations

import builtins

from .. import _dtype as dt
from .._device import backend_of
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method, torch_type_name, wrap_dim

__all__ = ["sum", "mean"]

_UNSET = object()  # no dim argument at all (the overload without dims)


def _signature_error(name: str, args: tuple, got: str = "") -> TypeError:
    got = got or ", ".join(type(a).__name__ for a in args)
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n * (*, torch.dtype dtype = None)\n"
        " * (tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None)\n"
    )


def _dims(name: str, dim, ndim: int):
    """The reduced dims, wrapped and checked; None for all of them."""
    if dim is None:
        return None
    if isinstance(dim, Tensor):
        dim = dim.item()
    if isinstance(dim, int) and not isinstance(dim, builtins.bool):
        return (wrap_dim(dim, ndim),)
    if not isinstance(dim, (tuple, list)):
        raise _signature_error(name, (dim,))
    if len(dim) == 0:
        return None
    out = []
    for d in dim:
        if not isinstance(d, int) or isinstance(d, builtins.bool):
            raise TypeError(
                f"{name}(): argument 'dim' failed to unpack the object at pos {len(out) + 1} "
                f'with error "type must be tuple of ints,but got {type(d).__name__}"'
            )
        w = wrap_dim(d, ndim)
        if w in out:
            raise RuntimeError(f"dim {w} appears multiple times in the list of dims")
        out.append(w)
    return tuple(out)


def _resolve(name: str, dim, axis, ndim: int):
    """(dims or None for all, whether a dim argument was given at all)."""
    if axis is not _UNSET:  # numpy's spelling, which PyTorch accepts too
        dim = axis
    if dim is _UNSET:
        return None, False
    dims = _dims(name, dim, ndim)
    if ndim == 0 or (dims is not None and len(dims) == ndim):
        dims = None
    return dims, True


def _expand_back(B, g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims (a view, never a copy)."""
    if not keepdim and len(in_shape):
        if dims is None:
            g = B.reshape(g, (1,) * len(in_shape))
        else:
            shape = list(in_shape)
            for d in dims:
                shape[d] = 1
            g = B.reshape(g, tuple(shape))
    return B.broadcast_to(g, in_shape)


class SumBackward0(Node):
    """``t.sum()`` over all elements."""

    __slots__ = ("in_shape", "in_dtype")

    def backward(self, g):
        g = backend_of(g).broadcast_to(g, self.in_shape)
        return (g if self.in_dtype is None else g.astype(self.in_dtype),)


class SumBackward1(Node):
    """``t.sum(dim, keepdim)``."""

    __slots__ = ("in_shape", "dims", "keepdim", "in_dtype")

    def backward(self, g):
        g = _expand_back(backend_of(g), g, self.in_shape, self.dims, self.keepdim)
        return (g if self.in_dtype is None else g.astype(self.in_dtype),)


def _sum_dtype(x, dtype):
    if dtype is not None:
        return dt.to_dtype(dtype).np
    if x.dtype.kind in "biu":
        return dt.int64.np  # PyTorch sums integers (and bools) as int64
    return None


def _keep_all(B, out, ndim: int):
    return B.reshape(out, (1,) * ndim)


@method("sum")
def sum(input: Tensor, dim=_UNSET, keepdim: bool = False, *, dtype=None,  # noqa: A001, A002
        axis=_UNSET):
    """Sum over all elements (SumBackward0) or over ``dim`` (SumBackward1); integer and bool
    tensors sum to int64 unless ``dtype`` says otherwise."""
    B = input._B
    x = input._data
    if not isinstance(keepdim, builtins.bool):
        raise _signature_error("sum", (dim, keepdim))
    dims, with_dim = _resolve("sum", dim, axis, x.ndim)
    if keepdim and not with_dim:
        raise _signature_error("sum", (), "keepdim=bool, ")
    want = _sum_dtype(x, dtype)
    out = B.sum(x, axis=dims, dtype=want, keepdims=keepdim)
    if not hasattr(out, "shape"):  # numpy hands back a scalar for a full reduction
        out = B.asarray(out)
    if needs_grad(input):
        in_dtype = None if out.dtype == x.dtype else x.dtype
        if with_dim:
            node = SumBackward1((input._edge(),))
            node.dims, node.keepdim = dims, keepdim
        else:
            node = SumBackward0((input._edge(),))
        node.in_shape, node.in_dtype = x.shape, in_dtype
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


class MeanBackward0(Node):
    __slots__ = ("in_shape", "count", "in_dtype")

    def backward(self, g):
        B = backend_of(g)
        g = B.broadcast_to(B.divide(g, self.count), self.in_shape)
        return (g if self.in_dtype is None else g.astype(self.in_dtype),)


class MeanBackward1(Node):
    __slots__ = ("in_shape", "dims", "keepdim", "count", "in_dtype")

    def backward(self, g):
        B = backend_of(g)
        g = _expand_back(B, B.divide(g, self.count), self.in_shape, self.dims, self.keepdim)
        return (g if self.in_dtype is None else g.astype(self.in_dtype),)


@method("mean")
def mean(input: Tensor, dim=_UNSET, keepdim: bool = False, *, dtype=None,  # noqa: A002
         axis=_UNSET):
    """Mean over all elements (MeanBackward0) or over ``dim`` (MeanBackward1); floating point
    only (or a floating ``dtype``), as in PyTorch."""
    B = input._B
    x = input._data
    if not isinstance(keepdim, builtins.bool):
        raise _signature_error("mean", (dim, keepdim))
    if dtype is not None:
        want = dt.to_dtype(dtype).np
        if want.kind != "f":
            raise RuntimeError(
                "mean(): could not infer output dtype. Optional dtype must be either a floating "
                f"point or complex dtype. Got: {torch_type_name(want)}"
            )
        x = x.astype(want, copy=False)
    elif x.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {torch_type_name(x.dtype)}"
        )
    dims, with_dim = _resolve("mean", dim, axis, x.ndim)
    if keepdim and not with_dim:
        raise _signature_error("mean", (), "keepdim=bool, ")
    if dims is None:
        count = x.size
    else:
        count = 1
        for d in dims:
            count *= x.shape[d]
    # sum / count is what numpy's mean computes, minus its warning for an empty slice
    # (PyTorch returns NaN there silently); half precision accumulates in float32, as numpy's
    half = x.dtype == dt.float16.np
    out = B.sum(x, axis=dims, keepdims=keepdim, dtype=dt.float32.np if half else None)
    out = B.divide(out, count)
    if half:
        out = out.astype(x.dtype)
    if not hasattr(out, "shape"):
        out = B.asarray(out)
    if needs_grad(input):
        in_dtype = None if x.dtype == input._data.dtype else input._data.dtype
        if with_dim:
            node = MeanBackward1((input._edge(),))
            node.dims, node.keepdim = dims, keepdim
        else:
            node = MeanBackward0((input._edge(),))
        node.in_shape, node.count, node.in_dtype = x.shape, count, in_dtype
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)
