"""Loading a TARGET: .py files, notebooks (magics skipped), bundled examples, and the clear
errors for everything else."""

from __future__ import annotations

import json

import pytest

from gradviz import scripts
from gradviz.examples import find


def notebook(path, *cells, language="python", raw=None):
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"language_info": {"name": language}},
          "cells": [{"cell_type": kind, "metadata": {}, "source": source}
                    for kind, source in cells]}
    path.write_text(raw if raw is not None else json.dumps(nb), encoding="utf-8")
    return path


def test_a_python_file_loads_with_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    script = scripts.load("train.py")
    assert script.path == str(tmp_path / "train.py")
    assert script.source == "x = 1\n"
    assert script.kind == scripts.PYTHON
    assert script.folder == str(tmp_path)
    assert script.cell_of(1) is None


def test_a_coding_cookie_is_honoured(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\ns = '\xe9'\n")
    assert "s = '\u00e9'" in scripts.load(path).source


def test_a_bundled_example_by_name():
    script = scripts.load("square_sum")
    assert script.path == str(find("square_sum").path)
    assert "o.backward()" in script.source


def test_a_missing_target_is_a_usage_error():
    with pytest.raises(scripts.ScriptError) as info:
        scripts.load("no_such_script_anywhere.py")
    assert info.value.exit_code == 2
    assert "no such file or bundled example: no_such_script_anywhere.py" in info.value.message


def test_a_folder_is_a_usage_error(tmp_path):
    with pytest.raises(scripts.ScriptError) as info:
        scripts.load(tmp_path)
    assert info.value.exit_code == 2
    assert "is a folder" in info.value.message


def test_a_binary_file_is_not_python(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(scripts.ScriptError) as info:
        scripts.load(path)
    assert info.value.exit_code == 1
    assert "is not a Python script or notebook" in info.value.message
    assert info.value.as_error()["file"] == str(path)


def test_notebook_code_cells_run_in_order_without_magics(tmp_path):
    path = notebook(
        tmp_path / "nb.ipynb",
        ("markdown", "# Title"),
        ("code", ["%matplotlib inline\n", "import math\n", "!pip install torch\n"]),
        ("code", "for i in range(2):\n    %time f(i)\n    x = i"),
        ("code", "%%bash\necho hi\n"),
        ("code", "%%time\ny = (1 +\n     2)\nfiles = !ls\n"),
        ("raw", "not code"),
    )
    script = scripts.load(path)
    assert script.kind == scripts.NOTEBOOK
    assert script.source.splitlines() == [
        "pass", "import math", "pass",
        "for i in range(2):", "    pass", "    x = i",
        "", "y = (1 +", "     2)", "pass",
    ]
    compile(script.source, script.path, "exec")
    assert script.cells == ((1, 2), (4, 3), (7, 5))
    assert script.cell_of(5) == (3, 2)
    assert script.cell_of(9) == (5, 3)
    (note,) = script.notes
    assert "skipped 7 IPython magic or shell lines in nb.ipynb (cells 2, 3, 4, 5)" in note


def test_a_percent_that_continues_an_expression_is_modulo(tmp_path):
    path = notebook(tmp_path / "nb.ipynb",
                    ("code", 'msg = ("%d items"\n       % 3)\ns = """\n%not magic\n"""\n'))
    script = scripts.load(path)
    assert script.notes == ()
    namespace = {}
    exec(compile(script.source, script.path, "exec"), namespace)
    assert namespace["msg"] == "3 items"
    assert namespace["s"] == "\n%not magic\n"


def test_invalid_notebook_json_names_the_line(tmp_path):
    path = notebook(tmp_path / "broken.ipynb", raw='{"cells": [\n  {"cell_type": "code",,}\n]}')
    with pytest.raises(scripts.ScriptError) as info:
        scripts.load(path)
    assert info.value.exit_code == 1
    assert info.value.line == 2
    assert "broken.ipynb is not a valid notebook" in info.value.message


def test_json_that_is_not_a_notebook(tmp_path):
    path = notebook(tmp_path / "data.ipynb", raw='{"hello": 1}')
    with pytest.raises(scripts.ScriptError, match="is not a Jupyter notebook"):
        scripts.load(path)


def test_a_notebook_in_another_language(tmp_path):
    path = notebook(tmp_path / "r.ipynb", ("code", "x <- 1"), language="R")
    with pytest.raises(scripts.ScriptError, match="is a R notebook; gradviz runs Python notebooks"):
        scripts.load(path)
