"""A heatmap of a 2-D array: a diverging colormap centred on zero (blue negative, white zero,
red positive, so the sign of a gradient reads at a glance), a colour bar, and the value
under the mouse.

The array is coloured once into a QImage with a lookup table (numpy, no per-pixel Python),
and the image is scaled to the widget with Qt's smooth scaling, which averages when it
shrinks: a 1000x100 weight gradient drawn in 200 pixels still shows its structure.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

# ColorBrewer's RdBu, reversed: negative blue, zero near-white, positive red
_STOPS = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
          "#fddbc7", "#f4a582", "#d6604d", "#b2182b"]
NAN_COLOR = 0xFF808080  # mid grey: neither sign


def _lut() -> np.ndarray:
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in _STOPS], float)
    x = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, 256)
    rgb = np.stack([np.interp(t, x, stops[:, k]) for k in range(3)], axis=1).round()
    rgb = rgb.astype(np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


LUT = _lut()
BAR_WIDTH = 14
MARGIN = 6


def as_matrix(a) -> np.ndarray:
    """``a`` as a 2-D float array: a vector becomes one row, higher dimensions fold into
    rows of the last one."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    elif a.dtype.kind == "c":
        a = np.abs(a)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(-1, a.shape[-1])


def colour_limit(m: np.ndarray) -> tuple[float, bool]:
    """The magnitude the colormap spans, and whether larger values are clipped to it.

    The 99.5th percentile of |m| rather than the maximum: one outlier would otherwise wash
    every other element out to near-white. Outliers still show, in the end colours."""
    mag = np.abs(m[np.isfinite(m)])
    if mag.size == 0:
        return 1.0, False
    top = float(mag.max())
    if top == 0.0:
        return 1.0, False
    limit = float(np.percentile(mag, 99.5)) if mag.size > 200 else top
    if limit <= 0.0 or limit > top * 0.999:
        return top, False
    return limit, True


def colorize(m: np.ndarray, limit: float) -> np.ndarray:
    """ARGB32 pixels of ``m`` with the colormap spanning [-limit, +limit]; NaN is grey."""
    with np.errstate(invalid="ignore"):
        idx = np.clip((m / limit + 1.0) * 127.5, 0, 255)
    nan = np.isnan(idx)
    pixels = LUT[np.where(nan, 0, idx).astype(np.intp)]
    pixels[nan] = NAN_COLOR
    return pixels


class Heatmap(QWidget):
    """Shows one 2-D array (``set_array``). ``hovered(object)``: ``(row, col, value)`` under
    the mouse, or None when it leaves the map."""

    hovered = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 110)
        self._matrix: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()
        self._limit = 1.0
        self._clipped = False  # values beyond ±limit exist (shown in the end colours)
        self._zero = False
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the QImage's buffer: kept alive with it
        self._scaled: QImage | None = None
        self._hover: tuple[int, int, float] | None = None

    # --- data ---------------------------------------------------------------------------------
    def set_array(self, a) -> None:
        """Show ``a`` (any shape; see ``as_matrix``); None clears the map."""
        if a is None:
            self._matrix = self._image = self._pixels = self._scaled = None
            self._shape = ()
            self.update()
            return
        self._shape = tuple(np.shape(a))
        m = as_matrix(a)
        self._matrix = m
        self._limit, self._clipped = colour_limit(m)
        self._zero = not np.any(m[np.isfinite(m)])
        pixels = np.ascontiguousarray(colorize(m, self._limit))
        self._pixels = pixels
        rows, cols = pixels.shape
        self._image = QImage(pixels.data, cols, rows, cols * 4, QImage.Format.Format_RGB32)
        self._scaled = None
        self._hover = None
        self.update()

    @property
    def array(self) -> np.ndarray | None:
        """The 2-D matrix shown."""
        return self._matrix

    @property
    def limit(self) -> float:
        """The colormap spans [-limit, +limit] (see ``colour_limit``)."""
        return self._limit

    def image(self) -> QImage | None:
        """The array's pixels, one per element (before scaling)."""
        return self._image

    # --- geometry -----------------------------------------------------------------------------
    def _text_height(self) -> int:
        return QFontMetrics(self.font()).height() + 4

    def _bar_label_width(self) -> int:
        fm = QFontMetrics(self.font())
        return fm.horizontalAdvance("≤" + self._fmt(-self._limit)) + 6

    def map_rect(self) -> QRect:
        """Where the matrix is drawn, in widget coordinates."""
        right = BAR_WIDTH + self._bar_label_width() + 2 * MARGIN
        return QRect(MARGIN, MARGIN, max(1, self.width() - MARGIN - right),
                     max(1, self.height() - 2 * MARGIN - self._text_height()))

    def value_at(self, pos: QPointF) -> tuple[int, int, float] | None:
        """(row, col, value) of the element drawn at ``pos`` (widget coordinates)."""
        if self._matrix is None:
            return None
        r = self.map_rect()
        if not r.contains(pos.toPoint()):
            return None
        rows, cols = self._matrix.shape
        row = min(rows - 1, int((pos.y() - r.top()) * rows / r.height()))
        col = min(cols - 1, int((pos.x() - r.left()) * cols / r.width()))
        return row, col, float(self._matrix[row, col])

    def sizeHint(self) -> QSize:
        return QSize(320, 220)

    # --- painting -----------------------------------------------------------------------------
    @staticmethod
    def _fmt(v: float) -> str:
        return f"{v:.3g}"

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        pal = self.palette()
        text_color = pal.color(QPalette.ColorRole.WindowText)
        if self._image is None:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no values")
            return
        r = self.map_rect()
        if self._scaled is None or self._scaled.size() != r.size():
            # nearest-neighbour both ways: every pixel is a real element (averaging would fade
            # a noisy weight matrix to white), and enlarged elements stay visible as cells
            self._scaled = self._image.scaled(r.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                              Qt.TransformationMode.FastTransformation)
        painter.drawImage(r.topLeft(), self._scaled)
        painter.setPen(pal.color(QPalette.ColorRole.Mid))
        painter.drawRect(r.adjusted(0, 0, -1, -1))
        if self._zero:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, "all zeros")

        # colour bar: +limit at the top, -limit at the bottom
        bar = QRect(r.right() + MARGIN + 1, r.top(), BAR_WIDTH, r.height())
        column = LUT[::-1].reshape(-1, 1).copy()
        strip = QImage(column.data, 1, 256, 4, QImage.Format.Format_RGB32)
        painter.drawImage(QRectF(bar), strip)
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.setPen(text_color)
        fm = QFontMetrics(self.font())
        x = bar.right() + 4
        over = "≥" if self._clipped else ""
        painter.drawText(x, bar.top() + fm.ascent(), over + self._fmt(self._limit))
        painter.drawText(x, bar.center().y() + fm.ascent() // 2, "0")
        painter.drawText(x, bar.bottom(), ("≤" if self._clipped else "") + self._fmt(-self._limit))

        # the read-out line: the element under the mouse, or the shape
        line = QRect(MARGIN, r.bottom() + 3, self.width() - 2 * MARGIN, self._text_height())
        if self._hover is not None:
            row, col, v = self._hover
            idx = self._index_text(row, col)
            text = f"{idx} = {v:.6g}"
        else:
            shape = ", ".join(str(d) for d in self._shape)
            text = f"({shape}) · hover for values"
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _index_text(self, row: int, col: int) -> str:
        """The element's index in the original array's shape."""
        if len(self._shape) <= 1:
            return f"[{col}]"
        if len(self._shape) == 2:
            return f"[{row}, {col}]"
        flat = row * self._shape[-1] + col
        return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, self._shape)) + "]"

    def mouseMoveEvent(self, event) -> None:
        hit = self.value_at(event.position())
        if hit != self._hover:
            self._hover = hit
            self.hovered.emit(hit)
            self.update()

    def leaveEvent(self, event) -> None:
        if self._hover is not None:
            self._hover = None
            self.hovered.emit(None)
            self.update()
