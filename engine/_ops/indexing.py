"""Indexing as PyTorch records it: ``t[...]`` and ``t[...] = v``, and the gather-like ops
``where``, ``masked_fill``, ``index_select`` and ``gather``.

``t[index]`` applies the basic parts of the index (ints, slices, None, Ellipsis) one at a
time, left to right, each as its own view node (SelectBackward0, SliceBackward0,
UnsqueezeBackward0); the advanced parts (index tensors, lists, arrays, masks) then make one
IndexBackward0 on that view. So ``x[0, [1, 2]]`` selects first and indexes the result, which
differs from numpy where an int next to an array index is advanced too.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import _dtype as dt
from .._device import backend_of
from .._grad_mode import GRAD_MODE
from .._tensor import Tensor, edge_of, needs_grad, record
from ..autograd.graph import Node
from ..events import EVENTS, user_source
from .common import (
    SCALAR_TYPES,
    binary_operands,
    broadcast_error,
    method,
    same_device,
    sum_to,
    torch_type_name,
    wrap_dim,
)
from .inplace import CopyBackwards, inplace_unary
from .shape import alias, expand, select_view, slice_view, unsqueeze, view

__all__ = ["where", "masked_fill", "index_select", "gather"]

_BAD_INDEX = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
              "are valid indices (got {})")
_BAD_INDEX_DTYPE = "tensors used as indices must be long, int, byte or bool tensors"
_SEQUENCE_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
    "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error "
    "or a different result"
)
_ZERO_DIM = ("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
_VIEW_OF_LEAF = ("a view of a leaf Variable that requires grad is being used in an in-place "
                 "operation.")
_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."


def _type_name(obj) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


# --- parsing an index -------------------------------------------------------------------------
class _Plan:
    """An index resolved against a shape.

    ``steps``: the basic index ops in order, in the coordinates of the partly indexed tensor:
    ``("select", dim, i)``, ``("slice", dim, start, stop, step)``, ``("unsqueeze", dim)``.
    ``basic``: the same as one numpy index into the whole array (ends in Ellipsis so that the
    result is always an array view, never a numpy scalar). ``adv``: None, or the advanced
    index (a tuple of slices and integer arrays) into the result of ``basic``.
    ``index_tensors``: Tensors used as integer indices (saved to catch in-place changes).
    ``bounds``: (array, size, position) of each integer index array, for ``check_bounds``.
    """

    __slots__ = ("steps", "basic", "adv", "index_tensors", "bounds")


def _is_sequence_index(index) -> bool:
    """PyTorch's (numpy's old) rule for reading ``x[[0, slice(None)]]`` as ``x[0, :]``."""
    if not isinstance(index, list) or len(index) >= 32:
        return False
    return any(isinstance(o, (Tensor, list, tuple, slice, np.ndarray)) or o is None
               or o is Ellipsis for o in index)


def _as_index_array(B, item):
    """An index given as Tensor / ndarray / list: (backend array, is_mask, source Tensor)."""
    if isinstance(item, Tensor):
        arr, src = item._data, item
        if item._B is not B:
            # PyTorch takes cpu index tensors for a tensor on any device, nothing else
            if item._B.name != "cpu":
                raise RuntimeError(
                    "indices should be either on cpu or on the same device as the indexed "
                    f"tensor ({'cpu' if B.name == 'cpu' else 'cuda:0'})"
                )
            arr = B.from_host(item._B.to_host(arr))
    elif isinstance(item, np.ndarray):
        arr, src = B.from_host(item), None
    else:
        host = np.asarray(item)
        if host.dtype.kind == "f" and host.size == 0:
            host = host.astype(np.int64)  # an empty list indexes nothing, as an int64 index
        arr, src = B.from_host(host), None
    kind = arr.dtype.kind
    if kind == "b":
        return arr, True, src
    if kind == "u" and arr.dtype.itemsize == 1:
        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                      "torch.bool instead.", UserWarning, stacklevel=4)
        return arr.astype(bool), True, src
    if kind not in "iu":
        raise IndexError(_BAD_INDEX_DTYPE)
    return arr, False, src


def _plan(B, shape: tuple, index, bare_slice_records: bool) -> _Plan:
    """Resolve ``index`` against ``shape`` (see ``_Plan``), raising PyTorch's index errors.

    ``bare_slice_records``: whether ``t[a:b]`` (a slice not in a tuple) is recorded even when
    it covers the whole dim, as ``__getitem__`` does and ``__setitem__`` does not.
    """
    if isinstance(index, tuple):
        items = index
        bare = False
    elif _is_sequence_index(index):
        warnings.warn(_SEQUENCE_WARNING, UserWarning, stacklevel=3)
        items = tuple(index)
        bare = False
    else:
        items = (index,)
        bare = True

    # classify each item and count the dims it consumes, so Ellipsis knows its width
    kinds = []
    consumed = 0
    for item in items:
        if item is None:
            kinds.append(("none", None))
        elif item is Ellipsis:
            kinds.append(("ellipsis", None))
        elif item is True or item is False:
            kinds.append(("bool", item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, np.bool_):
            kinds.append(("int", int(item)))
            consumed += 1
        elif isinstance(item, slice):
            kinds.append(("slice", item))
            consumed += 1
        elif isinstance(item, (Tensor, np.ndarray, list, tuple)):
            if getattr(item, "ndim", None) == 0:
                # a 0-d index tensor acts as the Python number it holds
                value = item.item() if isinstance(item, Tensor) else item.item()
                if isinstance(value, bool):
                    kinds.append(("bool", value))
                elif isinstance(value, int):
                    kinds.append(("int", value))
                    consumed += 1
                else:
                    raise IndexError(_BAD_INDEX_DTYPE)
                continue
            arr, is_mask, src = _as_index_array(B, item)
            kinds.append(("mask" if is_mask else "array", (arr, src)))
            consumed += arr.ndim if is_mask else 1
        else:
            raise IndexError(_BAD_INDEX.format(_type_name(item)))
    ndim = len(shape)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")

    steps, basic = [], []
    adv: dict = {}
    checks = []  # (array, dim in the result) of integer index arrays to bounds-check
    masks = []  # (bool array, first dim in the result)
    tensors = []
    cur = list(shape)  # shape of the partly indexed tensor, for sizes and error messages
    dim = src = 0
    ellipsis_done = False
    # an out-of-range int is reported at its position in the index tuple, as PyTorch does
    for position, (kind, item) in enumerate(kinds):
        if kind == "int":
            n = shape[src]
            if not -n <= item < n:
                raise IndexError(
                    f"index {item} is out of bounds for dimension {position} with size {n}"
                )
            item %= n
            steps.append(("select", dim, item))
            basic.append(item)
            del cur[dim]
            src += 1
        elif kind == "slice":
            n = shape[src]
            start, stop, step = (_slice_part(item.start), _slice_part(item.stop),
                                 _slice_part(item.step))
            if step is None:
                step = 1
            elif step == 0:
                raise ValueError("slice step cannot be zero")
            elif step < 0:
                raise ValueError("step must be greater than zero")
            if not (bare and bare_slice_records) and start in (None, 0) and step == 1 and (
                    stop is None or stop >= n):
                basic.append(slice(None))  # PyTorch records nothing for a whole-dim slice
            else:
                start, stop, step = slice(start, stop, step).indices(n)
                steps.append(("slice", dim, start, stop, step))
                basic.append(slice(start, stop, step))
                cur[dim] = len(range(start, stop, step))
            dim += 1
            src += 1
        elif kind == "none":
            steps.append(("unsqueeze", dim))
            basic.append(None)
            cur.insert(dim, 1)
            dim += 1
        elif kind == "ellipsis":
            width = 0 if ellipsis_done else ndim - consumed
            ellipsis_done = True
            basic.extend([slice(None)] * width)
            dim += width
            src += width
        elif kind == "bool":
            # True adds a dim of size 1 and keeps it, False adds one and keeps nothing
            steps.append(("unsqueeze", dim))
            basic.append(None)
            cur.insert(dim, 1)
            adv[dim] = B.zeros((1 if item else 0,), dtype=np.int64)
            dim += 1
        elif kind == "array":
            arr, tensor = item
            adv[dim] = arr
            checks.append((arr, dim))
            if tensor is not None:
                tensors.append(tensor)
            basic.append(slice(None))
            dim += 1
            src += 1
        else:  # mask: checked and expanded once the basic ops are done, as PyTorch does
            mask = item[0]
            k = mask.ndim
            masks.append((mask, dim))
            basic.extend([slice(None)] * k)
            dim += k
            src += k
    basic.append(Ellipsis)

    plan = _Plan()
    plan.steps = steps
    plan.basic = tuple(basic)
    plan.index_tensors = tensors
    plan.adv = None
    for mask, d in masks:
        for j in range(mask.ndim):
            if mask.shape[j] != cur[d + j]:
                raise IndexError(
                    f"The shape of the mask {list(mask.shape)} at index {j} does not match "
                    f"the shape of the indexed tensor {cur} at index {d + j}"
                )
        for j, positions in enumerate(B.nonzero(mask)):
            adv[d + j] = positions
    plan.bounds = ()
    if adv:
        plan.adv = tuple(adv.get(d, slice(None)) for d in range(max(adv) + 1))
        arrays = [a for a in plan.adv if not isinstance(a, slice)]
        if len(arrays) > 1:
            try:
                np.broadcast_shapes(*(a.shape for a in arrays))
            except ValueError:
                shapes = ", ".join(str(list(a.shape)) for a in arrays)
                raise IndexError(
                    "shape mismatch: indexing tensors could not be broadcast together with "
                    f"shapes {shapes}"
                ) from None
        if checks:
            order = sorted(adv)
            plan.bounds = tuple((arr, cur[d], order.index(d)) for arr, d in checks)
            if B.name != "cpu":
                # numpy raises for an out-of-range index by itself (see _gather); CuPy wraps
                # such an index around silently, so check first there
                check_bounds(B, plan)
    return plan


def _slice_part(v):
    if v is None:
        return None
    try:
        return v.__index__()
    except (AttributeError, TypeError):
        raise TypeError(
            "slice indices must be integers or None or have an __index__ method"
        ) from None


def check_bounds(B, plan: _Plan) -> None:
    """PyTorch's error for an index array with an entry outside ``[-n, n)``; the dimension it
    names is the array's place among the advanced indices."""
    for arr, n, position in plan.bounds:
        if arr.size == 0 or (int(B.amax(arr)) < n and int(B.amin(arr)) >= -n):
            continue
        host = B.to_host(arr).ravel()
        bad = host[(host >= n) | (host < -n)][0]
        raise IndexError(f"index {bad} is out of bounds for dimension {position} with size {n}")


def _gather(B, y, plan: _Plan):
    """``y[plan.adv]`` with PyTorch's error for an index out of range."""
    try:
        return y[plan.adv]
    except IndexError:
        check_bounds(B, plan)
        raise


# --- reading: t[index] ------------------------------------------------------------------------
class IndexBackward0(Node):
    """``t[advanced index]``: the gradient is scattered back, duplicate indices adding up."""

    __slots__ = ("in_shape", "dtype", "index")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        gx = B.zeros(self.in_shape, dtype=self.dtype)
        B.scatter_add(gx, self.index, g)
        return (gx,)

    def _drop_values(self):
        self.index = None


def _apply_steps(t: Tensor, steps) -> Tensor:
    for step in steps:
        op = step[0]
        if op == "select":
            t = select_view(t, step[1], step[2])
        elif op == "slice":
            t = slice_view(t, step[1], step[2], step[3], step[4])
        else:
            t = unsqueeze(t, step[1])
    return t


def _getitem(self: Tensor, index) -> Tensor:
    """``self[index]`` as PyTorch records it (see the module docstring)."""
    x = self._data
    # fast path for t[i], the common case in teaching code
    if index.__class__ is int:
        if x.ndim == 0:
            raise IndexError(_ZERO_DIM)
        n = x.shape[0]
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {n}")
        index %= n
        return _remember_path(self, select_view(self, 0, index), (index, Ellipsis))
    B = self._B
    plan = _plan(B, x.shape, index, True)
    if plan.adv is None:
        if not plan.steps:
            out = alias(self)  # PyTorch returns a new view even when nothing is indexed
        elif needs_grad(self):
            out = _apply_steps(self, plan.steps)
        else:
            out = self._view_of(x[plan.basic])
        return _remember_path(self, out, plan.basic)
    if needs_grad(self):
        out = _apply_steps(self, plan.steps) if plan.steps else self
    else:
        out = self._view_of(x[plan.basic])
    y = out._data
    data = _gather(B, y, plan)
    if needs_grad(out):
        node = IndexBackward0((out._edge(),))
        node.in_shape, node.dtype, node.index = y.shape, y.dtype, plan.adv
        if plan.index_tensors:
            node.save(*plan.index_tensors)
        return record(data, B, node, (out,))
    return Tensor._wrap(data, B)


def _remember_path(source: Tensor, view: Tensor, basic: tuple) -> Tensor:
    """Note on ``view`` how to find it in its base: the basic indices that led there. An
    assignment into the view (``t[i][j] = v``) uses it to record the write on the base, as
    PyTorch does; views made otherwise (``view``, ``t`` ...) carry no path."""
    if source._base is None:
        view.__dict__["_index_path"] = (basic,)
    else:
        parent = source.__dict__.get("_index_path")
        if parent is not None:
            view.__dict__["_index_path"] = parent + (basic,)
    return view


Tensor.__getitem__ = _getitem


# --- writing: t[index] = value ----------------------------------------------------------------
def _region(a, path: tuple):
    """The part of ``a`` that the basic indices of ``path``, applied in turn, pick (a view)."""
    for basic in path:
        a = a[basic]
    return a


class CopySlices(Node):
    """``t[basic index] = value`` on a tensor in the graph: the old value's gradient is zero
    where it was overwritten; the value gets the gradient of the region it was written to.
    ``next_functions``: (old value of t, value). ``path``: basic index tuples applied in turn
    (more than one when the write went through a view, ``t[i][j] = v``); ``adv``: None or
    the advanced index applied after them."""

    __slots__ = ("path", "adv", "value_shape", "value_dtype")

    def backward(self, g):
        B = backend_of(g)
        gt = gv = None
        if self.next_functions[0][0] is not None:
            gt = B.copy(g)
            if self.adv is None and len(self.path) == 1:
                gt[self.path[0]] = 0
            else:
                region = _region(gt, self.path)  # a view: writing into it writes into gt
                region[... if self.adv is None else self.adv] = 0
        if self.next_functions[1][0] is not None:
            region = _region(g, self.path)
            if self.adv is not None:
                region = region[self.adv]
            gv = sum_to(B, region, self.value_shape)
            if gv.dtype != self.value_dtype:
                gv = gv.astype(self.value_dtype)
        return gt, gv


class IndexPutBackward0(CopySlices):
    """``t[advanced index] = value`` (``index_put_``)."""

    __slots__ = ()


class FillBackward3(CopySlices):
    """``t[...] = scalar`` (``fill_`` with a 0-d tensor value)."""

    __slots__ = ()


class AsStridedBackward0(Node):
    """The new history of a view after a write through it: its gradient lands in its region
    of the base (PyTorch regenerates such a view's ``grad_fn`` the same way)."""

    __slots__ = ("path", "base_shape", "dtype")

    def backward(self, g):
        gb = backend_of(g).zeros(self.base_shape, dtype=self.dtype)
        _region(gb, self.path)[...] = g
        return (gb,)


_UNTRACKED_VIEW = (
    "gradviz's engine does not implement assignment into a view made by {} while autograd "
    "records it; assign through indexing (base[i, j] = value) or clone() the view first"
)


def _setitem(self: Tensor, index, value) -> None:
    """``self[index] = value``: an in-place write that bumps the version counter and, in grad
    mode, records PyTorch's node (CopySlices, IndexPutBackward0, CopyBackwards, FillBackward3).
    A write into a view made by indexing is recorded on its base, as in PyTorch."""
    B = self._B
    if isinstance(value, Tensor):
        same_device(self, value)
        scalar = value._data.ndim == 0
    elif isinstance(value, SCALAR_TYPES):
        scalar = True
    else:
        raise TypeError(f"can't assign a {_type_name(value)} to a {self.type()}")
    plan = _plan(B, self._data.shape, index, False)
    grad_mode = GRAD_MODE.enabled
    base = self._base
    if grad_mode:
        if self.requires_grad_flag and self.grad_fn is None:
            raise RuntimeError(_VIEW_OF_LEAF if plan.steps else _LEAF)
        if base is not None and base.requires_grad_flag and base.grad_fn is None:
            raise RuntimeError(_VIEW_OF_LEAF)
    recording = grad_mode and (
        self.requires_grad_flag or (isinstance(value, Tensor) and value.requires_grad_flag))
    view_path = None
    if recording and base is not None:
        view_path = self.__dict__.get("_index_path")
        if view_path is None:
            made_by = self.grad_fn.name() if self.grad_fn is not None else "a view op"
            raise RuntimeError(_UNTRACKED_VIEW.format(made_by))

    dst = self._data[plan.basic]
    # a 0-d value is broadcast by fill_ into a region of any shape; into a 0-d region it is
    # an ordinary copy_ (PyTorch's copy_to)
    fill = scalar and dst.ndim > 0
    if plan.adv is not None:
        value = _write_indexed(dst, plan, value)
    else:
        value = _write_region(dst, value, fill)

    if recording:
        target = self if view_path is None else base
        value_edge = edge_of(value) if isinstance(value, Tensor) else (None, 0)
        edges = (edge_of(target), value_edge)
        if isinstance(value, Tensor):
            value_shape, value_dtype = value._data.shape, value._data.dtype
        else:
            value_shape, value_dtype = (), self._data.dtype
        if view_path is None and not plan.steps and plan.adv is None and not fill:
            node = CopyBackwards(edges)
            node.src_shape, node.src_dtype = value_shape, value_dtype
        else:
            if view_path is not None or plan.steps:
                node_cls = CopySlices
            else:
                node_cls = IndexPutBackward0 if plan.adv is not None else FillBackward3
            node = node_cls(edges)
            node.path = (plan.basic,) if view_path is None else view_path + (plan.basic,)
            node.adv = plan.adv
            node.value_shape, node.value_dtype = value_shape, value_dtype
        _rebase(target, node, value)
        if view_path is not None:
            # the view now reads the new base through its region
            regen = AsStridedBackward0(((node, 0),))
            regen.path = view_path
            regen.base_shape, regen.dtype = base._data.shape, base._data.dtype
            self.grad_fn = regen
            self._output_nr = 0
            self.requires_grad_flag = True
    self._bump("__setitem__")


def _rebase(t: Tensor, node: Node, value) -> None:
    t.grad_fn = node
    t._output_nr = 0
    t.requires_grad_flag = True
    if EVENTS.active:
        EVENTS.op_did_record(node, t, (t, value),
                    user_source() if EVENTS.wants_source else None)


def _strip_leading_ones(shape: tuple) -> tuple:
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    return shape[i:]


def _write_region(dst, value, fill: bool):
    """Copy ``value`` into the basic-indexed view ``dst`` the way PyTorch's ``copy_to`` does
    (fill for scalars; else strip leading 1s and expand); returns the value as written,
    whose edge the node records."""
    B = backend_of(dst)
    if not isinstance(value, Tensor):
        B.copyto(dst, value, casting="unsafe")
        return value
    if fill:
        B.copyto(dst, value._data, casting="unsafe")
        return value
    if value._data.shape != dst.shape:
        value = view(value, _strip_leading_ones(value._data.shape))
        if value._data.shape != dst.shape:
            value = expand(value, dst.shape)
    # a value of another dtype is cast on the way in; its gradient is cast back by the node
    B.copyto(dst, value._data, casting="unsafe")
    return value


def _write_indexed(dst, plan: _Plan, value):
    """``dst[plan.adv] = value`` (``index_put_``) with PyTorch's checks; returns the value as
    written."""
    if isinstance(value, Tensor):
        if value._data.dtype != dst.dtype:
            raise RuntimeError(
                "Index put requires the source and destination dtypes match, got "
                f"{torch_type_name(dst.dtype)} for the destination and "
                f"{torch_type_name(value._data.dtype)} for the source."
            )
        stripped = _strip_leading_ones(value._data.shape)
        if stripped != value._data.shape:
            value = view(value, stripped)
        data = value._data
    else:
        data = value
    try:
        dst[plan.adv] = data
    except IndexError:
        check_bounds(backend_of(dst), plan)
        raise
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
            f"indexing result of shape {list(dst[plan.adv].shape)}"
        ) from None
    return value


Tensor.__setitem__ = _setitem


# --- where ------------------------------------------------------------------------------------
class WhereBackward0(Node):
    """``next_functions``: (input, other); the condition gets no gradient."""

    __slots__ = ("cond", "a_shape", "b_shape", "a_dtype", "b_dtype")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        ga = gb = None
        zero = B.zeros((), dtype=g.dtype)
        if self.next_functions[0][0] is not None:
            ga = sum_to(B, B.where(self.cond, g, zero), self.a_shape)
            if ga.dtype != self.a_dtype:
                ga = ga.astype(self.a_dtype)
        if self.next_functions[1][0] is not None:
            gb = sum_to(B, B.where(self.cond, zero, g), self.b_shape)
            if gb.dtype != self.b_dtype:
                gb = gb.astype(self.b_dtype)
        return ga, gb

    def _drop_values(self):
        self.cond = None


def _where_operands(cond: Tensor, input, other):
    """(input array or scalar, other array or scalar, result numpy dtype)."""
    if isinstance(input, Tensor):
        ops = binary_operands(input, other)
        if ops is NotImplemented:
            raise TypeError(f"where(): argument 'other' must be Tensor, not {_type_name(other)}")
        x, y, _ = ops
        return x, y, x.dtype
    if isinstance(other, Tensor):
        ops = binary_operands(other, input)
        if ops is NotImplemented:
            raise TypeError(f"where(): argument 'input' must be Tensor, not {_type_name(input)}")
        y, x, _ = ops
        return x, y, y.dtype
    if not isinstance(input, SCALAR_TYPES) or not isinstance(other, SCALAR_TYPES):
        raise TypeError("where(): arguments 'input' and 'other' must be Tensors or numbers")
    kinds = {type(input), type(other)}
    if float in kinds or any(isinstance(v, np.floating) for v in (input, other)):
        want = dt.DEFAULTS.float_dtype.np
    elif kinds == {bool}:
        want = np.dtype(bool)
    else:
        want = np.dtype(np.int64)
    return input, other, want


def where(condition: Tensor, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (either may be a Python number);
    ``where(condition)`` alone is ``condition.nonzero(as_tuple=True)``."""
    if input is None and other is None:
        B = condition._B
        return tuple(Tensor._wrap(i.astype(np.int64), B) for i in B.nonzero(condition._data))
    c = condition._data
    if c.dtype.kind != "b":
        if c.dtype == np.uint8:
            c = c.astype(bool)  # PyTorch still accepts (with a deprecation notice) uint8 masks
        else:
            raise RuntimeError(
                "where expected condition to be a boolean tensor, but got a tensor with dtype "
                f"{torch_type_name(c.dtype)}"
            )
    x, y, want = _where_operands(condition, input, other)
    B = condition._B
    if isinstance(input, Tensor):
        same_device(condition, input)
    if isinstance(other, Tensor):
        same_device(condition, other)
    if not hasattr(x, "shape"):
        x = B.asarray(x, dtype=want)
    if not hasattr(y, "shape"):
        y = B.asarray(y, dtype=want)
    try:
        data = B.where(c, x, y)
    except ValueError:
        raise _first_broadcast_error(c.shape, x.shape, y.shape) from None
    a = input if isinstance(input, Tensor) else None
    b = other if isinstance(other, Tensor) else None
    if (a is not None and needs_grad(a)) or (b is not None and needs_grad(b)):
        node = WhereBackward0((edge_of(a), edge_of(b)))
        node.cond = c
        node.a_shape, node.b_shape = x.shape, y.shape
        node.a_dtype = a._data.dtype if a is not None else want
        node.b_dtype = b._data.dtype if b is not None else want
        node.save(condition)
        return record(data, B, node, (condition, input, other))
    return Tensor._wrap(data, B)


def _first_broadcast_error(*shapes) -> RuntimeError:
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            try:
                np.broadcast_shapes(shapes[i], shapes[j])
            except ValueError:
                return broadcast_error(shapes[i], shapes[j])
    return broadcast_error(shapes[0], shapes[-1])


@method("where")
def _where_method(self: Tensor, condition: Tensor, other) -> Tensor:
    return where(condition, self, other)


# --- masked_fill ------------------------------------------------------------------------------
class MaskedFillBackward0(Node):
    """``masked_fill(mask, number)``: no gradient where the mask filled in the number."""

    __slots__ = ("mask", "in_shape")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        return (sum_to(B, B.where(self.mask, B.zeros((), dtype=g.dtype), g), self.in_shape),)

    def _drop_values(self):
        self.mask = None


class MaskedFillBackward1(MaskedFillBackward0):
    """``masked_fill(mask, value_tensor)``: the 0-d value gets the sum over the filled places."""

    __slots__ = ("value_dtype",)

    def backward(self, g):
        B = backend_of(g)
        zero = B.zeros((), dtype=g.dtype)
        gx = gv = None
        if self.next_functions[0][0] is not None:
            gx = sum_to(B, B.where(self.mask, zero, g), self.in_shape)
        if self.next_functions[1][0] is not None:
            gv = B.sum(B.where(self.mask, g, zero), axis=None, keepdims=True).reshape(())
            gv = gv.astype(self.value_dtype, copy=False)
        return gx, gv


@method("masked_fill")
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    """``input`` with ``value`` (a number or a 0-d tensor) where ``mask`` is True."""
    m = mask._data
    if m.dtype.kind != "b":
        raise RuntimeError(
            "masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{torch_type_name(m.dtype).lower()}"
        )
    value_t = None
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        value_t = value
        fill = value._data
    elif isinstance(value, SCALAR_TYPES):
        fill = value
    else:
        raise TypeError(f"masked_fill(): argument 'value' must be Number, not {_type_name(value)}")
    B = input._B
    x = input._data
    try:
        data = B.where(m, B.asarray(fill, dtype=x.dtype) if value_t is None
                       else fill.astype(x.dtype), x)
    except ValueError:
        raise broadcast_error(x.shape, m.shape) from None
    grad_value = value_t is not None and needs_grad(value_t)
    if needs_grad(input) or grad_value:
        if value_t is None:
            node = MaskedFillBackward0((edge_of(input),))
        else:
            node = MaskedFillBackward1((edge_of(input), edge_of(value_t)))
            node.value_dtype = value_t._data.dtype
        node.mask, node.in_shape = m, x.shape
        node.save(mask)
        return record(data, B, node, (input, mask, value))
    return Tensor._wrap(data, B)


@method("masked_fill_")
def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    """In-place ``masked_fill``."""
    return inplace_unary(self, masked_fill, "masked_fill_", mask, value)


# --- index_select / gather --------------------------------------------------------------------
class IndexSelectBackward0(Node):
    __slots__ = ("in_shape", "dtype", "dim", "index")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        gx = B.zeros(self.in_shape, dtype=self.dtype)
        B.scatter_add(gx, (slice(None),) * self.dim + (self.index,), g)
        return (gx,)

    def _drop_values(self):
        self.index = None


@method("index_select")
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The entries ``index`` (a 1-D integer tensor) of dim ``dim``, in that order (a copy)."""
    x = input._data
    d = wrap_dim(dim, x.ndim)
    idx = index._data
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size:
        lo, hi = int(index._B.amin(idx)), int(index._B.amax(idx))
        if lo < 0 or hi >= n:
            # PyTorch's CPU kernels word this differently for dim 0 and the others
            if d == 0:
                raise IndexError("index out of range in self")
            host = index._B.to_host(idx)
            bad = host[(host < 0) | (host >= n)][0]
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")
    B = input._B
    data = x[(slice(None),) * d + (idx, ...)] if x.ndim else B.copy(x)
    if needs_grad(input):
        node = IndexSelectBackward0((input._edge(),))
        node.in_shape, node.dtype, node.dim, node.index = x.shape, x.dtype, d, idx
        node.save(index)
        return record(data, B, node, (input, index))
    return Tensor._wrap(data, B)


class GatherBackward0(Node):
    __slots__ = ("in_shape", "dtype", "index")
    _holds_values = True

    def backward(self, g):
        B = backend_of(g)
        gx = B.zeros(self.in_shape, dtype=self.dtype)
        B.scatter_add(gx, self.index, g)
        return (gx,)

    def _drop_values(self):
        self.index = None


@method("gather")
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad=False) -> Tensor:  # noqa: A002
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (likewise for any dim)."""
    x = input._data
    idx = index._data
    d = wrap_dim(dim, x.ndim)
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError("gather(): Expected dtype int64 for index")
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be "
                f"no larger than self {list(x.shape)} apart from dimension {d}"
            )
    B = input._B
    n = x.shape[d] if x.ndim else 1
    if idx.size:
        lo, hi = int(B.amin(idx)), int(B.amax(idx))
        if lo < 0 or hi >= n:
            host = B.to_host(idx).ravel()
            bad = host[(host < 0) | (host >= n)][0]
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n}")
    # the full index into input: index along dim, and along every other dim the position
    # itself (an arange shaped to broadcast over that dim only)
    full = []
    for k in range(idx.ndim):
        if k == d:
            full.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[k] = idx.shape[k]
            full.append(B.reshape(B.arange(idx.shape[k]), tuple(shape)))
    full = tuple(full)
    data = x[full] if x.ndim else B.reshape(B.copy(x), idx.shape)
    if needs_grad(input):
        node = GatherBackward0((input._edge(),))
        node.in_shape, node.dtype = x.shape, x.dtype
        node.index = full if x.ndim else (Ellipsis,)
        node.save(index)
        return record(data, B, node, (input, index))
    return Tensor._wrap(data, B)
