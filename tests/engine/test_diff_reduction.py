"""``sum`` and ``mean`` against real PyTorch: every dim form (none, int, negative, tuple,
list, empty, ``None``, ``axis=``), keepdim, the ``dtype`` argument, integer and bool inputs
(summed as int64), 0-d and empty tensors, node names (SumBackward0 only without any dim
argument), gradients, error texts, and float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.autograd import gradcheck

from .reference import check, torch

RNG = np.random.default_rng(5)


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


FORMS = {
    "sum()": lambda L, t: t.sum(), "torch.sum": lambda L, t: L.sum(t),
    "sum(0)": lambda L, t: t.sum(0), "sum(-1)": lambda L, t: t.sum(-1),
    "sum(dim=1)": lambda L, t: t.sum(dim=1), "sum((0, 2))": lambda L, t: t.sum((0, 2)),
    "sum([2, 0])": lambda L, t: t.sum([2, 0]), "sum((-1, -3))": lambda L, t: t.sum((-1, -3)),
    "sum(all dims)": lambda L, t: t.sum((0, 1, 2)), "sum(())": lambda L, t: t.sum(()),
    "sum([])": lambda L, t: t.sum(dim=[]), "sum(None)": lambda L, t: t.sum(None),
    "sum(1, True)": lambda L, t: t.sum(1, True), "sum((0,1), keepdim)": lambda L, t: t.sum(
        (0, 1), keepdim=True), "sum(None, True)": lambda L, t: t.sum(None, True),
    "sum(axis=1)": lambda L, t: t.sum(axis=1), "torch.sum(t, 2, True)": lambda L, t: L.sum(
        t, 2, True), "sum(dtype)": lambda L, t: t.sum(dtype=L.float64),
    "sum(0, dtype)": lambda L, t: t.sum(0, dtype=L.float64),
    "mean()": lambda L, t: t.mean(), "torch.mean": lambda L, t: L.mean(t),
    "mean(0)": lambda L, t: t.mean(0), "mean(-2, True)": lambda L, t: t.mean(-2, True),
    "mean((0, 2))": lambda L, t: t.mean((0, 2)), "mean(())": lambda L, t: t.mean(()),
    "mean(None)": lambda L, t: t.mean(None), "mean(axis=0)": lambda L, t: t.mean(axis=0),
    "mean(dtype)": lambda L, t: t.mean(dtype=L.float64),
    "mean(1, dtype)": lambda L, t: L.mean(t, 1, dtype=L.float64),
    "chain": lambda L, t: (t.sum(0) * t.mean(0)).mean(-1, keepdim=True).sum(),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_forms_on_3d(form):
    check(FORMS[form], randn(2, 3, 4))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_forms_on_3d_float64_grad_dtype(form):
    """With ``dtype=float64`` on a float32 input the gradient still comes back float32."""
    e, _ = check(lambda L, t: FORMS[form](L, t * 1), randn(2, 3, 4))
    assert e[0].requires_grad


ZERO_D = {
    "sum()": lambda L, t: t.sum(), "sum(0)": lambda L, t: t.sum(0),
    "sum(-1)": lambda L, t: t.sum(-1), "sum(())": lambda L, t: t.sum(()),
    "sum(0, True)": lambda L, t: t.sum(0, keepdim=True), "mean()": lambda L, t: t.mean(),
    "mean(0)": lambda L, t: t.mean(0), "mean(-1, True)": lambda L, t: t.mean(-1, True),
}


@pytest.mark.parametrize("form", sorted(ZERO_D))
def test_zero_dim(form):
    check(ZERO_D[form], np.asarray(randn()))


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)], ids=str)
def test_empty(shape):
    x = np.zeros(shape, dtype=np.float32)
    for fn in (lambda L, t: t.sum(), lambda L, t: t.sum(0), lambda L, t: t.sum(-1, True),
               lambda L, t: t.mean(), lambda L, t: t.mean(0), lambda L, t: t.mean(-1)):
        check(fn, x)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_integer_and_bool_inputs(dtype):
    """Integers and bools sum to int64; mean refuses them unless given a float dtype."""
    x = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    for fn in (lambda L, t: t.sum(), lambda L, t: t.sum(1), lambda L, t: t.sum((0, 2), True),
               lambda L, t: t.sum(dtype=L.float32), lambda L, t: t.sum(0, dtype=L.int32),
               lambda L, t: t.mean(dtype=L.float32), lambda L, t: t.mean(1, dtype=L.float64)):
        check(fn, x)


def test_float_inputs_with_integer_dtype():
    check(lambda L, t: t.sum(dtype=L.int64), randn(3, 4) * 10, grad=[False])
    check(lambda L, t: t.sum(dtype=L.float16), randn(3, 4), grad=[False], rtol=1e-3, atol=1e-3)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3), st.data())
def test_random_dims(shape, data):
    """Any subset of dims, in any order and sign, with or without keepdim."""
    n = len(shape)
    dims = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    dims = [d - n if data.draw(st.booleans()) else d for d in dims]
    keepdim = data.draw(st.booleans())
    op = data.draw(st.sampled_from(["sum", "mean"]))
    check(lambda L, t: getattr(t, op)(tuple(dims), keepdim=keepdim), randn(*shape))


def same_error(fn):
    caught = {}
    for lib in (engine, torch):
        with pytest.raises(Exception) as info:
            fn(lib)
        caught[lib] = info.value
    e, t = caught[engine], caught[torch]
    assert type(e).__name__ == type(t).__name__ and str(e) == str(t)


ERRORS = [
    lambda L: L.ones(2, 3).sum(2), lambda L: L.ones(2, 3).sum(-3), lambda L: L.ones(()).sum(1),
    lambda L: L.ones(()).mean(-2), lambda L: L.ones(2, 3).sum((0, 0)),
    lambda L: L.ones(2, 3).sum((1, -1)), lambda L: L.ones(2, 3).mean((1, -1)),
    lambda L: L.ones(2, 3).sum([0, 5]), lambda L: L.ones(2, 3).sum(1.5),
    lambda L: L.ones(2, 3).sum("a"), lambda L: L.ones(2, 3).sum(True),
    lambda L: L.ones(2, 3).sum(dim=(0, 1.5)), lambda L: L.ones(2, 3).sum(keepdim=True),
    lambda L: L.ones(2, 3).mean(1.5), lambda L: L.ones(2, 3, dtype=L.int64).mean(),
    lambda L: L.ones(2, 3, dtype=L.int64).mean(0), lambda L: L.ones(2, 3).mean(dtype=L.int32),
    lambda L: L.tensor([True]).mean(),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_match_torch(index):
    same_error(ERRORS[index])


def test_node_names():
    """Only a call without any dim argument records SumBackward0 / MeanBackward0."""
    names = {}
    for lib in (engine, torch):
        t = lib.ones(2, 3, requires_grad=True)
        names[lib] = [type(r.grad_fn).__name__ for r in (
            t.sum(), t.sum(None), t.sum(()), t.sum(0), lib.sum(t, dtype=lib.float64),
            t.mean(), t.mean(None), t.mean([]), t.mean(1, True))]
    assert names[engine] == names[torch]
    assert names[engine][:2] == ["SumBackward0", "SumBackward1"]


def test_builtin_sum_over_rows():
    """Python's ``sum`` iterates (UnbindBackward0) and adds: same graph and gradient."""
    check(lambda L, t: sum(t), randn(3, 2))
    check(lambda L, t: sum(t.sum(1)), randn(3, 2))


GRADCHECK = {
    "sum": lambda t: t.sum(), "sum_dim": lambda t: t.sum(1),
    "sum_keep": lambda t: t.sum((0, 2), keepdim=True) * t, "mean": lambda t: t.mean(),
    "mean_dim": lambda t: t.mean(-1), "mean_keep": lambda t: t.mean(0, True) * t,
    "sum_dtype": lambda t: t.sum(0, dtype=engine.float64),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_float64(name):
    t = engine.tensor(randn(2, 3, 2, dtype=np.float64), requires_grad=True)
    assert gradcheck(GRADCHECK[name], (t,))
