"""The start page: what the window shows before anything is loaded.

It lists every bundled example with its one-line description, grouped as a person would
look for them (the two founding examples first, then the scripts with a bug to find), the
recently opened scripts, and buttons to open a script or a saved trace. It only emits what
was chosen; the main window loads it.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gradviz.examples import Example, all_examples

SEED_EXAMPLES = ("square_sum", "two_layer_net", "two_layer_net_module")


def example_groups(examples: list[Example]) -> list[tuple[str, list[Example]]]:
    """(title, examples) in the order the page and the Examples menu show them."""
    seed = [e for n in SEED_EXAMPLES for e in examples if e.name == n]
    bugs = [e for e in examples if e.name.startswith("bug_")]
    rest = [e for e in examples if e not in seed and e not in bugs]
    groups = [("Start here", seed), ("Find the bug", bugs), ("More examples", rest)]
    return [(title, items) for title, items in groups if items]


def short_description(example: Example) -> str:
    """The description without its "bug:" / "clean:" tag (the group title says it)."""
    text = example.description
    for tag in ("bug:", "clean:"):
        if text.startswith(tag):
            text = text[len(tag):].strip()
    return text[:1].upper() + text[1:]


class _ExampleCard(QFrame):
    """One example: its name as a link and its description, wrapped; the whole card is
    clickable (and Enter/Space when it has focus)."""

    clicked = Signal()

    def __init__(self, example: Example, parent=None):
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(f"{example.description}\n{example.path}")
        self.setAutoFillBackground(False)
        self._name = QLabel(example.name)
        font = self._name.font()
        font.setWeight(QFont.Weight.DemiBold)
        self._name.setFont(font)
        self._name.setForegroundRole(QPalette.ColorRole.Link)
        self._text = QLabel(short_description(example))
        self._text.setWordWrap(True)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 5, 8, 6)
        column.setSpacing(1)
        column.addWidget(self._name)
        column.addWidget(self._text)

    def _set_hover(self, on: bool) -> None:
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase if on
                               else QPalette.ColorRole.Base)
        self.setAutoFillBackground(on)

    def enterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._set_hover(True)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._set_hover(False)
        super().leaveEvent(event)

    def focusInEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._set_hover(True)
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._set_hover(False)
        super().focusOutEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)

    def click(self) -> None:
        """As a mouse click would (tests, keyboard)."""
        self.clicked.emit()


class StartPage(QScrollArea):
    """Signals: ``example_chosen(str)`` (an example's name), ``recent_chosen(str)`` (a path),
    ``open_requested()``, ``open_trace_requested()``."""

    example_chosen = Signal(str)
    recent_chosen = Signal(str)
    open_requested = Signal()
    open_trace_requested = Signal()

    def __init__(self, parent=None, examples: list[Example] | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self._examples = all_examples() if examples is None else list(examples)
        self._buttons: dict[str, _ExampleCard] = {}

        body = QWidget()
        body.setBackgroundRole(QPalette.ColorRole.Base)
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 20, 24, 20)
        column.setSpacing(6)

        title = QLabel("gradviz")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setWeight(QFont.Weight.Bold)
        title.setFont(font)
        column.addWidget(title)
        tagline = QLabel("Open a PyTorch script, press Run (F5), and watch autograd work: the "
                         "graph the forward pass records, the backward pass node by node, "
                         "every .grad, the loss.")
        tagline.setWordWrap(True)
        tagline.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addWidget(tagline)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        open_script = QPushButton("Open script…")
        open_script.setToolTip("Open a .py file or a Jupyter notebook (Ctrl+O); you can also "
                               "drop one on the window")
        open_script.clicked.connect(self.open_requested)
        open_trace = QPushButton("Open trace…")
        open_trace.setToolTip("Look at a run saved with `gradviz run --export run.json` "
                              "without running anything")
        open_trace.clicked.connect(self.open_trace_requested)
        buttons.addWidget(open_script)
        buttons.addWidget(open_trace)
        buttons.addStretch(1)
        column.addSpacing(6)
        column.addLayout(buttons)

        self._recent_box = QWidget()
        self._recent_layout = QVBoxLayout(self._recent_box)
        self._recent_layout.setContentsMargins(0, 0, 0, 0)
        self._recent_layout.setSpacing(0)
        column.addWidget(self._recent_box)

        for heading, items in example_groups(self._examples):
            column.addSpacing(10)
            column.addWidget(self._heading(heading))
            for ex in items:
                card = _ExampleCard(ex)
                card.clicked.connect(lambda name=ex.name: self.example_chosen.emit(name))
                self._buttons[ex.name] = card
                column.addWidget(card)
        column.addStretch(1)

        outer = QWidget()
        outer.setBackgroundRole(QPalette.ColorRole.Base)
        centred = QHBoxLayout(outer)
        centred.setContentsMargins(0, 0, 0, 0)
        centred.addStretch(1)
        body.setMaximumWidth(720)
        centred.addWidget(body, 12)
        centred.addStretch(1)
        self.setWidget(outer)
        self.set_recent([])

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setWeight(QFont.Weight.DemiBold)
        label.setFont(font)
        return label

    def example_button(self, name: str) -> _ExampleCard:
        """The button of the example ``name`` (tests click it)."""
        return self._buttons[name]

    def example_names(self) -> list[str]:
        """The examples listed, in the page's order."""
        return list(self._buttons)

    def set_recent(self, paths: list[str]) -> None:
        """Show these recently opened scripts (newest first); existing files only."""
        while self._recent_layout.count():
            item = self._recent_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        paths = [p for p in paths if Path(p).is_file()][:5]
        self._recent_box.setVisible(bool(paths))
        if not paths:
            return
        self._recent_layout.addSpacing(10)
        self._recent_layout.addWidget(self._heading("Recent"))
        quiet = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        for p in paths:
            link = QLabel(f'<a href="{html.escape(p)}">{html.escape(Path(p).name)}</a>'
                          f'&nbsp;&nbsp;<span style="color:{quiet}">'
                          f'{html.escape(str(Path(p).parent))}</span>')
            link.setTextFormat(Qt.TextFormat.RichText)
            link.setToolTip(p)
            link.linkActivated.connect(self.recent_chosen)
            link.setContentsMargins(4, 2, 4, 2)
            self._recent_layout.addWidget(link)
