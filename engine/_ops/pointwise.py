"""Elementwise math: the ``clamp`` family, ``relu``, ``exp`` / ``log`` and friends, rounding,
and the binary ``maximum`` / ``minimum``. Each forward sits beside its backward node, named
as PyTorch names it; nodes that need a forward value keep exactly the one PyTorch saves
(the input for ``log``, the result for ``exp``), so in-place changes are caught the same way.
"""

from __future__ import annotations

from .. import _dtype as dt
from .._device import backend_of
from .._grad_mode import GRAD_MODE
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .common import SCALAR_TYPES, binary_operands, broadcast_error, method, same_device, sum_to

__all__ = [
    "clamp", "clip", "clamp_min", "clamp_max", "relu", "relu_", "exp", "exp_", "log", "log_",
    "tanh", "tanh_", "sigmoid", "sigmoid_", "abs", "abs_", "absolute", "sqrt", "sqrt_", "sin",
    "sin_", "cos", "cos_", "log1p", "log1p_", "expm1", "expm1_", "sign", "rsqrt", "rsqrt_",
    "floor", "floor_", "ceil", "ceil_", "round", "round_", "trunc", "trunc_", "nan_to_num",
    "nan_to_num_", "maximum", "minimum",
]


def _zero(B, dtype):
    """A 0-d zero of ``dtype``: the "else" branch of ``where`` without promoting the result
    (a Python ``0`` would leave the dtype to each library's promotion rules)."""
    return B.zeros((), dtype=dtype)


# Elementwise gradient masks are applied as ``g * mask``, not ``where(mask, g, 0)``: numpy's
# ``where`` on a data-dependent mask is ~20x slower, and relu / clamp / maximum sit on the
# hot path. The two differ only where the incoming gradient is itself inf or NaN at a
# masked-out position (PyTorch writes 0 there, the product gives NaN).
#
# numpy's maximum / minimum return the *second* operand when the two compare equal, PyTorch's
# return the first: calls below put the tensor second so that ties of -0.0 and 0.0 keep its
# value, as PyTorch prints them (``relu(-0.)`` is ``-0.``).


def _to_input(B, g, shape, dtype):
    """A gradient reduced to an input's broadcast ``shape`` and cast to its ``dtype``."""
    g = sum_to(B, g, shape)
    return g if g.dtype == dtype else g.astype(dtype)


def _float_data(input: Tensor):
    """The input's array, promoted to the default float dtype when it is integer or bool
    (``torch.exp(torch.tensor([1, 2]))`` is float32)."""
    x = input._data
    if x.dtype.kind != "f":
        x = x.astype(dt.DEFAULTS.float_dtype.np)
    return x


def _sign(B, x):
    """PyTorch's sign: like numpy's, except that NaN maps to 0 (``(0 < x) - (x < 0)``)."""
    return B.nan_to_num(B.sign(x))


def _not_for_bool(input: Tensor, kernel: str) -> None:
    if input._data.dtype.kind == "b":
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


# --- nodes that keep one forward array -------------------------------------------------------
class _SelfNode(Node):
    """A node whose backward reads the op's input (``x``)."""

    __slots__ = ("x",)
    _holds_values = True

    def _drop_values(self):
        self.x = None


class _ResultNode(Node):
    """A node whose backward reads the op's result (saved as an output: in-place changes of
    the result, or of the tensor an in-place variant wrote it into, are caught)."""

    __slots__ = ("result",)
    _holds_values = True

    def _drop_values(self):
        self.result = None


class _ZeroGradNode(Node):
    """Piecewise-constant functions (``floor``, ``sign`` ...): the gradient is zero."""

    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).zeros_like(g),)


def _finish(input: Tensor, x, out, node_cls) -> Tensor:
    """Wrap ``out``; when recording, attach a ``node_cls`` that keeps what its backward reads."""
    B = input._B
    if not needs_grad(input):
        return Tensor._wrap(out, B)
    node = node_cls((input._edge(),))
    if isinstance(node, _ResultNode):
        node.result = out
        t = record(out, B, node, (input,))
        node.save(outputs=(t,))
        return t
    if isinstance(node, _SelfNode):
        node.x = x
        node.save(input)
    return record(out, B, node, (input,))


def _inplace(self: Tensor, out_of_place, op: str, *args, **kwargs) -> Tensor:
    """``self.op_()`` through ``inplace_unary`` (which also re-points a saved result at self,
    so ``x.exp_(); x.mul_(2)`` fails in backward as in PyTorch)."""
    from .inplace import inplace_unary  # here: inplace.py imports this module (clamp_)

    return inplace_unary(self, out_of_place, op, *args, **kwargs)


# --- relu / exp / log / tanh / sigmoid ----------------------------------------------------------
class ReluBackward0(_ResultNode):
    """Gradient passes where the result is positive (and through NaN, as PyTorch's
    ``threshold_backward(grad, result, 0)`` does)."""

    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.multiply(g, B.logical_not(B.less_equal(self.result, 0))),)


@method("relu")
def relu(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument name
    """``max(x, 0)`` elementwise; keeps integer dtypes."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    x = input._data
    return _finish(input, x, input._B.maximum(0, x), ReluBackward0)


@method("relu_")
def relu_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``relu``."""
    return _inplace(input, relu, "relu_")


class ExpBackward0(_ResultNode):
    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).multiply(g, self.result),)


@method("exp")
def exp(input: Tensor) -> Tensor:  # noqa: A002
    """``e ** x`` elementwise (integer inputs give the default float dtype)."""
    x = _float_data(input)
    return _finish(input, x, input._B.exp(x), ExpBackward0)


@method("exp_")
def exp_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``exp``."""
    return _inplace(input, exp, "exp_")


class LogBackward0(_SelfNode):
    __slots__ = ()

    def backward(self, g):
        return (backend_of(g).divide(g, self.x),)


@method("log")
def log(input: Tensor) -> Tensor:  # noqa: A002
    """Natural logarithm elementwise (``log(0) = -inf``, ``log(-1) = nan``, no warning)."""
    x = _float_data(input)
    return _finish(input, x, input._B.log(x), LogBackward0)


@method("log_")
def log_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``log``."""
    return _inplace(input, log, "log_")


class TanhBackward0(_ResultNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        r = self.result
        return (B.multiply(g, B.subtract(1, B.multiply(r, r))),)


@method("tanh")
def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """Hyperbolic tangent elementwise."""
    x = _float_data(input)
    return _finish(input, x, input._B.tanh(x), TanhBackward0)


@method("tanh_")
def tanh_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``tanh``."""
    return _inplace(input, tanh, "tanh_")


class SigmoidBackward0(_ResultNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        r = self.result
        return (B.multiply(B.multiply(g, r), B.subtract(1, r)),)


@method("sigmoid")
def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """``1 / (1 + exp(-x))`` elementwise; saturates to exactly 0 and 1 like PyTorch."""
    x = _float_data(input)
    B = input._B
    out = B.reciprocal(B.add(B.exp(B.negative(x)), 1))
    return _finish(input, x, out, SigmoidBackward0)


@method("sigmoid_")
def sigmoid_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``sigmoid``."""
    return _inplace(input, sigmoid, "sigmoid_")


# --- abs / sqrt / rsqrt ---------------------------------------------------------------------
class AbsBackward0(_SelfNode):
    """``grad * sgn(x)``: zero at 0 and at NaN."""

    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.multiply(g, _sign(B, self.x)),)


@method("abs", "absolute")
def abs(input: Tensor) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """``|x|`` elementwise; keeps integer dtypes."""
    _not_for_bool(input, "abs_cpu")
    x = input._data
    return _finish(input, x, input._B.abs(x), AbsBackward0)


absolute = abs


@method("abs_", "absolute_")
def abs_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``abs``."""
    return _inplace(input, abs, "abs_")


class SqrtBackward0(_ResultNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.divide(g, B.multiply(self.result, 2)),)


@method("sqrt")
def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    """Square root elementwise (``sqrt(-1) = nan``)."""
    x = _float_data(input)
    return _finish(input, x, input._B.sqrt(x), SqrtBackward0)


@method("sqrt_")
def sqrt_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``sqrt``."""
    return _inplace(input, sqrt, "sqrt_")


class RsqrtBackward0(_ResultNode):
    """``-0.5 * grad * result ** 3``."""

    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        r = self.result
        return (B.multiply(g, B.multiply(B.multiply(B.multiply(r, r), r), -0.5)),)


@method("rsqrt")
def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    """``1 / sqrt(x)`` elementwise."""
    x = _float_data(input)
    B = input._B
    return _finish(input, x, B.reciprocal(B.sqrt(x)), RsqrtBackward0)


@method("rsqrt_")
def rsqrt_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``rsqrt``."""
    return _inplace(input, rsqrt, "rsqrt_")


# --- sin / cos / log1p / expm1 -------------------------------------------------------------------
class SinBackward0(_SelfNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.multiply(g, B.cos(self.x)),)


@method("sin")
def sin(input: Tensor) -> Tensor:  # noqa: A002
    """Sine elementwise."""
    x = _float_data(input)
    return _finish(input, x, input._B.sin(x), SinBackward0)


@method("sin_")
def sin_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``sin``."""
    return _inplace(input, sin, "sin_")


class CosBackward0(_SelfNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.negative(B.multiply(g, B.sin(self.x))),)


@method("cos")
def cos(input: Tensor) -> Tensor:  # noqa: A002
    """Cosine elementwise."""
    x = _float_data(input)
    return _finish(input, x, input._B.cos(x), CosBackward0)


@method("cos_")
def cos_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``cos``."""
    return _inplace(input, cos, "cos_")


class Log1PBackward0(_SelfNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.divide(g, B.add(self.x, 1)),)


@method("log1p")
def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """``log(1 + x)``, accurate for small ``x``."""
    x = _float_data(input)
    return _finish(input, x, input._B.log1p(x), Log1PBackward0)


@method("log1p_")
def log1p_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``log1p``."""
    return _inplace(input, log1p, "log1p_")


class Expm1Backward0(_ResultNode):
    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.multiply(g, B.add(self.result, 1)),)


@method("expm1")
def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """``exp(x) - 1``, accurate for small ``x``."""
    x = _float_data(input)
    return _finish(input, x, input._B.expm1(x), Expm1Backward0)


@method("expm1_")
def expm1_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``expm1``."""
    return _inplace(input, expm1, "expm1_")


# --- piecewise constant: sign and rounding --------------------------------------------------
class SignBackward0(_ZeroGradNode):
    __slots__ = ()


@method("sign")
def sign(input: Tensor) -> Tensor:  # noqa: A002
    """-1, 0 or 1 elementwise, in the input's dtype (NaN gives 0, bool stays bool)."""
    x = input._data
    B = input._B
    kind = x.dtype.kind
    if kind == "b":
        out = B.copy(x)
    elif kind == "f":
        out = _sign(B, x)
    else:
        out = B.sign(x)
    return _finish(input, x, out, SignBackward0)


@method("sign_")
def sign_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``sign``."""
    return _inplace(input, sign, "sign_")


def _rounding(input: Tensor, fn_name: str, kernel: str, node_cls) -> Tensor:
    """floor / ceil / trunc / round: integers are returned as a copy (numpy's would turn
    them into floats), bool is refused as in PyTorch."""
    _not_for_bool(input, kernel)
    x = input._data
    B = input._B
    out = getattr(B, fn_name)(x) if x.dtype.kind == "f" else B.copy(x)
    return _finish(input, x, out, node_cls)


class FloorBackward0(_ZeroGradNode):
    __slots__ = ()


class CeilBackward0(_ZeroGradNode):
    __slots__ = ()


class TruncBackward0(_ZeroGradNode):
    __slots__ = ()


class RoundBackward0(_ZeroGradNode):
    __slots__ = ()


class RoundBackward1(_ZeroGradNode):
    """``round(x, decimals=n)``."""

    __slots__ = ()


@method("floor")
def floor(input: Tensor) -> Tensor:  # noqa: A002
    """Largest integer not greater than ``x``, elementwise (zero gradient)."""
    return _rounding(input, "floor", "floor_vml_cpu", FloorBackward0)


@method("ceil")
def ceil(input: Tensor) -> Tensor:  # noqa: A002
    """Smallest integer not less than ``x``, elementwise (zero gradient)."""
    return _rounding(input, "ceil", "ceil_vml_cpu", CeilBackward0)


@method("trunc", "fix")
def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """``x`` rounded toward zero, elementwise (zero gradient)."""
    return _rounding(input, "trunc", "trunc_vml_cpu", TruncBackward0)


@method("round")
def round(input: Tensor, *, decimals=None) -> Tensor:  # noqa: A001, A002
    """Round half to even (``round(2.5) = 2``); ``decimals`` rounds to that many places
    (negative: to tens, hundreds ...), computed like PyTorch as ``rint(x * 10**d) / 10**d``."""
    if decimals is None:
        return _rounding(input, "rint", "round_vml_cpu", RoundBackward0)
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(
            f'"round_cpu" not implemented for \'{_torch_type_word(x.dtype)}\''
        )
    B = input._B
    decimals = int(decimals)
    if decimals == 0:
        out = B.rint(x)
    else:
        # the power of ten is a float of x's own dtype, as in PyTorch's kernel
        ten = x.dtype.type(10.0 ** (decimals if decimals > 0 else -decimals))
        if decimals > 0:
            out = B.divide(B.rint(B.multiply(x, ten)), ten)
        else:
            out = B.multiply(B.rint(B.divide(x, ten)), ten)
    return _finish(input, x, out, RoundBackward1)


def _torch_type_word(np_dtype) -> str:
    from .common import torch_type_name

    return torch_type_name(np_dtype)


def _make_inplace_rounding(fn, op):
    def inplace_fn(input: Tensor, *args, **kwargs) -> Tensor:  # noqa: A002
        return _inplace(input, fn, op, *args, **kwargs)

    inplace_fn.__name__ = inplace_fn.__qualname__ = op
    inplace_fn.__doc__ = f"In-place ``{fn.__name__}``."
    return method(op)(inplace_fn)


floor_ = _make_inplace_rounding(floor, "floor_")
ceil_ = _make_inplace_rounding(ceil, "ceil_")
trunc_ = _make_inplace_rounding(trunc, "trunc_")
method("fix_")(trunc_)
round_ = _make_inplace_rounding(round, "round_")


# --- nan_to_num ------------------------------------------------------------------------------
class NanToNumBackward0(_SelfNode):
    """The gradient passes only where ``x`` was finite (``grad * isfinite(x)``)."""

    __slots__ = ()

    def backward(self, g):
        B = backend_of(g)
        return (B.multiply(g, B.isfinite(self.x)),)


@method("nan_to_num")
def nan_to_num(input: Tensor, nan=0.0, posinf=None, neginf=None) -> Tensor:  # noqa: A002
    """NaN -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (default: the dtype's largest
    and lowest finite values). Integer and bool tensors come back as a copy."""
    x = input._data
    B = input._B
    if x.dtype.kind == "f":
        out = B.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)
    else:
        out = B.copy(x)
    return _finish(input, x, out, NanToNumBackward0)


@method("nan_to_num_")
def nan_to_num_(input: Tensor, nan=0.0, posinf=None, neginf=None) -> Tensor:  # noqa: A002
    """In-place ``nan_to_num``."""
    return _inplace(input, nan_to_num, "nan_to_num_", nan, posinf, neginf)


# --- maximum / minimum --------------------------------------------------------------------------
class MaximumBackward0(Node):
    """Where the inputs tie, each gets half the gradient; where a NaN is involved, both get
    all of it (neither ``<`` nor ``==`` holds), as in PyTorch."""

    __slots__ = ("a", "b", "a_shape", "b_shape", "a_dtype", "b_dtype")
    _holds_values = True
    _loses_to = "less"  # an operand gets nothing where it is less than the other

    def backward(self, g):
        B = backend_of(g)
        a, b = self.a, self.b
        loses = getattr(B, self._loses_to)
        # weight = (not losing) - 0.5 * tied: 1 where it wins or a NaN is involved, 0.5 on
        # a tie, 0 where it loses
        half_tie = B.multiply(B.equal(a, b), g.dtype.type(0.5))
        ga = gb = None
        if self.next_functions[0][0] is not None:
            weight = B.subtract(B.logical_not(loses(a, b)), half_tie)
            ga = _to_input(B, B.multiply(g, weight), self.a_shape, self.a_dtype)
        if self.next_functions[1][0] is not None:
            weight = B.subtract(B.logical_not(loses(b, a)), half_tie)
            gb = _to_input(B, B.multiply(g, weight), self.b_shape, self.b_dtype)
        return ga, gb

    def _drop_values(self):
        self.a = self.b = None


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()
    _loses_to = "greater"


def _extremum(input, other, name: str, ufunc: str, node_cls, position: int) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position {position}) must be Tensor, "
                        f"not {type(other).__name__}")
    x, y, _ = binary_operands(input, other)
    B = input._B
    try:
        out = getattr(B, ufunc)(y, x)  # x second: it wins ties, as in PyTorch
    except ValueError:
        raise broadcast_error(x.shape, y.shape) from None
    if needs_grad(input, other):
        node = node_cls((edge_of(input), edge_of(other)))
        node.a, node.b = x, y
        node.a_shape, node.b_shape = input._data.shape, other._data.shape
        node.a_dtype, node.b_dtype = input._data.dtype, other._data.dtype
        node.save(input, other)
        return record(out, B, node, (input, other))
    return Tensor._wrap(out, B)


def maximum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Elementwise maximum of two broadcastable tensors (NaN propagates)."""
    return _extremum(input, other, "maximum", "maximum", MaximumBackward0, 2)


def minimum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Elementwise minimum of two broadcastable tensors (NaN propagates)."""
    return _extremum(input, other, "minimum", "minimum", MinimumBackward0, 2)


@method("maximum")
def _maximum_method(self: Tensor, other: Tensor) -> Tensor:
    """``self.maximum(other)``."""
    return _extremum(self, other, "maximum", "maximum", MaximumBackward0, 1)


@method("minimum")
def _minimum_method(self: Tensor, other: Tensor) -> Tensor:
    """``self.minimum(other)``."""
    return _extremum(self, other, "minimum", "minimum", MinimumBackward0, 1)


# --- clamp with number bounds ----------------------------------------------------------------
class ClampBackward1(Node):
    """``clamp(min=, max=)`` with number bounds: the gradient passes where
    ``min <= x <= max`` (bounds included, PyTorch's subgradient choice)."""

    __slots__ = ("x", "lo", "hi")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        x, lo, hi = self.x, self.lo, self.hi
        if hi is None:
            keep = B.greater_equal(x, lo)
        elif lo is None:
            keep = B.less_equal(x, hi)
        else:
            keep = B.logical_and(B.greater_equal(x, lo), B.less_equal(x, hi))
        return (B.multiply(g, keep),)

    def _drop_values(self):
        self.x = None


class ClampMinBackward0(ClampBackward1):
    """``clamp_min(number)``."""

    __slots__ = ()


class ClampMaxBackward0(ClampBackward1):
    """``clamp_max(number)``."""

    __slots__ = ()


_PLAIN_NUMBERS = (int, float)


def _clamp_numbers(input: Tensor, lo, hi, node_cls) -> Tensor:
    B = input._B
    x = input._data
    if x.dtype.kind == "f" and (lo.__class__ in _PLAIN_NUMBERS or lo is None) and \
            (hi.__class__ in _PLAIN_NUMBERS or hi is None):
        want = None  # ``clamp(min=0)`` on a float tensor: nothing to promote
    else:
        # each bound can only raise the category (int tensor, float bound -> default float)
        want = input.dtype
        for bound in (lo, hi):
            if bound is not None:
                want = dt.scalar_result_type(want, bound)
    if want is dt.bool:
        kernel = "clamp_scalar_cpu" if lo is not None and hi is not None else (
            "clamp_min_scalar_cpu" if hi is None else "clamp_max_scalar_cpu")
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    if want is not None and x.dtype != want.np:
        x = x.astype(want.np)
    if hi is None:
        out = B.maximum(lo, x)
    elif lo is None:
        out = B.minimum(hi, x)
    else:
        out = B.minimum(hi, B.maximum(lo, x))
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.x, node.lo, node.hi = x, lo, hi
        node.save(input)
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


# --- clamp with tensor bounds ----------------------------------------------------------------
class ClampBackward0(Node):
    """``clamp(min=Tensor, max=Tensor)``: next_functions are (input, min, max), a missing
    bound's entry is (None, 0). ``x`` gets the gradient where ``min <= x <= max``; ``min``
    where ``x < min`` (and ``min < max``); ``max`` where ``x > max`` or ``max < min`` (then
    the result is ``max`` everywhere)."""

    __slots__ = ("x", "lo", "hi", "shapes", "dtypes")
    _holds_values = True
    _outputs = (0, 1, 2)  # which of (x, min, max) this node has an edge for

    def backward(self, g):
        B = backend_of(g)
        x, lo, hi = self.x, self.lo, self.hi
        wanted = [nf[0] is not None for nf in self.next_functions]
        grads = [None, None, None]
        for slot, want in zip(self._outputs, wanted):
            if not want:
                continue
            if slot == 0:
                if lo is None:
                    keep = B.less_equal(x, hi)
                elif hi is None:
                    keep = B.greater_equal(x, lo)
                else:
                    keep = B.logical_and(B.greater_equal(x, lo), B.less_equal(x, hi))
            elif slot == 1:
                keep = B.less(x, lo)
                if hi is not None:
                    keep = B.logical_and(keep, B.less(lo, hi))
            else:
                keep = B.greater(x, hi)
                if lo is not None:
                    keep = B.logical_or(keep, B.less(hi, lo))
            grads[slot] = _to_input(B, B.multiply(g, keep), self.shapes[slot],
                                    self.dtypes[slot])
        return tuple(grads[slot] for slot in self._outputs)

    def _drop_values(self):
        self.x = self.lo = self.hi = None


class ClampMinBackward1(ClampBackward0):
    """``clamp_min(Tensor)``: next_functions are (input, min)."""

    __slots__ = ()
    _outputs = (0, 1)


class ClampMaxBackward1(ClampBackward0):
    """``clamp_max(Tensor)``: next_functions are (input, max)."""

    __slots__ = ()
    _outputs = (0, 2)


def _common_dtype(tensors) -> dt.dtype:
    """PyTorch's result type of several tensors: 0-d tensors only raise the category."""
    dims = [t.dtype for t in tensors if t._data.ndim]
    zeros = [t.dtype for t in tensors if not t._data.ndim]
    if not dims:
        dims, zeros = zeros, []
    d = dims[0]
    for other in dims[1:]:
        d = dt.promote(d, other)
    if zeros:
        z = zeros[0]
        for other in zeros[1:]:
            z = dt.promote(z, other)
        d = dt.result_type(d, 1, z, 0)
    return d


def _clamp_tensors(input: Tensor, lo, hi, node_cls) -> Tensor:
    B = input._B
    present = [t for t in (input, lo, hi) if t is not None]
    for t in present[1:]:
        if t._B is not B:
            same_device(input, t)
    want = _common_dtype(present).np
    arrays = [None if t is None else (t._data if t._data.dtype == want else t._data.astype(want))
              for t in (input, lo, hi)]
    x, lo_a, hi_a = arrays
    try:
        out = x
        if lo_a is not None:
            out = B.maximum(lo_a, out)
        if hi_a is not None:
            out = B.minimum(hi_a, out)
    except ValueError:
        shapes = [a.shape for a in arrays if a is not None]
        raise _first_broadcast_error(shapes) from None
    if GRAD_MODE.enabled and any(t.requires_grad_flag for t in present):
        tensors = (input, lo, hi)
        node = node_cls(tuple(edge_of(tensors[slot]) for slot in node_cls._outputs))
        node.x, node.lo, node.hi = x, lo_a, hi_a
        node.shapes = tuple(None if t is None else t._data.shape for t in tensors)
        node.dtypes = tuple(None if t is None else t._data.dtype for t in tensors)
        node.save(*present)
        return record(out, B, node, tuple(present))
    return Tensor._wrap(out, B)


def _first_broadcast_error(shapes) -> RuntimeError:
    import numpy as np

    current = shapes[0]
    for s in shapes[1:]:
        try:
            current = np.broadcast_shapes(current, s)
        except ValueError:
            return broadcast_error(current, s)
    return broadcast_error(shapes[0], shapes[-1])


def _bound_type(v) -> str:
    if isinstance(v, Tensor):
        return "Tensor"
    return type(v).__name__


def _clamp_dispatch(input: Tensor, lo, hi, name: str):
    """Pick PyTorch's overload: tensor bounds, number bounds, or (a 0-d tensor mixed with a
    number) numbers, where the 0-d tensor is read as a number as PyTorch's parser does."""
    lo_t, hi_t = isinstance(lo, Tensor), isinstance(hi, Tensor)
    if not (lo_t or hi_t):
        for v in (lo, hi):
            if v is not None and not isinstance(v, SCALAR_TYPES):
                raise TypeError(
                    f"{name}() received an invalid combination of arguments - got (Tensor, "
                    f"min={_bound_type(lo)}, max={_bound_type(hi)})"
                )
        return "numbers", lo, hi
    other = hi if lo_t else lo
    if (lo_t and hi_t) or other is None:
        return "tensors", lo, hi
    tensor = lo if lo_t else hi
    # PyTorch's parser reads a 0-d tensor as a Number, unless it requires grad
    if tensor._data.ndim == 0 and not tensor.requires_grad_flag and \
            isinstance(other, SCALAR_TYPES):
        return "numbers", (lo.item() if lo_t else lo), (hi.item() if hi_t else hi)
    raise TypeError(
        f"{name}() received an invalid combination of arguments - got (Tensor, "
        f"min={_bound_type(lo)}, max={_bound_type(hi)}), but expected one of:\n"
        " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
        " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)\n"
    )


@method("clamp", "clip")
def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """Limit values to ``[min, max]`` (either may be None; if ``min > max`` the result is
    ``max``). Number bounds record ClampBackward1, tensor bounds (broadcast, and
    differentiable themselves) ClampBackward0."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    kind, lo, hi = _clamp_dispatch(input, min, max, "clamp")
    if kind == "numbers":
        return _clamp_numbers(input, lo, hi, ClampBackward1)
    return _clamp_tensors(input, lo, hi, ClampBackward0)


clip = clamp


@method("clamp_min")
def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A001, A002
    """``clamp(min=min)`` recorded as ClampMinBackward0 (number) / ClampMinBackward1 (Tensor)."""
    if isinstance(min, Tensor):
        return _clamp_tensors(input, min, None, ClampMinBackward1)
    return _clamp_numbers(input, min, None, ClampMinBackward0)


@method("clamp_max")
def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A001, A002
    """``clamp(max=max)`` recorded as ClampMaxBackward0 (number) / ClampMaxBackward1 (Tensor)."""
    if isinstance(max, Tensor):
        return _clamp_tensors(input, None, max, ClampMaxBackward1)
    return _clamp_numbers(input, None, max, ClampMaxBackward0)


@method("clamp_min_")
def clamp_min_(input: Tensor, min) -> Tensor:  # noqa: A001, A002
    """In-place ``clamp_min``."""
    return _inplace(input, clamp_min, "clamp_min_", min)


@method("clamp_max_")
def clamp_max_(input: Tensor, max) -> Tensor:  # noqa: A001, A002
    """In-place ``clamp_max``."""
    return _inplace(input, clamp_max, "clamp_max_", max)

