"""The CuPy backend for ``device='cuda'`` (optional extra: cupy-cuda12x / cupy-cuda13x).

Op code calls the same ``B.xxx`` functions as on numpy; what differs lives here: host copies
(``cupy.asnumpy``), scatter-add (duplicate indices must add up: never ``a[idx] += g``), the
random stream (``cupy.random.Generator``: no ``permutation``), and numpy functions a CuPy
release may lack (shape-only helpers fall back to numpy's; anything else fails with one
line naming it, instead of making the whole device unavailable).

The strict test backend (``_backend_strict.py``) models this one on machines without a GPU.
"""

from __future__ import annotations

import cupy
import numpy as np

from ._backend import ARRAY_FUNCTIONS, Backend

# functions of numpy's that take shapes, not arrays: numpy's own are right for CuPy too
_HOST_FALLBACKS = {"broadcast_shapes": np.broadcast_shapes}


def _missing(name: str):
    def fn(*args, **kwargs):
        raise NotImplementedError(
            f"gradviz's engine needs cupy.{name}, which CuPy {cupy.__version__} lacks; "
            "upgrade CuPy or use device='cpu'"
        )

    fn.__name__ = name
    return fn


def _scatter_add():
    try:
        import cupyx

        fn = getattr(cupyx, "scatter_add", None)
        if fn is not None:
            return fn
    except ImportError:  # pragma: no cover - cupyx ships with cupy
        pass
    return cupy.add.at


class CupyBackend(Backend):
    def __init__(self):
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy found no CUDA device")
        # Backend.__init__, tolerant of functions this CuPy release does not have
        self.name = "cuda"
        self.xp = cupy
        missing = []
        for fn in ARRAY_FUNCTIONS:
            f = getattr(cupy, fn, None)
            if f is None:
                f = _HOST_FALLBACKS.get(fn)
                if f is None:
                    missing.append(fn)
                    f = _missing(fn)
            setattr(self, fn, f)
        self.missing = tuple(missing)
        self.float_types = (cupy.float16, cupy.float32, cupy.float64)
        self._scatter = _scatter_add()
        from ._device import device

        self.device = device("cuda", 0)

    def device_name(self) -> str:
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def to_host(self, a) -> np.ndarray:
        return cupy.asnumpy(a)

    def from_host(self, a):
        return cupy.asarray(a)

    def asarray(self, obj, dtype=None):
        if isinstance(obj, (list, tuple)):
            obj = np.asarray(obj, dtype=dtype)
        return cupy.asarray(obj, dtype=dtype)

    def scatter_add(self, target, index, values) -> None:
        self._scatter(target, index, values)

    def synchronize(self) -> None:
        cupy.cuda.Device().synchronize()

    def seed(self, s: int):
        return cupy.random.default_rng(s)

    def permutation(self, rng, n: int):
        # cupy.random.Generator has no permutation: sort random keys instead
        return rng.random((n,)).argsort()

    def empty_cache(self) -> None:
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()
