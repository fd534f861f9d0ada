"""The device seam: every array operation of the engine goes through a ``Backend``.

A backend is an object whose attributes are array functions with numpy's signatures
(``add(a, b, out=None)``, ``matmul``, ``sum(a, axis, keepdims)`` ...), plus a few verbs of
our own (``to_host``, ``from_host``, ``scatter_add``, ``random``). Op code calls only these,
never ``numpy`` directly, so the same op runs on numpy (``cpu``) and on CuPy (``cuda``)
unchanged, and a strict test backend can prove that nothing falls back to host numpy.

Attributes are bound to the library's own functions (not wrapped in Python methods) so that
the indirection costs one attribute lookup and nothing more on the hot path.
"""

from __future__ import annotations

import numpy as np

# Functions every backend provides with numpy's semantics; the library module supplies them.
ARRAY_FUNCTIONS = (
    # creation
    "empty", "zeros", "ones", "full", "arange", "linspace", "eye", "zeros_like", "ones_like",
    "empty_like", "full_like",
    # elementwise math
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder",
    "negative", "power", "exp", "log", "tanh", "sqrt", "abs", "sign", "square", "reciprocal",
    "maximum", "minimum", "clip", "where", "sin", "cos", "log1p", "expm1",
    "floor", "ceil", "trunc", "rint", "nan_to_num",
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_not", "logical_xor", "isnan", "isinf", "isfinite",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "fmod", "may_share_memory",
    "copyto",
    # linear algebra
    "matmul", "dot", "outer",
    # reductions
    "sum", "mean", "amax", "amin", "argmax", "argmin", "count_nonzero", "any", "all",
    "cumsum", "prod",
    # shape and layout
    "reshape", "transpose", "swapaxes", "moveaxis", "broadcast_to", "expand_dims", "squeeze",
    "concatenate", "stack", "ascontiguousarray", "copy", "take_along_axis", "nonzero",
    "flatnonzero", "broadcast_shapes",
)


class Backend:
    """One array library behind the engine. ``name`` is the device type ('cpu' or 'cuda')."""

    name: str
    xp: object

    def __init__(self, name: str, xp):
        self.name = name
        self.xp = xp
        for fn in ARRAY_FUNCTIONS:
            setattr(self, fn, getattr(xp, fn))
        self.float_types = (xp.float16, xp.float32, xp.float64)

    # --- verbs that differ between libraries -------------------------------------------
    def asarray(self, obj, dtype=None):
        """An array on this backend from host data (lists, scalars, numpy arrays)."""
        return self.xp.asarray(obj, dtype=dtype)

    def to_host(self, a) -> np.ndarray:
        """A numpy array with the values of ``a`` (a copy from the device where needed)."""
        return np.asarray(a)

    def from_host(self, a: np.ndarray):
        return self.xp.asarray(a)

    def scatter_add(self, target, index, values) -> None:
        """``target[index] += values`` that adds every duplicate index (never ``a[idx] += g``)."""
        self.xp.add.at(target, index, values)

    def astype(self, a, np_dtype, copy=True):
        return a.astype(np_dtype, copy=copy)

    def is_contiguous(self, a) -> bool:
        return a.flags.c_contiguous

    def item(self, a):
        return a.item()

    def synchronize(self) -> None:
        pass

    def seed(self, s: int):
        return self.xp.random.default_rng(s)

    def permutation(self, rng, n: int):
        """A random permutation of ``0 .. n-1`` drawn from ``rng`` (a ``seed()`` result)."""
        return rng.permutation(n)


def _np_sum(a, axis=None, dtype=None, out=None, keepdims=False):
    # np.sum's Python wrapper costs more than summing a small array; add.reduce is the same
    # computation called directly
    return np.add.reduce(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)


def _np_broadcast_to(a, shape):
    """``np.broadcast_to`` without its Python overhead for the case backward passes hit most:
    a contiguous array expanded along new or size-1 dims. The view is read-only, as numpy's."""
    shape = tuple(shape)
    if a.flags.c_contiguous and a.ndim <= len(shape):
        lead = len(shape) - a.ndim
        strides = [0] * lead
        for have, want, stride in zip(a.shape, shape[lead:], a.strides):
            if have == want:
                strides.append(stride)
            elif have == 1:
                strides.append(0)
            else:
                return np.broadcast_to(a, shape)  # numpy's own error message
        view = np.ndarray(shape, a.dtype, a, 0, tuple(strides))
        view.flags.writeable = False
        return view
    return np.broadcast_to(a, shape)


class NumpyBackend(Backend):
    def __init__(self):
        super().__init__("cpu", np)
        self.sum = _np_sum
        self.broadcast_to = _np_broadcast_to

    def to_host(self, a) -> np.ndarray:
        return a

    def from_host(self, a):
        return a


NUMPY = NumpyBackend()
