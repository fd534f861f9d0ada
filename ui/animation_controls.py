"""The toolbar of the backward animation: jump to start, step back, play/pause, step forward,
jump to end, speed, a scrubber over the nodes of the backward, and a field for breakpoints
on node names.

Every button is also a ``QAction`` with a window-wide shortcut (``actions()``), so a menu
can list them: Alt+P play/pause, Alt+Left / Alt+Right step, Alt+Home / Alt+End jump.

Stepping forward past the last node the child has run, while the script is paused inside a
backward, asks the child to run one more node (``BackwardAnimation.step_forward``): the same
button replays a recorded backward and steps through a live one.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QPointF, QRectF, QStringListModel, Qt
from PySide6.QtGui import (
    QAction,
    QColor,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QToolButton,
    QWidget,
)

from .backward_animation import SPEEDS

ICON_PX = 32  # drawn at 2x and scaled down by the button: crisp on high-DPI screens too

# Each icon as shapes in a unit square: ("tri", x_from, x_to) a triangle pointing from x_from
# to x_to; ("bar", x, width) an upright bar.
ICON_SHAPES = {
    "play": (("tri", 0.3, 0.78),),
    "pause": (("bar", 0.28, 0.15), ("bar", 0.57, 0.15)),
    "forward": (("tri", 0.18, 0.5), ("tri", 0.5, 0.82)),
    "back": (("tri", 0.82, 0.5), ("tri", 0.5, 0.18)),
    "end": (("tri", 0.22, 0.66), ("bar", 0.66, 0.11)),
    "start": (("tri", 0.78, 0.34), ("bar", 0.23, 0.11)),
}


def _draw_shapes(p: QPainter, shapes, size: int) -> None:
    top, bottom = size * 0.22, size * 0.78
    for kind, a, b in shapes:
        if kind == "tri":
            p.drawPolygon(QPolygonF([QPointF(a * size, top), QPointF(b * size, size / 2),
                                     QPointF(a * size, bottom)]))
        else:
            p.drawRect(QRectF(a * size, top, b * size, bottom - top))


def media_icon(kind: str, color: QColor, disabled: QColor) -> QIcon:
    """Transport icons drawn in the palette's text colour (the style's own are black, and
    vanish on a dark theme). ``kind``: a key of ``ICON_SHAPES``."""
    icon = QIcon()
    for mode, c in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled)):
        pm = QPixmap(ICON_PX, ICON_PX)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            _draw_shapes(p, ICON_SHAPES[kind], ICON_PX)
        finally:
            p.end()
        icon.addPixmap(pm, mode)
    return icon


def parse_breakpoints(text: str) -> tuple[str, ...]:
    """``"MmBackward0, AddBackward0"`` -> ("MmBackward0", "AddBackward0"); order kept, no
    duplicates."""
    return tuple(dict.fromkeys(t for t in re.split(r"[\s,;]+", text) if t))


class AnimationControls(QWidget):
    """Controls for ``animation`` (a ``BackwardAnimation``); breakpoints go to
    ``controller.set_breakpoints``."""

    def __init__(self, animation, controller, parent=None):
        super().__init__(parent)
        self.animation = animation
        self.controller = controller
        def action(text, icon, shortcut, slot) -> QAction:
            a = QAction(text, self)
            a.setData(icon)  # the icon's kind, drawn in _apply_palette
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(f"{text} ({QKeySequence(shortcut).toString()})")
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.start_action = action("Jump to start", "start", "Alt+Home",
                                   animation.jump_to_start)
        self.back_action = action("Step back", "back", "Alt+Left", animation.step_back)
        self.play_action = action("Play", "play", "Alt+P", animation.toggle_play)
        self.forward_action = action("Step forward", "forward", "Alt+Right",
                                     animation.step_forward)
        self.end_action = action("Jump to end", "end", "Alt+End", animation.jump_to_end)
        self._icons: dict[str, QIcon] = {}
        self._apply_palette()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        title = QLabel("Backward")
        title.setToolTip("Replay of the backward pass, node by node, in the engine's order")
        layout.addWidget(title)
        layout.addSpacing(4)
        for a in (self.start_action, self.back_action, self.play_action, self.forward_action,
                  self.end_action):
            b = QToolButton()
            b.setDefaultAction(a)
            b.setAutoRaise(True)
            layout.addWidget(b)
        self._speed = QComboBox()
        for s in SPEEDS:
            self._speed.addItem(f"{s:g}×", s)
        self._speed.setCurrentIndex(SPEEDS.index(1.0))
        self._speed.setToolTip("Animation speed")
        self._speed.currentIndexChanged.connect(
            lambda i: animation.set_speed(self._speed.itemData(i)))
        layout.addWidget(self._speed)
        layout.addSpacing(6)
        self._scrubber = QSlider(Qt.Orientation.Horizontal)
        self._scrubber.setMinimumWidth(120)
        self._scrubber.setToolTip("Nodes of the backward, in execution order")
        self._scrubber.valueChanged.connect(self._on_scrubbed)
        layout.addWidget(self._scrubber, 1)
        self._where = QLabel()
        self._where.setMinimumWidth(self.fontMetrics().horizontalAdvance(
            "88 / 88  AccumulateGradBackward0") + 4)
        layout.addWidget(self._where)
        layout.addSpacing(6)
        self._breakpoints = QLineEdit()
        self._breakpoints.setPlaceholderText("Break on node… e.g. MmBackward0")
        self._breakpoints.setToolTip(
            "Pause the script whenever a backward node with one of these names runs "
            "(separate several with commas); Enter applies")
        self._breakpoints.setClearButtonEnabled(True)
        self._breakpoints.setMinimumWidth(self.fontMetrics().horizontalAdvance(
            "Break on node… e.g. MmBackward0") + 30)
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._breakpoints.setCompleter(completer)
        self._breakpoints.editingFinished.connect(self._on_breakpoints_edited)
        layout.addWidget(self._breakpoints)

        animation.position_changed.connect(self._on_position_changed)
        animation.replay_changed.connect(self._on_replay_changed)
        animation.playing_changed.connect(self._on_playing_changed)
        controller.state_changed.connect(lambda _state: self._update_enabled())
        self._on_replay_changed()

    # --- reading ----------------------------------------------------------------------------
    @property
    def scrubber(self) -> QSlider:
        return self._scrubber

    def where_text(self) -> str:
        return self._where.text()

    def breakpoints_text(self) -> str:
        return self._breakpoints.text()

    # --- commands ---------------------------------------------------------------------------
    def set_breakpoints(self, text: str) -> None:
        """As if typed into the field and applied."""
        self._breakpoints.setText(text)
        self._on_breakpoints_edited()

    def set_speed(self, speed: float) -> None:
        i = self._speed.findData(speed)
        if i >= 0:
            self._speed.setCurrentIndex(i)

    # --- signals ----------------------------------------------------------------------------
    def _on_breakpoints_edited(self) -> None:
        names = parse_breakpoints(self._breakpoints.text())
        if names != tuple(self.controller.breakpoints):
            self.controller.set_breakpoints(names)

    def _on_scrubbed(self, value: int) -> None:
        if value != self.animation.position:
            self.animation.seek(value)

    def _on_position_changed(self, position: int) -> None:
        self._scrubber.blockSignals(True)
        self._scrubber.setValue(position)
        self._scrubber.blockSignals(False)
        self._update_where()
        self._update_enabled()

    def _on_replay_changed(self) -> None:
        a = self.animation
        self._scrubber.blockSignals(True)
        self._scrubber.setRange(0, a.length)
        self._scrubber.setValue(a.position)
        self._scrubber.blockSignals(False)
        graph = a.graph
        if graph is not None:
            names = sorted({n.name for n in graph.nodes if n.kind != "leaf"})
            if names != self._names.stringList():
                self._names.setStringList(names)
        self._update_where()
        self._update_enabled()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        pal = self.palette()
        color = pal.color(QPalette.ColorRole.ButtonText)
        disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
        self._icons = {k: media_icon(k, color, disabled) for k in ICON_SHAPES}
        for a in (self.start_action, self.back_action, self.forward_action, self.end_action):
            a.setIcon(self._icons[a.data()])
        self.play_action.setIcon(self._icons["pause" if self.animation.is_playing else "play"])

    def _on_playing_changed(self, playing: bool) -> None:
        self.play_action.setIcon(self._icons["pause" if playing else "play"])
        self.play_action.setText("Pause" if playing else "Play")
        self.play_action.setToolTip(f"{'Pause' if playing else 'Play'} (Alt+P)")

    def _update_where(self) -> None:
        a = self.animation
        if a.length == 0:
            self._where.setText("paused before backward" if a.live else "no backward yet")
            return
        nid = a.current_node
        name = a.graph.node(nid).name if nid is not None and nid >= 0 and a.graph else "start"
        text = f"{a.position} / {a.length if a.length_known else '…'}  {name}"
        if a.live:
            text += "  (live)"
        self._where.setText(text)
        tip = f"step {a.step_index}"
        if not a.has_gradients and not a.live:
            tip += ": no gradient summaries kept for this step (only for recent detailed steps)"
        self._where.setToolTip(tip)

    def _update_enabled(self) -> None:
        a = self.animation
        has = a.length > 0
        at_start, at_end = a.position == 0, a.position >= a.length
        live_more = a.live and self.controller.state == "paused"
        self.start_action.setEnabled(has and not at_start)
        self.back_action.setEnabled(has and not at_start)
        self.play_action.setEnabled(has)
        self.forward_action.setEnabled((has and not at_end) or live_more)
        self.end_action.setEnabled(has and not at_end)
        self._scrubber.setEnabled(has)
