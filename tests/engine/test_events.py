"""The listener API the debugger sees autograd through."""

from __future__ import annotations

import numpy as np
import pytest

import engine as torch
from engine.events import EVENTS, add_listener, listening, remove_listener


class Recorder:
    wants_source = True

    def __init__(self):
        self.events = []

    def op_did_record(self, node, output, inputs, source):
        self.events.append(("op", node.name(), source))

    def backward_did_start(self, roots, grads, retain_graph):
        self.events.append(("start", len(roots), retain_graph))

    def node_did_execute(self, node, grads_in, grads_out):
        self.events.append(("node", node.name(), [None if g is None else np.array(g)
                                                 for g in grads_in]))

    def grad_will_accumulate(self, tensor, before, contribution):
        self.events.append(("will", None if before is None else np.array(before)))

    def grad_did_accumulate(self, tensor, after, contribution, was_empty):
        self.events.append(("acc", np.array(after), np.array(contribution), was_empty))

    def grad_did_zero(self, tensor, how):
        self.events.append(("zero", how))

    def tensor_did_change_inplace(self, tensor, op):
        self.events.append(("inplace", op))

    def backward_did_finish(self, roots):
        self.events.append(("finish",))

    def backward_did_fail(self, roots, error):
        self.events.append(("fail", type(error).__name__))

    def kinds(self):
        return [e[0] for e in self.events]


def test_seed_example_1_events_in_execution_order():
    rec = Recorder()
    with listening(rec):
        x = torch.autograd.Variable(torch.Tensor([2, 4]), requires_grad=True)
        y = x**2
        o = (1 / 2) * sum(y)  # line recorded as the source of the last ops
        o.backward()
    ops = [e for e in rec.events if e[0] == "op"]
    assert [e[1] for e in ops] == ["PowBackward0", "UnbindBackward0", "AddBackward0",
                                   "AddBackward0", "MulBackward0"]
    filename, lineno, function = ops[-1][2]
    assert filename == __file__ and function == "test_seed_example_1_events_in_execution_order"
    with open(__file__) as f:
        assert "o = (1 / 2) * sum(y)" in f.readlines()[lineno - 1]
    nodes = [e[1] for e in rec.events if e[0] == "node"]
    assert nodes == ["MulBackward0", "AddBackward0", "AddBackward0", "UnbindBackward0",
                     "PowBackward0", "AccumulateGrad"]
    acc = [e for e in rec.events if e[0] == "acc"]
    assert len(acc) == 1
    np.testing.assert_array_equal(acc[0][1], [2.0, 4.0])
    assert acc[0][3] is True  # the slot was empty
    assert rec.kinds()[-1] == "finish"
    # the gradient flowing into PowBackward0 is 0.5 for both elements
    pow_in = next(e[2] for e in rec.events if e[0] == "node" and e[1] == "PowBackward0")
    np.testing.assert_array_equal(pow_in[0], [0.5, 0.5])


def test_accumulation_before_and_after_and_zeroing():
    w = torch.ones(3, requires_grad=True)
    rec = Recorder()
    with listening(rec):
        (w * 2).sum().backward()
        (w * 3).sum().backward()
        w.grad.zero_()
        w.grad = None
    wills = [e for e in rec.events if e[0] == "will"]
    accs = [e for e in rec.events if e[0] == "acc"]
    assert wills[0][1] is None
    np.testing.assert_array_equal(wills[1][1], [2, 2, 2])  # what was there before
    np.testing.assert_array_equal(accs[1][1], [5, 5, 5])
    np.testing.assert_array_equal(accs[1][2], [3, 3, 3])
    assert accs[1][3] is False
    assert [e for e in rec.events if e[0] == "zero"] == [("zero", "zero_()"),
                                                          ("zero", "grad = None")]


def test_inplace_update_event_and_failure_event():
    w = torch.ones(2, requires_grad=True)
    rec = Recorder()
    with listening(rec):
        loss = (w * w).sum()
        with torch.no_grad():
            w -= 0.1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    assert ("inplace", "sub_") in rec.events
    assert rec.events[-1] == ("fail", "RuntimeError")


def test_no_listener_means_no_events_and_remove_works():
    rec = Recorder()
    add_listener(rec)
    assert EVENTS.active
    remove_listener(rec)
    assert not EVENTS.active
    x = torch.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    assert rec.events == []


def test_source_lines_only_when_asked():
    class Quiet:
        def __init__(self):
            self.sources = []

        def op_did_record(self, node, output, inputs, source):
            self.sources.append(source)

    q = Quiet()
    with listening(q):
        x = torch.ones(2, requires_grad=True)
        x * 2
    assert q.sources == [None]


def test_a_listener_may_define_only_some_methods():
    class OnlyNodes:
        def __init__(self):
            self.names = []

        def node_did_execute(self, node, grads_in, grads_out):
            self.names.append(node.name())

    rec = OnlyNodes()
    with listening(rec):
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
    assert rec.names[-1] == "AccumulateGrad"
