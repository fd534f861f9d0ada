"""The inspector and its heatmap: values and statistics from real runs, links, the reasons
shown when there are no values, and a large matrix drawn as a heatmap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QMouseEvent  # noqa: E402

from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from gradviz.trace import Step  # noqa: E402
from ui.heatmap import Heatmap  # noqa: E402
from ui.inspector import NO_VALUES, STAT_ROWS, Inspector, fmt  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

RUN_MS = 60_000


@pytest.fixture
def inspector(qtbot, controller):
    selection = Selection()
    widget = Inspector(controller, selection)
    qtbot.addWidget(widget)
    widget.resize(380, 720)
    widget.show()
    return widget, selection


def run(qtbot, controller, target, **kw):
    with qtbot.waitSignal(controller.finished, timeout=RUN_MS):
        controller.run(target, **kw)


def node_id(controller, name):
    graph = controller.trace.latest_graph
    return next(n.id for n in graph.nodes if n.name == name)


def stat(widget, row_name, column):
    return widget._stats.item(STAT_ROWS.index(row_name), column).text()


def table_values(pane):
    t = pane.table
    return [[t.item(i, j).text() for j in range(t.columnCount())] for i in range(t.rowCount())]


def test_example_1_leaf_shows_data_and_grad_equal_to_the_engine(qtbot, controller, inspector):
    widget, selection = inspector
    assert "backward()" in widget._placeholder.text()
    run(qtbot, controller, "square_sum")
    selection.select_node(node_id(controller, "x"))
    assert widget.node_id == selection.node
    assert widget._title.text() == "x"
    # x = [2, 4]; do/dx = x = [2, 4], as PyTorch prints
    assert widget._data_pane.currentWidget() is widget._data_pane.table
    assert table_values(widget._data_pane) == [["2"], ["4"]]
    assert table_values(widget._grad_pane) == [["2"], ["4"]]
    assert stat(widget, "min", 0) == "2" and stat(widget, "max", 0) == "4"
    assert stat(widget, "mean", 1) == "3" and stat(widget, "std", 1) == "1"
    assert stat(widget, "norm", 1) == fmt(float(np.hypot(2, 4)))
    assert stat(widget, "NaN / Inf", 0) == "0"
    assert "shape" in widget._facts.text() and "(2)" in widget._facts.text()
    assert "float32" in widget._facts.text() and "version" in widget._facts.text()
    assert "AccumulateGrad" in widget._relations.text()
    widget.grab()


def test_op_node_shows_grad_fn_inputs_saved_tensors_and_source(qtbot, controller, inspector):
    widget, selection = inspector
    run(qtbot, controller, "square_sum")
    pow_id = node_id(controller, "PowBackward0")
    selection.select_node(pow_id)
    assert "&lt;PowBackward0&gt;" in widget._subtitle.text()
    assert "square_sum.py:13" in widget._subtitle.text()
    assert table_values(widget._data_pane) == [["4"], ["16"]]
    # no .grad on a non-leaf, but the gradient that reached it in the (detailed) last step
    assert widget._stats.horizontalHeaderItem(1).text() == "grad flowing in"
    assert stat(widget, "max", 1) == "0.5"
    relations = widget._relations.text()
    assert "next_functions" in relations and "AccumulateGrad" in relations
    assert "saved0 (2)" in relations
    # the source link asks the main window to show the line
    with qtbot.waitSignal(widget.source_requested, timeout=1_000) as blocker:
        widget._subtitle.linkActivated.emit("source:")
    assert blocker.args[0].endswith("square_sum.py") and blocker.args[1] == 13
    # an input link selects that node
    acc = node_id(controller, "AccumulateGrad")
    widget._relations.linkActivated.emit(f"node:{acc}")
    assert selection.node == acc and widget._title.text() == "AccumulateGrad"


def test_two_layer_net_weights_as_heatmaps_with_stats(qtbot, controller, inspector):
    widget, selection = inspector
    run(qtbot, controller, "two_layer_net")
    values = controller.trace.values.values
    w1 = node_id(controller, "w1")
    selection.select_node(w1)
    data = values[w1]["data"]
    assert data.shape == (1000, 100)
    assert widget._data_pane.currentWidget() is widget._data_pane.heatmap
    assert widget._data_pane.heatmap.array.shape == (1000, 100)
    assert stat(widget, "norm", 0) == fmt(float(np.linalg.norm(data.astype(np.float64))))
    assert stat(widget, "std", 0) == fmt(float(data.astype(np.float64).std()))
    assert "500" in widget._facts.text()  # version: w1 -= ... ran 500 times
    widget._tabs.setCurrentIndex(1)
    widget.grab()  # w1.grad was zeroed after the last update: an all-zero heatmap


def test_a_node_without_values_says_why(qtbot, controller, inspector):
    widget, selection = inspector
    graph_source = SessionController()
    run(qtbot, graph_source, "square_sum")
    graph = graph_source.trace.latest_graph
    graph_source.shutdown()
    trace = RunTrace()  # the graph, but no values message
    trace.apply(GraphChanged(0, graph))
    trace.apply(StepRecorded(Step(0, graph.structure_hash, 10.0, ()), [], False))
    controller.trace = trace
    controller.trace_replaced.emit()
    selection.select_node(graph.root)
    assert widget._title.text() == "MulBackward0"
    assert NO_VALUES in widget._note.text()
    assert widget._data_pane.message.text() == NO_VALUES
    assert stat(widget, "norm", 0) == "—"


def test_selecting_while_paused_requests_values(qtbot, controller, inspector):
    widget, selection = inspector
    with qtbot.waitSignal(controller.paused, timeout=RUN_MS):
        controller.run("two_layer_net", pause_at_start=True)
    with qtbot.waitSignal(controller.paused, timeout=RUN_MS):
        controller.step_backward()  # one backward done, paused before the next
    assert controller.trace.values is None
    w2 = node_id(controller, "w2")
    with qtbot.waitSignal(controller.values_changed, timeout=RUN_MS):
        selection.select_node(w2)
    assert w2 in controller.trace.values.values
    assert widget._grad_pane.currentWidget() is widget._grad_pane.heatmap  # (100, 10)
    assert stat(widget, "norm", 1) != "—"
    controller.stop()


def test_heatmap_renders_a_large_matrix(qtbot):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((1000, 100))
    m[10, 20] = 50.0  # an outlier does not wash the rest out
    heatmap = Heatmap()
    qtbot.addWidget(heatmap)
    heatmap.resize(420, 300)
    heatmap.set_array(m)
    heatmap.show()
    image = heatmap.image()
    assert (image.width(), image.height()) == (100, 1000)
    assert heatmap.limit < 10
    red = QColor(image.pixel(20, 10))
    assert red.red() > 150 and red.blue() < 80  # positive: red
    neg = tuple(np.argwhere(m < -heatmap.limit)[0])
    blue = QColor(image.pixel(int(neg[1]), int(neg[0])))
    assert blue.blue() > 150 and blue.red() < 80  # negative: blue
    picture = heatmap.grab()
    assert picture.width() == 420
    r = heatmap.map_rect()
    pos = QPointF(r.left() + r.width() * 0.25, r.top() + r.height() * 0.5)
    row, col, value = heatmap.value_at(pos)
    assert (row, col) == (500, 25) and value == pytest.approx(m[500, 25])
    with qtbot.waitSignal(heatmap.hovered, timeout=1_000) as blocker:
        event = QMouseEvent(QEvent.Type.MouseMove, pos, heatmap.mapToGlobal(pos),
                            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
        heatmap.mouseMoveEvent(event)
    assert blocker.args[0][:2] == (500, 25)
    heatmap.set_array(np.array([np.nan, 1.0, -1.0]))  # NaN is grey, not an error
    assert QColor(heatmap.image().pixel(0, 0)).name() == "#808080"
