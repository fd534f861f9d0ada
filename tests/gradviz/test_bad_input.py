"""Every kind of bad input ends as a clear status: the exit code DESIGN.md gives it, the
message, the user's file and line, a traceback with no gradviz internals; and the same runner
runs a good script right after."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gradviz.protocol import Finished, Started, StepRecorded

from .test_runner import Watch

GOOD = "print('fine')\n"


def check_clean(traceback: str) -> None:
    """Nothing of gradviz's or the engine's internals in what the user sees."""
    for internal in ("gradviz/", "engine/", "runpy", "importlib", "child.py", "exec("):
        assert internal not in traceback, traceback


def run_then_recover(tmp_path: Path, source: str | None = None, *, target=None, **options):
    """Run a bad script, then the same runner with a good one (which must work at once)."""
    if target is None:
        target = tmp_path / "bad.py"
        target.write_text(textwrap.dedent(source), encoding="utf-8")
    watch = Watch(target, **options)
    result = watch.run()
    assert watch.runner.state == ("error" if result.status in ("error", "crashed")
                                  else "finished")
    first = (watch.text("stdout"), watch.text("stderr"), list(watch.all))
    good = tmp_path / "good.py"
    good.write_text(GOOD, encoding="utf-8")
    watch.output.clear()
    watch.all.clear()
    watch.runner.target = str(good)
    again = watch.run()
    assert (again.status, again.exit_code) == ("ok", 0)
    if watch.runner.stdio == "pipe":
        assert watch.text("stdout") == "fine\n"
    return result, *first


def test_syntax_error(tmp_path):
    result, out, err, _ = run_then_recover(tmp_path, """\
        import torch
        x = torch.ones(2)
        y = (x +
        print(y)
        def f(:
    """)
    assert (result.status, result.exit_code) == ("error", 1)
    error = result.error
    assert error["type"] == "SyntaxError"
    assert error["file"] == str(tmp_path / "bad.py")
    assert error["line"] in (3, 5)  # Python names the unclosed bracket or the bad line
    assert err == error["traceback"]
    assert f'File "{tmp_path / "bad.py"}", line' in err
    assert err.rstrip().splitlines()[-1].startswith("SyntaxError:")
    check_clean(err)
    assert out == ""


def test_an_exception_from_the_engine_shows_the_users_line(tmp_path):
    result, _, err, messages = run_then_recover(tmp_path, """\
        import torch
        x = torch.randn(64, 1000)
        w = torch.randn(100, 10)

        def forward(x, w):
            return x.mm(w)

        y = forward(x, w)
    """)
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error["type"] == "RuntimeError"
    assert result.error["message"] == (
        "mat1 and mat2 shapes cannot be multiplied (64x1000 and 100x10)")
    assert (result.error["file"], result.error["line"]) == (str(tmp_path / "bad.py"), 6)
    assert err.splitlines() == [
        "Traceback (most recent call last):",
        f'  File "{tmp_path / "bad.py"}", line 8, in <module>',
        "    y = forward(x, w)",
        "        ^^^^^^^^^^^^^",
        f'  File "{tmp_path / "bad.py"}", line 6, in forward',
        "    return x.mm(w)",
        "           ^^^^^^^",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x1000 and 100x10)",
    ]
    finished = [m for m in messages if isinstance(m, Finished)]
    assert finished[0].error == result.error


def test_an_exception_in_a_module_of_the_users(tmp_path):
    (tmp_path / "model.py").write_text("def build():\n    return 1 / 0\n", encoding="utf-8")
    result, _, err, _ = run_then_recover(tmp_path, "import model\nmodel.build()\n")
    assert result.error["type"] == "ZeroDivisionError"
    assert (result.error["file"], result.error["line"]) == (str(tmp_path / "model.py"), 2)
    check_clean(err)


def test_a_missing_part_of_torch_is_one_clear_line(tmp_path):
    result, _, err, _ = run_then_recover(tmp_path, "import torch\nimport torch.fft\n")
    assert result.error["type"] == "ModuleNotFoundError"
    assert result.error["message"] == "gradviz's engine does not implement torch.fft"
    assert result.error["line"] == 2
    check_clean(err)


@pytest.mark.parametrize(("call", "status", "code", "stderr"), [
    ("sys.exit(3)", "exit", 3, ""),
    ("sys.exit()", "ok", 0, ""),
    ("sys.exit(0)", "ok", 0, ""),
    ("sys.exit('bye')", "exit", 1, "bye\n"),
    ("os._exit(7)", "exit", 7, ""),
])
def test_exits(tmp_path, call, status, code, stderr):
    result, out, err, _ = run_then_recover(
        tmp_path, f"import os, sys\nprint('before', flush=True)\n{call}\nprint('after')\n")
    assert (result.status, result.exit_code, result.error) == (status, code, None)
    assert out == "before\n"
    assert err == stderr


def test_a_hard_crash(tmp_path):
    result, out, err, _ = run_then_recover(tmp_path, """\
        import ctypes
        print("crashing", flush=True)
        ctypes.string_at(0)
    """)
    assert (result.status, result.exit_code, result.signal) == ("crashed", 139, 11)
    assert result.message == (f"the script's process was killed by signal 11 (SIGSEGV) at "
                              f"{tmp_path / 'bad.py'}, line 3")
    assert (result.error["file"], result.error["line"]) == (str(tmp_path / "bad.py"), 3)
    assert out == "crashing\n"
    assert err.endswith(f"gradviz: {result.message}\n")
    check_clean(result.error["traceback"])


def test_a_script_killed_for_memory(tmp_path):
    result, _, err, _ = run_then_recover(tmp_path, """\
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
    """)
    assert (result.status, result.exit_code) == ("crashed", 137)
    assert "killed by signal 9 (SIGKILL)" in result.message
    assert "may have run out of memory" in result.message
    assert err == f"gradviz: {result.message}\n"


def test_a_script_that_allocates_until_it_fails(tmp_path):
    result, _, err, _ = run_then_recover(tmp_path, """\
        import resource
        import numpy as np

        def vm_size():
            with open("/proc/self/status") as f:
                kb = next(int(l.split()[1]) for l in f if l.startswith("VmSize"))
            return kb * 1024

        limit = vm_size() + 256 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        hoard = []
        while True:
            hoard.append(np.ones(2**22))  # 32 MB at a time
    """)
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error["type"] == "MemoryError"
    assert result.error["line"] == 13
    check_clean(err)


def test_a_script_printing_megabytes_does_not_block(tmp_path):
    result, out, err, messages = run_then_recover(tmp_path, """\
        import sys, torch
        w = torch.ones(3, requires_grad=True)
        line = "x" * 1023
        for i in range(4096):
            print(line)
            if i % 64 == 0:
                print(line, file=sys.stderr)
                (w * i).sum().backward()
    """)
    assert result.status == "ok"
    assert len(out) == 4096 * 1024 and len(err) == 64 * 1024
    assert len({m.step.index for m in messages if isinstance(m, StepRecorded)}) == 64


@pytest.mark.parametrize("stdio", ["pipe", "inherit"])
def test_reading_stdin_when_there_is_none(tmp_path, stdio):
    result, _, err, _ = run_then_recover(tmp_path, """\
        print("name?")
        name = input()
    """, stdio=stdio, stdin="null")
    assert result.error["type"] == "EOFError"
    assert result.error["line"] == 2
    assert result.status == "error"
    if stdio == "pipe":
        assert err.rstrip().endswith("EOFError: EOF when reading a line")


def test_a_missing_file(tmp_path):
    result, out, err, messages = run_then_recover(tmp_path, target=tmp_path / "nope.py")
    assert (result.status, result.exit_code) == ("error", 2)
    assert result.error["type"] == "FileNotFoundError"
    assert f"no such file or bundled example: {tmp_path / 'nope.py'}" in result.message
    assert err == f"gradviz: {result.message}\n"
    assert out == "" and messages == []  # no child was started


def test_a_binary_file(tmp_path):
    target = tmp_path / "weights.bin"
    target.write_bytes(bytes(range(256)) * 4)
    result, _, err, messages = run_then_recover(tmp_path, target=target)
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error["file"] == str(target)
    assert "is not a Python script or notebook" in result.message
    assert err == f"gradviz: {result.message}\n"
    assert not any(isinstance(m, Started) for m in messages)


def test_a_text_file_that_is_not_python(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("These are my notes about training.\n", encoding="utf-8")
    result, _, err, _ = run_then_recover(tmp_path, target=target)
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error["type"] == "SyntaxError"
    assert (result.error["file"], result.error["line"]) == (str(target), 1)
    check_clean(err)


def test_an_invalid_notebook(tmp_path):
    target = tmp_path / "broken.ipynb"
    target.write_text(json.dumps({"cells": []})[:-1] + ",\n}", encoding="utf-8")
    result, _, err, _ = run_then_recover(tmp_path, target=target)
    assert (result.status, result.exit_code) == ("error", 1)
    assert (result.error["file"], result.error["line"]) == (str(target), 2)
    assert "broken.ipynb is not a valid notebook" in result.message
