"""Loading a TARGET into Python source: a ``.py`` file, a Jupyter notebook, or the name of a
bundled example.

A notebook becomes one program: its code cells in order, IPython magics (``%time``,
``%%bash`` cells) and shell lines (``!pip install ...``) skipped, because they are not Python
and PyTorch users run notebooks top to bottom. Skipped lines become ``pass`` at the same
indentation, so a magic inside a block leaves the block valid. ``Script.cell_of`` maps a
program line back to the notebook cell a person sees.

Everything that can go wrong here is a ``ScriptError`` with the exit status DESIGN.md gives
it: 2 for a target that does not exist, 1 for a file that is not Python.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

PYTHON, NOTEBOOK = "python", "notebook"

# IPython cell magics whose body is still Python: the magic line goes, the body runs.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
# At the start of a statement none of these is valid Python: ``%time f()``, ``!ls``,
# ``files = !ls``, ``t = %timeit -o f()``.
_MAGIC_LINE = re.compile(r"^(\s*)(%|!|[A-Za-z_]\w*\s*=\s*[%!])")


class ScriptError(Exception):
    """A target that cannot be run. ``exit_code`` is the status ``gradviz run`` exits with."""

    def __init__(self, message: str, exit_code: int = 1, file: str | None = None,
                 line: int | None = None, kind: str = "ScriptError"):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.file = file
        self.line = line
        self.kind = kind

    def as_error(self) -> dict:
        """The ``error`` dict of ``Finished`` / ``RunResult``."""
        return {"type": self.kind, "message": self.message, "file": self.file,
                "line": self.line, "traceback": ""}


@dataclass(frozen=True)
class Script:
    """A target ready to compile: ``source`` runs with ``path`` as its filename."""

    path: str  # absolute; what tracebacks and the trace's Source.file show
    source: str
    kind: str = PYTHON
    notes: tuple[str, ...] = ()  # one-line remarks for stderr (skipped magics)
    cells: tuple[tuple[int, int], ...] = ()  # notebook: (first program line, cell number)

    @property
    def folder(self) -> str:
        return str(Path(self.path).parent)

    def cell_of(self, line: int) -> tuple[int, int] | None:
        """(cell number, line in that cell) of a program line, both 1-based; None for a .py."""
        found = None
        for first, cell in self.cells:
            if first > line:
                break
            found = (cell, line - first + 1)
        return found


def resolve(target: str | Path) -> Path:
    """The file a TARGET names: a path, or a bundled example's file."""
    path = Path(target).expanduser()
    if path.is_dir():
        raise ScriptError(f"{target} is a folder, not a Python script or notebook", 2,
                          kind="IsADirectoryError")
    if path.is_file():
        return path.resolve()
    from .examples import find

    example = find(str(target))
    if example is not None:
        return example.path
    raise ScriptError(
        f"no such file or bundled example: {target} (`gradviz examples` lists the examples)",
        2, kind="FileNotFoundError")


def load(target: str | Path) -> Script:
    """Read and convert a TARGET; raises ``ScriptError``."""
    path = resolve(target)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc.strerror}", 2, str(path),
                          kind=type(exc).__name__) from None
    if path.suffix.lower() == ".ipynb":
        return _notebook(path, _text(path, data))
    return Script(str(path), _text(path, data))


def _text(path: Path, data: bytes) -> str:
    """Decode source as Python does (coding cookie, BOM); a binary file is not Python."""
    not_python = ScriptError(
        f"{path} is not a Python script or notebook (it is a binary file); "
        "gradviz runs .py files and .ipynb notebooks", 1, str(path))
    if b"\0" in data:
        raise not_python
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        raise not_python from None


# --- notebooks ---------------------------------------------------------------------------------
def _notebook(path: Path, text: str) -> Script:
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{path} is not a valid notebook: {exc.msg} (line {exc.lineno}, "
                          f"column {exc.colno})", 1, str(path), exc.lineno,
                          kind="NotebookError") from None
    cells = _cells(nb)
    if cells is None:
        raise ScriptError(f"{path} is not a Jupyter notebook: it has no list of cells", 1,
                          str(path), kind="NotebookError")
    language = _language(nb)
    if language and language.lower() != "python":
        raise ScriptError(f"{path} is a {language} notebook; gradviz runs Python notebooks", 1,
                          str(path), kind="NotebookError")
    program: list[str] = []
    starts: list[tuple[int, int]] = []
    skipped_cells: list[int] = []
    skipped = 0
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        lines, dropped = _without_magics(str(source).splitlines())
        if dropped:
            skipped += dropped
            skipped_cells.append(number)
        if lines is None or not any(line.strip() for line in lines):
            continue
        starts.append((len(program) + 1, number))
        program.extend(lines)
    notes = ()
    if skipped:
        where = ", ".join(str(c) for c in skipped_cells)
        notes = (f"skipped {skipped} IPython magic or shell line{'s' * (skipped != 1)} in "
                 f"{path.name} (cell{'s' * (len(skipped_cells) != 1)} {where}): they are not "
                 "Python and do not run under gradviz",)
    source = "\n".join(program) + ("\n" if program else "")
    return Script(str(path), source, NOTEBOOK, notes, tuple(starts))


def _cells(nb) -> list | None:
    if not isinstance(nb, dict):
        return None
    if isinstance(nb.get("cells"), list):
        return nb["cells"]
    worksheets = nb.get("worksheets")  # nbformat 3
    if isinstance(worksheets, list) and worksheets and isinstance(worksheets[0], dict):
        cells = worksheets[0].get("cells")
        return cells if isinstance(cells, list) else None
    return None


def _language(nb: dict) -> str:
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        value = meta.get(key)
        if isinstance(value, dict) and isinstance(value.get(field), str):
            return value[field]
    return ""


def _without_magics(lines: list[str]) -> tuple[list[str] | None, int]:
    """Lines of one cell with magics and shell lines replaced by ``pass``; None when the whole
    cell is a non-Python cell magic (``%%bash``). Returns (lines, how many were dropped)."""
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if name not in _PYTHON_CELL_MAGICS:
            return None, len(lines)
        lines = ["", *lines[1:]]
        dropped = 1
    else:
        dropped = 0
    out = []
    for line, starts_statement in zip(lines, _statement_starts(lines)):
        match = _MAGIC_LINE.match(line) if starts_statement else None
        if match:
            out.append(match.group(1) + "pass")
            dropped += 1
        else:
            out.append(line)
    return out, dropped


def _statement_starts(lines: list[str]):
    """For each line: does a new logical line start here (not inside brackets, a string or a
    backslash continuation)? A ``%`` that continues an expression is Python's modulo."""
    depth = 0
    quote = ""  # the open string's delimiter, '' when outside a string
    continued = False
    for line in lines:
        yield depth == 0 and not quote and not continued
        continued = False
        i = 0
        while i < len(line):
            ch = line[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = ""
                    continue
            elif ch == "#":
                break
            elif ch in "\"'":
                quote = ch * 3 if line.startswith(ch * 3, i) else ch
                i += len(quote)
                continue
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            i += 1
        if quote and len(quote) == 1:
            continued = line.endswith("\\")
            if not continued:
                quote = ""  # an unterminated one-line string: Python will report it
        elif not quote and line.rstrip().endswith("\\"):
            continued = True
