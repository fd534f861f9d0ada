"""A strict test backend: numpy arrays behind a wrapper that behaves like CuPy's device arrays.

No GPU is needed to prove that the engine's ops stay on the device: ``StrictBackend`` is a
second implementation of ``Backend`` whose arrays (``StrictArray``) hold a numpy array but
refuse every implicit crossing to host numpy, as ``cupy.ndarray`` does:

- ``np.asarray(a)`` / ``np.array(a)`` (``__array__``), ``__array_interface__``, the buffer
  protocol and ``a.tolist()`` raise CuPy's "Implicit conversion to a NumPy array is not
  allowed" TypeError;
- calling numpy itself on one (``np.exp(a)``, ``np.sum(a)``, ``np.add.at(a, ...)``) raises: ops
  must call the backend (``B.exp``), never numpy;
- mixing with host ``np.ndarray`` operands (``a + host``, ``B.add(a, host)``,
  ``a[host_index]``, ``a[i] = host``) raises, as CuPy does;
- ``float(a)``, ``int(a)``, ``bool(a)``, ``operator.index(a)`` work on 0-d arrays only (a
  device sync: these, ``item()`` and ``to_host`` are counted in ``SYNCS``, so a test can
  prove that a training step reads nothing back);
- reductions and indexing return 0-d arrays, never numpy scalars (CuPy's behaviour), and
  basic indexing returns views that write through (``a[0, 1:] = 3``).

``to_host`` (a copy, like ``cupy.asnumpy``) and ``from_host`` (like ``cupy.asarray``) are the
only explicit crossings. The random stream offers what ``cupy.random.Generator`` offers
(``random``, ``standard_normal``, ``integers``; no ``permutation``).

This backend is for tests only and no device string ever selects it; a test registers it
with ``engine._device.register_test_backend(...)``, which returns a function that undoes it:

- ``StrictBackend("cuda")`` stands in for CUDA: ``device='cuda'``, ``.cuda()``,
  ``.numpy()``'s error, the mixed-device error and ``torch.cuda.is_available()`` run on it,
  as they would on CuPy;
- ``StrictBackend("cpu")`` takes the cpu's place (reading as ``cpu`` in every message), so
  the differential tests against torch's CPU build run on it unchanged.

The engine's test suite runs on it with ``GRADVIZ_TEST_DEVICE=strict`` (see
``tests/engine/conftest.py``; ``tests/engine/test_strict_backend.py`` does that in a
subprocess).
"""

from __future__ import annotations

import numpy as np

from ._backend import ARRAY_FUNCTIONS, Backend

IMPLICIT_HOST = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
    "NumPy array explicitly. (gradviz strict test backend: a device array crossed to host "
    "numpy; ops must stay on the backend, and only Backend.to_host copies to the host.)"
)
_HOST_OPERAND = (
    "Unsupported type <class 'numpy.ndarray'>: a host numpy array was mixed with a device "
    "array (gradviz strict test backend; move it with Backend.from_host first)"
)
_SCALARS = (int, float, bool, complex, np.generic)


class HostConversionError(TypeError, AttributeError):
    """An implicit crossing to host numpy. A TypeError, as CuPy raises; also an
    AttributeError for ``__array_interface__``, which CuPy's arrays do not have at all (so
    ``getattr(a, "__array_interface__", None)`` is None, as there)."""


def _numpy_called(name: str) -> TypeError:
    return TypeError(
        f"numpy.{name} was called on a device array (gradviz strict test backend): ops must "
        f"call the backend (B.{name}), never numpy, so that they run on CuPy unchanged"
    )


def _not_scalar(what: str) -> TypeError:
    return TypeError(
        f"{what} of a device array with more than zero dimensions is not allowed "
        "(gradviz strict test backend: only 0-d arrays convert to Python numbers, with a sync)"
    )


# --- wrapping and unwrapping --------------------------------------------------------------------
def _unwrap(x):
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is tuple:
        return tuple([_unwrap(i) for i in x])
    if t is list:
        return [_unwrap(i) for i in x]
    if t is np.ndarray:
        raise TypeError(_HOST_OPERAND)
    return x


def _wrap(r):
    t = type(r)
    if t is np.ndarray:
        return StrictArray(r)
    if isinstance(r, np.generic):
        return StrictArray(np.asarray(r))  # CuPy returns 0-d arrays, never scalars
    if t is tuple:
        return tuple([_wrap(i) for i in r])
    if t is list:
        return [_wrap(i) for i in r]
    return r


def _wrap_like(r, sources):
    """Wrap ``r``; where it *is* one of the sources' numpy arrays (``astype(copy=False)``,
    ``out=``), hand back that source's wrapper so identity checks behave as on CuPy."""
    if type(r) is np.ndarray:
        for s in sources:
            if type(s) is StrictArray and s._a is r:
                return s
    return _wrap(r)


def _operand(x):
    """The numpy-side value of a binary operator's other operand, or NotImplemented."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if isinstance(x, _SCALARS):
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(_HOST_OPERAND)
    return NotImplemented


def _key(key):
    """An index with device arrays unwrapped; host numpy arrays are refused (as mixing)."""
    t = type(key)
    if t is StrictArray:
        return key._a
    if t is tuple:
        return tuple([_key(k) for k in key])
    if t is np.ndarray:
        raise TypeError(_HOST_OPERAND)
    return key


SYNCS = [0]  # device-to-host scalar reads (item, float(), bool() ...) and to_host copies


class _Flags:
    """The flags CuPy's arrays have (read-only here, as there)."""

    __slots__ = ("_f",)

    def __init__(self, flags):
        self._f = flags

    @property
    def c_contiguous(self) -> bool:
        return self._f.c_contiguous

    @property
    def f_contiguous(self) -> bool:
        return self._f.f_contiguous

    @property
    def owndata(self) -> bool:
        return self._f.owndata

    @property
    def writeable(self) -> bool:
        return self._f.writeable

    def __getitem__(self, name):
        return getattr(self, name.lower())


def _binop(name):
    op = getattr(np.ndarray, name)

    def fn(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        r = op(self._a, o)
        if r is NotImplemented:
            return r
        return _wrap(r)

    fn.__name__ = name
    return fn


def _ibinop(name):
    op = getattr(np.ndarray, name)

    def fn(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        r = op(self._a, o)
        if r is NotImplemented:
            return r
        if r is not self._a:  # numpy always writes in place; keep the wrapper's identity
            self._a = r
        return self

    fn.__name__ = name
    return fn


def _unop(name):
    op = getattr(np.ndarray, name)

    def fn(self):
        return _wrap(op(self._a))

    fn.__name__ = name
    return fn


# methods CuPy's ndarray has and the engine may call; each unwraps and rewraps
_METHODS = frozenset((
    "astype", "reshape", "transpose", "copy", "ravel", "flatten", "view", "squeeze",
    "swapaxes", "sum", "mean", "max", "min", "argmax", "argmin", "any", "all", "cumsum",
    "prod", "clip", "fill", "nonzero", "take", "repeat", "dot", "argsort", "sort", "round",
    "conj", "var", "std", "trace", "diagonal", "put", "cumprod",
))
# numpy's ways out to the host (or into raw memory) that CuPy does not offer implicitly
_HOST_ATTRS = frozenset((
    "tolist", "tobytes", "tostring", "tofile", "dump", "dumps", "ctypes", "data", "itemset",
    "__array_interface__", "__array_struct__", "getfield", "setfield", "byteswap",
    "newbyteorder",
))


class StrictArray:
    """A device array for the strict backend (see the module docstring)."""

    __slots__ = ("_a",)
    __hash__ = None  # arrays are unhashable, as numpy's and CuPy's

    def __init__(self, a: np.ndarray):
        self._a = a

    # --- host crossings: all refused ---------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT_HOST)

    @property
    def __cuda_array_interface__(self):
        # CuPy's device-memory description (the pointer is a host one here: for comparing
        # addresses only, as the engine's in-place overlap check does)
        return self._a.__array_interface__

    def tolist(self):
        raise TypeError(IMPLICIT_HOST)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ``np.float32(2) * a`` comes here (numpy's scalar asks the array's ufunc protocol);
        # that is an operator, which CuPy supports. Every other numpy call is refused.
        if method == "__call__" and len(inputs) == 2 and not kwargs and any(
                isinstance(i, np.generic) for i in inputs) and all(
                type(i) is StrictArray or isinstance(i, _SCALARS) for i in inputs):
            return _wrap(ufunc(*[_operand(i) for i in inputs]))
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        raise _numpy_called(name)

    def __array_function__(self, func, types, args, kwargs):
        raise _numpy_called(func.__name__)

    # --- scalars (a device sync) -------------------------------------------------------------
    def item(self):
        SYNCS[0] += 1
        return self._a.item()

    def _scalar(self, what):
        if self._a.ndim != 0:
            raise _not_scalar(what)
        SYNCS[0] += 1
        return self._a.item()

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __complex__(self):
        return complex(self._scalar("complex()"))

    def __bool__(self):
        if self._a.size != 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return bool(self._scalar("bool()"))

    def __index__(self):
        if self._a.dtype.kind not in "iu":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._scalar("operator.index()"))

    # --- metadata ------------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, new):
        # CuPy's setter too: a reshape in place that never copies (AttributeError if it must)
        self._a.shape = new

    @property
    def base(self):
        b = self._a.base
        return None if b is None else StrictArray(b) if type(b) is np.ndarray else b

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self):
        return _Flags(self._a.flags)

    @property
    def T(self):  # noqa: N802 - numpy's name
        return StrictArray(self._a.T)

    @property
    def real(self):
        return StrictArray(self._a.real)

    @property
    def device(self):
        return "strict"

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield self[i]

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    __str__ = __repr__

    def __getattr__(self, name):
        if name in _HOST_ATTRS:
            raise HostConversionError(f"{IMPLICIT_HOST} (StrictArray.{name})")
        if name in _METHODS:
            fn = getattr(self._a, name)

            def method(*args, **kwargs):
                r = fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
                return self if r is self._a else _wrap(r)

            return method
        raise AttributeError(
            f"'StrictArray' object has no attribute '{name}' (the strict test backend models "
            "CuPy's ndarray: call the backend's functions instead)"
        )

    def __copy__(self):
        return StrictArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._a.copy())

    def __reduce__(self):
        return (StrictArray, (self._a.copy(),))

    # --- indexing (views for basic indexes, as numpy and CuPy) ------------------------------
    def __getitem__(self, key):
        k = _key(key)
        r = self._a[k]
        if isinstance(r, np.generic):
            # numpy gives a scalar for a full integer index; CuPy a 0-d view
            r = self._a[(k if type(k) is tuple else (k,)) + (Ellipsis,)]
        return StrictArray(r)

    def __setitem__(self, key, value):
        k = _key(key)
        t = type(value)
        if t is StrictArray:
            v = value._a
        elif isinstance(value, _SCALARS):
            v = value
        elif isinstance(value, np.ndarray):
            raise TypeError(_HOST_OPERAND)
        else:
            v = np.asarray(value)  # nested lists, as CuPy accepts them
        self._a[k] = v

    # --- operators --------------------------------------------------------------------------
    __add__ = _binop("__add__")
    __radd__ = _binop("__radd__")
    __sub__ = _binop("__sub__")
    __rsub__ = _binop("__rsub__")
    __mul__ = _binop("__mul__")
    __rmul__ = _binop("__rmul__")
    __truediv__ = _binop("__truediv__")
    __rtruediv__ = _binop("__rtruediv__")
    __floordiv__ = _binop("__floordiv__")
    __rfloordiv__ = _binop("__rfloordiv__")
    __mod__ = _binop("__mod__")
    __rmod__ = _binop("__rmod__")
    __pow__ = _binop("__pow__")
    __rpow__ = _binop("__rpow__")
    __matmul__ = _binop("__matmul__")
    __rmatmul__ = _binop("__rmatmul__")
    __and__ = _binop("__and__")
    __rand__ = _binop("__rand__")
    __or__ = _binop("__or__")
    __ror__ = _binop("__ror__")
    __xor__ = _binop("__xor__")
    __rxor__ = _binop("__rxor__")
    __lshift__ = _binop("__lshift__")
    __rshift__ = _binop("__rshift__")
    __eq__ = _binop("__eq__")
    __ne__ = _binop("__ne__")
    __lt__ = _binop("__lt__")
    __le__ = _binop("__le__")
    __gt__ = _binop("__gt__")
    __ge__ = _binop("__ge__")
    __iadd__ = _ibinop("__iadd__")
    __isub__ = _ibinop("__isub__")
    __imul__ = _ibinop("__imul__")
    __itruediv__ = _ibinop("__itruediv__")
    __ifloordiv__ = _ibinop("__ifloordiv__")
    __imod__ = _ibinop("__imod__")
    __ipow__ = _ibinop("__ipow__")
    __iand__ = _ibinop("__iand__")
    __ior__ = _ibinop("__ior__")
    __ixor__ = _ibinop("__ixor__")
    __neg__ = _unop("__neg__")
    __pos__ = _unop("__pos__")
    __abs__ = _unop("__abs__")
    __invert__ = _unop("__invert__")


# --- the namespace (``xp``) and the backend ------------------------------------------------------
def _function(name: str, f):
    def call(*args, **kwargs):
        r = f(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
        out = kwargs.get("out")
        if type(out) is StrictArray and r is out._a:
            return out
        return _wrap_like(r, args)

    call.__name__ = name
    call.__qualname__ = f"strict.{name}"
    return call


class _Generator:
    """What ``cupy.random.Generator`` offers, drawing from numpy's PCG64."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self.bit_generator = self._rng.bit_generator

    def random(self, size=None, dtype=np.float64, out=None):
        return StrictArray(np.asarray(self._rng.random(size, dtype=dtype)))

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return StrictArray(np.asarray(self._rng.standard_normal(size, dtype=dtype)))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return StrictArray(np.asarray(self._rng.integers(low, high, size, dtype=dtype,
                                                         endpoint=endpoint)))


class _Namespace:
    """The strict ``xp``: numpy's array functions, unwrapping and rewrapping."""

    float16, float32, float64 = np.float16, np.float32, np.float64

    def __init__(self):
        for name in ARRAY_FUNCTIONS:
            setattr(self, name, _function(name, getattr(np, name)))
        # shapes only, no arrays: CuPy may lack it, the engine's CuPy backend uses numpy's
        self.broadcast_shapes = np.broadcast_shapes
        self.asarray = self._asarray

    @staticmethod
    def _asarray(obj, dtype=None):
        if type(obj) is StrictArray:
            return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
        if isinstance(obj, (list, tuple)) and any(type(o) is StrictArray for o in obj):
            raise TypeError(IMPLICIT_HOST)
        return StrictArray(np.array(obj, dtype=dtype))


class StrictBackend(Backend):
    """Stands in for CuPy on a machine without a GPU: ``name`` 'cuda' (device ``cuda:0``), or
    'cpu' for a backend that reads as cpu in every message (see ``register_test_backend``)."""

    array_type = StrictArray

    def __init__(self, name: str = "cuda"):
        if name not in ("cuda", "cpu"):
            raise ValueError(f"StrictBackend stands in for 'cuda' or 'cpu', not {name!r}")
        super().__init__(name, _Namespace())
        from ._device import device

        self.device = device("cuda", 0) if name == "cuda" else device("cpu")

    @property
    def syncs(self) -> int:
        """Device-to-host reads so far (scalars and ``to_host`` copies)."""
        return SYNCS[0]

    def device_name(self) -> str:
        return "gradviz strict test backend (numpy standing in for a CUDA device)"

    def asarray(self, obj, dtype=None):
        return self.xp.asarray(obj, dtype=dtype)

    def to_host(self, a) -> np.ndarray:
        if type(a) is not StrictArray:
            raise TypeError(f"to_host expects a device array, got {type(a).__name__}")
        SYNCS[0] += 1
        return a._a.copy()  # cupy.asnumpy copies: writing to it never changes the device

    def from_host(self, a):
        if type(a) is StrictArray:
            return a
        return StrictArray(np.array(a, copy=True))

    def scatter_add(self, target, index, values) -> None:
        np.add.at(target._a, _key(index), _unwrap(values))

    def astype(self, a, np_dtype, copy=True):
        return a.astype(np_dtype, copy=copy)

    def is_contiguous(self, a) -> bool:
        return a.flags.c_contiguous

    def item(self, a):
        return a.item()

    def seed(self, s: int):
        return _Generator(s)

    def permutation(self, rng, n: int):
        return rng.random((n,)).argsort()
