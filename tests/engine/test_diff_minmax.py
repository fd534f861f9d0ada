"""max / min / amax / amin / argmax / argmin against real PyTorch: values, dtypes, node names,
tie and NaN rules of each gradient, ``torch.return_types`` results, errors, and float64
gradcheck."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.autograd import gradcheck

from .reference import check, make, torch

NAN = float("nan")
RNG = np.random.default_rng(99)


def ties(*shape, dtype=np.float32):
    """Small integers as floats: many tied maxima and minima."""
    return np.asarray(RNG.integers(-2, 3, size=shape)).astype(dtype)


def distinct(*shape, dtype=np.float64):
    """Values without ties (where max is differentiable), shuffled."""
    n = int(np.prod(shape)) if shape else 1
    return np.asarray(RNG.permutation(n) * 0.37 - 1.0).reshape(shape).astype(dtype)


def same_error(fn, *inputs):
    """``fn(lib, *tensors)`` raises the same exception type and text in both libraries."""
    caught = {}
    for name, lib in (("engine", engine), ("torch", torch)):
        tensors = [make(lib, a) if isinstance(a, np.ndarray) else a for a in inputs]
        with pytest.raises(Exception) as info:
            fn(lib, *tensors)
        caught[name] = info.value
    e, t = caught["engine"], caught["torch"]
    assert isinstance(e, type(t)), f"engine raised {type(e).__name__}, torch {type(t).__name__}"
    assert str(e) == str(t)


SHAPES = [(), (1,), (5,), (3, 4), (2, 3, 4)]
NAMES = ["max", "min"]


# --- over everything -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SHAPES)
def test_reduce_all_with_ties(name, shape):
    """MaxBackward1 / MinBackward1 share the gradient evenly among tied extremes."""
    x = ties(*shape)
    check(lambda lib, t: getattr(t, name)(), x)
    check(lambda lib, t: getattr(lib, name)(t * 2.0) * 3.0, x)


@pytest.mark.parametrize("name", NAMES)
def test_reduce_all_nan(name):
    """A NaN anywhere is the result, and the gradient is shared by the NaNs."""
    x = np.array([1.0, NAN, 3.0, NAN, -1.0], dtype=np.float32)
    check(lambda lib, t: getattr(t, name)(), x)
    check(lambda lib, t: getattr(t, name)(), np.array([1.0, float("inf"), float("inf")]))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_reduce_all_non_float(name, dtype):
    check(lambda lib, t: getattr(t, name)(), np.array([[1, 0], [1, 1]]).astype(dtype))


# --- along a dim ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1),
                                       ((2, 3, 4), -1), ((), 0), ((), -1), ((1, 3), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduce_dim(name, shape, dim, keepdim):
    """values (MaxBackward0: the whole gradient goes to the first tied index) and int64
    indices, as a return_types tuple whose repr is PyTorch's."""
    x = ties(*shape)
    e_outs, t_outs = check(lambda lib, t: getattr(t, name)(dim, keepdim), x)
    assert repr(e_outs[0].detach()) == repr(t_outs[0].detach())
    assert type(e_outs[1].grad_fn) is type(None) and not e_outs[1].requires_grad
    check(lambda lib, t: getattr(lib, name)(t, dim=dim, keepdim=keepdim), x)
    check(lambda lib, t: getattr(lib, name)(t, dim).values * 2.0, x)


@pytest.mark.parametrize("name", NAMES)
def test_reduce_dim_nan(name):
    """NaN is the extreme; its first index is reported and gets the gradient."""
    x = np.array([[1.0, NAN, 3.0, NAN], [2.0, 2.0, 0.0, -1.0]], dtype=np.float32)
    check(lambda lib, t: getattr(t, name)(1), x)
    check(lambda lib, t: getattr(t, name)(0, keepdim=True), x)


@pytest.mark.parametrize("name", NAMES)
def test_return_type(name):
    x = ties(3, 4)
    e = getattr(make(engine, x, True), name)(1)
    t = getattr(make(torch, x, True), name)(1)
    assert repr(e) == repr(t)
    assert str(e) == str(t)
    assert type(e).__name__ == type(t).__name__ == name
    values, indices = e
    assert values is e.values is e[0] and indices is e.indices is e[1]
    assert len(e) == 2 and isinstance(e, tuple)
    assert isinstance(e, getattr(engine.return_types, name))
    back = pickle.loads(pickle.dumps(getattr(make(engine, x), name)(0)))
    assert type(back) is type(e) and back.values.tolist() == getattr(x, name)(0).tolist()


def test_return_type_repr_keepdim_and_0d():
    for x, args in ((ties(2, 3), (1, True)), (np.array(5.0, dtype=np.float32), (0,))):
        e = make(engine, x, True).max(*args)
        t = make(torch, x, True).max(*args)
        assert repr(e) == repr(t)


@pytest.mark.parametrize("name", NAMES)
def test_reduce_dim_indices_are_version_checked(name):
    def fn(lib, x):
        r = getattr(x * 1, name)(0)
        r.indices.add_(0)
        r.values.sum().backward()

    caught = {}
    for label, lib in (("engine", engine), ("torch", torch)):
        with pytest.raises(RuntimeError) as info:
            fn(lib, make(lib, ties(3, 2), True))
        caught[label] = str(info.value)
    assert caught["engine"] == caught["torch"]


@pytest.mark.parametrize("name", NAMES)
def test_other_tensor_is_elementwise(name):
    a, b = ties(3, 1), ties(4)
    e_outs, _ = check(lambda lib, x, y: getattr(x, name)(y), a, b)
    assert type(e_outs[0].grad_fn).__name__ == ("MaximumBackward0" if name == "max"
                                                else "MinimumBackward0")
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    check(lambda lib, x, y: getattr(x, name)(other=y), a, b)


@pytest.mark.parametrize("name", NAMES)
def test_errors(name):
    same_error(lambda lib, t: getattr(t, name)(), np.zeros((0,), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)(1), np.zeros((2, 0), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)(5), ties(2, 3))
    same_error(lambda lib, t: getattr(t, name)(1), np.array(3.0, dtype=np.float32))
    for bad in ({"dim": (0, 1)}, {"keepdim": True}):
        with pytest.raises(TypeError, match="received an invalid combination of arguments"):
            getattr(make(engine, ties(2, 3)), name)(**bad)
        with pytest.raises(TypeError, match="received an invalid combination of arguments"):
            getattr(make(torch, ties(2, 3)), name)(**bad)
    check(lambda lib, t: getattr(t, name)(0), np.zeros((2, 0), dtype=np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    x = engine.tensor(distinct(3, 4), requires_grad=True)
    assert gradcheck(lambda t: getattr(t, name)(), (x,))
    assert gradcheck(lambda t: getattr(t, name)(1).values, (x,))
    assert gradcheck(lambda t: getattr(t, name)(0, keepdim=True).values, (x,))


# --- amax / amin ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), (0, 1)), ((3, 4), ()),
                                       ((2, 3, 4), (0, -1)), ((2, 3, 4), [1]), ((), 0),
                                       ((), ()), ((2, 3, 4), -2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax(name, shape, dim, keepdim):
    """AmaxBackward0 / AminBackward0: the gradient is shared evenly among the ties of each
    reduced slice."""
    x = ties(*shape)
    check(lambda lib, t: getattr(t, name)(dim, keepdim), x)
    check(lambda lib, t: getattr(lib, name)(t, dim=dim, keepdim=keepdim) * 2.0, x)


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_defaults_and_nan(name):
    x = np.array([[1.0, NAN, 3.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    check(lambda lib, t: getattr(t, name)(), ties(3, 4))
    check(lambda lib, t: getattr(t, name)(1), x)  # NaN slice: NaN gradient, as in PyTorch
    check(lambda lib, t: getattr(t, name)(), x)
    check(lambda lib, t: getattr(t, name)(1), np.array([[1, 5], [7, 7]]))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_errors(name):
    same_error(lambda lib, t: getattr(t, name)(), np.zeros((0,), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)(0), np.zeros((0, 3), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)((0, 0)), ties(2, 3))
    same_error(lambda lib, t: getattr(t, name)(2), ties(2, 3))
    check(lambda lib, t: getattr(t, name)(1), np.zeros((0, 3), dtype=np.float32))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_gradcheck(name):
    x = engine.tensor(distinct(2, 3, 4), requires_grad=True)
    assert gradcheck(lambda t: getattr(engine, name)(t, (0, 2)), (x,))
    assert gradcheck(lambda t: getattr(t, name)(), (x,))


@settings(derandomize=True, max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.integers(-2, 2).map(float)),
       data=st.data())
def test_reductions_hypothesis(x, data):
    dims = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda d: d % x.ndim,
                              max_size=x.ndim))
    keepdim = data.draw(st.booleans())
    name = data.draw(st.sampled_from(["amax", "amin"]))
    check(lambda lib, t: getattr(t, name)(tuple(dims), keepdim), x)
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda lib, t: getattr(t, name[1:])(dim, keepdim), x)
    check(lambda lib, t: getattr(t, "arg" + name[1:])(dim, keepdim), x)


# --- argmax / argmin -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape,dim", [((5,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), -2),
                                       ((2, 3, 4), 1), ((), None), ((), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax(name, shape, dim, keepdim):
    x = ties(*shape)
    check(lambda lib, t: getattr(t, name)(dim, keepdim), x)
    check(lambda lib, t: getattr(lib, name)(t, dim=dim, keepdim=keepdim), x)
    check(lambda lib, t: getattr(t, name)(), x.astype(np.int64))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_nan_and_errors(name):
    check(lambda lib, t: getattr(t, name)(), np.array([1.0, NAN, 3.0, NAN], dtype=np.float32))
    check(lambda lib, t: getattr(t, name)(1), np.array([[1.0, NAN], [2.0, 0.0]]))
    same_error(lambda lib, t: getattr(t, name)(), np.array([True, False]))
    same_error(lambda lib, t: getattr(t, name)(), np.zeros((0,), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)(1), np.zeros((2, 0), dtype=np.float32))
    same_error(lambda lib, t: getattr(t, name)(3), ties(2, 3))


def test_argmax_is_not_differentiable():
    x = engine.tensor([1.0, 3.0], requires_grad=True)
    i = x.argmax()
    assert i.grad_fn is None and not i.requires_grad and i.dtype is engine.int64
