"""Indexing against real PyTorch: ``t[index]`` (the chain of view nodes, IndexBackward0),
``t[index] = value`` (CopySlices, IndexPutBackward0, CopyBackwards, FillBackward3), views
sharing storage and the version counter, duplicate indices, index errors, random indices
(hypothesis), ``where``, ``masked_fill``, ``index_select``, ``gather``, and float64
gradcheck of every differentiable op."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.autograd import gradcheck

from .reference import check, make, name_chain, to_numpy, torch

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4)).astype(np.float32)
V = RNG.standard_normal((3, 4)).astype(np.float32)


def run_expr(expr: str):
    """``fn(lib, a, v)`` for ``check``: evaluates ``expr`` (or executes it when it assigns,
    returning ``b``) with ``b = a * 1`` a non-leaf, as indexed tensors usually are, and ``m``
    a bool mask of ``b``."""

    def fn(lib, a, v):
        b = a * 1
        ns = {"torch": lib, "np": np, "a": a, "v": v, "b": b, "m": b > 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's deprecated-index notices
            if _is_statement(expr):
                exec(expr, ns)
                return ns["b"]
            return eval(expr, ns)

    return fn


def _is_statement(expr: str) -> bool:
    return any(op in expr.replace("==", "") for op in (" = ", " += ", " *= "))


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


# --- reading ----------------------------------------------------------------------------------
GETITEM = [
    # basic: one node per step, left to right; a whole-dim slice inside a tuple records nothing
    "b[0]", "b[-1]", "b[:2]", "b[::2]", "b[1:1]", "b[:]", "b[0:100]", "b[0:2, 1:3]",
    "b[:, 1]", "b[1, :]", "b[1, 2]", "b[0][1]", "b[..., 1]", "b[None]", "b[:, None, 1]",
    "b[None, ..., None, 0]", "b[..., None]", "b[:, :]", "b[...]", "b[()]", "b[:, :4]",
    "b[0:100, 1:3]", "b[-3:, 1:3]", "b[0:3:1, 1:3]", "b[5:, 1]", "b[2:1, 1]", "a[:]",
    "a[...]", "a[0]", "b[torch.tensor(1)]", "b[np.array(1)]", "b[np.int64(2)]",
    # advanced: IndexBackward0 over the basic part
    "b[[0, 2]]", "b[m]", "b[torch.tensor([0, 0, 2])]", "b[0, [1, 2]]", "b[[0, 1], [1, 2]]",
    "b[:, [0, 0]]", "b[1:, [0, 0]]", "b[[0, 1], 1:3]", "b[:, [0, 1]][0]", "b[m[:, 0], 1:]",
    "b[[True, False, True]]", "b[[[0, 1]]]", "b[:, [[0, 1], [1, 0]]]", "b[[0, 1], :, None]",
    "b[[0, 1], None]", "b[True]", "b[False]", "b[torch.tensor(True)]", "b[np.array([[0, 1]])]",
    "b[[]]", "b[[0, None]]",
    "b[torch.tensor([0, 1], dtype=torch.int32)]", "b[[2, -1, 2]]", "b[m[0:1, :].expand(3, 4)]",
    "b[np.array([2, 0])]", "b[(np.array([0, 1]), [1, 2])]", "b[:, m[0]]",
]


@pytest.mark.parametrize("expr", GETITEM)
def test_getitem_matches_torch(expr):
    check(run_expr(expr), A, V)


@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8 is now deprecated")
def test_uint8_mask_is_a_deprecated_bool_mask():
    check(run_expr("b[torch.tensor([1, 0, 1], dtype=torch.uint8)]"), A, V)
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        engine.zeros(3)[engine.tensor([1, 0, 1], dtype=engine.uint8)]


def test_getitem_of_3d_mixes_int_and_array_like_torch():
    # an int next to an index array selects first (PyTorch), unlike numpy's advanced rule
    x = RNG.standard_normal((2, 3, 4))
    for expr in ("b[0, :, [1, 2]]", "b[[0, 1], :, [1, 2]]", "b[:, 1, [0, 3]]",
                 "b[..., [0, 0]]", "b[1:, [2, 0], 1:3]", "b[[1], 2, [3]]"):
        check(run_expr(expr), x, x)


GETITEM_ERRORS = [
    "b[5]", "b[-4]", "b[:, 4]", "b[0, 5]", "b[None, 5]", "b[..., 7]", "b[0, 0, 0]", "b[[5]]",
    "b[torch.tensor([5])]", "b[torch.tensor(5)]", "b[1:, [5]]", "b[1:, [-5]]", "b[[1], [5]]",
    "b[:, [[5]]]", "b[torch.tensor([True, False])]", "b[[True]]",
    "b[torch.tensor([[True]])]", "b[torch.tensor([0.5])]", "b[1.0]", "b[np.bool_(True)]",
    "b[::-1]", "b[::0]", "b[[0, 1], [0, 1, 2]]", "torch.tensor(1.)[0]",
]


@pytest.mark.parametrize("expr", GETITEM_ERRORS)
def test_getitem_errors_match_torch(expr):
    same_error(run_expr(expr), A, V)


def test_basic_index_results_are_views_sharing_the_version_counter():
    for lib in (engine, torch):
        base = lib.zeros(3, 4)
        row, col, block, alias = base[1], base[:, 2], base[0:2, 1:3], base[...]
        row.add_(1)
        col.mul_(2)
        block[0, 0] = 7.0
        alias[2, 3] = 5.0
        expected = np.zeros((3, 4), np.float32)
        expected[1] = 1
        expected[:, 2] *= 2
        expected[0, 1] = 7
        expected[2, 3] = 5
        np.testing.assert_array_equal(to_numpy(base), expected)
        assert row._base is base and block._base is base and alias._base is base
        versions = [t._version[0] if lib is engine else t._version
                    for t in (base, row, col, block, alias)]
        assert versions == [4] * 5, lib.__name__
        fancy = base[[0, 1]]  # advanced indexing copies
        fancy.zero_()
        assert float(base.sum()) == float(expected.sum())


def test_view_of_non_leaf_in_grad_mode_is_a_view_too():
    b = engine.tensor(A, requires_grad=True) * 1
    row = b[1]
    assert row._base is b and row._version is b._version
    assert row.grad_fn.name() == "SelectBackward0"


def test_saved_value_modified_through_a_view_is_caught():
    for lib in (engine, torch):
        a = lib.tensor(A, requires_grad=True)
        b = a * 1
        y = b * b  # saves b
        b[0].add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_duplicate_indices_accumulate():
    idx = np.array([0, 2, 0, 0])
    check(lambda lib, a: a[lib.tensor(idx)], A)
    check(lambda lib, a: a[:, [1, 1, 3]] * 2, A)
    check(lambda lib, a: a[[0, 0, 1], [3, 3, 3]], A)
    a = engine.tensor(A, requires_grad=True)
    a[[1, 1, 1]].sum().backward()
    assert a.grad.numpy()[1].tolist() == [3.0] * 4


def test_modified_index_tensor_is_caught_in_backward():
    for lib in (engine, torch):
        a = lib.tensor(A, requires_grad=True)
        i = lib.tensor([0, 1])
        y = a[i]
        i.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_index_backward_frees_its_indices():
    for lib in (engine, torch):
        a = lib.tensor(A, requires_grad=True)
        y = a[[0, 2]].sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


# --- random indices (hypothesis) --------------------------------------------------------------
def _index_item(draw, size_hint: int):
    kind = draw(st.sampled_from(["int", "slice", "slice", "none", "list", "mask", "full"]))
    if kind == "int":
        return draw(st.integers(-size_hint - 1, size_hint))
    if kind == "slice":
        return slice(draw(st.none() | st.integers(-5, 5)), draw(st.none() | st.integers(-5, 5)),
                     draw(st.sampled_from([None, 1, 2, 3])))
    if kind == "none":
        return None
    if kind == "full":
        return slice(None)
    if kind == "list":
        return draw(st.lists(st.integers(-size_hint, size_hint - 1), min_size=1, max_size=3))
    return np.asarray(draw(st.lists(st.booleans(), min_size=size_hint, max_size=size_hint)))


@st.composite
def shapes_and_indices(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    n_items = draw(st.integers(1, len(shape) + 1))
    items = [_index_item(draw, shape[min(i, len(shape) - 1)]) for i in range(n_items)]
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return shape, tuple(items)


def _to_lib(lib, item):
    # numpy bool arrays become bool tensors (a mask), as users would write them
    return lib.tensor(item) if isinstance(item, np.ndarray) else item


@settings(derandomize=True, max_examples=250, deadline=None)
@given(shapes_and_indices())
def test_random_indices_match_torch(case):
    shape, index = case
    x = RNG.standard_normal(shape).astype(np.float32)

    def get(lib, t):
        return (t * 1)[tuple(_to_lib(lib, i) for i in index)]

    def set_(lib, t, v):
        b = t * 1
        b[tuple(_to_lib(lib, i) for i in index)] = v.sum()
        return b

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.tensor(x)[tuple(_to_lib(torch, i) for i in index)]
    except Exception:
        same_error(get, x)
        return
    check(get, x)
    check(set_, x, np.asarray([1.5, -2.0], np.float32))


# --- writing ----------------------------------------------------------------------------------
SETITEM = [
    "b[0] = v[0]", "b[0] = 5.0", "b[0] = 5", "b[0:2, 1] = v[:2, 0]", "b[0:2, 1] = v[0, 0]",
    "b[[0, 1]] = v[:1]", "b[b > 0] = 0.", "b[b > 0] = v[0, 0]", "b[...] = v", "b[:] = v",
    "b[[0, 0]] = v[:2]", "b[0, [1, 2]] = v[0, :2]", "b[0] = torch.tensor(3.)", "b[None] = v",
    "b[...] = 5.", "b[:, :] = v[0]", "b[0] = v[0].double()", "b[0] = torch.tensor([1, 2, 3, 4])",
    "b[b > 0] = v[b > 0]", "b[...] = v[0, 0]", "b[0] = v[0, 0]", "b[:, :] = v[0:1]",
    "b[[0, 1]] = v[None, None, 0]", "b[1:, [0, 2]] = v[:2, :2]", "b[0, 1] = v[0, 0]",
    "b[0] = v[0:1]", "b[0:2] = v[0]", "b[m[:, 0]] = v[0]", "b[:, [3, 3, 0]] = v[:, :3]",
    "b[torch.tensor([2, 0])] = v[1:]", "b[m] = b[m] * 2", "b[1, 1:3] = b[0, 0:2].clone()",
    # through a view made by indexing: recorded on the base (CopySlices over its history)
    "b[0][1] = v[2, 2]", "b[1:][0] = v[0]", "b[1:][0][2] = v[0, 0]", "b[0][[1, 3]] = v[0, :2]",
    "b[:, 1][m[:, 0]] = v[0, 0]", "b[0][...] = v[1]", "b[0][:] = 2.", "b[None][0, 1] = v[1]",
]


@pytest.mark.parametrize("expr", SETITEM)
def test_setitem_matches_torch(expr):
    check(run_expr(expr), A, V)


def test_view_written_through_gets_a_new_history_like_torch():
    def fn(lib, a, v):
        b = a * 1
        row = b[1]
        row[2] = v[0, 0] * 3
        return row * 2  # reads the view after the write: AsStridedBackward0 over CopySlices

    check(fn, A, V)

    def plain(lib, v):
        z = lib.zeros(3, 4)
        row = z[0]
        row[1:3] = v[0, :2]
        return z * 2

    check(plain, V)


def test_assignment_into_other_views_is_refused_while_recording():
    b = engine.tensor(A, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="does not implement assignment into a view made by"):
        b.t()[0] = 1.0
    with engine.no_grad():
        b.t()[0] = 1.0  # nothing to record: an ordinary write
    assert b.detach().numpy()[:, 0].tolist() == [1.0] * 3


def test_write_into_a_detached_tensor_leaves_the_source_out_of_the_graph():
    for lib in (engine, torch):
        x = lib.zeros(3, 4)
        y = x.detach()
        y[0] = lib.tensor(V, requires_grad=True)[1]
        assert not x.requires_grad and y.requires_grad
        assert type(y.grad_fn).__name__ == "CopySlices"


def test_value_read_from_the_target_then_overwritten_is_caught():
    # the product saved a view of b; writing into b bumps the shared version counter. (The
    # message names the saved view's producer: PyTorch regenerates it as AsStrided by then,
    # the engine still names Slice, so only the start of the text is compared.)
    for lib in (engine, torch):
        a, v = make(lib, A, True), make(lib, V, True)
        b = a * 1
        b[1, 1:3] = b[0, 0:2] * v[0, :2]
        with pytest.raises(RuntimeError, match="modified by an inplace operation: "
                                               r"\[torch.FloatTensor \[2\]\], which is output 0"):
            b.sum().backward()


def test_setitem_into_a_tensor_that_needs_no_grad_records_the_value():
    def fn(lib, v):
        z = lib.zeros(3, 4)
        z[0] = v[0] * 2
        z[[1, 2]] = v[:2]
        return z

    check(fn, V)


def test_augmented_assignment_through_an_index_gets_torchs_gradients():
    # PyTorch rebases the base's history here (CopySlices over CopySlices, AsStrided); the
    # engine's graph is shaped differently but the values and gradients are the same
    for expr in ("b[0] += 1", "b[:, 1] *= v[:, 0]"):
        check(run_expr(expr), A, V, names=False)


SETITEM_ERRORS = [
    "b[0] = v[:, :2]", "b[0] = v", "b[[0, 1]] = v", "b[[0]] = v[0].double()",
    "b[0] = [1., 2., 3., 4.]", "b[0] = None", "b[0] = np.zeros(4)", "a[0] = 1.",
    "a[...] = 1.", "a[:] = 1.", "a[[0]] = 1.", "a[None] = 1.", "a[0:2] = 1.", "b[5] = 1.",
    "b[[0, 1], [0, 1, 2]] = 1.", "b[0] = v[0:1].expand(2, 4)",
]


@pytest.mark.parametrize("expr", SETITEM_ERRORS)
def test_setitem_errors_match_torch(expr):
    same_error(run_expr(expr), A, V)


def test_setitem_bumps_the_version_once_and_writes_through_views():
    for lib in (engine, torch):
        base = lib.zeros(3, 4)
        row = base[0]
        row[1] = 5.0
        base[[2, 2]] = 1.0
        assert float(base[0, 1]) == 5.0 and float(base[2].sum()) == 4.0
        version = base._version[0] if lib is engine else base._version
        assert version == 2


def test_setitem_on_a_leaf_under_no_grad_writes_in_place():
    for lib in (engine, torch):
        w = lib.tensor(A, requires_grad=True)
        with lib.no_grad():
            w[0] = 0.0
            w[w > 1] = 1.0
        assert w.is_leaf and w.grad_fn is None
        assert float(w.detach()[0].abs().sum()) == 0.0 and float(w.detach().max()) <= 1.0


def test_setitem_on_a_view_of_a_leaf_is_refused():
    for lib in (engine, torch):
        w = lib.tensor(A, requires_grad=True)
        row = w[0]
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            row[1] = 2.0


# --- where / masked_fill / index_select / gather -----------------------------------------------
OPS = [
    "torch.where(m, b, 0.)", "torch.where(m, 2, b)", "torch.where(m, b, v)",
    "torch.where(m, b, v[0])", "torch.where(m[0], b, v[:, :1])", "torch.where(m, b, v.double())",
    "torch.where(m, b.long(), 0.5)", "torch.where(m, 1., 0.)", "torch.where(m, 1, 0)",
    "torch.where(m.to(torch.uint8), b, 0.)", "torch.where(m)", "b.where(m, 0.)", "b.where(m, v)",
    "b.masked_fill(m, 0.)", "b.masked_fill(m[0], 1.)", "b[0].masked_fill(m, 1.)",
    "b.masked_fill(m, v[0, 0])", "torch.masked_fill(b, m, 2.)", "b.long().masked_fill(m, 1.5)",
    "b.masked_fill_(m, 0.)", "b.masked_fill_(m, v[1, 1])",
    "b.index_select(0, torch.tensor([0, 0, 2]))", "b.index_select(1, torch.tensor([3, 0, 3]))",
    "b.index_select(0, torch.tensor(1))", "torch.index_select(b, -1, torch.tensor([1]))",
    "b.index_select(0, torch.tensor([2], dtype=torch.int32))",
    "b.gather(1, torch.tensor([[0], [1], [2]]))",
    "torch.gather(b, 1, torch.tensor([[0, 0], [1, 1]]))",
    "torch.gather(b, 0, torch.tensor([[2, 0, 2], [2, 1, 0]]))",
    "b.gather(1, torch.tensor([[3, 3, 3]], dtype=torch.int32))",
]


@pytest.mark.parametrize("expr", OPS)
def test_gather_like_ops_match_torch(expr):
    check(run_expr(expr), A, V)


OPS_ERRORS = [
    "b.masked_fill(m.float(), 0.)", "b.masked_fill(m, torch.ones(2))",
    "torch.where(b, b, b)", "torch.where(m, b, torch.zeros(2))",
    "b.index_select(0, torch.tensor([[0]]))", "b.index_select(0, torch.tensor([0.]))",
    "b.index_select(1, torch.tensor([-1]))", "b.index_select(0, torch.tensor([5]))",
    "b.index_select(1, torch.tensor([1, 7]))", "b.gather(1, torch.tensor([0]))",
    "b.gather(0, torch.tensor([[0, 0, 0, 0, 0]]))", "b.gather(1, torch.tensor([[-1]]))",
    "b.gather(1, torch.tensor([[0], [1], [2], [0]]))", "b.gather(1, torch.tensor([[4]]))",
]


@pytest.mark.parametrize("expr", OPS_ERRORS)
def test_gather_like_op_errors_match_torch(expr):
    same_error(run_expr(expr), A, V)


# --- gradcheck --------------------------------------------------------------------------------
def _copyslices(x, y):
    b = x * 1
    b[0, 1:] = y[0, :3]
    return b


def _index_put(x, y):
    b = x * 1
    b[[2, 0]] = y[1] * 2  # no duplicates: which duplicate write wins is unspecified
    return b


def _fill(x, y):
    b = x * 1
    b[...] = y[2, 2]
    return b


GRADCHECKS = {
    "select": lambda x, y: x[1, 2],
    "slices": lambda x, y: x[0:2, 1::2],
    "unsqueeze+alias": lambda x, y: x[None, ...] * y,
    "advanced": lambda x, y: x[[0, 0, 2], 1:],
    "mask": lambda x, y: x[y.detach() > 0],
    "copyslices": _copyslices,
    "index_put": _index_put,
    "fill": _fill,
    "where": lambda x, y: engine.where(x.detach() > 0, x, y),
    "masked_fill": lambda x, y: x.masked_fill(y.detach() > 0, 3.0),
    "masked_fill_value": lambda x, y: x.masked_fill(y.detach() > 0, y[0, 0]),
    "index_select": lambda x, y: x.index_select(1, engine.tensor([3, 0, 3])),
    "gather": lambda x, y: x.gather(0, engine.tensor([[2, 0, 2, 2], [1, 1, 0, 2]])),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck_float64(name):
    x = engine.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = engine.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(GRADCHECKS[name], (x, y))


def test_name_chain_of_nested_index_reads_like_torch():
    e = engine.tensor(A, requires_grad=True)
    t = torch.tensor(A, requires_grad=True)
    assert name_chain((e * 2)[0, [1, 2]]) == name_chain((t * 2)[0, [1, 2]])
