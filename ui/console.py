"""The console: the script's stdout and stderr, live, and how each run ended.

Output is queued and appended on a timer in slices of at most ``FLUSH_CHARS`` characters,
as Thonny does, so a script that prints megabytes never freezes the window; the queue keeps
only its newest ``MAX_PENDING_CHARS`` (a note says how much was skipped) and the document
its newest ``MAX_BLOCKS`` lines. stderr is drawn in the theme's error colour, and every
``File "...", line N`` of a traceback (and the summary line of an error) is a link: a click
emits ``source_requested(file, line)`` and the main window shows that line in the script.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit

from . import theme

MAX_BLOCKS = 5_000
FLUSH_CHARS = 64 * 1024
MAX_PENDING_CHARS = 512 * 1024
MAX_LINE_CHARS = 4_000  # a longer line is cut: a single huge line makes layout slow
FLUSH_MS = 30
STDOUT, STDERR, NOTE, ERROR = "stdout", "stderr", "note", "error"
_FILE_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_HREF = "source:{line}:{file}"


def _parse_href(href: str) -> tuple[str, int] | None:
    if not href.startswith("source:"):
        return None
    line, _, file = href[len("source:"):].partition(":")
    return (file, int(line)) if line.isdigit() else None


def describe_seconds(seconds: float) -> str:
    """``0.42 s``, ``12.3 s``, ``2 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class Console(QPlainTextEdit):
    """Read-only output of ``controller``'s runs; each run starts with a clean console.

    ``source_requested(file, line)``: a file:line link was clicked.
    """

    source_requested = Signal(str, int)

    def __init__(self, controller, parent=None, *, max_blocks: int = MAX_BLOCKS):
        super().__init__(parent)
        self.controller = controller
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setMaximumBlockCount(max_blocks)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("The script's output appears here.")
        self.viewport().setMouseTracking(True)
        self._pending: collections.deque[list] = collections.deque()  # [kind, text]
        self._pending_chars = 0
        self._skipped_chars = 0
        self._line_chars = 0  # characters in the document's unfinished last line
        self._formats: dict[str, QTextCharFormat] = {}
        self._apply_palette()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush_slice)

        controller.output.connect(self._on_output)
        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.finished.connect(self._on_finished)

    # --- public -------------------------------------------------------------------------------
    def text(self) -> str:
        """Everything shown, pending output included (it is flushed first)."""
        self.flush()
        return self.toPlainText()

    def flush(self) -> None:
        """Append everything queued now (bounded by the queue's cap)."""
        while self._pending:
            self._flush_slice(limit=None)

    def clear_output(self) -> None:
        """Empty the console and drop queued output."""
        self._pending.clear()
        self._pending_chars = self._skipped_chars = self._line_chars = 0
        self._timer.stop()
        self.clear()

    def stop(self) -> None:
        """Show what is queued and stop the timer (window closing)."""
        self.flush()
        self._timer.stop()

    def links(self) -> list[tuple[str, int]]:
        """Every (file, line) link in the document, top to bottom (tests and tools); queued
        output is shown first."""
        self.flush()
        found = []
        block = self.document().firstBlock()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                target = _parse_href(it.fragment().charFormat().anchorHref())
                if target is not None:
                    found.append(target)
                it += 1
            block = block.next()
        return found

    def append_note(self, text: str) -> None:
        """A line of gradviz's own (not the script's), in a quieter colour."""
        self._queue(NOTE, self._line_break() + text + "\n")

    # --- from the controller ------------------------------------------------------------------
    def _on_trace_replaced(self) -> None:
        self.clear_output()
        c = self.controller
        if c.target is not None:
            device = "" if c.device == "cpu" else f" on {c.device}"
            self.append_note(f"▶ {Path(c.target).name}{device}")

    def _on_output(self, stream: str, text: str) -> None:
        self._queue(STDERR if stream == "stderr" else STDOUT, text)

    def _on_finished(self, result) -> None:
        seconds = describe_seconds(result.seconds)
        if result.status == "ok":
            self.append_note(f"■ Finished in {seconds}")
        elif result.status == "stopped":
            self.append_note(f"■ Stopped after {seconds}")
        elif result.status == "exit":
            self.append_note(f"■ Exited with status {result.exit_code} after {seconds}")
        error = result.error or {}
        if result.status in ("error", "crashed") and (error.get("message") or error.get("type")):
            self._queue(ERROR, self._line_break() + self._error_summary(error))
        elif result.status in ("timeout", "crashed") and result.message:
            self._queue(ERROR, self._line_break() + result.message + "\n")

    @staticmethod
    def _error_summary(error: dict) -> str:
        kind, message = error.get("type") or "Error", error.get("message") or ""
        text = f"✖ {kind}: {message}" if message else f"✖ {kind}"
        if error.get("file") and error.get("line"):
            # the link text is made by _insert from this File "...", line N form
            text += f'  (File "{error["file"]}", line {error["line"]})'
        return text + "\n"

    # --- queue --------------------------------------------------------------------------------
    def _line_break(self) -> str:
        """A newline if the console's last line (shown or queued) is unfinished."""
        if self._pending:
            return "" if self._pending[-1][1].endswith("\n") else "\n"
        return "\n" if self._line_chars else ""

    def _queue(self, kind: str, text: str) -> None:
        if not text:
            return
        if self._pending and self._pending[-1][0] == kind:
            self._pending[-1][1] += text
        else:
            self._pending.append([kind, text])
        self._pending_chars += len(text)
        # a flood: keep the newest output only; the document would drop the rest anyway
        while self._pending_chars > MAX_PENDING_CHARS:
            excess = self._pending_chars - MAX_PENDING_CHARS
            head = self._pending[0]
            if len(head[1]) <= excess and len(self._pending) > 1:
                self._pending.popleft()
                cut = len(head[1])
            else:
                cut = min(excess, len(head[1]))
                newline = head[1].find("\n", cut)  # restart at a line boundary
                cut = newline + 1 if 0 <= newline < cut + 200 else cut
                head[1] = head[1][cut:]
            self._pending_chars -= cut
            self._skipped_chars += cut
        if not self._timer.isActive():
            self._timer.start()

    def _flush_slice(self, limit: int | None = FLUSH_CHARS) -> None:
        if self._skipped_chars:
            skipped, self._skipped_chars = self._skipped_chars, 0
            self._insert(NOTE, f"{self._line_break_now()}[… {skipped:,} characters of output "
                               "skipped: the console keeps the newest]\n")
        budget = FLUSH_CHARS if limit is None else limit
        scrollbar = self.verticalScrollBar()
        at_bottom = scrollbar.value() >= scrollbar.maximum() - 4
        while self._pending and budget > 0:
            kind, text = self._pending[0]
            if len(text) > budget:
                cut = text.rfind("\n", 0, budget) + 1 or budget
                self._pending[0][1] = text[cut:]
                text = text[:cut]
            else:
                self._pending.popleft()
            self._pending_chars -= len(text)
            budget -= len(text)
            self._insert(kind, text)
        if at_bottom:
            scrollbar.setValue(scrollbar.maximum())
        if not self._pending:
            self._timer.stop()

    def _line_break_now(self) -> str:
        return "\n" if self._line_chars else ""

    def _insert(self, kind: str, text: str) -> None:
        text = self._cut_long_lines(text)
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = self._formats[kind]
        if kind not in (STDERR, ERROR) or "File \"" not in text:
            cursor.insertText(text, fmt)
            return
        pos = 0
        for m in _FILE_LINE.finditer(text):
            cursor.insertText(text[pos:m.start()], fmt)
            link = QTextCharFormat(fmt)
            link.setAnchor(True)
            link.setAnchorHref(_HREF.format(line=m["line"], file=m["file"]))
            link.setForeground(self._formats["link"].foreground())
            link.setFontUnderline(True)
            cursor.insertText(m.group(), link)
            pos = m.end()
        cursor.insertText(text[pos:], fmt)

    def _cut_long_lines(self, text: str) -> str:
        out = []
        for i, segment in enumerate(text.split("\n")):
            if i:
                self._line_chars = 0
            room = MAX_LINE_CHARS - self._line_chars
            if len(segment) > room:
                segment = segment[:room] + "…" if room > 0 else ""  # "…" once per line
                self._line_chars = MAX_LINE_CHARS + 1
            else:
                self._line_chars += len(segment)
            out.append(segment)
        return "\n".join(out)

    # --- links --------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        on_link = bool(self.anchorAt(event.position().toPoint()))
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor if on_link
                                  else Qt.CursorShape.IBeamCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            target = _parse_href(self.anchorAt(event.position().toPoint()))
            if target is not None:
                self.source_requested.emit(*target)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        menu = self.createStandardContextMenu()
        menu.addSeparator()
        menu.addAction("Clear", self.clear_output)
        menu.exec(event.globalPos())
        menu.deleteLater()

    # --- theme --------------------------------------------------------------------------------
    def _apply_palette(self) -> None:
        colors = theme.colors(self.palette())
        plain = QTextCharFormat()
        stderr = QTextCharFormat()
        stderr.setForeground(colors.stderr)
        note = QTextCharFormat()
        note.setForeground(colors.note)
        error = QTextCharFormat()
        error.setForeground(colors.error)
        error.setFontWeight(QFont.Weight.Bold)
        link = QTextCharFormat()
        link.setForeground(colors.link)
        self._formats = {STDOUT: plain, STDERR: stderr, NOTE: note, ERROR: error, "link": link}

    def _recolor(self, old: dict[str, int]) -> None:
        """Give the text already shown the new theme's colours (a link drawn in a light
        theme's dark blue would be unreadable on a dark one)."""
        by_rgba = {rgba: kind for kind, rgba in old.items()}
        spans = []  # collected first: re-formatting merges fragments under an iterator
        block = self.document().firstBlock()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                frag = it.fragment()
                fmt = frag.charFormat()
                kind = "link" if fmt.isAnchor() else by_rgba.get(
                    fmt.foreground().color().rgba()) if fmt.hasProperty(
                    QTextFormat.Property.ForegroundBrush) else None
                if kind is not None:
                    spans.append((frag.position(), frag.length(), kind))
                it += 1
            block = block.next()
        cursor = QTextCursor(self.document())
        for position, length, kind in spans:
            cursor.setPosition(position)
            cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
            recolored = QTextCharFormat()
            recolored.setForeground(self._formats[kind].foreground())
            cursor.mergeCharFormat(recolored)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            old = {k: f.foreground().color().rgba() for k, f in self._formats.items()
                   if f.hasProperty(QTextFormat.Property.ForegroundBrush)}
            self._apply_palette()
            self._recolor(old)
        super().changeEvent(event)
