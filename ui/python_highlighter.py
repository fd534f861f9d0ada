"""Python syntax highlighting for the script panel.

One regular expression scans a line left to right, so a ``#`` inside a string or a keyword
inside a comment is never mistaken for what it is not. Triple-quoted strings that span
lines carry over through the block state (1: inside ''' , 2: inside \"\"\"). Colours come from
``ui.theme.colors`` and follow the palette when the theme changes (``set_palette``).
"""

from __future__ import annotations

import builtins
import keyword
import re

from PySide6.QtGui import QFont, QPalette, QSyntaxHighlighter, QTextCharFormat

from . import theme

_PREFIX = r"(?:[rRbBuUfF]{0,2})"
_TOKEN = re.compile(
    rf"(?P<triple>{_PREFIX}(?:'''|\"\"\"))"
    rf"|(?P<string>{_PREFIX}(?:'(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?))"
    r"|(?P<comment>#.*)"
    r"|(?P<decorator>^\s*@[\w.]+)"
    r"|(?P<number>\b(?:0[xXoObB][\w_]+|\d[\d_]*\.?[\d_]*(?:[eE][+-]?\d+)?j?|\.\d[\d_]*"
    r"(?:[eE][+-]?\d+)?j?)\b)"
    r"|(?P<word>[A-Za-z_]\w*)"
)
KEYWORDS = frozenset(keyword.kwlist)  # not the soft ones: `type(x)` and `match` are names
BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_OUTSIDE, _IN_SINGLE, _IN_DOUBLE = 0, 1, 2


class PythonHighlighter(QSyntaxHighlighter):
    """Highlights a ``QTextDocument`` as Python: keywords, builtins, strings (triple-quoted
    ones across lines), comments, numbers, decorators, names after ``def``/``class``,
    ``self``."""

    def __init__(self, document, palette: QPalette | None = None):
        super().__init__(document)
        self._formats: dict[str, QTextCharFormat] = {}
        self.set_palette(palette)

    def set_palette(self, palette: QPalette | None) -> None:
        """Take colours that read on ``palette`` (None: the application's) and re-colour."""
        colors = theme.colors(palette).syntax
        self._formats = {}
        for kind, color in colors.items():
            f = QTextCharFormat()
            f.setForeground(color)
            if kind in ("keyword", "definition"):
                f.setFontWeight(QFont.Weight.DemiBold)
            if kind == "comment":
                f.setFontItalic(True)
            self._formats[kind] = f
        self.rehighlight()

    def format_at(self, kind: str) -> QTextCharFormat:
        """The format used for a token kind (tests, and anyone matching the colours)."""
        return self._formats[kind]

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt's name)
        start = 0
        state = self.previousBlockState()
        if state in (_IN_SINGLE, _IN_DOUBLE):
            start = self._close_triple(text, 0, "'''" if state == _IN_SINGLE else '"""')
            if start < 0:
                return
        self.setCurrentBlockState(_OUTSIDE)
        after_def = False
        pos = start
        while pos < len(text):
            m = _TOKEN.search(text, pos)
            if m is None:
                break
            kind = m.lastgroup
            begin, end = m.span()
            if kind == "triple":
                quote = m.group()[-3:]
                self.setFormat(begin, end - begin, self._formats["string"])
                closed = self._close_triple(text, end, quote, begin)
                if closed < 0:
                    return
                pos = closed
                after_def = False
                continue
            if kind == "word":
                word = m.group()
                if after_def:
                    self.setFormat(begin, end - begin, self._formats["definition"])
                elif word in KEYWORDS:
                    self.setFormat(begin, end - begin, self._formats["keyword"])
                elif word in ("self", "cls"):
                    self.setFormat(begin, end - begin, self._formats["self"])
                elif word in BUILTINS:
                    self.setFormat(begin, end - begin, self._formats["builtin"])
                after_def = word in ("def", "class")
            else:
                self.setFormat(begin, end - begin, self._formats[kind])
                after_def = False
            pos = max(end, begin + 1)

    def _close_triple(self, text: str, start: int, quote: str, colour_from: int | None = None
                      ) -> int:
        """Colour a triple-quoted string from ``colour_from`` (default ``start``) to its closing
        quote; returns the position after it, or -1 when it continues on the next line."""
        colour_from = start if colour_from is None else colour_from
        i = start
        while True:
            j = text.find(quote, i)
            if j < 0:
                self.setFormat(colour_from, len(text) - colour_from, self._formats["string"])
                self.setCurrentBlockState(_IN_SINGLE if quote == "'''" else _IN_DOUBLE)
                return -1
            if _escaped(text, j):
                i = j + 1
                continue
            end = j + 3
            self.setFormat(colour_from, end - colour_from, self._formats["string"])
            return end


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index > 0 and text[index - 1] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1
