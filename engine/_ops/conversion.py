"""Moving tensors between dtypes and devices (``to``, ``float()``, ``cpu()``, ``cuda()``)."""

from __future__ import annotations

from .. import _dtype as dt
from .._device import backend_for, backend_of, device
from .._tensor import Tensor, needs_grad, record
from ..autograd.graph import Node
from .common import method

__all__: list[str] = []


class ToCopyBackward0(Node):
    __slots__ = ("src_dtype", "src_backend")

    def backward(self, g):
        B = backend_of(g)
        if self.src_backend is not B:
            g = self.src_backend.from_host(B.to_host(g))
        return (g.astype(self.src_dtype, copy=False),)


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, (str, device, int)) and not isinstance(a, bool):
            dev = a
        elif a is not None:
            dtype = a
    return dev, dtype, copy


@method("to")
def to(self: Tensor, *args, **kwargs) -> Tensor:
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``; returns self when
    nothing changes, as PyTorch does."""
    dev, dtype, copy = _parse_to(args, kwargs)
    B = self._B if dev is None else backend_for(dev)
    want = self._data.dtype if dtype is None else dt.to_dtype(dtype).np
    if B is self._B and want == self._data.dtype and not copy:
        return self
    data = self._data
    if B is not self._B:
        data = B.from_host(self._B.to_host(data))
    if data.dtype != want or data is self._data:
        data = data.astype(want, copy=True)
    if needs_grad(self):
        if want.kind != "f":
            return Tensor._wrap(data, B)
        node = ToCopyBackward0((self._edge(),))
        node.src_dtype, node.src_backend = self._data.dtype, self._B
        return record(data, B, node, (self,))
    return Tensor._wrap(data, B)


def _caster(name, target):
    def fn(self, memory_format=None):
        return to(self, target)

    fn.__name__ = name
    method(name)(fn)


for _name, _target in (("float", dt.float32), ("double", dt.float64), ("half", dt.float16),
                       ("long", dt.int64), ("int", dt.int32), ("short", dt.int16),
                       ("char", dt.int8), ("byte", dt.uint8), ("bool", dt.bool)):
    _caster(_name, _target)


@method("cpu")
def cpu(self: Tensor, memory_format=None) -> Tensor:
    return to(self, "cpu")


@method("cuda")
def cuda(self: Tensor, device=None, non_blocking=False, memory_format=None) -> Tensor:  # noqa: A002
    return to(self, "cuda" if device is None else device)


@method("type_as")
def type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)
