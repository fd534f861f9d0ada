"""The bundled example scripts. Each file's first comment line is its one-line description."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    name: str
    path: Path
    description: str


def _description(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            return text.removeprefix("gradviz example:").strip()
    return ""


def all_examples() -> list[Example]:
    """Every bundled example, in name order."""
    return [
        Example(p.stem, p, _description(p))
        for p in sorted(EXAMPLES_DIR.glob("*.py"))
        if not p.name.startswith("_")
    ]


def find(name: str) -> Example | None:
    for ex in all_examples():
        if ex.name == name:
            return ex
    return None
