"""The CuPy backend for ``device='cuda'`` (optional extra: cupy-cuda12x / cupy-cuda13x)."""

from __future__ import annotations

import cupy
import cupyx
import numpy as np

from ._backend import Backend


class CupyBackend(Backend):
    def __init__(self):
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy found no CUDA device")
        super().__init__("cuda", cupy)
        from ._device import device

        self.device = device("cuda", 0)

    def to_host(self, a) -> np.ndarray:
        return cupy.asnumpy(a)

    def from_host(self, a):
        return cupy.asarray(a)

    def asarray(self, obj, dtype=None):
        if isinstance(obj, (list, tuple)):
            obj = np.asarray(obj, dtype=dtype)
        return cupy.asarray(obj, dtype=dtype)

    def scatter_add(self, target, index, values) -> None:
        cupyx.scatter_add(target, index, values)

    def synchronize(self) -> None:
        cupy.cuda.Device().synchronize()

    def seed(self, s: int):
        return cupy.random.default_rng(s)
