"""Factories (``tensor``, ``randn``, ``zeros`` ...) and the random stream (``manual_seed``)."""

from __future__ import annotations

import builtins
import warnings

import numpy as np

from .. import _dtype as dt
from .._device import backend_for
from .._tensor import Tensor

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


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"size(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(size)}"
            )
        out.append(int(s))
    return tuple(out)


def _finish(data, B, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(data, B)
    if requires_grad:
        if data.dtype.kind not in "fc":  # the factories' wording (capital O) is PyTorch's
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t.requires_grad_flag = True
    return t


def _float_dtype(dtype) -> np.dtype:
    return (dt.to_dtype(dtype) if dtype is not None else dt.DEFAULTS.float_dtype).np


def _infer_dtype(data) -> np.dtype:
    """PyTorch's inference for Python data: bool -> bool, int -> int64, float -> default."""
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return np.dtype(np.int64) if not isinstance(data, np.ndarray) else arr.dtype
    if kind == "f":
        return dt.DEFAULTS.float_dtype.np if not isinstance(data, np.ndarray) else arr.dtype
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _nested_to_host(data):
    """Lists may hold 0-d tensors (``torch.tensor([a.item(), b])``, ``[t1, t2]``)."""
    if isinstance(data, Tensor):
        return data._B.to_host(data._data)
    if isinstance(data, (list, tuple)):
        return [_nested_to_host(d) for d in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
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
    else:
        host = _nested_to_host(data)
        want = dt.to_dtype(dtype).np if dtype is not None else _infer_dtype(host)
        try:
            host = np.array(host, dtype=want)
        except ValueError as exc:
            raise ValueError(f"expected sequence of equal-length lists: {exc}") from None
        except TypeError:
            raise TypeError(
                f"Could not infer dtype of {type(data).__name__}"
            ) from None
    data_arr = B.from_host(np.array(host, dtype=want, copy=True))
    return _finish(data_arr, B, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and device is None:
        arr = data if dtype is None else data.astype(dt.to_dtype(dtype).np, copy=False)
        dt.from_numpy_dtype(arr.dtype)
        return Tensor._wrap(arr, backend_for("cpu"))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (changes show on both sides)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt.from_numpy_dtype(ndarray.dtype)
    return Tensor._wrap(ndarray, backend_for("cpu"))


def _filled(fn_name, size, dtype, device, requires_grad, value=None):
    B = backend_for(device)
    shape = _size(size)
    want = _float_dtype(dtype)
    fn = getattr(B, fn_name)
    data = fn(shape, value, dtype=want) if fn_name == "full" else fn(shape, dtype=want)
    return _finish(data, B, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None) -> Tensor:
    # filled with zeros, not garbage: uninitialised values would only confuse a debugger
    return _filled("zeros", size, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, builtins.bool):
            dtype = dt.bool
        elif isinstance(fill_value, int):
            dtype = dt.int64
    return _filled("full", (tuple(size),), dtype, device, requires_grad, fill_value)


def _like(t: Tensor, dtype, device):
    B = t._B if device is None else backend_for(device)
    want = t._data.dtype if dtype is None else dt.to_dtype(dtype).np
    return B, want


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    B, want = _like(input, dtype, device)
    return _finish(B.zeros(input._data.shape, dtype=want), B, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    B, want = _like(input, dtype, device)
    return _finish(B.ones(input._data.shape, dtype=want), B, requires_grad)


empty_like = zeros_like


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None):
    B, want = _like(input, dtype, device)
    return _finish(B.full(input._data.shape, fill_value, dtype=want), B, requires_grad)


def _random(kind, size, dtype, device, requires_grad, generator):
    B = backend_for(device)
    shape = _size(size)
    want = _float_dtype(dtype)
    if want.kind != "f":
        raise RuntimeError(f'"normal_kernel_cpu" not implemented for \'{want.name}\'')
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
    """Samples from N(0, 1) from the engine's own stream (seed it with ``manual_seed``)."""
    return _random("normal", size, dtype, device, requires_grad, generator)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None,
         layout=None) -> Tensor:
    """Samples from U[0, 1)."""
    return _random("uniform", size, dtype, device, requires_grad, generator)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, generator=None,
            requires_grad=False) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    B = backend_for(device)
    rng = (generator or default_generator).rng(B)
    want = dt.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    data = rng.integers(low, high, size=_size((size,)) if not isinstance(size, int) else (size,))
    return _finish(data.astype(want), B, requires_grad)


def randperm(n: int, *, dtype=None, device=None, generator=None, requires_grad=False) -> Tensor:
    B = backend_for(device)
    rng = (generator or default_generator).rng(B)
    want = dt.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    return _finish(rng.permutation(n).astype(want), B, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    if size is None:
        raise NotImplementedError("gradviz's engine implements torch.normal(mean, std, size) only")
    t = randn(size, dtype=dtype, device=device, generator=generator)
    B = t._B
    B.multiply(t._data, std, out=t._data)
    B.add(t._data, mean, out=t._data)
    return _finish(t._data, B, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    B = backend_for(device)
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is not None:
        want = dt.to_dtype(dtype).np
    elif all(isinstance(v, (int, np.integer)) for v in vals):
        want = np.dtype(np.int64)
    else:
        want = dt.DEFAULTS.float_dtype.np
    if vals[2] == 0:
        raise RuntimeError("step must be nonzero")
    n = max(int(np.ceil((vals[1] - vals[0]) / vals[2])), 0)
    data = B.asarray(vals[0] + np.arange(n, dtype=np.float64) * vals[2]).astype(want) \
        if want.kind == "f" else B.arange(vals[0], vals[1], vals[2], dtype=want)
    return _finish(data, B, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    B = backend_for(device)
    want = _float_dtype(dtype)
    data = B.linspace(start, end, int(steps)).astype(want)
    return _finish(data, B, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    B = backend_for(device)
    return _finish(B.eye(n, m if m is not None else n, dtype=_float_dtype(dtype)), B,
                   requires_grad)
