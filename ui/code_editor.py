"""A plain-text code editor: line numbers, Python highlighting, and marked lines.

Three lines can be marked at once, each with its own colour: "paused" (where the script is
stopped: an arrow in the gutter and an amber band, as a debugger shows its current line),
"node" (the line that created the selected graph node: a blue band) and "problem" (the line
of a diagnostic a person asked to see: a band tinted red for an error or amber for a
warning, its code underlined with a wave of that colour as IDEs mark problems, the Problems
panel's marker in the gutter and the message as the marker's tooltip). Where marks share a
line, the paused band shows over the problem's, and that over the node's; the paused arrow
is drawn over the problem marker, as IDEs draw the current-line arrow over a breakpoint.
Line numbers here are 1-based, as in tracebacks.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPalette,
    QPolygonF,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QToolTip, QWidget

from . import theme
from .graph_items import ERROR, WARNING, blend, paint_problem_marker, problem_colors
from .python_highlighter import PythonHighlighter

PAUSED, NODE, PROBLEM = "paused", "node", "problem"
MARKS = (PAUSED, NODE, PROBLEM)
SEVERITIES = (ERROR, WARNING)
INDENT = "    "


def problem_line_color(severity: str, palette: QPalette) -> QColor:
    """The band behind a problem's line: the severity's colour (the Problems panel's and the
    graph badges') faded into the text background, light enough under dark text in the light
    theme and dark enough under light text in the dark one."""
    fill, _text = problem_colors(severity, palette)
    base = palette.color(QPalette.ColorRole.Base)
    return blend(base, fill, 0.22 if theme.is_dark(palette) else 0.16)


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

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            text = self._editor.gutter_tooltip(event.pos().y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)


class CodeEditor(QPlainTextEdit):
    """A monospace Python editor with line numbers and three kinds of marked line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * len(INDENT))
        self._gutter = _LineNumberArea(self)
        self._marks: dict[str, int | None] = {kind: None for kind in MARKS}
        self._problem_severity = ERROR
        self._problem_text = ""
        self._colors = theme.colors(self.palette())
        self.highlighter = PythonHighlighter(self.document(), self.palette())
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self._update_gutter_width()

    # --- marked lines -------------------------------------------------------------------------
    def set_marked_line(self, kind: str, line: int | None, *, severity: str = ERROR,
                        text: str = "") -> None:
        """Mark ``line`` (1-based) as ``kind`` ("paused", "node" or "problem"), or clear it
        with None. Lines outside the text are cleared. A problem's ``severity`` ("error" or
        "warning") tints it; ``text`` is its gutter marker's tooltip."""
        if kind not in self._marks:
            raise ValueError(f"unknown mark {kind!r}: use one of {', '.join(MARKS)}")
        if kind == PROBLEM and severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}: use {ERROR!r} or {WARNING!r}")
        if line is not None and not 1 <= line <= self.blockCount():
            line = None
        changed = self._marks[kind] != line
        if kind == PROBLEM:
            changed = changed or (line is not None and severity != self._problem_severity)
            self._problem_severity = severity
            self._problem_text = text if line is not None else ""
        if changed:
            self._marks[kind] = line
            self._update_selections()
            self._gutter.update()

    def marked_line(self, kind: str) -> int | None:
        """The line marked as ``kind``, or None."""
        return self._marks[kind]

    def problem_severity(self) -> str | None:
        """The severity the problem line is marked with, or None when none is marked."""
        return self._problem_severity if self._marks[PROBLEM] is not None else None

    def mark_color(self, kind: str) -> QColor:
        """The band colour of ``kind``'s mark in the current theme (and, for a problem, its
        severity)."""
        if kind == PROBLEM:
            return problem_line_color(self._problem_severity, self.palette())
        return QColor(self._colors.paused_line if kind == PAUSED else self._colors.node_line)

    def gutter_tooltip(self, y: int) -> str:
        """The tooltip of the gutter at height ``y`` (its coordinates): the problem's text
        on the problem's line, else nothing."""
        line = self._marks[PROBLEM]
        if line is None or not self._problem_text:
            return ""
        block = self.cursorForPosition(QPoint(0, y)).block()
        return self._problem_text if block.blockNumber() + 1 == line else ""

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
        for kind in (NODE, PROBLEM, PAUSED):  # later ones show over earlier ones
            line = self._marks[kind]
            if line is None:
                continue
            block = self.document().findBlockByNumber(line - 1)
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(self.mark_color(kind))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(block)
            selections.append(sel)
            if kind == PROBLEM:
                selections.append(self._squiggle(block))
        self.setExtraSelections(selections)

    def _squiggle(self, block) -> QTextEdit.ExtraSelection:
        """The problem line's code (indentation left out) underlined with a wave in the
        severity's colour: unmistakable even where a band of similar colour is near."""
        text = block.text()
        start = block.position() + len(text) - len(text.lstrip())
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(block.position() + len(text.rstrip()),
                           QTextCursor.MoveMode.KeepAnchor)
        sel = QTextEdit.ExtraSelection()
        sel.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        sel.format.setUnderlineColor(problem_colors(self._problem_severity, self.palette())[0])
        sel.cursor = cursor
        return sel

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
                if n == self._marks[PROBLEM]:
                    self._draw_problem_marker(p, QRect(2, top, arrow_w, fm.height()))
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

    def _draw_problem_marker(self, p: QPainter, r: QRect) -> None:
        # the Problems panel's icon: a circle for an error, a triangle for a warning
        inset = r.height() * 0.14
        size = r.height() - 2 * inset
        square = QRectF(r.left() + inset, r.top() + inset, size, size)
        fill, text = problem_colors(self._problem_severity, self.palette())
        paint_problem_marker(p, square, self._problem_severity, fill, text)

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


__all__ = ["MARKS", "NODE", "PAUSED", "PROBLEM", "CodeEditor", "problem_line_color"]
