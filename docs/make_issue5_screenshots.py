"""Make the README's "Watching Example 2 train" screenshots (docs/issue5-*.png) again.

Drives the real main window through the story: Example 2 running, paused before a
backward(), three nodes into the backward, the gradient reaching w1 and w2, and, after the
run, the timeline scrubbed back to a recent step. Each picture is the whole window at
1280x800. From the repository root:

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_issue5_screenshots.py docs/

The argument is the folder to write to (default: this one, docs/); try a scratch folder
first and compare. Every wait has a timeout, so a broken step ends the script with a
message instead of hanging. The app's settings go to a temporary folder: the user's saved
layout is neither read nor changed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings, QSize, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from ui.app import create_app  # noqa: E402

SIZE = QSize(1280, 800)
TIMEOUT_S = 120
RUNNING_AT = 240  # the "running" picture: the first frame with this step or a later one
CONSOLE_LINE = "Loss of Epoch 199"  # printed before it: the picture's console shows it too
SCRUB_TO = 492  # the timeline picture: a step among the last 8, which keep their gradients
NODES_FIRST, NODES_MORE = 3, 5  # nodes stepped into the backward for pictures 3 and 4


def settle(ms: int) -> None:
    """Let animations (a node's glow, a leaf's flash) run for ``ms`` of wall time."""
    QTest.qWait(ms)


def wait(condition, what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:g} s waiting for {what}")
        QTest.qWait(5)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradviz-shots-") as folder:
        settings = QSettings(str(Path(folder) / "gradviz.ini"), QSettings.Format.IniFormat)
        _app, window = create_app(settings=settings, restore=False)
        try:
            story(window, out)
        finally:
            window.shutdown()
            window.close()


def story(w, out: Path) -> None:
    def shot(name: str, settle_ms: int = 150) -> None:
        if settle_ms:
            settle(settle_ms)
        picture = w.grab()
        if picture.size() != SIZE:  # a high-DPI screen: the README's pictures are 1280x800
            picture = picture.scaled(SIZE, Qt.AspectRatioMode.IgnoreAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        path = out / name
        if not picture.save(str(path), "PNG"):
            raise SystemExit(f"could not write {path}")
        c = w.controller
        print(f"saved {path}: {c.state}, {len(c.trace.steps)} steps, "
              f"backward {w.animation_controls.where_text()}")

    w.resize(SIZE)
    w.show()
    if not w.open_script("two_layer_net"):
        raise SystemExit("could not open the bundled example two_layer_net")
    w.docks["gradients"].show()
    w.docks["gradients"].raise_()
    settle(300)
    c = w.controller

    # 1. running; F6 then pauses at the next backward() (the child is ahead). The status bar
    # redraws its step count at most five times a second: redraw it for this frame, as each
    # of its redraws does, so the picture's count is the timeline's
    taken = []

    def on_steps(latest: int) -> None:
        if taken or latest < RUNNING_AT:
            return
        # the script's output comes through a pipe of its own, often a frame behind the steps
        if CONSOLE_LINE not in w.console.text() and latest < RUNNING_AT + 50:
            return
        taken.append(latest)
        w.pause_action.trigger()
        w.status.refresh()
        shot("issue5-1-running.png", settle_ms=0)

    c.steps_recorded.connect(on_steps)
    w.run_action.trigger()  # F5
    wait(lambda: c.state != "running", "the pause")
    c.steps_recorded.disconnect(on_steps)
    if c.state != "paused":
        raise SystemExit(f"the run did not pause: it is {c.state}")
    wait(lambda: not w.graph_view.is_laying_out, "the graph's layout")
    shot("issue5-2-paused.png")

    # 3 and 4: one node of the real backward at a time (Alt+Right), in the script's process
    def step_nodes(count: int) -> None:
        for _ in range(count):
            n = w.animation.position
            w.animation_controls.forward_action.trigger()
            wait(lambda n=n: c.state == "paused" and w.animation.position == n + 1,
                 f"node {n + 1} of the backward")

    step_nodes(NODES_FIRST)
    shot("issue5-3-three-nodes.png")
    step_nodes(NODES_MORE)
    shot("issue5-4-reached-w1-w2.png", settle_ms=50)

    # 5. after the run, scrubbed back to a recent step: its own gradients
    w.run_action.trigger()  # F5: continue
    wait(lambda: c.state in ("finished", "error"), "the end of the run")
    if c.state != "finished":
        raise SystemExit(f"the run ended with {c.state}")
    wait(lambda: not w.graph_view.is_laying_out, "the graph's layout")
    settle(800)  # the last zeroing flash fades
    w.timeline.slider.setValue(SCRUB_TO)
    wait(lambda: w.animation.step_index == SCRUB_TO, f"step {SCRUB_TO} on the timeline")
    w.animation.jump_to_end()
    shot("issue5-5-timeline.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
