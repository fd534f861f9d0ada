"""Factories and dtype conversion against real PyTorch: ``tensor`` dtype inference (Python
numbers, numpy scalars and arrays, one-element tensors in lists), the legacy ``Tensor(...)``
constructor, ``zeros / ones / full / eye / arange / linspace / *_like`` values and dtypes,
``randn / rand`` shapes, dtypes and seeding, ``from_numpy`` memory sharing, error texts;
``to / float / double / long / int / bool / type / type_as`` (ToCopyBackward0 when a
gradient flows, ``self`` when nothing changes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import engine

from .reference import check, to_numpy, torch


def outcome(lib, fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fn(lib)
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return ("error", type(exc).__name__, str(exc))
    return ("ok", str(r.dtype), tuple(r.shape), to_numpy(r).tolist(), r.requires_grad)


def assert_same(fn):
    """Same dtype, shape, values and requires_grad, or the same error (type and text)."""
    assert outcome(engine, fn) == outcome(torch, fn)


T = "tensor"
TENSOR_CASES = [
    [1, 2], [1.0, 2], [True, False], [True, 2], [True, 2.5], 3, 3.5, True, [], [[]], [[], []],
    [[[]]], ((1, 2), [3, 4]), range(3), [[1, 2], [3, 4]], np.array([1, 2], dtype=np.int32),
    np.array([1.0, 2.0]), np.array([1.0], dtype=np.float32), np.float64(2.0), np.int32(2),
    np.bool_(True), [np.float64(2.0), 1], [np.float32(1.5), 2.5], [np.int32(1), 2],
    [True, np.int8(2)], [[1, 2], [3]], [[1, 2], []], [[1, 2], 3], [1, [2]], [[[1, 2]], [[1]]],
    [[1, 2], [3, [4]]], "a", [1, "a"], None, [1, None], {1: 2}, 2 ** 63, [2 ** 63], [-2 ** 63],
    1e400, [2 ** 62, 1],
]


@pytest.mark.parametrize("data", TENSOR_CASES, ids=repr)
def test_tensor_inference(data):
    """PyTorch's dtype inference: ints -> int64, floats -> float32, bools -> bool, mixed ->
    the promotion, numpy scalars/arrays keep their dtype; ragged lists and bad element
    types fail with PyTorch's messages."""
    assert_same(lambda L: L.tensor(data))


def test_tensor_from_tensors():
    cases = [
        lambda L: L.tensor([L.tensor(1.0), L.tensor(2.0)]),
        lambda L: L.tensor([L.tensor(1), 2.5]),
        lambda L: L.tensor([L.tensor(1, dtype=L.float64), 2.5]),
        lambda L: L.tensor([L.tensor([1]), L.tensor([2])]),
        lambda L: L.tensor([L.tensor([[1.0]]), L.tensor([[2.0]])]),
        lambda L: L.tensor([L.tensor([1, 2])]), lambda L: L.tensor(L.tensor([1, 2])),
        lambda L: L.tensor(L.tensor([1.0], requires_grad=True)),
    ]
    for fn in cases:
        assert_same(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool", "float16",
                                   "uint8"])
def test_tensor_with_dtype(dtype):
    for data in ([1.7, -2.7, 0.0], [1, 2], [True, False], 2.5):
        assert_same(lambda L, data=data: L.tensor(data, dtype=getattr(L, dtype)))
    for py in (float, int, bool):
        assert_same(lambda L, py=py: L.tensor([1, 0], dtype=py))


def test_requires_grad_flags():
    for fn in (lambda L: L.tensor([1.0, 2.0], requires_grad=True),
               lambda L: L.tensor([1, 2], requires_grad=True),
               lambda L: L.zeros(2, dtype=L.int64, requires_grad=True),
               lambda L: L.full((2,), 1, requires_grad=True),
               lambda L: L.arange(10, requires_grad=True),
               lambda L: L.arange(3.0, requires_grad=True),
               lambda L: L.ones(2, requires_grad=True), lambda L: L.eye(2, requires_grad=True),
               lambda L: L.tensor([1, 2]).requires_grad_(),
               lambda L: L.ones_like(L.tensor([1.0]), requires_grad=True)):
        assert_same(fn)


def test_legacy_constructor():
    for fn in (lambda L: L.Tensor([1, 2]), lambda L: L.Tensor([1.5, 2]),
               lambda L: L.Tensor([[1, 2], [3, 4]]), lambda L: L.Tensor(np.array([1, 2])),
               lambda L: L.Tensor([True]), lambda L: L.Tensor((2, 3)), lambda L: L.Tensor(),
               lambda L: L.Tensor(2.5)):
        assert_same(fn)
    for lib in (engine, torch):
        t = lib.Tensor(2, 3)  # uninitialised in PyTorch; zeros in the engine
        assert t.shape == (2, 3) and t.dtype == lib.float32 and not t.requires_grad
    assert engine.Tensor(2, 3).sum().item() == 0


FACTORIES = [
    lambda L: L.zeros(2, 3), lambda L: L.zeros((2, 3)), lambda L: L.zeros([2, 3]),
    lambda L: L.zeros(()), lambda L: L.zeros([]), lambda L: L.zeros(0),
    lambda L: L.zeros(2, 3, dtype=L.int64), lambda L: L.zeros(2, dtype=int),
    lambda L: L.zeros(2, dtype=float), lambda L: L.zeros(L.Size([2, 3])),
    lambda L: L.zeros(L.tensor(2)), lambda L: L.ones(2, 3), lambda L: L.ones(3, dtype=L.bool),
    lambda L: L.ones(3, dtype=L.float64), lambda L: L.empty(2, 3).shape and L.zeros(1),
    lambda L: L.full((2, 3), 1.5), lambda L: L.full((2, 3), 2), lambda L: L.full((2,), True),
    lambda L: L.full([2], 7), lambda L: L.full((2,), 2, dtype=L.float32),
    lambda L: L.full((2,), 2.5, dtype=L.int64), lambda L: L.eye(3), lambda L: L.eye(2, 3),
    lambda L: L.eye(3, 1), lambda L: L.eye(3, dtype=L.int64), lambda L: L.eye(0),
    lambda L: L.zeros_like(L.tensor([1, 2])), lambda L: L.zeros_like(L.tensor([1.0, 2.0])),
    lambda L: L.zeros_like(L.tensor([1.0]), dtype=L.int64),
    lambda L: L.ones_like(L.tensor([[1, 2]])), lambda L: L.full_like(L.tensor([1, 2]), 2.7),
    lambda L: L.full_like(L.tensor([1.0, 2.0]), 2), lambda L: L.full_like(L.tensor([True]), 2),
    lambda L: L.ones_like(L.tensor([1.0, 2.0], requires_grad=True)),
    lambda L: L.empty_like(L.tensor([1, 2])).shape and L.zeros(1),
    lambda L: L.as_tensor([1, 2]), lambda L: L.as_tensor(np.array([1.5])),
]


@pytest.mark.parametrize("index", range(len(FACTORIES)))
def test_factories(index):
    assert_same(FACTORIES[index])


FACTORY_ERRORS = [
    lambda L: L.zeros(-1), lambda L: L.zeros(2, -3), lambda L: L.ones(-1), lambda L: L.empty(-1),
    lambda L: L.full((-1,), 1.0), lambda L: L.randn(-1), lambda L: L.rand(2, -1),
    lambda L: L.zeros(2.5), lambda L: L.ones(2.5), lambda L: L.randn(2.5), lambda L: L.rand("a"),
    lambda L: L.empty(2.5), lambda L: L.zeros((2, 2.5)), lambda L: L.zeros(2, None),
    lambda L: L.full(2, 7), lambda L: L.full((2.5,), 1), lambda L: L.full([2], "a"),
    lambda L: L.eye(-1), lambda L: L.eye(2, -1), lambda L: L.eye(2.5),
    lambda L: L.zeros_like([1, 2]), lambda L: L.randn(2, dtype=L.int64),
    lambda L: L.randn(2, dtype=L.int32), lambda L: L.rand(2, dtype=L.int64),
    lambda L: L.rand(2, dtype=L.bool), lambda L: L.randn_like(L.tensor([1, 2])),
    lambda L: L.arange("a"), lambda L: L.arange(0, -1), lambda L: L.arange(0, 10, -1),
    lambda L: L.arange(0, 1, 0), lambda L: L.arange(0, 10, 0.0),
    lambda L: L.arange(0.5, 3.7, 0.9, dtype=L.int64), lambda L: L.arange(0, float("inf")),
    lambda L: L.linspace(0, 1, -1),
]


@pytest.mark.parametrize("index", range(len(FACTORY_ERRORS)))
def test_factory_errors(index):
    e, t = outcome(engine, FACTORY_ERRORS[index]), outcome(torch, FACTORY_ERRORS[index])
    assert e[0] == t[0] == "error"
    assert e == t


ARANGE = [(5,), (1, 5), (1, 5, 2), (1, 6, 2), (0, 1, 0.1), (0.0, 5), (5.0,), (1, 2.5, 0.5),
          (5, 0, -1), (5, 0, -1.5), (0, 0), (-1.3, 2.1, 0.3), (0, 1.0000001, 0.1),
          (0.1, 0.9, 0.2), (-5, 5, 3), (10, -10, -3)]


def assert_close_floats(fn):
    """Same dtype, shape and errors; integer values equal, float values equal up to the last
    bit (PyTorch's vectorised kernels round a few values differently from its scalar path)."""
    e, t = outcome(engine, fn), outcome(torch, fn)
    assert e[:3] == t[:3] and e[4:] == t[4:]
    if e[0] == "ok":
        np.testing.assert_allclose(e[3], t[3], rtol=4e-7, atol=1e-7)


@pytest.mark.parametrize("args", ARANGE, ids=str)
def test_arange(args):
    """Values, length and dtype, float steps included (each value ``start + i * step``
    rounded once, as PyTorch computes it); fractional steps with integer dtypes."""
    assert_close_floats(lambda L: L.arange(*args))
    for dtype in ("float32", "float64", "int64", "int32"):
        assert_close_floats(lambda L, d=dtype: L.arange(*args, dtype=getattr(L, d)))
    assert_close_floats(lambda L: L.arange(*(L.tensor(a) for a in args)))


LINSPACE = [(0, 1, 5), (0, 1, 1), (0, 1, 0), (0, 10, 11), (0.1, 0.7, 13), (-3.3, 7.9, 100),
            (5, -5, 9), (0, 1, 2), (3, 3, 4), (1e-3, 1e3, 33)]


@pytest.mark.parametrize("args", LINSPACE, ids=str)
def test_linspace(args):
    """PyTorch's formula (up from start for the first half, down from end for the second):
    dtypes and integer results exact, both ends exact; float values within one rounding of
    PyTorch's (its vectorised kernel rounds some middle values differently)."""
    for dtype in (None, "float64", "int64"):
        vals = {}
        for lib in (engine, torch):
            r = lib.linspace(*args, **({"dtype": getattr(lib, dtype)} if dtype else {}))
            vals[lib] = (str(r.dtype), to_numpy(r))
        (e_dtype, e), (t_dtype, t) = vals[engine], vals[torch]
        assert e_dtype == t_dtype and e.shape == t.shape
        if e.dtype.kind == "i":
            assert np.array_equal(e, t)
        else:
            scale = max(abs(args[0]), abs(args[1]))
            np.testing.assert_allclose(e, t, rtol=2e-7, atol=2 * np.finfo(e.dtype).eps * scale)
        if len(t):
            assert e[0] == t[0] and e[-1] == t[-1]


def test_random_factories():
    """Shapes and dtypes as PyTorch's; ``manual_seed`` makes them reproducible (the values
    come from numpy's generator, not PyTorch's)."""
    for fn in (lambda L: L.randn(2, 3), lambda L: L.randn((2, 3)), lambda L: L.randn(()),
               lambda L: L.rand(4), lambda L: L.randn(2, dtype=L.float64),
               lambda L: L.randn(2, 3, dtype=L.float16), lambda L: L.randn_like(L.ones(2, 2)),
               lambda L: L.rand_like(L.ones(3, dtype=L.float64)),
               lambda L: L.randint(0, 10, (3,)), lambda L: L.randint(10, (3, 2)),
               lambda L: L.randperm(5), lambda L: L.randn(3, requires_grad=True)):
        e, t = fn(engine), fn(torch)
        assert (str(e.dtype), tuple(e.shape), e.requires_grad) == \
            (str(t.dtype), tuple(t.shape), t.requires_grad)
    engine.manual_seed(0)
    a, u = engine.randn(5, 3), engine.rand(4)
    v = engine.rand(4)
    engine.manual_seed(0)
    assert np.array_equal(a.numpy(), engine.randn(5, 3).numpy())
    assert np.array_equal(u.numpy(), engine.rand(4).numpy())
    assert not np.array_equal(u.numpy(), v.numpy())  # the stream moves on
    engine.manual_seed(1)
    assert not np.array_equal(a.numpy(), engine.randn(5, 3).numpy())
    r = engine.rand(1000).numpy()
    assert r.min() >= 0 and r.max() < 1
    n = engine.randn(10000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    i = engine.randint(3, 7, (1000,)).numpy()
    assert i.min() == 3 and i.max() == 6
    assert sorted(engine.randperm(6).tolist()) == list(range(6))


def test_from_numpy_shares_memory():
    for lib in (engine, torch):
        a = np.array([1.0, 2.0, 3.0])
        t = lib.from_numpy(a)
        assert t.dtype == lib.float64
        a[0] = 10.0
        assert t[0].item() == 10.0
        t.mul_(2)
        assert a.tolist() == [20.0, 4.0, 6.0]
        assert np.shares_memory(t.numpy(), a)
        with pytest.raises(TypeError):
            lib.from_numpy([1, 2])
    assert engine.tensor(np.array([1.0])).numpy() is not None
    a = np.array([1.0])
    t = engine.tensor(a)
    a[0] = 5.0
    assert t.item() == 1.0  # tensor() copies


# --- conversion -------------------------------------------------------------------------------
CONVERSIONS = [
    lambda L, t: t.to(L.int64), lambda L, t: t.to(L.float64), lambda L, t: t.double(),
    lambda L, t: t.float(), lambda L, t: t.half(), lambda L, t: t.long(), lambda L, t: t.int(),
    lambda L, t: t.bool(), lambda L, t: t.to("cpu"), lambda L, t: t.to(float),
    lambda L, t: t.to(int), lambda L, t: t.to(dtype=int), lambda L, t: t.to("cpu", L.float64),
    lambda L, t: t.to(device="cpu", dtype=L.float64), lambda L, t: t.to(L.tensor([1])),
    lambda L, t: t.to(L.float32, copy=True), lambda L, t: t.type(L.float64),
    lambda L, t: t.type(L.int64), lambda L, t: t.type_as(L.tensor([1.0], dtype=L.float64)),
    lambda L, t: t.cpu(), lambda L, t: t.double().float() * 2,
    lambda L, t: (t.double() * t.float()).sum(),
]


@pytest.mark.parametrize("index", range(len(CONVERSIONS)))
def test_conversions(index):
    """Values, dtypes, ToCopyBackward0 where a float result carries the gradient (none for
    integer / bool results), and the gradient cast back to the source dtype."""
    x = np.array([1.7, -2.5, 0.0, 300.0], dtype=np.float32)
    check(CONVERSIONS[index], x)
    check(CONVERSIONS[index], x.astype(np.float64))
    check(CONVERSIONS[index], np.array([1, 0, -3]))


def test_conversion_identity_and_values():
    for lib in (engine, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        assert x.to(lib.float32) is x and x.float() is x and x.to("cpu") is x
        assert x.to(lib.float32, copy=True) is not x
        assert x.long().grad_fn is None and not x.long().requires_grad
        assert type(x.double().grad_fn).__name__ == "ToCopyBackward0"
        y = x.double()
        y.sum().backward()
        assert x.grad.dtype == lib.float32
        assert x.type() == "torch.FloatTensor" and x.double().type() == "torch.DoubleTensor"
    for fn in (lambda L: L.tensor([300, -1]).to(L.uint8), lambda L: L.tensor([1.7, -1.7]).long(),
               lambda L: L.tensor([1.7, -1.7]).int(), lambda L: L.tensor([0.0, -0.0, 2]).bool(),
               lambda L: L.tensor([True, False]).float(), lambda L: L.tensor([1.5, 2]).to("bad")):
        assert_same(fn)
