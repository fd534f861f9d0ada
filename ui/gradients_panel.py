"""The Gradients panel: "where did my .grad go?"

One row per leaf that requires grad (``w1``, ``w2``, ``x`` ...): its current ``.grad`` (a
heatmap for matrices, the values for short vectors), its norm after every step as a
sparkline, how many times it was accumulated and zeroed, and, when a gradient was added on
top of an earlier step's, a warning that says so: forgetting ``zero_grad()`` is visible at a
glance as a climbing sparkline and a warning row. Under the rows, the ``.grad`` event log:
``w1.grad += Δ`` (into an empty slot or on top of a previous value), ``w1.grad.zero_()``,
``optimizer.zero_grad()``, ``w1 -= …`` updates; the latest ``LOG_LINES`` of them (the
counts on the rows are exact, from ``LeafStats``). Rows flash when their grad is zeroed
(blue) or receives a contribution in the backward animation (amber).

It reads ``controller.trace`` only. The ``.grad`` arrays shown are those of the step shown
(``trace.values_at``): while the script runs, the latest gradients the child sent (right
after a backward; they arrive several times a second); when it pauses or ends, the values
the panel asked for (the grads as they are then: zeroed, if the script zeroed them); for a
step picked on the timeline, that step's gradients when it is one of the last
``STEPS_WITH_VALUES``, else a note that they were not kept (its norm is kept for every step).
"""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QElapsedTimer, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QImage,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gradviz.session import AFTER_BACKWARD, NOW
from gradviz.trace import LEAF, GradEvent

from .backward_animation import format_number, format_values
from .inspector import not_kept_text
from .sparkline import Sparkline

LOG_LINES = 500
FLASH_MS = 600.0
SHOWN_VALUES = 8  # vectors up to this many elements are shown as numbers
HEATMAP_SIZE = QSize(96, 40)
ROWS_MAX_HEIGHT = 320  # px of rows guaranteed before the event log; more rows scroll
WARNING = QColor(220, 120, 30)  # reads on light and dark backgrounds alike
ZERO_FLASH = QColor(70, 140, 230)


def natural_key(name: str):
    """``w2`` before ``w10``; ``0.weight`` before ``2.weight``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def heatmap_image(a: np.ndarray, size: QSize, palette: QPalette) -> QImage:
    """A diverging heatmap of a matrix (vectors: one row), negative blue, positive red, zero
    in the palette's base colour; block means when the matrix is larger than ``size``."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    a = np.where(np.isfinite(a), a, 0.0)
    rows, cols = a.shape
    h, w = min(rows, size.height()), min(cols, size.width())
    a = np.add.reduceat(a, (np.arange(h) * rows) // h, axis=0) / max(rows / h, 1)
    a = np.add.reduceat(a, (np.arange(w) * cols) // w, axis=1) / max(cols / w, 1)
    scale = float(np.abs(a).max()) or 1.0
    t = np.clip(a / scale, -1.0, 1.0)[..., None]
    base = np.array(palette.color(QPalette.ColorRole.Base).getRgb()[:3], dtype=float)
    pos = np.array([214.0, 60.0, 50.0])
    neg = np.array([45.0, 110.0, 220.0])
    rgb = np.where(t >= 0, base + (pos - base) * t, base + (neg - base) * -t)
    rgb = np.ascontiguousarray(rgb.astype(np.uint8))
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return image.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.FastTransformation)


def describe_event(e: GradEvent) -> tuple[str, str]:
    """(kind, text) of one log line; kind is "accumulate", "on-top", "zero" or "update"."""
    step = f"step {e.step:>5}  "
    if e.kind == "accumulate":
        added = f"{step}{e.leaf}.grad += Δ   ‖Δ‖ {format_number(e.contribution_norm)}"
        if e.was_empty:
            return "accumulate", (f"{added}   into an empty slot"
                                  f" → ‖grad‖ {format_number(e.norm_after)}")
        return "on-top", (f"{added}   ON TOP of an earlier value: "
                          f"‖grad‖ {format_number(e.norm_before)} → {format_number(e.norm_after)}")
    if e.kind == "zero":
        if e.how == "zero_()":
            what = f"{e.leaf}.grad.zero_()"
        elif e.how == "grad = None":
            what = f"{e.leaf}.grad = None"
        else:
            what = f"{e.how}  ({e.leaf})"
        return "zero", f"{step}{what}   ‖grad‖ {format_number(e.norm_before)} → 0"
    line = f"  (line {e.source.line})" if e.source is not None else ""
    return "update", f"{step}{e.leaf} changed in place ({e.how}){line}"


class LeafRow(QFrame):
    """One leaf: name and shape, current .grad, norm sparkline, counts, status."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.flash_level = 0.0
        self.flash_color = ZERO_FLASH
        self.grad_text = ""
        self._grad_shown = None  # the array shown, by identity: redraw only what changed
        self._norms = np.zeros(0)
        self._norm_count = 0
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(False)

        self._name = QLabel(name)
        font = self._name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self._name.setFont(font)
        self._shape = QLabel()
        self._shape.setEnabled(False)  # the palette's dimmed text
        self._norm = QLabel()
        self._norm.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._norm.setContentsMargins(4, 0, 0, 0)  # "‖" comes from a fallback font: room for it
        self._preview = QLabel()
        self._preview.setMinimumHeight(HEATMAP_SIZE.height())
        self._preview.setFixedWidth(HEATMAP_SIZE.width() + 16)  # the sparklines line up
        self._preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._preview.setWordWrap(True)  # eight values wrap at their commas
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._preview.setFont(mono)
        self.sparkline = Sparkline()
        self.sparkline.setFixedHeight(HEATMAP_SIZE.height())
        self._counts = QLabel()
        self._counts.setEnabled(False)
        self._status = QLabel()
        self._status.setWordWrap(True)

        # three short lines that fit a narrow dock: name, shape and norm; the .grad and its
        # norm over the steps; the counts. A warning, when there is one, under them.
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self._name)
        top.addWidget(self._shape)
        top.addStretch(1)
        top.addWidget(self._norm)
        middle = QHBoxLayout()
        middle.setSpacing(10)
        middle.addWidget(self._preview)
        middle.addWidget(self.sparkline, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 5, 10, 6)
        column.setSpacing(3)
        column.addLayout(top)
        column.addLayout(middle)
        column.addWidget(self._counts)
        column.addWidget(self._status)
        self._status.hide()

    # --- reading (tests, tooltips) ----------------------------------------------------------
    @property
    def counts_text(self) -> str:
        return self._counts.text()

    @property
    def status_text(self) -> str:
        return self._status.text() if self._status.isVisible() or self._status.text() else ""

    @property
    def norm_text(self) -> str:
        return self._norm.text()

    # --- updates ----------------------------------------------------------------------------
    def set_shape(self, shape: tuple, dtype: str) -> None:
        dims = str(tuple(shape)) if shape else "scalar"  # (2,), (1000, 100): as torch
        self._shape.setText(f"{dims} {dtype}".strip())

    def set_stats(self, stats) -> None:
        """Counts and status from a ``LeafStats``; the sparkline from its norms."""
        n = len(stats.norms)
        if n != self._norm_count:
            if n > len(self._norms):  # grow by doubling: one copy of the new norms per frame
                grown = np.empty(max(2 * len(self._norms), n, 64))
                grown[:self._norm_count] = self._norms[:self._norm_count]
                self._norms = grown
            self._norms[self._norm_count:n] = stats.norms[self._norm_count:n]
            self._norm_count = n
            self.sparkline.set_values(self._norms[:n])
            self.sparkline.setToolTip(
                f"‖{self.name}.grad‖ right after each backward(), {n:,} steps"
                f"{' (log scale)' if self.sparkline.log else ''}")
        parts = [f"{stats.accumulations:,} accumulated", f"{stats.zeroings:,} zeroed"]
        if stats.updates:
            parts.append(f"{stats.updates:,} updated")
        self._counts.setText(" · ".join(parts))
        if stats.accumulations_on_top:
            self._set_status(
                f"⚠ accumulated on top of an earlier step's gradient "
                f"{stats.accumulations_on_top:,}× — zero_grad() missing?", warning=True)
            self._status.setToolTip(
                f"backward() adds into {self.name}.grad. Without {self.name}.grad.zero_() or "
                "optimizer.zero_grad() between steps, every update uses the sum of all "
                "earlier gradients, and the norm keeps climbing.")
        else:
            self._set_status("", warning=False)

    def set_norm_at(self, index: int | None, value: float | None, latest: bool) -> None:
        self.sparkline.set_marker(index)
        if value is None:
            self._norm.setText("‖grad‖ —")
        else:
            where = "" if latest else f" @{index}"
            self._norm.setText(f"‖grad‖{where} {format_number(value)}")

    def set_norm_now(self, value: float) -> None:
        """The norm of the ``.grad`` shown while paused (it may differ from the last
        step's: the backward in progress has added into it, or the script zeroed it)."""
        self._norm.setText(f"‖grad‖ now {format_number(value)}")

    def set_grad_note(self, text: str, tooltip: str) -> None:
        """No values to show: a word in the preview's place (``text``) and why (tooltip)."""
        self._grad_shown = None
        self.grad_text = text
        self._preview.setPixmap(QPixmap())
        self._preview.setText(text)
        self._preview.setToolTip(tooltip)

    def set_grad(self, grad: np.ndarray | None, present: bool) -> None:
        """The current ``.grad``: values, a heatmap, or "None"."""
        if present and grad is not None and grad is self._grad_shown:
            return  # the same array again: nothing to redraw
        self._grad_shown = grad if present else None
        if not present:
            self.grad_text = ""
            self._preview.setPixmap(QPixmap())
            self._preview.setText("")
            return
        if grad is None:
            self.grad_text = "None"
            self._preview.setPixmap(QPixmap())
            self._preview.setText("None")
            self._preview.setToolTip(f"{self.name}.grad is None")
            return
        a = np.asarray(grad)
        if a.size > SHOWN_VALUES and not a.any():
            # a heatmap of zeros is a blank box: say what it is
            self.grad_text = "all zeros"
            self._preview.setPixmap(QPixmap())
            self._preview.setText("all 0")
        elif a.ndim <= 1 and a.size <= SHOWN_VALUES:
            self.grad_text = format_values(a)
            self._preview.setPixmap(QPixmap())
            self._preview.setText(self.grad_text)
        else:
            self.grad_text = "heatmap " + "×".join(str(d) for d in a.shape)
            self._preview.setText("")
            self._preview.setPixmap(QPixmap.fromImage(
                heatmap_image(a, HEATMAP_SIZE, self.palette())))
        finite = a[np.isfinite(a)] if a.size else a
        if finite.size:
            self._preview.setToolTip(
                f"{self.name}.grad {'×'.join(map(str, a.shape)) or 'scalar'}\n"
                f"min {format_number(float(finite.min()))}"
                f"  max {format_number(float(finite.max()))}"
                f"\nmean {format_number(float(finite.mean()))}"
                f"  norm {format_number(float(np.linalg.norm(finite)))}")

    def flash(self, color: QColor) -> None:
        self.flash_color = color
        self.flash_level = 1.0
        self.update()

    def _set_status(self, text: str, *, warning: bool) -> None:
        self._status.setText(text)
        self._status.setVisible(bool(text))
        if warning:
            pal = self._status.palette()
            pal.setColor(QPalette.ColorRole.WindowText, WARNING)
            self._status.setPalette(pal)
        self._warning = warning
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        try:
            pal = self.palette()
            r = self.rect().adjusted(2, 2, -2, -2)
            bg = QColor(pal.color(QPalette.ColorRole.AlternateBase))
            edge = Qt.PenStyle.NoPen
            if self.flash_level > 0:
                # a light tint and a coloured edge: the text stays readable when a fast
                # loop zeroes the grad every frame and the flash never fades
                c = QColor(self.flash_color)
                k = 0.22 * self.flash_level
                bg = QColor(round(bg.red() + (c.red() - bg.red()) * k),
                            round(bg.green() + (c.green() - bg.green()) * k),
                            round(bg.blue() + (c.blue() - bg.blue()) * k))
                c.setAlphaF(min(1.0, self.flash_level))
                edge = QPen(c, 2)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(edge)
            p.setBrush(bg)
            p.drawRoundedRect(QRectF(r).adjusted(1, 1, -1, -1), 5, 5)
            p.setPen(Qt.PenStyle.NoPen)
            if getattr(self, "_warning", False):
                p.setBrush(WARNING)
                p.drawRoundedRect(r.adjusted(0, 0, -(r.width() - 4), 0), 2, 2)
        finally:
            p.end()


class GradientsPanel(QWidget):
    """Rows per leaf and the ``.grad`` event log for the run in ``controller``.

    ``animation`` (a ``BackwardAnimation``, optional): rows flash when the replay delivers
    a gradient to their leaf. ``row(name)`` and ``log_lines()`` are for tests and tools.
    """

    def __init__(self, controller, selection, animation=None, parent=None,
                 *, log_lines: int = LOG_LINES):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self._rows: dict[str, LeafRow] = {}
        self._grads: dict[str, np.ndarray | None] = {}  # latest .grad seen per leaf
        self._now_norms: dict[str, float] = {}  # while paused: the norm of the .grad shown
        self._events_seen = 0
        self._rows_seen = (-1, -1)  # (graphs, leaves) counts the rows were built from
        self._log_limit = log_lines

        self._rows_box = QWidget()
        self._rows_layout = QVBoxLayout(self._rows_box)
        self._rows_layout.setContentsMargins(4, 4, 4, 4)
        self._rows_layout.setSpacing(4)
        self._rows_layout.addStretch(1)
        self._placeholder = QLabel("No leaf has received a gradient yet. Run a script: every "
                                   "tensor with requires_grad=True gets a row here.")
        self._placeholder.setWordWrap(True)
        self._placeholder.setEnabled(False)
        self._rows_layout.insertWidget(0, self._placeholder)
        self._values_note = QLabel()  # which moment the .grad previews show
        self._values_note.setWordWrap(True)
        self._values_note.setEnabled(False)  # the palette's dimmed text
        self._values_note.setContentsMargins(6, 0, 6, 0)
        self._values_note.hide()
        self._rows_layout.insertWidget(1, self._values_note)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._rows_box)
        self._scroll = scroll

        self._log_title = QLabel()
        self._log = QPlainTextEdit()
        self._log.setReadOnly(True)
        self._log.setMaximumBlockCount(log_lines)
        self._log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._log.setFont(mono)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(4, 2, 4, 0)
        log_layout.setSpacing(2)
        log_layout.addWidget(self._log_title)
        log_layout.addWidget(self._log, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(scroll)
        splitter.addWidget(log_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._flash_timer = QTimer(self)
        self._flash_timer.setInterval(30)
        self._flash_timer.timeout.connect(self._decay_flashes)
        self._flash_clock = QElapsedTimer()

        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.steps_recorded.connect(self.refresh)
        controller.graph_changed.connect(self.refresh)  # its leaves' rows, before any step
        controller.values_changed.connect(self._on_values_changed)
        controller.paused.connect(self._on_paused)
        controller.finished.connect(self.refresh)
        controller.state_changed.connect(self._on_state_changed)
        selection.step_changed.connect(self._on_step_changed)
        if animation is not None:
            animation.leaf_reached.connect(self._on_leaf_reached)
        self._on_trace_replaced()

    # --- reading ----------------------------------------------------------------------------
    def leaf_names(self) -> list[str]:
        return list(self._rows)

    def row(self, name: str) -> LeafRow:
        return self._rows[name]

    def log_lines(self) -> list[str]:
        text = self._log.toPlainText()
        return text.splitlines() if text else []

    # --- updates ----------------------------------------------------------------------------
    def refresh(self, *args) -> None:
        """Re-read the trace: new leaves, counts, sparklines, new events."""
        trace = self.controller.trace
        self._ensure_rows(trace)
        for name, stats in trace.leaves.items():
            self._rows[name].set_stats(stats)
        self._append_events(trace)
        self._show_step(self.selection.step)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """The rows get the room they need (up to a point) before the log gets the rest."""
        spacing = self._rows_layout.spacing()
        need = sum(r.sizeHint().height() + spacing for r in self._rows.values())
        if self._values_note.isVisibleTo(self._rows_box):
            need += self._values_note.sizeHint().height() + spacing
        margins = self._rows_layout.contentsMargins()
        want = min(need + margins.top() + margins.bottom() + 4, ROWS_MAX_HEIGHT) \
            if self._rows else 0
        if self._scroll.minimumHeight() != want:
            self._scroll.setMinimumHeight(want)

    def _ensure_rows(self, trace) -> None:
        seen = (len(trace.graphs), len(trace.leaves))
        if seen == self._rows_seen:  # the common case, every frame of a training loop
            return
        self._rows_seen = seen
        names = set(trace.leaves)
        shapes = {}
        for graph in trace.graphs.values():
            for n in graph.nodes:
                if n.kind == LEAF and n.requires_grad:
                    names.add(n.name)
                    shapes[n.name] = (n.shape, n.dtype)
        new = sorted(names - set(self._rows), key=natural_key)
        if not new:
            return
        for name in new:
            row = LeafRow(name)
            if name in shapes:
                row.set_shape(*shapes[name])
            self._rows[name] = row
        # keep every row in natural order
        first = self._rows_layout.indexOf(self._values_note) + 1
        for i, name in enumerate(sorted(self._rows, key=natural_key)):
            self._rows_layout.insertWidget(first + i, self._rows[name])
        self._placeholder.hide()
        self._show_grads()

    def _append_events(self, trace) -> None:
        total = sum(s.accumulations + s.zeroings + s.updates for s in trace.leaves.values())
        new = total - self._events_seen
        self._events_seen = total
        if new > 0:
            events = trace.grad_events
            take = min(new, len(events), self._log_limit)
            runs: list[tuple[str, list[str]]] = []  # consecutive lines of one colour
            flashed = set()
            for i in range(len(events) - take, len(events)):
                e = events[i]
                kind, text = describe_event(e)
                if runs and runs[-1][0] == kind:
                    runs[-1][1].append(text)
                else:
                    runs.append((kind, [text]))
                if kind == "zero":
                    flashed.add(e.leaf)
            self._write_log(runs)
            if not self.controller.is_active:
                flashed = set()  # a finished run or an opened trace: nothing is happening now
            for name in flashed:
                if name in self._rows:
                    self._rows[name].flash(ZERO_FLASH)
            if flashed:
                self._start_flashing()
        shown = min(total, self._log_limit)
        self._log_title.setText(
            f"<b>.grad events</b> — latest {shown:,} of {total:,}" if total > shown
            else f"<b>.grad events</b> — {total:,}")

    def _write_log(self, runs: list[tuple[str, list[str]]]) -> None:
        """Append lines (one block each: the block limit bounds the log) as plain text with a
        colour per kind. One insertion per run of same-coloured lines, in one edit block:
        appending them one by one as HTML cost 20 ms a frame while Example 2 ran."""
        doc = self._log.document()
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        try:
            for kind, lines in runs:
                text = "\n".join(lines)
                cursor.insertText(text if doc.isEmpty() else "\n" + text, self._format(kind))
        finally:
            cursor.endEditBlock()
        bar = self._log.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _format(self, kind: str) -> QTextCharFormat:
        fmt = QTextCharFormat()
        if kind == "on-top":
            fmt.setForeground(WARNING)
        elif kind == "zero":
            fmt.setForeground(ZERO_FLASH)
        elif kind == "update":
            fmt.setForeground(self.palette().color(QPalette.ColorGroup.Disabled,
                                                   QPalette.ColorRole.Text))
        return fmt

    def _show_step(self, index: int | None) -> None:
        trace = self.controller.trace
        n_steps = len(trace.steps)
        for name, row in self._rows.items():
            stats = trace.leaves.get(name)
            norms = stats.norms if stats is not None else []
            if not norms:
                row.set_norm_at(None, None, True)
                if index is None and name in self._now_norms:
                    row.set_norm_now(self._now_norms[name])
                continue
            latest = index is None or index >= n_steps - 1
            # norms has one entry per step that accumulated into this leaf: the step index
            # lines up with it whenever the leaf received a gradient on every step
            if latest:
                i = len(norms) - 1
            elif len(norms) == n_steps:
                i = index
            else:
                row.set_norm_at(None, None, False)
                continue
            row.set_norm_at(i, norms[i], latest)
            if index is None and name in self._now_norms:  # paused: the .grad shown, as it is
                row.set_norm_now(self._now_norms[name])

    def _show_grads(self) -> None:
        """Each row's ``.grad`` for the step shown, and a line that says which moment that is
        (or that the step's values were not kept)."""
        trace = self.controller.trace
        index = self.selection.step
        shown = trace.values_at(index)
        grads: dict[str, np.ndarray | None] = {}
        if shown is not None:
            graph = trace.graphs.get(shown.structure) or trace.current_graph
            for n in graph.nodes if graph is not None else ():
                if n.kind == LEAF and n.id in shown.values:
                    grads[n.name] = shown.values[n.id].get("grad")
        if index is None:
            self._grads.update(grads)  # following the run: a leaf not in these keeps its last
            grads = self._grads
        self._now_norms = {}
        if index is None and shown is not None and shown.kind == NOW \
                and self.controller.state == "paused":
            for name, g in grads.items():
                if g is not None:
                    self._now_norms[name] = float(np.linalg.norm(np.asarray(g, dtype=float)))
        note = tip = ""
        missing = None
        if shown is None and index is not None:
            note = missing = not_kept_text(index, trace.steps_with_values())
        elif shown is not None and shown.kind == AFTER_BACKWARD:
            note = f".grad right after step {shown.step}'s backward()"
            if index is None and self.controller.is_active:
                # sent several times a second: at thousands of steps a second the step
                # number would only seem to lag behind
                note = ".grad right after a recent backward() (live)"
            tip = f"the gradients of step {shown.step}"
        elif shown is not None and shown.kind == NOW and self.controller.state == "paused":
            note = f".grad now, paused in step {shown.step}"
        self._values_note.setText(note)
        self._values_note.setToolTip(tip)
        if self._values_note.isVisibleTo(self._rows_box) != (bool(note) and bool(self._rows)):
            self._values_note.setVisible(bool(note) and bool(self._rows))
            self._fit_rows()
        for name, row in self._rows.items():
            if missing is not None:
                row.set_grad_note("not kept", missing)
            elif name in grads:
                row.set_grad(grads[name], True)
            elif index is not None and shown is not None:
                row.set_grad_note("—", f"{name} received no gradient in step {index}")
            else:
                row.set_grad(None, False)
        self._show_step(index)

    # --- signals ----------------------------------------------------------------------------
    def _on_trace_replaced(self) -> None:
        for row in self._rows.values():
            row.setParent(None)
            row.deleteLater()
        self._rows.clear()
        self._grads.clear()
        self._events_seen = 0
        self._rows_seen = (-1, -1)
        self._log.clear()
        self._placeholder.show()
        self.refresh()

    def _on_state_changed(self, _state: str) -> None:
        self._show_grads()  # the note says "live" or "paused"

    def _on_values_changed(self) -> None:
        self._show_grads()

    def _on_paused(self, paused) -> None:
        graph = self.controller.trace.current_graph
        if graph is not None:
            self.controller.request_values([n.id for n in graph.nodes if n.kind == LEAF])

    def _on_step_changed(self, _index) -> None:
        self._show_grads()  # and the norms at that step

    def _on_leaf_reached(self, name: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            row.flash(WARNING)
            self._start_flashing()

    # --- flashes ----------------------------------------------------------------------------
    def _start_flashing(self) -> None:
        if not self._flash_timer.isActive():
            self._flash_clock.start()
            self._flash_timer.start()

    def _decay_flashes(self) -> None:
        dt = self._flash_clock.restart() / FLASH_MS
        lit = False
        for row in self._rows.values():
            if row.flash_level > 0:
                row.flash_level = max(0.0, row.flash_level - dt)
                row.update()
                lit = lit or row.flash_level > 0
        if not lit:
            self._flash_timer.stop()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        # a hidden panel has nothing to animate; no timer outlives what it draws
        self._flash_timer.stop()
        for row in self._rows.values():
            row.flash_level = 0.0
        super().hideEvent(event)

