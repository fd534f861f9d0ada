"""Engine test settings: ``GRADVIZ_TEST_DEVICE`` runs the engine's tests on the strict test
backend (``engine/_backend_strict.py``: numpy arrays that refuse every implicit crossing to
host numpy, as CuPy's do), so that any op which silently falls back to numpy fails.

- ``GRADVIZ_TEST_DEVICE=strict``: the strict backend takes the cpu's place and reads as
  ``cpu`` in every message, so ``tests/engine/reference.py``'s ``make()`` (and every factory,
  ``.cpu()`` and ``.to('cpu')`` a test calls) builds tensors there, while the comparisons
  with torch's CPU build (values after an explicit ``.cpu().numpy()``, node names, error
  texts) hold unchanged. Only what must share host memory stays numpy (``from_numpy``).
- ``GRADVIZ_TEST_DEVICE=strict-cuda``: the strict backend stands in for CUDA and every test
  starts with the default device ``cuda``; messages then name cuda as PyTorch's do on a GPU
  (``torch.cuda.FloatTensor``, ``"..._cuda" not implemented``), so only tests that compare
  no device-specific text apply (for running a selection by hand).
- ``GRADVIZ_TEST_DEVICE=cpu-with-cuda``: the strict backend stands in for CUDA but the
  default device stays cpu, as on a GPU machine where CuPy is loaded and a script trains on
  the CPU: no numpy tensor may be routed to the device backend.

``test_strict_backend.py`` runs the engine suite in subprocesses with ``strict`` and
``cpu-with-cuda``.
"""

from __future__ import annotations

import os

import pytest

MODE = os.environ.get("GRADVIZ_TEST_DEVICE", "")
if MODE not in ("", "strict", "strict-cuda", "cpu-with-cuda"):
    raise pytest.UsageError("GRADVIZ_TEST_DEVICE must be 'strict', 'strict-cuda' or "
                            f"'cpu-with-cuda', not {MODE!r}")

if MODE:
    from engine._backend_strict import StrictBackend
    from engine._device import register_test_backend

    register_test_backend(StrictBackend("cpu" if MODE == "strict" else "cuda"))


@pytest.fixture(autouse=bool(MODE))
def _strict_default_device():
    import engine

    dev = "cuda" if MODE == "strict-cuda" else "cpu"
    engine.set_default_device(dev)
    yield
    engine.set_default_device(dev)
