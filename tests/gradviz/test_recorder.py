"""The recorder, in-process: what it makes of the seed examples, and the run trace, report
and .json trace built from its messages."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import engine
from engine.events import listening
from gradviz import report, trace_io
from gradviz.examples import find
from gradviz.protocol import (
    STEP_VALUES_BYTES,
    STEPS_WITH_VALUES,
    LiveBackward,
    StepValues,
    Values,
)
from gradviz.recorder import Recorder
from gradviz.session import AFTER_BACKWARD, NOW, RunTrace


def record(source: str, **recorder_kwargs) -> tuple[RunTrace, dict]:
    """Run ``source`` with ``torch`` bound to the engine, recording into a RunTrace."""
    trace = RunTrace(**recorder_kwargs.pop("trace_kwargs", {}))
    rec = Recorder(trace.apply, **recorder_kwargs)
    namespace = {"__name__": "__main__", "torch": engine}
    with listening(rec):
        exec(compile(source, "<script>", "exec"), namespace)
        rec.finish()
    return trace, namespace


def example_source(name: str) -> str:
    text = find(name).path.read_text()
    return "\n".join(
        line for line in text.splitlines()
        if not line.startswith(("import torch", "from torch"))
    ).replace("Variable(", "engine.autograd.Variable(")


EXAMPLE_1 = example_source("square_sum").replace("engine.autograd", "torch.autograd")


def test_example_1_graph_is_pytorch_shaped(capsys):
    trace, _ = record(EXAMPLE_1)
    graph = trace.latest_graph
    names = {n.id: n.name for n in graph.nodes}
    kinds = {n.id: n.kind for n in graph.nodes}
    root = graph.root
    assert names[root] == "MulBackward0" and kinds[root] == "root"
    # walk back from the root through the first input each time
    chain = [names[root]]
    node = root
    while graph.inputs_of(node):
        node = graph.inputs_of(node)[0]
        chain.append(names[node])
    assert chain == ["MulBackward0", "AddBackward0", "AddBackward0", "UnbindBackward0",
                     "PowBackward0", "AccumulateGrad", "x"]
    unbind = next(i for i, n in names.items() if n == "UnbindBackward0")
    assert len(graph.consumers_of(unbind)) == 2  # one Unbind feeds both adds
    leaf = next(n for n in graph.nodes if n.kind == "leaf")
    assert (leaf.name, leaf.shape) == ("x", (2,))
    step = trace.latest_step
    assert step.loss == 10.0
    assert [names[i] for i in step.order] == ["MulBackward0", "AddBackward0", "AddBackward0",
                                              "UnbindBackward0", "PowBackward0", "AccumulateGrad"]
    pow_node = next(i for i, n in names.items() if n == "PowBackward0")
    pow_line = EXAMPLE_1.splitlines().index("y = x**2") + 1
    assert graph.node(pow_node).source.line == pow_line
    acc = next(i for i, n in names.items() if n == "AccumulateGrad")
    np.testing.assert_array_equal(trace.values.values[acc]["grad"], [2.0, 4.0])
    assert trace.leaves["x"].accumulations == 1
    capsys.readouterr()


EXAMPLE_2_SHORT = example_source("two_layer_net").replace("range(500)", "range(60)")


def test_example_2_one_graph_many_steps_and_grad_log():
    trace, ns = record(EXAMPLE_2_SHORT, detail_interval=1e9)
    assert len(trace.graphs) == 1  # 60 identical steps share one structure
    assert len(trace.steps) == 60 and len(trace.losses) == 60
    assert trace.losses[-1] < trace.losses[0]
    names = {n.name for n in trace.latest_graph.nodes}
    assert {"w1", "w2", "MmBackward0", "ClampBackward1", "SubBackward0", "PowBackward0",
            "SumBackward0", "AccumulateGrad"} <= names
    for w in ("w1", "w2"):
        stats = trace.leaves[w]
        assert stats.accumulations == 60 and stats.zeroings == 60 and stats.updates == 60
        assert stats.accumulations_on_top == 0
        assert len(stats.norms) == 60
    # first three steps and the last are detailed; the rest carry the order only
    detailed = trace.detailed_steps()
    assert detailed[:3] == [0, 1, 2] and detailed[-1] == 59
    assert trace.steps[10].detail is None and trace.steps[10].order == trace.steps[0].order
    assert trace.steps[10].order is trace.steps[11].order  # interned, not copied
    last_loss = float(ns["loss"].item())
    assert math.isclose(trace.losses[-1], last_loss, rel_tol=1e-6)


def test_forgotten_zero_grad_shows_accumulation_on_top():
    source = EXAMPLE_2_SHORT.replace("w1.grad.zero_()", "pass").replace(
        "w2.grad.zero_()", "pass")
    trace, _ = record(source)
    stats = trace.leaves["w1"]
    assert stats.zeroings == 0
    assert stats.accumulations_on_top == 59


def test_module_parameters_get_qualified_names():
    pytest.importorskip("engine.nn")
    source = (
        "model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),"
        " torch.nn.Linear(4, 1))\n"
        "x = torch.randn(5, 3)\n"
        "loss = model(x).pow(2).sum()\n"
        "loss.backward()\n"
    )
    trace, _ = record(source)
    leaves = {n.name for n in trace.latest_graph.nodes if n.kind == "leaf"}
    assert leaves == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_history_stays_bounded():
    source = (
        "w = torch.ones(3, requires_grad=True)\n"
        "for i in range(3000):\n"
        "    (w * 2).sum().backward()\n"
        "    w.grad = None\n"
    )
    trace, _ = record(source, detail_interval=0.0,
                      trace_kwargs={"detailed_kept": 16, "events_kept": 500})
    assert len(trace.steps) == 3000
    assert len(trace.grad_events) == 500
    assert sum(s.detail is not None for s in trace.steps) == 16
    assert trace.leaves["w"].accumulations == 3000 and trace.leaves["w"].zeroings == 3000


# after step k's backward x.grad is 2(k+1)x = [2(k+1), 4(k+1)] when it was zeroed before;
# every odd step the script forgets, so the next one adds on top of it
ALTERNATE_ZEROING = (
    "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
    "for k in range(40):\n"
    "    (x * x * (k + 1)).sum().backward()\n"
    "    if k % 2:\n"
    "        x.grad.zero_()\n"
)


def test_the_last_steps_keep_their_gradients_and_older_ones_are_evicted():
    trace = RunTrace()
    rec = Recorder(trace.apply, detail_interval=1e9)
    with listening(rec):
        exec(compile(ALTERNATE_ZEROING, "<script>", "exec"), {"torch": engine})
        rec.finish()
    kept = trace.steps_with_values()
    assert kept == list(range(40 - STEPS_WITH_VALUES, 40))
    assert len(rec._recent) == STEPS_WITH_VALUES  # the child holds no more than that either
    graph = trace.latest_graph
    x = next(n.id for n in graph.nodes if n.kind == "leaf")
    acc = next(n.id for n in graph.nodes if n.name == "AccumulateGrad")
    for k in kept:
        shown = trace.values_at(k)
        assert shown.kind == AFTER_BACKWARD and shown.structure == graph.structure_hash
        # into a zeroed slot on even steps, on top of the previous step's on odd ones
        expected = 2 * (k + 1) * np.array([1.0, 2.0])
        if k % 2:
            expected += 2 * k * np.array([1.0, 2.0])
        np.testing.assert_array_equal(shown.values[x]["grad"], expected)
        np.testing.assert_array_equal(shown.values[acc]["grad_in"],
                                      2 * (k + 1) * np.array([1.0, 2.0]))
    assert trace.values_at(3) is None  # evicted: summaries only
    assert trace.steps[3].grad_norms["x"] > 0
    now = trace.values_at(None)  # at the end: the grads as the script left them (zeroed)
    assert now.kind == NOW and now.step == 39
    np.testing.assert_array_equal(now.values[x]["grad"], [0.0, 0.0])
    assert 0 < trace.step_values_bytes <= STEP_VALUES_BYTES


def test_kept_values_are_bounded_in_bytes_and_replies_for_one_step_merge():
    trace = RunTrace(values_kept=4, values_bytes=2_500)
    a = np.zeros(125)  # 1,000 bytes
    for step in range(3):
        trace.apply(StepValues(step, "h", {1: {"grad": a.copy()}}))
    assert trace.steps_with_values() == [1, 2] and trace.step_values_bytes == 2_000
    trace.apply(StepValues(2, "h", {2: {"grad_in": np.zeros(10)}}))  # merges into step 2
    assert set(trace.step_values[2].values) == {1, 2}
    assert trace.steps_with_values() == [1, 2]
    trace.apply(StepValues(0, "h", {1: {"grad": a.copy()}}))  # older than all: goes at once
    assert trace.steps_with_values() == [1, 2]
    trace.apply(StepValues(9, "h", {1: {"grad": np.zeros(1_000)}}))  # alone over the budget
    assert trace.steps_with_values() == [9]
    # the values asked for: replies for one step merge, another step's replace them
    trace.apply(Values(9, {1: {"data": a}}))
    trace.apply(Values(9, {2: {"data": a}, 1: {"grad": a}}))
    assert set(trace.values.values) == {1, 2} and set(trace.values.values[1]) == {"data", "grad"}
    assert trace.values_at(None).kind == NOW
    trace.apply(StepValues(10, "h", {1: {"grad": np.zeros(3)}}))
    assert trace.values_at(None).kind == AFTER_BACKWARD and trace.values_at(None).step == 10
    trace.apply(Values(11, {3: {"data": a}}))
    assert set(trace.values.values) == {3}


def test_the_childs_kept_gradients_are_bounded_in_bytes(monkeypatch):
    import gradviz.recorder as recorder

    monkeypatch.setattr(recorder, "STEP_VALUES_BYTES", 25_000)  # a step holds ~8,000 bytes
    trace = RunTrace()
    rec = Recorder(trace.apply, detail_interval=1e9)
    source = ("w = torch.ones(1000, requires_grad=True)\n"
              "for i in range(50):\n    (w * 2).sum().backward()\n    w.grad = None\n")
    with listening(rec):
        exec(compile(source, "<script>", "exec"), {"torch": engine})
        assert len(rec._recent) == 3
        assert rec._recent_bytes <= recorder.STEP_VALUES_BYTES
        rec.finish()
    assert trace.steps_with_values()[-1] == 49


class _PausesAtNode:
    """A gate that asks for values after node ``at`` of every backward, as the debugger does
    while the script is paused there."""

    stepping = True

    def __init__(self, at: int):
        self.at = at
        self.recorder = None

    def before_backward(self, step, source):
        pass

    def after_node(self, step, position, node_id, name):
        if position == self.at:
            self.recorder.emit(self.recorder.values([]))


def test_values_asked_for_inside_a_backward_bring_the_nodes_run_so_far():
    trace = RunTrace()
    sent = []
    gate = _PausesAtNode(at=2)
    rec = Recorder(lambda m: (sent.append(m), trace.apply(m)), gate=gate)
    gate.recorder = rec
    with listening(rec):
        exec(compile(EXAMPLE_1, "<script>", "exec"), {"torch": engine})
        live = [m for m in sent if isinstance(m, LiveBackward)]
        assert len(live) == 1 and live[0].step == 0
        graph = trace.graphs[live[0].structure]
        runs = live[0].runs
        assert [graph.node(r.node).name for r in runs] == [
            "MulBackward0", "AddBackward0", "AddBackward0"]
        assert runs[0].grads_in[0].mean == 1.0 and runs[1].grads_in[0].mean == 0.5
        np.testing.assert_array_equal(live[0].values[runs[1].node]["grad_in"], 0.5)
        rec.finish()
    assert trace.live is None  # the step completed: its record has it all
    assert sent.index(live[0]) < next(i for i, m in enumerate(sent) if isinstance(m, Values))


def test_trace_round_trips_through_json(tmp_path):
    trace, _ = record(EXAMPLE_1)
    path = tmp_path / "run.json"
    trace_io.save(trace, path)
    again = trace_io.load(path)
    assert again.latest_graph == trace.latest_graph
    assert again.losses == trace.losses
    assert [s.order for s in again.steps] == [s.order for s in trace.steps]
    assert again.steps[0].detail == trace.steps[0].detail
    assert list(again.grad_events) == list(trace.grad_events)
    acc = next(n.id for n in trace.latest_graph.nodes if n.name == "AccumulateGrad")
    np.testing.assert_array_equal(again.values.values[acc]["grad"], [2.0, 4.0])


@pytest.mark.parametrize("content, message", [
    ("not json at all", "not valid JSON"),
    ('{"format": "something-else"}', "is not a gradviz trace"),
    ('{"format": "gradviz-trace", "version": 99}', "version 99"),
    ('{"format": "gradviz-trace", "version": 1, "graphs": 5}', "damaged"),
])
def test_bad_trace_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(trace_io.TraceFileError, match=message):
        trace_io.load(path)


def test_report_has_designs_fields():
    trace, _ = record(EXAMPLE_1)
    rep = report.build_report(trace, "ok", "cpu", exit_code=0)
    assert rep["status"] == "ok" and rep["device"] == "cpu" and rep["steps"] == 1
    assert rep["loss"] == [10.0]
    kinds = {n["kind"] for n in rep["graph"]["nodes"]}
    assert kinds == {"root", "op", "leaf"}
    root = next(n for n in rep["graph"]["nodes"] if n["kind"] == "root")
    assert root["name"] == "MulBackward0"
    leaf = next(n for n in rep["graph"]["nodes"] if n["kind"] == "leaf")
    assert leaf["name"] == "x" and leaf["shape"] == [2]
    ids = {n["id"] for n in rep["graph"]["nodes"]}
    assert all(a in ids and b in ids for a, b in rep["graph"]["edges"])
    assert rep["diagnostics"] == []
    json.dumps(rep)  # serialisable as is


def test_source_lines_survive_the_lookup_being_switched_off():
    # the first structure repeats (lookups stop), then a new structure appears: its first
    # graph is built without lines, and the next step with it brings them
    source = (
        "w = torch.ones(3, requires_grad=True)\n"
        "for i in range(10):\n"
        "    (w * 2).sum().backward()\n"
        "for i in range(3):\n"
        "    (w.exp() * 3).sum().backward()\n"
    )
    trace, _ = record(source)
    first, second = trace.steps[0], trace.steps[-1]
    assert first.structure != second.structure
    for step, line in ((first, 3), (second, 5)):
        graph = trace.graph_of(step)
        lines = {n.source.line for n in graph.nodes if n.kind != "leaf" and n.source}
        assert lines == {line}, (step.index, lines)
