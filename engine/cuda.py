"""``torch.cuda``: availability, synchronisation and seeding of the CuPy backend.

Without CuPy or a GPU, ``is_available()`` is False, ``synchronize()`` and ``manual_seed`` do
nothing harmful, and anything that needs the device raises the one-line ``CUDA_HELP`` error
that says what to install.
"""

from __future__ import annotations

from ._device import CUDA_HELP, _load_cuda, cuda_available

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all",
           "current_device", "get_device_name", "is_initialized", "empty_cache"]


def is_available() -> bool:
    """True where CuPy is installed and sees a CUDA device."""
    return cuda_available()


def is_initialized() -> bool:
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
    return b.device_name()


def synchronize(device=None) -> None:
    """Wait for every queued kernel (timings of GPU work need it); a no-op without a GPU."""
    b = _load_cuda()
    if b is not None:
        b.synchronize()


def empty_cache() -> None:
    """Give CuPy's cached device memory back to the driver; a no-op without a GPU."""
    b = _load_cuda()
    if b is not None and hasattr(b, "empty_cache"):
        b.empty_cache()


def manual_seed(seed: int) -> None:
    """Seed the engine's random stream. The engine keeps one seed for every device (each
    device draws its own sequence from it), so this reseeds the cpu stream too."""
    from ._ops.creation import default_generator

    default_generator.manual_seed(seed)


manual_seed_all = manual_seed
