"""Shape and layout ops: views (``view``, ``t``, ``unbind`` ...) that share storage, as in
PyTorch, and their backward nodes."""

from __future__ import annotations

import math

from .._device import backend_of
from .._tensor import Tensor, needs_grad, record, record_many
from ..autograd.graph import Node
from .common import method, wrap_dim

__all__ = ["unbind", "reshape", "t", "transpose", "swapaxes", "flatten", "unsqueeze",
           "squeeze", "permute"]


def _view_result(input: Tensor, data, node_cls=None, **fields) -> Tensor:
    """A view of ``input``: shares its storage and version counter; records ``node_cls``."""
    B = input._B
    if node_cls is not None and needs_grad(input):
        node = node_cls((input._edge(),))
        for k, v in fields.items():
            setattr(node, k, v)
        out = record(data, B, node, (input,))
        out._version = input._version
        out._base = input if input._base is None else input._base
        return out
    return input._view_of(data)


# --- unbind: what builtin sum() and iteration record ------------------------------------------
class UnbindBackward0(Node):
    __slots__ = ("in_shape", "dim", "dtype", "_n")

    @property
    def n_outputs(self) -> int:
        return self._n

    def apply(self, grads):
        B = backend_of(next(g for g in grads if g is not None))
        zero = None
        parts = []
        for g in grads:
            if g is None:
                if zero is None:
                    shape = list(self.in_shape)
                    del shape[self.dim]
                    zero = B.zeros(tuple(shape), dtype=self.dtype)
                g = zero
            parts.append(g)
        return (B.stack(parts, axis=self.dim),)


@method("unbind")
def unbind(input: Tensor, dim: int = 0):  # noqa: A002
    x = input._data
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    B = input._B
    index = [slice(None)] * x.ndim
    parts = []
    for i in range(x.shape[d]):
        index[d] = i
        parts.append(x[tuple(index)])
    if needs_grad(input):
        node = UnbindBackward0((input._edge(),))
        node.in_shape, node.dim, node.dtype, node._n = x.shape, d, x.dtype, len(parts)
        outs = record_many(parts, B, node, (input,))
        base = input if input._base is None else input._base
        for o in outs:
            o._version = input._version
            o._base = base
        return outs
    return tuple(input._view_of(p) for p in parts)


# --- view / reshape ---------------------------------------------------------------------------
def _infer_shape(shape, numel: int) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class ViewBackward0(Node):
    __slots__ = ("in_shape",)

    def backward(self, g):
        return (backend_of(g).reshape(g, self.in_shape),)


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


class CloneBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        return (g,)


def _as_view(B, x, shape):
    """``x`` reshaped without copying, or None where its strides make that impossible."""
    try:
        v = x.view()
        v.shape = shape
        return v
    except AttributeError:
        # CuPy / strict arrays: reshape copies only when it must; compare storage
        v = B.reshape(x, shape)
        return v if B.is_contiguous(x) else None


@method("view")
def view(input: Tensor, *shape):  # noqa: A002
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        from .. import _dtype as dt

        target = dt.to_dtype(shape[0])
        return Tensor._wrap(input._data.view(target.np), input._B)
    x = input._data
    new = _infer_shape(shape, x.size)
    data = _as_view(input._B, x, new)
    if data is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return _view_result(input, data, ViewBackward0, in_shape=x.shape)


@method("reshape")
def reshape(input: Tensor, *shape):  # noqa: A002
    x = input._data
    new = _infer_shape(shape, x.size)
    data = _as_view(input._B, x, new)
    if data is not None:
        return _view_result(input, data, ViewBackward0, in_shape=x.shape)
    # PyTorch copies (CloneBackward0) and views the copy (UnsafeViewBackward0)
    return _unsafe_view(input.clone(), new)


def _unsafe_view(cloned: Tensor, shape) -> Tensor:
    B = cloned._B
    data = B.reshape(cloned._data, shape)
    if needs_grad(cloned):
        node = UnsafeViewBackward0((cloned._edge(),))
        node.in_shape = cloned._data.shape
        return record(data, B, node, (cloned,))
    return Tensor._wrap(data, B)


@method("clone")
def clone(input: Tensor, *, memory_format=None):  # noqa: A002
    B = input._B
    out = B.copy(input._data)
    if needs_grad(input):
        return record(out, B, CloneBackward0((input._edge(),)), (input,))
    return Tensor._wrap(out, B)


@method("contiguous")
def contiguous(input: Tensor, memory_format=None):  # noqa: A002
    if input._B.is_contiguous(input._data):
        return input
    return clone(input)


@method("flatten")
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1):  # noqa: A002
    x = input._data
    if x.ndim == 0:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, x.ndim), wrap_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return reshape(input, shape)


# --- transposes -------------------------------------------------------------------------------
class TBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).transpose(g),)


@method("t")
def t(input: Tensor):  # noqa: A002
    x = input._data
    if x.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D"
        )
    return _view_result(input, input._B.transpose(x), TBackward0)


class TransposeBackward0(Node):
    __slots__ = ("d0", "d1")

    def backward(self, g):
        return (backend_of(g).swapaxes(g, self.d0, self.d1),)


@method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int):  # noqa: A002
    x = input._data
    d0, d1 = wrap_dim(dim0, x.ndim), wrap_dim(dim1, x.ndim)
    return _view_result(input, input._B.swapaxes(x, d0, d1), TransposeBackward0, d0=d0, d1=d1)


swapaxes = transpose


class PermuteBackward0(Node):
    __slots__ = ("inverse",)

    def backward(self, g):
        return (backend_of(g).transpose(g, self.inverse),)


@method("permute")
def permute(input: Tensor, *dims):  # noqa: A002
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    x = input._data
    if len(dims) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    dims = tuple(wrap_dim(d, x.ndim) for d in dims)
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return _view_result(input, input._B.transpose(x, dims), PermuteBackward0,
                        inverse=tuple(inverse))


def _T(self):  # noqa: N802
    x = self._data
    if x.ndim < 2:
        return self
    return permute(self, tuple(reversed(range(x.ndim))))


Tensor.T = property(_T)
Tensor.mT = property(lambda self: transpose(self, -2, -1))


# --- unsqueeze / squeeze ----------------------------------------------------------------------
class UnsqueezeBackward0(Node):
    __slots__ = ("dim",)

    def backward(self, g):
        return (backend_of(g).squeeze(g, axis=self.dim),)


@method("unsqueeze")
def unsqueeze(input: Tensor, dim: int):  # noqa: A002
    x = input._data
    d = wrap_dim(dim, x.ndim + 1)
    return _view_result(input, input._B.expand_dims(x, d), UnsqueezeBackward0, dim=d)


class SqueezeBackward0(Node):
    __slots__ = ("in_shape",)

    def backward(self, g):
        return (backend_of(g).reshape(g, self.in_shape),)


class SqueezeBackward1(SqueezeBackward0):
    __slots__ = ()


class SqueezeBackward2(SqueezeBackward0):
    __slots__ = ()


@method("squeeze")
def squeeze(input: Tensor, dim=None):  # noqa: A002
    x = input._data
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
        node_cls = SqueezeBackward0
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = tuple(wrap_dim(d, x.ndim) for d in dims if x.ndim and x.shape[wrap_dim(d, x.ndim)] == 1)
        node_cls = SqueezeBackward1 if isinstance(dim, int) else SqueezeBackward2
    data = input._B.squeeze(x, axis=axes) if axes else x.view() if hasattr(x, "view") else x
    return _view_result(input, data, node_cls, in_shape=x.shape)
