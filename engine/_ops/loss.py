"""Loss functions with PyTorch's graphs: ``mse_loss`` (MseLossBackward0), ``nll_loss``
(NllLossBackward0 / NllLoss2DBackward0), ``cross_entropy`` (NllLossBackward0 over
LogSoftmaxBackward0), ``binary_cross_entropy`` and ``l1_loss`` (composed of ``abs``,
``mean`` ... exactly as PyTorch composes it).

These are the ``torch.nn.functional`` functions (PyTorch has no ``torch.mse_loss``), so the
module exports nothing to the ``torch`` namespace; ``engine.nn.functional`` re-exports them.
"""

from __future__ import annotations

import warnings

from .._device import backend_of
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from .common import binary_operands, broadcast_error, torch_type_name

__all__: list[str] = []

_REDUCTIONS = ("none", "mean", "sum")


# --- reduction arguments ----------------------------------------------------------------------
def legacy_reduction(size_average, reduce) -> str:
    """The ``reduction`` that the deprecated ``size_average`` / ``reduce`` pair stands for."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' "
        "instead.",
        UserWarning,
        stacklevel=4,
    )
    return ret


def reduction_of(size_average, reduce, reduction: str) -> str:
    """PyTorch's reduction argument handling, including its error for an unknown name."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    if reduction in _REDUCTIONS:
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            UserWarning,
            stacklevel=3,
        )
        return "mean"
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(B, losses, reduction: str):
    if reduction == "none":
        return B.asarray(losses)  # a 0-d input's elementwise result is a numpy scalar
    # numpy reduces to a scalar; tensors hold arrays, so wrap it as a 0-d array
    return B.asarray(B.mean(losses) if reduction == "mean" else B.sum(losses))


def _size_warning(input: Tensor, target: Tensor) -> None:  # noqa: A002 - PyTorch's name
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )


def _broadcast_pair(a: Tensor, b: Tensor):
    """``torch.broadcast_tensors(a, b)``: only a tensor whose shape changes gets an
    ``expand`` (ExpandBackward0), as in PyTorch."""
    sa, sb = a._data.shape, b._data.shape
    if sa == sb:
        return a, b
    try:
        shape = a._B.broadcast_shapes(sa, sb)
    except ValueError:
        raise broadcast_error(sa, sb) from None
    return (a if sa == shape else a.expand(shape)), (b if sb == shape else b.expand(shape))


def _grad_cast(g, dtype):
    return g if g.dtype == dtype else g.astype(dtype)


# --- mse_loss ---------------------------------------------------------------------------------
class MseLossBackward0(Node):
    """``mean((x - t)**2)``: ``dx = 2 (x - t) g / n``, ``dt = -dx``."""

    __slots__ = ("diff", "reduction", "x_dtype", "t_dtype")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        diff = self.diff
        if self.reduction == "mean":
            g = B.multiply(g, 2.0 / max(diff.size, 1))
        else:
            g = B.multiply(g, 2.0)
        gx = B.multiply(diff, g)
        gi = gt = None
        if self.next_functions[0][0] is not None:
            gi = _grad_cast(gx, self.x_dtype)
        if self.next_functions[1][0] is not None:
            gt = _grad_cast(B.negative(gx), self.t_dtype)
        return gi, gt

    def _drop_values(self):
        self.diff = None


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,  # noqa: A002
             reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error ``(input - target)**2`` reduced by ``reduction``."""
    _size_warning(input, target)
    reduction = reduction_of(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)  # noqa: A001
    if weight is not None:
        return _weighted(input, target, weight, reduction, lambda d: d.pow(2))
    x, t, _ = binary_operands(input, target)
    B = input._B
    diff = B.subtract(x, t)
    out = _reduce(B, B.multiply(diff, diff), reduction)
    if needs_grad(input, target):
        node = MseLossBackward0((edge_of(input), edge_of(target)))
        node.diff, node.reduction = diff, reduction
        node.x_dtype, node.t_dtype = input._data.dtype, target._data.dtype
        node.save(input, target)
        return record(out, B, node, (input, target))
    return Tensor._wrap(out, B)


def _weighted(input, target, weight, reduction, elementwise):  # noqa: A002
    """The ``weight=`` form of mse/l1 loss, which PyTorch writes with ordinary tensor ops."""
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    losses = elementwise(input - target) * weight
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weight.sum()


# --- l1_loss ----------------------------------------------------------------------------------
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,  # noqa: A002
            reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error. PyTorch composes it (MeanBackward0 over AbsBackward0 over
    SubBackward0) and so does the engine, so the graph reads the same."""
    _size_warning(input, target)
    reduction = reduction_of(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)  # noqa: A001
    if weight is not None:
        return _weighted(input, target, weight, reduction, lambda d: d.abs())
    losses = (input - target).abs()
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# --- nll_loss ---------------------------------------------------------------------------------
class NllLossBackward0(Node):
    """``-w[t] * x[t]``: the gradient is ``-w[t] * g`` (``/ total weight`` for mean) at the
    target class of each sample and zero elsewhere."""

    __slots__ = ("target", "w_t", "total", "reduction", "n_classes", "x_shape", "x_dtype")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        w_t, target = self.w_t, self.target
        if self.reduction == "mean":
            g = B.divide(g, self.total)
        coef = B.multiply(w_t, B.negative(g))
        if self.reduction == "mean":
            # every target ignored: total is 0 and PyTorch's gradient is 0, not 0/0
            coef = B.where(B.equal(w_t, 0), 0, coef)
        c = self.n_classes
        classes = B.reshape(B.arange(c), (1, c) + (1,) * (target.ndim - 1))
        onehot = B.equal(B.expand_dims(target, 1), classes)
        gx = B.where(onehot, B.expand_dims(coef, 1), 0)
        return (_grad_cast(B.reshape(gx, self.x_shape), self.x_dtype),)

    def _drop_values(self):
        self.target = self.w_t = self.total = None


class NllLoss2DBackward0(NllLossBackward0):
    """``nll_loss`` over a 4-D (N, C, H, W) input: same rule, PyTorch's other node name."""

    __slots__ = ()


def _check_target_dtype(target: Tensor) -> None:
    kind = target._data.dtype
    if kind.name not in ("int64", "uint8"):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {torch_type_name(kind)}"
        )


def _shape_list(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def nll_loss(input: Tensor, target: Tensor, weight=None, size_average=None,  # noqa: A002
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class indices ``target`` under log-probabilities ``input``
    (classes on dim 1, or dim 0 for one unbatched sample)."""
    reduction = reduction_of(size_average, reduce, reduction)
    nd = input._data.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and (target._data.ndim == 0 or input._data.shape[0] != target._data.shape[0]):
        got = target._data.shape[0] if target._data.ndim else 0  # PyTorch says 0 for 0-d
        raise ValueError(
            f"Expected input batch_size ({input._data.shape[0]}) to match target batch_size "
            f"({got})."
        )
    _check_target_dtype(target)
    if nd <= 2:
        if target._data.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if nd == 1 and target._data.ndim != 0:
            raise RuntimeError(
                f"size mismatch (got input: {_shape_list(input.shape)} , target: "
                f"{_shape_list(target.shape)}"
            )
        return _nll(input, target, weight, ignore_index, reduction, NllLossBackward0)
    if nd == 4:
        if target._data.ndim != 3:
            raise RuntimeError(
                "only batches of spatial targets supported (3D tensors) but got targets of "
                f"dimension: {target._data.ndim}"
            )
        if target._data.shape != input._data.shape[:1] + input._data.shape[2:]:
            raise RuntimeError(
                f"size mismatch (got input: {_shape_list(input.shape)} , target: "
                f"{_shape_list(target.shape)}"
            )
        return _nll(input, target, weight, ignore_index, reduction, NllLoss2DBackward0)
    # 3-D or > 4-D: PyTorch views (N, C, d1, d2 ...) as (N, C, 1, d1*d2...) for nll_loss2d
    n, c = input._data.shape[:2]
    if target._data.shape[1:] != input._data.shape[2:]:
        raise RuntimeError(
            f"Expected target size {_shape_list((n,) + input._data.shape[2:])}, got "
            f"{_shape_list(target.shape)}"
        )
    out_size = (n,) + input._data.shape[2:]
    x4 = input.contiguous().view(n, c, 1, -1)
    t3 = target.contiguous().view(n, 1, -1)
    out = _nll(x4, t3, weight, ignore_index, reduction, NllLoss2DBackward0)
    return out.view(out_size) if reduction == "none" else out


def _nll(input: Tensor, target: Tensor, weight, ignore_index, reduction, node_cls):  # noqa: A002
    B = input._B
    x, t = input._data, target._data
    if x.dtype.kind != "f":
        raise NotImplementedError(
            f'"nll_loss_out_frame" not implemented for \'{torch_type_name(x.dtype)}\''
        )
    unbatched = x.ndim == 1
    if unbatched:
        x, t = B.reshape(x, (1, -1)), B.reshape(t, (1,))
    n_classes = x.shape[1]
    if weight is not None and (weight._data.ndim != 1 or weight._data.size != n_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {_shape_list(weight.shape)}"
        )
    t = t.astype("int64", copy=False)
    valid = B.not_equal(t, ignore_index)
    bad = B.logical_and(valid, B.logical_or(B.less(t, 0), B.greater_equal(t, n_classes)))
    if B.any(bad):
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    safe_t = B.where(valid, t, 0)
    picked = B.take_along_axis(x, B.expand_dims(safe_t, 1), axis=1)
    picked = B.reshape(picked, safe_t.shape)
    if weight is None:
        w_t = valid.astype(x.dtype)
    else:
        w_t = B.multiply(weight._data.astype(x.dtype, copy=False)[safe_t], valid)
    losses = B.negative(B.multiply(picked, w_t))
    total = None
    if reduction == "none":
        out = B.reshape(losses, ()) if unbatched else losses
    elif reduction == "sum":
        out = B.asarray(B.sum(losses))
    else:
        total = B.sum(w_t)
        out = B.asarray(B.divide(B.sum(losses), total))
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.target, node.w_t, node.total = safe_t, w_t, total
        node.reduction, node.n_classes = reduction, n_classes
        node.x_shape, node.x_dtype = input._data.shape, input._data.dtype
        node.save(input, target)
        return record(out, B, node, (input,))
    return Tensor._wrap(out, B)


# --- cross_entropy ----------------------------------------------------------------------------
class DivBackward1(Node):
    """``tensor / number`` as PyTorch's C++ code writes it (``div(Tensor, Scalar)``); the mean of
    the class-probability cross entropy ends with it. (Python's ``t / 2`` records
    DivBackward0, because Python wraps the number in a tensor.)"""

    __slots__ = ("other",)

    def backward(self, g):
        return (backend_of(g).divide(g, self.other),)


def _div_scalar(t: Tensor, other) -> Tensor:
    B = t._B
    out = B.asarray(B.divide(t._data, other))
    if needs_grad(t):
        node = DivBackward1((t._edge(),))
        node.other = other
        return record(out, B, node, (t,))
    return Tensor._wrap(out, B)


def cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None,  # noqa: A002
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``nll_loss(log_softmax(input, class_dim), target)`` for class indices; for a float
    ``target`` of ``input``'s shape, class probabilities ``-(log_softmax * target).sum(...)``.
    The graph is PyTorch's: NllLossBackward0 over LogSoftmaxBackward0."""
    reduction = reduction_of(size_average, reduce, reduction)
    class_dim = 0 if input._data.ndim == 1 else 1
    if input._data.shape == target._data.shape:
        if target._data.dtype.kind != "f":
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{torch_type_name(target._data.dtype)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        _no_label_smoothing(label_smoothing)
        return _cross_entropy_probs(input, target, weight, reduction, class_dim)
    _no_label_smoothing(label_smoothing)
    return nll_loss(input.log_softmax(class_dim), target, weight, None, ignore_index, None,
                    reduction)


def _no_label_smoothing(label_smoothing: float) -> None:
    if label_smoothing:
        from .. import NotImplementedByEngine

        raise NotImplementedByEngine(
            "gradviz's engine does not implement cross_entropy(label_smoothing=...)"
        )


def _cross_entropy_probs(input, target, weight, reduction, class_dim):  # noqa: A002
    n_classes = input._data.shape[class_dim]
    if weight is not None and (weight._data.ndim != 1 or weight._data.size != n_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {_shape_list(weight.shape)}"
        )
    logp = input.log_softmax(class_dim)
    prod = logp * target
    if weight is not None:
        if logp._data.ndim > 1:
            shape = [1] * logp._data.ndim
            shape[class_dim] = n_classes
            weight = weight.view(*shape)
        prod = prod * weight
    if reduction == "none":
        return -prod.sum(class_dim)
    if reduction == "sum":
        return -prod.sum()
    return _div_scalar(-prod.sum(), input._data.size // max(n_classes, 1))


# --- binary_cross_entropy ---------------------------------------------------------------------
_BCE_EPS = 1e-12  # PyTorch's floor for x (1 - x) in the gradient


class BinaryCrossEntropyBackward0(Node):
    """``-w (t log x + (1 - t) log(1 - x))``: ``dx = w g (x - t) / max(x (1 - x), eps)`` and
    ``dt = -w g logit(x)``."""

    __slots__ = ("x", "t", "w", "reduction")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        x, t, w = self.x, self.t, self.w
        if self.reduction == "mean":
            g = B.divide(g, max(x.size, 1))
        if w is not None:
            g = B.multiply(g, w)
        gx = gt = None
        if self.next_functions[0][0] is not None:
            denom = B.maximum(B.multiply(B.subtract(1, x), x), _BCE_EPS)
            gx = B.divide(B.multiply(B.subtract(x, t), g), denom)
        if self.next_functions[1][0] is not None:
            logit = B.subtract(B.log(x), B.log1p(B.negative(x)))
            gt = B.multiply(B.negative(logit), g)
        return gx, gt

    def _drop_values(self):
        self.x = self.t = self.w = None


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None,  # noqa: A002
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target`` (logs are clamped
    at -100, as in PyTorch, so ``x = 0`` gives a finite loss)."""
    reduction = reduction_of(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}) is deprecated. Please ensure they have the same size."
        )
    B = input._B
    x, t = input._data, target._data
    if t.dtype != x.dtype:
        raise RuntimeError(
            f"Found dtype {torch_type_name(t.dtype)} but expected {torch_type_name(x.dtype)}"
        )
    if B.any(B.logical_or(B.less(x, 0), B.greater(x, 1))):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = None
    if weight is not None:
        w = B.broadcast_to(weight._data.astype(x.dtype, copy=False),
                           B.broadcast_shapes(t.shape, weight._data.shape))
    log_x = B.maximum(B.log(x), -100)
    log_1mx = B.maximum(B.log1p(B.negative(x)), -100)
    losses = B.subtract(B.multiply(B.subtract(t, 1), log_1mx), B.multiply(t, log_x))
    if w is not None:
        losses = B.multiply(losses, w)
    out = _reduce(B, losses, reduction)
    if needs_grad(input, target):
        node = BinaryCrossEntropyBackward0((edge_of(input), edge_of(target)))
        node.x, node.t, node.w, node.reduction = x, t, w, reduction
        node.save(input, target)
        return record(out, B, node, (input, target))
    return Tensor._wrap(out, B)
