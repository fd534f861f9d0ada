"""Pointwise math against real PyTorch: values, dtypes, node names, gradients (incl. NaN, inf,
ties and the bounds of clamp), in-place variants and their version checks, error texts, and
float64 gradcheck of every differentiable op."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.autograd import gradcheck

from .reference import check, make, torch

NAN, INF = float("nan"), float("inf")
RNG = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


def positive(*shape, dtype=np.float32):
    return np.asarray(np.abs(randn(*shape, dtype=np.float64)) + 0.1).astype(dtype)


def same_error(fn, *inputs, grad=None):
    """``fn(lib, *tensors)`` raises the same exception type and text in both libraries."""
    grad = grad or [False] * len(inputs)
    caught = {}
    for name, lib in (("engine", engine), ("torch", torch)):
        tensors = [make(lib, a, g) if isinstance(a, np.ndarray) else a
                   for a, g in zip(inputs, grad)]
        with pytest.raises(Exception) as info:
            fn(lib, *tensors)
        caught[name] = info.value
    e, t = caught["engine"], caught["torch"]
    assert isinstance(e, type(t)), f"engine raised {type(e).__name__}, torch {type(t).__name__}"
    assert str(e) == str(t)


# name -> input maker (inside the op's domain, away from its kinks)
UNARY = {
    "relu": randn, "exp": randn, "log": positive, "tanh": randn, "sigmoid": randn,
    "abs": randn, "sqrt": positive, "sin": randn, "cos": randn,
    "log1p": positive, "expm1": randn, "rsqrt": positive, "nan_to_num": randn,
}
PIECEWISE_CONSTANT = ("sign", "floor", "ceil", "round", "trunc")
SHAPES = [(), (1,), (5,), (3, 4), (2, 3, 2)]


@pytest.mark.parametrize("name", list(UNARY) + list(PIECEWISE_CONSTANT))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_matches_torch(name, shape):
    x = np.asarray(UNARY.get(name, lambda *s: randn(*s) * 3)(*shape))
    check(lambda lib, t: getattr(lib, name)(t) * 2.0, x)  # module function
    check(lambda lib, t: getattr(t, name)(), x)  # method


@pytest.mark.parametrize("name", list(UNARY) + list(PIECEWISE_CONSTANT))
def test_unary_float64_and_chain(name):
    x = UNARY.get(name, lambda *s, dtype: randn(*s, dtype=dtype) * 3)(3, 2, dtype=np.float64)
    check(lambda lib, t: getattr(lib, name)(t * 1.5).sum(), x)


SPECIAL = np.array([NAN, INF, -INF, 0.0, -0.0, -1.5, -1.0, 0.5, 1.0, 2.5, 1e-8, 100.0, -100.0],
                   dtype=np.float32)


@pytest.mark.parametrize("name", list(UNARY) + list(PIECEWISE_CONSTANT))
def test_special_values(name):
    """NaN, infinities, signed zeros and saturation: values (incl. the printed sign of zero)
    and gradients as PyTorch defines them."""
    e_outs, t_outs = check(lambda lib, t: getattr(lib, name)(t), SPECIAL)
    assert repr(e_outs[0].detach()) == repr(t_outs[0].detach())


@pytest.mark.parametrize("name", list(UNARY) + list(PIECEWISE_CONSTANT))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_and_bool_inputs(name, dtype):
    """Float functions promote to the default dtype; abs/relu/sign/rounding keep integers;
    bool is refused where PyTorch refuses it, with its error."""
    x = np.array([0, 1, 2, 3], dtype=dtype) if dtype is not np.bool_ else np.array([True, False])
    try:
        getattr(torch, name)(torch.tensor(x))
    except Exception:
        same_error(lambda lib, t: getattr(lib, name)(t), x)
        return
    check(lambda lib, t: getattr(lib, name)(t), x)


def test_default_dtype_is_used_for_promotion():
    engine.set_default_dtype(engine.float64)
    try:
        assert engine.exp(engine.tensor([1, 2])).dtype is engine.float64
    finally:
        engine.set_default_dtype(engine.float32)
    assert engine.exp(engine.tensor([1, 2])).dtype is engine.float32


@pytest.mark.parametrize("name", list(UNARY))
def test_gradcheck(name):
    x = engine.tensor(UNARY[name](3, 4, dtype=np.float64), requires_grad=True)
    assert gradcheck(getattr(engine, name), (x,))


def test_nodes_save_what_torch_saves():
    """relu/exp/tanh/sigmoid/sqrt save the result: changing it in place is caught, with
    PyTorch's message; log saves the input."""
    for name in ("relu", "exp", "tanh", "sigmoid", "sqrt", "expm1", "rsqrt"):
        same_error(lambda lib, t, name=name: _modify_result(lib, t, name), positive(3), [True])
    same_error(lambda lib, t: _modify_input(lib, t, "log"), positive(3), [True])
    same_error(lambda lib, t: _modify_input(lib, t, "abs"), positive(3), [True])


def _modify_result(lib, t, name):
    y = getattr(lib, name)(t)
    y.mul_(2)
    y.sum().backward()


def _modify_input(lib, t, name):
    a = t * 1
    y = getattr(lib, name)(a)
    a.add_(1)
    y.sum().backward()


# --- in-place variants -------------------------------------------------------------------------
INPLACE = ["relu_", "exp_", "log_", "tanh_", "sigmoid_", "abs_", "sqrt_", "sin_", "cos_",
           "log1p_", "expm1_", "rsqrt_", "sign_", "floor_", "ceil_", "round_", "trunc_",
           "nan_to_num_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_matches_torch(name):
    x = positive(2, 3)

    def fn(lib, t):
        y = t * 1.5
        out = getattr(y, name)()
        assert out is y
        return y

    check(fn, x)
    check(lambda lib, t: getattr(t.clone() if hasattr(t, "clone") else t * 1, name)(), x,
          grad=[False])


@pytest.mark.parametrize("name", ["relu_", "exp_", "log_", "tanh_", "sigmoid_", "sqrt_"])
def test_module_level_inplace(name):
    x = positive(4)
    e, t = engine.tensor(x), torch.tensor(x)
    assert getattr(engine, name)(e) is e
    getattr(torch, name)(t)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["exp_", "tanh_", "sigmoid_", "sqrt_", "relu_"])
def test_inplace_saved_result_is_version_checked(name):
    def fn(lib, t):
        y = t * 1
        getattr(y, name)()
        y.mul_(2)
        y.sum().backward()

    same_error(fn, positive(3), [True])


def test_inplace_errors():
    same_error(lambda lib, t: t.exp_(), np.array([1, 2]))
    same_error(lambda lib, t: t.sqrt_(), np.array([1, 2]))
    same_error(lambda lib, t: t.relu_(), positive(2), [True])
    check(lambda lib, t: t.relu_(), np.array([-1, 2]))
    check(lambda lib, t: t.floor_(), np.array([-1, 2]))


def test_inplace_under_no_grad_keeps_old_node():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with engine.no_grad():
        y.exp_()
    assert type(y.grad_fn).__name__ == "MulBackward0"


# --- rounding and nan_to_num options ------------------------------------------------------------
@pytest.mark.parametrize("decimals", [0, 1, 2, -1, -2])
def test_round_decimals(decimals):
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, -1.2355, 1234.5678, 15.0, 25.0, NAN],
                 dtype=np.float32)
    check(lambda lib, t: lib.round(t, decimals=decimals), x)
    check(lambda lib, t: t.round(decimals=decimals), x.astype(np.float64))


def test_round_errors():
    same_error(lambda lib, t: lib.round(t, decimals=1), np.array([1, 2]))
    same_error(lambda lib, t: t.round(), np.array([True]))


@pytest.mark.parametrize("kwargs", [{}, {"nan": 1.0}, {"nan": 2.0, "posinf": 5.0},
                                    {"neginf": -7.0}, {"nan": -1.0, "posinf": 1.0,
                                                       "neginf": 0.0}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_to_num_options(kwargs, dtype):
    x = np.array([NAN, INF, -INF, 1.5, -0.0], dtype=dtype)
    check(lambda lib, t: lib.nan_to_num(t, **kwargs), x)
    check(lambda lib, t: t.nan_to_num(**kwargs) * 2.0, x)


# --- maximum / minimum --------------------------------------------------------------------------
def ties(*shape, dtype=np.float32):
    """Small integers as floats: plenty of exact ties."""
    return np.asarray(RNG.integers(-2, 3, size=shape)).astype(dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", [((), ()), ((4,), (4,)), ((3, 1), (4,)), ((2, 3), ()),
                                    ((), (2, 3)), ((2, 1, 3), (4, 1)), ((5,), (1,))])
def test_extremum_broadcast_ties(name, shapes):
    a, b = ties(*shapes[0]), ties(*shapes[1])
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    check(lambda lib, x, y: getattr(x, name)(y), a, b)
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b, grad=[True, False])
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b, grad=[False, True])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_extremum_nan_and_signed_zero(name):
    a = np.array([1.0, 2.0, 3.0, NAN, 5.0, NAN, -0.0, 0.0, INF], dtype=np.float32)
    b = np.array([1.0, 3.0, 2.0, 4.0, NAN, NAN, 0.0, -0.0, INF], dtype=np.float32)
    e_outs, t_outs = check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    assert repr(e_outs[0].detach()) == repr(t_outs[0].detach())


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_extremum_dtypes(name):
    ints, f64, f32 = np.array([1, 2, 3]), np.array([1.5, 0.5, 3.0]), np.array([2.5, 1.0, 0.0],
                                                                             dtype=np.float32)
    check(lambda lib, x, y: getattr(lib, name)(x, y), ints, f64)
    check(lambda lib, x, y: getattr(lib, name)(x, y), f32, f64)
    check(lambda lib, x, y: getattr(lib, name)(x, y), ints, np.array(1.5))
    check(lambda lib, x, y: getattr(lib, name)(x, y), np.array([True, False]),
          np.array([False, False]))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_extremum_errors(name):
    a = randn(3)
    for other in (1, 1.0, [1.0]):
        same_error(lambda lib, x, o=other: getattr(lib, name)(x, o), a)
        same_error(lambda lib, x, o=other: getattr(x, name)(o), a)
    same_error(lambda lib, x: getattr(lib, name)(1.0, x), a)
    same_error(lambda lib, x, y: getattr(lib, name)(x, y), a, randn(4))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_extremum_gradcheck(name):
    # distinct values: the function is differentiable there
    a = engine.tensor(np.arange(12.0).reshape(3, 4) * 0.37 - 2, requires_grad=True)
    b = engine.tensor(np.linspace(-2, 2, 4) + 0.01, requires_grad=True)
    assert gradcheck(getattr(engine, name), (a, b))


@settings(derandomize=True, max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(["maximum", "minimum"]), seed=st.integers(0, 2**16))
def test_extremum_hypothesis(shapes, name, seed):
    rng = np.random.default_rng(seed)
    a, b = (np.asarray(rng.integers(-2, 3, size=s)).astype(np.float32)
            for s in shapes.input_shapes)
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)


# --- clamp ---------------------------------------------------------------------------------------
BOUNDARY = np.array([-2.0, -1.0, -0.5, 0.0, -0.0, 0.5, 1.0, 2.0, NAN], dtype=np.float32)


@pytest.mark.parametrize("kwargs", [{"min": 0.0}, {"max": 0.5}, {"min": -1.0, "max": 1.0},
                                    {"min": 1.0, "max": -1.0}, {"min": 0}, {"min": 0.5,
                                                                            "max": 0.5}])
def test_clamp_numbers(kwargs):
    """Bounds are inclusive for the gradient; min > max gives max; NaN propagates."""
    e_outs, t_outs = check(lambda lib, t: lib.clamp(t, **kwargs), BOUNDARY)
    assert repr(e_outs[0].detach()) == repr(t_outs[0].detach())
    check(lambda lib, t: t.clip(**kwargs) * 3.0, BOUNDARY)
    check(lambda lib, t: t.clamp(*(kwargs.get(k) for k in ("min", "max"))), BOUNDARY)


@pytest.mark.parametrize("x", [np.array([1, 2, 3]), np.array([True, False]),
                               np.array([1, 2], dtype=np.uint8)])
@pytest.mark.parametrize("kwargs", [{"min": 2}, {"min": 1.5}, {"max": True},
                                    {"min": 0, "max": 2.5}])
def test_clamp_number_promotion(x, kwargs):
    try:
        torch.clamp(torch.tensor(x), **kwargs)
    except NotImplementedError:  # bool clamped by a bool
        same_error(lambda lib, t: lib.clamp(t, **kwargs), x)
        return
    check(lambda lib, t: lib.clamp(t, **kwargs), x)


MIN = np.array([0.0, 0.0, 4.0, 0.5, NAN, -3.0], dtype=np.float32)
MAX = np.array([2.0, 1.0, 3.5, 0.5, 1.0, NAN], dtype=np.float32)
X = np.array([1.0, -2.0, 3.0, 0.5, 0.0, 2.0], dtype=np.float32)


@pytest.mark.parametrize("which", ["min", "max", "both"])
def test_clamp_tensor_bounds(which):
    """ClampBackward0: ties, min > max and NaN bounds, with gradients for all three."""
    def fn(lib, x, lo, hi):
        kw = {"min": lo, "max": hi}
        if which != "both":
            kw.pop("max" if which == "min" else "min")
        return lib.clamp(x, **kw)

    check(fn, X, MIN, MAX)
    check(fn, X, MIN, MAX, grad=[True, False, True])
    check(fn, X, MIN, MAX, grad=[False, True, False])


def _clamp_broadcast_input(lib, a, b, c):
    # PyTorch's backward fails when the bounds broadcast the input to a larger shape
    # ("output with shape [3, 1] doesn't match the broadcast shape [3, 4]"); the engine
    # reduces the gradient to the input's shape instead. The reference for that gradient is
    # the same clamp applied to the input broadcast up front.
    shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape), tuple(c.shape))
    return lib.clamp(a + lib.zeros(shape), b, c)


@pytest.mark.parametrize("shapes", [((3, 1), (4,), ()), ((2, 3), (3,), (2, 1)),
                                    ((), (2,), (2, 2)), ((2, 3), (3,), ())])
def test_clamp_tensor_bounds_broadcast(shapes):
    x, lo, hi = (ties(*s) for s in shapes)
    check(lambda lib, a, b, c: lib.clamp(a, b, c), x, lo, hi, grad=[False] * 3)
    check(_clamp_broadcast_input, x, lo, hi)
    e = [engine.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    out = engine.clamp(*e)
    out.backward(engine.ones(out.shape))
    ref = [engine.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    ref_out = _clamp_broadcast_input(engine, *ref)
    ref_out.backward(engine.ones(ref_out.shape))
    for got, want in zip(e, ref):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy())
    check(lambda lib, a, b: a.clamp(min=b), lo, x[..., :1] if x.ndim else x)


def test_clamp_tensor_bound_dtypes():
    ints = np.array([1, 2, 3])
    check(lambda lib, a, b: lib.clamp(a, min=b), ints, np.array(1.5, dtype=np.float32))
    check(lambda lib, a, b: lib.clamp(a, min=b), ints, np.array([1.5, 1, 1]))
    check(lambda lib, a, b: lib.clamp(a, min=b), X, np.array([1, 1, 5, 0, 0, 0]))
    check(lambda lib, a, b: lib.clamp(a, min=b), X, MIN.astype(np.float64))
    check(lambda lib, a, b: lib.clamp(a, min=b), X, np.array(0.5))  # 0-d float64 tensor
    check(lambda lib, a, b: lib.clamp(a, max=b), randn(3, 1), np.zeros(4))


def test_clamp_mixed_zero_dim_tensor_and_number():
    """A 0-d tensor beside a number is read as a number (ClampBackward1), unless it
    requires grad: then it is a type error; alone it is a tensor bound (ClampBackward0)."""
    zero, one = np.array(0.0, dtype=np.float32), np.array(1.0, dtype=np.float32)
    check(lambda lib, a, b: lib.clamp(a, b, 1.0), X, zero, grad=[True, False])
    check(lambda lib, a, b: lib.clamp(a, -1, b), X, one, grad=[True, False])
    check(lambda lib, a, b: lib.clamp(a, b, 1), X, np.array(0), grad=[True, False])
    check(lambda lib, a, b: lib.clamp(a, b, None), X, zero)
    for lib in (engine, torch):
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            lib.clamp(lib.tensor(X), lib.tensor(0.0, requires_grad=True), 1.0)


def test_clamp_errors():
    same_error(lambda lib, a: lib.clamp(a), X)
    same_error(lambda lib, a: lib.clamp(a, min=None, max=None), X)
    same_error(lambda lib, a, b: lib.clamp(a, min=b), randn(2), randn(3))


def test_clamp_mixed_tensor_and_number_is_a_type_error():
    x, lo = engine.tensor(X), engine.tensor(MIN)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        engine.clamp(x, min=lo, max=1.0)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        torch.clamp(torch.tensor(X), min=torch.tensor(MIN), max=1.0)


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_min_max(name):
    bound = np.float32(0.5)
    check(lambda lib, t: getattr(t, name)(float(bound)), BOUNDARY)
    check(lambda lib, t: getattr(lib, name)(t, 0), BOUNDARY)
    check(lambda lib, t, b: getattr(t, name)(b), X, MIN if name == "clamp_min" else MAX)
    check(lambda lib, t, b: getattr(lib, name)(t, b), ties(3, 1), ties(4))
    check(lambda lib, t: getattr(t * 1, name + "_")(0.0), BOUNDARY)


def test_clamp_saves_its_inputs():
    def fn(lib, x, lo):
        a = x * 1
        y = a.clamp(min=lo)
        a.add_(1)
        y.sum().backward()

    same_error(fn, X, MIN, grad=[True, True])


def test_clamp_inplace_tensor_bounds():
    check(lambda lib, x, lo: (x * 1).clamp_(min=lo), X, MIN)


@pytest.mark.parametrize("kwargs", [{"min": -0.3}, {"max": 0.2}, {"min": -0.3, "max": 0.2}])
def test_clamp_gradcheck(kwargs):
    x = engine.tensor(np.linspace(-1, 1, 7) + 0.01, requires_grad=True)
    assert gradcheck(lambda t: engine.clamp(t, **kwargs), (x,))


def test_clamp_tensor_gradcheck():
    x = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    lo = engine.tensor(np.array([-0.55, 0.13, -2.0]), requires_grad=True)
    hi = engine.tensor(np.array([[0.41], [0.9]]), requires_grad=True)
    assert gradcheck(lambda a, b, c: engine.clamp(a, b, c), (x, lo, hi))


@settings(derandomize=True, max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_clamp_hypothesis(shapes, seed):
    rng = np.random.default_rng(seed)
    x, lo, hi = (np.asarray(rng.integers(-2, 3, size=s)).astype(np.float32)
                 for s in shapes.input_shapes)
    check(lambda lib, a, b, c: lib.clamp(a, b, c), x, lo, hi, grad=[False] * 3)
    check(_clamp_broadcast_input, x, lo, hi)
