"""The step timeline: a scrubber over the recorded steps of a run.

Dragging it (or the arrow keys on it) sets ``selection.show_step``, and every view that
shows a step follows: the graph, the backward animation, the gradients panel, the loss
plot's marker, the inspector. "Follow latest" (on by default) sets the selection to None,
which views read as "the newest step, as it arrives", and keeps the handle at the end while
the script runs; touching the slider turns it off, and turning it back on returns to the
end.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from .backward_animation import format_number


class Timeline(QWidget):
    """Slider, step label and a "Follow latest" toggle bound to ``selection.step``."""

    def __init__(self, controller, selection, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(0, 0)
        self._slider.setPageStep(10)
        self._slider.setToolTip("Scrub through the recorded steps (backward() calls)")
        self._slider.valueChanged.connect(self._on_slider_moved)
        self._label = QLabel()
        self._label.setMinimumWidth(self.fontMetrics().horizontalAdvance(
            "step 100,000 / 100,000 · loss 8.888e-888") + 4)
        self._follow = QToolButton()
        self._follow.setText("Follow latest")
        self._follow.setCheckable(True)
        self._follow.setChecked(True)
        self._follow.setToolTip("Show the newest step as it is recorded")
        self._follow.toggled.connect(self._on_follow_toggled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(8)
        layout.addWidget(QLabel("Step"))
        layout.addWidget(self._slider, 1)
        layout.addWidget(self._label)
        layout.addWidget(self._follow)
        self._updating = False

        controller.trace_replaced.connect(self._refresh)
        controller.steps_recorded.connect(self._refresh)
        controller.finished.connect(self._refresh)
        selection.step_changed.connect(self._on_step_changed)
        self._refresh()

    # --- reading ----------------------------------------------------------------------------
    @property
    def follows_latest(self) -> bool:
        return self._follow.isChecked()

    @property
    def slider(self) -> QSlider:
        return self._slider

    def label_text(self) -> str:
        return self._label.text()

    # --- commands ---------------------------------------------------------------------------
    def set_follow_latest(self, on: bool) -> None:
        self._follow.setChecked(on)

    def show_step(self, index: int) -> None:
        """Move the handle to ``index`` (stops following the latest)."""
        self._slider.setValue(index)

    # --- updates ----------------------------------------------------------------------------
    def _refresh(self, *args) -> None:
        n = len(self.controller.trace.steps)
        self._updating = True
        try:
            self._slider.setEnabled(n > 0)
            self._slider.setRange(0, max(n - 1, 0))
            step = self.selection.step
            self._slider.setValue(n - 1 if step is None else min(step, max(n - 1, 0)))
        finally:
            self._updating = False
        self._update_label()

    def _update_label(self) -> None:
        trace = self.controller.trace
        n = len(trace.steps)
        if n == 0:
            self._label.setText("no steps yet")
            return
        i = self._slider.value()
        step = trace.steps[i]
        text = f"step {i:,} / {n - 1:,}"
        if step.loss is not None:
            text += f" · loss {format_number(step.loss)}"
        self._label.setText(text)

    def _on_slider_moved(self, value: int) -> None:
        self._update_label()
        if self._updating:
            return
        n = len(self.controller.trace.steps)
        if self._follow.isChecked() and value == n - 1:
            return
        if self._follow.isChecked():
            self._follow.blockSignals(True)
            self._follow.setChecked(False)
            self._follow.blockSignals(False)
        self.selection.show_step(value)

    def _on_follow_toggled(self, on: bool) -> None:
        if on:
            self.selection.show_step(None)
            self._refresh()
        else:
            self.selection.show_step(self._slider.value())

    def _on_step_changed(self, index) -> None:
        # another view chose the step (a click on the loss curve): show it here
        if index is None:
            if not self._follow.isChecked():
                self._follow.blockSignals(True)
                self._follow.setChecked(True)
                self._follow.blockSignals(False)
            self._refresh()
            return
        if self._follow.isChecked():
            self._follow.blockSignals(True)
            self._follow.setChecked(False)
            self._follow.blockSignals(False)
        self._updating = True
        try:
            self._slider.setValue(index)
        finally:
            self._updating = False
        self._update_label()
