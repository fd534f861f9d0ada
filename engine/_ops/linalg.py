"""Matrix products: ``mm``, ``mv``, ``dot``, ``bmm``, ``addmm``, ``outer`` and ``matmul``.

``matmul`` is not a node of its own in PyTorch: it is decomposed into the products above plus
views, and the decomposition depends on the ranks, on which operand requires grad and on
strides. ``matmul`` here follows the same decision procedure, so ``x @ W`` on a batch records
the same graph PyTorch records (``UnsafeViewBackward0`` over ``MmBackward0`` over
``ViewBackward0`` ...), gradients included.

Each product node keeps an operand only where the other operand's gradient needs it, as
PyTorch does (``mm``: mat1 for mat2's gradient, mat2 for mat1's), so in-place changes raise
exactly where PyTorch raises.
"""

from __future__ import annotations

import math

from .._device import backend_of
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .arithmetic import mul
from .common import broadcast_error, method, same_device, sum_to, torch_type_name
from .shape import (
    _expanded_shape,
    _unsafe_view,
    contiguous,
    expand,
    reshape,
    squeeze,
    t,
    transpose,
    unsqueeze,
)

__all__ = ["mm", "matmul", "addmm", "mv", "dot", "bmm", "outer", "ger", "inner"]


def _shape_str(shape) -> str:
    return "x".join(str(s) for s in shape)


def _cname(np_dtype) -> str:
    """The C++ spelling PyTorch's mm dtype error uses ('float', 'double', 'long int')."""
    name = torch_type_name(np_dtype)
    return {"Float": "float", "Double": "double", "Long": "long int", "Int": "int",
            "Half": "c10::Half", "Bool": "bool", "Short": "short int",
            "Char": "signed char", "Byte": "unsigned char"}[name]


def _tensor_arg(fn: str, name: str, position: int, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
            f"{type(value).__name__}"
        )


def _no_bool(x, kernel: str) -> None:
    if x.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


class _ProductNode(Node):
    """A two-operand product: ``a`` is kept for b's gradient, ``b`` for a's."""

    __slots__ = ("a", "b")
    _holds_values = True

    def _drop_values(self):
        self.a = self.b = None


def _record_product(node_cls, a: Tensor, b: Tensor, x, y, out, B, a_first=False) -> Tensor:
    """``a_first``: the order PyTorch checks the saved operands in (mv: self, then vec; mm,
    bmm, dot: mat2 first), which decides the one its in-place error names."""
    node = node_cls((edge_of(a), edge_of(b)))
    a_grad = node.next_functions[0][0] is not None
    b_grad = node.next_functions[1][0] is not None
    node.a = x if b_grad else None
    node.b = y if a_grad else None
    if a_grad and b_grad:
        node.save(*((a, b) if a_first else (b, a)))
    else:
        node.save(b if a_grad else a)
    return record(out, B, node, (a, b))


class MmBackward0(_ProductNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.matmul(g, self.b.T)  # .T: a view, without np.transpose's wrapper
        if self.next_functions[1][0] is not None:
            gb = B.matmul(self.a.T, g)
        return ga, gb


@method("mm")
def mm(input: Tensor, mat2: Tensor):  # noqa: A002 - PyTorch's argument name
    """Matrix product of two 2-D tensors (MmBackward0)."""
    _tensor_arg("mm", "mat2", 2, mat2)
    same_device(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if y.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(x.shape)} and "
            f"{_shape_str(y.shape)})"
        )
    if x.dtype != y.dtype:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{_cname(x.dtype)} != {_cname(y.dtype)}"
        )
    B = input._B
    _no_bool(x, f"addmm_impl_{B.name}_")
    out = B.matmul(x, y)
    if needs_grad(input, mat2):
        return _record_product(MmBackward0, input, mat2, x, y, out, B)
    return Tensor._wrap(out, B)


class MvBackward0(_ProductNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.outer(g, self.b)
        if self.next_functions[1][0] is not None:
            gb = B.matmul(self.a.T, g)
        return ga, gb


@method("mv")
def mv(input: Tensor, vec: Tensor):  # noqa: A002
    """Matrix-vector product (MvBackward0)."""
    _tensor_arg("mv", "vec", 2, vec)
    same_device(input, vec)
    x, y = input._data, vec._data
    if x.ndim != 2 or y.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {x.ndim}, {y.ndim}")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0]}), mat ({_shape_str(x.shape)}), vec "
            f"({y.shape[0]})"
        )
    if x.dtype != y.dtype:
        vec_t, mat_t = torch_type_name(y.dtype), torch_type_name(x.dtype)
        raise RuntimeError(
            f"addmv input tensors must have the same dtype, but got {vec_t}, {mat_t}, and "
            f"{vec_t}"
        )
    B = input._B
    _no_bool(x, f"addmv_impl_{B.name}")
    out = B.matmul(x, y)
    if needs_grad(input, vec):
        return _record_product(MvBackward0, input, vec, x, y, out, B, a_first=True)
    return Tensor._wrap(out, B)


class DotBackward0(_ProductNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.multiply(g, self.b)
        if self.next_functions[1][0] is not None:
            gb = B.multiply(g, self.a)
        return ga, gb


@method("dot")
def dot(input: Tensor, other: Tensor):  # noqa: A002
    """Inner product of two 1-D tensors (DotBackward0)."""
    _tensor_arg("dot", "tensor", 2, other)
    same_device(input, other)
    x, y = input._data, other._data
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src [{y.shape[0]}] "
            f"to have the same number of elements, but got {x.shape[0]} and {y.shape[0]} "
            "elements respectively"
        )
    if x.dtype != y.dtype:
        raise RuntimeError(
            "dot : expected both vectors to have same dtype, but found "
            f"{torch_type_name(x.dtype)} and {torch_type_name(y.dtype)}"
        )
    B = input._B
    _no_bool(x, "dot")
    out = B.asarray(B.matmul(x, y))
    if needs_grad(input, other):
        return _record_product(DotBackward0, input, other, x, y, out, B)
    return Tensor._wrap(out, B)


@method("inner")
def inner(input: Tensor, other: Tensor):  # noqa: A002
    """``dot`` for 1-D tensors (the only case the engine implements)."""
    if input.ndim != 1 or other.ndim != 1:
        raise NotImplementedError("gradviz's engine implements torch.inner for 1-D tensors only")
    return dot(input, other)


class BmmBackward0(_ProductNode):
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
    """Batched matrix product of two 3-D tensors with the same batch size (BmmBackward0)."""
    _tensor_arg("bmm", "mat2", 2, mat2)
    same_device(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if y.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{x.shape[0]}, {x.shape[2]}] but got: [{y.shape[0]}, {y.shape[1]}]."
        )
    if x.dtype != y.dtype:
        raise RuntimeError(
            f"expected scalar type {torch_type_name(x.dtype)} but found "
            f"{torch_type_name(y.dtype)}"
        )
    B = input._B
    _no_bool(x, "bmm")
    out = B.matmul(x, y)
    if needs_grad(input, mat2):
        return _record_product(BmmBackward0, input, mat2, x, y, out, B)
    return Tensor._wrap(out, B)


# --- matmul: PyTorch's decomposition ----------------------------------------------------------
class SqueezeBackward4(Node):
    """The in-place ``squeeze_(0)`` PyTorch applies to ``v.unsqueeze(0).mm(M)`` for 1-D @ 2-D."""

    __slots__ = ("in_shape",)

    def backward(self, g):
        return (backend_of(g).reshape(g, self.in_shape),)


def _squeeze0_(m: Tensor) -> Tensor:
    B = m._B
    data = B.squeeze(m._data, axis=0)
    if needs_grad(m):
        node = SqueezeBackward4((m._edge(),))
        node.in_shape = m._data.shape
        return record(data, B, node, (m,))
    return Tensor._wrap(data, B)


def _strides(x) -> tuple:
    size = x.itemsize
    return tuple(s // size for s in x.strides)


def _should_fold(a: Tensor, b: Tensor) -> bool:
    """Whether PyTorch folds the batch dims of the larger operand into ``mm`` / ``mv`` rows
    (instead of expanding both to ``bmm``): when the smaller one requires grad, or when the
    larger one can be flattened to a matrix without a copy."""
    a_larger = a._data.ndim >= b._data.ndim
    big, small = (a, b) if a_larger else (b, a)
    nd = big._data.ndim
    if not (nd >= 3 and small._data.ndim <= 2):
        return False
    if small.requires_grad_flag:
        return True
    if a._data.ndim == 2:
        return False
    x = big._data
    if x.size == 0:
        return True
    shape, strides = list(x.shape), list(_strides(x))
    if not a_larger:  # PyTorch looks at b.mT: the last two dims swapped
        shape[-1], shape[-2] = shape[-2], shape[-1]
        strides[-1], strides[-2] = strides[-2], strides[-1]
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(nd - 2))


def _folded(a: Tensor, b: Tensor) -> Tensor:
    transpose_out = b._data.ndim > a._data.ndim
    if transpose_out:
        t1 = transpose(b, -2, -1)
        t2 = t(a) if a._data.ndim == 2 else a
    else:
        t1, t2 = a, b
    sizes = t1._data.shape
    out_shape = sizes[:-1]
    rows = math.prod(out_shape)
    folded = reshape(t1, (rows, sizes[-1]))
    if t2._data.ndim == 2:
        out = _unsafe_view(mm(folded, t2), out_shape + (t2._data.shape[1],))
        return contiguous(transpose(out, -2, -1)) if transpose_out else out
    return _unsafe_view(mv(folded, t2), out_shape)


def _batch_shape(s1: tuple, s2: tuple) -> tuple:
    n = max(len(s1), len(s2))
    out = []
    for i in range(n):
        d1 = s1[i - n + len(s1)] if i - n + len(s1) >= 0 else 1
        d2 = s2[i - n + len(s2)] if i - n + len(s2) >= 0 else 1
        if d1 != d2 and d1 != 1 and d2 != 1:
            raise RuntimeError(
                f"The size of tensor a ({d1}) must match the size of tensor b ({d2}) at "
                f"non-singleton dimension {i}"
            )
        out.append(d1 if d2 == 1 else d2)
    return tuple(out)


def _batched(a: Tensor, b: Tensor) -> Tensor:
    sa, sb = a._data.shape, b._data.shape
    da, db = len(sa), len(sb)
    n = sa[-2] if da > 1 else 1
    m1 = sa[-1]
    m2 = sb[-2] if db > 1 else sb[0]
    p = sb[-1] if db > 1 else 1
    batch_a, batch_b = sa[:max(da - 2, 0)], sb[:max(db - 2, 0)]
    if da == 3 and db == 3 and batch_a[0] != batch_b[0]:
        # a batch of one that requires grad is squeezed, so its gradient needs no sum
        if batch_a[0] == 1 and a.requires_grad_flag:
            return matmul(squeeze(a, 0), b)
        if batch_b[0] == 1 and b.requires_grad_flag:
            return matmul(a, squeeze(b, 0))
    batch = _batch_shape(batch_a, batch_b)
    count = math.prod(batch)
    a3 = reshape(expand(a, batch + (n, m1)), (count, n, m1))
    if db == 1:
        b3 = unsqueeze(reshape(expand(b, batch + (m2,)), (count, m2)), 2)
    else:
        b3 = reshape(expand(b, batch + (m2, p)), (count, m2, p))
    out_shape = batch + ((n,) if da > 1 else ()) + ((p,) if db > 1 else ())
    out = bmm(a3, b3)
    if db == 1:
        out = squeeze(out, -1)
    return _unsafe_view(out, out_shape)


@method("matmul")
def matmul(input: Tensor, other: Tensor):  # noqa: A002
    """``input @ other`` for every rank combination PyTorch supports, decomposed as PyTorch
    decomposes it (dot, mv, mm, bmm and views), so graphs and gradients match."""
    _tensor_arg("matmul", "other", 2, other)
    same_device(input, other)
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if da == 2 and db == 2:
        return mm(input, other)
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return _squeeze0_(mm(unsqueeze(input, 0), other))
    if _should_fold(input, other):
        return _folded(input, other)
    return _batched(input, other)


def _matmul_op(self, other):
    return matmul(self, other) if isinstance(other, Tensor) else NotImplemented


def _rmatmul_op(self, other):
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


Tensor.__matmul__ = _matmul_op
Tensor.__rmatmul__ = _rmatmul_op


# --- addmm / outer ----------------------------------------------------------------------------
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
            g1 = B.matmul(ga, self.m2.T)
        if self.next_functions[2][0] is not None:
            g2 = B.matmul(self.m1.T, ga)
        return gi, g1, g2

    def _drop_values(self):
        self.m1 = self.m2 = None


@method("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * (mat1 @ mat2)`` with ``input`` broadcast (AddmmBackward0, what
    ``nn.Linear`` records); ``beta=0`` ignores input's values, NaN included."""
    _tensor_arg("addmm", "mat1", 2, mat1)
    _tensor_arg("addmm", "mat2", 3, mat2)
    same_device(mat1, mat2)
    same_device(input, mat1)
    x, y = mat1._data, mat2._data
    if x.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {x.ndim}-D tensor")
    if y.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {y.ndim}-D tensor")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(x.shape)} and "
            f"{_shape_str(y.shape)})"
        )
    if input._data.dtype != y.dtype:
        raise RuntimeError(
            "self and mat2 must have the same dtype, but got "
            f"{torch_type_name(input._data.dtype)} and {torch_type_name(y.dtype)}"
        )
    if x.dtype != y.dtype:
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{torch_type_name(x.dtype)} and {torch_type_name(y.dtype)}"
        )
    _expanded_shape(input, (x.shape[0], y.shape[1]))  # PyTorch's error for a bad input shape
    B = mat1._B
    out = B.matmul(x, y)
    if alpha != 1:
        out = B.multiply(out, alpha, out=out)
    if beta != 0:
        bias = input._data if beta == 1 else B.multiply(input._data, beta)
        try:
            out = B.add(out, bias, out=out)
        except ValueError:
            raise broadcast_error(bias.shape, out.shape) from None
    if needs_grad(input) or needs_grad(mat1, mat2):
        node = AddmmBackward0((edge_of(input), edge_of(mat1), edge_of(mat2)))
        m1_grad = node.next_functions[1][0] is not None
        m2_grad = node.next_functions[2][0] is not None
        node.m1 = x if m2_grad else None
        node.m2 = y if m1_grad else None
        node.in_shape = input._data.shape
        node.alpha, node.beta = alpha, beta
        node.save(*([mat1] if m2_grad else []), *([mat2] if m1_grad else []))
        return record(out, B, node, (input, mat1, mat2))
    return Tensor._wrap(out, B)


@method("outer", "ger")
def outer(input: Tensor, vec2: Tensor):  # noqa: A002
    """Outer product of two 1-D tensors, recorded as PyTorch records it:
    ``input.reshape(-1, 1) * vec2`` (MulBackward0 over ViewBackward0)."""
    _tensor_arg("outer", "vec2", 2, vec2)
    return mul(reshape(input, (-1, 1)), vec2)


ger = outer
