"""Cheap statistics of engine arrays, computed on the device the array lives on: only a few
scalars cross to the host (never the whole array)."""

from __future__ import annotations

import math

from engine._device import backend_of

from .trace import TensorSummary


def norm(a) -> float:
    """Euclidean norm of an array (one BLAS dot for float arrays)."""
    if a is None:
        return 0.0
    # the array's own methods (numpy's and CuPy's alike): no module-level wrapper per call
    flat = a.reshape(-1)
    if flat.dtype.kind != "f":
        flat = flat.astype("float64")
    return math.sqrt(float(flat.dot(flat)))


def summarize(a) -> TensorSummary | None:
    """Shape, norm, min, max, mean and the NaN/Inf count of ``a``."""
    if a is None:
        return None
    B = backend_of(a)
    shape = tuple(a.shape)
    if a.size == 0:
        return TensorSummary(shape, 0.0)
    flat = B.reshape(a, (-1,))
    if flat.dtype.kind == "b":
        flat = flat.astype("float32")
    n = float(B.dot(flat, flat)) if flat.dtype.kind == "f" else float(B.sum(flat * flat))
    if math.isfinite(n):
        # a finite sum of squares means every element is finite: skip the NaN scan
        return TensorSummary(shape, math.sqrt(n), float(B.amin(flat)), float(B.amax(flat)),
                             float(B.mean(flat)), 0)
    finite = B.isfinite(flat)
    bad = int(flat.size - int(B.count_nonzero(finite)))
    good = flat[finite]
    if good.size == 0:
        return TensorSummary(shape, float("nan"), float("nan"), float("nan"), float("nan"), bad)
    return TensorSummary(shape, float("nan") if bad else math.sqrt(n), float(B.amin(good)),
                         float(B.amax(good)), float(B.mean(good)), bad)
