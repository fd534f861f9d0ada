"""In-place ops against real PyTorch: values, dtypes and version bumps of ``add_ sub_ mul_
div_ pow_ floor_divide_ remainder_`` and ``+= -= *= /= //= %= **=``; PyTorch's errors (leaf
requiring grad, result type that can't be cast, broadcast shape) with the tensor left
untouched after each; the grad_fn rebase of a non-leaf (``y = x * 2; y += 1`` is AddBackward0
over MulBackward0) with gradients matching; saved tensors modified in place raising
PyTorch's full version-counter message; fill_ / zero_ / copy_ nodes."""

from __future__ import annotations

import numpy as np
import pytest

import engine

from .reference import check, to_numpy, torch

RNG = np.random.default_rng(3)


def version(t) -> int:
    """PyTorch's ``t._version`` (the engine keeps a shared one-element list)."""
    v = t._version
    return v[0] if isinstance(v, list) else v


def state(t):
    return (to_numpy(t).tolist(), str(t.dtype), version(t), type(t.grad_fn).__name__,
            t.requires_grad)


def run(lib, code: str):
    """Run ``code`` with ``L`` = lib; the result is the final state of ``x`` (and ``y`` when
    defined) or the exception, plus x's state after the exception."""
    env = {"L": lib, "np": np}
    try:
        exec(code, env)
    except Exception as exc:  # noqa: BLE001 - compared with PyTorch's
        return ("error", type(exc).__name__, str(exc), state(env["x"]) if "x" in env else None)
    out = [state(env["x"])]
    if "y" in env:
        out.append(state(env["y"]))
    return ("ok", out)


def assert_same(code: str):
    assert run(engine, code) == run(torch, code)


VALUE_CASES = [
    "x = L.tensor([1., 2, 3]); x.add_(1)", "x = L.tensor([1., 2, 3]); x += 1",
    "x = L.tensor([1., 2, 3]); x -= 0.5", "x = L.tensor([1., 2, 3]); x *= 3",
    "x = L.tensor([1., 2, 3]); x /= 4", "x = L.tensor([1., 2, 3]); x **= 2",
    "x = L.tensor([1., 2, 3]); x //= 2", "x = L.tensor([1., 2, 3]); x %= 2",
    "x = L.tensor([5, -5, 7]); x //= 2", "x = L.tensor([5, -5, 7]); x %= 3",
    "x = L.tensor([5, -5, 7]); x.floor_divide_(2)", "x = L.tensor([5., -5, 7]); x.remainder_(3)",
    "x = L.tensor([5., -5, 7]); x.fmod_(3)", "x = L.tensor([5, -5, 7]); x.fmod_(3)",
    "x = L.tensor([1., 2, 3]); x.div_(2, rounding_mode='floor')",
    "x = L.tensor([5, -5, 7]); x.div_(2, rounding_mode='trunc')",
    "x = L.tensor([1., 2, 3]); x.pow_(L.tensor([2., 0, 1]))",
    "x = L.tensor([1, 2, 3]); x.pow_(2)", "x = L.tensor([1., 2, 3]); x.sub_(1, alpha=2)",
    "x = L.tensor([1., 2, 3]); x.add_(L.tensor([1., 2, 3]), alpha=2)",
    "x = L.tensor([1., 2, 3]); x.add_(1, alpha=0.5)",
    "x = L.tensor([1, 2, 3]); x.add_(L.tensor([1, 1, 1]), alpha=2)",
    "x = L.tensor([1., 2, 3]); x.mul_(L.tensor(2.)); x.div_(4)",
    "x = L.tensor([1., 2, 3]); x += L.tensor([1, 2, 3])",
    "x = L.tensor([1., 2, 3]); x += L.tensor([1., 2, 3], dtype=L.float64)",
    "x = L.tensor([1, 2, 3], dtype=L.int32); x += L.tensor([1, 2, 3])",
    "x = L.tensor([1, 2, 3]); x += L.tensor(1)", "x = L.tensor([1, 2, 3]); x *= True",
    "x = L.tensor([True, False]); x += True", "x = L.tensor([True, False]); x *= False",
    "x = L.tensor([1, 2], dtype=L.uint8); x += 300",
    "x = L.tensor([[1., 2, 3], [4, 5, 6]]); x += L.tensor([10., 20, 30])",
    "x = L.tensor([[1., 2, 3], [4, 5, 6]]); x *= L.tensor([[2.], [3.]])",
    "x = L.tensor([[1., 2, 3], [4, 5, 6]]); x -= x[0]",
    "x = L.tensor([1., 2, 3]); x += x", "x = L.tensor([1., 2, 3]); x *= x.view(3)",
    "x = L.tensor([[1., 2], [3, 4]]); x += x.t()",
    "x = L.tensor([1., 2, 3, 4]); x[:2] += x[2:]",
    "x = L.tensor([1., 2, 3]); y = x[1:]; y += 1",
    "x = L.tensor([1., 2, 3]); x.add_(np.float64(2.5))",
    "x = L.tensor([1., 2, 3], requires_grad=True)\nwith L.no_grad(): x += 1",
    "x = L.tensor([1., 2, 3], requires_grad=True)\nwith L.no_grad(): x.mul_(2).sub_(1)",
    "x = L.tensor([1., 2, 3], requires_grad=True); x.data += 1",
    "x = L.tensor([1., 2, 3], requires_grad=True); x.data.mul_(2)",
]


@pytest.mark.parametrize("code", VALUE_CASES)
def test_values_dtypes_versions(code):
    assert_same(code)


ERROR_CASES = [
    "x = L.tensor([1., 2, 3], requires_grad=True); x.add_(1)",
    "x = L.tensor([1., 2, 3], requires_grad=True); x += 1",
    "x = L.tensor([1., 2, 3], requires_grad=True); x.mul_(L.tensor(2.))",
    "x = L.tensor([1., 2, 3], requires_grad=True); x.zero_()",
    "x = L.tensor([1., 2, 3], requires_grad=True); x.fill_(1)",
    "x = L.tensor([1, 2, 3]); x += 1.5", "x = L.tensor([1, 2, 3]); x *= 1.5",
    "x = L.tensor([1, 2, 3]); x /= 2", "x = L.tensor([1, 2, 3]); x.div_(2)",
    "x = L.tensor([1, 2, 3]); x += L.tensor([1., 2, 3])",
    "x = L.tensor([1, 2, 3]); x.add_(L.tensor([1., 2, 3], requires_grad=True))",
    "x = L.tensor([1, 2, 3]); x += L.tensor(1.)", "x = L.tensor([1, 2, 3]); x **= 0.5",
    "x = L.tensor([True]); x += 1", "x = L.tensor([True]); x *= 2.5",
    "x = L.tensor([1., 2, 3]); x += L.tensor([[1.], [2]])",
    "x = L.tensor([[1., 2, 3]]); x += L.tensor([[1.], [2]])",
    "x = L.tensor([1., 2, 3]); x += L.tensor([1., 2])",
    "x = L.tensor([1., 2, 3]); x *= L.ones(2, 3)",
    "x = L.tensor([1., 2, 3]); y = x * 1; y += L.ones(2, 3, requires_grad=True)",
    "x = L.tensor([1, 2, 3]); x -= True", "x = L.tensor([True]); x -= True",
    "x = L.tensor([1, 2, 3]); x.add_(1, alpha=0.5)", "x = L.tensor([1, 2, 3]); x //= 0",
    "x = L.tensor([1, 2, 3]); x %= 0", "x = L.tensor([1, 2, 3]); x **= -1",
    "x = L.tensor([1., 2, 3]); x.add_('a')", "x = L.tensor([1., 2, 3]); x += 'a'",
    "x = L.tensor([1., 2, 3]); x *= None", "x = L.tensor([1., 2, 3]); x.mul_([1, 2, 3])",
    "x = L.tensor([1., 2, 3]); x.div_(2, rounding_mode='bad')",
    "x = L.tensor([[1., 2], [3, 4]], requires_grad=True); y = x[0]; y.add_(1)",
]


@pytest.mark.parametrize("code", ERROR_CASES)
def test_errors_leave_the_tensor_untouched(code):
    """PyTorch's error type and text; the tensor's data, version and grad_fn unchanged."""
    e, t = run(engine, code), run(torch, code)
    assert e[0] == t[0] == "error"
    assert e == t


REBASE = {
    "add": lambda L, a: _rebased(a, lambda y: y.add_(1)),
    "iadd tensor": lambda L, a: _rebased(a, lambda y: y.__iadd__(a)),
    "isub alpha": lambda L, a: _rebased(a, lambda y: y.sub_(a, alpha=3)),
    "imul self": lambda L, a: _rebased(a, lambda y: y.mul_(a)),
    "idiv": lambda L, a: _rebased(a, lambda y: y.div_(a + 2)),
    "ipow": lambda L, a: _rebased(a, lambda y: y.pow_(2)),
    "ipow tensor": lambda L, a: _rebased(a, lambda y: y.pow_(a * 0 + 2)),
    "iadd self": lambda L, a: _rebased(a, lambda y: y.add_(y)),
    "remainder": lambda L, a: _rebased(a, lambda y: y.remainder_(0.7)),
    "chain": lambda L, a: _rebased(a, lambda y: y.mul_(2).add_(a).div_(3).sub_(1)),
    "broadcast other": lambda L, a: _rebased(a, lambda y: y.add_(a[0])),
    "into constant": lambda L, a: L.zeros(2, 3).add_(a).mul_(a),
    "into constant alpha": lambda L, a: L.ones(2, 3).sub_(a, alpha=2),
    "into constant broadcast": lambda L, a: L.zeros(4, 2, 3).add_(a),
    "fill": lambda L, a: _rebased(a, lambda y: y.fill_(3)) + a,
    "zero": lambda L, a: _rebased(a, lambda y: y.zero_()) * a,
    "copy": lambda L, a: _rebased(a, lambda y: y.copy_(a.exp())),
    "copy into constant": lambda L, a: L.zeros(2, 3).copy_(a * 2) * a,
    "no_grad then grad": lambda L, a: _no_grad_then(L, a),
}


def _rebased(a, op):
    y = a * 2
    op(y)
    return y


def _no_grad_then(L, a):
    y = a * 2
    with L.no_grad():
        y.add_(1)
    return y * a


@pytest.mark.parametrize("name", sorted(REBASE))
def test_rebase_on_non_leaf(name):
    """The in-place op becomes the tensor's grad_fn (over the old one), and gradients flow
    through the op exactly as in PyTorch."""
    check(REBASE[name], RNG.standard_normal((2, 3)).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_rebase_graph_shape():
    for lib in (engine, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        before = y.grad_fn
        y += 1
        assert type(y.grad_fn).__name__ == "AddBackward0"
        assert y.grad_fn.next_functions == ((before, 0), (None, 0))
        assert version(y) == 1 and not y.is_leaf
        z = lib.zeros(3)
        z += x
        assert type(z.grad_fn).__name__ == "AddBackward0" and z.requires_grad and not z.is_leaf
        assert z.grad_fn.next_functions[0] == (None, 0)


SAVED_CASES = [
    "b = a * 2; y = b * b; b += 1; y.sum().backward()",
    "b = a * 2; y = b ** 2; b.add_(1); y.sum().backward()",
    "b = a * 2; y = a * b; b.mul_(2); y.sum().backward()",
    "b = a + 0; y = b.sum(); b.mul_(2); y.backward()",
    "b = a * 1; y = 2 ** b; b.add_(1); y.sum().backward()",
    "b = a * 1; y = 2 ** b; y.add_(1); y.sum().backward()",
    "b = a * 1; y = b.reciprocal(); y.add_(1); y.sum().backward()",
    "b = a * 1; y = b ** a; y.mul_(2); y.sum().backward()",
    "b = a * 1; y = b ** a; b.sub_(1); y.sum().backward()",
    "b = a * 2; b *= b; b.sum().backward()",
    "b = a * 2; b.mul_(a); b.add_(1); b.sum().backward()",
    "b = a * 2; b.pow_(a); b.add_(1); b.sum().backward()",
    "b = a * 2; b.pow_(2); b.add_(1); b.sum().backward()",
    "m = a.reshape(1, 3) * 1; n = a.reshape(3, 1) + 1; y = m.mm(n); m.add_(1); n.add_(1); "
    "y.sum().backward()",
    "m = a.reshape(1, 3) * 1; n = a.reshape(3, 1) + 1; y = m.mm(n); m.add_(1); "
    "y.sum().backward()",
    "m = a.reshape(1, 3) * 1; v = a + 1; y = m.mv(v); m.add_(1); v.add_(1); "
    "y.sum().backward()",
    "b = a * 2; c = a + 1; y = b * c; b.mul_(2); c.mul_(2); y.sum().backward()",
    "b = a * 2; c = a + 1; y = b / c; b.mul_(2); c.mul_(2); y.sum().backward()",
    "b = a * 2; c = a + 1; y = b ** c; b.mul_(2); c.mul_(2); y.sum().backward()",
    "m = a.reshape(1, 3) * 1; n = a.reshape(3, 1) + 1; y = L.addmm(a[:1], n, m); n.add_(1); "
    "m.add_(1); y.sum().backward()",
    "c = L.tensor([1., 2, 3]); y = a * c; c.add_(1); y.sum().backward()",
    "c = L.tensor([1., 2, 3]); y = a * c; c.add_(1)\nwith L.no_grad(): c.sub_(1)\n"
    "y.sum().backward()",
    "b = a.double() * 1; y = b * b; b.add_(1); y.sum().backward()",
    "b = a.sum(0) * 1; y = b * b\nwith L.no_grad(): b.add_(1)\ny.backward()",
    "b = a * 2; y = b * b\nwith L.no_grad(): b.add_(1)\ny.sum().backward()",
]


@pytest.mark.parametrize("code", SAVED_CASES)
def test_saved_tensor_modified_in_place(code):
    """PyTorch's full message (tensor type and shape, the op that produced it as PyTorch
    names it, the versions), or the same gradient where nothing saved was touched."""
    results = {}
    for lib in (engine, torch):
        env = {"L": lib, "a": lib.tensor([1.0, 2.0, 3.0], requires_grad=True)}
        try:
            exec(code, env)
            results[lib] = to_numpy(env["a"].grad).tolist()
        except RuntimeError as exc:
            results[lib] = str(exc)
    assert results[engine] == results[torch]


def test_optimizer_step_under_no_grad():
    """``p.add_(g, alpha=-lr)`` / ``p -= lr * g`` under no_grad: values and versions."""
    w = RNG.standard_normal((3, 2)).astype(np.float32)
    g = RNG.standard_normal((3, 2)).astype(np.float32)
    results = {}
    for lib in (engine, torch):
        p = lib.tensor(w, requires_grad=True)
        grad = lib.tensor(g)
        with lib.no_grad():
            p.add_(grad, alpha=-0.1)
            p -= 0.5 * grad
            p.mul_(0.9).add_(grad.double(), alpha=0.01)
        results[lib] = (to_numpy(p), version(p), p.requires_grad, p.is_leaf)
    e, t = results[engine], results[torch]
    np.testing.assert_allclose(e[0], t[0], rtol=1e-6)
    assert e[1:] == t[1:]


def test_in_place_result_is_self_and_shares_the_version_with_views():
    for lib in (engine, torch):
        x = lib.tensor([1.0, 2.0, 3.0])
        v = x.view(3)
        assert x.add_(1) is x
        assert (x.__iadd__(1)) is x
        assert version(v) == version(x) == 2
        v.mul_(2)
        assert version(x) == 3 and x.tolist() == [6.0, 8.0, 10.0]


def test_gradcheck_float64_through_in_place_ops():
    from engine.autograd import gradcheck

    a = engine.tensor(RNG.random((2, 3)) + 0.5, requires_grad=True)
    b = engine.tensor(RNG.random((3,)) + 0.5, requires_grad=True)
    assert gradcheck(lambda x, y: (x * 2).add_(y).mul_(x).div_(y).pow_(2).sub_(x, alpha=3),
                     (a, b))
    assert gradcheck(lambda x, y: engine.zeros(2, 3, dtype=engine.float64).add_(x).mul_(y),
                     (a, b))
