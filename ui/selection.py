"""What the user is looking at, shared by every view: the selected graph node and the step
shown (None = follow the latest). Views set it; views listen to it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Selection(QObject):
    """``node_changed(object)``: a graph node id (int) or None. ``step_changed(object)``: a step
    index (int) or None for "the latest step, following the run"."""

    node_changed = Signal(object)
    step_changed = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._node: int | None = None
        self._step: int | None = None

    @property
    def node(self) -> int | None:
        return self._node

    @property
    def step(self) -> int | None:
        return self._step

    def select_node(self, node_id: int | None) -> None:
        if node_id != self._node:
            self._node = node_id
            self.node_changed.emit(node_id)

    def show_step(self, index: int | None) -> None:
        if index != self._step:
            self._step = index
            self.step_changed.emit(index)

    def clear(self) -> None:
        self.select_node(None)
        self.show_step(None)
