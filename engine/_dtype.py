"""Data types shaped like PyTorch's (``torch.float32`` ...), each backed by a numpy dtype."""

from __future__ import annotations

import numpy as np


class dtype:  # noqa: N801 - PyTorch's spelling: torch.dtype
    """A tensor element type. ``repr`` reads ``torch.float32`` as in PyTorch."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_kind")

    def __init__(self, name: str, np_dtype, kind: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = kind == 2
        self.is_complex = False
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize
        # promotion category: 0 bool, 1 integer, 2 floating point
        self._kind = kind

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_complex(self):
        raise NotImplementedError("gradviz's engine does not implement complex dtypes")


float16 = half = dtype("float16", np.float16, 2)
float32 = float = dtype("float32", np.float32, 2)  # noqa: A001 - PyTorch's name
float64 = double = dtype("float64", np.float64, 2)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = short = dtype("int16", np.int16, 1)
int32 = int = dtype("int32", np.int32, 1)  # noqa: A001
int64 = long = dtype("int64", np.int64, 1)
bool = dtype("bool", np.bool_, 0)  # noqa: A001

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The engine dtype for a numpy dtype; a clear error for ones PyTorch-style code can't hold."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"gradviz's engine does not support numpy dtype {np_dtype}; "
            "use float32, float64, int64, int32, int16, int8, uint8 or bool"
        ) from None


class _Defaults:
    float_dtype = float32


DEFAULTS = _Defaults()


def get_default_dtype() -> dtype:
    return DEFAULTS.float_dtype


def set_default_dtype(d: dtype) -> None:
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    DEFAULTS.float_dtype = d


def to_dtype(d) -> dtype:
    """Accept an engine dtype, a numpy dtype or a Python type (``float``, ``int``, ``bool``)."""
    if isinstance(d, dtype):
        return d
    import builtins

    if d is builtins.float:
        return float64  # PyTorch maps the Python type ``float`` to double, whatever the default
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    return from_numpy_dtype(d)


def promote(a: dtype, b: dtype) -> dtype:
    """PyTorch's promotion between two tensors of the same priority (both dimensioned or
    both 0-d)."""
    if a is b:
        return a
    if a._kind != b._kind:
        # across categories the higher one wins whatever the widths (float32 + int64 ->
        # float32, where numpy would widen to float64)
        return a if a._kind > b._kind else b
    return _FROM_NP[np.promote_types(a.np, b.np)]


def result_type(a: dtype, a_dim, b: dtype, b_dim) -> dtype:
    """Promotion where a 0-d tensor only raises the category, never the width (PyTorch rules)."""
    if a is b:
        return a
    if (a_dim == 0) == (b_dim == 0):
        return promote(a, b)
    dim_t, zero_t = (a, b) if a_dim else (b, a)
    if zero_t._kind > dim_t._kind:
        # a 0-d *tensor* of a higher category keeps its own dtype (int64 + 0-d float64 ->
        # float64); only Python scalars fall back to the default dtype (scalar_result_type)
        return zero_t
    return dim_t


def scalar_result_type(t: dtype, scalar) -> dtype:
    """Result dtype of ``tensor <op> python_scalar``: the scalar only raises the category."""
    import builtins

    st = type(scalar)
    if st is builtins.float:
        return t if t._kind == 2 else DEFAULTS.float_dtype
    if st is builtins.int:
        return t if t._kind >= 1 else int64
    if st is builtins.bool:
        return t
    if isinstance(scalar, np.generic):
        # PyTorch reads a numpy bool as a float number (np.bool_ is no Python bool)
        k = 1 if scalar.dtype.kind in "iu" else 2
        if k > t._kind:
            return DEFAULTS.float_dtype if k == 2 else int64
        return t
    raise TypeError(f"unsupported scalar type {st.__name__}")
