"""Elementwise arithmetic with broadcasting: each op's forward beside its backward node."""

from __future__ import annotations

from .. import _dtype as dt
from .._device import backend_of as _backend
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .common import binary_operands, broadcast_error, method, shape_of, sum_to

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "neg",
           "negative", "pow", "rsub", "reciprocal", "square", "eq", "ne", "lt", "le", "gt",
           "ge", "greater", "less", "equal", "logical_not", "logical_and", "logical_or",
           "isnan", "isinf", "isfinite"]


def _grad_cast(g, want):
    return g if g.dtype == want else g.astype(want)


# --- add / sub -------------------------------------------------------------------------------
class AddBackward0(Node):
    __slots__ = ("a_shape", "b_shape", "alpha", "a_dtype", "b_dtype")

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, g, self.a_shape), self.a_dtype)
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, g if self.alpha == 1 else B.multiply(g, self.alpha), self.b_shape)
            gb = _grad_cast(gb, self.b_dtype)
        return ga, gb


class SubBackward0(AddBackward0):
    __slots__ = ()

    def backward(self, g):
        B = _backend(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = _grad_cast(sum_to(B, g, self.a_shape), self.a_dtype)
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, B.multiply(g, -self.alpha), self.b_shape)
            gb = _grad_cast(gb, self.b_dtype)
        return ga, gb


class RsubBackward1(Node):
    """``scalar - tensor``."""

    __slots__ = ("alpha",)

    def backward(self, g):
        return (_backend(g).multiply(g, -self.alpha),)


def _add_like(a: Tensor, b, alpha, ufunc_name: str, node_cls):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    if alpha != 1:
        y = B.multiply(y, alpha)
    try:
        out = getattr(B, ufunc_name)(x, y)
    except ValueError:
        raise broadcast_error(x.shape, shape_of(y)) from None
    if needs_grad(a, bt):
        node = node_cls((edge_of(a), edge_of(bt)))
        node.a_shape = x.shape
        node.b_shape = shape_of(y)
        node.alpha = alpha
        node.a_dtype = a._data.dtype
        node.b_dtype = bt._data.dtype if bt is not None else None
        return record(out, B, node, (a, b))
    return Tensor._wrap(out, B)


@method("add", "__add__", "__radd__")
def add(input: Tensor, other, *, alpha=1, out=None):  # noqa: A002 - PyTorch's argument name
    if not isinstance(input, Tensor):
        input, other = other, input
    return _add_like(input, other, alpha, "add", AddBackward0)


@method("sub", "subtract", "__sub__")
def sub(input: Tensor, other, *, alpha=1):  # noqa: A002
    if not isinstance(input, Tensor):
        return rsub(other, input, alpha=alpha)
    return _add_like(input, other, alpha, "subtract", SubBackward0)


subtract = sub


@method("__rsub__")
def rsub(input: Tensor, other, *, alpha=1):  # noqa: A002
    """``other - alpha * input``."""
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    ops = binary_operands(input, other)
    if ops is NotImplemented:
        return NotImplemented
    x, y, _ = ops
    B = input._B
    out = B.subtract(y, x if alpha == 1 else B.multiply(x, alpha))
    if needs_grad(input):
        node = RsubBackward1((input._edge(),))
        node.alpha = alpha
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


# --- mul / div --------------------------------------------------------------------------------
class MulBackward0(Node):
    __slots__ = ("a", "b", "a_shape", "b_shape")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        a, b = self.a, self.b
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = sum_to(B, B.multiply(g, b), self.a_shape)
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, B.multiply(g, a), self.b_shape)
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


class DivBackward0(MulBackward0):
    __slots__ = ()

    def backward(self, g):
        B = _backend(g)
        a, b = self.a, self.b
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = sum_to(B, B.divide(g, b), self.a_shape)
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, B.negative(B.divide(B.multiply(g, a), B.multiply(b, b))),
                        self.b_shape)
        return ga, gb


def _mul_like(a: Tensor, b, ufunc_name: str, node_cls):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, bt = ops
    B = a._B
    try:
        out = getattr(B, ufunc_name)(x, y)
    except ValueError:
        raise broadcast_error(x.shape, shape_of(y)) from None
    if needs_grad(a, bt):
        node = node_cls((edge_of(a), edge_of(bt)))
        node.a = x
        node.b = y
        node.a_shape = x.shape
        node.b_shape = shape_of(y)
        if bt is None:
            node.save(a)
        else:
            node.save(a, bt)
        return record(out, B, node, (a, b))
    return Tensor._wrap(out, B)


@method("mul", "multiply", "__mul__", "__rmul__")
def mul(input: Tensor, other):  # noqa: A002
    if not isinstance(input, Tensor):
        input, other = other, input
    return _mul_like(input, other, "multiply", MulBackward0)


multiply = mul


@method("div", "divide", "true_divide", "__truediv__")
def div(input: Tensor, other, *, rounding_mode=None):  # noqa: A002
    if not isinstance(input, Tensor):
        return _rtruediv(other, input)
    if rounding_mode is not None:
        return _floor_or_trunc_div(input, other, rounding_mode)
    if input._data.dtype.kind != "f" and not (
        isinstance(other, Tensor) and other._data.dtype.kind == "f"
    ) and not isinstance(other, float):
        input = input.to(dt.DEFAULTS.float_dtype)
    return _mul_like(input, other, "divide", DivBackward0)


divide = true_divide = div


def _floor_or_trunc_div(a, b, mode):
    ops = binary_operands(a, b)
    if ops is NotImplemented:
        return NotImplemented
    x, y, _ = ops
    B = a._B
    if mode == "floor":
        return Tensor._wrap(B.floor_divide(x, y), B)
    q = B.divide(x, y)
    q = B.multiply(B.sign(q), B.xp.floor(B.abs(q)))
    return Tensor._wrap(q.astype(x.dtype) if x.dtype.kind in "iu" else q, B)


@method("__rtruediv__")
def _rtruediv(a: Tensor, other):
    # PyTorch computes ``scalar / t`` as ``reciprocal(t) * scalar`` (MulBackward0 over
    # ReciprocalBackward0), and that is the graph people see.
    if isinstance(other, Tensor):
        return div(other, a)
    if not isinstance(other, (int, float)):
        return NotImplemented
    return mul(reciprocal(a), other)


@method("__floordiv__")
def _floordiv(a, other):
    return _floor_or_trunc_div(a, other, "floor")


@method("__rfloordiv__")
def _rfloordiv(a, other):
    ops = binary_operands(a, other)
    x, y, _ = ops
    return Tensor._wrap(a._B.floor_divide(y, x), a._B)


@method("__mod__", "remainder")
def _remainder(a, other):
    x, y, _ = binary_operands(a, other)
    return Tensor._wrap(a._B.remainder(x, y), a._B)


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
    B = input._B
    if input._data.dtype.kind == "b":
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
    """``tensor ** scalar``."""

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

    __slots__ = ("base", "exp", "result", "a_shape", "b_shape")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        x, e, r = self.base, self.exp, self.result
        ga = gb = None
        if self.next_functions[0][0] is not None:
            # PyTorch defines the derivative as 0 where the exponent is 0 (even at x == 0)
            local = B.where(e == 0, B.zeros_like(x), B.multiply(e, B.power(x, B.subtract(e, 1))))
            ga = sum_to(B, B.multiply(g, local), self.a_shape)
        if self.next_functions[1][0] is not None:
            # d/de x**e = x**e * log(x); PyTorch defines it as 0 where x == 0 and e >= 0
            logx = B.log(B.where(x == 0, B.ones_like(x), x))
            local = B.where(B.logical_and(x == 0, e >= 0), B.zeros_like(r), B.multiply(r, logx))
            gb = sum_to(B, B.multiply(g, local), self.b_shape)
        return ga, gb

    def _drop_values(self):
        self.base = self.exp = self.result = None


class PowBackward2(Node):
    """``scalar ** tensor``."""

    __slots__ = ("base", "result")
    _holds_values = True

    def backward(self, g):
        B = _backend(g)
        import math

        if self.base == 0:
            return (B.multiply(g, B.zeros_like(self.result)),)
        return (B.multiply(g, B.multiply(self.result, math.log(self.base))),)

    def _drop_values(self):
        self.result = None


@method("pow", "__pow__")
def pow(input, exponent):  # noqa: A001, A002
    if not isinstance(input, Tensor):
        return _rpow(exponent, input)
    B = input._B
    ops = binary_operands(input, exponent)
    if ops is NotImplemented:
        return NotImplemented
    x, y, et = ops
    if et is None:
        if x.dtype.kind in "iu" and isinstance(y, int) and y < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = B.power(x, y)
        if needs_grad(input):
            node = PowBackward0((input._edge(),))
            node.base = x
            node.exponent = y
            node.save(input)
            return record(out, B, node, (input,))
        return Tensor._wrap(out, B)
    try:
        out = B.power(x, y)
    except ValueError:
        raise broadcast_error(x.shape, y.shape) from None
    if needs_grad(input, et):
        node = PowBackward1((edge_of(input), edge_of(et)))
        node.base, node.exp, node.result = x, y, out
        node.a_shape, node.b_shape = x.shape, y.shape
        t = record(out, B, node, (input, et))
        node.save(input, et, outputs=(t,))
        return t
    return Tensor._wrap(out, B)


@method("__rpow__")
def _rpow(a: Tensor, base):
    if isinstance(base, Tensor):
        return pow(base, a)
    if not isinstance(base, (int, float)):
        return NotImplemented
    B = a._B
    x = a._data
    if x.dtype.kind != "f" and isinstance(base, float):
        x = x.astype(dt.DEFAULTS.float_dtype.np)
    out = B.power(base, x)
    if needs_grad(a):
        node = PowBackward2((a._edge(),))
        node.base = base
        node.result = out
        t = record(out, B, node, (a,))
        node.save(outputs=(t,))
        return t
    return Tensor._wrap(out, B)


@method("square")
def square(input):  # noqa: A002
    return pow(input, 2)


# --- comparisons and logic (no gradient) -----------------------------------------------------
def _compare(ufunc_name):
    def op(a, b):
        if not isinstance(a, Tensor):
            return NotImplemented
        ops = binary_operands(a, b)
        if ops is NotImplemented:
            return NotImplemented
        x, y, _ = ops
        try:
            return Tensor._wrap(getattr(a._B, ufunc_name)(x, y), a._B)
        except ValueError:
            raise broadcast_error(x.shape, shape_of(y)) from None

    op.__name__ = ufunc_name
    return op


eq = method("eq", "__eq__")(_compare("equal"))
ne = method("ne", "__ne__", "not_equal")(_compare("not_equal"))
lt = method("lt", "__lt__", "less")(_compare("less"))
le = method("le", "__le__", "less_equal")(_compare("less_equal"))
gt = method("gt", "__gt__", "greater")(_compare("greater"))
ge = method("ge", "__ge__", "greater_equal")(_compare("greater_equal"))
greater, less, equal = gt, lt, eq
logical_and = method("logical_and", "__and__", "__rand__")(_compare("logical_and"))
logical_or = method("logical_or", "__or__", "__ror__")(_compare("logical_or"))
method("logical_xor", "__xor__")(_compare("logical_xor"))


@method("logical_not", "__invert__")
def logical_not(input):  # noqa: A002
    x = input._data
    if x.dtype.kind == "b" or input is None:
        return Tensor._wrap(input._B.logical_not(x), input._B)
    return Tensor._wrap(input._B.xp.invert(x), input._B)


@method("isnan")
def isnan(input):  # noqa: A002
    return Tensor._wrap(input._B.isnan(input._data), input._B)


@method("isinf")
def isinf(input):  # noqa: A002
    return Tensor._wrap(input._B.isinf(input._data), input._B)


@method("isfinite")
def isfinite(input):  # noqa: A002
    return Tensor._wrap(input._B.isfinite(input._data), input._B)
