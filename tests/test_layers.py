"""Layers point down only: ui > gradviz > engine. engine and gradviz never import Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph")
# the CLI is the one composition root allowed to import ui (lazily, to open a window)
ALLOWED = {("gradviz", "gradviz/cli.py", "ui")}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for root in imported_roots(path) & set(forbidden):
            if (package, rel, root) not in ALLOWED:
                found.append(f"{rel} imports {root}")
    return found


def test_engine_imports_neither_gradviz_ui_nor_qt():
    assert violations("engine", ("gradviz", "ui", *QT)) == []


def test_gradviz_imports_neither_ui_nor_qt():
    assert violations("gradviz", ("ui", *QT)) == []


def test_importing_engine_and_gradviz_loads_no_qt():
    code = (
        "import sys, engine, engine.autograd, gradviz, gradviz.torch_alias;"
        "import engine.nn, engine.optim;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
