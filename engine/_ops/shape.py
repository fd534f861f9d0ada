"""Shape and layout ops: views (``view``, ``t``, ``select``, ``expand``, ``split`` ...) that
share storage and the version counter with their input, as in PyTorch, the copying ones
(``repeat``, ``cat``, ``stack``), and their backward nodes."""

from __future__ import annotations

import math
import operator
import warnings

from .. import _dtype as dt
from .._device import backend_of
from .._tensor import Tensor, edge_of, needs_grad, record, record_many
from ..autograd.graph import Node
from .common import method, same_device, sum_to, wrap_dim

__all__ = ["unbind", "reshape", "t", "transpose", "swapaxes", "swapdims", "flatten",
           "unsqueeze", "squeeze", "permute", "select", "narrow", "split", "chunk", "cat",
           "concatenate", "concat", "stack", "clone"]


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


def _views_of(input: Tensor, parts, node) -> tuple:
    """The outputs of a multi-output view op (``unbind``, ``split``): views of ``input``,
    output i of ``node`` when it is not None."""
    if node is None:
        return tuple(input._view_of(p) for p in parts)
    outs = record_many(parts, input._B, node, (input,))
    base = input if input._base is None else input._base
    for o in outs:
        o._version = input._version
        o._base = base
    return outs


def _sizes(args, fn: str = "", arg: str = "size") -> tuple:
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))`` as a tuple of ints;
    no sizes at all is PyTorch's missing-argument error for ``fn``."""
    if not args and fn:
        raise TypeError(f'{fn}() missing 1 required positional arguments: "{arg}"')
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(operator.index(s) for s in args)


def _list(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


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
    """The slices of ``input`` along ``dim``, each a view (what iteration returns)."""
    x = input._data
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    lead = (slice(None),) * d
    parts = [x[lead + (i, ...)] for i in range(x.shape[d])]
    node = None
    if needs_grad(input):
        node = UnbindBackward0((input._edge(),))
        node.in_shape, node.dim, node.dtype, node._n = x.shape, d, x.dtype, len(parts)
    return _views_of(input, parts, node)


# --- view / reshape ---------------------------------------------------------------------------
def _infer_shape(shape, numel: int) -> tuple:
    shape = _sizes(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for i, s in enumerate(shape):
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {_list(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0:
            if numel == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {_list(shape)} because "
                    "the unspecified dimension size -1 can be any value and is ambiguous"
                )
            raise RuntimeError(f"shape '{_list(shape)}' is invalid for input of size {numel}")
        if numel % known:
            raise RuntimeError(f"shape '{_list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{_list(shape)}' is invalid for input of size {numel}")
    return shape


class ViewBackward0(Node):
    __slots__ = ("in_shape",)

    def backward(self, g):
        return (backend_of(g).reshape(g, self.in_shape),)


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


class ReshapeAliasBackward0(ViewBackward0):
    """``reshape`` of a non-contiguous tensor whose strides still allow a view."""

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
    """A view with a new shape (one size may be -1); fails where the strides forbid it."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and \
            not hasattr(shape[0], "__index__"):
        target = dt.to_dtype(shape[0])
        return input._view_of(input._data.view(target.np))
    x = input._data
    new = _infer_shape(shape, x.size)
    data = _as_view(input._B, x, new)
    if data is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return _view_result(input, data, ViewBackward0, in_shape=x.shape)


@method("view_as")
def view_as(input: Tensor, other: Tensor):  # noqa: A002
    """``input.view(other.shape)``."""
    return view(input, other._data.shape)


@method("reshape")
def reshape(input: Tensor, *shape):  # noqa: A002
    """A view where the strides allow one, else a copy (CloneBackward0 + UnsafeViewBackward0,
    as PyTorch records it)."""
    x = input._data
    new = _infer_shape(shape, x.size)
    data = _as_view(input._B, x, new)
    if data is not None:
        node_cls = ViewBackward0 if input._B.is_contiguous(x) else ReshapeAliasBackward0
        return _view_result(input, data, node_cls, in_shape=x.shape)
    return _unsafe_view(clone(input), new)


@method("reshape_as")
def reshape_as(input: Tensor, other: Tensor):  # noqa: A002
    """``input.reshape(other.shape)``."""
    return reshape(input, other._data.shape)


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
    """A copy of ``input`` that gradients flow through (CloneBackward0)."""
    B = input._B
    out = B.copy(input._data)
    if needs_grad(input):
        return record(out, B, CloneBackward0((input._edge(),)), (input,))
    return Tensor._wrap(out, B)


@method("contiguous")
def contiguous(input: Tensor, memory_format=None):  # noqa: A002
    """``input`` itself when already contiguous, else a contiguous clone."""
    if input._B.is_contiguous(input._data):
        return input
    return clone(input)


@method("flatten")
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1):  # noqa: A002
    """Merge dims ``start_dim..end_dim`` into one (``reshape``, so a view when possible)."""
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
    """Transpose of a matrix (1-D and 0-D tensors are returned as views unchanged)."""
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
    """A view with ``dim0`` and ``dim1`` swapped."""
    x = input._data
    d0, d1 = wrap_dim(dim0, x.ndim), wrap_dim(dim1, x.ndim)
    return _view_result(input, input._B.swapaxes(x, d0, d1), TransposeBackward0, d0=d0, d1=d1)


swapaxes = swapdims = transpose


class PermuteBackward0(Node):
    __slots__ = ("inverse",)

    def backward(self, g):
        return (backend_of(g).transpose(g, self.inverse),)


@method("permute")
def permute(input: Tensor, *dims):  # noqa: A002
    """A view with the dims reordered."""
    dims = _sizes(dims, "permute", "dims")
    x = input._data
    if len(dims) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    dims = tuple(wrap_dim(d, x.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return _view_result(input, input._B.transpose(x, dims), PermuteBackward0,
                        inverse=tuple(inverse))


_T_WARNING = (
    "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
    "deprecated and it will throw an error in a future release. Consider `x.mT` to transpose "
    "batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the "
    "dimensions of a tensor."
)


def _T(self):  # noqa: N802
    # PyTorch records PermuteBackward0 for every rank (an identity permute below 2-D) and
    # warns for every rank but 2
    n = self._data.ndim
    if n == 1 or n > 2:
        warnings.warn(_T_WARNING, UserWarning, stacklevel=2)
    elif n == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity "
                      "in these cases.", UserWarning, stacklevel=2)
    return permute(self, tuple(reversed(range(n))))


def _mT(self):  # noqa: N802
    n = self._data.ndim
    if n < 2:
        raise RuntimeError(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {n}-D tensor."
        )
    return transpose(self, -2, -1)


Tensor.T = property(_T)
Tensor.mT = property(_mT)


# --- unsqueeze / squeeze ----------------------------------------------------------------------
class UnsqueezeBackward0(Node):
    __slots__ = ("dim",)

    def backward(self, g):
        return (backend_of(g).squeeze(g, axis=self.dim),)


@method("unsqueeze")
def unsqueeze(input: Tensor, dim: int):  # noqa: A002
    """A view with a new dim of size 1 at ``dim``."""
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
    """A view without the size-1 dims (all of them, or those among ``dim``)."""
    x = input._data
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
        node_cls = SqueezeBackward0
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = tuple(dict.fromkeys(
            d for d in (wrap_dim(d, x.ndim) for d in dims) if x.ndim and x.shape[d] == 1))
        node_cls = SqueezeBackward1 if isinstance(dim, int) else SqueezeBackward2
    data = input._B.squeeze(x, axis=axes) if axes else x[...]
    return _view_result(input, data, node_cls, in_shape=x.shape)


# --- select / slice / narrow / alias: the views that basic indexing records -------------------
class SelectBackward0(Node):
    __slots__ = ("in_shape", "dim", "index")

    def backward(self, g):
        gx = backend_of(g).zeros(self.in_shape, dtype=g.dtype)
        gx[(slice(None),) * self.dim + (self.index, ...)] = g
        return (gx,)


def select_view(input: Tensor, d: int, i: int) -> Tensor:
    """``input`` at index ``i`` (already in range, non-negative) of dim ``d``: a view."""
    x = input._data
    return _view_result(input, x[(slice(None),) * d + (i, ...)], SelectBackward0,
                        in_shape=x.shape, dim=d, index=i)


@method("select")
def select(input: Tensor, dim: int, index: int):  # noqa: A002
    """The slice of ``input`` at ``index`` along ``dim``, without that dim (a view)."""
    x = input._data
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.ndim)
    i = operator.index(index)
    n = x.shape[d]
    if not -n <= i < n:
        raise IndexError(
            f"select(): index {i} out of range for tensor of size {_list(x.shape)} at "
            f"dimension {d}"
        )
    return select_view(input, d, i % n if n else i)


class SliceBackward0(Node):
    __slots__ = ("in_shape", "dim", "start", "stop", "step")

    def backward(self, g):
        gx = backend_of(g).zeros(self.in_shape, dtype=g.dtype)
        gx[(slice(None),) * self.dim + (slice(self.start, self.stop, self.step), ...)] = g
        return (gx,)


def slice_view(input: Tensor, d: int, start: int, stop: int, step: int = 1) -> Tensor:
    """``input[start:stop:step]`` along dim ``d`` (bounds already clamped, step > 0): a view
    recorded as SliceBackward0."""
    x = input._data
    data = x[(slice(None),) * d + (slice(start, stop, step), ...)]
    return _view_result(input, data, SliceBackward0, in_shape=x.shape, dim=d, start=start,
                        stop=stop, step=step)


@method("narrow")
def narrow(input: Tensor, dim: int, start, length: int):  # noqa: A002
    """``length`` elements of ``dim`` from ``start`` (a view, SliceBackward0)."""
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.ndim)
    start, length = operator.index(start), operator.index(length)
    n = x.shape[d]
    if not -n <= start <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({n})."
        )
    return slice_view(input, d, start, start + length)


class AliasBackward0(Node):
    """An index that selects everything (``t[...]``, ``t[:, :]``) still returns a new view."""

    __slots__ = ()

    def backward(self, g):
        return (g,)


def alias(input: Tensor) -> Tensor:
    """A view of all of ``input``, recorded as AliasBackward0."""
    return _view_result(input, input._data[...], AliasBackward0)


# --- expand / repeat --------------------------------------------------------------------------
class ExpandBackward0(Node):
    __slots__ = ("in_shape",)

    def backward(self, g):
        return (sum_to(backend_of(g), g, self.in_shape),)


def _expanded_shape(input: Tensor, sizes: tuple) -> tuple:
    """The shape ``expand(*sizes)`` produces, with PyTorch's errors."""
    shape = input._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand({input.type()}{{{_list(shape)}}}, size={_list(sizes)}): the number of "
            f"sizes provided ({len(sizes)}) must be greater or equal to the number of "
            f"dimensions in the tensor ({len(shape)})"
        )
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    f"non-existing dimension {i}"
                )
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != s and have != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) "
                f"at non-singleton dimension {i}.  Target sizes: {_list(sizes)}.  "
                f"Tensor sizes: {_list(shape)}"
            )
        out.append(s)
    return tuple(out)


@method("expand")
def expand(input: Tensor, *sizes):  # noqa: A002
    """A broadcast view of ``input`` with size-1 dims stretched to ``sizes`` (-1 keeps a dim)."""
    x = input._data
    shape = _expanded_shape(input, _sizes(sizes, "expand"))
    if math.prod(shape) == x.size:
        # nothing is repeated (only size-1 dims added): an ordinary writable view
        data = _as_view(input._B, x, shape)
        if data is None:
            data = input._B.broadcast_to(x, shape)
    else:
        # a read-only view whose repeated elements share memory; PyTorch refuses in-place
        # writes into such a view as well
        data = input._B.broadcast_to(x, shape)
    return _view_result(input, data, ExpandBackward0, in_shape=x.shape)


@method("expand_as")
def expand_as(input: Tensor, other: Tensor):  # noqa: A002
    """``input.expand(other.shape)``."""
    return expand(input, other._data.shape)


class RepeatBackward0(Node):
    __slots__ = ("in_shape", "repeats")

    def backward(self, g):
        B = backend_of(g)
        reps = self.repeats
        shape = (1,) * (len(reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, s in zip(reps, shape):
            split += [r, s]
        g = B.sum(B.reshape(g, tuple(split)), axis=tuple(range(0, 2 * len(reps), 2)))
        return (B.reshape(g, self.in_shape),)


@method("repeat")
def repeat(input: Tensor, *repeats):  # noqa: A002
    """``input`` tiled ``repeats[i]`` times along each dim (a copy)."""
    reps = _sizes(repeats, "repeat", "repeats")
    x = input._data
    if len(reps) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    out_shape = tuple(r * s for r, s in zip(reps, shape))
    if any(r < 0 for r in reps):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(out_shape)}: "
            f"{_list(out_shape)}"
        )
    B = input._B
    # tile by broadcasting a (1, s0, 1, s1, ...) view to (r0, s0, r1, s1, ...) and merging
    # each pair of dims; the final reshape is the one copy
    spread, tiled = [], []
    for r, s in zip(reps, shape):
        spread += [1, s]
        tiled += [r, s]
    data = B.reshape(B.copy(B.broadcast_to(B.reshape(x, tuple(spread)), tuple(tiled))),
                     out_shape)
    if needs_grad(input):
        node = RepeatBackward0((input._edge(),))
        node.in_shape, node.repeats = x.shape, reps
        return record(data, B, node, (input,))
    return Tensor._wrap(data, B)


# --- split / chunk ----------------------------------------------------------------------------
class SplitBackward0(Node):
    """Several views along ``dim``; backward concatenates their gradients (zeros for unused)."""

    __slots__ = ("in_shape", "dim", "sizes", "dtype")

    @property
    def n_outputs(self) -> int:
        return len(self.sizes)

    def apply(self, grads):
        B = backend_of(next(g for g in grads if g is not None))
        parts = []
        for g, size in zip(grads, self.sizes):
            if g is None:
                shape = list(self.in_shape)
                shape[self.dim] = size
                g = B.zeros(tuple(shape), dtype=self.dtype)
            parts.append(g)
        return (B.concatenate(parts, axis=self.dim),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


def _split_sizes(input: Tensor, d: int, split_size: int) -> list:
    n = input._data.shape[d]
    if split_size < 0:
        raise RuntimeError(
            f"split expects split_size be non-negative, but got split_size={split_size}"
        )
    if split_size == 0:
        if n != 0:
            raise RuntimeError(
                "split_size can only be 0 if dimension size is 0, but got dimension size of "
                f"{n}"
            )
        return [0]
    count = max((n + split_size - 1) // split_size, 1)
    return [split_size] * (count - 1) + [n - split_size * (count - 1)]


def _split_views(input: Tensor, d: int, sizes: list, node_cls) -> tuple:
    x = input._data
    lead = (slice(None),) * d
    parts, start = [], 0
    for s in sizes:
        parts.append(x[lead + (slice(start, start + s), ...)])
        start += s
    node = None
    if needs_grad(input):
        node = node_cls((input._edge(),))
        node.in_shape, node.dim, node.sizes, node.dtype = x.shape, d, tuple(sizes), x.dtype
    return _views_of(input, parts, node)


@method("split")
def split(tensor: Tensor, split_size_or_sections, dim: int = 0):
    """Views of ``tensor`` along ``dim``: pieces of ``split_size`` (the last may be shorter),
    or pieces of the given sizes."""
    x = tensor._data
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, x.ndim)
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [operator.index(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(
                "split_with_sizes expects split_sizes have only non-negative entries, but got "
                f"split_sizes={_list(sizes)}"
            )
        if sum(sizes) != x.shape[d]:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {x.shape[d]} (input "
                f"tensor's size at dimension {d}), but got split_sizes={_list(sizes)}"
            )
        return _split_views(tensor, d, sizes, SplitWithSizesBackward0)
    sizes = _split_sizes(tensor, d, operator.index(split_size_or_sections))
    return _split_views(tensor, d, sizes, SplitBackward0)


@method("chunk")
def chunk(input: Tensor, chunks: int, dim: int = 0):  # noqa: A002
    """At most ``chunks`` views of equal size (the last may be smaller) along ``dim``."""
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    split_size = (n + chunks - 1) // chunks
    if split_size == 0 and n == 0:
        # PyTorch keeps the number of (empty) chunks here, through split_with_sizes
        return _split_views(input, d, [0] * chunks, SplitWithSizesBackward0)
    return _split_views(input, d, _split_sizes(input, d, split_size), SplitBackward0)


# --- cat / stack ------------------------------------------------------------------------------
class CatBackward0(Node):
    """One input per ``next_functions`` entry; each gets its part of the gradient."""

    __slots__ = ("dim", "sizes", "shapes", "dtypes")

    def backward(self, g):
        B = backend_of(g)
        out = []
        start = 0
        lead = (slice(None),) * self.dim
        for (nxt, _), size, shape, dtype in zip(self.next_functions, self.sizes, self.shapes,
                                                self.dtypes):
            if nxt is None:
                out.append(None)
            elif size is None:
                # a skipped legacy empty tensor (shape (0,)) gets an empty gradient
                out.append(B.zeros(shape, dtype=dtype))
            else:
                part = g[lead + (slice(start, start + size), ...)]
                out.append(part if part.dtype == dtype else part.astype(dtype))
            if size is not None:
                start += size
        return tuple(out)


def _tensor_list(tensors, fn: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
            f"{type(tensors).__name__}"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    return list(tensors)


def _promoted(tensors) -> object:
    """The dtype every input is cast to (PyTorch's promotion among tensors)."""
    want = tensors[0].dtype
    for t in tensors[1:]:
        want = dt.promote(want, t.dtype)
    return want.np


def _records(tensors) -> bool:
    return needs_grad(tensors[0]) or any(needs_grad(t) for t in tensors[1:])


def cat(tensors, dim: int = 0, *, axis=None, out=None) -> Tensor:
    """Join tensors along an existing dim (CatBackward0)."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    if axis is not None:
        dim = axis
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        same_device(tensors[0], t)
    # PyTorch's legacy rule: 1-D empty tensors are skipped whatever the other shapes
    skipped = [t._data.shape == (0,) for t in tensors]
    if all(skipped):
        skipped = [False] * len(tensors)
    used = [t for t, skip in zip(tensors, skipped) if not skip]
    ref = used[0]._data.shape
    d = wrap_dim(dim, len(ref))
    for i, (t, skip) in enumerate(zip(tensors, skipped)):
        s = t._data.shape
        if skip:
            continue
        if len(s) != len(ref):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(ref)} and {len(s)}"
            )
        for k in range(len(ref)):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref[k]} but got size {s[k]} for tensor number {i} in the list."
                )
    want = _promoted(tensors)
    B = tensors[0]._B
    arrays = [t._data if t._data.dtype == want else t._data.astype(want) for t in used]
    data = B.concatenate(arrays, axis=d) if len(arrays) > 1 else B.copy(arrays[0])
    if _records(tensors):
        node = CatBackward0(tuple(edge_of(t) for t in tensors))
        node.dim = d
        node.sizes = [None if skip else t._data.shape[d] for t, skip in zip(tensors, skipped)]
        node.shapes = [t._data.shape for t in tensors]
        node.dtypes = [t._data.dtype for t in tensors]
        return record(data, B, node, tuple(tensors))
    return Tensor._wrap(data, B)


concatenate = concat = cat


class StackBackward0(Node):
    __slots__ = ("dim", "dtypes")

    def backward(self, g):
        out = []
        lead = (slice(None),) * self.dim
        for i, ((nxt, _), dtype) in enumerate(zip(self.next_functions, self.dtypes)):
            if nxt is None:
                out.append(None)
                continue
            part = g[lead + (i, ...)]
            out.append(part if part.dtype == dtype else part.astype(dtype))
        return tuple(out)


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equally shaped tensors along a new dim (StackBackward0)."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        same_device(tensors[0], t)
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {_list(ref)} at entry 0 "
                f"and {_list(t._data.shape)} at entry {i}"
            )
    d = wrap_dim(dim, len(ref) + 1)
    want = _promoted(tensors)
    B = tensors[0]._B
    data = B.stack([t._data if t._data.dtype == want else t._data.astype(want)
                    for t in tensors], axis=d)
    if _records(tensors):
        node = StackBackward0(tuple(edge_of(t) for t in tensors))
        node.dim = d
        node.dtypes = [t._data.dtype for t in tensors]
        return record(data, B, node, tuple(tensors))
    return Tensor._wrap(data, B)
