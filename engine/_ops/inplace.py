"""In-place ops (``add_``, ``-=``, ``clamp_`` ...): they write into the tensor's storage,
bump its version counter (so a saved value that changed is caught in backward) and, in grad
mode on a non-leaf, move its ``grad_fn`` on to the node of the op (PyTorch's "rebase").

Every check runs before anything is written: an op that raises leaves the tensor's data,
version and ``grad_fn`` as they were.
"""

from __future__ import annotations

import numpy as np

from .._device import backend_of
from .._grad_mode import GRAD_MODE
from .._tensor import Tensor, edge_of
from ..autograd.graph import Node
from .arithmetic import add, div, floor_divide, fmod, mul, pow, remainder, sub
from .common import binary_operands, method, same_device, sum_to, torch_type_name
from .pointwise import clamp

__all__: list[str] = []

_OUT_OF_PLACE = {"add_": add, "sub_": sub, "mul_": mul, "div_": div, "pow_": pow,
                 "floor_divide_": floor_divide, "remainder_": remainder, "fmod_": fmod}
# ops whose node reads self's old value in backward: they get a private copy of it (PyTorch
# clones self for these too); add_ / sub_ nodes keep nothing, so they need no copy
_READS_SELF = frozenset(("mul_", "div_", "pow_", "remainder_", "fmod_"))
_OPERANDS = (Tensor, int, float, np.number, np.bool_, np.ndarray)


def _cast_error(result_dtype, self_dtype) -> RuntimeError:
    return RuntimeError(
        f"result type {torch_type_name(result_dtype)} can't be cast to the desired output "
        f"type {torch_type_name(self_dtype)}"
    )


def _can_cast(src, dst) -> bool:
    return np.can_cast(src, dst, casting="same_kind")


def _check_result(self: Tensor, result: Tensor) -> None:
    """PyTorch's errors for a result that can't be written into self."""
    if result._data.shape != self._data.shape:
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
            f"{list(result._data.shape)}"
        )
    if result._data.dtype != self._data.dtype and \
            not _can_cast(result._data.dtype, self._data.dtype):
        raise _cast_error(result._data.dtype, self._data.dtype)


def _rebase(self: Tensor, result: Tensor, op: str) -> Tensor:
    """Write ``result`` (computed out of place from a stand-in for self) into self's storage
    and make self the output of result's node."""
    _check_result(self, result)
    self._B.copyto(self._data, result._data, casting="unsafe")
    node = result.grad_fn
    if node is not None:
        self.grad_fn = node
        self._output_nr = 0
        self.requires_grad_flag = True
    self._bump(op)
    if node is not None and node._saved:  # neither None nor released (FREED is empty)
        # a node that saved its output now holds self's value: changing self later must fail
        node._saved = tuple((self, self._version[0], True) if entry[2] else entry
                            for entry in node._saved)
    return self


def _stand_in(self: Tensor, copy: bool) -> Tensor:
    """Self's old value as the op's input: a copy where the node reads it in backward,
    else self's own array (the write happens only after the out-of-place result exists)."""
    data = self._B.copy(self._data) if copy else self._data
    old = Tensor._wrap(data, self._B, self.requires_grad_flag, self.grad_fn)
    old._output_nr = self._output_nr
    old._accumulator = self._accumulator
    if not copy:
        old._version = self._version
    return old


def _check_overlap(self: Tensor, other: Tensor) -> None:
    """PyTorch refuses an operand that partly overlaps the tensor written to (``x -= x[0]``):
    both dense, memory ranges overlapping, yet not the very same elements."""
    x, y = self._data, other._data
    if not self._B.may_share_memory(x, y) or not (_dense(x) and _dense(y)):
        return  # overlaps of strided views are "too hard" for PyTorch too: allowed
    if x.shape == y.shape and x.strides == y.strides and _address(x) == _address(y):
        return
    raise RuntimeError(
        "unsupported operation: some elements of the input tensor and the written-to tensor "
        "refer to a single memory location. Please clone() the tensor before performing the "
        "operation."
    )


def _dense(a) -> bool:
    """Non-overlapping and dense: some order of the dims makes the array contiguous."""
    expected = a.itemsize
    for stride, size in sorted(zip(a.strides, a.shape)):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def _address(a) -> int:
    iface = getattr(a, "__array_interface__", None) or a.__cuda_array_interface__
    return iface["data"][0]


def _recording(self: Tensor, other) -> bool:
    return GRAD_MODE.enabled and (
        self.requires_grad_flag or (isinstance(other, Tensor) and other.requires_grad_flag)
    )


def inplace_binary(self: Tensor, other, op: str, **kwargs) -> Tensor:
    """``self.op_(other)``: PyTorch's result, checks and errors, written into self."""
    self._check_inplace()
    if isinstance(other, Tensor) and other._data is not self._data:
        if other._B is not self._B:
            same_device(self, other)  # before comparing memory across devices
        _check_overlap(self, other)
    out_of_place = _OUT_OF_PLACE[op]
    if _recording(self, other):
        old = _stand_in(self, op in _READS_SELF)
        return _rebase(self, out_of_place(old, other, **kwargs), op)
    ufunc = _FAST_UFUNC.get(op)
    if ufunc is not None and other.__class__ is not bool and not kwargs.get("rounding_mode") \
            and _fast(self, other, ufunc, kwargs.get("alpha", 1)):
        self._bump(op)
        return self
    if op == "div_" and self._data.dtype.kind != "f" and kwargs.get("rounding_mode") is None:
        # true division of an integer tensor can never be written back
        y = binary_operands(self, other)[1]
        yk = getattr(y, "dtype", None)
        raise _cast_error(yk if yk is not None and yk.kind == "f" else np.dtype("float32"),
                          self._data.dtype)
    result = out_of_place(self, other, **kwargs)
    _check_result(self, result)
    self._B.copyto(self._data, result._data, casting="unsafe")
    self._bump(op)
    return self


_FAST_UFUNC = {"add_": "add", "sub_": "subtract", "mul_": "multiply", "div_": "divide"}


def _fast(self: Tensor, other, ufunc: str, alpha) -> bool:
    """The optimizer's hot path (``p.add_(g, alpha=-lr)`` under no_grad): one ufunc writing
    straight into self, taken only where no promotion or PyTorch check is involved. False
    leaves everything untouched for the general path (and its errors)."""
    ops = binary_operands(self, other)
    if ops is NotImplemented:
        return False
    x, y, bt = ops
    if x is not self._data or x.dtype.kind != "f" or (bt is not None and y.dtype.kind == "b"):
        return False
    B = self._B
    if alpha != 1:
        y = y * alpha if bt is None else B.multiply(y, alpha)
    try:
        getattr(B, ufunc)(x, y, out=x)
    except ValueError:  # shapes: numpy checks them before writing anything
        return False
    return True


def _make(op: str, torch_name: str):
    def fn(self, other, **kwargs):
        if not isinstance(other, _OPERANDS):
            raise TypeError(f"{torch_name}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return inplace_binary(self, other, op, **kwargs)

    ufunc = _FAST_UFUNC.get(op)

    def dunder(self, other):
        if other.__class__ is Tensor and ufunc is not None:
            # ``w1 -= lr * w1.grad`` under no_grad, every step of a training loop: same
            # float dtype and shape, arrays that own their memory (so they cannot partly
            # overlap), nothing to record. Anything else takes the general path below.
            x, y = self._data, other._data
            if (x.dtype is y.dtype and x.shape == y.shape and x.dtype.kind == "f"
                    and (y is x or (x.base is None and y.base is None))
                    and self._B is other._B
                    and not (GRAD_MODE.enabled
                             and (self.requires_grad_flag or other.requires_grad_flag))):
                getattr(self._B, ufunc)(x, y, out=x)
                self._bump(op)
                return self
        if not isinstance(other, _OPERANDS):
            return NotImplemented  # Python then says "unsupported operand type(s) for +="
        return inplace_binary(self, other, op)

    fn.__name__ = torch_name
    fn.__doc__ = f"In-place ``{torch_name}``: writes the result into self, bumps its version."
    return fn, dunder


for _op, _names, _dunder in (
        ("add_", ("add_",), "__iadd__"), ("sub_", ("sub_", "subtract_"), "__isub__"),
        ("mul_", ("mul_", "multiply_"), "__imul__"),
        ("div_", ("div_", "divide_", "true_divide_"), "__itruediv__"),
        ("pow_", ("pow_",), "__ipow__"), ("floor_divide_", ("floor_divide_",), "__ifloordiv__"),
        ("remainder_", ("remainder_",), "__imod__"), ("fmod_", ("fmod_",), None)):
    _fn, _dn = _make(_op, _names[0])
    method(*_names)(_fn)
    if _dunder is not None:
        setattr(Tensor, _dunder, _dn)


def inplace_unary(self: Tensor, out_of_place, op: str, *args, **kwargs) -> Tensor:
    """``self.op_()``: compute out of place, write back, rebase in grad mode."""
    self._check_inplace()
    if _recording(self, None):
        return _rebase(self, out_of_place(_stand_in(self, True), *args, **kwargs), op)
    result = out_of_place(self, *args, **kwargs)
    if result._data.dtype != self._data.dtype and \
            not _can_cast(result._data.dtype, self._data.dtype):
        raise _cast_error(result._data.dtype, self._data.dtype)
    self._B.copyto(self._data, result._data, casting="unsafe")
    self._bump(op)
    return self


@method("clamp_", "clip_")
def clamp_(self, min=None, max=None):  # noqa: A002
    return inplace_unary(self, clamp, "clamp_", min, max)


@method("neg_", "negative_")
def neg_(self):
    return inplace_unary(self, lambda t: -t, "neg_")


class FillBackward2(Node):
    """``fill_(number)`` on a non-leaf in grad mode: the old value no longer matters."""

    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).zeros_like(g),)


class ZeroBackward0(FillBackward2):
    """``zero_()`` on a non-leaf in grad mode."""

    __slots__ = ()


def rebase_history_fill(self: Tensor, value, node_cls=FillBackward2, op: str = "fill_"):
    """``fill_`` / ``zero_`` on a tensor that requires grad (grad mode, not a leaf): write the
    value and record the node whose gradient for the old value is zero."""
    self._B.copyto(self._data, value)
    self.grad_fn = node_cls((self._edge(),))
    self._output_nr = 0
    self._bump(op)
    return self


def rebase_history_zero(self: Tensor) -> Tensor:
    """``zero_()`` in grad mode on a tensor that requires grad (ZeroBackward0)."""
    return rebase_history_fill(self, 0, ZeroBackward0, "zero_")


class CopyBackwards(Node):
    """``dst.copy_(src)``: src's gradient is dst's, reduced to src's shape and dtype."""

    __slots__ = ("src_shape", "src_dtype")

    def backward(self, g):
        B = backend_of(g)
        gs = sum_to(B, g, self.src_shape).astype(self.src_dtype, copy=False)
        # the overwritten old value gets an explicit zero gradient, as in PyTorch
        gd = B.zeros_like(g) if self.next_functions[0][0] is not None else None
        return (gd, gs)


def copy_(self: Tensor, src) -> Tensor:
    """``self.copy_(src)``: values of src (broadcast, cast, moved to self's device)."""
    self._check_inplace()
    B = self._B
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' must be Tensor, not {type(src).__name__}")
    data = src._data
    if src._B is not B:
        data = B.from_host(src._B.to_host(data))
    try:
        B.copyto(self._data, data, casting="unsafe")
    except ValueError:
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
            f"{list(data.shape)}"
        ) from None
    if GRAD_MODE.enabled and (src.requires_grad_flag or self.requires_grad_flag):
        node = CopyBackwards((edge_of(self), edge_of(src)))
        node.src_shape, node.src_dtype = data.shape, src._data.dtype
        self.grad_fn = node
        self._output_nr = 0
        self.requires_grad_flag = True
    self._bump("copy_")
    return self
