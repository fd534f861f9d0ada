"""Elementwise arithmetic with broadcasting: each op's forward beside its backward node.

Type promotion is PyTorch's (``common.binary_operands``); what each node saves for backward
is what PyTorch saves (so modifying a tensor in place afterwards raises exactly where
PyTorch raises), and a Python number as the *first* argument of a module-level function
(``torch.add(2, t)``) is wrapped as a 0-d tensor that needs no grad, as PyTorch does: its
``next_functions`` entry is ``(None, 0)``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as dt
from .._device import backend_of as _backend
from .._grad_mode import GRAD_MODE
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .common import binary_operands, broadcast_error, method, shape_of, sum_to, torch_type_name

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "neg", "negative", "pow", "rsub", "reciprocal",
           "square", "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
           "less_equal", "equal", "not_equal", "logical_not", "logical_and", "logical_or",
           "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan",
           "isinf", "isfinite"]

_BOOL = dt.bool.np
_SUB_BOOL = (
    "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
    "to invert a mask, use the `~` or `logical_not()` operator instead."
)
_SUB_TWO_BOOLS = (
    "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
    "`logical_xor()` operator instead."
)
_UNSET = object()  # ``div(rounding_mode=None)`` passed explicitly is a different overload


def _grad_cast(g, want):
    return g if want is None or g.dtype == want else g.astype(want)


def _arg_error(op: str, other) -> TypeError:
    return TypeError(
        f"{op}(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}"
    )


def _wrap_scalar(number, like: Tensor) -> Tensor:
    """``torch.add(2, t)``: the number becomes a 0-d tensor of the type it promotes to."""
    if not isinstance(like, Tensor):
        raise TypeError(
            f"expected Tensor as element 1 in argument 1, but got {type(like).__name__}"
        )
    B = like._B
    want = dt.scalar_result_type(like.dtype, number).np
    if isinstance(number, np.bool_):
        number = float(number)  # PyTorch reads a numpy bool as a float number
    try:
        return Tensor._wrap(B.asarray(number, dtype=want), B)
    except OverflowError:  # -1 for a uint8 tensor: wrapped, as PyTorch's C++ cast does
        return Tensor._wrap(_wrapped_int(B, number, want), B)


def _wrapped_int(B, y, dtype):
    """An out-of-range Python int wrapped modulo 2**bits, as PyTorch's C++ cast does."""
    return B.asarray(y, dtype=dt.int64.np).astype(dtype)


def _apply(B, ufunc_name: str, x, y, reverse: bool = False):
    """``x <ufunc> y`` (``y <ufunc> x`` with ``reverse``) with PyTorch's error for shapes that
    don't broadcast. ``y`` may be a Python number."""
    try:
        return getattr(B, ufunc_name)(y, x) if reverse else getattr(B, ufunc_name)(x, y)
    except ValueError:
        raise broadcast_error(x.shape, shape_of(y)) from None
    except OverflowError:  # uint8 tensor + 300: PyTorch wraps the number, numpy refuses
        return _apply(B, ufunc_name, x, _wrapped_int(B, y, x.dtype), reverse)


def _casts(a: Tensor, x, bt, y):
    """The input dtypes a node must cast gradients back to, or None when nothing was promoted
    (the common case, so backward pays nothing)."""
    if x is a._data and (bt is None or y is bt._data):
        return None
    return (a._data.dtype, None if bt is None else bt._data.dtype)


# --- add / sub -------------------------------------------------------------------------------
class AddBackward0(Node):
    """``a + alpha * b``: the gradient passes through (reduced over broadcast dims)."""

    __slots__ = ("a_shape", "b_shape", "alpha", "casts")
    _b_sign = 1  # the sign of b's term: SubBackward0 flips it

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, g, self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            scale = self._b_sign * self.alpha
            gb = sum_to(B, g if scale == 1 else B.multiply(g, scale), self.b_shape)
            gb = _grad_cast(gb, casts[1])
        return ga, gb


class SubBackward0(AddBackward0):
    """``a - alpha * b``."""

    __slots__ = ()
    _b_sign = -1


class RsubBackward0(AddBackward0):
    """``torch.rsub(a, b) = b - alpha * a``; next_functions (a, b)."""

    __slots__ = ()

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, B.multiply(g, -self.alpha), self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            gb = _grad_cast(sum_to(B, g, self.b_shape), casts[1])
        return ga, gb


class RsubBackward1(Node):
    """``scalar - alpha * tensor``."""

    __slots__ = ("alpha",)

    def backward(self, g):
        return (_backend(g).multiply(g, -self.alpha),)


def _alpha_times(B, x, y, bt, alpha):
    if isinstance(alpha, float) and x.dtype.kind in "iub":
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return y * alpha if bt is None else B.multiply(y, alpha)


def _check_sub(a: Tensor, b, bt) -> None:
    a_bool = a._data.dtype is _BOOL
    b_bool = b.__class__ is bool or (bt is not None and bt._data.dtype is _BOOL)
    if a_bool or b_bool:
        raise RuntimeError(_SUB_TWO_BOOLS if a_bool and b_bool else _SUB_BOOL)


def _add_like(a: Tensor, b, alpha, ufunc_name: str, node_cls):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    if node_cls is not AddBackward0:
        _check_sub(a, b, bt)
    B = a._B
    if alpha != 1:
        y = _alpha_times(B, x, y, bt, alpha)
    try:  # _apply inlined: this is the hot path of every + and -
        out = getattr(B, ufunc_name)(x, y)
    except (ValueError, OverflowError):
        out = _apply(B, ufunc_name, x, y)
    if needs_grad(a, bt):
        node = node_cls((edge_of(a), edge_of(bt)))
        node.a_shape = x.shape
        node.b_shape = shape_of(y)
        node.alpha = alpha
        node.casts = _casts(a, x, bt, y)
        return record(out, B, node, (a, b))
    return Tensor._wrap(out, B)


@method("add")
def add(input, other, *, alpha=1):  # noqa: A002 - PyTorch's argument name
    """``input + alpha * other`` (AddBackward0)."""
    if not isinstance(input, Tensor):
        input = _wrap_scalar(input, other)  # noqa: A001
    out = _add_like(input, other, alpha, "add", AddBackward0)
    if out is NotImplemented:
        raise _arg_error("add", other)
    return out


_NO_EDGE = (None, 0)


def _float_scalar_op(self: Tensor, other: float, ufunc_name: str):
    """``t + 0.5`` / ``t * 0.5`` on a floating tensor, the commonest op in training code:
    the general path's promotion checks all resolve to "nothing to do", so skip them.
    Returns None where the general path must decide."""
    x = self._data
    if x.dtype.kind != "f":
        return None
    try:
        return getattr(self._B, ufunc_name)(x, other)
    except (ValueError, OverflowError):
        return None


def _scalar_edge(t: Tensor) -> tuple:
    fn = t.grad_fn
    return (fn, t._output_nr) if fn is not None else t._edge()


def _dunder_add(self, other):
    if other.__class__ is float:
        out = _float_scalar_op(self, other, "add")
        if out is not None:
            if GRAD_MODE.enabled and self.requires_grad_flag:
                node = AddBackward0((_scalar_edge(self), _NO_EDGE))
                node.a_shape = self._data.shape
                node.b_shape = ()
                node.alpha = 1
                node.casts = None
                return record(out, self._B, node, (self, other))
            return Tensor._wrap(out, self._B)
    return _add_like(self, other, 1, "add", AddBackward0)


@method("sub", "subtract")
def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other`` (SubBackward0)."""
    if not isinstance(input, Tensor):
        input = _wrap_scalar(input, other)  # noqa: A001
    out = _add_like(input, other, alpha, "subtract", SubBackward0)
    if out is NotImplemented:
        raise _arg_error("sub", other)
    return out


subtract = sub


def _dunder_sub(self, other):
    return _add_like(self, other, 1, "subtract", SubBackward0)


def rsub(input: Tensor, other, *, alpha=1):  # noqa: A002
    """``other - alpha * input``: RsubBackward0 (two tensors) or RsubBackward1 (a number)."""
    if isinstance(other, Tensor):
        x, y, _ = binary_operands(other, input)
        _check_sub(other, input, input)
        B = input._B
        if alpha != 1:
            y = _alpha_times(B, x, y, input, alpha)
        out = _apply(B, "subtract", x, y)
        if needs_grad(input, other):
            node = RsubBackward0((edge_of(input), edge_of(other)))
            node.a_shape, node.b_shape, node.alpha = y.shape, x.shape, alpha
            node.casts = _casts(other, x, input, y)
            if node.casts is not None:
                node.casts = node.casts[::-1]
            return record(out, B, node, (input, other))
        return Tensor._wrap(out, B)
    out = _rsub_scalar(input, other, alpha)
    if out is NotImplemented:
        raise _arg_error("rsub", other)
    return out


def _rsub_scalar(input: Tensor, other, alpha=1):  # noqa: A002
    ops = binary_operands(input, other)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    if bt is not None:  # a numpy array on the left
        return sub(bt, input)
    _check_sub(input, other, None)
    B = input._B
    out = _apply(B, "subtract", x if alpha == 1 else _alpha_times(B, x, x, input, alpha), y,
                 reverse=True)
    if needs_grad(input):
        node = RsubBackward1((input._edge(),))
        node.alpha = alpha
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


Tensor.__add__ = Tensor.__radd__ = _dunder_add
Tensor.__sub__ = _dunder_sub
Tensor.__rsub__ = _rsub_scalar


# --- mul / div --------------------------------------------------------------------------------
class MulBackward0(Node):
    """``a * b``. ``a`` is kept only when b needs a gradient and ``b`` only when a does,
    exactly the values PyTorch saves."""

    __slots__ = ("a", "b", "a_shape", "b_shape", "casts")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, B.multiply(g, self.b), self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            gb = _grad_cast(sum_to(B, B.multiply(g, self.a), self.b_shape), casts[1])
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


class DivBackward0(MulBackward0):
    """``a / b``: a's gradient needs b; b's needs a and b."""

    __slots__ = ()

    def backward(self, g):
        B = _backend(g)
        a, b = self.a, self.b
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, B.divide(g, b), self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, B.negative(B.divide(B.multiply(g, a), B.multiply(b, b))),
                        self.b_shape)
            gb = _grad_cast(gb, casts[1])
        return ga, gb


class DivBackward2(DivBackward0):
    """``div(a, b, rounding_mode=...)``: zero gradients when rounding (the result is piecewise
    constant), the true-division gradients for an explicit ``rounding_mode=None``."""

    __slots__ = ("rounding",)

    def backward(self, g):
        if self.rounding is None:
            return DivBackward0.backward(self, g)
        B = _backend(g)
        casts = self.casts or (None, None)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = B.zeros(self.a_shape, dtype=casts[0] or g.dtype)
        if self.next_functions[1][0] is not None:
            gb = B.zeros(self.b_shape, dtype=casts[1] or g.dtype)
        return ga, gb


def _save_binary(node, a: Tensor, x, bt, y, need_a_for_a: bool) -> None:
    """Keep (and version-check) the operands PyTorch's formula for this node reads.

    ``b`` is kept when a needs a gradient; ``a`` when b does, and, for division,
    b as well. ``need_a_for_a``: a's own gradient reads a (never for mul / div).
    """
    a_grad = node.next_functions[0][0] is not None
    b_grad = node.next_functions[1][0] is not None
    keep_a = b_grad or need_a_for_a
    keep_b = a_grad or (b_grad and node.__class__ is not MulBackward0)
    node.a = x if keep_a else None
    node.b = y if keep_b else None
    # b first: PyTorch checks (and reports) the second operand first
    if keep_b and bt is not None:
        node._saved = ((bt, bt._version[0], False), (a, a._version[0], False)) if keep_a \
            else ((bt, bt._version[0], False),)
    elif keep_a:
        node._saved = ((a, a._version[0], False),)


def _mul_like(a: Tensor, b, node_cls, ufunc_name="multiply", true_div=False, rounding=None):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    if true_div and x.dtype.kind != "f":
        # integer and bool division gives the default float type (PyTorch's true division)
        want = dt.DEFAULTS.float_dtype.np
        x = x.astype(want)
        if bt is not None:
            y = y.astype(want)
    try:  # _apply inlined: this is the hot path of every * and /
        out = getattr(B, ufunc_name)(x, y)
    except (ValueError, OverflowError):
        out = _apply(B, ufunc_name, x, y)
    if needs_grad(a, bt):
        node = node_cls((edge_of(a), edge_of(bt)))
        node.a_shape = x.shape
        node.b_shape = shape_of(y)
        node.casts = _casts(a, x, bt, y)
        if node_cls is DivBackward2:
            node.rounding = rounding
        _save_binary(node, a, x, bt, y, False)
        return record(out, B, node, (a, b))
    return Tensor._wrap(out, B)


@method("mul", "multiply")
def mul(input, other):  # noqa: A002
    """``input * other`` (MulBackward0)."""
    if not isinstance(input, Tensor):
        input = _wrap_scalar(input, other)  # noqa: A001
    out = _mul_like(input, other, MulBackward0)
    if out is NotImplemented:
        raise _arg_error("mul", other)
    return out


multiply = mul


def _dunder_mul(self, other):
    if other.__class__ is float:
        out = _float_scalar_op(self, other, "multiply")
        if out is not None:
            if GRAD_MODE.enabled and self.requires_grad_flag:
                # what _save_binary keeps for a Python-number operand: b only, nothing to check
                node = MulBackward0((_scalar_edge(self), _NO_EDGE))
                node.a = None
                node.b = other
                node.a_shape = self._data.shape
                node.b_shape = ()
                node.casts = None
                return record(out, self._B, node, (self, other))
            return Tensor._wrap(out, self._B)
    return _mul_like(self, other, MulBackward0)


Tensor.__mul__ = Tensor.__rmul__ = _dunder_mul


@method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=_UNSET):  # noqa: A002
    """``input / other`` (DivBackward0); with ``rounding_mode`` 'trunc' or 'floor' the rounded
    quotient (DivBackward2, zero gradient). Integer inputs divide to the default float type."""
    if not isinstance(input, Tensor):
        input = _wrap_scalar(input, other)  # noqa: A001
    if rounding_mode is _UNSET:
        out = _mul_like(input, other, DivBackward0, "divide", true_div=True)
    elif rounding_mode is None:
        out = _mul_like(input, other, DivBackward2, "divide", true_div=True)
    elif rounding_mode in ("trunc", "floor"):
        out = _rounded_div(input, other, rounding_mode)
    else:
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    if out is NotImplemented:
        raise _arg_error("div", other)
    return out


divide = true_divide = div


def _dunder_truediv(self, other):
    return _mul_like(self, other, DivBackward0, "divide", true_div=True)


def _rtruediv(self: Tensor, other):
    # PyTorch computes ``number / t`` as ``reciprocal(t) * number`` (MulBackward0 over
    # ReciprocalBackward0), and that is the graph people see.
    if isinstance(other, np.ndarray):
        return div(Tensor._wrap(self._B.from_host(other), self._B), self)
    if not isinstance(other, (int, float, np.number, np.bool_)):
        return NotImplemented
    return mul(reciprocal(self), other)


Tensor.__truediv__ = _dunder_truediv
Tensor.__rtruediv__ = _rtruediv


# --- floor division, remainder, fmod ---------------------------------------------------------
class _NotImplementedNode(Node):
    """PyTorch's ``NotImplemented`` node: recorded for an op without a derivative (``//``),
    its backward raises. Edges lead only to the inputs that require grad, as in PyTorch."""

    __slots__ = ("op",)

    def name(self) -> str:
        return "torch::autograd::NotImplemented"

    def backward(self, g):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


_NotImplementedNode.__name__ = _NotImplementedNode.__qualname__ = "NotImplemented"


def _not_implemented(out, B, op: str, inputs) -> Tensor:
    node = _NotImplementedNode(tuple(t._edge() for t in inputs
                                     if isinstance(t, Tensor) and t.requires_grad_flag))
    node.op = op
    return record(out, B, node, inputs)


def _integer_checks(B, x, y, kernel: str) -> None:
    """PyTorch raises where numpy quietly returns 0: integer division by zero, and bool."""
    kind = x.dtype.kind
    if kind == "b":
        raise NotImplementedError(
            f'"{kernel}_{B.name}" not implemented for \'{torch_type_name(x.dtype)}\''
        )
    if kind in "iu" and (not B.all(y) if hasattr(y, "shape") else y == 0):
        raise RuntimeError("ZeroDivisionError")


def _trunc_div(B, x, y):
    if x.dtype.kind == "f":
        return B.trunc(B.divide(x, y))
    q = B.floor_divide(x, y)
    # floor and trunc differ where the division is inexact and the signs differ
    fix = B.logical_and(B.not_equal(B.remainder(x, y), 0),
                        B.not_equal(B.less(x, 0), B.less(y, 0)))
    return B.add(q, fix.astype(q.dtype), out=q)


def _rounded_div(a: Tensor, b, mode: str):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    _integer_checks(B, x, y, "div_floor" if mode == "floor" else "div_trunc")
    try:
        out = B.floor_divide(x, y) if mode == "floor" else _trunc_div(B, x, y)
    except ValueError:
        raise broadcast_error(x.shape, shape_of(y)) from None
    if needs_grad(a, bt):
        node = DivBackward2((edge_of(a), edge_of(bt)))
        node.a_shape, node.b_shape = x.shape, shape_of(y)
        node.casts = _casts(a, x, bt, y)
        node.rounding = mode
        _save_binary(node, a, x, bt, y, False)
        return record(out, B, node, (a, b))
    return Tensor._wrap(out, B)


def _floor_divide(a: Tensor, b):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    _integer_checks(B, x, y, "div_floor")
    out = _apply(B, "floor_divide", x, y)
    if needs_grad(a, bt):
        return _not_implemented(out, B, "floor_divide", (a, b))
    return Tensor._wrap(out, B)


@method("floor_divide")
def floor_divide(input, other):  # noqa: A002
    """``input // other`` rounded toward -inf; no derivative (a ``NotImplemented`` node)."""
    if not isinstance(input, Tensor):
        input = _wrap_scalar(input, other)  # noqa: A001
    out = _floor_divide(input, other)
    if out is NotImplemented:
        raise _arg_error("floor_divide", other)
    return out


def _rfloordiv(self: Tensor, other):
    if not isinstance(other, (int, float, np.number, np.bool_)):
        return NotImplemented
    return _floor_divide(_wrap_scalar(other, self), self)


Tensor.__floordiv__ = _floor_divide
Tensor.__rfloordiv__ = _rfloordiv


class RemainderBackward0(Node):
    """``tensor % number``: the gradient passes through."""

    __slots__ = ()

    def backward(self, g):
        return (g,)


class RemainderBackward1(MulBackward0):
    """``a % b`` for two tensors: da = g, db = -g * floor(a / b)."""

    __slots__ = ()
    _rounding = "floor_divide"

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, g, self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            q = B.floor_divide(self.a, self.b) if self._rounding == "floor_divide" \
                else _trunc_div(B, self.a, self.b)
            gb = _grad_cast(sum_to(B, B.negative(B.multiply(g, q)), self.b_shape), casts[1])
        return ga, gb


class FmodBackward0(RemainderBackward0):
    __slots__ = ()


class FmodBackward1(RemainderBackward1):
    __slots__ = ()
    _rounding = "trunc"


def _remainder_like(a: Tensor, b, ufunc_name: str, kernel: str, nodes, reversed_op=False):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    _integer_checks(B, x, y, kernel)
    out = _apply(B, ufunc_name, x, y)
    if not needs_grad(a, bt):
        return Tensor._wrap(out, B)
    if reversed_op:  # ``number % t``: PyTorch has no derivative for a number on the left
        return _not_implemented(out, B, kernel.split("_")[0], (a, b))
    if bt is None:
        return record(out, B, nodes[0]((a._edge(),)), (a, b))
    node = nodes[1]((edge_of(a), edge_of(bt)))
    node.a_shape, node.b_shape = x.shape, y.shape
    node.casts = _casts(a, x, bt, y)
    b_grad = node.next_functions[1][0] is not None
    node.a, node.b = (x, y) if b_grad else (None, None)
    if b_grad:
        node.save(bt, a)
    return record(out, B, node, (a, b))


_REMAINDER_NODES = (RemainderBackward0, RemainderBackward1)
_FMOD_NODES = (FmodBackward0, FmodBackward1)


@method("remainder")
def remainder(input, other):  # noqa: A002
    """Python's ``%``: the result has the divisor's sign (RemainderBackward0 / 1)."""
    if not isinstance(input, Tensor):
        return _remainder_like(_wrap_scalar(input, other), other, "remainder", "remainder",
                               _REMAINDER_NODES, reversed_op=True)
    out = _remainder_like(input, other, "remainder", "remainder", _REMAINDER_NODES)
    if out is NotImplemented:
        raise _arg_error("remainder", other)
    return out


def _dunder_mod(self, other):
    return _remainder_like(self, other, "remainder", "remainder", _REMAINDER_NODES)


def _rmod(self: Tensor, other):
    if not isinstance(other, (int, float, np.number, np.bool_)):
        return NotImplemented
    return _remainder_like(_wrap_scalar(other, self), self, "remainder", "remainder",
                           _REMAINDER_NODES, reversed_op=True)


Tensor.__mod__ = _dunder_mod
Tensor.__rmod__ = _rmod


@method("fmod")
def fmod(input, other):  # noqa: A002
    """C's ``fmod``: the result has the dividend's sign (FmodBackward0 / 1)."""
    out = _remainder_like(input, other, "fmod", "fmod", _FMOD_NODES)
    if out is NotImplemented:
        raise _arg_error("fmod", other)
    return out


# --- reciprocal / neg -------------------------------------------------------------------------
class ReciprocalBackward0(Node):
    __slots__ = ("result",)
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        r = self.result
        return (B.negative(B.multiply(g, B.multiply(r, r))),)

    def _drop_values(self):
        self.result = None


@method("reciprocal")
def reciprocal(input: Tensor):  # noqa: A002
    """``1 / input`` (ReciprocalBackward0, which saves the result)."""
    x = input._data
    if x.dtype.kind != "f":
        x = x.astype(dt.DEFAULTS.float_dtype.np)
    B = input._B
    out = B.reciprocal(x)
    if needs_grad(input):
        node = ReciprocalBackward0((input._edge(),))
        node.result = out
        t = record(out, B, node, (input,))
        node.save(outputs=(t,))
        return t
    return Tensor._wrap(out, B)


class NegBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        return (_backend(g).negative(g),)


@method("neg", "negative", "__neg__")
def neg(input: Tensor):  # noqa: A002
    """``-input`` (NegBackward0); refused for bool tensors as PyTorch does."""
    B = input._B
    if input._data.dtype is _BOOL:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    out = B.negative(input._data)
    if needs_grad(input):
        return record(out, B, NegBackward0((input._edge(),)), (input,))
    return Tensor._wrap(out, B)


negative = neg


@method("__pos__")
def _pos(a):
    return a


# --- pow --------------------------------------------------------------------------------------
class PowBackward0(Node):
    """``tensor ** number``: d/dx x**e = e * x**(e-1) (0 for e == 0)."""

    __slots__ = ("base", "exponent")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        e = self.exponent
        if e == 0:
            return (B.zeros_like(g),)
        x = self.base
        if e == 2:
            local = B.multiply(x, 2.0)
        elif e == 1:
            return (g,)
        else:
            local = B.multiply(B.power(x, e - 1), e)
        return (B.multiply(g, local).astype(x.dtype, copy=False),)

    def _drop_values(self):
        self.base = None


class PowBackward1(Node):
    """``tensor ** tensor``."""

    __slots__ = ("base", "exp", "result", "a_shape", "b_shape", "casts")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        x, e, r = self.base, self.exp, self.result
        ga = gb = None
        casts = self.casts or (None, None)
        if self.next_functions[0][0] is not None:
            # PyTorch defines the derivative as 0 where the exponent is 0 (even at x == 0)
            local = B.where(e == 0, B.zeros_like(x), B.multiply(e, B.power(x, B.subtract(e, 1))))
            ga = _grad_cast(sum_to(B, B.multiply(g, local), self.a_shape), casts[0])
        if self.next_functions[1][0] is not None:
            # d/de x**e = x**e * log(x); PyTorch defines it as 0 where x == 0 and e >= 0
            logx = B.log(B.where(x == 0, B.ones_like(x), x))
            local = B.where(B.logical_and(x == 0, e >= 0), B.zeros_like(r), B.multiply(r, logx))
            gb = _grad_cast(sum_to(B, B.multiply(g, local), self.b_shape), casts[1])
        return ga, gb

    def _drop_values(self):
        self.base = self.exp = self.result = None


class PowBackward2(Node):
    """``number ** tensor``: d/de b**e = b**e * log(b) (0 where b == 0 and e >= 0)."""

    __slots__ = ("base", "exp", "result")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        base, r = self.base, self.result
        log_base = math.log(base) if base > 0 else (-math.inf if base == 0 else math.nan)
        local = B.multiply(r, log_base)
        if base == 0:
            local = B.where(self.exp >= 0, B.zeros_like(r), local)
        return (B.multiply(g, local),)

    def _drop_values(self):
        self.exp = self.result = None


def _int_power(B, x, y):
    """Integer ``x ** y`` with negative exponents as PyTorch computes them: 1 / x**|y|
    truncated, so 0 unless x is 1 or -1 (numpy refuses negative integer powers)."""
    negative_exp = B.less(y, 0)
    pos = B.power(x, B.where(negative_exp, 0, y))
    odd = B.not_equal(B.remainder(y, 2), 0)
    inv = B.where(B.equal(x, 1), 1, B.where(B.equal(x, -1), B.where(odd, -1, 1), 0))
    return B.where(negative_exp, inv, pos).astype(pos.dtype, copy=False)


def _power(B, x, y):
    try:
        return B.power(x, y)
    except ValueError as exc:
        if "negative integer powers" in str(exc):
            return _int_power(B, x, y)
        raise broadcast_error(shape_of(x), shape_of(y)) from None
    except OverflowError:  # a negative number as base of a uint8 tensor: wrapped
        if hasattr(x, "shape"):
            return _power(B, x, _wrapped_int(B, y, x.dtype))
        return _power(B, _wrapped_int(B, x, y.dtype), y)


def _pow(input: Tensor, exponent):
    ops = binary_operands(input, exponent)
    if ops is NotImplemented:
        return NotImplemented
    x, y, et = ops
    B = input._B
    if et is None:
        if x.dtype.kind in "iu" and isinstance(y, int) and y < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if x.dtype is _BOOL:  # bool ** bool stays bool (numpy would say int8)
            out = B.logical_or(x, not y)
        elif y == 2 and x.dtype.kind == "f":
            out = B.square(x)  # np.power has no fast path for the commonest exponent
        else:
            out = _power(B, x, y)
        if needs_grad(input):
            node = PowBackward0((input._edge(),))
            node.base = x
            node.exponent = y
            node.save(input)
            return record(out, B, node, (input,))
        return Tensor._wrap(out, B)
    if x.dtype is _BOOL:
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    out = _power(B, x, y)
    if needs_grad(input, et):
        node = PowBackward1((edge_of(input), edge_of(et)))
        node.base, node.exp, node.result = x, y, out
        node.a_shape, node.b_shape = x.shape, y.shape
        node.casts = _casts(input, x, et, y)
        t = record(out, B, node, (input, et))
        node.save(et, input, outputs=(t,))
        return t
    return Tensor._wrap(out, B)


@method("pow")
def pow(input, exponent):  # noqa: A001, A002
    """``input ** exponent``: PowBackward0 (number exponent), PowBackward1 (tensor exponent),
    PowBackward2 (number base)."""
    if not isinstance(input, Tensor):
        return _rpow(exponent, input)
    out = _pow(input, exponent)
    if out is NotImplemented:
        raise TypeError(
            f"pow(): argument 'exponent' must be Tensor or Number, not {type(exponent).__name__}"
        )
    return out


def _rpow(a: Tensor, base):
    if isinstance(base, np.ndarray):
        return pow(Tensor._wrap(a._B.from_host(base), a._B), a)
    if isinstance(base, np.bool_):
        base = float(base)  # PyTorch reads a numpy bool as a float number
    elif isinstance(base, np.number):
        base = base.item()  # numpy scalars behave like Python numbers
    if not isinstance(base, (int, float)):
        return NotImplemented
    B = a._B
    x = a._data
    if x.dtype is _BOOL and isinstance(base, bool):
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if x.dtype.kind != "f" and isinstance(base, float):
        x = x.astype(dt.DEFAULTS.float_dtype.np)
    out = _power(B, base, x)
    if needs_grad(a):
        node = PowBackward2((a._edge(),))
        node.base = base
        node.exp = x
        node.result = out
        t = record(out, B, node, (a,))
        node.save(a, outputs=(t,))
        return t
    return Tensor._wrap(out, B)


Tensor.__pow__ = _pow
Tensor.__rpow__ = _rpow


@method("square")
def square(input):  # noqa: A002
    """``input ** 2`` (PowBackward0, as PyTorch records it)."""
    return pow(input, 2)


# --- comparisons and logic (no gradient) -----------------------------------------------------
def _compare(ufunc_name: str, torch_name: str):
    """(module function / method, operator) for a comparison: the operator hands unknown
    operand types back to Python, the function raises as PyTorch does."""

    def dunder(a, b):
        ops = binary_operands(a, b)
        if ops is NotImplemented:
            return NotImplemented
        x, y, _ = ops
        if y.__class__ is int and x.dtype.kind in "iu":
            info = np.iinfo(x.dtype)
            if not info.min <= y <= info.max:  # PyTorch compares with the wrapped number
                y = _wrapped_int(a._B, y, x.dtype)
        return Tensor._wrap(_apply(a._B, ufunc_name, x, y), a._B)

    def fn(input, other):  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{torch_name}() received an invalid combination of arguments - got "
                f"({type(input).__name__}, {type(other).__name__})"
            )
        out = dunder(input, other)
        if out is NotImplemented:
            raise _arg_error(torch_name, other)
        return out

    fn.__name__ = torch_name
    fn.__doc__ = f"Elementwise ``{torch_name}``: a bool tensor (no gradient)."
    return fn, dunder


eq, Tensor.__eq__ = _compare("equal", "eq")
ne, Tensor.__ne__ = _compare("not_equal", "ne")
lt, Tensor.__lt__ = _compare("less", "lt")
le, Tensor.__le__ = _compare("less_equal", "le")
gt, Tensor.__gt__ = _compare("greater", "gt")
ge, Tensor.__ge__ = _compare("greater_equal", "ge")
for _names, _fn in ((("eq",), eq), (("ne", "not_equal"), ne), (("lt", "less"), lt),
                    (("le", "less_equal"), le), (("gt", "greater"), gt),
                    (("ge", "greater_equal"), ge)):
    method(*_names)(_fn)
greater, greater_equal, less, less_equal, equal, not_equal = gt, ge, lt, le, eq, ne
logical_and = method("logical_and")(_compare("logical_and", "logical_and")[0])
logical_or = method("logical_or")(_compare("logical_or", "logical_or")[0])
logical_xor = method("logical_xor")(_compare("logical_xor", "logical_xor")[0])


def _bitwise(ufunc_name: str, torch_name: str):
    """``&``, ``|``, ``^``: bitwise on integers, logical on bools, refused for floats."""

    def dunder(a, b):
        ops = binary_operands(a, b)
        if ops is NotImplemented:
            return NotImplemented
        x, y, _ = ops
        if x.dtype.kind == "f":
            raise NotImplementedError(
                f'"{torch_name}_{a._B.name}" not implemented for '
                f"'{torch_type_name(x.dtype)}'"
            )
        return Tensor._wrap(_apply(a._B, ufunc_name, x, y), a._B)

    def fn(input, other):  # noqa: A002
        out = dunder(input, other)
        if out is NotImplemented:
            raise _arg_error(torch_name, other)
        return out

    fn.__name__ = torch_name
    fn.__doc__ = f"Elementwise ``{torch_name}`` of integer or bool tensors."
    return fn, dunder


bitwise_and, Tensor.__and__ = _bitwise("bitwise_and", "bitwise_and")
bitwise_or, Tensor.__or__ = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor, Tensor.__xor__ = _bitwise("bitwise_xor", "bitwise_xor")
Tensor.__rand__, Tensor.__ror__, Tensor.__rxor__ = Tensor.__and__, Tensor.__or__, Tensor.__xor__
method("bitwise_and")(bitwise_and)
method("bitwise_or")(bitwise_or)
method("bitwise_xor")(bitwise_xor)


@method("logical_not")
def logical_not(input):  # noqa: A002
    """``input == 0`` as a bool tensor, for every dtype."""
    return Tensor._wrap(input._B.logical_not(input._data), input._B)


@method("bitwise_not")
def bitwise_not(input):  # noqa: A002
    """``~input``: bitwise on integers, logical on bools."""
    x = input._data
    if x.dtype.kind == "f":
        raise NotImplementedError(
            f'"bitwise_not_{input._B.name}" not implemented for \'{torch_type_name(x.dtype)}\''
        )
    return Tensor._wrap(input._B.invert(x), input._B)


def _invert(self):
    if self._data.dtype.kind == "f":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(self)


Tensor.__invert__ = _invert


@method("isnan")
def isnan(input):  # noqa: A002
    return Tensor._wrap(input._B.isnan(input._data), input._B)


@method("isinf")
def isinf(input):  # noqa: A002
    return Tensor._wrap(input._B.isinf(input._data), input._B)


@method("isfinite")
def isfinite(input):  # noqa: A002
    return Tensor._wrap(input._B.isfinite(input._data), input._B)
