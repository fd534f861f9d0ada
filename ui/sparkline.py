"""A word-sized line chart: one series (a leaf's gradient norm over steps), drawn in the
palette's colours, with an optional marked index (the step shown).

However many values there are, a paint costs one pass over them: each pixel column draws the
minimum-to-maximum span of the values that fall into it, so a spike in 100,000 steps still
shows. The y axis goes logarithmic by itself when the positive values span more than three
decades (a gradient norm that explodes, or falls from 1e6 to 1).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LOG_DECADES = 3.0


def column_envelope(values: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (min, max) of ``values`` split into ``columns`` runs (NaN-free input)."""
    n = len(values)
    if n <= columns:
        return values, values
    edges = (np.arange(columns) * n) // columns
    return np.minimum.reduceat(values, edges), np.maximum.reduceat(values, edges)


class Sparkline(QWidget):
    """``set_values(array)``, ``set_marker(index or None)``, ``set_log(True/False/None)``
    (None: decide from the data). ``log`` tells what is drawn."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._values = np.zeros(0)
        self._marker: int | None = None
        self._log_choice: bool | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(60)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(180, 34)

    def set_values(self, values) -> None:
        self._values = np.asarray(values, dtype=float)
        self.update()

    def set_marker(self, index: int | None) -> None:
        if index != self._marker:
            self._marker = index
            self.update()

    def set_log(self, on: bool | None) -> None:
        self._log_choice = on
        self.update()

    @property
    def values(self) -> np.ndarray:
        return self._values

    @property
    def log(self) -> bool:
        if self._log_choice is not None:
            return self._log_choice
        pos = self._values[np.isfinite(self._values) & (self._values > 0)]
        return bool(len(pos) > 1 and np.log10(pos.max() / pos.min()) > LOG_DECADES)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(p)
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        pal = self.palette()
        area = QRectF(self.rect()).adjusted(2, 3, -2, -3)
        baseline = QColor(pal.color(QPalette.ColorRole.Mid))
        p.setPen(QPen(baseline, 1))
        p.drawLine(area.bottomLeft(), area.bottomRight())
        v = self._values
        finite = np.isfinite(v)
        if len(v) == 0 or not finite.any():
            return
        log = self.log
        y = np.where(finite, v, np.nan)
        if log:
            y = np.log10(np.where(y > 0, y, np.nan))
        ok = np.isfinite(y)
        if not ok.any():
            return
        y = np.where(ok, y, np.nanmin(y))  # a zero on a log axis sits on the floor
        lo, hi = float(y.min()), float(y.max())
        span = hi - lo if hi > lo else 1.0
        cols = max(int(area.width()), 1)
        ymin, ymax = column_envelope(y, cols)
        k = len(ymin)
        xs = area.left() + (np.arange(k) + 0.5) * area.width() / max(k, 1)
        top = area.bottom() - (ymax - lo) / span * area.height()
        bottom = area.bottom() - (ymin - lo) / span * area.height()
        line = QColor(pal.color(QPalette.ColorRole.Highlight))
        p.setPen(QPen(line, 1.4))
        path = QPainterPath(QPointF(xs[0], bottom[0]))
        for x, t, b in zip(xs.tolist(), top.tolist(), bottom.tolist(), strict=True):
            path.lineTo(x, b)
            if t != b:
                path.lineTo(x, t)
        p.drawPath(path)
        if self._marker is not None and 0 <= self._marker < len(v):
            mx = area.left() + (self._marker + 0.5) * area.width() / len(v)
            my = area.bottom() - (y[self._marker] - lo) / span * area.height()
            if self._marker < len(v) - 1:  # a step in the past: show where it is
                text = QColor(pal.color(QPalette.ColorRole.Text))
                text.setAlpha(110)
                p.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
                p.drawLine(QPointF(mx, area.top()), QPointF(mx, area.bottom()))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(line)
            p.drawEllipse(QPointF(mx, my), 2.8, 2.8)
