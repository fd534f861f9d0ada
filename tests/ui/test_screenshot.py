"""``gradviz open TARGET --screenshot FILE.png``: runs the script to the end, saves a
1280x800 picture of the whole window and exits, offscreen, touching no user settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QImage  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180


def screenshot(target: str, out: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home),
               XDG_CONFIG_HOME=str(home / ".config"))
    return subprocess.run([sys.executable, "-m", "gradviz.cli", "open", target,
                           "--screenshot", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def distinct_colours(image: QImage, step: int = 8) -> int:
    return len({image.pixel(x, y) for x in range(0, image.width(), step)
                for y in range(0, image.height(), step)})


def test_screenshot_of_example_1(tmp_path):
    out = tmp_path / "shots" / "square_sum.png"
    home = tmp_path / "home"
    home.mkdir()
    done = screenshot("square_sum", out, home)
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    assert distinct_colours(image) > 30  # a real window, not a blank or one-colour picture
    assert not list(home.rglob("gradviz*")), "the screenshot wrote the user's settings"


def test_screenshot_of_a_failing_script_still_saves_and_exits_1(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import torch\nraise RuntimeError('broken on purpose')\n")
    out = tmp_path / "broken.png"
    home = tmp_path / "home"
    home.mkdir()
    done = screenshot(str(script), out, home)
    assert done.returncode == 1
    assert "ended with status 'error'" in done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
