"""Matrix products: ``mm``, ``matmul`` (and the nodes PyTorch picks for each rank), ``addmm``."""

from __future__ import annotations

from .._device import backend_of
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .common import broadcast_error, method, same_device, sum_to

__all__ = ["mm", "matmul", "addmm", "mv", "dot", "bmm", "outer"]


def _shape_str(shape) -> str:
    return "x".join(str(s) for s in shape)


class MmBackward0(Node):
    __slots__ = ("a", "b")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.matmul(g, B.transpose(self.b))
        if self.next_functions[1][0] is not None:
            gb = B.matmul(B.transpose(self.a), g)
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


def _same_dtype(x, y, what="m1 and m2"):
    if x.dtype != y.dtype:
        from .common import torch_type_name

        raise RuntimeError(
            f"expected {what} to have the same dtype, but got: "
            f"{_cname(torch_type_name(x.dtype))} != {_cname(torch_type_name(y.dtype))}"
        )


def _cname(name: str) -> str:
    return {"Float": "float", "Double": "double", "Long": "long int", "Int": "int",
            "Half": "c10::Half", "Bool": "bool"}.get(name, name.lower())


@method("mm")
def mm(input: Tensor, mat2: Tensor):  # noqa: A002 - PyTorch's argument name
    same_device(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 2:
        raise RuntimeError(f"self must be a matrix")
    if y.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(x.shape)} and "
            f"{_shape_str(y.shape)})"
        )
    _same_dtype(x, y, "self and mat2")
    B = input._B
    out = B.matmul(x, y)
    if needs_grad(input, mat2):
        node = MmBackward0((edge_of(input), edge_of(mat2)))
        node.a, node.b = x, y
        node.save(input, mat2)
        return record(out, B, node, (input, mat2))
    return Tensor._wrap(out, B)


class MvBackward0(Node):
    __slots__ = ("a", "b")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.outer(g, self.b)
        if self.next_functions[1][0] is not None:
            gb = B.matmul(B.transpose(self.a), g)
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


@method("mv")
def mv(input: Tensor, vec: Tensor):  # noqa: A002
    same_device(input, vec)
    x, y = input._data, vec._data
    if x.ndim != 2 or y.ndim != 1 or x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0] if x.ndim else 0}), mat "
            f"({_shape_str(x.shape)}), vec ({_shape_str(y.shape)})"
        )
    _same_dtype(x, y, "self and vec")
    B = input._B
    out = B.matmul(x, y)
    if needs_grad(input, vec):
        node = MvBackward0((edge_of(input), edge_of(vec)))
        node.a, node.b = x, y
        node.save(input, vec)
        return record(out, B, node, (input, vec))
    return Tensor._wrap(out, B)


class DotBackward0(MvBackward0):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.multiply(g, self.b)
        if self.next_functions[1][0] is not None:
            gb = B.multiply(g, self.a)
        return ga, gb


@method("dot", "inner")
def dot(input: Tensor, other: Tensor):  # noqa: A002
    same_device(input, other)
    x, y = input._data, other._data
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors"
        )
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(
            "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same "
            "number of elements, but got {} and {} elements respectively".format(
                x.shape[0], y.shape[0], x.shape[0], y.shape[0])
        )
    _same_dtype(x, y, "both vectors")
    B = input._B
    out = B.matmul(x, y)
    if needs_grad(input, other):
        node = DotBackward0((edge_of(input), edge_of(other)))
        node.a, node.b = x, y
        node.save(input, other)
        return record(out, B, node, (input, other))
    return Tensor._wrap(out, B)


class BmmBackward0(MmBackward0):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.matmul(g, B.swapaxes(self.b, -1, -2))
        if self.next_functions[1][0] is not None:
            gb = B.matmul(B.swapaxes(self.a, -1, -2), g)
        return ga, gb


@method("bmm")
def bmm(input: Tensor, mat2: Tensor):  # noqa: A002
    same_device(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 3 or y.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{x.shape[0]}, {x.shape[2]}] but got: [{y.shape[0]}, {y.shape[1]}]."
        )
    B = input._B
    out = B.matmul(x, y)
    if needs_grad(input, mat2):
        node = BmmBackward0((edge_of(input), edge_of(mat2)))
        node.a, node.b = x, y
        node.save(input, mat2)
        return record(out, B, node, (input, mat2))
    return Tensor._wrap(out, B)


class MatmulBackward0(Node):
    """Broadcast batched matmul (rank >= 3 on either side, or mixed 1-D)."""

    __slots__ = ("a", "b", "a_shape", "b_shape")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        a, b = self.a, self.b
        a2 = a if a.ndim > 1 else B.reshape(a, (1, -1))
        b2 = b if b.ndim > 1 else B.reshape(b, (-1, 1))
        g2 = g
        if a.ndim == 1:
            g2 = B.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = B.expand_dims(g2, -1)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.reshape(sum_to(B, B.matmul(g2, B.swapaxes(b2, -1, -2)), a2.shape),
                           self.a_shape)
        if self.next_functions[1][0] is not None:
            gb = B.reshape(sum_to(B, B.matmul(B.swapaxes(a2, -1, -2), g2), b2.shape),
                           self.b_shape)
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


@method("matmul", "__matmul__")
def matmul(input: Tensor, other: Tensor):  # noqa: A002
    if not isinstance(other, Tensor):
        return NotImplemented
    same_device(input, other)
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 2 and db == 2:
        return mm(input, other)
    if da == 1 and db == 2:
        # PyTorch: unsqueeze(0).mm(other).squeeze(0)
        return mm(input.unsqueeze(0), other).squeeze(0)
    if da == 3 and db == 3 and input._data.shape[0] == other._data.shape[0]:
        return bmm(input, other)
    x, y = input._data, other._data
    if x.shape[-1] != y.shape[-2 if db > 1 else 0]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{x.shape[-1]}] but got: [{y.shape[-2 if db > 1 else 0]}]."
        )
    B = input._B
    try:
        out = B.matmul(x, y)
    except ValueError:
        raise broadcast_error(x.shape[:-2], y.shape[:-2]) from None
    if needs_grad(input, other):
        node = MatmulBackward0((edge_of(input), edge_of(other)))
        node.a, node.b = x, y
        node.a_shape, node.b_shape = x.shape, y.shape
        node.save(input, other)
        return record(out, B, node, (input, other))
    return Tensor._wrap(out, B)


@method("__rmatmul__")
def _rmatmul(a, other):
    if isinstance(other, Tensor):
        return matmul(other, a)
    return NotImplemented


class AddmmBackward0(Node):
    """``beta * input + alpha * (mat1 @ mat2)``; next_functions: (input, mat1, mat2)."""

    __slots__ = ("m1", "m2", "in_shape", "alpha", "beta")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        gi = g1 = g2 = None
        if self.next_functions[0][0] is not None:
            gi = sum_to(B, g if self.beta == 1 else B.multiply(g, self.beta), self.in_shape)
        ga = g if self.alpha == 1 else B.multiply(g, self.alpha)
        if self.next_functions[1][0] is not None:
            g1 = B.matmul(ga, B.transpose(self.m2))
        if self.next_functions[2][0] is not None:
            g2 = B.matmul(B.transpose(self.m1), ga)
        return gi, g1, g2

    def _drop_values(self):
        self.m1 = self.m2 = None


@method("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1):  # noqa: A002
    same_device(mat1, mat2)
    same_device(input, mat1)
    x, y = mat1._data, mat2._data
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(x.shape)} and "
            f"{_shape_str(y.shape)})"
        )
    B = mat1._B
    prod = B.matmul(x, y)
    if alpha != 1:
        prod = B.multiply(prod, alpha)
    bias = input._data if beta == 1 else B.multiply(input._data, beta)
    try:
        out = B.add(prod, bias, out=prod)
    except ValueError:
        raise broadcast_error(bias.shape, prod.shape) from None
    if GRAD_enabled() and (input.requires_grad_flag or mat1.requires_grad_flag
                           or mat2.requires_grad_flag):
        node = AddmmBackward0((edge_of(input), edge_of(mat1), edge_of(mat2)))
        node.m1, node.m2 = x, y
        node.in_shape = input._data.shape
        node.alpha, node.beta = alpha, beta
        node.save(mat1, mat2)
        return record(out, B, node, (input, mat1, mat2))
    return Tensor._wrap(out, B)


def GRAD_enabled() -> bool:  # noqa: N802
    from .._grad_mode import GRAD_MODE

    return GRAD_MODE.enabled


@method("outer", "ger")
def outer(input: Tensor, vec2: Tensor):  # noqa: A002
    return input.unsqueeze(1) * vec2
