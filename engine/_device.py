"""``torch.device`` and the choice of backend for a device (numpy on cpu, CuPy on cuda)."""

from __future__ import annotations

import numpy as _np

from ._backend import NUMPY, Backend

CUDA_HELP = (
    "gradviz's engine cannot use CUDA here: it needs CuPy and an NVIDIA GPU. "
    "Install the GPU extra that matches your CUDA version "
    "(pip install 'gradviz[gpu-cuda12]' or 'gradviz[gpu-cuda13]') on a machine with a GPU, "
    "or use device='cpu'."
)


class device:  # noqa: N801 - PyTorch's spelling
    """``device('cpu')``, ``device('cuda')``, ``device('cuda', 0)``, ``device('cuda:0')``."""

    __slots__ = ("type", "index", "_previous")  # _previous: ``with device(...):``

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments: {type!r}")
        kind, _, idx = type.partition(":")
        if kind not in ("cpu", "cuda", "mps", "meta", "xpu"):
            raise RuntimeError(
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, "
                "fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device "
                f"type at start of device string: {type}"
            )
        if idx:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(idx)
        self.type = kind
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self):
        self._previous = get_default_device()
        set_default_device(self)
        return self

    def __exit__(self, *exc):
        set_default_device(self._previous)


CPU = device("cpu")
_cuda_backend: Backend | None = None
_cuda_error: str | None = None
_test_backend: Backend | None = None  # a test backend in the cpu's place (register_test_backend)


def _load_cuda() -> Backend | None:
    global _cuda_backend, _cuda_error
    if _cuda_backend is None and _cuda_error is None:
        try:
            from ._backend_cupy import CupyBackend

            _cuda_backend = CupyBackend()
        except Exception as exc:  # ImportError, or CuPy present but no usable device
            _cuda_error = f"{CUDA_HELP} ({type(exc).__name__}: {exc})"
    return _cuda_backend


def register_test_backend(backend: Backend | None):
    """Tests only: put a test backend (``engine._backend_strict.StrictBackend``, which proves on
    a CPU that no op falls back to host numpy) in place of a real device; returns a function
    that puts back exactly what was there before (CuPy's backend included).

    A backend named 'cuda' stands in for CUDA: ``device='cuda'``, ``.cuda()``,
    ``cuda.is_available()``, ``.numpy()``'s error and the mixed-device error all run on it.
    A backend named 'cpu' takes the cpu's place: every tensor made for the cpu (factories,
    ``device='cpu'``, ``.cpu()``, ``.to('cpu')``) lives on it and reads as ``cpu`` everywhere,
    so the differential tests run on it and compare messages with torch's CPU build
    unchanged. Only what must share host memory stays numpy (``from_numpy``, ``as_tensor`` of
    an ndarray, Adam's ``step``, unpickled tensors). ``None`` undoes both (CuPy is then
    looked for afresh). The default device goes back to cpu. No device string ever selects a
    test backend."""
    global _cuda_backend, _cuda_error, _test_backend
    saved = (_cuda_backend, _cuda_error, _test_backend, _DEFAULT.device, _DEFAULT.backend)
    _DEFAULT.device, _DEFAULT.backend = CPU, NUMPY
    if backend is None:
        _cuda_backend, _cuda_error, _test_backend = None, None, None
    elif backend.name == "cuda":
        _cuda_backend, _cuda_error = backend, None
    else:
        _test_backend = _DEFAULT.backend = backend

    def restore() -> None:
        global _cuda_backend, _cuda_error, _test_backend
        _cuda_backend, _cuda_error, _test_backend, _DEFAULT.device, _DEFAULT.backend = saved

    return restore


def cuda_available() -> bool:
    return _load_cuda() is not None


def backend_for(dev) -> Backend:
    """The backend that holds tensors on ``dev`` (a device, a string or None for the default)."""
    if dev is None:
        return _DEFAULT.backend
    if isinstance(dev, str):
        if dev == "cpu":
            return NUMPY if _test_backend is None else _test_backend
        dev = device(dev)
    elif isinstance(dev, int):
        dev = device("cuda", dev)
    if dev.type == "cpu":
        return NUMPY if _test_backend is None else _test_backend
    if dev.type == "cuda":
        b = _load_cuda()
        if b is None:
            raise RuntimeError(CUDA_HELP)
        return b
    raise RuntimeError(f"gradviz's engine does not implement the '{dev.type}' device")


class _DefaultDevice:
    device = CPU
    backend: Backend = NUMPY


_DEFAULT = _DefaultDevice()


def get_default_device() -> device:
    return _DEFAULT.device


def set_default_device(dev) -> None:
    if dev is None:
        dev = CPU
    d = device(dev) if not isinstance(dev, device) else dev
    _DEFAULT.backend = backend_for(d)
    if d.type == "cuda" and d.index is None:
        d = device("cuda", 0)
    _DEFAULT.device = d


def device_of(backend: Backend) -> device:
    return CPU if backend is NUMPY else backend.device


def backend_of(array) -> Backend:
    """The backend that owns ``array`` (numpy arrays are cpu; anything else is the GPU's, or
    a registered test backend's)."""
    if array.__class__ is _np.ndarray or (_cuda_backend is None and _test_backend is None):
        return NUMPY
    if isinstance(array, (_np.ndarray, _np.generic)):
        # numpy hands back scalars from ops on 0-d arrays: those are the cpu's too
        return NUMPY
    if _test_backend is not None and type(array) is _test_backend.array_type:
        return _test_backend
    return NUMPY if _cuda_backend is None else _cuda_backend
