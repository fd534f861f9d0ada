"""Shape ops against real PyTorch: values, node names, ``next_functions`` order and gradients
of the views (``view``, ``t``, ``permute``, ``expand``, ``split`` ...) and the copying ops
(``repeat``, ``cat``, ``stack``), views sharing storage and the version counter, error texts,
random shapes (hypothesis), and float64 gradcheck of every differentiable op."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.autograd import gradcheck

from .reference import check, make, to_numpy, torch

RNG = np.random.default_rng(11)
A = RNG.standard_normal((3, 4)).astype(np.float32)
V = RNG.standard_normal((3, 4)).astype(np.float32)


def run_expr(expr: str):
    """``fn(lib, a, v)`` for ``check``: evaluates ``expr`` with ``b = a * 1`` a non-leaf."""

    def fn(lib, a, v):
        ns = {"torch": lib, "np": np, "a": a, "v": v, "b": a * 1}
        return eval(expr, ns)

    return fn


def same_error(fn, *inputs):
    """``fn(lib, *tensors)`` raises the same exception type and text in both libraries."""
    caught = {}
    for name, lib in (("engine", engine), ("torch", torch)):
        tensors = [make(lib, a, a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
                   for a in inputs]
        with pytest.raises(Exception) as info:
            fn(lib, *tensors)
        caught[name] = info.value
    e, t = caught["engine"], caught["torch"]
    assert isinstance(e, type(t)), f"engine raised {type(e).__name__}: {e}; torch {t!r}"
    assert str(e) == str(t)


CASES = [
    # views
    "b.view(2, 6)", "b.view(-1)", "b.view((4, 3))", "b.view(torch.Size([12]))",
    "b.view_as(torch.zeros(4, 3))", "b.reshape(6, 2)", "b.reshape(-1)", "b.t().reshape(12)",
    "b.reshape_as(torch.zeros(12))", "b.t().contiguous()", "b.contiguous()", "b.clone()",
    "b.flatten()", "b.flatten(0, 0)", "b.T.flatten()", "b.t()", "b.T", "b.mT",
    "b.transpose(1, 0)", "b.swapaxes(0, 1)", "b.permute(1, 0)", "b.permute((1, 0))",
    "b.unsqueeze(0)", "b.unsqueeze(-1)", "b.squeeze()", "b.squeeze(0)",
    "b.unsqueeze(0).squeeze(0)", "b.view(3, 1, 4).squeeze((0, 1))", "b.unbind(1)",
    "b.select(1, -1)", "b.narrow(1, 1, 2)", "b.narrow(1, -2, 2)",
    "b.narrow(0, torch.tensor(1), 2)", "torch.select(b, 0, 2)", "torch.narrow(b, 0, 0, 1)",
    # expand / repeat
    "b.expand(2, 3, 4)", "b.expand([2, 3, 4])", "b.expand(torch.Size([2, 3, 4]))",
    "b.expand(-1, 4)", "b.expand(4, -1, 4)", "b.expand_as(torch.zeros(2, 3, 4))",
    "b.unsqueeze(0).expand(2, -1, -1)", "b.unsqueeze(1).expand(3, 2, 4)",
    "b.view(3, 1, 4).expand(3, 5, 4)", "b.expand(1, 3, 4).squeeze(0)",
    "b.repeat(2, 1)", "b.repeat(2, 1, 3)", "b.repeat(1, 1)", "b.repeat((2, 2))",
    "b.repeat(torch.Size([1, 2]))", "b[0].repeat(3, 2)",
    # split / chunk
    "b.split(2)", "b.split(2, 1)", "b.split([1, 2])", "b.split([1, 0, 2])", "a.split(2)",
    "torch.split(b, [1, 2], dim=0)", "b.chunk(2)", "b.chunk(5, 1)", "a.chunk(3, dim=1)",
    "torch.chunk(b, 2, dim=1)", "torch.zeros(0, 2).chunk(3)",
    # cat / stack
    "torch.cat([b, b])", "torch.cat([a, v], 1)", "torch.cat((a, b), dim=-1)",
    "torch.concat([a, b], 1)", "torch.concatenate([a, b], -1)", "torch.cat([b, v], axis=1)",
    "torch.cat([b[:, :1], v[:, 1:]], 1)", "torch.cat([b, torch.zeros(3, 4, dtype=torch.float64)])",
    "torch.cat([b, torch.zeros(3, 4, dtype=torch.int64)])",
    "torch.cat([torch.zeros(0, requires_grad=True), b])", "torch.cat([b, torch.zeros(0)], 1)",
    "torch.cat([b])", "torch.cat([b, a.detach()])", "torch.stack([b, b])",
    "torch.stack([a, v], 2)", "torch.stack([a[0], v[1]], 1)", "torch.stack((b, v), -1)",
    "torch.stack([b[0], torch.zeros(4, dtype=torch.int64)])",
    "torch.stack([torch.tensor(1.), b[0, 0]])",
]


@pytest.mark.parametrize("expr", CASES)
def test_shape_op_matches_torch(expr):
    check(run_expr(expr), A, V)


def test_transposes_of_low_rank_tensors_match_torch():
    x1 = RNG.standard_normal(4)
    check(lambda lib, t: t.t(), x1)
    check(lambda lib, t: t.flatten(), x1)
    check(lambda lib, t: t.flatten(), np.asarray(2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(lambda lib, t: t.T, x1)
        check(lambda lib, t: t.T, np.asarray(2.0))
        check(lambda lib, t: t.T, RNG.standard_normal((2, 3, 4)))


def test_T_warns_like_torch():
    for shape in ((3,), (2, 3, 4)):
        with pytest.warns(UserWarning, match="The use of `x.T` on tensors of dimension other"):
            assert engine.zeros(*shape).T.shape == shape[::-1]
    with pytest.warns(UserWarning, match="Tensor.T is deprecated on 0-D tensors"):
        assert engine.tensor(1.0).T.shape == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.zeros(2, 3).T.shape == (3, 2)


ERRORS = [
    "b.view(5)", "b.view(-1, -1)", "b.view(-2, 6)", "b.t().view(12)",
    "torch.zeros(0).reshape(-1, 0)", "b.permute(0)", "b.permute(0, 0)", "b.transpose(0, 2)",
    "b.unsqueeze(3)", "b.squeeze(2)", "b.unbind(2)", "b.flatten(1, 0)",
    "torch.zeros(2, 2, 2).t()", "torch.zeros(3).mT", "b.select(1, 4)", "b.narrow(0, 2, 2)",
    "b.narrow(0, 5, 0)", "b.narrow(0, -5, 0)", "b.narrow(0, 0, -1)",
    "b.expand(2, 4)", "b.expand(3)", "b.expand(-1, -1, -1)", "b.expand(3, -2)",
    "b.repeat(2)", "b.repeat(-1, 1)", "b.split(0)", "b.split(-1)", "b.split([1, 1])",
    "b.split([1, -1, 3])", "b.chunk(0)", "b.expand()", "b.repeat()", "b.permute()",
    "torch.cat([b, a.t()])", "torch.cat([])",
    "torch.cat([b, torch.zeros(3)])", "torch.cat([b, b], 2)", "torch.cat([b, torch.tensor(1.)])",
    "torch.cat([torch.tensor(1.)])", "torch.stack([b, a.t()])", "torch.stack([])",
    "torch.stack([b, b], 3)",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_shape_op_errors_match_torch(expr):
    same_error(run_expr(expr), A, V)


# --- views share storage and the version counter ----------------------------------------------
VIEWS = {
    "view": lambda t: t.view(12), "reshape": lambda t: t.reshape(2, 6), "t": lambda t: t.t(),
    "T": lambda t: t.T, "mT": lambda t: t.mT, "transpose": lambda t: t.transpose(0, 1),
    "permute": lambda t: t.permute(1, 0), "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0), "flatten": lambda t: t.flatten(),
    "select": lambda t: t.select(1, 2), "narrow": lambda t: t.narrow(1, 1, 2),
    "expand (no repeats)": lambda t: t.expand(1, 3, 4), "view_as": lambda t: t.view_as(t),
    "split": lambda t: t.split(2)[1], "chunk": lambda t: t.chunk(2, 1)[0],
    "unbind": lambda t: t.unbind(1)[3],
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_write_through_and_share_the_version(name):
    for lib in (engine, torch):
        base = lib.zeros(3, 4)
        out = VIEWS[name](base)
        out.add_(1)
        assert float(base.sum()) == out.numel(), f"{lib.__name__}: write did not reach the base"
        versions = [t._version[0] if lib is engine else t._version for t in (base, out)]
        assert versions == [1, 1], lib.__name__
        assert out._base is base, lib.__name__


def test_views_of_a_non_leaf_share_its_version_counter():
    b = engine.tensor(A, requires_grad=True) * 1
    for name, fn in VIEWS.items():
        out = fn(b)
        assert out._version is b._version and out._base is b, name


def test_copying_ops_do_not_share_storage():
    for lib in (engine, torch):
        base = lib.ones(2, 3)
        for out in (base.repeat(1, 1), lib.cat([base]), lib.stack([base]), base.clone(),
                    base.t().contiguous()):
            out.mul_(0)
        assert float(base.sum()) == 6.0


def test_split_outputs_are_numbered_outputs_of_one_node():
    b = engine.tensor(A, requires_grad=True) * 1
    parts = b.split(2)
    assert [p.output_nr for p in parts] == [0, 1]
    assert parts[0].grad_fn is parts[1].grad_fn
    (parts[1] * 3).sum().backward()  # the unused output gets a zero gradient
    t = torch.tensor(A, requires_grad=True)
    (t * 1).split(2)[1].mul(3).sum().backward()
    b2 = engine.tensor(A, requires_grad=True)
    (b2 * 1).split(2)[1].mul(3).sum().backward()
    np.testing.assert_allclose(to_numpy(b2.grad), to_numpy(t.grad))


def test_saved_view_modified_in_place_is_caught():
    for lib in (engine, torch):
        a = lib.tensor(A, requires_grad=True)
        y = (a * 1).t()
        z = y.sin()  # saves its input, the view
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


# --- random shapes (hypothesis) ---------------------------------------------------------------
@st.composite
def expand_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    lead = draw(st.lists(st.integers(0, 3), max_size=2))
    target = [draw(st.sampled_from([-1, s, 2 * s if s == 1 else s, 3])) for s in shape]
    return shape, tuple(lead) + tuple(target)


@settings(derandomize=True, max_examples=80, deadline=None)
@given(expand_cases())
def test_random_expand_matches_torch(case):
    shape, target = case
    x = RNG.standard_normal(shape).astype(np.float32)
    try:
        torch.zeros(shape).expand(*target)
    except (RuntimeError, TypeError):
        same_error(lambda lib, t: t.expand(*target), x)
        return
    check(lambda lib, t: t.expand(*target) * 1.5, x)


@st.composite
def cat_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 3)) for _ in range(ndim)]
    dim = draw(st.integers(-ndim, ndim - 1))
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[dim] = draw(st.integers(0, 3))
        shapes.append(tuple(s))
    return shapes, dim


@settings(derandomize=True, max_examples=60, deadline=None)
@given(cat_cases())
def test_random_cat_split_and_stack_match_torch(case):
    shapes, dim = case
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    check(lambda lib, *ts: lib.cat(ts, dim) * 2, *arrays)
    sizes = [s[dim] for s in shapes]
    check(lambda lib, *ts: lib.cat(ts, dim).split(sizes, dim), *arrays)
    check(lambda lib, *ts: lib.stack([ts[0], ts[0] * 2], dim), *arrays)
    check(lambda lib, *ts: lib.cat(ts, dim).repeat(*([2] + [1] * len(shapes[0]))), *arrays)


# --- gradcheck --------------------------------------------------------------------------------
GRADCHECKS = {
    "view": lambda x, y: x.view(2, 6) * y.reshape(2, 6),
    "reshape (copy)": lambda x, y: x.t().reshape(12),
    "transpose+permute": lambda x, y: x.transpose(0, 1).permute(1, 0) * y.T.t(),
    "unsqueeze+squeeze": lambda x, y: x.unsqueeze(1).squeeze() * y,
    "flatten+unbind": lambda x, y: x.flatten().unbind(0)[3] * y[0, 0],
    "select+narrow": lambda x, y: x.select(0, 1) + y.narrow(0, 1, 1)[0],
    "expand": lambda x, y: x[:, :1].expand(3, 4) * y,
    "repeat": lambda x, y: x.repeat(2, 3),
    "split": lambda x, y: x.split([1, 2])[1] * y.chunk(3, 0)[2],
    "cat": lambda x, y: engine.cat([x, y[:, 1:]], 1),
    "stack": lambda x, y: engine.stack([x, y], 1),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck_float64(name):
    x = engine.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = engine.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(GRADCHECKS[name], (x, y))
