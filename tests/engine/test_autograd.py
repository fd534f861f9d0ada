"""Autograd semantics, differential against real PyTorch.

Each test is one script run twice, with ``lib = engine`` and ``lib = torch``; the script
records what it observes (values, grads, node names, hook calls, exceptions with their exact
type and message, warnings) in a ``Trace`` and ``same`` asserts the two traces are equal.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine

torch = pytest.importorskip("torch")

LIBS = (("engine", engine), ("torch", torch))


# --- the differential harness ---------------------------------------------------------------
def _is_tensor(v) -> bool:
    return isinstance(v, (engine.Tensor, torch.Tensor))


def observe(value):
    """A comparable snapshot: tensors become (dtype, shape, values, grad_fn name,
    requires_grad), graph nodes their class name, exceptions (type name, message)."""
    if _is_tensor(value):
        fn = value.grad_fn
        return ("tensor", str(value.dtype), tuple(value.shape),
                np.array(value.detach().cpu().numpy()),
                None if fn is None else type(fn).__name__, value.requires_grad)
    if isinstance(value, BaseException):
        return ("raised", type(value).__name__, str(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [observe(v) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: observe(v) for k, v in value.items()})
    if hasattr(value, "next_functions"):
        return ("node", type(value).__name__)
    return value


# PyTorch appends where in its C++ source a warning was raised; that is not part of the text
_TRIGGERED = re.compile(r" \(Triggered internally at .*\)$", re.S)


class Trace:
    """What one run of a script observed, in order."""

    def __init__(self, lib):
        self.lib = lib
        self.items: list = []

    def __call__(self, label: str, value):
        self.items.append((label, observe(value)))
        return value

    def raises(self, label: str, fn, *args, **kwargs):
        """Call ``fn``; record the exception it raises (or that it returned)."""
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - recording any exception is the point
            self.items.append((label, observe(exc)))
            return exc
        self.items.append((label, ("returned", observe(result))))
        return None

    def warns(self, label: str, fn, *args, **kwargs):
        """Call ``fn``; record the warnings it emits (category, message) and its result."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        msgs = [(w.category.__name__, _TRIGGERED.sub("", str(w.message))) for w in caught]
        self.items.append((label, msgs))
        return result


def _assert_equal(e, t, where: str) -> None:
    if isinstance(t, np.ndarray):
        assert isinstance(e, np.ndarray), f"{where}: {e!r} is not an array"
        assert e.shape == t.shape, f"{where}: shape {e.shape} != torch's {t.shape}"
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6, err_msg=where)
    elif isinstance(t, (list, tuple)):
        assert isinstance(e, (list, tuple)) and len(e) == len(t), f"{where}: {e!r} != {t!r}"
        for i, (a, b) in enumerate(zip(e, t)):
            _assert_equal(a, b, f"{where}[{i}]")
    elif isinstance(t, dict):
        assert isinstance(e, dict) and e.keys() == t.keys(), f"{where}: {e!r} != {t!r}"
        for k in t:
            _assert_equal(e[k], t[k], f"{where}[{k!r}]")
    elif isinstance(t, float):
        assert e == pytest.approx(t, rel=1e-5, abs=1e-6), f"{where}: {e!r} != {t!r}"
    else:
        assert e == t, f"{where}: engine {e!r} != torch {t!r}"


def same(script) -> list:
    """Run ``script(lib, trace)`` with the engine and with torch; assert equal traces; return
    the engine's (so a test can also assert what was observed, making it unable to pass
    vacuously)."""
    traces = {}
    for name, lib in LIBS:
        trace = Trace(lib)
        script(lib, trace)
        traces[name] = trace.items
    e, t = traces["engine"], traces["torch"]
    assert [label for label, _ in e] == [label for label, _ in t]
    for (label, a), (_, b) in zip(e, t):
        _assert_equal(a, b, label)
    return e


def outcome(items, label):
    """The observation recorded under ``label``."""
    return next(v for lab, v in items if lab == label)


def leaf(lib, values, dtype=None):
    return lib.tensor(values, dtype=dtype, requires_grad=True)


def record_order(lib, roots, log):
    """Register a pre-hook on every node reachable from ``roots`` that logs its class name
    (PyTorch's AccumulateGrad.name() is 'torch::autograd::AccumulateGrad')."""
    seen = set()

    def walk(fn):
        if fn is None or fn in seen:
            return
        seen.add(fn)
        name = type(fn).__name__
        fn.register_prehook(lambda grads, name=name: log.append(name))
        for nxt, _ in fn.next_functions:
            walk(nxt)

    for r in roots:
        walk(r.grad_fn)


FREED = "Trying to backward through the graph a second time"


# --- accumulation, retain_graph ----------------------------------------------------------
def test_gradients_accumulate_until_zeroed_or_set_to_none():
    def script(lib, tr):
        x = leaf(lib, [1.0, -2.0, 3.0])
        (x * x).sum().backward()
        g = tr("first", x.grad)
        (x * 3).sum().backward()
        tr("accumulated", x.grad)
        tr("same tensor object", x.grad is g)
        x.grad.zero_()
        tr("zeroed", x.grad)
        (x**2).sum().backward()
        tr("after zero_", x.grad)
        tr("zero_ keeps the object", x.grad is g)
        x.grad = None
        (x * 5).sum().backward()
        tr("after None", x.grad)
        tr("new object", x.grad is g)
        tr("grad metadata", (x.grad.requires_grad, x.grad.is_leaf, x.grad.grad_fn))

    items = same(script)
    assert outcome(items, "accumulated")[3].tolist() == [5.0, -1.0, 9.0]


def test_retain_graph_allows_a_second_backward_and_the_third_fails():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        tr("twice", x.grad)
        tr.raises("third", y.backward)
        tr("unchanged", x.grad)

    items = same(script)
    assert FREED in outcome(items, "third")[2]


SECOND_BACKWARD_CASES = {
    # graphs whose nodes saved no tensor can be run twice in PyTorch; the others cannot
    "add": lambda lib, x: x + x + 1,
    "sub_neg": lambda lib, x: 1 - (-x),
    "sum_mean": lambda lib, x: x.sum(0) + x.mean(),
    "views": lambda lib, x: x.view(1, 2).t().reshape(2).unsqueeze(0),
    "unbind": lambda lib, x: x.unbind(0)[1],
    "clone_to": lambda lib, x: x.clone().double(),
    "mul_scalar": lambda lib, x: x * 2,
    "div_scalar": lambda lib, x: x / 2,
    "mul_tensor": lambda lib, x: x * x,
    "pow": lambda lib, x: x**2,
    "rpow": lambda lib, x: 2**x,
    "reciprocal": lambda lib, x: x.reciprocal(),
    "clamp": lambda lib, x: x.clamp(min=1.5),
    "mm": lambda lib, x: x.view(1, 2).mm(x.view(2, 1)),
}


@pytest.mark.parametrize("case", sorted(SECOND_BACKWARD_CASES))
def test_second_backward_without_retain_graph(case):
    f = SECOND_BACKWARD_CASES[case]

    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        y = f(lib, x).sum()
        y.backward()
        tr("first", x.grad)
        tr.raises("second", y.backward)
        tr("after", x.grad)

    same(script)


@pytest.mark.parametrize("first", ["pure", "saved"])
def test_a_failed_second_backward_keeps_what_ran_before_the_failure(first):
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        w = leaf(lib, [3.0, 4.0])
        pure, saved = x.sum(), (w * w).sum()
        y = pure + saved if first == "pure" else saved + pure
        y.backward()
        tr.raises("second", y.backward)
        tr("x", x.grad)
        tr("w", w.grad)

    items = same(script)
    assert FREED in outcome(items, "second")[2]


# --- seeds: implicit, explicit, wrong ------------------------------------------------------
def test_backward_seeds_and_their_errors():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        y = x * 3
        tr.raises("implicit non-scalar", y.backward)
        tr.raises("wrong shape", y.backward, lib.tensor([1.0, 2.0, 3.0]))
        tr.raises("list of floats", y.backward, [1.0, 2.0])
        tr.raises("0-d seed for [1]", (x.sum() * 1).backward, lib.tensor([2.0]))
        tr("untouched by the errors", x.grad)
        y.backward(lib.tensor([1.0, -1.0]), retain_graph=True)
        tr("explicit", x.grad)
        y.backward(lib.tensor([1.0, 1.0], dtype=lib.float64))
        tr("float64 seed on float32 output", x.grad)
        s = (x * x).sum()
        s.backward(lib.tensor(2.0))
        tr("scalar seed", x.grad)
        tr.raises("needs no grad", (lib.tensor([1.0]) * 2).sum().backward)
        tr.raises("leaf without grad", lib.tensor(1.0).backward)
        z = leaf(lib, 3.0)
        z.backward()
        z.backward()
        tr("leaf root", z.grad)

    items = same(script)
    assert outcome(items, "implicit non-scalar")[2] == (
        "grad can be implicitly created only for scalar outputs")
    assert outcome(items, "needs no grad")[2] == (
        "element 0 of tensors does not require grad and does not have a grad_fn")


def test_autograd_backward_with_several_tensors():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        lib.autograd.backward([(x * x).sum(), x * 3], [None, lib.tensor([1.0, -1.0])])
        tr("two roots", x.grad)
        tr.raises("one seed short", lib.autograd.backward, [(x * x).sum(), x * 3],
                  [lib.tensor(1.0)])
        lib.autograd.backward((x * x).sum(), [lib.tensor(1.0), lib.tensor(2.0)])
        tr("extra seeds are ignored", x.grad)
        tr.raises("implicit for non-scalar", lib.autograd.backward, [(x * x).sum(), x * 3])
        tr.raises("element 1", lib.autograd.backward, [(x * 2).sum(), lib.tensor(1.0)])
        lib.autograd.backward(x * 2, grad_tensors=lib.tensor([1.0, 1.0]))
        tr("single tensor and seed", x.grad)
        tr.raises("seed type", lib.autograd.backward, [x.sum()], ["1"])

    same(script)


# --- backward(inputs=...) --------------------------------------------------------------------
def test_backward_inputs_restricts_accumulation():
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        (x * w).sum().backward(inputs=[x])
        tr("only x", (x.grad, w.grad))
        (x * w).sum().backward(inputs=w)
        tr("a tensor, not a list", (x.grad, w.grad))
        lib.autograd.backward((x * w).sum(), inputs={"w": w})
        tr("a dict", (x.grad, w.grad))
        u = leaf(lib, [0.0, 0.0])
        (x * 2).sum().backward(inputs=[u])
        tr("unreached input", (u.grad, x.grad))
        tr.raises("empty", (x * 2).sum().backward, inputs=[])
        tr.raises("no grad", (x * 2).sum().backward, inputs=[lib.tensor([1.0])])

    same(script)


def test_backward_inputs_may_be_non_leaves():
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        h = x * w
        log = []
        h.grad_fn.register_prehook(lambda g: log.append("pre"))
        h.grad_fn.register_hook(lambda gi, go: log.append("post"))
        (h * h).sum().backward(inputs=[h, w])
        tr("x untouched", x.grad)
        tr("w", w.grad)
        tr("h's grad", h.grad)
        tr("h now retains", h.retains_grad)
        tr("h's node ran", log)

    same(script)


def test_backward_inputs_skips_hooks_of_nodes_that_do_not_run():
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        h = x * x
        h.retain_grad()
        log = []
        x.register_hook(lambda g: log.append("x hook"))
        h.register_hook(lambda g: log.append("h hook"))
        (h * w).sum().backward(inputs=[w])
        tr("log", log)
        tr("grads", (w.grad, h.grad))

    same(script)


# --- execution order ----------------------------------------------------------------------
def test_execution_order_of_the_seed_example():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        y = x**2
        o = 0.5 * sum(y)
        log = []
        record_order(lib, [o], log)
        o.backward()
        tr("order", log)
        tr("grad", x.grad)

    items = same(script)
    assert outcome(items, "order")[1] == ["MulBackward0", "AddBackward0", "AddBackward0",
                                       "UnbindBackward0", "PowBackward0", "AccumulateGrad"]


GRAPHS = {
    "diamond": lambda lib, x, w: [(x * w * (x + w)).sum() + (x**2).sum()],
    "reused": lambda lib, x, w: [((x * 2) * (x * 3) + x).sum()],
    "two leaves, mm": lambda lib, x, w: [(x.view(1, 2).mm(w.view(2, 1)) * x.sum()).sum()],
    "two roots": lambda lib, x, w: [(x + w).sum(), (x * w).sum()],
    "roots share a node": lambda lib, x, w: [(h := x * w).sum(), (h * h).sum()],
}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_execution_order_matches_pytorch(graph):
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, -4.0])
        roots = GRAPHS[graph](lib, x, w)
        log = []
        record_order(lib, roots, log)
        x.register_hook(lambda g: log.append("x hook"))
        w.register_hook(lambda g: log.append("w hook"))
        lib.autograd.backward(roots)
        tr("order", log)
        tr("grads", (x.grad, w.grad))

    same(script)


_OPS = ("add", "mul", "sub", "square", "sum_scalar")


def _build(lib, leaves, program):
    """A random DAG: each step combines two earlier values (leaves or results)."""
    values = list(leaves)
    for op, i, j in program:
        a, b = values[i % len(values)], values[j % len(values)]
        if op == "add":
            values.append(a + b)
        elif op == "mul":
            values.append(a * b)
        elif op == "sub":
            values.append(a - b)
        elif op == "square":
            values.append(a**2)
        else:
            values.append(a * b.sum())
    return sum(v.sum() for v in values[len(leaves):])


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_OPS), st.integers(0, 20), st.integers(0, 20)),
                min_size=1, max_size=7),
       st.lists(st.floats(-2, 2, allow_nan=False, width=32), min_size=6, max_size=6))
def test_random_graphs_run_in_pytorchs_order_with_pytorchs_gradients(program, values):
    def script(lib, tr):
        leaves = [leaf(lib, values[k:k + 2]) for k in (0, 2, 4)]
        loss = _build(lib, leaves, program)
        log = []
        record_order(lib, [loss], log)
        loss.backward()
        tr("order", log)
        tr("grads", [t.grad for t in leaves])

    same(script)


# --- retain_grad, hooks -----------------------------------------------------------------------
def test_retain_grad_and_the_non_leaf_grad_warning():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        h = x * 3
        tr.warns("warning", lambda: h.grad)
        h.retain_grad()
        tr("retains", (h.retains_grad, x.retains_grad, h.is_leaf))
        y = (h * h).sum()
        y.retain_grad()
        y.backward(retain_graph=True)
        tr("h.grad", h.grad)
        tr("root's own grad", y.grad)
        y.backward()
        tr("accumulates", h.grad)
        tr.warns("no warning once retained", lambda: h.grad)
        x.retain_grad()  # a leaf: no-op
        tr("leaf", (x.retains_grad, x.grad))
        tr.raises("no grad", lib.tensor([1.0]).retain_grad)

    items = same(script)
    assert "is not a leaf Tensor is being accessed" in outcome(items, "warning")[0][1]


def test_tensor_hooks_replace_the_gradient_and_can_be_removed():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        log = []
        h = x * 3
        h.retain_grad()
        h.register_hook(lambda g: log.append(("h1", g.tolist())) or g * 10)
        h2 = h.register_hook(lambda g: log.append(("h2", g.tolist())))
        xh = x.register_hook(lambda g: log.append(("x", g.tolist())) or g + 1)
        (h * h).sum().backward(retain_graph=True)
        tr("first", (x.grad, h.grad))
        h2.remove()
        h2.remove()  # a second remove is harmless
        xh.remove()
        (h * h).sum().backward()
        tr("second", (x.grad, h.grad))
        tr("log", log)
        tr.raises("no grad", lib.tensor([1.0]).register_hook, lambda g: g)

    same(script)


def test_node_pre_and_post_hooks():
    def script(lib, tr):
        x = leaf(lib, [3.0, 4.0])
        y = x * x
        log = []
        y.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
        y.grad_fn.register_hook(
            lambda gi, go: log.append(("post", len(gi), gi[0].tolist(), go[0].tolist())))
        y.sum().backward()
        tr("log", log)
        z = x * 2
        z.grad_fn.register_prehook(lambda go: (go[0] * 100,))
        z.sum().backward()
        tr("pre-hook replaces the incoming gradient", x.grad)

    same(script)


def test_hook_errors():
    def script(lib, tr):
        x = leaf(lib, [3.0, 4.0])
        y = x * 2
        h = y.register_hook(lambda g: g.sum())
        tr.raises("size", (y * 2).sum().backward, retain_graph=True)
        h.remove()
        h = y.register_hook(lambda g: g.double())
        tr.raises("type", (y * 2).sum().backward, retain_graph=True)
        h.remove()
        x.register_hook(lambda g: 3)
        tr.raises("not a tensor", (x * 2).sum().backward)

        def boom(g):
            raise ValueError("boom")

        w = leaf(lib, [1.0, 1.0])
        (x * w).register_hook(boom)
        tr.raises("raised in a hook", ((x * w) * 2 + w).sum().backward)
        tr("grads untouched", (x.grad, w.grad))

    same(script)


def test_leaf_that_stopped_requiring_grad_gets_no_grad():
    def script(lib, tr):
        x = leaf(lib, [3.0, 4.0])
        y = (x * 2).sum()
        x.requires_grad_(False)
        y.backward()
        tr("grad", x.grad)

    same(script)


# --- requires_grad, detach, .data, is_leaf -------------------------------------------------------
def test_requires_grad_flags_and_errors():
    def script(lib, tr):
        tr.raises("int requires_grad_", lib.tensor([1, 2]).requires_grad_)
        tr.raises("int setter", setattr, lib.tensor([1, 2]), "requires_grad", True)
        tr.raises("int factory", lib.tensor, [1, 2], requires_grad=True)
        tr.raises("int ones", lib.ones, 2, dtype=lib.int64, requires_grad=True)
        tr("int, False is fine", lib.tensor([1, 2]).requires_grad_(False))
        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        tr.raises("non-leaf off", y.requires_grad_, False)
        tr.raises("non-leaf setter off", setattr, y, "requires_grad", False)
        tr("non-leaf on is a no-op", (y.requires_grad_() is y, y.is_leaf))
        t = lib.tensor([1.0])
        tr("returns self", t.requires_grad_() is t)
        t.requires_grad = False
        tr("setter", t.requires_grad)

    items = same(script)
    assert outcome(items, "int requires_grad_")[2] == (
        "only Tensors of floating point dtype can require gradients")


def test_is_leaf_detach_and_data():
    def script(lib, tr):
        a = lib.tensor([1.0])
        c = leaf(lib, [1.0, 2.0])
        d = c * c
        with lib.no_grad():
            e = c * 2
        tr("is_leaf", [t.is_leaf for t in (a, a * 2, c, d, c.detach(), d.detach(), e)])
        det = d.detach()
        tr("detached", (det.requires_grad, det.grad_fn, det.is_leaf))
        z = (d * d).sum()
        det.mul_(2)  # shares storage and the version counter with d
        tr("d sees the change", d)
        tr.raises("version error", z.backward)
        tr("c untouched", c.grad)
        d2 = c * c
        z2 = (d2 * d2).sum()
        d2.data.mul_(2)  # .data shares storage but not the version counter
        z2.backward()
        tr("silently wrong, as in PyTorch", c.grad)
        tr(".data", (d2.data.requires_grad, d2.data.is_leaf, d2.data.grad_fn))
        c.data = lib.tensor([5.0, 6.0, 7.0])
        tr("assigning .data", (c, c.requires_grad))

    same(script)


# --- grad modes ----------------------------------------------------------------------------
def test_grad_mode_contexts_and_decorators_nest():
    def script(lib, tr):
        x = leaf(lib, [1.0])
        with lib.no_grad():
            tr("no_grad", (lib.is_grad_enabled(), (x * 2).requires_grad))
            with lib.enable_grad():
                tr("enable_grad inside", (lib.is_grad_enabled(), (x * 2).requires_grad))
                with lib.set_grad_enabled(False):
                    tr("set_grad_enabled(False)", lib.is_grad_enabled())
                tr("back to enabled", lib.is_grad_enabled())
            tr("back to disabled", lib.is_grad_enabled())
        tr("outside", lib.is_grad_enabled())

        @lib.no_grad()
        def f():
            return lib.is_grad_enabled(), (x * 2).requires_grad

        @lib.enable_grad()
        def g():
            return lib.is_grad_enabled(), f()

        @lib.no_grad
        def bare():
            return lib.is_grad_enabled()

        @lib.set_grad_enabled(False)
        def h():
            return lib.is_grad_enabled()

        with lib.no_grad():
            tr("decorators nest", g())
        tr("decorated", (f(), bare(), h(), lib.is_grad_enabled()))
        lib.set_grad_enabled(False)
        tr("as a call", lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        with lib.no_grad() as cm:
            tr("enter returns", cm)
        try:
            with lib.no_grad():
                raise KeyError("k")
        except KeyError:
            tr("restored after an exception", lib.is_grad_enabled())
        tr.raises("bad mode", lib.set_grad_enabled, "yes")
        tr("same classes", lib.autograd.no_grad is lib.no_grad)
        with lib.inference_mode():
            tr("inference_mode", ((x * 2).requires_grad, lib.is_grad_enabled()))
        with lib.inference_mode(False):
            tr("inference_mode(False)", lib.is_grad_enabled())

    same(script)


def test_grad_mode_decorates_generators_step_by_step():
    def script(lib, tr):
        @lib.no_grad()
        def gen():
            got = yield lib.is_grad_enabled()
            yield lib.is_grad_enabled(), got

        it = gen()
        tr("first step", next(it))
        tr("between steps", lib.is_grad_enabled())
        tr("second step", it.send("sent"))
        tr("after", lib.is_grad_enabled())

    same(script)


# --- autograd.grad --------------------------------------------------------------------------
def test_autograd_grad_returns_gradients_and_never_touches_dot_grad():
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        w.grad = lib.tensor([7.0, 7.0])
        a, b = x * w, x + w
        got = lib.autograd.grad([a, b], [w, x],
                                grad_outputs=[lib.ones(2), lib.tensor([1.0, -1.0])],
                                retain_graph=True)
        tr("two outputs, two inputs", got)
        tr("a single tensor", lib.autograd.grad(a.sum(), x))
        tr(".grad untouched", (x.grad, w.grad))
        tr.raises("graph freed", lib.autograd.grad, a.sum(), x)
        tr("dict inputs", lib.autograd.grad((x * 2).sum(), {"x": x}))

    same(script)


def test_autograd_grad_unused_inputs_and_errors():
    def script(lib, tr):
        x, w = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        tr.raises("unused", lib.autograd.grad, (x * 2).sum(), [x, w])
        tr("allow_unused", lib.autograd.grad((x * 2).sum(), [x, w], allow_unused=True))
        tr("materialize", lib.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True))
        tr.raises("materialize without allow_unused", lib.autograd.grad, (x * 2).sum(), [w],
                  allow_unused=False, materialize_grads=True)
        tr.raises("input needs no grad", lib.autograd.grad, (x * 2).sum(), [lib.ones(2)])
        tr.raises("output needs no grad", lib.autograd.grad, lib.ones(2).sum(),
                  [lib.ones(2)])
        tr.raises("no inputs", lib.autograd.grad, (x * 2).sum(), [])
        tr("leaf output", lib.autograd.grad(x, x, lib.ones(2)))
        tr("leaf output leaves .grad alone", x.grad)
        y = (x * x).sum()
        tr.raises("unused after the graph ran", lib.autograd.grad, y, [x, w])
        tr.raises("so the graph is freed", lib.autograd.grad, y, [x])

    items = same(script)
    assert outcome(items, "unused")[2].startswith("The differentiated Tensor at index 1")


def test_autograd_grad_for_a_non_leaf_does_not_run_its_node():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        h = x * x
        y = (h * 2).sum()
        log = []
        h.grad_fn.register_prehook(lambda g: log.append("pre"))
        h.grad_fn.register_hook(lambda gi, go: log.append("post"))
        h.register_hook(lambda g: log.append("tensor hook") or g * 10)
        tr("hooked capture", lib.autograd.grad(y, h))
        tr("log", list(log))
        h.sum().backward()  # h's node still has its saved tensors
        tr("x", x.grad)
        tr("log after", log)

    same(script)


def test_autograd_grad_captures_a_running_node_before_its_tensor_hooks():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        h = x * x
        h.retain_grad()
        log = []
        h.register_hook(lambda g: log.append("tensor hook") or g * 10)
        x.register_hook(lambda g: log.append("leaf hook") or g + 1)
        tr("both", lib.autograd.grad((h * 2).sum(), [h, x]))
        tr("log", log)
        tr("retained grad is set", h.grad)
        tr("leaf grad is not", x.grad)

    same(script)


# --- Variable, create_graph ----------------------------------------------------------------------
def test_variable_is_a_legacy_constructor_for_tensors():
    def script(lib, tr):
        t = lib.tensor([1.0, 2.0])
        v = lib.autograd.Variable(t, requires_grad=True)
        tr("variable", (type(v).__name__, v, v.is_leaf, isinstance(v, lib.Tensor)))
        t.add_(1)
        tr("shares storage", v)
        tr("positional flag", lib.autograd.Variable(lib.ones(1), True))
        tr("default", lib.autograd.Variable(lib.ones(1)).requires_grad)
        x = leaf(lib, [1.0])
        nv = lib.autograd.Variable(x * 2)
        tr("of a non-leaf", (nv, nv.is_leaf, nv.grad_fn))
        tr("empty", lib.autograd.Variable())
        tr.raises("not a tensor", lib.autograd.Variable, [1.0])
        tr.warns("volatile", lib.autograd.Variable, lib.ones(1), volatile=True)

    same(script)


def test_create_graph_is_refused_in_one_line_and_leaves_the_graph_usable():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    for call in (lambda: y.backward(create_graph=True),
                 lambda: engine.autograd.backward(y, create_graph=True),
                 lambda: engine.autograd.grad(y, x, create_graph=True)):
        with pytest.raises(NotImplementedError) as info:
            call()
        assert "\n" not in str(info.value)
        assert "create_graph=True" in str(info.value)
    assert x.grad is None
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]
    with pytest.raises(NotImplementedError, match="gradgradcheck"):
        engine.autograd.gradgradcheck(lambda t: t * 2, (x,))


def test_the_harness_notices_a_difference():
    with pytest.raises(AssertionError):
        same(lambda lib, tr: tr("which", lib.__name__))
    with pytest.raises(AssertionError):
        same(lambda lib, tr: tr("values", lib.tensor([1.0, 2.0 if lib is torch else 2.5])))
    with pytest.raises(AssertionError):
        same(lambda lib, tr: tr.raises("message", lib.tensor([1.0]).view, 3)
             if lib is torch else tr.raises("message", lambda: 1 / 0))
