"""The .json trace: diagnostics and the full gradients of the last steps are saved and
restored; traces written before either existed still load; a damaged entry is one clear
error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradviz import trace_io
from gradviz.diagnostics import Diagnostic
from gradviz.protocol import (
    STEPS_WITH_VALUES,
    Diagnosed,
    Finished,
    GraphChanged,
    StepRecorded,
    StepValues,
    Values,
)
from gradviz.session import AFTER_BACKWARD, NOW, RunTrace
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode, Step

from .test_recorder import ALTERNATE_ZEROING, record


def _trace() -> tuple[RunTrace, list[Diagnostic]]:
    graph = Graph((GraphNode(0, ROOT, "SumBackward0"), GraphNode(1, OP, "LogBackward0"),
                   GraphNode(2, LEAF, "w")), ((1, 0), (2, 1)), 0)
    trace = RunTrace()
    trace.script = "/tmp/s.py"
    trace.apply(GraphChanged(0, graph))
    trace.apply(StepRecorded(Step(0, graph.structure_hash, float("nan")), [], False))
    found = [
        Diagnostic("nan-or-inf", "LogBackward0 produced -inf", 1, 12, "/tmp/s.py", 0,
                   graph.structure_hash, "LogBackward0"),
        Diagnostic("no-gradient", "w1 received no gradient", None, 7, None, 0, "", "w1"),
    ]
    for d in found:
        trace.apply(Diagnosed(d))
    trace.apply(Finished("ok", 0, None, [d.to_json() for d in found]))
    return trace, found


def test_diagnostics_round_trip(tmp_path):
    trace, found = _trace()
    path = tmp_path / "run.json"
    trace_io.save(trace, path)
    assert [d["kind"] for d in json.loads(path.read_text())["diagnostics"]] == \
        ["nan-or-inf", "no-gradient"]
    again = trace_io.load(path)
    assert again.diagnostics == found  # every field, in order, none twice
    assert again.finished.status == "ok"


def test_a_trace_without_diagnostics_still_loads(tmp_path):
    trace, _ = _trace()
    data = trace_io.to_json(trace)
    del data["diagnostics"]  # as written before diagnostics were saved
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    again = trace_io.load(path)
    assert again.diagnostics == [] and again.latest_graph == trace.latest_graph


@pytest.mark.parametrize("entry, message", [
    ("not a dict", r"diagnostic 1 is a str"),
    ({"message": "no kind"}, r"diagnostic 1 has no 'kind'"),
    ({"kind": "dead-relu", "message": "m", "node": "four"}, r"diagnostic 1: 'node' is 'four'"),
    ({"kind": "dead-relu", "message": "m", "line": True}, r"diagnostic 1: 'line' is True"),
    ({"kind": "", "message": "m"}, r"diagnostic 1 has an empty 'kind'"),
])
def test_a_damaged_diagnostic_is_one_clear_error(tmp_path, entry, message):
    trace, _ = _trace()
    data = trace_io.to_json(trace)
    data["diagnostics"][1] = entry
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(trace_io.TraceFileError, match=f"damaged gradviz trace .*{message}"):
        trace_io.load(path)


def test_diagnostics_that_are_not_a_list_are_a_damaged_trace(tmp_path):
    trace, _ = _trace()
    data = trace_io.to_json(trace)
    data["diagnostics"] = {"kind": "dead-relu"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(trace_io.TraceFileError, match="'diagnostics' is a dict"):
        trace_io.load(path)


# --- the full gradients of the last steps -------------------------------------------------------
# (ALTERNATE_ZEROING: after step k's backward x.grad is 2(k+1)x, plus the previous step's on odd
# steps, the script forgetting to zero it every other step)
def _recorded(source: str = ALTERNATE_ZEROING) -> RunTrace:
    return record(source, detail_interval=1e9)[0]


def _assert_same_values(shown, again) -> None:
    assert (again.step, again.structure, again.kind) == (shown.step, shown.structure, shown.kind)
    assert again.values.keys() == shown.values.keys()
    for node, entry in shown.values.items():
        entry = {k: v for k, v in entry.items() if v is not None}  # the file writes null
        loaded = {k: v for k, v in again.values[node].items() if v is not None}
        assert loaded.keys() == entry.keys()
        for name, a in entry.items():
            b = loaded[name]
            if isinstance(a, np.ndarray):
                assert b.dtype == a.dtype and b.shape == a.shape, (node, name)
                np.testing.assert_array_equal(b, a)
            else:
                assert b == a, (node, name)


def test_the_last_steps_gradients_survive_a_save_and_reload(tmp_path):
    trace = _recorded()
    kept = trace.steps_with_values()
    assert kept == list(range(40 - STEPS_WITH_VALUES, 40))
    path = tmp_path / "run.json"
    trace_io.save(trace, path)
    assert [v["step"] for v in json.loads(path.read_text())["step_values"]] == kept
    again = trace_io.load(path)
    assert again.steps_with_values() == kept
    for k in kept:  # every kept step, odd (added on top) and even (into a zeroed .grad)
        _assert_same_values(trace.values_at(k), again.values_at(k))
    graph = again.latest_graph
    x = next(n.id for n in graph.nodes if n.kind == "leaf")
    np.testing.assert_array_equal(again.values_at(33).values[x]["grad"],
                                  (2 * 34 + 2 * 33) * np.array([1.0, 2.0], np.float32))
    assert again.values_at(3) is None  # evicted before saving: summaries only
    # the latest state is still the values the script left (zeroed), not step 39's
    assert again.values_at(None).kind == NOW
    _assert_same_values(trace.values_at(None), again.values_at(None))


def test_which_values_are_newest_survives_a_reload(tmp_path):
    trace, _ = _trace()
    h = trace.latest_graph.structure_hash
    trace.apply(Values(0, {2: {"data": np.ones(2), "grad": np.zeros(2)}}))
    trace.apply(StepValues(0, h, {2: {"grad": np.full(2, 7.0)}, 1: {"grad_in": np.ones(2)}}))
    assert trace.values_at(None).kind == AFTER_BACKWARD  # the kept step came after
    trace_io.save(trace, tmp_path / "run.json")
    again = trace_io.load(tmp_path / "run.json")
    _assert_same_values(trace.values_at(None), again.values_at(None))
    assert again.values.step == 0 and set(again.values.values[2]) >= {"data", "grad"}


def test_saving_keeps_the_byte_cap_newest_steps_first(tmp_path, monkeypatch):
    trace = RunTrace(values_kept=40, values_bytes=10**9)  # holds more than a file may
    graph = Graph((GraphNode(0, ROOT, "SumBackward0"), GraphNode(1, LEAF, "w")), ((1, 0),), 0)
    trace.apply(GraphChanged(0, graph))
    for step in range(30):
        trace.apply(StepRecorded(Step(step, graph.structure_hash, 1.0), [], False))
        trace.apply(StepValues(step, graph.structure_hash,
                               {1: {"grad": np.full(125, float(step))}}))  # 1,000 bytes
    data = trace_io.to_json(trace)
    assert [v["step"] for v in data["step_values"]] == list(range(30 - STEPS_WITH_VALUES, 30))
    monkeypatch.setattr(trace_io, "STEP_VALUES_BYTES", 2_500)
    trace_io.save(trace, tmp_path / "run.json")
    again = trace_io.load(tmp_path / "run.json")
    assert again.steps_with_values() == [28, 29]
    np.testing.assert_array_equal(again.values_at(28).values[1]["grad"], np.full(125, 28.0))


def test_a_trace_without_step_values_still_loads(tmp_path):
    trace = _recorded()
    data = trace_io.to_json(trace)
    del data["step_values"], data["latest_values"]  # as written before they were saved
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    again = trace_io.load(path)
    assert again.steps_with_values() == [] and again.values_at(38) is None
    assert again.values_at(39).kind == NOW  # the last step's values, as before
    _assert_same_values(trace.values_at(None), again.values_at(None))


def _damage(data: dict, entry) -> None:
    data["step_values"][1] = entry


@pytest.mark.parametrize("change, message", [
    (lambda d: _damage(d, [1, 2]), r"step_values 1 is a list"),
    (lambda d: d["step_values"][1].update(step="7"), r"step_values 1: 'step' is '7'"),
    (lambda d: d["step_values"][1].update(structure="f00"),
     r"step_values 1: 'structure' 'f00' is none of the trace's graphs"),
    (lambda d: d["step_values"][1].update(nodes=[]), r"step_values 1: 'nodes' is list"),
    (lambda d: d["step_values"][1]["nodes"].update({"99": {"grad": None}}),
     r"step_values 1: '99' is not a node of its graph"),
    (lambda d: d["step_values"][1]["nodes"]["0"].update(grd={}),
     r"step_values 1, node 0: 'grd' is neither 'grad' nor 'grad_in'"),
    (lambda d: d["step_values"][1]["nodes"]["0"].update(grad=None),
     r"step_values 1, node 0: 'grad' is null"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].update(dtype="object"),
     r"step_values 1, node 0, 'grad': an array has dtype 'object'"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].update(dtype="floaty"),
     r"step_values 1, node 0, 'grad': data type 'floaty' not understood"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].update(shape=[3]),
     r"step_values 1, node 0, 'grad': an array of shape \(3,\) holds 16 bytes, not 24"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].update(base64="not base64!"),
     r"step_values 1, node 0, 'grad': an array's base64 is not valid"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].update(base64=7),
     r"step_values 1, node 0, 'grad': an array's base64 is a int, not a string"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].pop("base64") and
     d["step_values"][1]["nodes"]["0"]["grad"].update(data=[1.0, "many"]),
     r"step_values 1, node 0, 'grad': could not convert string to float: 'many'"),
    (lambda d: d["step_values"][1]["nodes"]["0"]["grad"].pop("base64") and
     d["step_values"][1]["nodes"]["0"]["grad"].update(data=[1.0]),
     r"step_values 1, node 0, 'grad': an array of shape \(2,\) holds 1 value"),
    (lambda d: d.update(step_values={"0": {}}), r"'step_values' is a dict, not a list"),
    (lambda d: d.update(latest_values="later"), r"'latest_values' is 'later'"),
])
def test_damaged_step_values_are_one_clear_error(tmp_path, change, message):
    trace, _ = _trace()
    h = trace.latest_graph.structure_hash
    for step in (0, 1):
        trace.apply(StepValues(step, h, {0: {"grad": np.ones(2)}, 2: {"grad": np.ones(2)}}))
    data = trace_io.to_json(trace)
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(trace_io.TraceFileError, match=f"damaged gradviz trace .*{message}"):
        trace_io.load(path)


def test_arrays_are_exact_bytes_and_old_number_lists_still_load(tmp_path):
    a = np.array([[1.5, np.nan], [-np.inf, 3e-39]], dtype=np.float32)
    saved = trace_io._array(a)
    assert set(saved) == {"dtype", "shape", "base64"}
    back = trace_io._unarray(json.loads(json.dumps(saved)))
    assert back.dtype == np.float32 and back.shape == (2, 2)
    assert np.array_equal(back, a, equal_nan=True)
    # the form traces written before base64 hold: a flat list, non-finite numbers as strings
    legacy = {"dtype": "float32", "shape": [2, 2], "data": [1.5, "nan", "-inf", 3e-39]}
    assert np.array_equal(trace_io._unarray(legacy), a, equal_nan=True)
    ints = np.arange(6, dtype=np.int64).reshape(3, 2)
    assert np.array_equal(trace_io._unarray(trace_io._array(ints)), ints)
