"""The detectors on scripts they have never seen (issue 7, "Done when"): every file in
``diagnostic_scripts/`` is a training script written the way people write them (nn.Module
and optimizers, hand-written loops, helpers, other ops), each checked against real PyTorch
to misbehave (or not) as its header says.

A script's first line says what must be found::

    # expect: KIND at NAME|NAME...     every finding is KIND, at one of these nodes (a leaf's
                                       name or an op's PyTorch name; shell-style patterns),
                                       on a line marked "# <- diagnosed here"
    # expect: nothing                  correct code: no detector may fire

Most run in this process with a recorder and a strict diagnostician attached, as the child
wires them; a few go through ``gradviz run --report`` end to end.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import events
from gradviz import torch_alias
from gradviz.diagnostics import KINDS, Diagnostician
from gradviz.protocol import GraphChanged, StepRecorded
from gradviz.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "diagnostic_scripts"
MARK = "# <- diagnosed here"


def expectation(path: Path) -> tuple[str | None, list[str], set[int]]:
    """(kind or None for "nothing", node name patterns, marked lines) from a script's header."""
    lines = path.read_text().splitlines()
    head = lines[0]
    assert head.startswith("# expect: "), path
    what = head.removeprefix("# expect: ").strip()
    marked = {i for i, line in enumerate(lines, 1) if line.rstrip().endswith(MARK)}
    if what == "nothing":
        return None, [], marked
    kind, _, names = what.partition(" at ")
    assert kind in KINDS, path
    return kind, names.split("|"), marked


BUGGY = sorted(p.name for p in SCRIPTS.glob("bug_*.py"))
CLEAN = sorted(p.name for p in SCRIPTS.glob("ok_*.py"))


@contextlib.contextmanager
def torch_is_the_engine():
    """``import torch`` resolves to the engine, as in the child; whatever ``torch`` this
    process had (the real one, imported by the engine's parity tests) is put back after."""
    saved = {name: sys.modules.get(name) for name in torch_alias.ALIASES}
    torch_alias.install()
    try:
        yield
    finally:
        torch_alias.uninstall()
        for name, module in saved.items():
            if module is not None:
                sys.modules[name] = module


# the kinds whose error stops the script, as in PyTorch
STOPS = {"inplace-modified": "modified by an inplace operation",
         "backward-twice": "Trying to backward through the graph a second time"}


def diagnose(path: Path):
    """Run a script under a recorder and a strict diagnostician; (findings, messages). Only
    the error the script is expected to stop with is caught."""
    stops = STOPS.get(expectation(path)[0])
    messages: list = []
    diag = Diagnostician(messages.append, strict=True)
    recorder = Recorder(diag.relay)
    diag.follow(recorder)
    namespace = {"__name__": "__main__", "__file__": str(path)}
    code = compile(path.read_text(), str(path), "exec")
    with torch_is_the_engine(), contextlib.redirect_stdout(io.StringIO()):
        events.add_listener(recorder)
        diag.attach()
        try:
            exec(code, namespace)
        except RuntimeError as error:
            if stops is None or stops not in str(error):
                raise
        finally:
            events.remove_listener(recorder)
            diag.detach()
        recorder.finish()
        diag.finish()
    return diag.diagnostics, messages


def check_findings(path: Path, found: list, graph_of) -> None:
    kind, names, marked = expectation(path)
    if kind is None:
        assert found == [], "\n".join(f"{d.kind} at {d.node_name}: {d.message}" for d in found)
        return
    assert found, f"{path.name}: nothing found"
    assert {d.kind for d in found} == {kind}, found
    for d in found:
        assert any(fnmatch.fnmatchcase(d.node_name, n) for n in names), d
        assert d.line in marked, d
        assert d.file == str(path), d
        if kind == "no-gradient":
            assert d.node is None  # the leaf is exactly what is missing from the graph
        else:
            graph = graph_of(d)
            assert graph is not None and graph.node(d.node).name == d.node_name, d
        assert len(d.message) > 60


def test_every_kind_has_at_least_two_unseen_buggy_scripts_and_eight_clean_ones():
    per_kind: dict[str, int] = {}
    for name in BUGGY:
        kind, _names, marked = expectation(SCRIPTS / name)
        assert marked, f"{name}: no line marked {MARK!r}"
        per_kind[kind] = per_kind.get(kind, 0) + 1
    assert set(per_kind) == set(KINDS)
    assert min(per_kind.values()) >= 2, per_kind
    assert len(CLEAN) >= 8


@pytest.mark.parametrize("name", BUGGY + CLEAN)
def test_script(name):
    path = SCRIPTS / name
    found, messages = diagnose(path)
    assert any(isinstance(m, StepRecorded) for m in messages)  # it trained
    graphs = {m.graph.structure_hash: m.graph for m in messages if isinstance(m, GraphChanged)}
    check_findings(path, found, lambda d: graphs.get(d.structure))


# --- end to end: `gradviz run --report`, the processes all started at once --------------------
CLI = (
    "bug_mzg_module_adam_no_zero_grad.py", "bug_inplace_discriminator_stepped_too_early.py",
    "bug_nograd_decorated_feature_function.py", "bug_explode_polynomial_until_inf.py",
    "ok_ema_teacher.py", "ok_pgd_adversarial_training.py",
)


@pytest.fixture(scope="module")
def cli_reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("script_reports")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    procs = {}
    for name in CLI:
        out = folder / (Path(name).stem + ".json")
        procs[name] = (out, subprocess.Popen(
            [sys.executable, "-m", "gradviz.cli", "run", str(SCRIPTS / name), "--report",
             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    reports = {}
    for name, (out, proc) in procs.items():
        _stdout, stderr = proc.communicate(timeout=240)
        assert "diagnostics switched off" not in stderr, stderr
        reports[name] = (proc.returncode, json.loads(out.read_text()), stderr)
    return reports


@pytest.mark.parametrize("name", CLI)
def test_script_through_gradviz_run(cli_reports, name):
    from gradviz.diagnostics import Diagnostic

    code, report, stderr = cli_reports[name]
    path = SCRIPTS / name
    kind, _names, _marked = expectation(path)
    assert report["status"] == ("error" if kind == "inplace-modified" else "ok"), stderr
    assert code == (1 if kind == "inplace-modified" else 0), stderr
    graph = {n["id"]: n for n in report["graph"]["nodes"]}
    found = [Diagnostic.from_json(d) for d in report["diagnostics"]]
    for d in report["diagnostics"]:
        assert {"kind", "message", "node", "line"} <= d.keys()

    class LastGraph:  # the report's graph is the last backward's; findings point into it
        @staticmethod
        def node(nid):
            return type("N", (), {"name": graph[nid]["name"]})

    check_findings(path, found, lambda d: LastGraph)
