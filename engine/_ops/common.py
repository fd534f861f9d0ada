"""What every op module shares: operand preparation, broadcasting errors, gradient reduction."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype as dt
from .._tensor import Tensor

SCALAR_TYPES = (int, float, bool, np.number, np.bool_)
TORCH_TYPE_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
    "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
}


def method(*names):
    """Bind the decorated op to ``Tensor`` under each of ``names``."""

    def bind(fn):
        for name in names:
            setattr(Tensor, name, fn)
        return fn

    return bind


def same_device(a: Tensor, b: Tensor, op: str = "") -> None:
    if a._B is not b._B:
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{_dev(a)} and {_dev(b)}!"
        )


def _dev(t: Tensor) -> str:
    return "cpu" if t._B.name == "cpu" else "cuda:0"


def as_tensor_operand(a: Tensor, other):
    """``other`` as a Tensor on ``a``'s device (numpy arrays and nested lists are accepted)."""
    if isinstance(other, Tensor):
        same_device(a, other)
        return other
    if isinstance(other, np.ndarray):
        return Tensor._wrap(a._B.from_host(other), a._B)
    if isinstance(other, SCALAR_TYPES):
        return Tensor._wrap(a._B.asarray(other, dtype=dt.scalar_result_type(a.dtype, other).np),
                            a._B)
    raise TypeError(f"expected Tensor as element 1 in argument 0, but got {type(other).__name__}")


def binary_operands(a: Tensor, other):
    """(a's array, other's array or Python scalar, other as Tensor or None) with PyTorch's
    type promotion applied; NotImplemented for operand types we don't take."""
    if isinstance(other, Tensor):
        if a._B is not other._B:
            same_device(a, other)
        x, y = a._data, other._data
        if x.dtype is not y.dtype and x.dtype != y.dtype:
            want = dt.result_type(a.dtype, x.ndim, other.dtype, y.ndim).np
            x = x if x.dtype == want else x.astype(want)
            y = y if y.dtype == want else y.astype(want)
        return x, y, other
    if isinstance(other, float):
        x = a._data
        if x.dtype.kind != "f":
            x = x.astype(dt.DEFAULTS.float_dtype.np)
        # np.float64 is a float subclass: as a plain float it can't widen a float32 array
        return x, other if other.__class__ is float else float(other), None
    if isinstance(other, SCALAR_TYPES):
        x = a._data
        want = dt.scalar_result_type(a.dtype, other).np
        if x.dtype != want:
            x = x.astype(want)
        if isinstance(other, np.generic):
            other = other.item()
        return x, other, None
    if isinstance(other, np.ndarray):
        return binary_operands(a, Tensor._wrap(a._B.from_host(other), a._B))
    if isinstance(other, numbers.Number):
        return binary_operands(a, float(other))
    return NotImplemented


def broadcast_error(shape_a, shape_b) -> RuntimeError:
    """PyTorch's message for shapes that do not broadcast."""
    ra, rb = list(shape_a)[::-1], list(shape_b)[::-1]
    n = max(len(ra), len(rb))
    for i in range(n):
        sa = ra[i] if i < len(ra) else 1
        sb = rb[i] if i < len(rb) else 1
        if sa != sb and sa != 1 and sb != 1:
            return RuntimeError(
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                f"non-singleton dimension {n - 1 - i}"
            )
    return RuntimeError(f"shapes {tuple(shape_a)} and {tuple(shape_b)} cannot be broadcast")


def shape_of(x) -> tuple:
    return x.shape if hasattr(x, "shape") else ()


def sum_to(B, g, shape: tuple):
    """Reduce a broadcast gradient back to an input's ``shape`` (sum over broadcast dims)."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = B.sum(g, axis=axes, keepdims=True)
    if lead:
        g = B.reshape(g, shape)
    return g


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def torch_type_name(np_dtype) -> str:
    return TORCH_TYPE_NAMES[np.dtype(np_dtype).name]
