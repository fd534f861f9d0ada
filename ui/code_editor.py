"""A plain-text code editor: line numbers, Python highlighting, and marked lines.

Two lines can be marked at once, each with its own colour: "paused" (where the script is
stopped: an arrow in the gutter and an amber band, as a debugger shows its current line)
and "node" (the line that created the selected graph node: a blue band). Line numbers
here are 1-based, as in tracebacks.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt
from PySide6.QtGui import (
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPalette,
    QPolygonF,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from . import theme
from .python_highlighter import PythonHighlighter

PAUSED, NODE = "paused", "node"
INDENT = "    "


class _LineNumberArea(QWidget):
    """The gutter: paints itself through the editor, which knows the visible blocks."""

    def __init__(self, editor: CodeEditor):
        super().__init__(editor)
        self._editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(self._editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._editor._paint_gutter(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        # a click on a number puts the cursor on that line, as editors do
        block = self._editor.cursorForPosition(event.position().toPoint()).block()
        self._editor.go_to_line(block.blockNumber() + 1)


class CodeEditor(QPlainTextEdit):
    """A monospace Python editor with line numbers and two kinds of marked line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * len(INDENT))
        self._gutter = _LineNumberArea(self)
        self._marks: dict[str, int | None] = {PAUSED: None, NODE: None}
        self._colors = theme.colors(self.palette())
        self.highlighter = PythonHighlighter(self.document(), self.palette())
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self._update_gutter_width()

    # --- marked lines -------------------------------------------------------------------------
    def set_marked_line(self, kind: str, line: int | None) -> None:
        """Mark ``line`` (1-based) as ``kind`` ("paused" or "node"), or clear it with None.
        Lines outside the text are cleared."""
        if kind not in self._marks:
            raise ValueError(f"unknown mark {kind!r}: use {PAUSED!r} or {NODE!r}")
        if line is not None and not 1 <= line <= self.blockCount():
            line = None
        if self._marks[kind] != line:
            self._marks[kind] = line
            self._update_selections()
            self._gutter.update()

    def marked_line(self, kind: str) -> int | None:
        """The line marked as ``kind``, or None."""
        return self._marks[kind]

    def go_to_line(self, line: int, *, center: bool = True) -> None:
        """Put the cursor at the start of ``line`` (1-based) and scroll it into view."""
        block = self.document().findBlockByNumber(max(line, 1) - 1)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        self.setTextCursor(cursor)
        if center:
            self.centerCursor()
        else:
            self.ensureCursorVisible()

    def current_line(self) -> int:
        """The line the cursor is on (1-based)."""
        return self.textCursor().blockNumber() + 1

    def _update_selections(self) -> None:
        selections = []
        for kind, color in ((NODE, self._colors.node_line), (PAUSED, self._colors.paused_line)):
            line = self._marks[kind]
            if line is None:
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(color)
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            selections.append(sel)
        self.setExtraSelections(selections)

    # --- gutter -------------------------------------------------------------------------------
    def gutter_width(self) -> int:
        """Width of the line-number area: the digits, room for the arrow, a margin."""
        digits = max(3, len(str(self.blockCount())))
        fm = self.fontMetrics()
        return fm.horizontalAdvance("9") * digits + fm.height() + 10

    def _update_gutter_width(self, *_args) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_gutter_width()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        r = self.contentsRect()
        self._gutter.setGeometry(QRect(r.left(), r.top(), self.gutter_width(), r.height()))

    def _paint_gutter(self, event) -> None:
        p = QPainter(self._gutter)
        p.fillRect(event.rect(), self._colors.gutter)
        fm = self.fontMetrics()
        arrow_w = fm.height()
        number_right = self._gutter.width() - 6
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        current = self.textCursor().blockNumber()
        text_color = self._colors.gutter_text
        strong = self.palette().color(QPalette.ColorRole.Text)
        p.setFont(self.font())
        while block.isValid() and top <= event.rect().bottom():
            height = round(self.blockBoundingRect(block).height())
            if block.isVisible() and top + height >= event.rect().top():
                n = block.blockNumber() + 1
                p.setPen(strong if block.blockNumber() == current else text_color)
                p.drawText(0, top, number_right, fm.height(),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(n))
                if n == self._marks[PAUSED]:
                    self._draw_arrow(p, QRect(2, top, arrow_w, fm.height()))
            block = block.next()
            top += height
        p.end()

    def _draw_arrow(self, p: QPainter, r: QRect) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._colors.paused)
        inset = r.height() * 0.22
        p.drawPolygon(QPolygonF([
            QPointF(r.left() + inset, r.top() + inset),
            QPointF(r.right() - inset * 0.5, r.center().y() + 0.5),
            QPointF(r.left() + inset, r.bottom() - inset + 1),
        ]))
        p.restore()

    def canInsertFromMimeData(self, source) -> bool:  # noqa: N802 (Qt's name)
        # a dropped file is opened by the main window, not pasted in as its path
        if source.hasUrls():
            return False
        return super().canInsertFromMimeData(source)

    # --- typing -------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if self.isReadOnly():
            super().keyPressEvent(event)
            return
        key = event.key()
        if key == Qt.Key.Key_Tab and not event.modifiers():
            self.insertPlainText(INDENT)  # spaces, as PEP 8 asks
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            # keep the indentation, one more level after a colon
            line = self.textCursor().block().text()[:self.textCursor().positionInBlock()]
            indent = line[:len(line) - len(line.lstrip())]
            if line.rstrip().endswith(":"):
                indent += INDENT
            super().keyPressEvent(event)
            self.insertPlainText(indent)
            return
        super().keyPressEvent(event)

    # --- theme --------------------------------------------------------------------------------
    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._colors = theme.colors(self.palette())
            self.highlighter.set_palette(self.palette())
            self._update_selections()
            self._gutter.update()
        super().changeEvent(event)


__all__ = ["NODE", "PAUSED", "CodeEditor"]
