"""Matrix products against real PyTorch: ``mm``, ``mv``, ``dot``, ``bmm``, ``addmm``,
``outer`` and ``matmul`` for every rank combination, with the graph PyTorch records for each
(``matmul`` is decomposed into those products plus views, depending on ranks, on which
operand requires grad and on strides), gradients, what each node saves, error texts, and
float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.autograd import gradcheck

from .reference import check, make, name_chain, torch

RNG = np.random.default_rng(11)


def randn(*shape, dtype=np.float32):
    return np.asarray(RNG.standard_normal(shape)).astype(dtype)


MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (1, 3, 4)), ((1, 2, 3), (5, 3, 4)), ((1, 2, 3), (1, 3, 4)),
    ((6, 5, 2, 3), (5, 3, 4)), ((6, 1, 2, 3), (5, 3, 4)), ((5, 2, 3), (2, 5, 3, 4)),
    ((4, 5, 2, 3), (3,)), ((3,), (4, 5, 3, 2)), ((2, 1, 2, 3), (3, 4)), ((2, 3), (1, 1, 3, 4)),
    ((0, 2, 3), (3, 4)), ((2, 0), (0, 3)),
]
GRADS = [[True, True], [True, False], [False, True], [False, False]]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("grad", GRADS, ids=str)
def test_matmul_every_rank(shapes, grad):
    """``a @ b``: value, PyTorch's node chain (DotBackward0, MvBackward0, SqueezeBackward4
    over MmBackward0, UnsafeViewBackward0 over MmBackward0 over ViewBackward0, BmmBackward0
    over ExpandBackward0 ...) and both gradients, whichever operand requires grad."""
    a, b = randn(*shapes[0]), randn(*shapes[1])
    check(lambda L, x, y: x @ y, a, b, grad=grad, rtol=1e-4, atol=1e-5)
    check(lambda L, x, y: L.matmul(x, y), a, b, grad=grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shapes", [s for s in MATMUL_SHAPES if len(s[0]) >= 3], ids=str)
def test_matmul_non_contiguous_batch(shapes):
    """A transposed batch can't be folded into one matrix without a copy: PyTorch then takes
    the bmm route (or folds with ReshapeAliasBackward0 / a clone); so does the engine."""
    a = np.ascontiguousarray(np.swapaxes(randn(*shapes[0]), 0, -1))
    b = randn(*shapes[1])
    for grad in GRADS:
        check(lambda L, x, y: x.transpose(0, -1) @ y, a, b, grad=grad, rtol=1e-4, atol=1e-5)


@settings(derandomize=True, max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.lists(st.integers(1, 3), min_size=0, max_size=3), st.data())
def test_matmul_broadcast_batches(n, k, m, batch_a, data):
    """Random batch shapes broadcast against each other (size-1 dims and missing leading
    dims on either side), and vectors on either side."""
    keep = data.draw(st.integers(0, len(batch_a)))
    ones = data.draw(st.lists(st.booleans(), min_size=keep, max_size=keep))
    batch_b = [1 if one else s for one, s in zip(ones, batch_a[len(batch_a) - keep:])]
    if data.draw(st.booleans()):
        batch_a, batch_b = batch_b, batch_a
    vec_a, vec_b = data.draw(st.booleans()), data.draw(st.booleans())
    sa = (k,) if vec_a else tuple(batch_a) + (n, k)
    sb = (k,) if vec_b else tuple(batch_b) + (k, m)
    grad = data.draw(st.sampled_from(GRADS[:3]))
    check(lambda L, x, y: x @ y, randn(*sa), randn(*sb), grad=grad, rtol=1e-4, atol=1e-5)


PRODUCTS = {
    "mm": (lambda L, a, b: a.mm(b), (3, 4), (4, 2)),
    "torch.mm": (lambda L, a, b: L.mm(a, b), (3, 4), (4, 2)),
    "mv": (lambda L, a, b: L.mv(a, b), (3, 4), (4,)),
    "dot": (lambda L, a, b: a.dot(b), (4,), (4,)),
    "bmm": (lambda L, a, b: L.bmm(a, b), (2, 3, 4), (2, 4, 5)),
    "outer": (lambda L, a, b: L.outer(a, b), (3,), (4,)),
    "ger": (lambda L, a, b: a.ger(b), (3,), (4,)),
    "chain": (lambda L, a, b: (a.mm(b).relu() @ b.t()).sum(), (3, 4), (4, 2)),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
@pytest.mark.parametrize("grad", GRADS[:3], ids=str)
def test_products(name, grad):
    fn, sa, sb = PRODUCTS[name]
    check(fn, randn(*sa), randn(*sb), grad=grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias_shape", [(2,), (1, 2), (3, 1), (3, 2), (), (1,)], ids=str)
def test_addmm(bias_shape):
    """AddmmBackward0 with next_functions (input, mat1, mat2); the bias broadcast and its
    gradient summed back; beta / alpha; what ``nn.Linear`` records."""
    bias, m1, m2 = randn(*bias_shape), randn(3, 4), randn(4, 2)
    check(lambda L, b, x, w: L.addmm(b, x, w), bias, m1, m2, rtol=1e-4, atol=1e-5)
    check(lambda L, b, x, w: L.addmm(b, x, w, beta=0.5, alpha=-2), bias, m1, m2, rtol=1e-4,
          atol=1e-5)
    check(lambda L, b, x, w: b.addmm(x, w.t().t()), bias, m1, m2, rtol=1e-4, atol=1e-5)
    for grad in ([True, False, False], [False, True, False], [False, False, True]):
        check(lambda L, b, x, w: L.addmm(b, x, w), bias, m1, m2, grad=grad, rtol=1e-4,
              atol=1e-5)


def test_addmm_beta_zero_ignores_nan():
    nan = np.full((3, 2), np.nan, dtype=np.float32)
    check(lambda L, b, x, w: L.addmm(b, x, w, beta=0), nan, randn(3, 4), randn(4, 2),
          rtol=1e-4, atol=1e-5)


def test_integer_products():
    a = np.arange(6).reshape(2, 3)
    b = np.arange(12).reshape(3, 4) - 5
    check(lambda L, x, y: x @ y, a, b)
    check(lambda L, x, y: x @ y[:, 0], a, b)
    check(lambda L, x, y: x[0] @ y[:, 0], a, b)
    check(lambda L, x, y: x.int() @ y.int(), a, b)


def same_error(fn):
    caught = {}
    for lib in (engine, torch):
        with pytest.raises(Exception) as info:
            fn(lib)
        caught[lib] = info.value
    e, t = caught[engine], caught[torch]
    assert type(e).__name__ == type(t).__name__ and str(e) == str(t)


ERRORS = [
    lambda L: L.randn(3) @ L.randn(4), lambda L: L.randn(2, 3) @ L.randn(4),
    lambda L: L.randn(3) @ L.randn(4, 5), lambda L: L.randn(2, 3) @ L.randn(4, 5),
    lambda L: L.randn(5, 2, 3) @ L.randn(4, 5), lambda L: L.randn(5, 2, 3) @ L.randn(4),
    lambda L: L.randn(3) @ L.randn(5, 4, 2), lambda L: L.randn(2, 3) @ L.randn(5, 4, 2),
    lambda L: L.randn(3, requires_grad=True) @ L.randn(5, 4, 2),
    lambda L: L.randn(2, 3, requires_grad=True) @ L.randn(5, 4, 2),
    lambda L: L.randn(5, 2, 3) @ L.randn(5, 4, 2), lambda L: L.randn(5, 2, 3) @ L.randn(6, 3, 2),
    lambda L: L.randn(6, 5, 2, 3) @ L.randn(4, 3, 2),
    lambda L: L.randn(2, 5, 2, 3) @ L.randn(3, 5, 3, 2), lambda L: L.randn(()) @ L.randn(3),
    lambda L: L.randn(3) @ L.randn(()), lambda L: L.matmul(L.randn(2), 2),
    lambda L: L.randn(2) @ [1, 2],
    lambda L: L.randn(3).mm(L.randn(3, 2)), lambda L: L.randn(2, 3).mm(L.randn(3)),
    lambda L: L.mm(L.randn(2, 3), 5), lambda L: L.randn(2, 3).mv(L.randn(3, 1)),
    lambda L: L.randn(3).mv(L.randn(3)), lambda L: L.randn(2, 3).dot(L.randn(3)),
    lambda L: L.randn(2, 3).bmm(L.randn(3, 2)), lambda L: L.randn(2, 2, 3).bmm(L.randn(3, 3, 2)),
    lambda L: L.randn(2, 3).mm(L.randn(3, 2, dtype=L.float64)),
    lambda L: L.randn(2, 3).mv(L.randn(3, dtype=L.float64)),
    lambda L: L.randn(2, 3, dtype=L.float64).mv(L.randn(3)),
    lambda L: L.randn(3).dot(L.randn(3, dtype=L.float64)),
    lambda L: L.randn(2, 2, 3).bmm(L.randn(2, 3, 2, dtype=L.float64)),
    lambda L: L.tensor([[1, 2]]) @ L.tensor([[1.0], [2.0]]),
    lambda L: L.tensor([True]) @ L.tensor([True]),
    lambda L: L.tensor([[True]]).mm(L.tensor([[True]])),
    lambda L: L.addmm(L.randn(3), L.randn(2, 3), L.randn(3, 2)),
    lambda L: L.addmm(L.randn(2, 2), L.randn(2, 3), L.randn(4, 2)),
    lambda L: L.addmm(L.randn(2, 2, 2), L.randn(2, 3), L.randn(3, 2)),
    lambda L: L.addmm(L.randn(2), L.randn(2, 3), L.randn(3, 2, dtype=L.float64)),
    lambda L: L.addmm(L.randn(2, dtype=L.float64), L.randn(2, 3), L.randn(3, 2)),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_match_torch(index):
    same_error(ERRORS[index])


SAVED = ["b.mm(c)", "c.mm(b)", "b.mm(b)", "b @ c", "c @ b", "b[0].dot(c[0])", "c.mv(b[0])",
         "b.unsqueeze(0).bmm(c.unsqueeze(0))", "torch.addmm(c[0], b, c)", "torch.outer(b[0], c[0])",
         "b.unsqueeze(0).expand(3, 2, 2) @ c"]


@pytest.mark.parametrize("expr", SAVED)
def test_saved_operands_match_torch(expr):
    """mat1 is kept for mat2's gradient and mat2 for mat1's, as in PyTorch: changing one in
    place raises PyTorch's message only where PyTorch raises."""
    results = {}
    for lib in (engine, torch):
        out = []
        for change in ("b", "c"):
            a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
            b = a * 1
            c = lib.tensor([[0.5, -1.0], [2.0, 1.5]])
            y = eval(expr, {"torch": lib, "b": b, "c": c})
            with lib.no_grad():
                (b if change == "b" else c).mul_(2)
            try:
                y.sum().backward()
                out.append(a.grad.tolist())
            except RuntimeError as exc:
                out.append(str(exc))
        results[lib] = out
    assert results[engine] == results[torch]


def test_matmul_graph_follows_requires_grad_not_grad_mode():
    """PyTorch decides the decomposition from ``requires_grad`` (so a no_grad call computes
    the same way); values agree in both modes."""
    a, b = randn(2, 3), randn(5, 3, 4)
    for lib in (engine, torch):
        x, y = make(lib, a, True), make(lib, b)
        with lib.no_grad():
            r = x @ y
        assert r.grad_fn is None and tuple(r.shape) == (5, 2, 4)
    e = (engine.tensor(a) @ engine.tensor(b)).numpy()
    np.testing.assert_allclose(e, a @ b, rtol=1e-5)


def test_named_chain_for_linear_layer_input():
    """x @ W.t() + b on a 3-D batch: the graph a transformer-style layer shows."""
    x, w, bias = randn(4, 5, 3), randn(2, 3), randn(2)
    e, t = check(lambda L, a, m, c: a @ m.t() + c, x, w, bias, rtol=1e-4, atol=1e-5)
    assert name_chain(e[0])[:4] == ["AddBackward0", "UnsafeViewBackward0", "MmBackward0",
                                    "ViewBackward0"]


GRADCHECK = {
    "mm": (lambda a, b: a.mm(b), (3, 4), (4, 2)),
    "mv": (lambda a, b: a.mv(b), (3, 4), (4,)),
    "dot": (lambda a, b: a.dot(b), (4,), (4,)),
    "bmm": (lambda a, b: a.bmm(b), (2, 3, 4), (2, 4, 2)),
    "outer": (lambda a, b: engine.outer(a, b), (3,), (2,)),
    "matmul_3d_2d": (lambda a, b: a @ b, (2, 3, 4), (4, 2)),
    "matmul_1d_3d": (lambda a, b: a @ b, (4,), (2, 4, 3)),
    "matmul_2d_3d": (lambda a, b: a @ b, (3, 4), (2, 4, 2)),
    "matmul_broadcast": (lambda a, b: a @ b, (2, 1, 3, 4), (3, 4, 2)),
    "addmm": (lambda a, b: engine.addmm(b[0, :2], a, b, beta=0.5, alpha=1.5), (3, 4), (4, 2)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_float64(name):
    fn, sa, sb = GRADCHECK[name]
    a = engine.tensor(randn(*sa, dtype=np.float64), requires_grad=True)
    b = engine.tensor(randn(*sb, dtype=np.float64), requires_grad=True)
    assert gradcheck(fn, (a, b))
