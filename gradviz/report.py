"""The ``--report`` JSON of ``gradviz run`` (DESIGN.md, "Command line"): written whatever the
run's status, error and timeout included."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .session import RunTrace

DIAGNOSTIC_KINDS = (
    "missing-zero-grad", "nan-or-inf", "gradcheck-failed", "inplace-modified", "backward-twice",
    "dead-relu", "exploding-gradient", "vanishing-gradient", "no-gradient",
)


def _number(x: float | None):
    """JSON has no NaN/Inf: write them as strings a reader can still recognise."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def build_report(trace: RunTrace, status: str, device: str, error: dict | None = None,
                 exit_code: int | None = None, diagnostics: list | None = None) -> dict:
    """``status``: "ok" | "error" | "timeout" (DESIGN.md's vocabulary)."""
    graph = trace.latest_graph
    report = {
        "status": status,
        "exit_code": exit_code,
        "device": device,
        "script": trace.script,
        "steps": len([s for s in trace.steps if s.structure]),
        "loss": [_number(v) for v in trace.losses],
        "graph": {
            "nodes": [
                {"id": n.id, "kind": n.kind, "name": n.name, "shape": list(n.shape),
                 "dtype": n.dtype, "line": n.source.line if n.source else None}
                for n in graph.nodes
            ] if graph else [],
            "edges": [[a, b] for a, b in graph.edges] if graph else [],
        },
        "grads": {
            leaf: {"accumulations": s.accumulations, "on_top_of_previous": s.accumulations_on_top,
                   "zeroings": s.zeroings, "updates": s.updates,
                   "final_norm": _number(s.norms[-1]) if s.norms else None}
            for leaf, s in trace.leaves.items()
        },
        "diagnostics": list(diagnostics or []),
    }
    if error is not None:
        report["error"] = {"type": error.get("type"), "message": error.get("message"),
                           "line": error.get("line"), "file": error.get("file")}
    return report


def write_report(path: str | Path, report: dict) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
