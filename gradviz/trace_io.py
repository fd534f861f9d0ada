"""Saving a run to a ``.json`` trace and loading it back for post-mortem viewing (no script
runs). The format is versioned; unknown or corrupt files give one clear error.

Diagnostics are saved as ``"diagnostics"``: a list of ``Diagnostic.to_json()`` objects. The
key is optional (traces written before it existed load with no diagnostics), so the version
stays 1; a damaged entry makes the whole file a damaged trace, named by its index.

The full gradients of the last steps (``RunTrace.step_values``) are saved as
``"step_values"``: a list, oldest step first, of ``{"step", "structure", "nodes"}`` where
``nodes`` maps a node id to ``{"grad": array}`` (a leaf) or ``{"grad_in": array}`` (an
autograd node), arrays stored as everywhere else in the file (``_array``). At most
``STEPS_WITH_VALUES`` steps and ``STEP_VALUES_BYTES`` of arrays are written (the newest
steps first, as ``RunTrace`` keeps them). ``"latest_values"`` ("now" or "after-backward")
says which of ``"values"`` and the newest kept step ``values_at(None)`` shows. Both keys are
optional, as for diagnostics: older traces load with the last step's values only."""

from __future__ import annotations

import base64
import binascii
import json
import math
from pathlib import Path

import numpy as np

from .diagnostics import Diagnostic
from .protocol import (
    STEP_VALUES_BYTES,
    STEPS_WITH_VALUES,
    Diagnosed,
    Finished,
    GraphChanged,
    StepRecorded,
    StepValues,
    Values,
)
from .session import AFTER_BACKWARD, NOW, RunTrace
from .trace import GradEvent, Graph, NodeRun, Source, Step, TensorSummary

FORMAT = "gradviz-trace"
VERSION = 1


class TraceFileError(ValueError):
    """A file that is not a gradviz trace, or one damaged beyond reading."""


def _num(x):
    if x is None or isinstance(x, (int, str)) or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _unnum(x):
    return float(x) if isinstance(x, str) else x


def _src(s: Source | None):
    return None if s is None else [s.file, s.line, s.function]


def _unsrc(v) -> Source | None:
    return None if v is None else Source(v[0], v[1], v[2] if len(v) > 2 else "")


def _summary(s: TensorSummary | None):
    if s is None:
        return None
    return [list(s.shape), _num(s.norm), _num(s.min), _num(s.max), _num(s.mean), s.nonfinite]


def _unsummary(v) -> TensorSummary | None:
    if v is None:
        return None
    return TensorSummary(tuple(v[0]), *(_unnum(x) for x in v[1:5]), v[5])


def _array(a):
    """An array as ``{"dtype", "shape", "base64"}``: its little-endian bytes, base64 encoded.
    A step's gradients run to millions of numbers; as JSON number lists a trace with the
    last 16 steps of Example 2 was 83 MB and took seconds to write, as bytes it is a quarter
    of that and exact for every dtype (NaN and Inf included)."""
    if a is None:
        return None
    a = np.asarray(a)
    little = a.astype(a.dtype.newbyteorder("<"), copy=False)
    raw = np.ascontiguousarray(little).tobytes()
    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "base64": base64.b64encode(raw).decode("ascii")}


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _unarray(v):
    """One saved array, checked: a ValueError that says what is wrong. Reads the base64 form
    and the number lists (``"data"``) that traces written before it hold."""
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError(f"an array is a {type(v).__name__}, not an object")
    dtype, shape = v.get("dtype"), v.get("shape")
    if not isinstance(dtype, str) or np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"an array has dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(n) and n >= 0 for n in shape):
        raise ValueError(f"an array has shape {shape!r}")
    count = math.prod(shape)
    if "base64" in v:
        encoded = v["base64"]
        if not isinstance(encoded, str):
            raise ValueError(f"an array's base64 is a {type(encoded).__name__}, not a string")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"an array's base64 is not valid ({exc})") from None
        dt = np.dtype(dtype).newbyteorder("<")
        if len(raw) != count * dt.itemsize:
            raise ValueError(f"an array of shape {tuple(shape)} holds {len(raw)} bytes, not "
                             f"{count * dt.itemsize}")
        return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype)).reshape(shape)
    data = v.get("data")
    if not isinstance(data, list):
        raise ValueError(f"an array's data is a {type(data).__name__}, not a list")
    if len(data) != count:
        raise ValueError(f"an array of shape {tuple(shape)} holds {len(data)} "
                         f"value{'s' * (len(data) != 1)}")
    return np.asarray([_unnum(x) for x in data], dtype=dtype).reshape(shape)


# Diagnostic.to_json()'s fields and the types each may have (None: the field may be null)
_DIAGNOSTIC_FIELDS = {
    "kind": (str,), "message": (str,), "node": (int, None), "line": (int, None),
    "file": (str, None), "step": (int, None), "structure": (str, None),
    "node_name": (str, None),
}


def _diagnostic(v, index: int) -> Diagnostic:
    """One saved diagnostic, checked: a ValueError that says which and what is wrong."""
    where = f"diagnostic {index}"
    if not isinstance(v, dict):
        raise ValueError(f"{where} is a {type(v).__name__}, not an object")
    for name, types in _DIAGNOSTIC_FIELDS.items():
        if name not in v:
            if None in types:
                continue
            raise ValueError(f"{where} has no {name!r}")
        x = v[name]
        ok = (x is None and None in types) or (
            not isinstance(x, bool) and any(t is not None and isinstance(x, t) for t in types))
        if not ok:
            raise ValueError(f"{where}: {name!r} is {x!r}")
    if not v["kind"]:
        raise ValueError(f"{where} has an empty 'kind'")
    return Diagnostic.from_json(v)


_STEP_ARRAYS = ("grad", "grad_in")  # StepValues: a leaf's .grad, an autograd node's grad_in


def _saved_step_values(trace: RunTrace) -> list[StepValues]:
    """The kept steps to write, oldest first: the newest ones within STEPS_WITH_VALUES steps
    and STEP_VALUES_BYTES (the newest alone even when it is over), as RunTrace keeps them."""
    chosen: list[StepValues] = []
    total = 0
    for step in sorted(trace.step_values, reverse=True):
        kept = trace.step_values[step]
        if len(chosen) == STEPS_WITH_VALUES or (chosen and total + kept.nbytes
                                                > STEP_VALUES_BYTES):
            break
        chosen.append(kept)
        total += kept.nbytes
    return chosen[::-1]


def _step_values_json(kept: StepValues) -> dict:
    return {"step": kept.step, "structure": kept.structure,
            "nodes": {str(node): {k: _array(a) for k, a in entry.items()}
                      for node, entry in kept.values.items()}}


def _step_values(v, index: int, graphs: dict) -> StepValues:
    """One saved step's gradients, checked: a ValueError that says which and what is wrong."""
    where = f"step_values {index}"
    if not isinstance(v, dict):
        raise ValueError(f"{where} is a {type(v).__name__}, not an object")
    step, structure, nodes = v.get("step"), v.get("structure"), v.get("nodes")
    if not _is_int(step) or step < 0:
        raise ValueError(f"{where}: 'step' is {step!r}")
    if not isinstance(structure, str) or structure not in graphs:
        raise ValueError(f"{where}: 'structure' {structure!r} is none of the trace's graphs")
    if not isinstance(nodes, dict):
        raise ValueError(f"{where}: 'nodes' is {type(nodes).__name__}, not an object")
    ids = {n.id for n in graphs[structure].nodes}
    values: dict[int, dict] = {}
    for key, entry in nodes.items():
        node = int(key) if key.isdigit() else None
        if node not in ids:
            raise ValueError(f"{where}: {key!r} is not a node of its graph")
        if not isinstance(entry, dict) or not entry:
            raise ValueError(f"{where}, node {node}: {entry!r:.60} is not an object of arrays")
        arrays = {}
        for name, a in entry.items():
            if name not in _STEP_ARRAYS:
                raise ValueError(f"{where}, node {node}: {name!r} is neither "
                                 f"{' nor '.join(map(repr, _STEP_ARRAYS))}")
            if a is None:
                raise ValueError(f"{where}, node {node}: {name!r} is null")
            try:
                arrays[name] = _unarray(a)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}, node {node}, {name!r}: {exc}") from None
        values[node] = arrays
    return StepValues(step, structure, values)


def to_json(trace: RunTrace) -> dict:
    """Everything the viewer needs to show the run again: graphs, steps, events, values,
    diagnostics."""
    steps = []
    for s in trace.steps:
        steps.append({
            "index": s.index, "structure": s.structure, "loss": _num(s.loss),
            "order": list(s.order), "grad_norms": {k: _num(v) for k, v in s.grad_norms.items()},
            "seconds": s.seconds, "source": _src(s.source),
            "detail": None if s.detail is None else [
                [r.node, [_summary(g) for g in r.grads_in], [_summary(g) for g in r.grads_out]]
                for r in s.detail
            ],
        })
    values = None
    if trace.values is not None:
        values = {
            "step": trace.values.step,
            "nodes": {str(k): {"data": _array(v.get("data")), "grad": _array(v.get("grad")),
                               "data_summary": _summary(v.get("data_summary")),
                               "grad_summary": _summary(v.get("grad_summary")),
                               "version": v.get("version")}
                      for k, v in trace.values.values.items()},
        }
    shown = trace.values_at(None)
    fin = trace.finished
    return {
        "format": FORMAT,
        "version": VERSION,
        "script": trace.script,
        "device": trace.device,
        "graphs": {h: g.to_json() for h, g in trace.graphs.items()},
        "steps": steps,
        "grad_events": [
            [e.step, e.leaf, e.kind, e.how, e.was_empty, _num(e.norm_before), _num(e.norm_after),
             _num(e.contribution_norm), _src(e.source)]
            for e in trace.grad_events
        ],
        "values": values,
        "step_values": [_step_values_json(k) for k in _saved_step_values(trace)],
        "latest_values": AFTER_BACKWARD if shown is not None and shown.kind == AFTER_BACKWARD
        else NOW,
        "diagnostics": [d.to_json() for d in trace.diagnostics],
        "finished": None if fin is None else {
            "status": fin.status, "exit_code": fin.exit_code, "error": fin.error,
        },
    }


def save(trace: RunTrace, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_json(trace)), encoding="utf-8")


def load(path: str | Path) -> RunTrace:
    """Read a trace written by :func:`save`; raises TraceFileError with a clear message."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TraceFileError(f"{p}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceFileError(f"{p} is not a gradviz trace (not valid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceFileError(f"{p} is not a gradviz trace (written by `gradviz run --export`)")
    if data.get("version") != VERSION:
        raise TraceFileError(
            f"{p} is a gradviz trace of version {data.get('version')}; this gradviz reads "
            f"version {VERSION}"
        )
    try:
        return _from_json(data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise TraceFileError(f"{p} is a damaged gradviz trace ({type(exc).__name__}: {exc})") \
            from None


def _from_json(data: dict) -> RunTrace:
    trace = RunTrace()
    trace.script = data.get("script", "")
    trace.device = data.get("device", "cpu")
    for g in data["graphs"].values():
        trace.apply(GraphChanged(-1, Graph.from_json(g)))
    by_step: dict[int, list[GradEvent]] = {}
    for e in data["grad_events"]:
        ev = GradEvent(e[0], e[1], e[2], e[3], e[4], _unnum(e[5]), _unnum(e[6]), _unnum(e[7]),
                       _unsrc(e[8]))
        by_step.setdefault(ev.step, []).append(ev)
    for s in data["steps"]:
        detail = None
        if s.get("detail") is not None:
            detail = tuple(NodeRun(r[0], tuple(_unsummary(g) for g in r[1]),
                                   tuple(_unsummary(g) for g in r[2])) for r in s["detail"])
        step = Step(s["index"], s["structure"], _unnum(s["loss"]), tuple(s["order"]), detail,
                    {k: _unnum(v) for k, v in s["grad_norms"].items()}, s.get("seconds", 0.0),
                    _unsrc(s.get("source")))
        trace.apply(StepRecorded(step, by_step.pop(step.index, []), detail is not None))
    leftover = [e for events in by_step.values() for e in events]
    if leftover:
        last = trace.steps[-1].index if trace.steps else -1
        trace.apply(StepRecorded(Step(last, "", None), leftover, False))
    saved = data.get("step_values")
    if saved is not None and not isinstance(saved, list):
        raise ValueError(f"'step_values' is a {type(saved).__name__}, not a list")
    kept = [_step_values(v, i, trace.graphs) for i, v in enumerate(saved or ())]
    latest = data.get("latest_values", NOW)
    if latest not in (NOW, AFTER_BACKWARD):
        raise ValueError(f"'latest_values' is {latest!r}")
    now = None
    if data.get("values"):
        v = data["values"]
        now = Values(v["step"], {
            int(k): {"data": _unarray(x.get("data")), "grad": _unarray(x.get("grad")),
                     "data_summary": _unsummary(x.get("data_summary")),
                     "grad_summary": _unsummary(x.get("grad_summary")),
                     "version": x.get("version")}
            for k, x in v["nodes"].items()
        })
    # the order they arrive in decides which values_at(None) shows, as it did in the run
    if now is not None and latest == AFTER_BACKWARD:
        trace.apply(now)
    trace.apply_all(kept)  # oldest first; RunTrace applies its own bounds again
    if now is not None and latest == NOW:
        trace.apply(now)
    diagnostics = data.get("diagnostics")
    if diagnostics is not None and not isinstance(diagnostics, list):
        raise ValueError(f"'diagnostics' is a {type(diagnostics).__name__}, not a list")
    for i, d in enumerate(diagnostics or ()):
        trace.apply(Diagnosed(_diagnostic(d, i)))
    if data.get("finished"):
        f = data["finished"]
        trace.apply(Finished(f["status"], f["exit_code"], f.get("error")))
    return trace
