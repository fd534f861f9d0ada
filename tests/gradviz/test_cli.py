"""The ``gradviz`` command line, as users and scripts call it (DESIGN.md, "Command line")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradviz.examples import all_examples

ROOT = Path(__file__).resolve().parents[2]
REPORT_KINDS = {"root", "op", "leaf"}


def gradviz(*args, timeout=240, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gradviz.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=cwd, check=False, **kwargs)


def check_report(report: dict) -> None:
    assert report["status"] in ("ok", "error", "timeout")
    assert isinstance(report["steps"], int) and isinstance(report["loss"], list)
    assert report["device"] in ("cpu", "cuda")
    nodes, edges = report["graph"]["nodes"], report["graph"]["edges"]
    ids = {n["id"] for n in nodes}
    for n in nodes:
        assert {"id", "kind", "name", "shape"} <= n.keys()
        assert n["kind"] in REPORT_KINDS
    assert all(a in ids and b in ids for a, b in edges)
    assert isinstance(report["diagnostics"], list)
    for d in report["diagnostics"]:
        assert {"kind", "message", "node", "line"} <= d.keys()


def test_examples_lists_every_bundled_example():
    proc = gradviz("examples")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == len(all_examples())
    assert any(line.startswith("square_sum ") and "y = x^2" in line for line in lines)


@pytest.mark.parametrize("example", [e.name for e in all_examples()])
def test_run_every_example_with_report_and_svg(example, tmp_path):
    report_path, svg = tmp_path / "r.json", tmp_path / "g.svg"
    proc = gradviz("run", example, "--report", report_path, "--export", svg)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    check_report(report)
    assert report["status"] == "ok" and report["steps"] >= 1
    root = next(n for n in report["graph"]["nodes"] if n["kind"] == "root")
    assert root["name"].endswith("Backward0")
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_example_1_stdout_is_only_the_scripts_output(tmp_path):
    proc = gradviz("run", "square_sum", "--report", tmp_path / "r.json")
    assert proc.stdout.splitlines() == [
        " y =   tensor([ 4., 16.], grad_fn=<PowBackward0>)",
        " o =   tensor(10., grad_fn=<MulBackward0>)",
        "gradients:  tensor([2., 4.])",
    ]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["loss"] == [10.0] and report["steps"] == 1
    leaf = next(n for n in report["graph"]["nodes"] if n["kind"] == "leaf")
    assert leaf["name"] == "x" and leaf["shape"] == [2]


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".dot", b"digraph"), (".json", b"{")])
def test_export_formats(suffix, magic, tmp_path):
    out = tmp_path / f"graph{suffix}"
    proc = gradviz("run", "square_sum", "--export", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().lstrip()[: len(magic)] == magic
    if suffix == ".json":
        from gradviz import trace_io

        trace = trace_io.load(out)
        assert trace.latest_graph.node(trace.latest_graph.root).name == "MulBackward0"


def test_script_arguments_and_exit_status(tmp_path):
    script = tmp_path / "args.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n")
    proc = gradviz("run", script, "--", "3", "--flag")
    assert proc.returncode == 3
    assert proc.stdout.strip() == "['3', '--flag']"


def test_error_report_names_the_users_line(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text(
        "import torch\n"
        "a = torch.randn(64, 1000)\n"
        "b = torch.randn(100, 10)\n"
        "c = a.mm(b)\n"
    )
    report_path = tmp_path / "r.json"
    proc = gradviz("run", script, "--report", report_path)
    assert proc.returncode == 1
    assert "mat1 and mat2 shapes cannot be multiplied (64x1000 and 100x10)" in proc.stderr
    assert "line 4" in proc.stderr
    assert "gradviz" not in proc.stderr.replace(str(script), "")
    report = json.loads(report_path.read_text())
    check_report(report)
    assert report["status"] == "error"
    assert report["error"]["type"] == "RuntimeError" and report["error"]["line"] == 4


def test_timeout_gives_124_and_a_report(tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("while True:\n    pass\n")
    report_path = tmp_path / "r.json"
    proc = gradviz("run", script, "--timeout", "1", "--report", report_path)
    assert proc.returncode == 124
    assert json.loads(report_path.read_text())["status"] == "timeout"


def test_usage_errors_exit_2(tmp_path):
    assert gradviz("run", tmp_path / "missing.py").returncode == 2
    assert gradviz("run").returncode == 2
    assert gradviz("run", "square_sum", "--export", tmp_path / "g.bmp").returncode == 2

    import engine

    if engine.cuda.is_available():
        return
    proc = gradviz("run", "square_sum", "--device", "cuda")
    assert proc.returncode == 2
    assert "CuPy" in proc.stderr and "Traceback" not in proc.stderr


def test_bare_command_says_what_is_missing_when_the_app_is_absent():
    import importlib.util

    if importlib.util.find_spec("ui.app") is not None:
        pytest.skip("the desktop app is installed")
    proc = gradviz()
    assert proc.returncode == 2
    assert "desktop app is not built yet" in proc.stderr and "Traceback" not in proc.stderr
