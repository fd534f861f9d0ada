"""The main window with the real panels: examples from the menu, F5 / Shift+F5, actions that
follow the run's state, layout and theme restored from (temporary) settings, drag and drop,
post-mortem traces, exports, the start page, source links."""

from __future__ import annotations

import json
import shutil
import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QTextCursor  # noqa: E402
from PySide6.QtWidgets import QApplication, QTableWidget  # noqa: E402

from ui import theme  # noqa: E402
from ui.app import create_app  # noqa: E402
from ui.code_editor import NODE, PAUSED  # noqa: E402
from ui.script_panel import CANCEL, DISCARD  # noqa: E402

RUN_MS = 60_000
EXAMPLE_1_OUTPUT = (" y =   tensor([ 4., 16.], grad_fn=<PowBackward0>)\n"
                    " o =   tensor(10., grad_fn=<MulBackward0>)\n"
                    "gradients:  tensor([2., 4.])\n")


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings" / "gradviz.ini"


def make_window(qtbot, settings_path):
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    _, w = create_app(settings=settings)
    qtbot.addWidget(w)
    w.script_panel.ask_unsaved = lambda name: DISCARD
    w.resize(1280, 800)
    with qtbot.waitActive(w):  # window shortcuts (F5 ...) need the active window
        w.show()
        w.activateWindow()
    return w


@pytest.fixture
def window(qtbot, settings_path):
    w = make_window(qtbot, settings_path)
    yield w
    w.shutdown()
    theme.apply(theme.LIGHT)


def run_to_end(qtbot, window, key=Qt.Key.Key_F5):
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_MS) as blocker:
        qtbot.keyClick(window, key)
    return blocker.args[0]


def wait_for_graph(qtbot, window):
    qtbot.waitUntil(lambda: window.graph_view.graph is not None
                    and not window.graph_view.is_laying_out, timeout=RUN_MS)


def test_example_1_from_the_menu_runs_with_f5(qtbot, window):
    assert window.showing_start_page
    window.example_actions["square_sum"].trigger()
    assert not window.showing_start_page
    assert window.script_panel.path.name == "square_sum.py"
    result = run_to_end(qtbot, window)
    assert result.status == "ok"
    wait_for_graph(qtbot, window)
    names = {n.name for n in window.graph_view.graph.nodes}
    assert {"MulBackward0", "AddBackward0", "UnbindBackward0", "PowBackward0",
            "AccumulateGrad", "x"} <= names
    lines = window.console.text().splitlines(keepends=True)
    assert "".join(lines[1:4]) == EXAMPLE_1_OUTPUT  # after the "▶ square_sum.py" line
    graph = window.controller.trace.latest_graph
    assert window.selection.node == graph.root  # the loss is selected when a run ends
    assert window.status.state_text == "finished"
    assert window.status.steps_text == "1 step"
    assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
    # the node's creating line is marked in the script: y = x**2 is line 13
    pow_node = next(n for n in graph.nodes if n.name == "PowBackward0")
    window.selection.select_node(pow_node.id)
    assert window.script_panel.editor.marked_line(NODE) == 13


def test_shift_f5_stops_an_endless_script_and_it_runs_again(qtbot, window, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("print('spinning', flush=True)\nwhile True:\n    pass\n")
    assert window.open_script(script)
    with qtbot.waitSignal(window.controller.output, timeout=RUN_MS):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    assert window.controller.state == "running"
    assert window.stop_action.isEnabled() and not window.run_action.isEnabled()
    assert window.script_panel.editor.isReadOnly()
    start = time.monotonic()
    with qtbot.waitSignal(window.controller.finished, timeout=5_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    assert time.monotonic() - start < 2.0
    assert blocker.args[0].status == "stopped"
    assert not window.script_panel.editor.isReadOnly()
    window.open_script("square_sum")
    assert run_to_end(qtbot, window).status == "ok"


def test_actions_follow_the_state(qtbot, window):
    assert not window.run_action.isEnabled()  # nothing loaded
    assert not window.stop_action.isEnabled() and not window.step_node_action.isEnabled()
    assert not window.save_trace_action.isEnabled()
    assert not window.export_actions[".svg"].isEnabled()
    window.open_script("square_sum")
    assert window.run_action.isEnabled() and window.step_action.isEnabled()
    assert not window.pause_action.isEnabled()
    # F10 while idle: start, paused before the first backward()
    with qtbot.waitSignal(window.controller.paused, timeout=RUN_MS):
        qtbot.keyClick(window, Qt.Key.Key_F10)
    assert window.controller.state == "paused"
    assert window.run_action.isEnabled() and window.run_action.text() == "&Continue"
    assert window.step_node_action.isEnabled() and window.stop_action.isEnabled()
    assert not window.pause_action.isEnabled()
    assert window.script_panel.editor.marked_line(PAUSED) == 22  # o.backward()
    with qtbot.waitSignal(window.controller.paused, timeout=RUN_MS):
        qtbot.keyClick(window, Qt.Key.Key_F11)  # one node
    assert window.script_panel.editor.marked_line(PAUSED) == 22
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_MS):
        qtbot.keyClick(window, Qt.Key.Key_F5)  # continue
    assert window.run_action.text() == "&Run"
    assert window.save_trace_action.isEnabled()
    wait_for_graph(qtbot, window)
    assert window.export_actions[".svg"].isEnabled() and window.fit_action.isEnabled()


def test_layout_theme_and_recent_files_are_restored(qtbot, settings_path, tmp_path):
    script = tmp_path / "mine.py"
    script.write_text("print(1)\n")
    first = make_window(qtbot, settings_path)
    first.open_script(script)
    first.docks["loss"].hide()
    first.set_theme(theme.DARK)
    first.resize(1000, 700)
    assert first.close()
    assert settings_path.is_file()  # the temporary settings, never the user's

    theme.apply(theme.LIGHT)
    second = make_window(qtbot, settings_path)
    try:
        assert second.theme == theme.DARK and second.dark_theme_action.isChecked()
        assert theme.is_dark(QApplication.instance().palette())
        assert not second.docks["loss"].isVisible()
        assert second.docks["inspector"].isVisible()
        assert second.recent_files()[0] == str(script.resolve())
        assert [a.text() for a in second.recent_menu.actions()] == ["mine.py"]
        second.reset_layout_action.trigger()
        assert second.docks["loss"].isVisible()
    finally:
        second.shutdown()
        theme.apply(theme.LIGHT)


def test_stale_tab_bars_are_hidden(qtbot, window):
    from PySide6.QtWidgets import QTabBar

    qtbot.waitUntil(lambda: not window._stale_check_queued, timeout=2_000)
    bars = [b for b in window.findChildren(QTabBar, options=Qt.FindChildOption.
                                           FindDirectChildrenOnly) if b.isVisible()]
    titles = sorted(tuple(b.tabText(i) for i in range(b.count())) for b in bars)
    assert titles == [("Console", "Problems"), ("Inspector", "Gradients")]


def drag_and_drop(window, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = window.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos.toPointF(), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_dropping_a_py_file_loads_it(window, tmp_path):
    script = tmp_path / "dropped.py"
    script.write_text("import torch\nprint('dropped')\n")
    assert drag_and_drop(window, script)
    assert window.script_panel.path == script.resolve()
    assert not window.showing_start_page
    other = tmp_path / "notes.txt"
    other.write_text("not a script")
    assert not drag_and_drop(window, other)
    assert window.script_panel.path == script.resolve()


def test_post_mortem_trace_and_a_corrupt_one(qtbot, window, tmp_path):
    window.open_script("square_sum")
    run_to_end(qtbot, window)
    saved = tmp_path / "run.json"
    window.ask_path = lambda *args, **kwargs: str(saved)
    window.save_trace_action.trigger()
    assert json.loads(saved.read_text())  # a JSON trace

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "gradviz-trace", "version": 1, "graphs": [')
    trace_before = window.controller.trace
    assert not window.open_trace(corrupt)
    assert "Cannot open the trace corrupt.json" in window.message_text
    assert window.controller.trace is trace_before  # nothing lost
    assert window.controller.state == "finished"

    with qtbot.waitSignal(window.controller.trace_replaced, timeout=1_000):
        assert window.open_trace(saved)
    assert window.message_text == ""
    wait_for_graph(qtbot, window)
    assert window.graph_view.graph.node(window.graph_view.graph.root).name == "MulBackward0"
    assert window.selection.node == window.graph_view.graph.root


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_export_the_graph_in_every_format(qtbot, window, tmp_path):
    window.open_script("square_sum")
    run_to_end(qtbot, window)
    wait_for_graph(qtbot, window)
    for suffix, action in window.export_actions.items():
        out = tmp_path / f"graph{suffix}"
        window.ask_path = lambda *args, out=out, **kwargs: str(out)
        action.trigger()
        assert out.is_file() and out.stat().st_size > 100, suffix
    assert b"PowBackward0" in (tmp_path / "graph.svg").read_bytes()
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "graph.pdf").read_bytes()[:4] == b"%PDF"
    assert "digraph" in (tmp_path / "graph.dot").read_text()
    shot = tmp_path / "window.png"
    window.ask_path = lambda *args, **kwargs: str(shot)
    window.screenshot_action.trigger()
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_find_zoom_and_fit(qtbot, window):
    window.open_script("square_sum")
    run_to_end(qtbot, window)
    wait_for_graph(qtbot, window)
    window.find_action.trigger()
    qtbot.keyClicks(window._find, "pow")
    qtbot.keyClick(window._find, Qt.Key.Key_Return)
    node = window.selection.node
    assert window.graph_view.graph.node(node).name == "PowBackward0"
    qtbot.keyClick(window._find, Qt.Key.Key_Escape)
    assert not window._find_bar.isVisible()
    before = window.graph_view.zoom_level()
    window.zoom_in_action.trigger()
    assert window.graph_view.zoom_level() > before
    window.fit_action.trigger()


def test_start_page_lists_every_example_and_a_click_loads_it(qtbot, window):
    from gradviz.examples import all_examples

    page = window.start_page
    assert sorted(page.example_names()) == sorted(e.name for e in all_examples())
    assert set(window.example_actions) == {e.name for e in all_examples()}
    card = page.example_button("two_layer_net")
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert window.script_panel.path.name == "two_layer_net.py"
    assert not window.showing_start_page


def test_error_link_in_the_console_jumps_to_the_line(qtbot, window, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import torch\n\ndef f():\n    raise ValueError('boom')\n\nf()\n")
    window.open_script(script)
    result = run_to_end(qtbot, window)
    assert result.status == "error" and window.status.state_text == "error"
    console = window.console
    assert (str(script), 4) in console.links()
    window.script_panel.editor.go_to_line(1)
    found = console.document().find(f'File "{script}", line 4')
    cursor = QTextCursor(console.document())
    cursor.setPosition(found.selectionStart() + 2)
    console.ensureCursorVisible()
    pos = console.cursorRect(cursor).center()
    qtbot.mouseClick(console.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.script_panel.editor.current_line() == 4
    # and the app runs again at once
    window.open_script("square_sum")
    assert run_to_end(qtbot, window).status == "ok"


def test_a_syntax_error_is_reported_and_the_app_carries_on(qtbot, window, tmp_path):
    script = tmp_path / "syntax.py"
    script.write_text("x = (\n")
    window.open_script(script)
    result = run_to_end(qtbot, window)
    assert result.status == "error"
    assert "SyntaxError" in window.console.text()
    assert (str(script), 1) in window.console.links()


def test_a_missing_script_is_a_message_not_a_crash(window, tmp_path):
    assert not window.open_script(tmp_path / "missing.py")
    assert "no such file" in window.message_text


def test_closing_with_unsaved_changes_asks_first(qtbot, window, tmp_path):
    script = tmp_path / "mine.py"
    script.write_text("print(1)\n")
    window.open_script(script)
    window.script_panel.editor.insertPlainText("# unsaved\n")
    assert window.isWindowModified()
    window.script_panel.ask_unsaved = lambda name: CANCEL
    assert not window.close()
    assert window.isVisible()
    window.script_panel.ask_unsaved = lambda name: DISCARD
    assert window.close()
    assert script.read_text() == "print(1)\n"


def test_shortcuts_dialog_and_about(qtbot, window):
    dialog = window.show_shortcuts()
    table = dialog.findChild(QTableWidget)
    rows = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    assert rows["Run"] == "F5" and rows["Stop"] == "Shift+F5"
    assert rows["Step to next backward"] == "F10" and rows["Open script…"] == "Ctrl+O"
    dialog.close()
    box = window.show_about()
    assert "gradviz" in box.text()
    box.close()
