"""The script panel: editing and saving, read-only while a run is active, the marked lines,
the device selector, unsaved changes never lost, examples never written over."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Qt, Signal  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402

from gradviz.examples import find  # noqa: E402
from gradviz.protocol import GraphChanged, Paused, StepRecorded  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from gradviz.trace import Graph, GraphNode, Source, Step  # noqa: E402
from ui import theme  # noqa: E402
from ui.code_editor import NODE, PAUSED, PROBLEM  # noqa: E402
from ui.graph_items import problem_colors  # noqa: E402
from ui.script_panel import CANCEL, DISCARD, ScriptPanel  # noqa: E402
from ui.selection import Selection  # noqa: E402

SCRIPT = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\ny.backward()\n"


class FakeController(QObject):
    """The signals and attributes of ``SessionController`` the panel reads."""

    state_changed = Signal(str)
    paused = Signal(object)
    trace_replaced = Signal()
    steps_recorded = Signal(int)

    def __init__(self):
        super().__init__()
        self.state = "idle"
        self.trace = RunTrace()

    def set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


@pytest.fixture
def panel(qtbot):
    controller = FakeController()
    selection = Selection()
    p = ScriptPanel(controller, selection, gpu_problem_text="no GPU here: install CuPy")
    qtbot.addWidget(p)
    p.ask_unsaved = lambda name: pytest.fail(f"unexpected prompt about {name}")
    yield p
    p.close_files()


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def test_edit_and_ctrl_s_saves(qtbot, panel, script):
    assert panel.load(script)
    assert panel.text == SCRIPT and not panel.is_modified
    with qtbot.waitActive(panel):  # Ctrl+S is a window shortcut: the window must be active
        panel.show()
        panel.activateWindow()
    panel.editor.setFocus()
    panel.editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(panel.editor, "print(x.grad)")
    assert panel.is_modified
    qtbot.keyClick(panel.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not panel.is_modified
    assert script.read_text(encoding="utf-8") == SCRIPT + "print(x.grad)"


def test_read_only_while_running_and_editable_after(panel, script):
    panel.load(script)
    assert not panel.editor.isReadOnly()
    panel.controller.set_state("running")
    assert panel.editor.isReadOnly() and not panel.device_selector.isEnabled()
    panel.controller.set_state("paused")
    assert panel.editor.isReadOnly()
    panel.controller.set_state("finished")
    assert not panel.editor.isReadOnly() and panel.device_selector.isEnabled()


def test_paused_line_is_marked_while_stepping_and_cleared_after(panel, script):
    panel.load(script)
    c = panel.controller
    c.set_state("paused")
    c.paused.emit(Paused(0, "backward", source=Source(str(script), 4)))
    assert panel.editor.marked_line(PAUSED) == 4
    assert panel.editor.current_line() == 4
    # one node stepped: still inside that backward(), the mark stays
    c.set_state("running")
    c.set_state("paused")
    c.paused.emit(Paused(0, "node", node=1, position=0))
    assert panel.editor.marked_line(PAUSED) == 4
    c.set_state("running")  # continue: the backward completes, the script moves on
    c.steps_recorded.emit(0)
    assert panel.editor.marked_line(PAUSED) is None
    c.set_state("paused")
    c.paused.emit(Paused(1, "backward", source=Source(str(script), 4)))
    c.set_state("finished")
    assert panel.editor.marked_line(PAUSED) is None


def test_pause_in_another_file_marks_nothing(panel, script, tmp_path):
    panel.load(script)
    panel.controller.paused.emit(Paused(0, "backward", source=Source(str(tmp_path / "o.py"), 2)))
    assert panel.editor.marked_line(PAUSED) is None


def test_selected_node_marks_the_line_that_created_it(panel, script):
    panel.load(script)
    graph = Graph((GraphNode(0, "root", "SumBackward0", source=Source(str(script), 3)),
                   GraphNode(1, "op", "MulBackward0", source=Source(str(script), 3)),
                   GraphNode(2, "leaf", "x", (2,), source=Source(str(script), 2))),
                  ((2, 1), (1, 0)), 0)
    trace = panel.controller.trace
    trace.apply(GraphChanged(0, graph))
    trace.apply(StepRecorded(Step(0, graph.structure_hash, 2.0, (0, 1)), [], False))
    panel.selection.select_node(2)
    assert panel.editor.marked_line(NODE) == 2
    panel.selection.select_node(None)
    assert panel.editor.marked_line(NODE) is None


def contrast(a, b) -> float:
    """WCAG contrast ratio of two QColors (4.5 is the bar for normal text)."""
    def luminance(c):
        def channel(v):
            v /= 255
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def gutter_colors(editor, line: int) -> set[str]:
    """The colours painted in the line-number area beside ``line``."""
    image = editor.grab().toImage()
    block = editor.document().findBlockByNumber(line - 1)
    top = editor.contentsRect().top() + round(
        editor.blockBoundingGeometry(block).translated(editor.contentOffset()).top())
    height = round(editor.blockBoundingRect(block).height())
    left = editor.contentsRect().left()
    return {image.pixelColor(x, y).name() for x in range(left, left + editor.gutter_width())
            for y in range(top, top + height)}


def test_a_problem_line_is_marked_apart_from_the_nodes(qtbot, panel, script, tmp_path):
    panel.resize(520, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.load(script)
    editor = panel.editor
    editor.set_marked_line(NODE, 2)
    assert panel.mark_problem(str(script), 3, "error", "NaN or Inf: MulBackward0 made inf")
    assert editor.marked_line(PROBLEM) == 3 and editor.problem_severity() == "error"
    assert editor.marked_line(NODE) == 2  # the node's own line keeps its blue band
    assert editor.current_line() == 3
    pal = editor.palette()
    error, warning = (problem_colors(s, pal)[0] for s in ("error", "warning"))
    band = editor.mark_color(PROBLEM)
    assert band != editor.mark_color(NODE) and band != editor.mark_color(PAUSED)
    assert band.red() > band.green() and band.red() > band.blue()  # a red tint
    node_sel, problem_sel, squiggle = editor.extraSelections()
    assert node_sel.format.background().color() == editor.mark_color(NODE)
    assert problem_sel.format.background().color() == band
    # its code (not the indentation) is underlined with a wave of the severity's colour
    assert squiggle.cursor.selectedText() == "y = (x * 2).sum()"
    assert squiggle.format.underlineStyle() == squiggle.format.UnderlineStyle.WaveUnderline
    assert squiggle.format.underlineColor() == error
    # the Problems panel's marker in the gutter beside that line only, its message as tooltip
    assert error.name() in gutter_colors(editor, 3)
    assert error.name() not in gutter_colors(editor, 2)
    y = round(editor.blockBoundingGeometry(editor.document().findBlockByNumber(2))
              .translated(editor.contentOffset()).center().y())
    assert editor.gutter_tooltip(y) == "NaN or Inf: MulBackward0 made inf"
    assert editor.gutter_tooltip(y - 3 * editor.fontMetrics().height()) == ""

    # a warning is amber, in the gutter too
    panel.mark_problem(str(script), 3, "warning")
    band = editor.mark_color(PROBLEM)
    assert band.red() > band.blue() and band.green() > band.blue()
    assert warning.name() in gutter_colors(editor, 3)
    # paused on the same line: the debugger's band shows over the problem's
    editor.set_marked_line(PAUSED, 3)
    assert editor.extraSelections()[-1].format.background().color() == editor.mark_color(
        PAUSED)
    editor.set_marked_line(PAUSED, None)

    # another file's line marks nothing; a bad severity is an error
    assert not panel.mark_problem(str(tmp_path / "other.py"), 1, "error")
    assert editor.marked_line(PROBLEM) == 3
    with pytest.raises(ValueError):
        editor.set_marked_line(PROBLEM, 2, severity="fatal")
    # a new run clears it (and the others)
    panel.controller.trace_replaced.emit()
    assert editor.marked_line(PROBLEM) is None and editor.problem_severity() is None
    assert editor.marked_line(NODE) is None and editor.extraSelections() == []
    # and so does another script
    panel.mark_problem(str(script), 2, "error")
    panel.load(script)
    assert editor.marked_line(PROBLEM) is None


@pytest.mark.parametrize("name", theme.THEMES)
def test_problem_lines_read_in_both_themes(panel, script, name):
    panel.load(script)
    editor = panel.editor
    pal = theme.palette(name)
    editor.setPalette(pal)
    text = pal.color(pal.ColorRole.Text)
    for severity in ("error", "warning"):
        editor.set_marked_line(PROBLEM, 3, severity=severity)
        band = editor.mark_color(PROBLEM)
        assert contrast(band, text) >= 7.0, (name, severity, band.name())
        # tinted, unlike the other marks and the plain background (the gutter marker and
        # the wave underline tell it from the paused line's amber)
        for other in (editor.mark_color(NODE), editor.mark_color(PAUSED),
                      pal.color(pal.ColorRole.Base)):
            assert band.name() != other.name()
        band_sel, squiggle = editor.extraSelections()
        assert band_sel.format.background().color() == band
        assert squiggle.format.underlineColor() == problem_colors(severity, pal)[0]


def test_gpu_disabled_with_the_reason(panel):
    gpu = panel.device_selector.model().item(1)
    assert not gpu.isEnabled()
    assert gpu.toolTip() == "no GPU here: install CuPy"
    assert "no GPU here" in panel.device_selector.toolTip()
    assert not panel.set_device("cuda") and panel.device == "cpu"


def test_gpu_selectable_where_available(qtbot):
    p = ScriptPanel(FakeController(), Selection(), gpu_problem_text=None)
    qtbot.addWidget(p)
    assert p.set_device("cuda") and p.device == "cuda"


def test_real_gpu_check_uses_the_engines_sentence(qtbot):
    import engine.cuda
    from engine._device import CUDA_HELP

    p = ScriptPanel(FakeController(), Selection())
    qtbot.addWidget(p)
    if engine.cuda.is_available():
        assert p.gpu_problem is None
    else:
        assert p.gpu_problem == CUDA_HELP


def test_unsaved_changes_are_never_lost_silently(panel, script, tmp_path):
    other = tmp_path / "other.py"
    other.write_text("print('other')\n", encoding="utf-8")
    panel.load(script)
    panel.editor.insertPlainText("# edited\n")
    asked = []
    panel.ask_unsaved = lambda name: asked.append(name) or CANCEL
    assert not panel.load(other)
    assert asked == ["train.py"] and panel.path == script.resolve()
    assert panel.text.startswith("# edited")
    panel.ask_unsaved = lambda name: DISCARD
    assert panel.load(other)
    assert panel.text == "print('other')\n"
    assert script.read_text(encoding="utf-8") == SCRIPT  # discarded, not written


def test_run_saves_a_script_of_ones_own_first(panel, script):
    panel.load(script)
    panel.editor.insertPlainText("# edited\n")
    assert panel.run_target() == script.resolve()
    assert script.read_text(encoding="utf-8").startswith("# edited")
    assert not panel.is_modified


def test_an_edited_example_runs_from_a_copy_and_is_never_written(panel):
    example = find("square_sum")
    original = example.path.read_text(encoding="utf-8")
    panel.load("square_sum")
    assert panel.is_example
    panel.editor.insertPlainText("# my note\n")
    target = panel.run_target()
    assert target != example.path and target.name == "square_sum.py"
    assert target.read_text(encoding="utf-8").startswith("# my note")
    assert example.path.read_text(encoding="utf-8") == original
    assert panel.shows_file(str(target))  # tracebacks from the copy land in the panel
    saved_to = []
    panel.ask_save_path = lambda suggested: saved_to.append(suggested) or ""
    assert not panel.save()  # an example is saved elsewhere: the dialog was asked
    assert saved_to and example.path.read_text(encoding="utf-8") == original


def test_save_as_moves_to_the_new_file(panel, tmp_path):
    panel.load("square_sum")
    panel.editor.insertPlainText("# mine\n")
    assert panel.save_as(tmp_path / "mine.py")
    assert panel.path == (tmp_path / "mine.py").resolve() and not panel.is_example
    assert not panel.is_modified


def test_show_source_goes_to_the_line(panel, script, tmp_path):
    panel.load(script)
    assert panel.show_source(str(script), 3)
    assert panel.editor.current_line() == 3
    assert not panel.show_source(str(tmp_path / "elsewhere.py"), 1)


def test_missing_file_raises_and_keeps_the_text(panel, script, tmp_path):
    from gradviz.scripts import ScriptError

    panel.load(script)
    with pytest.raises(ScriptError):
        panel.load(tmp_path / "missing.py")
    assert panel.text == SCRIPT


def test_highlighter_colours_keywords_strings_and_comments(panel, script):
    panel.load(script)
    panel.editor.setPlainText('def f():\n    return "s"  # note\n')
    colors = theme.colors(panel.editor.palette()).syntax

    def color_at(line: int, column: int):
        block = panel.editor.document().findBlockByNumber(line)
        for r in block.layout().formats():
            if r.start <= column < r.start + r.length:
                return r.format.foreground().color().name()
        return None

    assert color_at(0, 0) == colors["keyword"].name()  # def
    assert color_at(0, 4) == colors["definition"].name()  # f
    assert color_at(1, 12) == colors["string"].name()  # "s"
    assert color_at(1, 18) == colors["comment"].name()  # # note


def test_triple_quoted_string_spans_lines(panel):
    panel.editor.setPlainText('x = """\nif while\n"""\nif x: pass\n')
    colors = theme.colors(panel.editor.palette()).syntax
    inside = panel.editor.document().findBlockByNumber(1).layout().formats()
    assert all(r.format.foreground().color() == colors["string"] for r in inside)
    after = panel.editor.document().findBlockByNumber(3).layout().formats()
    assert after[0].format.foreground().color() == colors["keyword"]
