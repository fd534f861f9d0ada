"""Elementwise arithmetic against real PyTorch: values, result dtypes (type promotion of
tensors, 0-d tensors and Python numbers), broadcasting and its errors, node names and
``next_functions`` (incl. ``(None, 0)`` for numbers and tensors without grad), gradients
reduced over broadcast dims, what each node saves (so in-place changes raise exactly where
PyTorch raises), bitwise / logical ops, and float64 gradcheck of every differentiable op."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.autograd import gradcheck

from .reference import check, make, to_numpy, torch

RNG = np.random.default_rng(7)


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


def positive(*shape, dtype=np.float32):
    return np.asarray(RNG.random(shape) + 0.5).astype(dtype)


def outcome(lib, fn):
    """What ``fn(lib)`` gives: ('ok', dtype, shape, values, grad_fn name) or the error."""
    try:
        r = fn(lib)
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return ("error", type(exc).__name__, str(exc))
    name = type(r.grad_fn).__name__ if r.grad_fn is not None else None
    return ("ok", str(r.dtype), tuple(r.shape), to_numpy(r), name)


def assert_same(fn, rtol=1e-6):
    """``fn(lib)`` gives the same dtype, values and node in both libraries, or the same error
    (type and full text)."""
    e, t = outcome(engine, fn), outcome(torch, fn)
    if t[0] == "error" or e[0] == "error":
        assert e == t
        return
    assert e[1:3] == t[1:3], f"engine {e[1:3]} != torch {t[1:3]}"
    np.testing.assert_allclose(e[3].astype(np.float64), t[3].astype(np.float64), rtol=rtol,
                               equal_nan=True)
    assert e[4] == t[4]


# --- graphs and gradients --------------------------------------------------------------------
BINARY = {
    "add": (lambda L, a, b: a + b, randn),
    "sub": (lambda L, a, b: a - b, randn),
    "mul": (lambda L, a, b: a * b, randn),
    "div": (lambda L, a, b: a / b, positive),
    "pow": (lambda L, a, b: a ** b, positive),
    "remainder": (lambda L, a, b: a % b, positive),
    "fmod": (lambda L, a, b: L.fmod(a, b), positive),
    "add_alpha": (lambda L, a, b: L.add(a, b, alpha=2.5), randn),
    "sub_alpha": (lambda L, a, b: a.sub(b, alpha=-3), randn),
    "rsub": (lambda L, a, b: L.rsub(a, b, alpha=2), randn),
    "div_rounding_none": (lambda L, a, b: a.div(b, rounding_mode=None), positive),
    "div_floor": (lambda L, a, b: L.div(a, b, rounding_mode="floor"), positive),
    "div_trunc": (lambda L, a, b: L.div(a * 3, b, rounding_mode="trunc"), positive),
}


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.sampled_from(sorted(BINARY)),
       hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from([[True, True], [True, False], [False, True]]))
def test_binary_broadcasting(name, shapes, grad):
    """Every pair of broadcast-compatible shapes: values, node chain and gradients reduced
    back to each input's shape, with either input not requiring grad."""
    fn, maker = BINARY[name]
    a, b = (maker(*s) for s in shapes.input_shapes)
    check(fn, a, b, grad=grad, rtol=1e-4, atol=1e-5)


SCALAR_FORMS = {
    "t+2": lambda L, t: t + 2, "2+t": lambda L, t: 2 + t, "t-2": lambda L, t: t - 2,
    "2-t": lambda L, t: 2 - t, "2.5-t": lambda L, t: 2.5 - t, "t*0.5": lambda L, t: t * 0.5,
    "0.5*t": lambda L, t: 0.5 * t, "t/2": lambda L, t: t / 2, "2/t": lambda L, t: 2 / t,
    "t**2": lambda L, t: t ** 2, "t**2.5": lambda L, t: t ** 2.5, "t**0": lambda L, t: t ** 0,
    "t**1": lambda L, t: t ** 1, "t**-1": lambda L, t: t ** -1, "2**t": lambda L, t: 2 ** t,
    "0.5**t": lambda L, t: 0.5 ** t, "t**t": lambda L, t: t ** t, "t*t": lambda L, t: t * t,
    "t%0.7": lambda L, t: t % 0.7, "-t": lambda L, t: -t, "+t": lambda L, t: +t,
    "square": lambda L, t: t.square(), "reciprocal": lambda L, t: t.reciprocal(),
    "rsub(t,2)": lambda L, t: L.rsub(t, 2), "rsub alpha": lambda L, t: L.rsub(t, 2, alpha=3),
    "add(2,t)": lambda L, t: L.add(2, t), "mul(2,t)": lambda L, t: L.mul(2, t),
    "sub(2,t)": lambda L, t: L.sub(2, t), "div(2,t)": lambda L, t: L.div(2, t),
    "pow(2,t)": lambda L, t: L.pow(2, t), "true_divide(2,t)": lambda L, t: L.true_divide(2, t),
    "t*0d": lambda L, t: t * L.tensor(3.0), "0d/t": lambda L, t: L.tensor(2.0) / t,
    "t**0d": lambda L, t: t ** L.tensor(2.0), "0d**t": lambda L, t: L.tensor(2.0) ** t,
    "t/np": lambda L, t: t / np.float64(3.0), "np*t": lambda L, t: np.float32(3.0) * t,
    "chain": lambda L, t: ((1 - t) * 0.5 + t ** 2 / 4) ** 2,
}


@pytest.mark.parametrize("form", sorted(SCALAR_FORMS))
def test_python_numbers_on_either_side(form):
    """PyTorch's nodes for numbers: RsubBackward1, MulBackward0 over ReciprocalBackward0 for
    ``2 / t``, PowBackward0/1/2, ``(None, 0)`` for a number wrapped by ``torch.add(2, t)``."""
    check(SCALAR_FORMS[form], positive(2, 3))


def test_next_functions_of_numbers_and_constants():
    for lib in (engine, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        nf = (x * 2).grad_fn.next_functions
        assert nf[1] == (None, 0) and type(nf[0][0]).__name__ == "AccumulateGrad"
        assert (c * x).grad_fn.next_functions[0] == (None, 0)
        assert lib.add(2, x).grad_fn.next_functions[0] == (None, 0)
        assert len((2 - x).grad_fn.next_functions) == 1
        assert (x + x).grad_fn.next_functions[0][0] is (x + x).grad_fn.next_functions[1][0]
        div = (2 / x).grad_fn
        assert type(div).__name__ == "MulBackward0" and div.next_functions[1] == (None, 0)
        assert type(div.next_functions[0][0]).__name__ == "ReciprocalBackward0"


def test_mixed_dtype_gradients_come_back_in_each_inputs_dtype():
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([0.5, 1.5, 2.5])
    for form in (lambda L, x, y: x * y, lambda L, x, y: x / y, lambda L, x, y: x - y,
                 lambda L, x, y: x ** y, lambda L, x, y: (x * 1) * (y * 1)):
        e_outs, _ = check(form, a, b)
        assert e_outs[0].dtype == engine.float64
    for lib in (engine, torch):
        x = lib.tensor(a, requires_grad=True)
        y = lib.tensor(b, requires_grad=True)
        h = x * 1
        h.retain_grad()
        (h * y).sum().backward()
        assert h.grad.dtype == lib.float32 and x.grad.dtype == lib.float32
        assert y.grad.dtype == lib.float64


def test_floor_divide_records_not_implemented():
    a = positive(3)
    for fn, op in ((lambda L, t: t // 2, "floor_divide"), (lambda L, t: 3 // t, "floor_divide"),
                   (lambda L, t: L.floor_divide(t, t), "floor_divide"),
                   (lambda L, t: 3 % t, "remainder"), (lambda L, t: L.remainder(3, t),
                                                      "remainder")):
        check(fn, a, grad=[False])
        edges = {}
        for lib in (engine, torch):
            y = fn(lib, make(lib, a, True))
            assert type(y.grad_fn).__name__ == "NotImplemented"
            assert y.grad_fn.name() == "torch::autograd::NotImplemented"
            assert "grad_fn=<NotImplemented>" in repr(y)
            edges[lib] = [type(n).__name__ for n, _ in y.grad_fn.next_functions]
            with pytest.raises(RuntimeError, match=f"derivative for aten::{op} is not implemented"):
                y.sum().backward()
        assert edges[engine] == edges[torch]


# --- type promotion --------------------------------------------------------------------------
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
VALUES = {"bool": [True, False, True]}
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
       "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "<": operator.lt,
       "==": operator.eq}


def _tensor(lib, dtype: str, zero_dim: bool, values):
    data = values[:1][0] if zero_dim else values
    return lib.tensor(data, dtype=getattr(lib, dtype))


@pytest.mark.parametrize("op", sorted(OPS))
def test_promotion_between_tensors(op):
    """Every dtype pair, dimensioned and 0-d on either side: PyTorch's result type (a higher
    category wins whatever the width, a 0-d tensor only raises the category), values, and
    errors (bool subtraction, integer division by zero)."""
    fn = OPS[op]
    for da in DTYPES:
        for db in DTYPES:
            for za, zb in ((False, False), (False, True), (True, False), (True, True)):
                va = VALUES.get(da, [3, 1, 2])
                vb = VALUES.get(db, [2, 1, 3]) if db != "bool" else [True, True, True]
                assert_same(lambda L, da=da, db=db, za=za, zb=zb, va=va, vb=vb: fn(
                    _tensor(L, da, za, va), _tensor(L, db, zb, vb)), rtol=2e-3)


NUMBERS = [2, -1, 2.5, True, False, 0]


@pytest.mark.parametrize("op", sorted(OPS))
def test_promotion_with_python_numbers(op):
    """A Python number raises the category only (int tensor * 2.5 -> the default float
    type, float64 tensor * 2.5 stays float64, bool tensor + 1 -> int64), on either side."""
    fn = OPS[op]
    for d in DTYPES:
        for number in NUMBERS:
            for zero_dim in (False, True):
                t = {"dtype": d, "zero_dim": zero_dim, "values": VALUES.get(d, [3, 1, 2])}
                assert_same(lambda L, t=t, n=number: fn(_tensor(L, **t), n), rtol=2e-3)
                assert_same(lambda L, t=t, n=number: fn(n, _tensor(L, **t)), rtol=2e-3)


def test_numpy_scalars_act_like_python_numbers():
    for number in (np.float64(2.5), np.float32(2.5), np.int32(3), np.int64(-2), np.bool_(True)):
        for d in ("int64", "float32", "float64"):
            for op in (operator.mul, operator.add, operator.pow):
                assert_same(lambda L, d=d, n=number, op=op: op(_tensor(L, d, False, [1, 2, 3]), n))


def test_default_dtype_follows_set_default_dtype():
    for lib in (engine, torch):
        lib.set_default_dtype(lib.float64)
        try:
            assert (lib.tensor([1, 2]) / lib.tensor([2, 4])).dtype == lib.float64
            assert (lib.tensor([1, 2]) * 1.5).dtype == lib.float64
            assert (lib.tensor([1.0], dtype=lib.float32) * 1.5).dtype == lib.float32
            assert (lib.tensor([1]) + lib.tensor(2.0, dtype=lib.float32)).dtype == lib.float32
        finally:
            lib.set_default_dtype(lib.float32)


def test_integer_results():
    cases = [
        lambda L: L.tensor([7, -7, 5]) // 2, lambda L: L.tensor([7, -7, 5]) % 3,
        lambda L: L.tensor([7, -7, 5]) % -3, lambda L: L.fmod(L.tensor([7, -7, 5]), 3),
        lambda L: L.div(L.tensor([7, -7, 5]), 2, rounding_mode="trunc"),
        lambda L: L.div(L.tensor([7, -7, 5]), 2, rounding_mode="floor"),
        lambda L: L.div(L.tensor([7, -7, 5]), 2.5, rounding_mode="trunc"),
        lambda L: L.div(L.tensor([7.5, -7.5]), L.tensor([2, 2]), rounding_mode="trunc"),
        lambda L: 7 // L.tensor([2, -3]), lambda L: 7 % L.tensor([2, -3]),
        lambda L: 7.5 // L.tensor([2, -3]), lambda L: 5.5 % L.tensor([2, 3]),
        lambda L: L.tensor([-2, -1, 0, 1, 2]) ** L.tensor([-1]),
        lambda L: L.tensor([-2, -1, 0, 1, 2]) ** L.tensor([-2]),
        lambda L: 2 ** L.tensor([-1, 0, 3]), lambda L: L.tensor(2) ** L.tensor([-1, 2]),
        lambda L: L.tensor([True, False]) ** 2, lambda L: 2 ** L.tensor([True]),
        lambda L: L.tensor([1, 2]) ** 0.5, lambda L: L.tensor([1, 2]) ** L.tensor([1.5, 2]),
        lambda L: L.tensor([1, 2], dtype=L.uint8) + 300,
        lambda L: L.tensor([1, 2], dtype=L.uint8) * 300,
        lambda L: L.tensor([1], dtype=L.int32) + 2 ** 40,
        lambda L: L.tensor([1, 2], dtype=L.uint8) - L.tensor(5),
        lambda L: L.tensor([2 ** 40]) ** 2,
        lambda L: L.tensor([1.0, -1.0, 0.0]) / 0, lambda L: L.tensor([5.0, -5.0, 0.0]) // 0,
        lambda L: L.tensor([5.0, -5.0]) % 0, lambda L: L.tensor([1, -1, 0]) / 0,
    ]
    for fn in cases:
        assert_same(fn)


def test_errors_match_torch():
    """Full error texts: bool subtraction and negation, integer division by zero, negative
    integer powers, float alpha for integer tensors, rounding modes, shapes that don't
    broadcast, operand types."""
    cases = [
        lambda L: L.tensor([True]) - 1, lambda L: 1 - L.tensor([True]),
        lambda L: L.tensor([1]) - L.tensor([True]), lambda L: L.tensor([True]) - True,
        lambda L: L.tensor([1, 2]) - True, lambda L: L.sub(L.tensor([True]), L.tensor([False])),
        lambda L: L.rsub(L.tensor([True]), L.tensor([1])), lambda L: -L.tensor([True]),
        lambda L: L.tensor([1, 2]) // 0, lambda L: L.tensor([1, 2]) % 0,
        lambda L: L.fmod(L.tensor([1, 2]), 0),
        lambda L: L.div(L.tensor([1, 2]), L.tensor([0, 1]), rounding_mode="floor"),
        lambda L: L.div(L.tensor([1, 2]), L.tensor([0, 1]), rounding_mode="trunc"),
        lambda L: L.tensor([True]) // L.tensor([True]),
        lambda L: L.tensor([True]) % L.tensor([True]),
        lambda L: L.tensor([1, 2]) ** -1, lambda L: L.tensor([True]) ** L.tensor([True]),
        lambda L: L.tensor([1, 2]).add(L.tensor([1, 2]), alpha=2.5),
        lambda L: L.tensor([1, 2]).sub(1, alpha=0.5),
        lambda L: L.div(L.tensor([1.0]), 2, rounding_mode="bad"),
        lambda L: L.tensor([1.0, 2.0]) + L.tensor([1.0, 2.0, 3.0]),
        lambda L: L.ones(2, 3) * L.ones(3, 2), lambda L: L.ones(4, 1, 3) / L.ones(2, 5, 1),
        lambda L: L.ones(3) ** L.ones(2), lambda L: L.ones(3) % L.ones(2),
        lambda L: L.ones(3) < L.ones(2), lambda L: L.ones(3) - L.ones(1, 2),
        lambda L: L.ones(3) + "a", lambda L: "a" * L.ones(3), lambda L: L.ones(3) + None,
        lambda L: L.ones(3) + [1, 2, 3], lambda L: L.ones(3).add("a"),
        lambda L: L.ones(3).mul(None), lambda L: L.ones(3) @ 2,
        lambda L: L.tensor([1.0]) & L.tensor([1.0]), lambda L: L.tensor([1.0]) | 1,
        lambda L: ~L.tensor([1.0]), lambda L: L.tensor([1.0]) ^ L.tensor([1.0]),
    ]
    for fn in cases:
        assert_same(fn)


def test_comparisons_and_logic():
    cases = [
        lambda L: L.tensor([1.0, 2.0, 3.0]) < L.tensor([2, 2, 2]),
        lambda L: L.tensor([1.0, 2.0, 3.0]) >= 2, lambda L: 2 > L.tensor([1.0, 2.0, 3.0]),
        lambda L: L.tensor([1, 2, 3]) == 2.0, lambda L: L.tensor([1, 2, 3]) != L.tensor(2),
        lambda L: L.eq(L.tensor([1.0, 2.0]), 1), lambda L: L.ne(L.tensor([1.0]), 1),
        lambda L: L.gt(L.ones(2, 1), L.zeros(3)), lambda L: L.tensor([1.0]).le(2),
        lambda L: L.tensor([1, 2]) & L.tensor([3, 1]), lambda L: L.tensor([1, 2]) | 4,
        lambda L: L.tensor([5, 2]) ^ 3, lambda L: ~L.tensor([1, -2]),
        lambda L: L.tensor([True, False]) & L.tensor([True, True]),
        lambda L: L.tensor([True, False]) | True, lambda L: True ^ L.tensor([True, False]),
        lambda L: ~L.tensor([True, False]), lambda L: L.tensor([True]) & L.tensor([3]),
        lambda L: L.logical_and(L.tensor([1.0, 0.0]), L.tensor([1, 1])),
        lambda L: L.logical_or(L.tensor([1.0, 0.0]), L.tensor([0, 0])),
        lambda L: L.logical_xor(L.tensor([1.0, 0.0]), L.tensor([1, 1])),
        lambda L: L.tensor([0.0, 2.0]).logical_not(), lambda L: L.logical_not(L.tensor([0, 3])),
        lambda L: L.bitwise_and(L.tensor([6]), L.tensor([3])),
        lambda L: L.isnan(L.tensor([float("nan"), 1.0])),
        lambda L: L.isinf(L.tensor([float("inf"), 1.0])),
        lambda L: L.isfinite(L.tensor([float("inf"), 1.0])),
    ]
    for fn in cases:
        assert_same(fn)
    for lib in (engine, torch):
        t = lib.tensor([1.0, 2.0], requires_grad=True)
        assert (t > 1).grad_fn is None and not (t > 1).requires_grad
        assert (t == None) is False  # noqa: E711 - the operator's own answer is what is tested


# --- what nodes save: in-place changes after the op ------------------------------------------
SAVED = ["b*2", "b*c", "c*b", "b/c", "c/b", "b/2", "b**2", "b**c", "c**b", "2**b", "b%c",
         "c%b", "b%2", "b+c", "b-c", "2-b", "2/b", "b.reciprocal()", "torch.fmod(b,c)",
         "torch.div(b,c,rounding_mode='floor')", "torch.rsub(b,c)", "b.square()", "b**b"]


def _run_after_change(lib, expr: str, change: str):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = lib.tensor([3.0, 4.0])
    y = eval(expr, {"torch": lib, "b": b, "c": c})
    if change == "b":
        with lib.no_grad():
            b.add_(1)
    elif change == "c":
        c.add_(1)
    else:
        y.add_(1)
    try:
        y.sum().backward()
    except RuntimeError as exc:
        return str(exc)
    return to_numpy(a.grad).tolist()


@pytest.mark.parametrize("expr", SAVED)
def test_saved_tensors_match_torch(expr):
    """Each node keeps exactly the operands PyTorch's formula reads: changing one of those in
    place raises PyTorch's version-counter message (naming the op as PyTorch does, e.g.
    "output 0 of Pow2"); changing anything else is harmless."""
    for change in ("b", "c", "y"):
        assert _run_after_change(engine, expr, change) == _run_after_change(torch, expr, change)


# --- float64 gradcheck -----------------------------------------------------------------------
GRADCHECK = {
    "add": lambda a, b: engine.add(a, b, alpha=0.5), "sub": lambda a, b: a - b,
    "rsub": lambda a, b: engine.rsub(a, b), "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b, "remainder": lambda a, b: (a * 3) % b,
    "fmod": lambda a, b: engine.fmod(a * 3, b), "scalars": lambda a, b: 2 - a + 3 / b - 0.5 * a,
    "pow0": lambda a, b: a ** 3 + b ** -1.5, "pow2": lambda a, b: 2 ** a + 0.5 ** b,
    "reciprocal": lambda a, b: a.reciprocal() * b.square(), "neg": lambda a, b: -a * b,
    "broadcast": lambda a, b: a * b.sum(0) + a / b.mean(1, keepdim=True) - b[0],
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_float64(name):
    a = engine.tensor(positive(2, 3, dtype=np.float64), requires_grad=True)
    b = engine.tensor(positive(2, 3, dtype=np.float64) + 0.3, requires_grad=True)
    assert gradcheck(GRADCHECK[name], (a, b))
