"""``torch.cuda``: availability and synchronisation of the CuPy backend."""

from __future__ import annotations

from ._device import CUDA_HELP, _load_cuda, cuda_available

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all",
           "current_device", "get_device_name"]


def is_available() -> bool:
    """True where CuPy is installed and sees a CUDA device."""
    return cuda_available()


def device_count() -> int:
    return 1 if cuda_available() else 0


def current_device() -> int:
    if not cuda_available():
        raise RuntimeError(CUDA_HELP)
    return 0


def get_device_name(device=None) -> str:
    b = _load_cuda()
    if b is None:
        raise RuntimeError(CUDA_HELP)
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


def synchronize(device=None) -> None:
    b = _load_cuda()
    if b is not None:
        b.synchronize()


def manual_seed(seed: int) -> None:
    from ._ops.creation import default_generator

    default_generator.manual_seed(seed)


manual_seed_all = manual_seed
