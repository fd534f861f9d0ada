"""The Problems panel: one row per diagnostic; one click selects the node and asks for the
script line."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from gradviz.diagnostics import Diagnostic  # noqa: E402
from gradviz.examples import find  # noqa: E402
from gradviz.protocol import Diagnosed, Finished, GraphChanged, StepRecorded  # noqa: E402
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.code_editor import NODE, PROBLEM  # noqa: E402
from ui.problems_panel import ProblemsPanel, severity  # noqa: E402
from ui.selection import Selection  # noqa: E402

TIMEOUT_MS = 60_000


@pytest.fixture
def panel(qtbot, controller):
    selection = Selection()
    p = ProblemsPanel(controller, selection)
    qtbot.addWidget(p)
    p.resize(700, 300)
    p.show()
    return p


def _graph(names) -> Graph:
    nodes = [GraphNode(i, ROOT if i == 0 else OP, n) for i, n in enumerate(names)]
    nodes.append(GraphNode(len(names), LEAF, "w"))
    edges = [(i + 1, i) for i in range(len(names))]
    return Graph(tuple(nodes), tuple(edges), 0)


def _feed(trace, graphs) -> None:
    """One step per graph."""
    for i, g in enumerate(graphs):
        trace.apply(GraphChanged(i, g))
        trace.apply(StepRecorded(Step(i, g.structure_hash, 1.0), [], False))


def click_row(qtbot, panel, row: int) -> None:
    tree = panel._tree
    rect = tree.visualItemRect(panel.item(row))
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_click_selects_the_node_and_requests_the_line(qtbot, panel, controller):
    g = _graph(["SumBackward0", "LogBackward0", "AccumulateGrad"])
    _feed(controller.trace, [g])
    d = Diagnostic("nan-or-inf", "LogBackward0 produced -inf", 1, 12, "/tmp/s.py", 0,
                   g.structure_hash, "LogBackward0")
    with qtbot.waitSignal(panel.diagnostics_changed) as changed:
        controller.trace.apply(Diagnosed(d))  # shown at once: the panel follows the trace
    assert changed.args[0] == [d]
    assert panel.row_count() == 1
    assert panel.item(0).text(0) == "NaN or Inf" and "line 12" in panel.item(0).text(1)
    with qtbot.waitSignal(panel.source_requested) as requested:
        click_row(qtbot, panel, 0)
    assert requested.args == ["/tmp/s.py", 12]
    assert panel.selection.node == 1
    assert panel.selection.step is None  # the latest graph already shows that node
    assert "produced -inf" in panel._detail.text()
    assert panel.badges(g.structure_hash) == {1: [d]}


def test_a_node_of_an_earlier_graph_shows_its_step(qtbot, panel, controller):
    first, second = _graph(["SumBackward0", "PowBackward0"]), _graph(["MeanBackward0"])
    _feed(controller.trace, [first, second])
    d = Diagnostic("dead-relu", "dead", 1, 3, "/tmp/s.py", 0, first.structure_hash,
                   "PowBackward0")
    controller.trace.apply(Diagnosed(d))
    with qtbot.waitSignal(panel.source_requested):
        click_row(qtbot, panel, 0)
    assert (panel.selection.step, panel.selection.node) == (0, 1)


def test_a_finding_without_node_only_marks_the_line(qtbot, panel, controller):
    controller.trace.script = "/tmp/s.py"
    d = Diagnostic("no-gradient", "w1 received no gradient", None, 7, None, 3, "", "w1")
    controller.trace.apply(Finished("ok", 0, None, [d.to_json()]))  # the list at the end
    assert panel.row_count() == 1
    with qtbot.waitSignal(panel.source_requested) as requested:
        click_row(qtbot, panel, 0)
    assert requested.args == ["/tmp/s.py", 7]
    assert panel.selection.node is None
    assert panel.badges() == {}


def test_real_run_then_a_new_run_clears_the_list(qtbot, panel, controller):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.run("bug_inplace_after_save")
    panel.refresh()
    assert [d.kind for d in panel.diagnostics] == ["inplace-modified"]
    with qtbot.waitSignal(panel.source_requested) as requested:
        click_row(qtbot, panel, 0)
    path = find("bug_inplace_after_save").path
    assert requested.args[0] == str(path)
    assert path.read_text().splitlines()[requested.args[1] - 1].startswith("a -= 0.5")
    graph = controller.trace.latest_graph
    assert graph.node(panel.selection.node).name == "SigmoidBackward0"

    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.run("square_sum")
    panel.refresh()
    assert panel.row_count() == 0 and panel.diagnostics == []
    assert panel._summary.text() == "No problems found"


def test_rows_carry_a_severity_icon_and_select_diagnostic_shows_a_row(qtbot, panel, controller):
    g = _graph(["SumBackward0", "ReluBackward0"])
    _feed(controller.trace, [g])
    found = [Diagnostic("dead-relu", "dead", 1, 3, "/tmp/s.py", 0, g.structure_hash),
             Diagnostic("backward-twice", "twice", 0, 4, "/tmp/s.py", 0, g.structure_hash)]
    for d in found:
        controller.trace.apply(Diagnosed(d))
    assert [severity(d.kind) for d in found] == ["warning", "error"]
    assert "(warning)" in panel.item(0).toolTip(0) and "(error)" in panel.item(1).toolTip(0)
    assert not panel.item(0).icon(0).isNull()
    with qtbot.assertNotEmitted(panel.source_requested):
        assert panel.select_diagnostic(found[1])
    assert panel.current_diagnostic() == found[1] and "twice" in panel._detail.text()
    assert not panel.select_diagnostic(Diagnostic("nan-or-inf", "not listed"))


# --- in the main window ---------------------------------------------------------------------

@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from ui.app import create_app
    from ui.script_panel import DISCARD

    settings = QSettings(str(tmp_path / "gradviz.ini"), QSettings.Format.IniFormat)
    _, w = create_app(settings=settings)
    qtbot.addWidget(w)
    w.script_panel.ask_unsaved = lambda name: DISCARD
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def on_screen(widget) -> bool:
    """Shown, and not behind another tab of its dock group (those stay isVisible())."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def _run(qtbot, window, target) -> None:
    assert window.open_script(target)
    with qtbot.waitSignal(window.controller.finished, timeout=TIMEOUT_MS):
        window.run_script()
    view = window.graph_view
    qtbot.waitUntil(lambda: view.graph is not None and not view.is_laying_out,
                    timeout=TIMEOUT_MS)


def test_one_click_from_the_message_to_the_node_and_the_line(qtbot, window, tmp_path):
    """A real bug example in the main window: its finding is badged on the graph; one click
    on the row selects the node (in view) and marks the finding's line; a click on the badge
    shows the row; the trace keeps the findings; a new run clears them."""
    view, panel, editor = window.graph_view, window.problems_panel, window.script_panel.editor
    _run(qtbot, window, "bug_inplace_after_save")
    [d] = panel.diagnostics
    assert d.kind == "inplace-modified"
    assert window.docks["problems"].windowTitle() == "Problems (1)"
    assert on_screen(panel)  # a run that found problems ends on their list
    assert view.problem_badge(d.node).diagnostics == [d]
    # the node's own line (the sigmoid) is not the finding's (the in-place op after it)
    assert view.graph.node(d.node).source.line != d.line

    window.selection.select_node(view.graph.root)
    with qtbot.waitSignal(panel.diagnostic_revealed, timeout=1_000):
        click_row(qtbot, panel, 0)
    assert window.selection.node == d.node and view.node_item(d.node).selected
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.node_item(d.node).sceneBoundingRect())
    # the finding's line is marked as a problem (red: an error), the node's own line as the
    # selected node's (blue)
    assert editor.marked_line(PROBLEM) == d.line == editor.current_line()
    assert editor.problem_severity() == "error"
    assert editor.marked_line(NODE) == view.graph.node(d.node).source.line
    assert editor.textCursor().block().text().startswith("a -= 0.5")

    # the badge leads back to the row
    window.selection.select_node(view.graph.root)
    window.docks["console"].raise_()
    assert not on_screen(panel)
    badge = view.problem_badge(d.node)
    pos = view.mapFromScene(badge.scenePos()) + badge.boundingRect().center().toPoint()
    with qtbot.waitSignal(view.problem_badge_clicked, timeout=1_000):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert on_screen(panel) and panel.current_diagnostic() == d
    assert window.selection.node == d.node and editor.marked_line(PROBLEM) == d.line

    # saved with the trace; a new run clears list and badges; the trace brings them back
    saved = tmp_path / "run.json"
    assert window.save_trace(saved)
    _run(qtbot, window, "square_sum")
    assert panel.diagnostics == [] and view.problem_badges() == {}
    assert editor.marked_line(PROBLEM) is None  # a new run: the old finding's mark is gone
    assert window.docks["problems"].windowTitle() == "Problems"
    with qtbot.waitSignal(view.layout_ready, timeout=TIMEOUT_MS):
        assert window.open_trace(saved)
    assert panel.diagnostics == [d]
    assert view.problem_badge(d.node).diagnostics == [d]


def test_a_badge_click_shows_the_findings_step_as_a_row_click_does(qtbot, window):
    """The gradient of w accumulates across steps: found at step 1. Looking at step 12 of
    the same graph, a click on the badge goes to step 1 (like the row), selects the node and
    marks the line as a warning."""
    view, panel, editor = window.graph_view, window.problems_panel, window.script_panel.editor
    _run(qtbot, window, "bug_forgot_zero_grad")
    d = panel.diagnostics[0]
    assert d.kind == "missing-zero-grad" and d.step == 1 and d.line is not None
    window.selection.show_step(12)
    window.selection.select_node(view.graph.root)
    qtbot.waitUntil(lambda: not view.is_laying_out, timeout=TIMEOUT_MS)
    badge = view.problem_badge(d.node)
    view.centerOn(badge.parentItem())
    pos = view.mapFromScene(badge.scenePos()) + badge.boundingRect().center().toPoint()
    with qtbot.waitSignal(window.selection.step_changed, timeout=1_000) as changed:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert changed.args == [1] and window.selection.step == 1
    assert window.selection.node == d.node and panel.current_diagnostic() == d
    assert editor.marked_line(PROBLEM) == d.line and editor.problem_severity() == "warning"
