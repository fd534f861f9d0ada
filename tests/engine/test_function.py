"""Custom ``autograd.Function``: the same class definitions run on the engine and on torch."""

from __future__ import annotations

import pytest

import engine

from .test_autograd import FREED, leaf, observe, outcome, same, torch


def mul_k(lib):
    """``a * b * k`` with a non-tensor argument ``k`` in the middle."""

    class MyMul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b * ctx.k if ctx.needs_input_grad[0] else None
            gb = g * a * ctx.k if ctx.needs_input_grad[2] else None
            return ga, None, gb

    return MyMul


def test_node_name_next_functions_and_gradients():
    def script(lib, tr):
        MyMul = mul_k(lib)
        a, b = leaf(lib, [1.0, 2.0]), lib.tensor([3.0, 4.0])
        y = MyMul.apply(a, 2.0, b)
        fn = y.grad_fn
        tr("node", (type(fn).__name__, fn.name(), observe(fn.next_functions)))
        tr("output", (y, y.is_leaf, y.requires_grad, repr(y)))
        tr("needs_input_grad", fn.needs_input_grad)
        tr("saved", fn.saved_tensors)
        y.sum().backward()
        tr("grads", (a.grad, b.grad))
        tr.raises("saved after backward", lambda: fn.saved_tensors)
        b2 = leaf(lib, [3.0, 4.0])
        z = MyMul.apply(a * 1, 3.0, b2) ** 2
        tr("chain", (type(z.grad_fn).__name__, observe(z.grad_fn.next_functions[0][0]
                                                       .next_functions)))
        z.sum().backward()
        tr("both grads", (a.grad, b2.grad))

    items = same(script)
    assert outcome(items, "node")[1][0] == "MyMulBackward"


def test_no_graph_without_grad_and_under_no_grad():
    def script(lib, tr):
        MyMul = mul_k(lib)
        tr("nothing requires grad", MyMul.apply(lib.ones(2), 2.0, lib.ones(2)))
        with lib.no_grad():
            tr("no_grad", MyMul.apply(leaf(lib, [1.0, 2.0]), 2.0, lib.ones(2)))

    same(script)


def test_forward_and_backward_run_without_grad_mode():
    def script(lib, tr):
        log = []

        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                log.append(("forward", lib.is_grad_enabled(), y.requires_grad,
                            ctx.needs_input_grad))
                return y

            @staticmethod
            def backward(ctx, g):
                log.append(("backward", lib.is_grad_enabled(), ctx.needs_input_grad))
                return g

        F.apply(leaf(lib, [1.0, 2.0])).sum().backward()
        tr("log", log)

    same(script)


def test_second_backward_and_version_checks_on_saved_tensors():
    def script(lib, tr):
        MyMul = mul_k(lib)
        a, b = leaf(lib, [1.0, 2.0]), lib.tensor([3.0, 4.0])
        y = MyMul.apply(a, 2.0, b).sum()
        y.backward()
        tr.raises("second backward", y.backward)
        y = MyMul.apply(a, 2.0, b).sum()
        b.add_(1)
        tr.raises("saved input modified", y.backward)

        class SaveOut(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                out = x * 2
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, g):
                (out,) = ctx.saved_tensors
                return g * out

        o = SaveOut.apply(a)
        o.add_(1)
        tr.raises("saved output modified", o.sum().backward)
        tr("grad after the errors", a.grad)

    items = same(script)
    assert FREED in outcome(items, "second backward")[2]
    assert "which is output 0 of SaveOut," in outcome(items, "saved output modified")[2]


def test_multiple_outputs():
    def script(lib, tr):
        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                return g1 * 2 + g2 * 3

        x = leaf(lib, [1.0, 2.0])
        p, q = Split.apply(x)
        tr("shared node", (p.grad_fn is q.grad_fn, p.output_nr, q.output_nr))
        (p.sum() + q.sum() * 10).backward()
        tr("both used", x.grad)
        p, q = Split.apply(x)
        p.sum().backward()  # the unused output's gradient arrives as zeros
        tr("one used", x.grad)

    same(script)


def test_non_tensor_outputs_and_non_differentiable_outputs():
    def script(lib, tr):
        seen = []

        class WithExtras(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                mask = x > 1.5
                ctx.mark_non_differentiable(mask)
                return x * 2, mask, 3, None

            @staticmethod
            def backward(ctx, g, g_mask, g3, g4):
                seen.append((g_mask is None, g3, g4))
                return g * 2

        x = leaf(lib, [1.0, 2.0])
        v, mask, three, none = WithExtras.apply(x)
        tr("outputs", (v, mask, three, none, mask.is_leaf))
        v.sum().backward()
        tr("grad", x.grad)
        tr("backward's arguments", seen)

    same(script)


def test_materialize_grads_off_passes_none():
    def script(lib, tr):
        seen = []

        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append((g1 is None, g2 is None))
                return g1 * 2

        x = leaf(lib, [1.0, 2.0])
        a, _ = F.apply(x)
        a.sum().backward()
        tr("seen", seen)
        tr("grad", x.grad)

    same(script)


def test_returning_an_input_and_mark_dirty():
    def script(lib, tr):
        class Identity(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 3

        x = leaf(lib, [1.0, 2.0])
        y = Identity.apply(x)
        tr("a new tensor", (y is x, y.grad_fn.name(), x.is_leaf))
        y.sum().backward()
        tr("grad", x.grad)

        class Double_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        h = x * 1
        out = Double_.apply(h)
        tr("dirty input is the output", (out is h, h.grad_fn.name(), h))
        out.sum().backward()
        tr("grad through the in-place function", x.grad)
        tr.raises("dirty leaf", Double_.apply, leaf(lib, [1.0]))

    same(script)


def test_setup_context_style_and_vjp():
    def script(lib, tr):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(x, k):
                return x * k

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.k = inputs[1]

            @staticmethod
            def backward(ctx, g):
                return g * ctx.k, None

        class Vjp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def vjp(ctx, g):
                return g * 5

        class Both(Vjp):
            @staticmethod
            def backward(ctx, g):
                return g

        x = leaf(lib, [1.0, 2.0])
        Scale.apply(x, 3.0).sum().backward()
        tr("setup_context", x.grad)
        x.grad = None
        Vjp.apply(x).sum().backward()
        tr("vjp", x.grad)
        tr.raises("backward and vjp", Both.apply(x).sum().backward)

    same(script)


def test_wrong_backward_results():
    def fn(lib, forward, backward):
        return type("F", (lib.autograd.Function,), {
            "forward": staticmethod(forward), "backward": staticmethod(backward)})

    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        m = leaf(lib, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        cases = {
            "too few": (fn(lib, lambda ctx, a, b: a * b, lambda ctx, g: g), (x, x)),
            "too many": (fn(lib, lambda ctx, a: a * 2, lambda ctx, g: (g, g)), (x,)),
            "for a non-tensor": (fn(lib, lambda ctx, a, k: a * k, lambda ctx, g: (g, g)),
                                 (x, 2)),
            "not a tensor": (fn(lib, lambda ctx, a: a * 2, lambda ctx, g: 3.0), (x,)),
            "wrong shape": (fn(lib, lambda ctx, a: a * 2, lambda ctx, g: g.sum()), (x,)),
            "wrong shape 2-D": (fn(lib, lambda ctx, a: a * 2, lambda ctx, g: g.sum(0)), (m,)),
            "no backward": (fn(lib, lambda ctx, a: a * 2, lib.autograd.Function.backward),
                            (x,)),
        }
        for label, (F, args) in cases.items():
            tr.raises(label, F.apply(*args).sum().backward)
        tr("nothing accumulated", (x.grad, m.grad))
        ok = {
            "extra Nones": fn(lib, lambda ctx, a: a * 2, lambda ctx, g: (g, None, None)),
            "broadcast is summed": fn(lib, lambda ctx, a: a * 2,
                                      lambda ctx, g: lib.ones(3, 2)),
            "dtype is cast": fn(lib, lambda ctx, a: a * 2,
                                lambda ctx, g: lib.ones(2, dtype=lib.float64)),
            "grad for an input that needs none is dropped": fn(
                lib, lambda ctx, a, b: a * b, lambda ctx, g: (g, g)),
        }
        for label, F in ok.items():
            x.grad = None
            args = (x, lib.ones(2)) if "needs none" in label else (x,)
            F.apply(*args).sum().backward()
            tr(label, x.grad)

    same(script)


def test_save_for_backward_checks_its_arguments():
    def script(lib, tr):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, extra):
                ctx.save_for_backward(x, extra)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                _, extra = ctx.saved_tensors
                return (g * 2 if extra is None else g), None

        x = leaf(lib, [1.0, 2.0])
        tr.raises("an int", F.apply, x, 3)
        F.apply(x, None).sum().backward()
        tr("None is allowed", x.grad)

    same(script)


def test_instantiating_a_function_is_legacy():
    def script(lib, tr):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g

        f = tr.warns("instantiate", F)
        tr.raises("call", f, lib.ones(1))

    same(script)


def test_events_see_the_custom_node():
    from engine.events import add_listener, remove_listener

    class Recorder:
        def __init__(self):
            self.names = []

        def op_did_record(self, node, output, inputs, source):
            self.names.append(("op", node.name()))

        def node_did_execute(self, node, grads_in, grads_out):
            self.names.append(("node", node.name()))

    rec = Recorder()
    add_listener(rec)
    try:
        MyMul = mul_k(engine)
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        MyMul.apply(x, 2.0, engine.ones(2)).sum().backward()
    finally:
        remove_listener(rec)
    assert ("op", "MyMulBackward") in rec.names
    assert ("node", "MyMulBackward") in rec.names


def test_the_engine_and_torch_agree_on_a_two_layer_custom_network():
    def script(lib, tr):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        w1 = leaf(lib, [[0.5, -1.0], [1.5, 2.0]])
        w2 = leaf(lib, [[1.0], [-0.5]])
        inp = lib.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
        out = Square.apply(inp.mm(w1)).mm(w2)
        loss = (out * out).mean()
        loss.backward()
        tr("loss", loss)
        tr("grads", (w1.grad, w2.grad))

    same(script)


@pytest.mark.parametrize("torch_too", [False, True])
def test_once_differentiable_is_accepted(torch_too):
    lib = torch if torch_too else engine
    from importlib import import_module

    once = import_module(f"{lib.__name__}.autograd.function").once_differentiable

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @once
        def backward(ctx, g):
            return g * 2

    x = lib.tensor([1.0], requires_grad=True)
    F.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0]
