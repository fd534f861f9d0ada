"""Pause, step and stop inside the script's process: the recorder's ``gate``.

The script runs on the main thread; the debugger's commands arrive on a control pipe read by
a thread of its own (``ControlReader``), so a command is seen even while the script computes.
The gate holds the child-side state machine:

    mode "run"                 run freely (pause only at a breakpoint node)
    mode "pause-at-backward"   pause just before the next ``backward()`` starts
    mode "step-node"           pause after the next backward node runs (and before the next
                               ``backward()`` starts, so a new graph is seen before its nodes)

Pausing blocks the script's thread in ``before_backward`` / ``after_node`` (called by the
recorder) until Continue, StepBackward, StepNode or Stop. Value requests are answered on the
script's thread, never the reader's: tensors are only read while the script is not changing
them (while paused, or at the next backward).
"""

from __future__ import annotations

import _thread
import os
import signal
import threading

from .protocol import (
    Continue,
    FrameReader,
    NodeExecuted,
    Pause,
    Paused,
    RequestValues,
    Resumed,
    SetBreakpoints,
    StepBackward,
    StepNode,
    Stop,
    Values,
)

RUN, PAUSE_AT_BACKWARD, STEP_NODE = "run", "pause-at-backward", "step-node"


def interrupt_main_thread() -> None:
    """Raise KeyboardInterrupt in the script's thread, as Ctrl+C would.

    A real SIGINT sent to the main thread also wakes it from a blocking call (``time.sleep``,
    ``input()``), which ``_thread.interrupt_main`` alone would not.
    """
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    else:  # pragma: no cover - Windows
        _thread.interrupt_main()


class StopRequested(KeyboardInterrupt):
    """Raised on the script's thread when the debugger stops a paused script. A subclass of
    KeyboardInterrupt so that it unwinds the script exactly as Ctrl+C would."""


class Gate:
    """The child's pause/step/stop state machine (see the module docstring).

    ``emit`` sends a protocol message to the parent; ``values`` (set once the recorder
    exists) answers value requests; ``interrupt`` breaks into a running script.
    """

    def __init__(self, emit, *, pause_at_start: bool = False, breakpoints=(),
                 interrupt=interrupt_main_thread):
        self._emit = emit
        self._interrupt = interrupt
        self._cond = threading.Condition()
        self.values = None  # callable(node_ids) -> Values, the recorder's
        self.mode = PAUSE_AT_BACKWARD if pause_at_start else RUN
        self.breakpoints: frozenset[str] = frozenset(breakpoints)
        self.paused = False
        self.stop_requested = False
        self._go = False  # set by a command that ends the current pause
        self._requests: list[tuple[int, ...]] = []
        self.stepping = False  # read by the recorder on every node: a plain attribute
        self._update_stepping()

    # --- commands (control thread) --------------------------------------------------------------
    def handle(self, message) -> None:
        """Apply one command from the parent."""
        with self._cond:
            if isinstance(message, Pause):
                if not self.paused:
                    self.mode = PAUSE_AT_BACKWARD
            elif isinstance(message, Continue):
                self._release(RUN)
            elif isinstance(message, StepBackward):
                self._release(PAUSE_AT_BACKWARD)
            elif isinstance(message, StepNode):
                self._release(STEP_NODE)
            elif isinstance(message, SetBreakpoints):
                self.breakpoints = frozenset(message.node_names)
            elif isinstance(message, RequestValues):
                self._requests.append(tuple(message.node_ids))
                self._cond.notify_all()
            elif isinstance(message, Stop):
                self.stop_requested = True
                if self.paused:
                    self._cond.notify_all()  # the paused thread raises StopRequested
                else:
                    self._interrupt()
            self._update_stepping()

    def _release(self, mode: str) -> None:
        self.mode = mode
        if self.paused:
            self._go = True
            self._cond.notify_all()

    def _update_stepping(self) -> None:
        self.stepping = self.mode == STEP_NODE or bool(self.breakpoints)

    # --- recorder hooks (script thread) ---------------------------------------------------------
    def before_backward(self, step: int, source) -> None:
        if self._requests:
            self.serve_requests()
        if self.mode != RUN:
            self._pause(Paused(step, "backward", source=source))

    def after_node(self, step: int, position: int, node_id, name: str) -> None:
        if self.mode == STEP_NODE or name in self.breakpoints:
            self._emit(NodeExecuted(step, position, node_id))
            self._pause(Paused(step, "node", node_id, position))

    def serve_requests(self) -> None:
        """Answer the value requests received so far (on the script's thread)."""
        with self._cond:
            requests, self._requests = self._requests, []
        for node_ids in requests:
            self._emit(self.values(node_ids) if self.values else Values(-1, {}))

    def _pause(self, message: Paused) -> None:
        with self._cond:
            if self.stop_requested:
                raise StopRequested
            self.paused = True
            self._go = False
        try:
            self._emit(message)
            while True:
                with self._cond:
                    while not (self._go or self.stop_requested or self._requests):
                        self._cond.wait()
                    if self.stop_requested:
                        raise StopRequested
                    if self._go:
                        break
                self.serve_requests()
        finally:
            with self._cond:
                self.paused = False
        self._emit(Resumed())


def leave_signals_to_the_main_thread() -> None:
    """Block SIGINT in the calling helper thread. The kernel hands a signal sent to the
    process to any thread that does not block it; if a helper thread took SIGINT, a script
    sleeping in ``time.sleep`` on the main thread would never see its KeyboardInterrupt."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


class ControlReader(threading.Thread):
    """Reads commands from the control pipe into the gate. End of file means the parent is
    gone (it holds the pipe open for as long as it wants the child): ``on_parent_gone`` then
    ends the process, so no script outlives its debugger."""

    def __init__(self, fd: int, gate: Gate, on_parent_gone=None):
        super().__init__(name="gradviz-control", daemon=True)
        self._reader = FrameReader(fd)
        self._gate = gate
        self._on_parent_gone = on_parent_gone or (lambda: os._exit(1))

    def run(self) -> None:
        leave_signals_to_the_main_thread()
        while True:
            try:
                batch = self._reader.read()
            except Exception:  # a torn frame: the parent died mid-write
                batch = None
            if batch is None:
                self._on_parent_gone()
                return
            for message in batch:
                self._gate.handle(message)
