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
from ui.problems_panel import ProblemsPanel  # noqa: E402
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
