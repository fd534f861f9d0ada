"""The loss of every step, live while the script runs (pyqtgraph).

The curve is created once. Losses are copied from ``controller.trace`` into numpy buffers
that double when full, and the curve gets one ``setData`` per ``steps_recorded`` (which the
controller emits at most once a frame). ``setDownsampling(method="peak")`` and
``setClipToView(True)`` keep a redraw of 100,000 points under a frame's time
(``benchmarks/loss_plot_redraw.py``).

The y axis is logarithmic by default when the losses span more than three decades (Example
2 falls from about 3e7 to 1e-3) until the person picks otherwise. Smoothing is TensorBoard's
debiased exponential moving average; on a log axis it averages the logarithm, so the smooth
curve follows the raw one on the scale it is seen at. Hovering reads out the step and loss
under the cursor; a click shows that step everywhere (``selection.show_step``).

A non-finite loss draws no point: such steps are marked along the plot's edge instead (NaN
and Inf at the top, -Inf at the bottom, at most one mark every few pixels), and while the
latest loss is not finite a note says since when ("loss is NaN from step 0"), centred when
there is no finite loss to draw at all. Markers for the few points of a short run are drawn
for finite losses only: pyqtgraph's scatter bounds warn "All-NaN slice" otherwise.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme
from .backward_animation import format_number

LOG_DECADES = 3.0
INITIAL_CAPACITY = 1024


def debiased_ema(values: np.ndarray, weight: float, state=(0.0, 0.0)):
    """TensorBoard's smoothing: an exponential moving average started from zero and divided
    by the weight it has accumulated, so the first points are not pulled towards zero.
    Returns (smoothed, state); pass ``state`` back to continue over appended values."""
    last, debias = state
    out = np.empty(len(values))
    w, k = float(weight), 1.0 - float(weight)
    for i, v in enumerate(values.tolist()):
        if v != v or v in (math.inf, -math.inf):  # a NaN loss must not poison what follows
            out[i] = v
            continue
        last = last * w + k * v
        debias = debias * w + k
        out[i] = last / debias
    return out, (last, debias)


class StepAxis(pg.AxisItem):
    """The step axis: steps are whole numbers, so a short run (or a zoom into a few steps)
    gets ticks at whole steps only, never 0.5 or 1.5."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph's override
        levels = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing < 1:
                continue  # finer than a step: no ticks of its own
            whole = [v for v in values if float(v).is_integer()]
            if whole:
                levels.append((spacing, whole))
        if not levels:  # a range under one step: the whole steps inside it
            first, last = math.ceil(minVal), math.floor(maxVal)
            levels = [(1.0, [float(v) for v in range(first, last + 1)])]
        return levels


FEW_POINTS = 50
EDGE_INSET_PX = 7  # a non-finite step's mark sits this far inside the plot's edge
EDGE_SPACING_PX = 3  # at most one mark of a kind per this many pixels
NOTE_SIDE_PX = 24  # the note keeps this far from the plot's sides (the loss axis is left)
NAN, POS_INF, NEG_INF = 0, 1, 2
_EDGE_SYMBOLS = {NAN: "x", POS_INF: "t1", NEG_INF: "t"}  # ×, ▲ (top), ▼ (bottom)


def _nonfinite_kinds(y: np.ndarray) -> np.ndarray:
    """NAN, POS_INF or NEG_INF for each of ``y`` (all of them non-finite)."""
    return np.where(np.isnan(y), NAN, np.where(y > 0, POS_INF, NEG_INF))


class LossPlot(QWidget):
    """The loss curve for ``controller``'s run; clicking a point shows its step.

    ``steps``/``losses``/``smoothed`` are the data drawn; ``log_y``, ``set_log_y``,
    ``smoothing``, ``set_smoothing``, ``export_png``, ``export_csv`` what the toolbar does.
    """

    def __init__(self, controller, selection, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self._x = np.empty(INITIAL_CAPACITY)
        self._y = np.empty(INITIAL_CAPACITY)
        self._s = np.empty(INITIAL_CAPACITY)  # smoothed, in displayed units
        self._n = 0
        self._bad = np.empty(0, dtype=np.intp)  # indices of the non-finite losses
        self._last_finite = -1  # index of the latest finite loss
        self._smooth_state = (0.0, 0.0)
        self._smoothing = 0.0
        self._log_choice: bool | None = None  # None: automatic
        self._log = False
        self._hovering = False

        self._plot = pg.PlotWidget(axisItems={"bottom": StepAxis("bottom")})
        self._plot.setMenuEnabled(False)
        # pyqtgraph's "A" button (bottom left, shown after a zoom or pan) returns to the
        # auto-range that follows the run
        item = self._plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.getViewBox().setAutoVisible(y=True)  # zoomed into some steps: y fits those
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        self.raw_curve = item.plot([], [])
        self.curve = item.plot([], [])  # the smoothed curve when smoothing, else unused
        for c in (self.raw_curve, self.curve):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            c.setSkipFiniteCheck(True)  # NaN losses break the line; checking costs a pass
        self._marker = pg.InfiniteLine(angle=90, movable=False)
        self._marker.hide()
        item.addItem(self._marker, ignoreBounds=True)
        self._hover = pg.ScatterPlotItem(size=8)
        item.addItem(self._hover, ignoreBounds=True)
        # a short run's points, marked; only the finite ones (see the module docstring)
        self._points = item.plot([], [], pen=None, symbol="o", symbolSize=7)
        # the non-finite steps, along the edge: view coordinates, placed on every range change
        self.edge_marks = pg.ScatterPlotItem(size=9)
        item.addItem(self.edge_marks, ignoreBounds=True)
        item.getViewBox().sigRangeChanged.connect(self._place_edge_marks)
        item.getViewBox().sigResized.connect(self._place_edge_marks)
        self._plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        self._readout = QLabel()
        self._readout.setMinimumWidth(1)  # a long read-out must not widen the dock it is in
        self._readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._log_box = QCheckBox("Log scale")
        self._log_box.setToolTip("Logarithmic loss axis (on by itself when the losses span "
                                 "more than three decades)")
        self._log_box.toggled.connect(self._on_log_toggled)
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(0, 99)
        self._slider.setFixedWidth(110)
        self._slider.setToolTip("Smoothing: debiased exponential moving average, as "
                                "TensorBoard's (0 = off)")
        self._slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        self._smooth_label = QLabel()
        self._smooth_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.99 ") + 2)
        export = QToolButton()
        export.setText("Export")
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Picture (PNG)…", self._ask_png)
        menu.addAction("Data (CSV)…", self._ask_csv)
        export.setMenu(menu)
        self._export_button = export

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.setSpacing(8)
        bar.addWidget(self._readout, 1)
        bar.addWidget(self._log_box)
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self._slider)
        bar.addWidget(self._smooth_label)
        bar.addWidget(export)
        self._empty = QLabel("The loss of every backward() appears here, live, once a "
                             "script runs.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)
        self._note = QLabel()  # "loss is NaN from step N", over the plot
        self._note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._note.setTextFormat(Qt.TextFormat.RichText)
        self._note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._note.hide()
        plot_area = QWidget()
        self._plot_grid = QGridLayout(plot_area)
        self._plot_grid.setContentsMargins(0, 0, 0, 0)
        self._plot_grid.addWidget(self._plot, 0, 0)
        self._plot_grid.addWidget(self._note, 0, 0, Qt.AlignmentFlag.AlignCenter)  # on top
        self._stack = QStackedWidget()
        self._stack.addWidget(self._empty)
        self._stack.addWidget(plot_area)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self._stack, 1)

        self._apply_palette()
        self.set_smoothing(0.0)
        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.steps_recorded.connect(self._on_steps_recorded)
        controller.finished.connect(self._on_steps_recorded)
        selection.step_changed.connect(self._on_step_changed)
        self._on_trace_replaced()

    # --- reading ----------------------------------------------------------------------------
    @property
    def steps(self) -> np.ndarray:
        return self._x[:self._n]

    @property
    def losses(self) -> np.ndarray:
        return self._y[:self._n]

    @property
    def smoothed(self) -> np.ndarray:
        """The smoothed losses (in loss units), or the losses when smoothing is off."""
        s = self._s[:self._n]
        return 10.0 ** s if self._log and self._smoothing > 0 else (
            s if self._smoothing > 0 else self.losses)

    @property
    def capacity(self) -> int:
        return len(self._x)

    @property
    def log_y(self) -> bool:
        return self._log

    @property
    def smoothing(self) -> float:
        return self._smoothing

    @property
    def plot_widget(self) -> pg.PlotWidget:
        return self._plot

    def readout(self) -> str:
        return self._readout.text()

    def note(self) -> str:
        """The note over the plot while the latest loss is not finite, else ""."""
        return self._note.text() if not self._note.isHidden() else ""

    @property
    def nonfinite_steps(self) -> np.ndarray:
        """The steps whose loss is NaN or infinite, marked along the plot's edge."""
        return self._x[self._bad].astype(int)

    # --- commands ---------------------------------------------------------------------------
    def set_log_y(self, on: bool | None) -> None:
        """Log loss axis on/off; None goes back to choosing from the data."""
        self._log_choice = on
        self._update_log()

    def set_smoothing(self, weight: float) -> None:
        """0 (off) to 0.99."""
        self._smoothing = min(max(float(weight), 0.0), 0.99)
        if self._slider.value() != round(self._smoothing * 100):
            self._slider.blockSignals(True)
            self._slider.setValue(round(self._smoothing * 100))
            self._slider.blockSignals(False)
        self._smooth_label.setText(f"{self._smoothing:.2f}" if self._smoothing else "off")
        self._resmooth()
        self.redraw()

    def export_png(self, path) -> None:
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self._plot.getPlotItem())
        exporter.parameters()["width"] = max(self._plot.width(), 800)
        exporter.export(str(path))

    def export_csv(self, path) -> None:
        with Path(path).open("w", newline="") as f:
            out = csv.writer(f)
            smoothing = self._smoothing > 0
            out.writerow(["step", "loss"] + (["smoothed"] if smoothing else []))
            sm = self.smoothed
            for i in range(self._n):
                row = [int(self._x[i]), repr(float(self._y[i]))]
                if smoothing:
                    row.append(repr(float(sm[i])))
                out.writerow(row)

    def redraw(self) -> None:
        """Hand the buffers to the curves (one ``setData`` each)."""
        n = self._n
        x, y = self._x[:n], self._y[:n]
        if self._smoothing > 0:
            s = self._s[:n]
            self.curve.setData(x, 10.0 ** s if self._log else s)
            self.curve.show()
            self.raw_curve.setPen(self._faint_pen)  # raw behind the smooth, as TensorBoard
            self.raw_curve.setData(x, y)
        else:
            self.curve.hide()
            self.raw_curve.setPen(self._raw_pen)
            self.raw_curve.setData(x, y)
        # a few steps (Example 1 has one) draw no visible line: mark each point
        if 0 < n <= FEW_POINTS:
            keep = np.isfinite(y) & (y > 0 if self._log else True)
            self._points.setData(x[keep], y[keep])
        else:
            self._points.setData([], [])
        if n == 1:  # autorange around one x gives a meaningless -400..400 axis
            self._plot.getPlotItem().setXRange(float(x[0]) - 1, float(x[0]) + 1, padding=0)
        self._stack.setCurrentIndex(1 if n else 0)
        self._place_edge_marks()
        self._update_note()

    # --- data -------------------------------------------------------------------------------
    def _pull(self) -> bool:
        trace = self.controller.trace
        losses, steps = trace.losses, trace.loss_steps
        n_new = len(losses)
        if n_new == self._n:
            return False
        if n_new < self._n:  # never expected; start over rather than show nonsense
            self._clear()
        if n_new > len(self._x):
            cap = len(self._x)
            while cap < n_new:
                cap *= 2
            for name in ("_x", "_y", "_s"):
                grown = np.empty(cap)
                grown[:self._n] = getattr(self, name)[:self._n]
                setattr(self, name, grown)
        start = self._n
        self._x[start:n_new] = steps[start:n_new]
        self._y[start:n_new] = losses[start:n_new]
        self._n = n_new
        finite = np.isfinite(self._y[start:n_new])
        if not finite.all():
            self._bad = np.concatenate([self._bad, start + np.flatnonzero(~finite)])
        if finite.any():
            self._last_finite = start + int(np.flatnonzero(finite)[-1])
        if not self._update_log() and self._smoothing > 0:
            self._smooth_from(start)
        return True

    def _resmooth(self) -> None:
        self._smooth_state = (0.0, 0.0)
        if self._smoothing > 0:
            self._smooth_from(0)

    def _smooth_from(self, start: int) -> None:
        y = self._y[start:self._n]
        if self._log:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(np.where(y > 0, y, np.nan))
        out, self._smooth_state = debiased_ema(y, self._smoothing, self._smooth_state)
        self._s[start:self._n] = out

    def _update_log(self) -> bool:
        """Apply the log choice; True if the axis changed (and the smoothing was redone)."""
        if self._log_choice is not None:
            log = self._log_choice
        else:
            y = self._y[:self._n]
            y = y[np.isfinite(y)]
            log = bool(len(y) > 1 and y.min() > 0
                       and math.log10(y.max() / y.min()) > LOG_DECADES)
        if log == self._log:
            return False
        self._log = log
        self._plot.getPlotItem().setLogMode(x=False, y=log)
        self._log_box.blockSignals(True)
        self._log_box.setChecked(log)
        self._log_box.blockSignals(False)
        self._resmooth()
        self.redraw()
        return True

    def _clear(self) -> None:
        self._n = 0
        self._bad = np.empty(0, dtype=np.intp)
        self._last_finite = -1
        self._smooth_state = (0.0, 0.0)

    # --- non-finite losses ------------------------------------------------------------------
    def _place_edge_marks(self, *_args) -> None:
        """Mark the visible non-finite steps along the edge: NaN and Inf at the top, -Inf at
        the bottom. Called when the data or the view range change."""
        bad = self._bad
        if not len(bad):
            if len(self.edge_marks.data):
                self.edge_marks.setData([], [])
            return
        vb = self._plot.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        px_w, px_h = vb.viewPixelSize()
        xs = self._x[bad]
        lo, hi = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
        xs = xs[lo:hi]
        kinds = _nonfinite_kinds(self._y[bad[lo:hi]])
        if len(xs) > 1 and math.isfinite(px_w) and px_w > 0:
            # thinned to one mark of a kind per few pixels: 100,000 NaN steps are a row of
            # marks, not 100,000 symbols to draw on every range change
            column = ((xs - x0) / (EDGE_SPACING_PX * px_w)).astype(np.int64)
            _, first = np.unique(column * 3 + kinds, return_index=True)
            first.sort()
            xs, kinds = xs[first], kinds[first]
        inset = EDGE_INSET_PX * px_h if math.isfinite(px_h) else 0.0
        ys = np.where(kinds == NEG_INF, y0 + inset, y1 - inset)
        self.edge_marks.setData(x=xs, y=ys, symbol=[_EDGE_SYMBOLS[k] for k in kinds.tolist()])

    def _edge_y(self, loss: float) -> float:
        """Where ``loss``'s mark is, in view coordinates (a non-finite loss)."""
        vb = self._plot.getPlotItem().getViewBox()
        (_, _), (y0, y1) = vb.viewRange()
        px_h = vb.viewPixelSize()[1]
        inset = EDGE_INSET_PX * px_h if math.isfinite(px_h) else 0.0
        return y0 + inset if loss == -math.inf else y1 - inset

    def _update_note(self) -> None:
        """"loss is NaN from step N" while the latest loss is not finite."""
        n, first = self._n, self._last_finite + 1
        # no finite loss: the loss axis has no scale, and its 0..1 numbers would mislead
        scaled = n == 0 or self._last_finite >= 0
        axis = self._plot.getPlotItem().getAxis("left")
        if axis.style["showValues"] != scaled:
            axis.setStyle(showValues=scaled)
        if first >= n:
            self._note.hide()
            return
        tail = _nonfinite_kinds(self._y[first:n])
        kinds = set(np.unique(tail).tolist())
        what = {NAN: "NaN", POS_INF: "Inf", NEG_INF: "-Inf"}[tail[0]] if len(kinds) == 1 \
            else "not finite"
        where = ("the bottom edge" if kinds == {NEG_INF} else "the top edge"
                 if NEG_INF not in kinds else "the top (NaN, Inf) and bottom (-Inf) edges")
        error = theme.colors(self.palette()).error.name()
        text = (f'<b style="color:{error}">loss is {what} from step '
                f'{int(self._x[first]):,}</b>')
        if first == 0:  # nothing finite to draw: say why the plot is empty
            steps = "the step is" if n == 1 else f"all {n:,} steps are"
            text += f"<br>no finite loss to plot: {steps} marked along {where}"
        else:
            steps = "the last step is" if n - first == 1 else f"the last {n - first:,} steps are"
            text += f"<br>{steps} marked along {where}"
        self._note.setText(text)
        # centred over an otherwise empty plot; else top right, under the marks it explains
        # and clear of the finite curve's start
        self._note.setStyleSheet(self._note_style.format(margin=0 if first == 0 else 22))
        self._plot_grid.setAlignment(self._note, Qt.AlignmentFlag.AlignCenter if first == 0
                                     else Qt.AlignmentFlag.AlignRight
                                     | Qt.AlignmentFlag.AlignTop)
        self._note.show()
        self._fit_note()

    def _fit_note(self) -> None:
        """The note's lines as they are, wrapped only when the plot is narrower (a docked
        plot): Qt's own wrapping would wrap them in a wide plot too."""
        note = self._note
        note.setWordWrap(False)
        natural = note.sizeHint().width()
        room = max(self.width() - 2 * NOTE_SIDE_PX, 120)
        note.setWordWrap(natural > room)
        note.setFixedWidth(min(natural, room))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if not self._note.isHidden():
            self._fit_note()

    # --- signals ----------------------------------------------------------------------------
    def _on_trace_replaced(self) -> None:
        self._clear()
        self._log_choice = None
        self._update_log()
        self._pull()
        self.redraw()
        self._plot.getPlotItem().enableAutoRange()
        self._on_step_changed(self.selection.step)
        self._readout.setText(self._summary())

    def _on_steps_recorded(self, *args) -> None:
        if self._pull():
            self.redraw()
            if not self._hovering:  # a read-out under the cursor stays until it moves away
                self._readout.setText(self._summary())

    def _on_log_toggled(self, on: bool) -> None:
        self.set_log_y(on)

    def _on_step_changed(self, index) -> None:
        if index is None or self._n == 0:
            self._marker.hide()
            return
        self._marker.setValue(index)
        self._marker.show()

    def _summary(self) -> str:
        if self._n == 0:
            return ""
        last = float(self._y[self._n - 1])
        text = (f"<b>loss</b> {format_number(last)} at step {int(self._x[self._n - 1])}"
                f" · {self._n:,} step{'s' * (self._n != 1)}")
        if len(self._bad):
            text += f" · {len(self._bad):,} not finite"
        return text

    def _nearest(self, scene_pos: QPointF) -> int | None:
        """Index of the point nearest the cursor in x, when the cursor is over the plot."""
        if self._n == 0:
            return None
        vb = self._plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        x = vb.mapSceneToView(scene_pos).x()
        xs = self._x[:self._n]
        i = int(np.searchsorted(xs, x))
        if i >= self._n or (i > 0 and x - xs[i - 1] < xs[i] - x):
            i -= 1
        return max(i, 0)

    def _on_mouse_moved(self, scene_pos) -> None:
        i = self._nearest(scene_pos)
        self._hovering = i is not None
        if i is None:
            self._hover.setData([], [])
            self._readout.setText(self._summary())
            return
        y = float(self._y[i])
        shown_y = math.log10(y) if self._log and y > 0 else y
        if not math.isfinite(y):  # on its mark at the edge: a NaN has no place on the axis
            shown_y = self._edge_y(y)
        self._hover.setData([float(self._x[i])], [shown_y])
        text = f"<b>step {int(self._x[i])}</b> · loss {format_number(y)}"
        if self._smoothing > 0:
            text += f" · smoothed {format_number(float(self.smoothed[i]))}"
        self._readout.setText(text)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._hovering = False
        self._hover.setData([], [])
        self._readout.setText(self._summary())
        super().leaveEvent(event)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        i = self._nearest(event.scenePos())
        if i is not None:
            self.selection.show_step(int(self._x[i]))

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export loss plot", "loss.png",
                                              "PNG image (*.png)")
        if path:
            self.export_png(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export losses", "loss.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    # --- theme ------------------------------------------------------------------------------
    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        line = pal.color(QPalette.ColorRole.Highlight)
        self._plot.setBackground(base)
        item = self._plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        faint = QColor(line)
        faint.setAlpha(70)
        self._raw_pen = pg.mkPen(line, width=1.5)
        self._faint_pen = pg.mkPen(faint, width=1)
        self.raw_curve.setPen(self._raw_pen)
        self.curve.setPen(pg.mkPen(line, width=2))
        marker = QColor(text)
        marker.setAlpha(120)
        self._marker.setPen(pg.mkPen(marker, width=1, style=Qt.PenStyle.DashLine))
        self._hover.setBrush(pg.mkBrush(line))
        self._hover.setPen(pg.mkPen(base, width=1.5))
        self._points.setSymbolBrush(line)
        self._points.setSymbolPen(line)
        error = theme.colors(pal).error
        self.edge_marks.setBrush(pg.mkBrush(error))
        self.edge_marks.setPen(pg.mkPen(error, width=1))
        veil = QColor(base)
        veil.setAlpha(200)  # readable over the marks and the grid; the curve shows through
        # a template: {margin} is filled in by _update_note
        self._note_style = (f"QLabel {{{{ background: rgba({veil.red()}, {veil.green()}, "
                            f"{veil.blue()}, {veil.alpha()}); color: {text.name()}; "
                            "border-radius: 4px; padding: 6px 10px; "
                            "margin-top: {margin}px; margin-right: 8px; }}")
        if self._n:
            self._update_note()
