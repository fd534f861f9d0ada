"""``autograd.gradcheck``: passes on correct gradients, fails like PyTorch's on wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.autograd.gradcheck import GradcheckError, numerical_jacobian

from .test_autograd import leaf, outcome, same


def cube(lib, wrong=False):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (2 if wrong else 3) * x * x

    return Cube


def f64(lib, values):
    return leaf(lib, values, dtype=lib.float64)


def test_passes_on_correct_gradients():
    def script(lib, tr):
        x = f64(lib, [[1.0, 2.0], [3.0, -1.0]])
        y = f64(lib, [0.5, -2.0])
        tr("custom", lib.autograd.gradcheck(cube(lib).apply, (x,)))
        tr("a list of inputs, a non-tensor argument, two outputs", lib.autograd.gradcheck(
            lambda a, k, b: (a * b * k, (b**2).sum()), [x, 2.0, y]))
        tr("a single tensor", lib.autograd.gradcheck(lambda a: a.mm(a.t()), x))
        tr("an input that needs no grad", lib.autograd.gradcheck(
            lambda a, b: a * b, (x, lib.ones(2, dtype=lib.float64))))

    same(script)


def test_fails_on_a_wrong_backward_with_pytorchs_message():
    def script(lib, tr):
        x = f64(lib, [1.0, 2.0])
        w = f64(lib, [[1.0, 2.0], [3.0, 4.0]])
        tr.raises("one input", lib.autograd.gradcheck, cube(lib, wrong=True).apply, (x,))
        tr.raises("second output, second input", lib.autograd.gradcheck,
                  lambda a, b: (a * 2, cube(lib, wrong=True).apply(b)), (x, w))
        tr("raise_exception=False", lib.autograd.gradcheck(
            cube(lib, wrong=True).apply, (x,), raise_exception=False))

    items = same(script)
    msg = outcome(items, "one input")[2]
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,\n")
    assert "numerical:tensor([[ 3.0000,  0.0000]," in msg
    assert "analytical:tensor([[2., 0.]," in msg


def test_other_failures_and_input_checks():
    def script(lib, tr):
        class NotScaled(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return lib.ones_like(g) * 2

        x = f64(lib, [1.5])
        tr.raises("backward ignores grad_output", lib.autograd.gradcheck, NotScaled.apply,
                  (x,))
        tr.raises("no differentiable output but a dependence", lib.autograd.gradcheck,
                  lambda t: t.detach() * 2, (x,))
        tr("no differentiable output, no dependence",
           lib.autograd.gradcheck(lambda t: lib.ones(2, dtype=lib.float64), (x,)))
        tr.raises("nothing requires grad", lib.autograd.gradcheck, lambda t: t * 2,
                  (lib.ones(2, dtype=lib.float64),))
        x32 = leaf(lib, [1.0, 2.0])
        tr.warns("float32", lib.autograd.gradcheck, lambda t: (t * 3).sum(), x32, eps=1e-3,
                 atol=1e-2)

    same(script)


def test_the_error_is_a_runtime_error():
    x = engine.tensor([1.0, 2.0], dtype=engine.float64, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        engine.autograd.gradcheck(cube(engine, wrong=True).apply, (x,))
    assert type(info.value) is GradcheckError
    assert x.grad is None  # gradcheck never accumulates


def test_numerical_jacobian_perturbs_non_contiguous_inputs():
    base = engine.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=engine.float64)
    xt = base.t().detach().requires_grad_()  # a transposed view: not contiguous
    assert not xt.is_contiguous()
    before = xt.detach().numpy().copy()
    (jac,), = numerical_jacobian(lambda a: a * a, (xt,))
    np.testing.assert_allclose(jac, np.diag(2 * before.ravel()), atol=1e-6)
    np.testing.assert_array_equal(xt.detach().numpy(), before)  # restored


OPS = {
    "mul_div": lambda a, b: a * b / (b * b + 1),
    "pow": lambda a, b: a**3 + 2**b + (a * a + 1) ** b,
    "sub_neg_rsub": lambda a, b: 1 - a - (-b),
    "sum_mean": lambda a, b: a.sum(0) * b.mean(),
    "mm_t": lambda a, b: a.t().mm(a) + b.view(1, 3).t().mm(b.view(1, 3)),
    "views": lambda a, b: a.view(3, 2).t().reshape(6).unsqueeze(0) * b.sum(),
    "unbind": lambda a, b: sum(a.unbind(0)) * b,
    "reciprocal": lambda a, b: (a * a + 1).reciprocal(),
    "clamp": lambda a, b: a.clamp(min=0.25, max=2.5),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_gradcheck_passes_on_the_engine_ops(op):
    rng = np.random.default_rng(1)
    a = engine.tensor(rng.uniform(0.3, 3.0, (2, 3)), requires_grad=True)
    b = engine.tensor(rng.uniform(0.3, 3.0, 3), requires_grad=True)
    assert engine.autograd.gradcheck(OPS[op], (a, b))


def test_unsupported_options_fail_in_one_line():
    x = engine.tensor([1.0], dtype=engine.float64, requires_grad=True)
    for option in ("check_batched_grad", "check_forward_ad"):
        with pytest.raises(NotImplementedError, match=option):
            engine.autograd.gradcheck(lambda t: t * 2, (x,), **{option: True})
