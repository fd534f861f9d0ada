"""The Qt side of a run: owns the ``Runner`` and the ``RunTrace`` and turns the runner's
thread callbacks into Qt signals on the GUI thread, coalesced to the screen's rate.

Widgets never talk to the runner: they read ``controller.trace`` and listen to the signals.
The GUI never blocks on the script: the runner's threads only append to a queue, and a
16 ms timer (or a test calling ``pump()``) drains it in bounded batches.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from gradviz import trace_io
from gradviz.protocol import (
    Finished,
    GraphChanged,
    LiveBackward,
    NodeExecuted,
    Paused,
    StepRecorded,
    StepValues,
    Values,
)
from gradviz.runner import Runner, RunResult
from gradviz.session import RunTrace

FRAME_MS = 16
MAX_MESSAGES_PER_FRAME = 5_000

IDLE, RUNNING, PAUSED, FINISHED, ERROR = "idle", "running", "paused", "finished", "error"


class SessionController(QObject):
    """One debugging session: at most one script runs at a time; runs replace each other.

    Signals (all on the GUI thread):
      state_changed(str)        "idle" | "running" | "paused" | "finished" | "error"
      trace_replaced()          a new run started or a trace file was opened: re-read everything
      graph_changed(str)        a new graph structure (its hash) arrived
      steps_recorded(int)       steps arrived; the argument is the index of the latest
      values_changed()          tensor values arrived (``trace.values``, ``step_values``, ``live``)
      paused(object)            the script is paused (a ``gradviz.protocol.Paused``)
      position_changed(object)  stepping node by node: the live position (``NodeExecuted``)
      output(str, str)          (stream name "stdout"/"stderr", text) from the script
      finished(object)          the run ended (a ``gradviz.runner.RunResult``)
    """

    state_changed = Signal(str)
    trace_replaced = Signal()
    graph_changed = Signal(str)
    steps_recorded = Signal(int)
    values_changed = Signal()
    paused = Signal(object)
    position_changed = Signal(object)
    output = Signal(str, str)
    finished = Signal(object)

    def __init__(self, parent=None, *, runner_factory=Runner, frame_ms: int = FRAME_MS):
        super().__init__(parent)
        self.trace = RunTrace()
        self.target: Path | None = None
        self.device = "cpu"
        self.result: RunResult | None = None
        self.breakpoints: tuple[str, ...] = ()
        self._runner_factory = runner_factory
        self._runner: Runner | None = None
        self._state = IDLE
        self._inbox: collections.deque = collections.deque()
        self._generation = 0  # messages of an older run are dropped
        self._lock = threading.Lock()
        self._timer = QTimer(self)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self.pump)

    # --- state --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def is_active(self) -> bool:
        return self._state in (RUNNING, PAUSED)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    # --- commands -----------------------------------------------------------------------------
    def run(self, target, args=(), device: str = "cpu", *, pause_at_start: bool = False,
            timeout: float | None = None) -> None:
        """Start ``target`` (stopping a run in progress first)."""
        if self.is_active:
            self.stop()
            if self._runner is not None:
                self._runner.wait(5)
            self.pump()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._inbox.clear()
        self.target = Path(target) if target is not None else None
        self.device = device
        self.result = None
        self.trace = RunTrace()
        self.trace.device = device
        self.trace_replaced.emit()
        self._runner = self._runner_factory(
            target, args, device=device, stdio="pipe",
            on_message=lambda m: self._post(generation, "message", m),
            on_output=lambda stream, text: self._post(generation, "output", (stream, text)),
            on_exit=lambda result: self._post(generation, "exit", result),
            pause_at_start=pause_at_start, timeout=timeout, breakpoints=self.breakpoints,
        )
        self._set_state(RUNNING)
        self._timer.start()
        self._runner.start()

    def pause(self) -> None:
        """Pause at the next ``backward()``."""
        if self._runner is not None and self._state == RUNNING:
            self._runner.pause()

    def resume(self) -> None:
        if self._runner is not None and self._state == PAUSED:
            self._runner.resume()
            self._set_state(RUNNING)

    def step_backward(self) -> None:
        """Run to the next ``backward()`` and pause there (or pause at the next one)."""
        if self._runner is None:
            return
        if self._state == PAUSED:
            self._runner.step_backward()
            self._set_state(RUNNING)
        elif self._state == RUNNING:
            self._runner.pause()

    def step_node(self) -> None:
        """Execute one more backward node, then pause."""
        if self._runner is not None and self._state == PAUSED:
            self._runner.step_node()
            self._set_state(RUNNING)

    def stop(self) -> None:
        if self._runner is not None and self.is_active:
            self._runner.stop()

    def set_breakpoints(self, names) -> None:
        """Pause whenever a node with one of these names (e.g. "MmBackward0") runs."""
        self.breakpoints = tuple(names)
        if self._runner is not None and self.is_active:
            self._runner.set_breakpoints(self.breakpoints)

    def request_values(self, node_ids) -> None:
        if self._runner is not None and self.is_active:
            self._runner.request_values(tuple(node_ids))

    def open_trace(self, path) -> None:
        """Post-mortem: show a saved trace without running anything (raises TraceFileError)."""
        trace = trace_io.load(path)
        if self.is_active:
            self.stop()
        with self._lock:
            self._generation += 1
            self._inbox.clear()
        self.trace = trace
        self.target = None
        self.result = None
        self.trace_replaced.emit()
        self._set_state(FINISHED if trace.finished is None or trace.finished.status == "ok"
                        else ERROR)

    def save_trace(self, path) -> None:
        trace_io.save(self.trace, path)

    def shutdown(self) -> None:
        """Stop the script and the timer (window closing)."""
        self.stop()
        if self._runner is not None:
            self._runner.wait(2)
        self._timer.stop()

    # --- from the runner's threads -------------------------------------------------------------
    def _post(self, generation: int, kind: str, payload) -> None:
        with self._lock:
            if generation == self._generation:
                self._inbox.append((kind, payload))

    # --- on the GUI thread ---------------------------------------------------------------------
    def pump(self, max_items: int = MAX_MESSAGES_PER_FRAME) -> int:
        """Fold queued messages into the trace and emit coalesced signals; returns how many
        were handled. Called by the frame timer; tests may call it directly."""
        batch = []
        with self._lock:
            while self._inbox and len(batch) < max_items:
                batch.append(self._inbox.popleft())
        if not batch:
            return 0
        new_graphs: list[str] = []
        steps = values = False
        pause = position = None
        out: list[tuple[str, str]] = []
        exit_result = None
        for kind, payload in batch:
            if kind == "message":
                self.trace.apply(payload)
                if isinstance(payload, GraphChanged):
                    new_graphs.append(payload.graph.structure_hash)
                elif isinstance(payload, StepRecorded):
                    steps = True
                elif isinstance(payload, (Values, StepValues, LiveBackward)):
                    values = True
                elif isinstance(payload, Paused):
                    pause = payload
                elif isinstance(payload, NodeExecuted):
                    position = payload
                elif isinstance(payload, Finished):
                    pause = None
            elif kind == "output":
                if out and out[-1][0] == payload[0]:
                    out[-1] = (payload[0], out[-1][1] + payload[1])
                else:
                    out.append(payload)
            elif kind == "exit":
                exit_result = payload
        for stream, text in out:
            self.output.emit(stream, text)
        for h in new_graphs:
            self.graph_changed.emit(h)
        if steps and self.trace.steps:
            self.steps_recorded.emit(len(self.trace.steps) - 1)
        if values:
            self.values_changed.emit()
        if position is not None:
            self.position_changed.emit(position)
        if pause is not None and exit_result is None:
            self._set_state(PAUSED)
            self.paused.emit(pause)
        if exit_result is not None:
            self.result = exit_result
            self._timer.stop()
            self._set_state(FINISHED if exit_result.status in ("ok", "stopped") else ERROR)
            self.finished.emit(exit_result)
        if self._inbox and not self._timer.isActive():
            self._timer.start()
        return len(batch)
