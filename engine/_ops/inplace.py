"""In-place ops (``add_``, ``-=``, ``clamp_`` ...): they write into the tensor's storage,
bump its version counter (so a saved value that changed is caught in backward) and, in grad
mode on a non-leaf, move its ``grad_fn`` on to the node of the op (PyTorch's "rebase")."""

from __future__ import annotations

from .._grad_mode import GRAD_MODE
from .._device import backend_of
from .._tensor import Tensor, edge_of
from ..autograd.graph import Node
from .arithmetic import add, div, mul, pow, sub
from .common import (
    binary_operands,
    broadcast_error,
    method,
    shape_of,
    sum_to,
    torch_type_name,
)
from .pointwise import clamp

__all__: list[str] = []

_UFUNC = {"add_": "add", "sub_": "subtract", "mul_": "multiply", "div_": "divide",
          "pow_": "power"}
_OUT_OF_PLACE = {"add_": add, "sub_": sub, "mul_": mul, "div_": div, "pow_": pow}


def _cast_error(result_dtype, self_dtype) -> RuntimeError:
    return RuntimeError(
        f"result type {torch_type_name(result_dtype)} can't be cast to the desired output "
        f"type {torch_type_name(self_dtype)}"
    )


def _rebase(self: Tensor, result: Tensor, op: str) -> Tensor:
    """Write ``result`` (computed out of place from a snapshot of self) into self's storage
    and make self the output of result's node."""
    B = self._B
    if result._data.shape != self._data.shape:
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
            f"{list(result._data.shape)}"
        )
    if result._data.dtype != self._data.dtype and \
            not _can_cast(result._data.dtype, self._data.dtype):
        raise _cast_error(result._data.dtype, self._data.dtype)
    B.copyto(self._data, result._data, casting="unsafe")
    if result.grad_fn is not None:
        self.grad_fn = result.grad_fn
        self._output_nr = 0
        self.requires_grad_flag = True
        # the node saved the snapshot, not self: later in-place changes of self are harmless
    self._bump(op)
    return self


def _can_cast(src, dst) -> bool:
    import numpy as np

    return np.can_cast(src, dst, casting="same_kind")


def _snapshot(self: Tensor) -> Tensor:
    """A copy of self that stands in for its old value in the graph."""
    snap = Tensor._wrap(self._B.copy(self._data), self._B, self.requires_grad_flag, self.grad_fn)
    snap._output_nr = self._output_nr
    snap._accumulator = self._accumulator
    return snap


def _recording(self: Tensor, other) -> bool:
    return GRAD_MODE.enabled and (
        self.requires_grad_flag or (isinstance(other, Tensor) and other.requires_grad_flag)
    )


def inplace_binary(self: Tensor, other, op: str, **kwargs) -> Tensor:
    self._check_inplace()
    if _recording(self, other):
        return _rebase(self, _OUT_OF_PLACE[op](_snapshot(self), other, **kwargs), op)
    ops = binary_operands(self, other)
    if ops is NotImplemented:
        raise TypeError(f"{op}(): argument 'other' must be Tensor or Number, "
                        f"not {type(other).__name__}")
    x, y, _ = ops
    B = self._B
    alpha = kwargs.get("alpha", 1)
    if alpha != 1:
        y = B.multiply(y, alpha)
    if x is not self._data and x.dtype != self._data.dtype:
        # the promoted type is wider than self's: only same-kind narrowing is allowed
        if not _can_cast(x.dtype, self._data.dtype):
            raise _cast_error(x.dtype, self._data.dtype)
    if op == "div_" and self._data.dtype.kind != "f":
        raise _cast_error(_float_of(y), self._data.dtype)
    try:
        getattr(B, _UFUNC[op])(self._data, y, out=self._data, casting="same_kind")
    except ValueError:
        yshape = shape_of(y)
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
            f"{list(_broadcast(self._data.shape, yshape))}"
        ) from None
    except TypeError:
        raise _cast_error(getattr(y, "dtype", x.dtype), self._data.dtype) from None
    self._bump(op)
    return self


def _float_of(y):
    import numpy as np

    return getattr(y, "dtype", np.dtype("float32")) if getattr(y, "dtype", None) is not None \
        and y.dtype.kind == "f" else np.dtype("float32")


def _broadcast(a, b):
    import numpy as np

    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise broadcast_error(a, b) from None


def _make(op):
    def fn(self, other, **kwargs):
        return inplace_binary(self, other, op, **kwargs)

    fn.__name__ = op
    return fn


for _op, _dunder in (("add_", "__iadd__"), ("sub_", "__isub__"), ("mul_", "__imul__"),
                     ("div_", "__itruediv__"), ("pow_", "__ipow__")):
    method(_op, _dunder)(_make(_op))
method("subtract_")(_make("sub_"))
method("multiply_")(_make("mul_"))
method("divide_", "true_divide_")(_make("div_"))


def inplace_unary(self: Tensor, out_of_place, op: str, *args, **kwargs) -> Tensor:
    """``self.op_()``: compute out of place, write back, rebase in grad mode."""
    self._check_inplace()
    if _recording(self, None):
        return _rebase(self, out_of_place(_snapshot(self), *args, **kwargs), op)
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


class FillBackward0(Node):
    """``fill_`` / ``zero_`` on a non-leaf in grad mode: the old value no longer matters."""

    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).zeros_like(g),)


def rebase_history_fill(self: Tensor, value) -> Tensor:
    self._B.copyto(self._data, value)
    self.grad_fn = FillBackward0((self._edge(),))
    self._output_nr = 0
    self._bump("fill_")
    return self


class CopyBackwards(Node):
    """``dst.copy_(src)``: src's gradient is dst's, reduced to src's shape and dtype."""

    __slots__ = ("src_shape", "src_dtype")

    def backward(self, g):
        gs = sum_to(backend_of(g), g, self.src_shape).astype(self.src_dtype, copy=False)
        return (None, gs)


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
