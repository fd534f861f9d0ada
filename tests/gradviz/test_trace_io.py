"""The .json trace: diagnostics are saved and restored; traces written before diagnostics
existed still load; a damaged diagnostic is one clear error."""

from __future__ import annotations

import json

import pytest

from gradviz import trace_io
from gradviz.diagnostics import Diagnostic
from gradviz.protocol import Diagnosed, Finished, GraphChanged, StepRecorded
from gradviz.session import RunTrace
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode, Step


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
