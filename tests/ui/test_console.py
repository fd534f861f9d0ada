"""The console: output appears (stderr in its own colour), errors link to file:line, a flood
stays bounded, and a real script's output arrives through the controller."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Qt, Signal  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402

from gradviz.runner import RunResult  # noqa: E402
from ui import console as console_mod  # noqa: E402
from ui import theme  # noqa: E402
from ui.console import Console  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

TIMEOUT_MS = 60_000


class FakeController(QObject):
    output = Signal(str, str)
    trace_replaced = Signal()
    finished = Signal(object)

    def __init__(self):
        super().__init__()
        self.target = None
        self.device = "cpu"


@pytest.fixture
def fake():
    return FakeController()


@pytest.fixture
def console(qtbot, fake):
    c = Console(fake)
    qtbot.addWidget(c)
    c.resize(600, 300)
    return c


def color_of(console: Console, text: str):
    """The foreground colour of the first character of ``text`` in the console."""
    doc = console.document()
    cursor = doc.find(text)
    assert not cursor.isNull(), f"{text!r} is not in the console"
    c = QTextCursor(doc)
    c.setPosition(cursor.selectionStart() + 1)
    return c.charFormat().foreground().color()


def test_stdout_and_stderr_appear_stderr_in_its_colour(console, fake):
    fake.output.emit("stdout", "hello\n")
    fake.output.emit("stderr", "warning: careful\n")
    fake.output.emit("stdout", "bye\n")
    assert console.text() == "hello\nwarning: careful\nbye\n"
    assert color_of(console, "warning") == theme.colors(console.palette()).stderr
    assert color_of(console, "bye") != theme.colors(console.palette()).stderr


def test_output_is_appended_by_the_timer_not_at_once(qtbot, console, fake):
    fake.output.emit("stdout", "later\n")
    assert console.toPlainText() == ""  # queued: the GUI never appends inside the signal
    qtbot.waitUntil(lambda: "later" in console.toPlainText(), timeout=2_000)
    qtbot.waitUntil(lambda: not console._timer.isActive(), timeout=2_000)


def test_a_new_run_clears_the_console_and_names_the_script(console, fake, tmp_path):
    fake.output.emit("stdout", "old run\n")
    fake.target = tmp_path / "train.py"
    fake.trace_replaced.emit()
    assert "old run" not in console.text()
    assert "train.py" in console.text()


def test_traceback_lines_are_links_that_ask_for_the_source(qtbot, console, fake):
    console.show()
    fake.output.emit("stderr", 'Traceback (most recent call last):\n'
                               '  File "/work/bad.py", line 6, in <module>\n    f()\n'
                               '  File "/work/bad.py", line 5, in f\n'
                               '    raise ValueError("boom")\nValueError: boom\n')
    error = {"type": "ValueError", "message": "boom", "file": "/work/bad.py", "line": 5,
             "traceback": ""}
    fake.finished.emit(RunResult("error", 1, error))
    text = console.text()
    assert "✖ ValueError: boom" in text
    assert console.links() == [("/work/bad.py", 6), ("/work/bad.py", 5), ("/work/bad.py", 5)]

    # click the first link, as a person would
    cursor = console.document().find('File "/work/bad.py", line 6')
    c = QTextCursor(console.document())
    c.setPosition(cursor.selectionStart() + 3)
    pos = console.cursorRect(c).center()
    with qtbot.waitSignal(console.source_requested, timeout=1_000) as blocker:
        qtbot.mouseClick(console.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["/work/bad.py", 6]


def test_endings_are_said_in_one_line(console, fake):
    fake.finished.emit(RunResult("ok", 0, seconds=1.5))
    assert console.text().endswith("■ Finished in 1.50 s\n")
    fake.finished.emit(RunResult("stopped", 130, seconds=2.0))
    assert "■ Stopped after 2.00 s" in console.text()
    fake.finished.emit(RunResult("crashed", 139, message="the script crashed (SIGSEGV)"))
    assert console.text().endswith("the script crashed (SIGSEGV)\n")


def test_a_megabyte_of_output_stays_bounded(qtbot, fake):
    c = Console(fake, max_blocks=2_000)
    qtbot.addWidget(c)
    line = "x" * 99 + "\n"  # 100 characters
    for i in range(100):  # 1 MB in 100 bursts, as the controller coalesces them per frame
        fake.output.emit("stdout", line * 99 + f"burst {i}\n")
    assert c._pending_chars <= console_mod.MAX_PENDING_CHARS
    # each timer slice appends a bounded amount: the GUI stays responsive
    start = time.perf_counter()
    c._flush_slice()
    assert time.perf_counter() - start < 0.5
    text = c.text()
    assert c.document().blockCount() <= 2_000
    assert text.rstrip().endswith("burst 99")
    assert "characters of output skipped" in text or c.document().blockCount() == 2_000


def test_one_enormous_line_is_cut(console, fake):
    fake.output.emit("stdout", "y" * 50_000 + "\nnext\n")
    lines = console.text().split("\n")
    assert len(lines[0]) == console_mod.MAX_LINE_CHARS + 1 and lines[0].endswith("…")
    assert lines[1] == "next"


def test_theme_switch_recolours_what_is_shown(qapp, console, fake):
    fake.output.emit("stderr", "err\n")
    console.text()
    light = console.palette()
    console.setPalette(theme.palette(theme.DARK))
    assert color_of(console, "err") == theme.colors(theme.palette(theme.DARK)).stderr
    console.setPalette(light)


def test_real_script_output_and_error_link(qtbot, tmp_path):
    controller = SessionController()
    c = Console(controller)
    qtbot.addWidget(c)
    script = tmp_path / "broken.py"
    script.write_text("print('before', flush=True)\n\ndef f():\n    return 1 / 0\n\nf()\n",
                      encoding="utf-8")
    try:
        with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
            controller.run(script)
        text = c.text()
        assert "before\n" in text
        assert "ZeroDivisionError: division by zero" in text
        assert (str(script), 4) in c.links()
    finally:
        controller.shutdown()
