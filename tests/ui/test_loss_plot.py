"""The loss plot: every step's loss, live, in a buffer that doubles; log axis by default over
more than three decades; TensorBoard's smoothing; hover read-out; click to show a step;
PNG/CSV export; non-finite losses marked along the edge with a note, and no warning."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.trace import LEAF, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.loss_plot import LossPlot, debiased_ema  # noqa: E402
from ui.selection import Selection  # noqa: E402

TIMEOUT_MS = 60_000


@pytest.fixture
def selection():
    return Selection()


@pytest.fixture
def plot(qtbot, controller, selection):
    p = LossPlot(controller, selection)
    qtbot.addWidget(p)
    p.resize(640, 320)
    p.show()
    qtbot.waitExposed(p)
    return p


def _feed(controller, losses, start=0):
    """Steps as the child would send them; emits steps_recorded as the controller does."""
    trace = controller.trace
    if not trace.graphs:
        graph = Graph((GraphNode(0, ROOT, "SumBackward0"), GraphNode(1, LEAF, "w")),
                      ((1, 0),), 0)
        trace.apply(GraphChanged(0, graph))
    structure = next(iter(trace.graphs))
    for i, loss in enumerate(losses, start):
        trace.apply(StepRecorded(Step(i, structure, float(loss), (0,)), [], False))
    controller.steps_recorded.emit(len(trace.steps) - 1)


def test_example_2_plots_500_falling_losses_on_a_log_axis(qtbot, controller, plot):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.run("two_layer_net")
    assert len(plot.losses) == 500
    assert list(plot.steps[:3]) == [0, 1, 2]
    xs, ys = plot.raw_curve.getOriginalDataset()
    assert len(xs) == 500
    assert plot.losses[-1] < plot.losses[0] * 1e-6  # about 3e7 down to 1e-3
    tail = plot.losses[20:]
    assert np.all(np.diff(tail) < 0)  # falling, step after step, once past the start
    assert plot.log_y  # more than three decades
    assert "500 steps" in plot.readout()


def test_live_updates_fill_a_doubling_buffer_with_one_setData_per_frame(
        qtbot, controller, plot, monkeypatch):
    calls = []
    original = plot.raw_curve.setData
    monkeypatch.setattr(plot.raw_curve, "setData",
                        lambda *a, **k: (calls.append(len(a[0])), original(*a, **k)))
    assert plot.capacity == 1024
    _feed(controller, np.linspace(2.0, 1.0, 1000))
    assert calls == [1000] and plot.capacity == 1024
    _feed(controller, np.linspace(1.0, 0.5, 2000), start=1000)
    assert calls == [1000, 3000] and plot.capacity == 4096
    assert not plot.log_y  # 2 down to 0.5: a linear axis
    _feed(controller, [1e-4], start=3000)  # now more than three decades
    assert plot.log_y
    plot.set_log_y(False)  # the person's choice sticks
    _feed(controller, [1e-5], start=3001)
    assert not plot.log_y


def test_debiased_ema_is_tensorboards():
    y = np.array([10.0, 0.0, 10.0, 0.0])
    out, state = debiased_ema(y, 0.5)
    # TensorBoard: last = last*w + (1-w)*v; debias = debias*w + (1-w); smoothed = last/debias
    assert out[0] == 10.0  # no pull towards the zero it starts from
    assert out[1] == pytest.approx(2.5 / 0.75)
    more, _ = debiased_ema(np.array([10.0]), 0.5, debiased_ema(y[:3], 0.5)[1])
    assert more[0] == pytest.approx(debiased_ema(np.append(y[:3], 10.0), 0.5)[0][-1])
    nan, _ = debiased_ema(np.array([1.0, np.nan, 1.0]), 0.9)
    assert np.isnan(nan[1]) and nan[2] == pytest.approx(1.0)


def test_smoothing_draws_a_smooth_curve_over_the_faint_raw_one(qtbot, controller, plot):
    rng = np.random.default_rng(0)
    _feed(controller, 1.0 + rng.normal(scale=0.2, size=400))
    assert not plot.curve.isVisible() or plot.smoothing == 0
    plot.set_smoothing(0.9)
    assert plot.curve.isVisible()
    smooth = plot.smoothed
    assert np.std(np.diff(smooth)) < np.std(np.diff(plot.losses)) / 5
    _feed(controller, [1.0] * 10, start=400)  # appended points continue the average
    assert len(plot.smoothed) == 410
    plot.set_smoothing(0)
    assert not plot.curve.isVisible()


def test_hover_reads_out_and_click_shows_the_step(qtbot, controller, selection, plot):
    _feed(controller, np.linspace(10.0, 1.0, 200))
    plot.plot_widget.getPlotItem().getViewBox().autoRange(padding=0)
    qtbot.waitUntil(lambda: plot.plot_widget.getPlotItem().getViewBox().viewRange()[0][1] > 150)
    vb = plot.plot_widget.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(QPointF(120.2, 5.0))
    plot._on_mouse_moved(scene_pos)
    assert plot.readout().startswith("<b>step 120</b> · loss ")
    widget_pos = plot.plot_widget.mapFromScene(scene_pos)
    qtbot.mouseClick(plot.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    qtbot.waitUntil(lambda: selection.step == 120, timeout=2_000)
    assert plot._marker.isVisible() and plot._marker.value() == 120


def test_export_png_and_csv(qtbot, controller, plot, tmp_path):
    _feed(controller, [4.0, 2.0, 1.0])
    plot.export_csv(tmp_path / "loss.csv")
    rows = list(csv.reader((tmp_path / "loss.csv").open()))
    assert rows == [["step", "loss"], ["0", "4.0"], ["1", "2.0"], ["2", "1.0"]]
    plot.set_smoothing(0.5)
    plot.export_csv(tmp_path / "smooth.csv")
    rows = list(csv.reader((tmp_path / "smooth.csv").open()))
    assert rows[0] == ["step", "loss", "smoothed"] and float(rows[1][2]) == 4.0
    plot.export_png(tmp_path / "loss.png")
    image = QImage(str(tmp_path / "loss.png"))
    assert image.width() >= 640 and len({image.pixel(x, image.height() // 2)
                                         for x in range(0, image.width(), 4)}) > 2


def test_a_new_run_starts_an_empty_plot(qtbot, controller, plot, tmp_path):
    _feed(controller, [3.0, 2.0])
    assert len(plot.losses) == 2
    path = tmp_path / "t.json"
    controller.trace = type(controller.trace)()
    controller.save_trace(path)
    controller.open_trace(path)
    assert len(plot.losses) == 0 and plot.readout() == ""


# --- non-finite losses -------------------------------------------------------------------------
def _marks(plot):
    """(step, y in view coordinates, symbol) of each edge mark."""
    data = plot.edge_marks.data
    return [(int(x), float(y), s) for x, y, s in zip(data["x"], data["y"], data["symbol"])]


def _view_y_range(plot):
    return plot.plot_widget.getPlotItem().getViewBox().viewRange()[1]


def test_all_nan_losses_show_a_note_and_marks_and_warn_nothing(qtbot, controller, plot,
                                                                 recwarn):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.run("bug_nan_from_log_of_zero")
    assert len(plot.losses) == 5 and np.isnan(plot.losses).all()
    plot.grab()  # paints: pyqtgraph measures every item's bounds now
    vb = plot.plot_widget.getPlotItem().getViewBox()
    plot._on_mouse_moved(vb.mapViewToScene(QPointF(2.0, 0.5)))  # hover a NaN step
    assert plot.readout().startswith("<b>step 2</b> · loss NaN")
    plot.grab()
    assert [str(w.message) for w in recwarn.list] == []  # "All-NaN slice" leaked before
    note = plot.note()
    assert "loss is NaN from step 0" in note
    assert "no finite loss to plot: all 5 steps are marked along the top edge" in note
    assert list(plot.nonfinite_steps) == [0, 1, 2, 3, 4]
    y0, y1 = _view_y_range(plot)
    marks = _marks(plot)
    assert [m[0] for m in marks] == [0, 1, 2, 3, 4]
    assert all(m[2] == "x" and (y0 + y1) / 2 < m[1] < y1 for m in marks)  # at the top edge
    assert not plot.plot_widget.getPlotItem().getAxis("left").style["showValues"]
    plot.leaveEvent(QEvent(QEvent.Type.Leave))
    assert plot.readout().endswith("5 steps · 5 not finite")


def test_a_loss_that_turns_non_finite_is_marked_from_that_step(qtbot, controller, plot,
                                                                recwarn):
    _feed(controller, [4.0, 2.0, 1.0, np.inf, np.nan, np.nan, -np.inf])
    plot.grab()
    assert recwarn.list == []
    assert "loss is not finite from step 3" in plot.note()
    assert "the last 4 steps are marked along the top (NaN, Inf) and bottom (-Inf) edges" \
        in plot.note()
    y0, y1 = _view_y_range(plot)
    middle = (y0 + y1) / 2
    marks = _marks(plot)
    assert [(m[0], m[2], m[1] > middle) for m in marks] == [
        (3, "t1", True), (4, "x", True), (5, "x", True), (6, "t", False)]
    # a short run marks its points: the finite ones only
    xs, ys = plot._points.getData()
    assert list(xs) == [0, 1, 2] and list(ys) == [4.0, 2.0, 1.0]
    assert plot.plot_widget.getPlotItem().getAxis("left").style["showValues"]
    assert plot.readout().endswith("7 steps · 4 not finite")
    _feed(controller, [0.5], start=7)  # finite again: no note, the marks stay
    assert plot.note() == "" and len(_marks(plot)) == 4


def test_a_long_nan_run_is_a_row_of_marks_not_one_per_step(qtbot, controller, plot, recwarn):
    _feed(controller, [np.nan] * 100_000)
    plot.grab()
    assert recwarn.list == []
    assert "all 100,000 steps" in plot.note()
    marks = _marks(plot)
    assert 50 < len(marks) < plot.width()  # one every few pixels
    assert marks[0][0] < 1_000 and marks[-1][0] > 99_000
    controller.trace = type(controller.trace)()  # a new run: no note, no marks
    controller.trace_replaced.emit()
    assert plot.note() == "" and _marks(plot) == []


def test_the_step_axis_ticks_whole_steps_only():
    from ui.loss_plot import StepAxis

    axis = StepAxis("bottom")
    for lo, hi in ((-0.5, 0.5), (-1.0, 1.0), (0.0, 3.0), (0.2, 0.8), (0.0, 50_000.0)):
        levels = axis.tickValues(lo, hi, 400)
        ticks = [v for _, values in levels for v in values]
        assert all(float(v).is_integer() for v in ticks), (lo, hi, ticks)
        assert all(lo <= v <= hi for v in ticks)
    assert [v for _, vs in axis.tickValues(-0.5, 0.5, 400) for v in vs] == [0.0]
    assert axis.tickValues(0.2, 0.8, 400) == [(1.0, [])]  # no whole step inside
