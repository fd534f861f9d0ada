"""``max`` / ``min`` (over everything, along a dim, or against another tensor), ``amax`` /
``amin`` and ``argmax`` / ``argmin``, with PyTorch's nodes and tie rules:

* ``t.max()`` (MaxBackward1) and ``t.amax(dims)`` (AmaxBackward0) share the gradient evenly
  among tied maxima;
* ``t.max(dim)`` (MaxBackward0) returns ``torch.return_types.max(values, indices)`` and sends
  the whole gradient to the one index it reports (the first maximum, or the first NaN);
* ``t.max(other)`` is ``torch.maximum`` (MaximumBackward0, ties split half and half).
"""

from __future__ import annotations

import types
from collections import namedtuple

from .. import _dtype as dt
from .._device import backend_of
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method, wrap_dim
from .pointwise import _zero, maximum, minimum

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin", "return_types"]


# --- torch.return_types --------------------------------------------------------------------------
def _return_type_repr(self) -> str:
    fields = ",\n".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
    return f"torch.return_types.{type(self).__name__}(\n{fields})"


def _return_type(name: str):
    """A tuple with named fields that prints like PyTorch's ``torch.return_types.<name>``
    (``values, indices = t.max(0)`` and ``t.max(0).values`` both work)."""
    base = namedtuple(name, ("values", "indices"))
    return type(name, (base,), {
        "__slots__": (),
        "__repr__": _return_type_repr,
        "__str__": _return_type_repr,
        "__module__": __name__,
        # pickle finds the class again as ``minmax.return_types.<name>``
        "__qualname__": f"return_types.{name}",
    })


return_types = types.SimpleNamespace(max=_return_type("max"), min=_return_type("min"))


# --- over all elements: MaxBackward1 / MinBackward1 ----------------------------------------------
class MaxBackward1(Node):
    """``t.max()``: the gradient is shared evenly by every element equal to the maximum (by
    every NaN when the result is NaN)."""

    __slots__ = ("x", "result")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        x, r = self.x, self.result
        hit = B.logical_or(B.equal(x, r), B.logical_and(B.isnan(x), B.isnan(r)))
        count = B.sum(hit, dtype=g.dtype)
        return (B.where(hit, B.divide(g, count), _zero(B, g.dtype)),)

    def _drop_values(self):
        self.x = self.result = None


class MinBackward1(MaxBackward1):
    __slots__ = ()


def _reduce_all(input: Tensor, name: str, ufunc: str, node_cls) -> Tensor:
    x = input._data
    if x.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    B = input._B
    out = B.asarray(getattr(B, ufunc)(x))
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.x, node.result = x, out
        t = record(out, B, node, (input,))
        node.save(input, outputs=(t,))
        return t
    return Tensor._wrap(out, B)


# --- along one dim: MaxBackward0 / MinBackward0 ---------------------------------------------------
class MaxBackward0(Node):
    """``t.max(dim)``: the gradient goes to the reported index of each reduced slice."""

    __slots__ = ("index", "dim", "in_shape")  # index keeps the reduced dim (size 1)
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        shape = self.in_shape
        if not shape:
            return (g,)
        d = self.dim
        index = self.index
        if g.ndim != len(shape):
            g = B.expand_dims(g, d)
        # compare each position along dim with the chosen index: a one-hot mask, no scatter
        along = [1] * len(shape)
        along[d] = shape[d]
        positions = B.reshape(B.arange(shape[d], dtype=index.dtype), tuple(along))
        return (B.where(B.equal(positions, index), g, _zero(B, g.dtype)),)

    def _drop_values(self):
        self.index = None


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _check_dim_size(x, d: int, name: str) -> None:
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _reduce_dim(input: Tensor, dim, keepdim: bool, name: str, arg: str, node_cls, rtype):
    x = input._data
    B = input._B
    d = wrap_dim(dim, x.ndim)
    _check_dim_size(x, d, name)
    int64 = dt.int64.np
    if x.ndim == 0:
        # a 0-d tensor is its own max; keepdim has nothing to keep
        values, index = B.copy(x), B.zeros((), dtype=int64)
        index_kd = index
    else:
        index_kd = getattr(B, arg)(x, axis=d, keepdims=True)
        if index_kd.dtype != int64:
            index_kd = index_kd.astype(int64)
        values = B.take_along_axis(x, index_kd, axis=d)
        index = index_kd
        if not keepdim:
            values = B.squeeze(values, axis=d)
            index = B.squeeze(index_kd, axis=d)
    indices = Tensor._wrap(index, B)
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.index, node.dim, node.in_shape = index_kd, d, x.shape
        # PyTorch saves the indices (not the input): changing them in place is caught
        node.save(indices)
        return rtype(record(values, B, node, (input,)), indices)
    return rtype(Tensor._wrap(values, B), indices)


def _minmax(input: Tensor, dim, keepdim, other, name: str):
    if other is not None:
        if dim is not None:
            raise TypeError(f"{name}() got an unexpected keyword argument 'other'")
        dim = other
    if isinstance(dim, Tensor):
        return (maximum if name == "max" else minimum)(input, dim)
    if name == "max":
        ufunc, arg, all_node, dim_node = "amax", "argmax", MaxBackward1, MaxBackward0
    else:
        ufunc, arg, all_node, dim_node = "amin", "argmin", MinBackward1, MinBackward0
    if dim is None:
        if keepdim is not None:
            raise TypeError(_invalid_args(name, "keepdim=bool, "))
        return _reduce_all(input, name, ufunc, all_node)
    if not isinstance(dim, int):
        raise TypeError(_invalid_args(name, f"{type(dim).__name__}"))
    rtype = getattr(return_types, name)
    return _reduce_dim(input, dim, bool(keepdim), name, arg, dim_node, rtype)


def _invalid_args(name: str, got: str) -> str:
    return (
        f"{name}() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n * ()\n * (Tensor other)\n * (int dim, bool keepdim = False)\n"
    )


@method("max")
def max(input: Tensor, dim=None, keepdim=None, *, other=None):  # noqa: A001, A002
    """``t.max()``: the largest element (0-d). ``t.max(dim, keepdim=False)``:
    ``torch.return_types.max(values, indices)`` along ``dim``. ``t.max(other)``:
    the elementwise maximum with a tensor. NaN wins everywhere, as in PyTorch."""
    return _minmax(input, dim, keepdim, other, "max")


@method("min")
def min(input: Tensor, dim=None, keepdim=None, *, other=None):  # noqa: A001, A002
    """``t.min()``, ``t.min(dim, keepdim=False)`` or ``t.min(other)``: as ``max``."""
    return _minmax(input, dim, keepdim, other, "min")


# --- amax / amin: AmaxBackward0 / AminBackward0 -------------------------------------------------
def _dims(dim, ndim: int) -> tuple:
    """Reduced dims, wrapped; ``()`` means all of them, as in PyTorch's amax."""
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    if len(set(dims)) != len(dims):
        for d in dims:
            if dims.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if not dims:
        dims = tuple(range(ndim))
    return dims


class AmaxBackward0(Node):
    """``amax(dims)``: within each reduced slice the gradient is shared evenly among the
    elements equal to the result (PyTorch's ``grad / count * mask``: a slice whose maximum
    is NaN matches nothing and gets NaN)."""

    __slots__ = ("x", "result", "dims", "keepdim")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        x, r, dims = self.x, self.result, self.dims
        if not self.keepdim and x.ndim:
            shape = list(x.shape)
            for d in dims:
                shape[d] = 1
            r = B.reshape(r, tuple(shape))
            g = B.reshape(g, tuple(shape))
        hit = B.equal(x, r)
        count = B.sum(hit, axis=dims, keepdims=True, dtype=g.dtype)
        return (B.multiply(B.divide(g, count), hit),)

    def _drop_values(self):
        self.x = self.result = None


class AminBackward0(AmaxBackward0):
    __slots__ = ()


def _amax_like(input: Tensor, dim, keepdim: bool, name: str, ufunc: str, node_cls):
    x = input._data
    B = input._B
    if x.ndim == 0:
        _dims(dim, 0)  # still rejects a dim out of range
        dims, out = (), B.copy(x)
    else:
        dims = _dims(dim, x.ndim)
        if x.size == 0:
            if not isinstance(dim, int) and len(dim) == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            for d in dims:
                _check_dim_size(x, d, name)
        out = B.asarray(getattr(B, ufunc)(x, axis=dims, keepdims=keepdim))
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.x, node.result, node.dims, node.keepdim = x, out, dims, keepdim
        t = record(out, B, node, (input,))
        node.save(input, outputs=(t,))
        return t
    return Tensor._wrap(out, B)


@method("amax")
def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The maximum over ``dim`` (an int or a tuple; ``()`` = all dims), values only."""
    return _amax_like(input, dim, keepdim, "amax", "amax", AmaxBackward0)


@method("amin")
def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The minimum over ``dim`` (an int or a tuple; ``()`` = all dims), values only."""
    return _amax_like(input, dim, keepdim, "amin", "amin", AminBackward0)


# --- argmax / argmin -----------------------------------------------------------------------------
def _arg(input: Tensor, dim, keepdim: bool, name: str) -> Tensor:
    x = input._data
    B = input._B
    if x.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    int64 = dt.int64.np
    if dim is None:
        if x.size == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        out = B.asarray(getattr(B, name)(x)).astype(int64, copy=False)
        if keepdim:
            out = B.reshape(out, (1,) * x.ndim)
        return Tensor._wrap(out, B)
    d = wrap_dim(dim, x.ndim)
    _check_dim_size(x, d, name)
    if x.ndim == 0:
        return Tensor._wrap(B.zeros((), dtype=int64), B)
    out = B.asarray(getattr(B, name)(x, axis=d, keepdims=keepdim)).astype(int64, copy=False)
    return Tensor._wrap(out, B)


@method("argmax")
def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index (int64) of the first maximum, over the flattened tensor or along ``dim``; NaN
    counts as the maximum. Not differentiable."""
    return _arg(input, dim, keepdim, "argmax")


@method("argmin")
def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index (int64) of the first minimum, as ``argmax``."""
    return _arg(input, dim, keepdim, "argmin")
