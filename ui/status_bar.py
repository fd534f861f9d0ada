"""The main window's status bar: the run's state (coloured), steps, steps per second, device
and elapsed time, on the right; transient messages on the left, as Qt's status bars do.

The bar is redrawn when steps arrive (``steps_recorded``, the signal the timeline follows),
at most once every ``STEPS_MIN_MS``: each redraw shows the count the timeline shows in that
frame, and the bar repaints a few times a second, not at the screen's rate. (Redrawn by its
clock alone, it showed "102 steps" beside a timeline at step 246 in a fast run.) Between
redraws the count is at most a clock tick (``TICK_MS``) old; when the run pauses or ends it
is exact. While a run is active a 250 ms timer refreshes the clock when no steps arrive; it
stops when the run does, so an idle window runs no timer. Steps per second is measured over
the last few seconds, so it tracks the script's current pace rather than an average that
includes start-up.
"""

from __future__ import annotations

import collections
import math
import time

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from . import theme
from .console import describe_seconds

TICK_MS = 250
STEPS_MIN_MS = 200  # under TICK_MS: in a steady run the redraws follow the steps, not the clock
RATE_WINDOW_S = 3.0
ACTIVE = ("running", "paused")


class RunStatusBar(QStatusBar):
    """Shows ``controller``'s state and progress. ``state_text``, ``steps_text``,
    ``rate_text``, ``device_text`` and ``elapsed_text`` are what the labels say."""

    def __init__(self, controller, parent=None, *, clock=time.monotonic):
        super().__init__(parent)
        self.controller = controller
        self._clock = clock  # seconds; tests pass one they advance
        self._refreshed_at = -math.inf
        self._state = controller.state
        self._started: float | None = None
        self._elapsed = 0.0
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._state_label = QLabel()
        self._steps_label = QLabel()
        self._rate_label = QLabel()
        self._device_label = QLabel()
        self._elapsed_label = QLabel()
        self._state_label.setToolTip("What the script is doing: idle, running, paused, "
                                     "finished or error")
        self._steps_label.setToolTip("backward() calls so far")
        self._rate_label.setToolTip("backward() calls per second, over the last few seconds")
        self._device_label.setToolTip("The device torch's default tensors live on")
        self._elapsed_label.setToolTip("Time since the run started")
        for label in (self._steps_label, self._rate_label, self._device_label,
                      self._elapsed_label, self._state_label):
            label.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(label)
        self.setSizeGripEnabled(False)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.refresh)

        controller.state_changed.connect(self._on_state_changed)
        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.steps_recorded.connect(self._on_steps)
        controller.finished.connect(self._on_finished)
        self._on_state_changed(controller.state)

    # --- reading ------------------------------------------------------------------------------
    @property
    def state_text(self) -> str:
        return self._state

    @property
    def steps_text(self) -> str:
        return self._steps_label.text()

    @property
    def rate_text(self) -> str:
        return self._rate_label.text()

    @property
    def device_text(self) -> str:
        return self._device_label.text()

    @property
    def elapsed_text(self) -> str:
        return self._elapsed_label.text()

    @property
    def ticking(self) -> bool:
        """Whether the clock timer runs (only while a run is active)."""
        return self._timer.isActive()

    def stop(self) -> None:
        """Stop the clock (window closing)."""
        self._timer.stop()

    # --- from the controller ------------------------------------------------------------------
    def _on_trace_replaced(self) -> None:
        self._samples.clear()
        self._elapsed = 0.0
        self._started = None
        self.refresh()

    def _on_state_changed(self, state: str) -> None:
        self._state = state
        if state in ACTIVE:
            if self._started is None:
                self._started = self._clock()
            self._timer.start()
        else:
            if self._started is not None:
                self._elapsed = self._clock() - self._started
            self._started = None
            self._timer.stop()
        self.refresh()

    def _on_steps(self, *_args) -> None:
        now = self._clock()
        self._samples.append((now, len(self.controller.trace.steps)))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        if not self._timer.isActive():  # steps outside a run: nothing to pace
            self.refresh()
        elif now - self._refreshed_at >= STEPS_MIN_MS / 1000:
            self.refresh()
            self._timer.start()  # the clock's next tick a whole interval after this redraw
        # else it was redrawn moments ago: the next steps, or the tick if none come, redraw it

    def _on_finished(self, result) -> None:
        if result.seconds:
            self._elapsed = result.seconds
        self.refresh()

    # --- drawing ------------------------------------------------------------------------------
    def _rate(self) -> float | None:
        trace = self.controller.trace
        if self._state not in ACTIVE:
            steps = len(trace.steps)
            return steps / self._elapsed if steps > 1 and self._elapsed > 0 else None
        if len(self._samples) < 2:
            return None
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        if self._clock() - t1 > RATE_WINDOW_S:  # paused, or a long step: no recent pace
            return 0.0
        return (n1 - n0) / (t1 - t0) if t1 > t0 else None

    def refresh(self) -> None:
        """Redraw now, whatever the pacing (a screenshot of a running window wants the count
        of its frame)."""
        self._refreshed_at = self._clock()
        color = theme.colors(self.palette()).state(self._state).name()
        self._state_label.setText(f'<span style="color:{color}">●</span>&nbsp;'
                                  f'<b style="color:{color}">{self._state}</b>')
        steps = len(self.controller.trace.steps)
        self._steps_label.setText(f"{steps:,} step{'s' * (steps != 1)}")
        rate = self._rate()
        self._rate_label.setText("— steps/s" if rate is None else f"{rate:,.1f} steps/s"
                                 if rate < 100 else f"{rate:,.0f} steps/s")
        self._device_label.setText(self.controller.trace.device or self.controller.device)
        elapsed = (self._clock() - self._started if self._started is not None
                   else self._elapsed)
        self._elapsed_label.setText(describe_seconds(elapsed) if elapsed else "—")

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self.refresh()
        super().changeEvent(event)
