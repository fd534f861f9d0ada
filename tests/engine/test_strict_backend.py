"""The CUDA path proven on a CPU: the strict test backend (``engine/_backend_strict.py``, numpy
arrays that refuse every implicit crossing to host numpy, as CuPy's do).

- the wrapper itself refuses what CuPy refuses and keeps numpy's view semantics;
- the engine's whole test suite (differential tests of every op family, nn, optim, autograd)
  passes in a subprocess with the strict backend in the cpu's place
  (``GRADVIZ_TEST_DEVICE=strict``, see ``conftest.py``), and in another with it loaded as
  the cuda backend while tensors stay on numpy (``cpu-with-cuda``);
- with the strict backend standing in for CUDA: every op family against torch, nn + optim
  training steps, autograd semantics, and PyTorch's CUDA behaviour (``.numpy()``'s error,
  the mixed-device error, ``.cpu()`` / ``.cuda()``, reprs, no device syncs in a step);
- without a GPU backend, cuda fails with the one-line CUDA_HELP error;
- the GPU check (``tests/engine/test_gpu.py`` as a script, ``benchmarks/gpu_scaled_loop.py``,
  ``benchmarks/gpu_check.sh``) runs here: with the strict backend standing in, or saying why
  it has nothing to do.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import engine
from engine._backend_strict import SYNCS, StrictArray, StrictBackend
from engine._device import CUDA_HELP, register_test_backend

from .reference import assert_close, check, to_numpy, torch

ROOT = Path(__file__).resolve().parents[2]
MODE = os.environ.get("GRADVIZ_TEST_DEVICE", "")  # see conftest.py
RNG = np.random.default_rng(5)
# inside the strict subprocess only the first test runs (the rest registers backends itself)
pytestmark = [] if not MODE else [pytest.mark.usefixtures("_only_the_first")]


@pytest.fixture
def _only_the_first(request):
    if request.node.name != "test_make_builds_on_the_strict_backend":
        pytest.skip("already running on the strict backend")


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


def positive(*shape, dtype=np.float32):
    return np.asarray(RNG.random(shape) + 0.5).astype(dtype)


def test_make_builds_on_the_strict_backend():
    """(Also runs inside the strict subprocesses: proof of where their tensors live.)"""
    from .reference import make

    t = make(engine, np.ones(3, np.float32), True)
    if MODE == "strict":
        assert isinstance(t._data, StrictArray) and t.device == engine.device("cpu")
    elif MODE == "strict-cuda":
        assert isinstance(t._data, StrictArray) and t.device == engine.device("cuda:0")
    else:  # plain, or cpu-with-cuda: numpy tensors, whatever backend stands for cuda
        assert isinstance(t._data, np.ndarray)
        if MODE == "cpu-with-cuda":
            assert engine.cuda.is_available()


# --- the wrapper ----------------------------------------------------------------------------
@pytest.fixture
def B():
    return StrictBackend()


REFUSED = {
    "np.asarray": lambda a: np.asarray(a),
    "np.array": lambda a: np.array(a),
    "array_interface": lambda a: a.__array_interface__,
    "buffer": lambda a: memoryview(a),
    "tolist": lambda a: a.tolist(),
    "float of 1-d": lambda a: float(a[:1]),
    "int of 1-d": lambda a: int(a[:1]),
    "index of 1-d": lambda a: [0, 1][a[:1].astype(np.int64)],
    "numpy ufunc": lambda a: np.exp(a),
    "numpy function": lambda a: np.sum(a),
    "numpy add.at": lambda a: np.add.at(a, [0], 1.0),
    "host operand": lambda a: a + np.ones(3),
    "host on the left": lambda a: np.ones(3) * a,
    "backend call with host array": lambda a: StrictBackend().add(a, np.ones(3)),
    "host index": lambda a: a[np.array([0, 1])],
    "host value": lambda a: a.__setitem__(slice(None), np.zeros(3)),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_implicit_host_crossings_are_refused(B, name):
    a = B.from_host(np.arange(3.0))
    with pytest.raises(TypeError) as info:
        REFUSED[name](a)
    message = str(info.value)
    assert ("Implicit conversion to a NumPy array is not allowed" in message
            or "was called on a device array" in message or "host numpy array was mixed"
            in message or "more than zero dimensions" in message
            or "bytes-like object is required" in message), message
    assert getattr(a, "__array_interface__", None) is None  # as on CuPy: no such attribute


def test_cupy_like_results_and_views(B):
    a = B.from_host(np.arange(6.0).reshape(2, 3))
    s = B.sum(a)
    assert type(s) is StrictArray and s.shape == () and float(s) == 15.0  # 0-d, never scalar
    assert type(a[0, 1]) is StrictArray and a[0, 1].item() == 1.0
    row = a[1]
    row[1:] = 9.0  # basic indexing: a view that writes through
    a[0, 0] = B.asarray(-1.0)
    assert B.to_host(a).tolist() == [[-1.0, 1.0, 2.0], [3.0, 9.0, 9.0]]
    out = B.zeros((2, 3))
    assert B.add(a, 1, out=out) is out
    assert a.astype(np.float64, copy=False) is a
    assert type(np.float32(2) * a) is StrictArray  # a numpy scalar operand is an operator
    v = a.view()
    v.shape = (3, 2)  # CuPy's in-place reshape, refused where a copy would be needed
    with pytest.raises(AttributeError):
        t = a.T.view()
        t.shape = (6,)
    host = B.to_host(a)
    host[:] = 0
    assert B.to_host(a)[0, 1] == 1.0  # to_host copies (cupy.asnumpy)
    g = B.zeros((3,))
    B.scatter_add(g, B.asarray([0, 0, 2]), B.asarray([1.0, 1.0, 1.0]))
    assert B.to_host(g).tolist() == [2.0, 0.0, 1.0]  # duplicate indices add up
    rng = B.seed(0)
    assert not hasattr(rng, "permutation")  # cupy.random.Generator has none
    assert sorted(B.to_host(B.permutation(rng, 5)).tolist()) == [0, 1, 2, 3, 4]


def test_scalar_reads_are_counted_as_syncs(B):
    a = B.from_host(np.arange(3.0))
    before = SYNCS[0]
    a[0].item()
    float(B.sum(a))
    bool(B.any(a))
    B.to_host(a)
    assert SYNCS[0] - before == 4


# --- the whole engine suite on the strict backend (a subprocess) ----------------------------
# The events tests' own listener reads the arrays it is handed with ``np.asarray``: the
# listener API hands over the engine's own arrays (numpy or CuPy, see engine/events.py), and a
# listener of a device run must copy them explicitly, so those three tests are for numpy only.
HOST_BY_DESIGN = [
    "tests/engine/test_events.py::test_seed_example_1_events_in_execution_order",
    "tests/engine/test_events.py::test_accumulation_before_and_after_and_zeroing",
    "tests/engine/test_events.py::test_inplace_update_event_and_failure_event",
]


def test_engine_suite_passes_on_the_strict_backend():
    """The engine's test suite twice, in parallel subprocesses (``conftest.py``):

    - ``strict``: every differential test (arithmetic, pointwise, reductions, min/max,
      linalg, shape, indexing and setitem, softmax/losses), nn, optim, autograd, Function,
      gradcheck, in-place and error tests with the engine's tensors on the strict backend:
      an op that reaches host numpy implicitly fails there;
    - ``cpu-with-cuda``: numpy tensors while a device backend is loaded (a GPU machine
      training on the CPU): nothing may route a numpy array to the device backend.
    """
    runs = {}
    for mode in ("strict", "cpu-with-cuda"):
        cmd = [sys.executable, "-m", "pytest", "tests/engine", "-q", "-p", "no:cacheprovider",
               "--ignore=tests/engine/test_gpu.py", "-o", "addopts=--strict-markers"]
        if mode == "strict":
            for node in HOST_BY_DESIGN:
                cmd += ["--deselect", node]
        env = dict(os.environ, GRADVIZ_TEST_DEVICE=mode, PYTHONPATH=str(ROOT))
        runs[mode] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
    start = time.monotonic()
    for mode, proc in runs.items():
        try:
            out, _ = proc.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        tail = f"[{mode}]\n{out[-6000:]}"
        assert proc.returncode == 0, tail
        passed = int(re.search(r"(\d+) passed", out).group(1))
        assert passed > 2000, tail
    assert time.monotonic() - start < 60, "the strict runs must stay under a minute"


# --- the strict backend standing in for CUDA --------------------------------------------------
@pytest.fixture
def cuda():
    """The strict backend as ``cuda``, the default device while the test runs."""
    restore = register_test_backend(StrictBackend("cuda"))
    engine.set_default_device("cuda")
    try:
        yield engine.device("cuda", 0)
    finally:
        restore()


OPS = {
    # arithmetic, with broadcasting and Python numbers on either side
    "add": (lambda L, a, b: a + b, (randn(2, 3), randn(3))),
    "sub_alpha": (lambda L, a, b: L.sub(a, b, alpha=2), (randn(2, 3), randn(2, 1))),
    "mul_scalar": (lambda L, a, b: 0.5 * a * b - 2, (randn(2, 3), randn(2, 3))),
    "div": (lambda L, a, b: a / b, (randn(2, 3), positive(3))),
    "rsub_rdiv": (lambda L, a: 1 - a + 3 / a, (positive(4),)),
    "pow": (lambda L, a, b: a ** 2 + a ** b + 2 ** b, (positive(3), positive(3))),
    "remainder": (lambda L, a, b: a % b, (positive(4) * 3, positive(4))),
    # pointwise
    "unary": (lambda L, a: a.exp() + a.tanh() + a.sigmoid() + a.abs().sqrt() + a.sin(),
              (randn(2, 3),)),
    "log": (lambda L, a: L.log(a) * a.relu(), (positive(5),)),
    "clamp": (lambda L, a: a.clamp(min=-0.5, max=0.7) + a.clamp(min=0), (randn(3, 4),)),
    "maximum_where": (lambda L, a, b: L.maximum(a, b) + L.where(a > b, a, b * 2),
                      (randn(3), randn(3))),
    # reductions and min / max
    "sum_mean": (lambda L, a: a.sum() + a.sum(1).mean() + a.mean(0, keepdim=True).sum(),
                 (randn(3, 4),)),
    "builtin_sum": (lambda L, a: sum(a), (randn(3),)),
    "max_min": (lambda L, a: a.max() - a.min(), (randn(3, 4),)),
    "max_dim": (lambda L, a: a.max(1)[0] + a.min(0, keepdim=True).values.sum(),
                (randn(3, 4),)),
    "argmax": (lambda L, a: a.argmax(1), (randn(3, 4),)),
    # linear algebra
    "mm": (lambda L, a, b: a.mm(b), (randn(4, 3), randn(3, 2))),
    "matmul_batched": (lambda L, a, b: a @ b, (randn(2, 4, 3), randn(3, 5))),
    "matmul_bmm": (lambda L, a, b: L.matmul(a, b), (randn(2, 4, 3), randn(2, 3, 2))),
    "matmul_transposed_batch": (lambda L, a, b: a.transpose(0, 2) @ b,
                                (randn(3, 2, 4), randn(3, 2))),
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0),
              (randn(2), randn(3, 4), randn(4, 2))),
    "dot_mv_outer": (lambda L, a, b: a.dot(b) + L.mv(L.outer(a, b), b).sum(),
                     (randn(3), randn(3))),
    # shape
    "view_t_T": (lambda L, a: a.view(4, 3).t() + a.reshape(4, 3).T, (randn(3, 4),)),
    "reshape_non_contiguous": (lambda L, a: a.t().reshape(-1), (randn(3, 4),)),
    "squeeze_expand": (lambda L, a: a.unsqueeze(0).expand(2, 3, 1).squeeze(-1).flatten(),
                       (randn(3, 1),)),
    "cat_stack": (lambda L, a, b: L.cat([a, b], 0).sum(0) + L.stack([a, b]).sum(1).sum(0),
                  (randn(2, 3), randn(2, 3))),
    # indexing
    "select_slice": (lambda L, a: a[0] + a[1:, ::2].sum(0).sum() + a[..., -1].sum(),
                     (randn(3, 4),)),
    "mask": (lambda L, a: a[a > 0], (randn(3, 4),)),
    "index_array_duplicates": (lambda L, a: a[[0, 0, 2]] * 2, (randn(3, 4),)),
    "index_tensor_2d": (lambda L, a: a[L.tensor([[1, 0], [2, 2]]), 1:3], (randn(3, 4),)),
    "gather_index_select": (lambda L, a: a.gather(1, L.tensor([[0, 0], [1, 3], [2, 2]]))
                            .sum() + a.index_select(0, L.tensor([2, 2])).sum(),
                            (randn(3, 4),)),
    "masked_fill": (lambda L, a: a.masked_fill(a < 0, 0.5), (randn(3, 4),)),
    # softmax and losses
    "softmax": (lambda L, a: a.softmax(1) + a.log_softmax(0), (randn(3, 4),)),
    "mse": (lambda L, a, b: L.nn.functional.mse_loss(a, b), (randn(3, 4), randn(3, 4))),
    "cross_entropy": (lambda L, a, t: L.nn.functional.cross_entropy(a, t),
                      (randn(5, 4), np.array([0, 3, 3, 1, 2]))),
    "cross_entropy_sum": (lambda L, a, t: L.nn.functional.cross_entropy(a, t, reduction="sum"),
                          (randn(5, 4), np.array([1, 0, 3, 1, 2]))),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_family_on_cuda_matches_torch(cuda, name):
    """Values, node names and gradients against torch (CPU), the engine's side on cuda."""
    fn, inputs = OPS[name]
    e_outs, _ = check(fn, *inputs, rtol=1e-4, atol=1e-5)
    for o in e_outs:
        if hasattr(o, "device"):
            assert o.device == cuda and isinstance(o._data, StrictArray)


def test_setitem_on_cuda_matches_torch(cuda):
    def fn(L, a, v):
        b = a * 1
        b[0] = v
        b[1:, 1] = 2.0
        b[L.tensor([2, 2])] += v
        return b

    check(fn, randn(3, 4), randn(4))


def _twins(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                             ("Adam", {"lr": 0.01, "weight_decay": 0.1})])
@pytest.mark.parametrize("loss_name", ["MSELoss", "CrossEntropyLoss"])
def test_training_steps_on_cuda_match_torch(cuda, opt_name, kwargs, loss_name):
    x = RNG.standard_normal((16, 5))
    y = RNG.standard_normal((16, 3)) if loss_name == "MSELoss" else RNG.integers(0, 3, 16)
    t_model = _twins(torch)
    e_model = _twins(engine).to("cuda")
    e_model.load_state_dict(OrderedDict(
        (k, engine.tensor(v.detach().numpy())) for k, v in t_model.state_dict().items()))
    assert all(p.device == cuda for p in e_model.parameters())
    sides = []
    for lib, model in ((torch, t_model), (engine, e_model)):
        opt = getattr(lib.optim, opt_name)(model.parameters(), **kwargs)
        loss_fn = getattr(lib.nn, loss_name)()
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = loss_fn(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sides.append((model, losses))
    (tm, tl), (em, el) = sides
    np.testing.assert_allclose(el, tl, rtol=1e-10)
    for (n, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert pe.device == cuda
        assert_close(to_numpy(pe), to_numpy(pt), 1e-10, 1e-12, what=n)


def test_autograd_semantics_on_cuda(cuda):
    # the seed's Example 1, on cuda
    x = engine.autograd.Variable(engine.Tensor([2, 4]), requires_grad=True)
    assert repr(x) == "tensor([2., 4.], device='cuda:0', requires_grad=True)"
    y = x**2
    o = (1 / 2) * sum(y)
    assert repr(o) == "tensor(10., device='cuda:0', grad_fn=<MulBackward0>)"
    o.backward(retain_graph=True)
    assert repr(x.grad) == "tensor([2., 4.], device='cuda:0')"
    o.backward()  # accumulates into the same gradient buffer
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
        o.backward()
    # hooks, retain_grad, autograd.grad, zeroing
    w = engine.randn(3, requires_grad=True)
    h = w * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    assert_close(to_numpy(h.grad), 2 * to_numpy(h) * 10)  # retain_grad sees hooked grads
    assert_close(to_numpy(w.grad), 2 * 2 * to_numpy(h) * 10)
    w.grad.zero_()
    assert w.grad.tolist() == [0.0, 0.0, 0.0] and w.grad.device == cuda
    (gw,) = engine.autograd.grad((w**3).sum(), w)
    assert gw.device == cuda
    assert_close(to_numpy(gw), 3 * to_numpy(w) ** 2, 1e-5, 1e-6)
    # in-place changes to saved values are caught, and name cuda's tensor type
    a = engine.randn(2, requires_grad=True)
    b = a * 1
    c = b * b
    b.add_(1)
    with pytest.raises(RuntimeError, match=re.escape("[torch.cuda.FloatTensor [2]]")):
        c.sum().backward()


def test_gradients_cross_devices_back_to_their_leaf():
    restore = register_test_backend(StrictBackend("cuda"))
    try:
        w = engine.randn(2, 3, requires_grad=True)  # cpu leaf
        out = (w.cuda() * 3).sum()
        assert out.device == engine.device("cuda:0")
        out.backward()
        assert w.grad.device == engine.device("cpu") and isinstance(w.grad._data, np.ndarray)
        assert w.grad.tolist() == [[3.0] * 3] * 2
    finally:
        restore()


def test_a_training_step_on_cuda_never_syncs(cuda):
    """Forward, backward and update stay on the device: the only host read of a step is the
    one the script asks for (``loss.item()``). CrossEntropy reads one flag (its target
    bounds check) per forward."""
    x, y = engine.randn(64, 20), engine.randn(64, 5)
    w1 = engine.randn(20, 30, requires_grad=True)
    w2 = engine.randn(30, 5, requires_grad=True)
    before = SYNCS[0]
    for _ in range(3):
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        loss.backward()
        with engine.no_grad():
            w1 -= 1e-6 * w1.grad
            w2 -= 1e-6 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    assert SYNCS[0] == before
    model = engine.nn.Sequential(engine.nn.Linear(20, 30), engine.nn.ReLU(),
                                 engine.nn.Linear(30, 5))
    for opt in (engine.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                engine.optim.Adam(model.parameters())):
        before = SYNCS[0]
        for _ in range(3):
            opt.zero_grad()
            engine.nn.MSELoss()(model(x), y).backward()
            opt.step()
        assert SYNCS[0] == before, type(opt).__name__


# --- PyTorch's CUDA semantics -------------------------------------------------------------------
def test_numpy_of_a_cuda_tensor_is_pytorchs_type_error(cuda):
    t = engine.ones(3)
    with pytest.raises(TypeError) as info:
        t.numpy()
    assert str(info.value) == ("can't convert cuda:0 device type tensor to numpy. Use "
                               "Tensor.cpu() to copy the tensor to host memory first.")
    host = t.cpu()
    assert host.device == engine.device("cpu") and host.numpy().tolist() == [1.0] * 3
    assert t.tolist() == [1.0] * 3 and t.sum().item() == 3.0  # explicit reads work
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor"):
        np.asarray(t)


MIXED = {
    "add": lambda c, h: c + h,
    "mul": lambda c, h: c * h,
    "sub": lambda c, h: engine.sub(c, h),
    "mm": lambda c, h: c.reshape(3, 1).mm(h.reshape(1, 3)),
    "matmul": lambda c, h: c @ h,
    "maximum": lambda c, h: engine.maximum(c, h),
    "where": lambda c, h: engine.where(c > 0, c, h),
    "cat": lambda c, h: engine.cat([c, h]),
    "stack": lambda c, h: engine.stack([c, h]),
    "add_": lambda c, h: c.add_(h),
    "mse_loss": lambda c, h: engine.nn.functional.mse_loss(c, h),
    "linear": lambda c, h: engine.nn.functional.linear(c, h.reshape(1, 3)),
}


@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixed_devices_raise_pytorchs_error(cuda, name):
    c = engine.ones(3)
    h = engine.ones(3, device="cpu")
    with pytest.raises(RuntimeError) as info:
        MIXED[name](c, h)
    assert str(info.value).startswith(
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"), str(info.value)
    if name not in ("where", "cat", "stack", "add_", "linear"):
        with pytest.raises(RuntimeError, match="found at least two devices, cpu and cuda:0!"):
            MIXED[name](h, c)


def test_devices_reprs_and_moves(cuda):
    t = engine.tensor([1.5, 2.0])
    assert t.is_cuda and t.device == engine.device("cuda", 0) and str(t.device) == "cuda:0"
    assert t.type() == "torch.cuda.FloatTensor"
    assert repr(t) == "tensor([1.5000, 2.0000], device='cuda:0')"
    assert t.cuda() is t and t.to("cuda") is t and t.to(cuda) is t
    c = engine.zeros(2, device="cpu").cuda()
    assert c.is_cuda and isinstance(c._data, StrictArray)
    assert engine.randn(2, 2, device=t.device).is_cuda
    assert engine.zeros_like(t).is_cuda and engine.ones(2, device="cuda:0").is_cuda
    x = engine.arange(4.0)[engine.tensor([1, 3], device="cpu")]  # cpu index tensors are fine
    assert x.tolist() == [1.0, 3.0]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 4"):
        engine.arange(4.0)[engine.tensor([0, 5])]
    with pytest.raises(RuntimeError, match=re.escape('"remainder_cuda" not implemented')):
        engine.tensor([True]) % engine.tensor([True])


def test_cuda_module_with_a_device(cuda):
    assert engine.cuda.is_available() and engine.cuda.device_count() == 1
    assert engine.cuda.current_device() == 0
    assert "strict" in engine.cuda.get_device_name()
    engine.cuda.synchronize()
    engine.cuda.empty_cache()
    engine.cuda.manual_seed(3)
    a = engine.randn(4)
    engine.cuda.manual_seed(3)
    assert a.tolist() == engine.randn(4).tolist()
    engine.manual_seed(3)
    p = engine.randperm(6)
    assert p.is_cuda and sorted(p.tolist()) == list(range(6))


# --- no GPU backend here ------------------------------------------------------------------------
@pytest.mark.skipif(engine.cuda.is_available() and not MODE, reason="a real GPU backend")
def test_cuda_without_a_gpu_backend_is_one_clear_error():
    assert not engine.cuda.is_available() and engine.cuda.device_count() == 0
    engine.cuda.synchronize()  # harmless no-ops, as in PyTorch's CPU build
    engine.cuda.manual_seed(1)
    for attempt in (lambda: engine.zeros(2, device=engine.device("cuda")),
                    lambda: engine.tensor([1.0], device="cuda:0"),
                    lambda: engine.ones(2).cuda(),
                    lambda: engine.ones(2).to("cuda"),
                    lambda: engine.set_default_device("cuda"),
                    lambda: engine.cuda.current_device(),
                    lambda: engine.cuda.get_device_name()):
        with pytest.raises(RuntimeError) as info:
            attempt()
        assert str(info.value) == CUDA_HELP
    assert "\n" not in CUDA_HELP and "pip install" in CUDA_HELP
    assert engine.get_default_device() == engine.device("cpu")


def test_no_device_string_selects_the_strict_backend():
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        engine.device("strict")
    restore = register_test_backend(StrictBackend("cpu"))
    try:
        for t in (engine.zeros(2), engine.zeros(2, device="cpu"), engine.ones(2).cpu()):
            assert isinstance(t._data, StrictArray) and t.device == engine.device("cpu")
        shared = engine.from_numpy(np.zeros(2))  # shares host memory: numpy's backend
        assert isinstance(shared._data, np.ndarray)
    finally:
        restore()
    assert isinstance(engine.zeros(2)._data, np.ndarray)


# --- the GPU check: tests/engine/test_gpu.py and benchmarks/gpu_check.sh, ready for a GPU --------
def _have_cupy() -> bool:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


def _run(args, **env):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **env))


def test_gpu_tests_pass_as_a_script_with_the_strict_backend_standing_in():
    """The GPU tests proper, exercised here: the strict backend plays CuPy's part."""
    proc = _run([sys.executable, "tests/engine/test_gpu.py"], GRADVIZ_GPU_TESTS_ON_STRICT="1")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    found = re.search(r"^(\d+) passed, 0 failed$", proc.stdout, re.M)
    assert found and int(found.group(1)) >= 30, proc.stdout[-2000:]


@pytest.mark.skipif(_have_cupy(), reason="CuPy is installed")
def test_gpu_tests_and_benchmark_say_why_they_do_nothing_without_cupy(tmp_path):
    proc = _run([sys.executable, "tests/engine/test_gpu.py"])
    assert proc.returncode == 0
    assert "gpu tests skipped: no GPU backend" in proc.stdout
    assert proc.stdout.strip().endswith("0 passed, 0 failed")
    proc = _run([sys.executable, "benchmarks/gpu_scaled_loop.py"])
    assert proc.returncode == 0 and "CuPy is not installed here" in proc.stdout
    # the one-command check, as on a machine without pytest
    (tmp_path / "pytest.py").write_text("raise ImportError('no pytest here')\n")
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path), PYTHON=sys.executable))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("== environment", "pytest is not installed", "0 passed, 0 failed",
                 "CuPy is not installed here", "== gpu_check: ok"):
        assert line in proc.stdout, proc.stdout


def test_scaled_loop_learning_rate_makes_the_loss_fall_on_the_cpu():
    proc = _run([sys.executable, "benchmarks/gpu_scaled_loop.py", "--verify-lr"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "falls at every step: True" in proc.stdout and proc.stdout.rstrip().endswith("OK")


def test_scaled_loop_runs_end_to_end_with_the_strict_backend_standing_in():
    proc = _run([sys.executable, "benchmarks/gpu_scaled_loop.py", "--strict-standin",
                 "--sizes", "128,256,128,32", "--steps", "10", "--rounds", "2"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for text in ("GPU engine / CuPy:", "target <= 1.10", "CPU extrapolated from 2 of 10 steps",
                 "first loss: GPU engine"):
        assert text in proc.stdout, proc.stdout
