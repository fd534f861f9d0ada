"""GPU tests proper: the engine on CuPy (``device='cuda'``) against the engine on numpy.

Marked ``gpu``; every test skips (one reason, saying why) where CuPy or a CUDA device is
absent. Runs without pytest too, as a plain script that prints ``N passed, N failed``::

    PYTHONPATH=. python tests/engine/test_gpu.py

(``benchmarks/gpu_check.sh`` runs it on a lent GPU machine.) With
``GRADVIZ_GPU_TESTS_ON_STRICT=1`` the strict test backend stands in for CUDA, so these very
tests are exercised on machines without a GPU too (``test_strict_backend.py`` does that).
"""

from __future__ import annotations

import os
import sys
import time
import traceback

import numpy as np

try:
    import pytest
except ImportError:  # the lent GPU machines may have no pytest
    pytest = None

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))

import engine  # noqa: E402
from engine import _device  # noqa: E402

ON_STRICT = os.environ.get("GRADVIZ_GPU_TESTS_ON_STRICT") == "1"
if ON_STRICT:
    from engine._backend_strict import StrictBackend

    _device.register_test_backend(StrictBackend("cuda"))


def _why_no_gpu():
    if engine.cuda.is_available():
        return None
    detail = (_device._cuda_error or "").replace(_device.CUDA_HELP, "").strip(" ()")
    return f"no GPU backend: needs CuPy and a CUDA device ({detail or 'CuPy not found'})"


SKIP_REASON = _why_no_gpu()
if pytest is not None:
    pytestmark = [pytest.mark.gpu]
    if SKIP_REASON:
        pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))


def _params(argname, values):
    """``pytest.mark.parametrize`` that the plain-script runner below understands too."""
    values = list(values)

    def deco(fn):
        fn._gpu_params = (argname, values)
        return pytest.mark.parametrize(argname, values)(fn) if pytest is not None else fn

    return deco


CUDA = engine.device("cuda", 0)
CPU = engine.device("cpu")
RNG = np.random.default_rng(3)


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


def positive(*shape, dtype=np.float32):
    return np.asarray(RNG.random(shape) + 0.5).astype(dtype)


def host(t):
    return t.detach().cpu().numpy()


def names(t) -> list:
    out, seen = [], set()

    def walk(fn):
        if fn is None or id(fn) in seen:
            out.append(None if fn is None else "*" + type(fn).__name__)
            return
        seen.add(id(fn))
        out.append(type(fn).__name__)
        for nxt, _ in fn.next_functions:
            walk(nxt)

    walk(t.grad_fn)
    return out


def close(a, b, rtol=1e-4, atol=1e-4, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def run_on(dev, fn, arrays):
    ts = [engine.tensor(a, device=dev, requires_grad=a.dtype.kind == "f")
          if isinstance(a, np.ndarray) else a for a in arrays]
    out = fn(engine, *ts)
    if out.requires_grad:
        seed = np.linspace(-1.0, 1.0, out.numel()).reshape(tuple(out.shape))
        out.backward(engine.tensor(seed.astype(np.float32), device=dev))
    grads = [t.grad for t in ts if isinstance(t, engine.Tensor) and t.requires_grad]
    return out, grads


# --- every op family: cuda gives cpu's values, node names and gradients ---------------------
def _setitem(L, a, v):
    b = a * 1
    b[0] = v
    b[1:, 1] = 2.0
    b[L.tensor([2, 2], device=a.device)] += v
    b.mul_(1.5)
    return b


OPS = {
    "add_broadcast": (lambda L, a, b: a + b, (randn(2, 3), randn(3))),
    "scalars": (lambda L, a, b: 0.5 * a * b - 2 + 1 / (b.abs() + 1), (randn(2, 3), randn(2, 3))),
    "div_pow": (lambda L, a, b: a / b + a ** 2 + b ** a + 2 ** a, (positive(3), positive(3))),
    "remainder": (lambda L, a, b: a % b, (positive(4) * 3, positive(4))),
    "unary": (lambda L, a: a.exp() + a.tanh() + a.sigmoid() + a.abs().sqrt() + a.sin()
              + a.relu(), (randn(2, 3),)),
    "log_clamp": (lambda L, a: L.log(a) * a.clamp(min=0.7, max=1.2), (positive(5),)),
    "maximum_where": (lambda L, a, b: L.maximum(a, b) + L.where(a > b, a, b * 2),
                      (randn(3), randn(3))),
    "sum_mean": (lambda L, a: a.sum() + a.sum(1).mean() + a.mean(0, keepdim=True).sum(),
                 (randn(3, 4),)),
    "builtin_sum": (lambda L, a: sum(a), (randn(3),)),
    "max_min": (lambda L, a: a.max() - a.min() + a.max(1)[0].sum() + a.min(0).values.sum(),
                (randn(3, 4),)),
    "mm": (lambda L, a, b: a.mm(b), (randn(4, 3), randn(3, 2))),
    "matmul_batched": (lambda L, a, b: a @ b, (randn(2, 4, 3), randn(3, 5))),
    "bmm": (lambda L, a, b: L.matmul(a, b), (randn(2, 4, 3), randn(2, 3, 2))),
    "addmm_outer": (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0).sum()
                    + L.outer(c, c).sum(), (randn(2), randn(3, 4), randn(4, 2))),
    "shape": (lambda L, a: a.view(4, 3).t() + a.reshape(4, 3).T + a.t().reshape(4, 3).t(),
              (randn(3, 4),)),
    "expand_cat_stack": (lambda L, a, b: L.cat([a, b], 0).sum(0) + L.stack([a, b]).sum(1)
                         .sum(0) + a[:1].expand(2, 3).sum(0), (randn(2, 3), randn(2, 3))),
    "select_slice": (lambda L, a: a[0] + a[1:, ::2].sum(0).sum() + a[..., -1].sum(),
                     (randn(3, 4),)),
    "mask": (lambda L, a: a[a > 0].sum() + a.masked_fill(a < 0, 0.5).sum(), (randn(3, 4),)),
    "index_duplicates": (lambda L, a: a[[0, 0, 2]] * 2, (randn(3, 4),)),
    "gather_index_select": (lambda L, a: a.gather(1, L.tensor([[0, 0], [1, 3], [2, 2]],
                                                              device=a.device)).sum()
                            + a.index_select(0, L.tensor([2, 2], device=a.device)).sum(),
                            (randn(3, 4),)),
    "softmax": (lambda L, a: a.softmax(1) + a.log_softmax(0), (randn(3, 4),)),
    "mse": (lambda L, a, b: L.nn.functional.mse_loss(a, b), (randn(3, 4), randn(3, 4))),
    "cross_entropy": (lambda L, a, t: L.nn.functional.cross_entropy(a, t),
                      (randn(5, 4), np.array([0, 3, 3, 1, 2]))),
    "setitem_inplace": (_setitem, (randn(3, 4), randn(4))),
}


@_params("name", sorted(OPS))
def test_op_family_on_cuda_matches_cpu(name):
    fn, arrays = OPS[name]
    c_out, c_grads = run_on(CPU, fn, arrays)
    g_out, g_grads = run_on(CUDA, fn, arrays)
    assert g_out.device == CUDA and g_out.dtype == c_out.dtype
    close(host(g_out), host(c_out), what=f"{name} value")
    assert names(g_out) == names(c_out), f"{name} graph"
    assert len(g_grads) == len(c_grads)
    for i, (g, c) in enumerate(zip(g_grads, c_grads)):
        assert g.device == CUDA
        close(host(g), host(c), what=f"{name} grad {i}")


def test_inplace_updates_on_cuda():
    x = engine.zeros(2, 3, device=CUDA)
    x.copy_(engine.ones(3))  # from the host, broadcast
    x[x > 0] = 4.0
    assert x.tolist() == [[4.0] * 3] * 2
    x.add_(engine.ones(2, 3, device=CUDA), alpha=0.5)
    assert x.tolist() == [[4.5] * 3] * 2
    x.zero_()
    assert x.tolist() == [[0.0] * 3] * 2


def test_duplicate_indices_add_up_on_cuda():
    a = engine.tensor([1.0, 2.0, 3.0], device=CUDA, requires_grad=True)
    a[engine.tensor([0, 0, 0, 2], device=CUDA)].sum().backward()
    assert a.grad.tolist() == [3.0, 0.0, 1.0]


def test_gradcheck_on_cuda():
    x = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=engine.float64, device=CUDA,
                      requires_grad=True)
    w = engine.tensor(np.linspace(0.5, 1.5, 12).reshape(3, 4), dtype=engine.float64,
                      device=CUDA, requires_grad=True)
    assert engine.autograd.gradcheck(lambda a, b: (a @ b).tanh().softmax(1), (x, w))


def test_seed_example_1_on_cuda():
    with engine.device("cuda"):
        x = engine.autograd.Variable(engine.Tensor([2, 4]), requires_grad=True)
        y = x**2
        o = (1 / 2) * sum(y)
        assert repr(o) == "tensor(10., device='cuda:0', grad_fn=<MulBackward0>)"
        o.backward()
        assert repr(x.grad) == "tensor([2., 4.], device='cuda:0')"


def _seed_loop(device, steps=20):
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((64, 1000)), dtype=engine.float32, device=device)
    y = engine.tensor(rng.standard_normal((64, 10)), dtype=engine.float32, device=device)
    w1 = engine.tensor(rng.standard_normal((1000, 100)), dtype=engine.float32, device=device,
                       requires_grad=True)
    w2 = engine.tensor(rng.standard_normal((100, 10)), dtype=engine.float32, device=device,
                       requires_grad=True)
    losses = []
    for _ in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with engine.no_grad():
            w1 -= 1e-6 * w1.grad
            w2 -= 1e-6 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses


def test_seed_example_2_on_cuda_follows_cpu():
    gpu, cpu = _seed_loop(CUDA), _seed_loop(CPU)
    assert gpu[-1] < gpu[0]
    close(gpu, cpu, rtol=1e-3, atol=0, what="losses")


@_params("opt_name", ["SGD", "Adam"])
def test_nn_and_optim_on_cuda_follow_cpu(opt_name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    labels = rng.integers(0, 4, 32)
    results = []
    for dev in (CPU, CUDA):
        engine.manual_seed(0)
        nn = engine.nn
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))  # cpu init
        model.to(dev)
        opt = (engine.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "SGD"
               else engine.optim.Adam(model.parameters(), lr=0.01))
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(model(engine.tensor(x, device=dev)),
                                         engine.tensor(labels, device=dev))
            loss = loss + nn.MSELoss()(model(engine.tensor(x, device=dev)).softmax(1),
                                       engine.zeros(32, 4, device=dev))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(p.device == dev for p in model.parameters())
        results.append((losses, [host(p) for p in model.parameters()]))
    (cl, cp), (gl, gp) = results
    close(gl, cl, rtol=1e-4, atol=1e-5, what="losses")
    for i, (g, c) in enumerate(zip(gp, cp)):
        close(g, c, rtol=1e-3, atol=1e-5, what=f"parameter {i}")


def test_pytorch_cuda_semantics():
    t = engine.ones(3, device="cuda")
    assert t.is_cuda and t.device == CUDA and t.type() == "torch.cuda.FloatTensor"
    try:
        t.numpy()
        raise AssertionError("numpy() of a cuda tensor must raise")
    except TypeError as exc:
        assert str(exc) == ("can't convert cuda:0 device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
    assert t.cpu().numpy().tolist() == [1.0] * 3 and t.sum().item() == 3.0
    for fn in (lambda: t + engine.ones(3), lambda: engine.cat([t, engine.ones(3)]),
               lambda: t.reshape(3, 1).mm(engine.ones(1, 3))):
        try:
            fn()
            raise AssertionError("mixed devices must raise")
        except RuntimeError as exc:
            assert str(exc).startswith("Expected all tensors to be on the same device, but "
                                       "found at least two devices, cuda:0 and cpu!"), exc
    w = engine.randn(2, 3, requires_grad=True)
    (w.cuda() * 3).sum().backward()
    assert w.grad.device == CPU and w.grad.tolist() == [[3.0] * 3] * 2
    try:
        engine.arange(4.0, device="cuda")[engine.tensor([0, 5], device="cuda")]
        raise AssertionError("an index out of range must raise")
    except IndexError as exc:
        assert str(exc) == "index 5 is out of bounds for dimension 0 with size 4"
    engine.cuda.synchronize()
    assert isinstance(engine.cuda.get_device_name(), str)


def test_random_stream_on_cuda():
    engine.cuda.manual_seed(7)
    a = engine.randn(1000, device="cuda")
    engine.cuda.manual_seed(7)
    b = engine.randn(1000, device="cuda")
    assert a.is_cuda and a.tolist() == b.tolist()
    values = a.cpu().numpy()
    assert abs(values.mean()) < 0.2 and 0.8 < values.std() < 1.2
    r = engine.rand(500, device="cuda")
    assert 0 <= r.min().item() and r.max().item() < 1
    p = engine.randperm(10, device="cuda")
    assert sorted(p.tolist()) == list(range(10))
    i = engine.randint(0, 5, (100,), device="cuda")
    assert i.dtype == engine.int64 and 0 <= i.min().item() and i.max().item() < 5


def test_backend_has_every_function_the_ops_use():
    b = _device._load_cuda()
    assert not getattr(b, "missing", ()), f"CuPy lacks {b.missing}"


# --- the plain-script runner ----------------------------------------------------------------
def _cases():
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            params = getattr(fn, "_gpu_params", None)
            if params is None:
                yield name, fn, {}
            else:
                argname, values = params
                for v in values:
                    yield f"{name}[{v}]", fn, {argname: v}


def main() -> int:
    if SKIP_REASON:
        print(f"gpu tests skipped: {SKIP_REASON}")
        print("0 passed, 0 failed")
        return 0
    print(f"gpu tests on: {engine.cuda.get_device_name()}", flush=True)
    passed = failed = 0
    for name, fn, kwargs in _cases():
        start = time.perf_counter()
        try:
            fn(**kwargs)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAILED {name}\n{traceback.format_exc()}", flush=True)
        else:
            passed += 1
            print(f"passed {name} ({time.perf_counter() - start:.2f} s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
