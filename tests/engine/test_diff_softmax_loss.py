"""Differential tests: softmax / log_softmax and the losses against real PyTorch (values,
dtypes, grad_fn chains, input gradients, warnings and error messages), plus gradcheck."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.autograd import gradcheck

from .reference import check, name_chain

torch = pytest.importorskip("torch")
TF = torch.nn.functional
EF = engine.nn.functional
RNG = np.random.default_rng(1234)


def randn(*shape):
    return RNG.standard_normal(shape)


def same_error(fn):
    """``fn(lib)`` raises the same exception type with the same message in both libraries."""
    with pytest.raises(Exception) as expected, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(torch)
    with pytest.raises(type(expected.value)) as got, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(engine)
    assert str(got.value) == str(expected.value)


def same_warnings(fn) -> list[str]:
    """``fn(lib)`` emits the same warning messages in both libraries; returns them."""
    texts = []
    for lib in (torch, engine):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(lib)
        texts.append([str(w.message) for w in caught])
    assert texts[0] == texts[1]
    return texts[0]


# --- softmax / log_softmax ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                                       ((2, 3, 4), 1), ((2, 3, 4), -3), ((), 0), ((), -1)])
def test_softmax_family_matches_torch(op, shape, dim):
    x = np.asarray(RNG.standard_normal(shape))
    check(lambda lib, t: getattr(lib, op)(t, dim), x)
    check(lambda lib, t: getattr(t, op)(dim), x.astype(np.float32))
    check(lambda lib, t: getattr(lib.nn.functional, op)(t, dim=dim), x)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-1e4, 1e4)),
       dim_seed=st.integers(0, 10), log=st.booleans())
def test_softmax_family_any_shape_and_scale(x, dim_seed, log):
    """Large inputs must not overflow: the row max is subtracted before exp."""
    dim = dim_seed % x.ndim
    op = "log_softmax" if log else "softmax"
    check(lambda lib, t: getattr(lib, op)(t, dim), x, rtol=1e-7, atol=1e-9)


def test_softmax_is_stable_for_huge_logits():
    x = engine.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    y = x.softmax(1)
    assert np.isfinite(y.detach().numpy()).all()
    assert y.detach().numpy()[0, 0] == 1.0
    assert np.isfinite(x.log_softmax(1).detach().numpy()).all()


def test_softmax_dtype_argument_records_a_copy():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    check(lambda lib, t: lib.softmax(t, 1, dtype=lib.float64), x)
    check(lambda lib, t: lib.nn.functional.log_softmax(t, 0, dtype=lib.float64), x)


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_functional_softmax_implicit_dim_warns_like_torch(ndim, op):
    x = np.asarray(RNG.standard_normal((2,) * ndim))
    texts = same_warnings(lambda lib: getattr(lib.nn.functional, op)(lib.tensor(x)))
    assert texts and "Implicit dimension choice" in texts[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, t: getattr(lib.nn.functional, op)(t), x)


def test_softmax_implicit_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        EF.softmax(engine.ones(2, 2))
        engine.nn.Softmax()(engine.ones(2, 2))
    assert [w.filename for w in caught] == [__file__, __file__]


@pytest.mark.parametrize("call", [
    lambda lib: lib.softmax(lib.tensor([1.0, 2.0])),
    lambda lib: lib.tensor([1.0, 2.0]).log_softmax(),
    lambda lib: lib.tensor([1, 2]).softmax(0),
    lambda lib: lib.tensor([[1, 2]]).softmax(0),
    lambda lib: lib.tensor([[1, 2]]).log_softmax(0),
    lambda lib: lib.tensor([[1.0, 2.0]]).softmax(2),
])
def test_softmax_errors_match_torch(call):
    same_error(call)


# --- losses --------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(loss, reduction):
    def fn(lib, a, b):
        return getattr(lib.nn.functional, loss)(a, b, reduction=reduction)

    check(fn, randn(4, 3), randn(4, 3))
    check(fn, randn(4, 3).astype(np.float32), randn(4, 3).astype(np.float32))
    check(fn, randn(4, 3), randn(4, 3), grad=[True, False])
    check(fn, randn(4, 3), randn(4, 3), grad=[False, True])
    if loss == "mse_loss":  # 0-d l1_loss waits on abs() of a 0-d tensor (pointwise.py)
        check(fn, np.asarray(1.5), np.asarray(-0.5))
    check(lambda lib, a, b, w: getattr(lib.nn.functional, loss)(a, b, reduction=reduction,
                                                                   weight=w),
          randn(4, 3), randn(4, 3), RNG.random((4, 3)))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
def test_regression_losses_broadcast_with_torchs_warning(loss):
    a, b = randn(3), randn(3, 1)
    texts = same_warnings(lambda lib: getattr(lib.nn.functional, loss)(lib.tensor(a),
                                                                       lib.tensor(b)))
    assert "different to the input size" in texts[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, x, y: getattr(lib.nn.functional, loss)(x, y), a, b)


def test_mse_loss_promotes_mixed_dtypes_like_torch():
    x = randn(3).astype(np.float32)
    check(lambda lib, a, b: lib.nn.functional.mse_loss(a, b), x, randn(3), grad=[True, False])
    check(lambda lib, a, b: lib.nn.functional.mse_loss(a, b), x, np.array([1, 2, 3]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_cross_entropy_match_torch(reduction):
    x, t = randn(6, 5), np.array([0, 4, 2, 2, 1, 3])
    w = RNG.random(5)
    for loss in ("nll_loss", "cross_entropy"):
        def fn(lib, a, b, loss=loss, **kw):
            return getattr(lib.nn.functional, loss)(a, b, reduction=reduction, **kw)

        check(fn, x, t)
        check(fn, x.astype(np.float32), t)
        check(lambda lib, a, b, loss=loss: fn(lib, a, b, loss, ignore_index=2), x, t)
        check(lambda lib, a, b, c, loss=loss: fn(lib, a, b, loss, weight=c), x, t, w,
              grad=[True, False, False])
        check(lambda lib, a, b, c, loss=loss: fn(lib, a, b, loss, weight=c, ignore_index=4),
              x, t, w, grad=[True, False, False])
        check(fn, randn(5), np.array(3))  # one unbatched sample
        check(fn, x, t.astype(np.uint8))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 4, 3, 2), (2, 4, 2, 2, 2)])
def test_cross_entropy_over_extra_dims_matches_torch(shape, reduction):
    """(N, C, d1, ...) inputs: NllLoss2DBackward0, with PyTorch's views around it."""
    target = RNG.integers(0, shape[1], (shape[0],) + shape[2:])
    check(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b, reduction=reduction),
          randn(*shape), target)


def test_cross_entropy_on_a_non_contiguous_input_clones_like_torch():
    check(lambda lib, a, b: lib.nn.functional.cross_entropy(a.transpose(1, 2), b),
          randn(3, 5, 4), RNG.integers(0, 4, (3, 5)))


def test_every_target_ignored_gives_nan_mean_and_zero_grad_like_torch():
    check(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b), randn(2, 3),
          np.array([-100, -100]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (3,), (2, 3, 2)])
def test_cross_entropy_with_class_probabilities_matches_torch(shape, reduction):
    probs = RNG.random(shape)
    check(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b, reduction=reduction),
          randn(*shape), probs, grad=[True, False])
    w = RNG.random(shape[0] if len(shape) == 1 else shape[1])
    check(lambda lib, a, b, c: lib.nn.functional.cross_entropy(a, b, c, reduction=reduction),
          randn(*shape), probs, w, grad=[True, False, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction):
    def fn(lib, a, b, **kw):
        return lib.nn.functional.binary_cross_entropy(a, b, reduction=reduction, **kw)

    p, q = RNG.random((4, 3)), RNG.random((4, 3))
    check(fn, p, q)
    check(fn, p.astype(np.float32), q.astype(np.float32))
    check(lambda lib, a, b, c: fn(lib, a, b, weight=c), p, q, RNG.random(3),
          grad=[True, True, False])
    # probabilities of exactly 0 and 1: logs clamp at -100, gradients stay finite
    check(fn, np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.25]), grad=[True, False])


@settings(derandomize=True, max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**16),
       reduction=st.sampled_from(REDUCTIONS))
def test_cross_entropy_any_batch_and_class_count(n, c, seed, reduction):
    rng = np.random.default_rng(seed)
    check(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b, reduction=reduction),
          rng.standard_normal((n, c)) * 5, rng.integers(0, c, n), rtol=1e-7, atol=1e-9)


def test_legacy_size_average_and_reduce_match_torch():
    x, y = randn(3, 2), randn(3, 2)
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        def fn(lib, a, b, sa=size_average, r=reduce):
            return lib.nn.functional.mse_loss(a, b, size_average=sa, reduce=r)

        texts = same_warnings(lambda lib, fn=fn: fn(lib, lib.tensor(x), lib.tensor(y)))
        assert "size_average and reduce args will be deprecated" in texts[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(fn, x, y)


LOSS_ERRORS = [
    lambda lib: lib.nn.functional.mse_loss(lib.ones(2), lib.ones(2), reduction="avg"),
    lambda lib: lib.nn.functional.mse_loss(lib.ones(2, 3), lib.ones(2, 4)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0, 5])),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0, -1])),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0.0, 1.0])),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0, 1, 1])),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([[0, 1]])),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(1, 3), lib.tensor(0)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.zeros(2, 2, dtype=lib.long)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3).long(), lib.tensor([0, 1])),
    lambda lib: lib.nn.functional.nll_loss(lib.tensor(1.0), lib.tensor(0)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0, 1]), lib.ones(2)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3, 4, 5),
                                           lib.zeros(2, 4, 6, dtype=lib.long)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3, 4, 5), lib.zeros(2, 4, dtype=lib.long)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3, 4), lib.zeros(2, 5, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(2, 3), lib.ones(2, 3).long()),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(2, 3), lib.ones(2, 3), ignore_index=0),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(2) * 2, lib.ones(2)),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(2), lib.ones(2).double()),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(2, 1), lib.ones(2)),
]


@pytest.mark.parametrize("call", LOSS_ERRORS)
def test_loss_errors_match_torch(call):
    same_error(call)


def test_label_smoothing_is_reported_as_not_implemented():
    with pytest.raises(engine.NotImplementedByEngine, match="label_smoothing"):
        EF.cross_entropy(engine.ones(2, 3), engine.tensor([0, 1]), label_smoothing=0.1)


def test_losses_keep_no_graph_without_grad():
    x = engine.randn(3, 4)
    assert EF.cross_entropy(x, engine.tensor([0, 1, 2])).grad_fn is None
    assert EF.mse_loss(x, x).grad_fn is None
    with engine.no_grad():
        assert EF.softmax(x.requires_grad_(), 1).grad_fn is None


def test_saved_result_modified_in_place_is_caught():
    x = engine.randn(2, 3, requires_grad=True)
    y = x.softmax(1)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_cross_entropy_graph_is_nll_over_log_softmax():
    x = engine.randn(4, 3, requires_grad=True)
    loss = EF.cross_entropy(x, engine.tensor([0, 2, 1, 1]))
    assert name_chain(loss) == ["NllLossBackward0", "LogSoftmaxBackward0", "AccumulateGrad",
                                "#0", "#0"]
    assert loss.grad_fn.next_functions[0][0].next_functions[0][0].variable is x


# --- gradcheck (float64) ---------------------------------------------------------------------
def _leaf(*shape, positive=False):
    a = RNG.random(shape) * 0.8 + 0.1 if positive else RNG.standard_normal(shape)
    return engine.tensor(a, requires_grad=True)


@pytest.mark.parametrize("fn,make", [
    (lambda x: x.softmax(1), lambda: (_leaf(3, 4),)),
    (lambda x: x.softmax(0), lambda: (_leaf(3, 4),)),
    (lambda x: x.log_softmax(1), lambda: (_leaf(3, 4),)),
    (lambda x: x.log_softmax(-1), lambda: (_leaf(2, 3, 2),)),
    (lambda x, y: EF.mse_loss(x, y), lambda: (_leaf(3, 2), _leaf(3, 2))),
    (lambda x, y: EF.mse_loss(x, y, reduction="none"), lambda: (_leaf(3, 2), _leaf(3, 2))),
    (lambda x: EF.nll_loss(x, engine.tensor([1, 0, 2]), weight=engine.tensor([1.0, 2, 3],
                                                                             dtype=engine.double)),
     lambda: (_leaf(3, 3),)),
    (lambda x: EF.cross_entropy(x, engine.tensor([1, 0, 2]), reduction="sum"),
     lambda: (_leaf(3, 4),)),
    (lambda x: EF.cross_entropy(x, engine.tensor([[1, 0], [2, 2]]), reduction="none"),
     lambda: (_leaf(2, 3, 2),)),
    (lambda x, p: EF.cross_entropy(x, p), lambda: (_leaf(3, 4), _leaf(3, 4, positive=True))),
    (lambda x, t: EF.binary_cross_entropy(x, t), lambda: (_leaf(3, 2, positive=True),
                                                          _leaf(3, 2, positive=True))),
    (lambda x, y: EF.l1_loss(x, y), lambda: (_leaf(3, 2), _leaf(3, 2))),
])
def test_gradcheck(fn, make):
    assert gradcheck(fn, make())
