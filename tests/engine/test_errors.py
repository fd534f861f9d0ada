"""Autograd errors: exact type and message as PyTorch's, and nothing changed by a failed call
(values, versions and grads stay as they were; the graph stays usable where PyTorch's does)."""

from __future__ import annotations

import pytest

import engine

from .test_autograd import FREED, leaf, outcome, same

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."


def version(t) -> int:
    v = t._version
    return v if isinstance(v, int) else v[0]  # the engine's counter is a shared 1-item list


INPLACE_ON_LEAF = {
    "add_": lambda lib, x: x.add_(1),
    "+=": lambda lib, x: x.__iadd__(1),
    "-=": lambda lib, x: x.__isub__(lib.ones(2)),
    "mul_": lambda lib, x: x.mul_(2),
    "div_": lambda lib, x: x.div_(2),
    "zero_": lambda lib, x: x.zero_(),
    "fill_": lambda lib, x: x.fill_(3),
    "clamp_": lambda lib, x: x.clamp_(min=0),
    "copy_": lambda lib, x: x.copy_(lib.tensor([3.0, 4.0])),
}


@pytest.mark.parametrize("op", sorted(INPLACE_ON_LEAF))
def test_in_place_on_a_leaf_that_requires_grad(op):
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        tr.raises("error", INPLACE_ON_LEAF[op], lib, x)
        tr("value, version and grad unchanged", (x, version(x), x.grad, x.is_leaf))
        (x * x).sum().backward()
        tr("still usable", x.grad)
        with lib.no_grad():
            INPLACE_ON_LEAF[op](lib, x)
        tr("allowed under no_grad", (x, version(x), x.is_leaf, x.requires_grad))

    items = same(script)
    assert outcome(items, "error")[2] == LEAF_INPLACE


def test_in_place_on_a_view_of_a_leaf_and_on_a_detached_leaf():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        tr.raises("view", lambda: x.view(2).add_(1))
        tr.raises("view of a view", lambda: x.view(2).view(1, 2).mul_(2))
        tr("unchanged", (x, version(x)))
        d = x.detach().requires_grad_()
        tr.raises("detached, then requiring grad", d.add_, 1)
        d2 = x.detach()
        d2.add_(1)  # a plain tensor: allowed, and visible through x
        tr("detached in-place", (x, version(x)))

    same(script)


VERSION_CASES = {
    # an op's saved input or output is modified in place before backward
    "saved input, output of Mul": lambda lib, x: ((y := x * 2), y * y, lambda: y.add_(1)),
    "saved input, output of Sub": lambda lib, x: ((a := x - 0), a**2, lambda: a.sub_(1)),
    "saved output of Reciprocal": lambda lib, x: ((r := x.reciprocal()), r,
                                                  lambda: r.mul_(1)),
    "saved leaf": lambda lib, x: (x, x * x, lambda: _no_grad(lib, lambda: x.mul_(2))),
    "saved tensor without grad": lambda lib, x: (
        (w := lib.ones(2, 3)), x.view(1, 2).mm(w), lambda: w.mul_(2)),
}


def _no_grad(lib, fn):
    with lib.no_grad():
        return fn()


@pytest.mark.parametrize("case", sorted(VERSION_CASES))
def test_version_counter_errors(case):
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        w = leaf(lib, [3.0, 4.0])
        modified, out, change = VERSION_CASES[case](lib, x)
        loss = out.sum() + (w * 3).sum()
        change()
        tr("version", version(modified))
        tr.raises("backward", loss.backward)
        tr("grads after the error", (x.grad, w.grad))
        tr.raises("again", loss.backward)

    items = same(script)
    msg = outcome(items, "backward")[2]
    assert msg.startswith("one of the variables needed for gradient computation has been "
                          "modified by an inplace operation: [torch.FloatTensor [")
    assert "expected version 0 instead. Hint: enable anomaly detection" in msg


def test_retained_graph_sees_later_in_place_changes():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        z = (x * x).sum()
        z.backward(retain_graph=True)
        with lib.no_grad():
            x.add_(1)
        tr.raises("stale saved leaf", z.backward)
        tr("first backward's grad kept", x.grad)

    same(script)


def test_a_fresh_graph_after_a_version_error_works():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        z = (y * y).sum()
        y.add_(1)
        tr.raises("error", z.backward)
        (y * y).sum().backward()  # y's new value, through AddBackward0 then MulBackward0
        tr("grad", x.grad)
        tr("version", version(y))

    same(script)


def test_errors_in_backward_leave_grads_and_graph_intact():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        x.grad = lib.tensor([10.0, 10.0])
        y = x * x
        tr.raises("wrong seed shape", y.backward, lib.ones(3))
        tr.raises("implicit seed", y.backward)
        tr.raises("inputs empty", y.backward, lib.ones(2), inputs=[])
        tr.raises("seed type", y.backward, "one")
        tr("grad unchanged", x.grad)
        y.backward(lib.ones(2))  # the graph was never consumed
        tr("then works", x.grad)
        tr.raises("and is consumed", y.backward, lib.ones(2))

    items = same(script)
    assert FREED in outcome(items, "and is consumed")[2]


def test_assigning_a_wrong_grad():
    def script(lib, tr):
        x = leaf(lib, [1.0, 2.0])
        tr.raises("size", setattr, x, "grad", lib.ones(3))
        tr.raises("dtype int64", setattr, x, "grad", lib.tensor([1, 2]))
        tr.raises("dtype float64", setattr, x, "grad", lib.ones(2, dtype=lib.float64))
        tr.raises("dtype bool", setattr, x, "grad", lib.tensor([True, False]))
        tr.raises("dtype and size", setattr, x, "grad", lib.ones(3, dtype=lib.float64))
        tr.raises("not a tensor", setattr, x, "grad", [1.0, 2.0])
        tr("still None", x.grad)
        x.grad = lib.ones(2)
        del x.grad
        tr("deleted", x.grad)

    same(script)


def test_create_graph_error_is_one_line_and_changes_nothing():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    x.grad = engine.tensor([1.0, 1.0])
    y = (x * x).sum()
    with pytest.raises(NotImplementedError) as info:
        y.backward(create_graph=True)
    assert str(info.value) == (
        "gradviz's engine does not implement create_graph=True (higher-order gradients)")
    assert x.grad.tolist() == [1.0, 1.0]
    y.backward()
    assert x.grad.tolist() == [3.0, 5.0]
