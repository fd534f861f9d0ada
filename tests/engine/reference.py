"""Differential testing against real PyTorch: run the same function on both, compare.

``check(fn, *inputs)`` runs ``fn(lib, *tensors)`` once with ``lib = engine`` and once with
``lib = torch`` on tensors built from the same numpy ``inputs`` and compares: the forward
values (and dtype and shape), the grad_fn name chain, and, after ``backward`` with the same
upstream gradient, every input's ``.grad``.

``make()`` builds engine tensors on the default device, so with ``GRADVIZ_TEST_DEVICE=strict``
(``conftest.py``) every check runs on the strict test backend; ``to_numpy`` reads values back
explicitly (``.cpu().numpy()``), as a CUDA tensor requires.
"""

from __future__ import annotations

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")

LIBS = {"engine": engine, "torch": torch}


def make(lib, array, requires_grad=False):
    arr = np.asarray(array)
    t = lib.tensor(arr.copy())
    if requires_grad:
        t.requires_grad_(True)
    return t


def to_numpy(t):
    if isinstance(t, (int, float, bool)):
        return np.asarray(t)
    return t.detach().cpu().numpy()


def name_chain(t) -> list[str]:
    """Node names in a depth-first walk of the graph from ``t.grad_fn`` (next_functions order),
    each node visited once, with (None, n) entries recorded as 'None'."""
    out: list[str] = []
    seen: set[int] = set()

    def walk(fn):
        if fn is None:
            out.append("None")
            return
        if id(fn) in seen:
            out.append("*" + type(fn).__name__)
            return
        seen.add(id(fn))
        out.append(type(fn).__name__)
        for nxt, nr in fn.next_functions:
            walk(nxt)
            out.append(f"#{nr}")

    walk(getattr(t, "grad_fn", None))
    return out


def assert_close(a, b, rtol=1e-5, atol=1e-6, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def run(lib, fn, inputs, grad_flags, seed_grad):
    tensors = [make(lib, a, g) if isinstance(a, np.ndarray) else a
               for a, g in zip(inputs, grad_flags)]
    out = fn(lib, *tensors)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    grads = None
    diff = [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad]
    if diff and any(grad_flags):
        o = diff[0]
        upstream = seed_grad(o.shape)
        o.backward(lib.tensor(upstream.astype(to_numpy(o).dtype)))
        grads = [t.grad if hasattr(t, "grad") and g else None
                 for t, g in zip(tensors, grad_flags)]
    return outs, grads


def check(fn, *inputs, grad=None, rtol=1e-5, atol=1e-6, names=True, dtype_check=True):
    """Compare ``fn(lib, *inputs)`` in the engine and in torch. ``inputs`` are numpy arrays
    (turned into tensors) or plain Python values (passed as they are). ``grad``: which
    array inputs require grad (default: every floating one)."""
    if grad is None:
        grad = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in inputs]
    rng = np.random.default_rng(0)
    cache: dict = {}

    def seed_grad(shape):
        key = tuple(shape)
        if key not in cache:
            cache[key] = rng.standard_normal(key) if key else np.asarray(rng.standard_normal())
        return cache[key]

    e_outs, e_grads = run(engine, fn, inputs, grad, seed_grad)
    t_outs, t_grads = run(torch, fn, inputs, grad, seed_grad)
    assert len(e_outs) == len(t_outs)
    for i, (e, t) in enumerate(zip(e_outs, t_outs)):
        if not hasattr(t, "shape"):
            assert e == t if not isinstance(t, float) else abs(e - t) <= atol + rtol * abs(t)
            continue
        if dtype_check:
            assert str(e.dtype) == str(t.dtype), f"output {i} dtype {e.dtype} != {t.dtype}"
        assert tuple(e.shape) == tuple(t.shape), f"output {i} shape {e.shape} != {t.shape}"
        assert_close(to_numpy(e), to_numpy(t), rtol, atol, f"output {i} value")
        if names:
            assert name_chain(e) == name_chain(t), f"output {i} graph"
    if t_grads is not None:
        assert e_grads is not None
        for i, (eg, tg) in enumerate(zip(e_grads, t_grads)):
            if tg is None:
                assert eg is None, f"input {i}: engine has a grad, torch has none"
                continue
            assert eg is not None, f"input {i}: torch has a grad, engine has none"
            assert_close(to_numpy(eg), to_numpy(tg), rtol, atol, f"grad of input {i}")
    return e_outs, t_outs
