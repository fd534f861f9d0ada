"""Factories (``tensor``, ``randn``, ``zeros`` ...) and the random stream (``manual_seed``)."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from .. import _dtype as dt
from .._backend import NUMPY
from .._device import backend_for
from .._tensor import Tensor
from .common import torch_type_name

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like",
           "ones_like", "empty_like", "full_like", "rand", "randn", "randint", "rand_like",
           "randn_like", "randperm", "arange", "linspace", "eye", "manual_seed", "seed",
           "initial_seed", "Generator", "normal"]


class Generator:
    """A random stream (PyTorch's API over numpy's PCG64; its numbers differ from PyTorch's)."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721  # PyTorch's default seed value
        self._rngs: dict = {}

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rngs.clear()
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def rng(self, B):
        r = self._rngs.get(B)
        if r is None:
            r = self._rngs[B] = B.seed(self._seed)
        return r

    def get_state(self):
        from .. import Tensor as _T  # noqa: F401 - state is opaque

        return {k.name: v.bit_generator.state for k, v in self._rngs.items()}, self._seed

    def set_state(self, state) -> None:
        states, self._seed = state
        self._rngs.clear()


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the engine's random stream (cpu and cuda)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def _size(size, fn: str = "zeros") -> tuple:
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``, with PyTorch's errors."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], Tensor) and size[0]._data.ndim <= 1:
        size = tuple(size[0].tolist()) if size[0]._data.ndim else (size[0],)
    elif len(size) == 1 and not _is_int(size[0]):
        raise TypeError(
            f"{fn}(): argument 'size' (position 1) must be tuple of ints, not "
            f"{type(size[0]).__name__}"
        )
    out = []
    for pos, s in enumerate(size):
        if isinstance(s, Tensor) and s._data.size == 1 and s._data.dtype.kind in "iu":
            s = s.item()
        if not _is_int(s):
            raise TypeError(
                f"{fn}(): argument 'size' failed to unpack the object at pos {pos + 1} with "
                f'error "type must be tuple of ints,but got {type(s).__name__}"'
            )
        out.append(int(s))
    if any(s < 0 for s in out):
        if fn == "zeros":
            raise RuntimeError("zeros: Dimension size must be non-negative.")
        bad = next(s for s in out if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {out}")
    return tuple(out)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (builtins.bool, np.bool_))


def _finish(data, B, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(data, B)
    if requires_grad:
        if data.dtype.kind != "f":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t.requires_grad_flag = True
    return t


def _float_dtype(dtype) -> np.dtype:
    return (dt.to_dtype(dtype) if dtype is not None else dt.DEFAULTS.float_dtype).np


_PYTHON_SCALARS = {builtins.bool: dt.bool, int: dt.int64}


def _infer_dtype(data) -> dt.dtype:
    """PyTorch's dtype for Python data: the promotion of every element's own type (bool ->
    bool, int -> int64, float -> the default dtype, numpy scalars and arrays and 0-d tensors
    -> their dtype); an empty list is the default float type."""
    kind = _PYTHON_SCALARS.get(type(data))
    if kind is not None:
        return kind
    if isinstance(data, float):
        return dt.from_numpy_dtype(data.dtype) if isinstance(data, np.generic) \
            else dt.DEFAULTS.float_dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return dt.from_numpy_dtype(data.dtype)
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (list, tuple)):
        result = None
        # one pass in C over the element types: a long flat list costs little
        for t in set(map(type, data)):
            if t in _PYTHON_SCALARS:
                kind = _PYTHON_SCALARS[t]
            elif t is float:
                kind = dt.DEFAULTS.float_dtype
            else:
                kind = None
                for item in data:
                    if type(item) is t:
                        k = _infer_dtype(item)
                        kind = k if kind is None else dt.promote(kind, k)
            result = kind if result is None else dt.promote(result, kind)
        return dt.DEFAULTS.float_dtype if result is None else result
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _nested_to_host(data):
    """Lists may hold one-element tensors (``torch.tensor([a.item(), b])``, ``[t1, t2]``):
    each becomes a numpy scalar of its dtype."""
    if isinstance(data, Tensor):
        if data._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return data._B.to_host(data._data).reshape(())[()]
    if isinstance(data, (list, tuple)):
        types = set(map(type, data))  # in C: a long flat list of numbers is left alone
        if list in types or tuple in types or any(issubclass(t, Tensor) for t in types):
            return [_nested_to_host(d) for d in data]
    return data


def _shape_error(data) -> Exception:
    """PyTorch's message for ragged nested lists."""
    sizes = []
    probe = data
    while isinstance(probe, (list, tuple)):
        sizes.append(len(probe))
        if not probe:
            break
        probe = probe[0]

    def walk(seq, d):
        if len(seq) != sizes[d]:
            return ValueError(f"expected sequence of length {sizes[d]} at dim {d} "
                              f"(got {len(seq)})")
        for item in seq:
            is_seq = isinstance(item, (list, tuple))
            if d + 1 < len(sizes):
                if not is_seq:
                    return TypeError("not a sequence")
                err = walk(item, d + 1)
                if err is not None:
                    return err
            elif is_seq:
                return TypeError(f"'{type(item).__name__}' object cannot be interpreted as an "
                                 "integer")
        return None

    return walk(data, 0) or ValueError("expected sequence of equal-length lists")


def _check_fits(values, want) -> None:
    """PyTorch refuses list elements outside an integer dtype's range (a lone number wraps)."""
    try:
        raw = np.asarray(values)
    except ValueError:
        return  # ragged: reported by the conversion itself
    if raw.size and raw.dtype.kind in "iuf":
        info = np.iinfo(want)
        if raw.min() < info.min or raw.max() > info.max:
            raise RuntimeError(f"value cannot be converted to type {want.name} without overflow")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors); the
    dtype is inferred as PyTorch infers it unless given."""
    B = backend_for(device)
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
            "requires_grad_(True), rather than torch.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
        host = data._B.to_host(data._data)
        want = dt.to_dtype(dtype).np if dtype is not None else host.dtype
        host = np.array(host, dtype=want, copy=True)
    else:
        if isinstance(data, range):
            data = list(data)
        host = _nested_to_host(data)
        want = (dt.to_dtype(dtype) if dtype is not None else _infer_dtype(host)).np
        if dtype is not None and want.kind in "iu" and isinstance(host, (list, tuple)):
            _check_fits(host, want)
        try:
            host = np.array(host, dtype=want)
        except ValueError as exc:
            if isinstance(host, (list, tuple)):
                raise _shape_error(host) from None
            raise exc
        except OverflowError:
            raise ValueError("Overflow when unpacking long long") from None
    return _finish(B.from_host(host), B, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and device is None:
        arr = data if dtype is None else data.astype(dt.to_dtype(dtype).np, copy=False)
        dt.from_numpy_dtype(arr.dtype)
        return Tensor._wrap(arr, NUMPY)  # shares the array's memory: numpy's backend
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (changes show on both sides)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt.from_numpy_dtype(ndarray.dtype)
    return Tensor._wrap(ndarray, NUMPY)


def _no_out(fn: str, out) -> None:
    if out is not None:
        raise NotImplementedError(f"gradviz's engine does not implement the out= argument of "
                                  f"torch.{fn}")


def _filled(fn_name, size, dtype, device, requires_grad, value=None, name=None):
    B = backend_for(device)
    shape = _size(size, name or fn_name)
    want = _float_dtype(dtype)
    fn = getattr(B, fn_name)
    data = fn(shape, value, dtype=want) if fn_name == "full" else fn(shape, dtype=want)
    return _finish(data, B, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of zeros (default float dtype)."""
    _no_out("zeros", out)
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of ones (default float dtype)."""
    _no_out("ones", out)
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None) -> Tensor:
    """An "uninitialised" tensor: filled with zeros here, because garbage values would only
    confuse a debugger."""
    _no_out("empty", out)
    return _filled("zeros", size, dtype, device, requires_grad, name="empty")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value's Python type (bool,
    int64, or the default float type) unless given."""
    _no_out("full", out)
    if not isinstance(size, (tuple, list)):
        raise TypeError("full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    for pos, s in enumerate(size):
        if not _is_int(s):
            raise TypeError("full(): argument 'size' (position 1) must be tuple of ints, but "
                            f"found element of type {type(s).__name__} at pos {pos}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (int, float, np.number, np.bool_)):
        raise TypeError("full(): argument 'fill_value' (position 2) must be Number, not "
                        f"{type(fill_value).__name__}")
    if dtype is None:
        if isinstance(fill_value, (builtins.bool, np.bool_)):
            dtype = dt.bool
        elif _is_int(fill_value):
            dtype = dt.int64
    return _filled("full", (tuple(size),), dtype, device, requires_grad, fill_value)


def _like(fn: str, t, dtype, device):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(t).__name__}")
    B = t._B if device is None else backend_for(device)
    want = t._data.dtype if dtype is None else dt.to_dtype(dtype).np
    return B, want


def zeros_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None):
    """Zeros with ``input``'s shape, dtype and device."""
    B, want = _like("zeros_like", input, dtype, device)
    return _finish(B.zeros(input._data.shape, dtype=want), B, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None):
    """Ones with ``input``'s shape, dtype and device."""
    B, want = _like("ones_like", input, dtype, device)
    return _finish(B.ones(input._data.shape, dtype=want), B, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None):
    """Like ``zeros_like`` (the engine never hands out uninitialised memory)."""
    B, want = _like("empty_like", input, dtype, device)
    return _finish(B.zeros(input._data.shape, dtype=want), B, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None):
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device."""
    B, want = _like("full_like", input, dtype, device)
    return _finish(B.full(input._data.shape, fill_value, dtype=want), B, requires_grad)


def _random(kind, size, dtype, device, requires_grad, generator, fn):
    B = backend_for(device)
    shape = _size(size, fn)
    want = _float_dtype(dtype)
    if want.kind != "f":
        kernel = "normal_kernel_" + B.name if kind == "normal" else "check_uniform_bounds"
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{torch_type_name(want)}'"
        )
    rng = (generator or default_generator).rng(B)
    if kind == "normal":
        data = rng.standard_normal(shape, dtype=want if want.itemsize >= 4 else np.float32)
    else:
        data = rng.random(shape, dtype=want if want.itemsize >= 4 else np.float32)
    if data.dtype != want:
        data = data.astype(want)
    return _finish(data, B, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None,
          layout=None) -> Tensor:
    """Samples from N(0, 1) from the engine's own stream (seed it with ``manual_seed``; the
    numbers differ from PyTorch's, the shapes, dtypes and reproducibility do not)."""
    _no_out("randn", out)
    return _random("normal", size, dtype, device, requires_grad, generator, "randn")


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None,
         layout=None) -> Tensor:
    """Samples from U[0, 1) from the engine's own stream."""
    _no_out("rand", out)
    return _random("uniform", size, dtype, device, requires_grad, generator, "rand")


def randn_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    """``randn`` with ``input``'s shape, dtype and device."""
    B, want = _like("randn_like", input, dtype, device)
    return randn(input.shape, dtype=want, device=device or input.device,
                 requires_grad=requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    """``rand`` with ``input``'s shape, dtype and device."""
    B, want = _like("rand_like", input, dtype, device)
    return rand(input.shape, dtype=want, device=device or input.device,
                requires_grad=requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, generator=None,
            requires_grad=False) -> Tensor:
    """Integers uniform in [low, high) (int64 unless ``dtype`` says otherwise)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    B = backend_for(device)
    rng = (generator or default_generator).rng(B)
    want = dt.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    shape = _size((size,) if _is_int(size) else tuple(size), "randint")
    data = rng.integers(low, high, size=shape)
    return _finish(data.astype(want), B, requires_grad)


def randperm(n: int, *, dtype=None, device=None, generator=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    B = backend_for(device)
    rng = (generator or default_generator).rng(B)
    want = dt.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    return _finish(B.permutation(rng, n).astype(want), B, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """``mean + std * randn(size)`` (the engine implements the form with a ``size``)."""
    if size is None:
        raise NotImplementedError("gradviz's engine implements torch.normal(mean, std, size) only")
    t = randn(size, dtype=dtype, device=device, generator=generator)
    B = t._B
    B.multiply(t._data, std, out=t._data)
    B.add(t._data, mean, out=t._data)
    return _finish(t._data, B, requires_grad)


def _number(fn: str, name: str, position: int, v):
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, (np.number, np.bool_)):
        return v.item()
    if not isinstance(v, (int, float)):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Number, not "
                        f"{type(v).__name__}")
    return v


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values ``start, start + step, ...`` below ``end``; int64 when every bound is an integer,
    else the default float type. The length is PyTorch's (in int64 for an int64 result, else
    from doubles) and each float value is ``start + i * step`` rounded once, as PyTorch's
    fused multiply-add computes it; its vectorised kernel rounds some float32 values in the
    last bit differently."""
    if end is None:
        start, end = 0, start
        names = (("start", 0), ("end", 1), ("step", 3))
    else:
        names = (("start", 1), ("end", 2), ("step", 3))
    vals = [_number("arange", n, p, v) for (n, p), v in zip(names, (start, end, step))]
    if dtype is not None:
        want = dt.to_dtype(dtype).np
    elif all(isinstance(v, int) for v in vals):
        want = np.dtype(np.int64)
    else:
        want = dt.DEFAULTS.float_dtype.np
    integral = want.kind in "iub"
    x0, x1, xs = (int(v) for v in vals) if integral else (float(v) for v in vals)
    if want == np.int64 and xs == 0 and vals[2] != 0:
        raise ValueError("step must be nonzero")  # a fractional step truncated to 0
    if float(vals[2]) == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(x0) and math.isfinite(x1)):
        raise RuntimeError(f"unsupported range: {x0:g} -> {x1:g}")
    if (vals[2] > 0 and x1 < x0) or (vals[2] < 0 and x1 > x0):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if want == np.int64:
        # all in int64, truncating division included (numerator and step share a sign)
        sign = 1 if xs > 0 else -1
        n = abs(x1 - x0 + xs - sign) // abs(xs)
    else:
        n = math.ceil((float(vals[1]) - float(vals[0])) / float(vals[2]))
    if integral:
        host = (np.arange(n, dtype=np.int64) * xs + x0).astype(want)
    else:
        # extended precision stands in for the fused multiply-add (one rounding to double)
        wide = np.arange(n, dtype=np.longdouble) * np.longdouble(xs) + np.longdouble(x0)
        host = wide.astype(np.float64).astype(want)
    B = backend_for(device)
    return _finish(B.from_host(host), B, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` values from ``start`` to ``end`` inclusive, by PyTorch's formula: the first
    half counted up from start, the second half down from end (both ends exact), with the
    step computed in the output type and each value rounded once (a fused multiply-add)."""
    if not _is_int(steps):
        raise TypeError(
            "linspace() received an invalid combination of arguments - got "
            f"({type(start).__name__}, {type(end).__name__}, {type(steps).__name__})"
        )
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    start = _number("linspace", "start", 1, start)
    end = _number("linspace", "end", 2, end)
    B = backend_for(device)
    want = _float_dtype(dtype)
    if steps <= 1:
        return _finish(B.full((steps,), start, dtype=want), B, requires_grad)
    idx = np.arange(steps)
    if want.kind == "f":
        lo, hi = want.type(start), want.type(end)
        step = (hi - lo) / want.type(steps - 1)
        # a wider type for the multiply-add, so that only the final cast rounds
        wide = np.longdouble if want.itemsize >= 8 else np.float64
        lo, hi, step = wide(lo), wide(hi), wide(step)
    else:
        # integer results: a double step, truncated toward zero at the end
        lo, hi = float(int(start)), float(int(end))
        step = (hi - lo) / (steps - 1)
    up = idx * step + lo
    down = hi - (steps - 1 - idx) * step
    host = np.where(idx < steps // 2, up, down)
    if want.kind == "f":
        host = host.astype(np.float64)
    return _finish(B.from_host(host.astype(want)), B, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n x m`` identity matrix (default float dtype)."""
    if not _is_int(n):
        raise TypeError(f"eye(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if m is not None and not _is_int(m):
        raise TypeError(f"eye(): argument 'm' (position 2) must be int, not {type(m).__name__}")
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    B = backend_for(device)
    return _finish(B.eye(n, m if m is not None else n, dtype=_float_dtype(dtype)), B,
                   requires_grad)
