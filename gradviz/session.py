"""The debugger's model of one run, assembled from the messages the script's process sends.

``RunTrace`` is what every view reads: the distinct graph structures, a summary of every
step (loss, execution order, leaf gradient norms), gradient summaries for a bounded number
of recent detailed steps, the ``.grad`` event log (bounded, with exact per-leaf counts), the
latest tensor values, and how the run ended. Memory stays bounded however long the run.
Views subscribe with ``subscribe(callback)``; callbacks get ``(what, payload)`` with ``what``
in "graph", "step", "values", "paused", "node", "finished".
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

from .diagnostics import Diagnostic
from .protocol import (
    Diagnosed,
    Finished,
    GraphChanged,
    NodeExecuted,
    Paused,
    Started,
    StepRecorded,
    Values,
)
from .trace import GradEvent, Graph, Step

DETAILED_STEPS_KEPT = 64
GRAD_EVENTS_KEPT = 50_000


@dataclass
class LeafStats:
    """Exact counts per leaf, whatever the event log has forgotten."""

    accumulations: int = 0
    accumulations_on_top: int = 0  # added to a value left from an earlier step
    zeroings: int = 0
    updates: int = 0
    norms: list[float] = field(default_factory=list)  # grad norm after each step's accumulation


class RunTrace:
    def __init__(self, *, detailed_kept: int = DETAILED_STEPS_KEPT,
                 events_kept: int = GRAD_EVENTS_KEPT):
        self._lock = threading.RLock()
        self.script: str = ""
        self.device: str = "cpu"
        self.graphs: dict[str, Graph] = {}
        self.steps: list[Step] = []  # every step; ``order`` detail kept for recent ones only
        self.losses: list[float] = []
        self.loss_steps: list[int] = []
        self.grad_events: collections.deque[GradEvent] = collections.deque(maxlen=events_kept)
        self.leaves: dict[str, LeafStats] = {}
        self.values: Values | None = None
        self.paused: Paused | None = None
        self.position: NodeExecuted | None = None
        self.finished: Finished | None = None
        self.diagnostics: list[Diagnostic] = []
        self._detailed: collections.deque[int] = collections.deque()
        self._detailed_kept = detailed_kept
        self._subscribers: list = []
        self._orders: dict = {}  # interned execution orders

    # --- subscription -------------------------------------------------------------------------
    def subscribe(self, callback) -> None:
        self._subscribers.append(callback)

    def unsubscribe(self, callback) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def _tell(self, what: str, payload) -> None:
        for cb in list(self._subscribers):
            cb(what, payload)

    # --- feeding ------------------------------------------------------------------------------
    def apply(self, message) -> None:
        """Fold one protocol message into the trace."""
        with self._lock:
            what = self._apply(message)
        if what is not None:
            self._tell(what, message)

    def apply_all(self, messages) -> None:
        for m in messages:
            self.apply(m)

    def _apply(self, m) -> str | None:
        if isinstance(m, StepRecorded):
            self._add_step(m)
            return "step"
        if isinstance(m, GraphChanged):
            self.graphs[m.graph.structure_hash] = m.graph
            return "graph"
        if isinstance(m, Values):
            self.values = m
            return "values"
        if isinstance(m, Paused):
            self.paused = m
            return "paused"
        if isinstance(m, NodeExecuted):
            self.position = m
            return "node"
        if isinstance(m, Diagnosed):
            self.diagnostics.append(m.diagnostic)
            return "diagnostic"
        if isinstance(m, Finished):
            self.finished = m
            self.paused = None
            known = set(self.diagnostics)
            for data in m.diagnostics:  # the full list: adds any whose message was lost
                d = Diagnostic.from_json(data)
                if d not in known:
                    self.diagnostics.append(d)
            return "finished"
        if isinstance(m, Started):
            self.script, self.device = m.script, m.device
            return "started"
        return None

    def _add_step(self, m: StepRecorded) -> None:
        step = m.step
        for e in m.grad_events:
            self.grad_events.append(e)
            stats = self.leaves.setdefault(e.leaf, LeafStats())
            if e.kind == "accumulate":
                stats.accumulations += 1
                stats.accumulations_on_top += not e.was_empty
            elif e.kind == "zero":
                stats.zeroings += 1
            elif e.kind == "update":
                stats.updates += 1
        if not step.structure:  # events after the last backward only
            return
        if step.index < len(self.steps):  # a re-sent step (the last one, now detailed)
            self.steps[step.index] = step
        else:
            while len(self.steps) < step.index:  # never expected; keeps indices aligned
                self.steps.append(Step(len(self.steps), "", None))
            self.steps.append(step)
            if step.loss is not None:
                self.losses.append(step.loss)
                self.loss_steps.append(step.index)
            for leaf, n in step.grad_norms.items():
                self.leaves.setdefault(leaf, LeafStats()).norms.append(n)
        step.order = self._orders.setdefault(step.order, step.order)
        if m.detailed:
            self._detailed.append(step.index)
            while len(self._detailed) > self._detailed_kept:
                self.steps[self._detailed.popleft()].detail = None

    # --- reading ------------------------------------------------------------------------------
    @property
    def latest_step(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def graph_of(self, step: Step | None) -> Graph | None:
        if step is None:
            return None
        return self.graphs.get(step.structure)

    @property
    def latest_graph(self) -> Graph | None:
        for step in reversed(self.steps):
            if step.structure:
                return self.graphs.get(step.structure)
        return None

    def detailed_steps(self) -> list[int]:
        return list(self._detailed)
