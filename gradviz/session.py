"""The debugger's model of one run, assembled from the messages the script's process sends.

``RunTrace`` is what every view reads: the distinct graph structures, a summary of every
step (loss, execution order, leaf gradient norms), gradient summaries for a bounded number
of recent detailed steps, the ``.grad`` event log (bounded, with exact per-leaf counts), the
full gradient arrays of the last ``STEPS_WITH_VALUES`` steps (at most ``STEP_VALUES_BYTES``
of them), the tensor values the debugger last asked for, and how the run ended. Memory
stays bounded however long the run. ``values_at(step)`` is what a view shows for a step.
While the script is paused inside a backward, ``live`` holds the nodes run so far.
Views subscribe with ``subscribe(callback)``; callbacks get ``(what, payload)`` with ``what``
in "graph", "step", "values", "paused", "node", "finished".
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

from .diagnostics import Diagnostic
from .protocol import (
    STEP_VALUES_BYTES,
    STEPS_WITH_VALUES,
    Diagnosed,
    Finished,
    GraphChanged,
    LiveBackward,
    NodeExecuted,
    Paused,
    Started,
    StepRecorded,
    StepValues,
    Values,
)
from .trace import GradEvent, Graph, Step

DETAILED_STEPS_KEPT = 64
GRAD_EVENTS_KEPT = 50_000

NOW, AFTER_BACKWARD = "now", "after-backward"


class ShownValues(NamedTuple):
    """Tensor values of one step, as ``RunTrace.values_at`` finds them. ``kind``: "now" (the
    values the debugger asked for: the state while paused or at the end of the run, each
    node's ``data`` and a leaf's ``grad``) or "after-backward" (kept for a recent step: a
    leaf's ``grad`` and the ``grad_in`` that flowed into each autograd node, right after
    that step's backward)."""

    step: int
    structure: str  # whose node ids ("" when not known yet)
    values: dict
    kind: str


def _array_bytes(values: dict) -> int:
    seen: set[int] = set()
    total = 0
    for entry in values.values():
        for a in entry.values():
            nbytes = getattr(a, "nbytes", None)
            if nbytes is not None and id(a) not in seen:  # the same array under two nodes
                seen.add(id(a))
                total += nbytes
    return total


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
                 events_kept: int = GRAD_EVENTS_KEPT, values_kept: int = STEPS_WITH_VALUES,
                 values_bytes: int = STEP_VALUES_BYTES):
        self._lock = threading.RLock()
        self.script: str = ""
        self.device: str = "cpu"
        self.graphs: dict[str, Graph] = {}
        self.steps: list[Step] = []  # every step; ``order`` detail kept for recent ones only
        self.losses: list[float] = []
        self.loss_steps: list[int] = []
        self.grad_events: collections.deque[GradEvent] = collections.deque(maxlen=events_kept)
        self.leaves: dict[str, LeafStats] = {}
        self.values: Values | None = None  # asked for: replies for one step merge
        # step -> its gradients right after its backward, for the latest steps only
        self.step_values: dict[int, StepValues] = {}
        self.step_values_bytes = 0
        self._values_kept = values_kept
        self._values_bytes = values_bytes
        self._now_is_newest = False  # ``values`` arrived after the newest ``step_values``
        self.live: LiveBackward | None = None  # the backward the script is paused inside
        self._newest_graph: tuple[int, str] | None = None  # (step, hash) of the last new one
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
            self._newest_graph = (m.step, m.graph.structure_hash)
            return "graph"
        if isinstance(m, StepValues):
            self._add_step_values(m)
            return "values"
        if isinstance(m, LiveBackward):
            self.live = m
            return "values"
        if isinstance(m, Values):
            old = self.values
            if old is not None and old.step == m.step:  # another node of the same step
                merged = dict(old.values)
                for node, entry in m.values.items():
                    merged[node] = {**merged.get(node, {}), **entry}
                m = Values(m.step, merged)
            self.values = m
            self._now_is_newest = True
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
            self.live = None
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
        if self.live is not None and step.index >= self.live.step:
            self.live = None  # that backward is complete: the step has it all now
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

    def _add_step_values(self, m: StepValues) -> None:
        kept = self.step_values
        old = kept.get(m.step)
        if old is not None:
            self.step_values_bytes -= old.nbytes
            if old.structure == m.structure:
                merged = dict(old.values)
                for node, entry in m.values.items():
                    merged[node] = {**merged.get(node, {}), **entry}
                m = StepValues(m.step, m.structure, merged)
        m.nbytes = _array_bytes(m.values)
        kept[m.step] = m
        self.step_values_bytes += m.nbytes
        if self.values is None or m.step >= self.values.step:
            self._now_is_newest = False
        # the oldest steps go first; the newest stays even when it alone is over the budget
        while len(kept) > self._values_kept or (self.step_values_bytes > self._values_bytes
                                                and len(kept) > 1):
            oldest = min(kept)
            self.step_values_bytes -= kept.pop(oldest).nbytes

    # --- reading ------------------------------------------------------------------------------
    def values_at(self, index: int | None) -> ShownValues | None:
        """The tensor values to show for step ``index``, or for the latest state (None):
        the kept gradients of that step when it is recent enough, else the values asked for
        when they are that step's, else None ("values not kept for step N")."""
        now = self.values
        if index is None:
            if now is not None and (self._now_is_newest or not self.step_values):
                return ShownValues(now.step, self._structure_at(now.step), now.values, NOW)
            if not self.step_values:
                return None
            index = max(self.step_values)
        kept = self.step_values.get(index)
        if kept is not None:
            return ShownValues(index, kept.structure, kept.values, AFTER_BACKWARD)
        if now is not None and now.step == index:
            return ShownValues(index, self._structure_at(index), now.values, NOW)
        return None

    def steps_with_values(self) -> list[int]:
        """The steps whose gradients are kept, oldest first."""
        return sorted(self.step_values)

    def _structure_at(self, index: int) -> str:
        if 0 <= index < len(self.steps):
            return self.steps[index].structure
        return ""

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

    @property
    def current_graph(self) -> Graph | None:
        """The graph of the backward in progress when it is a structure not seen before (the
        script paused in it), else that of the latest step."""
        newest = self._newest_graph
        latest = self.latest_step
        if newest is not None and (latest is None or newest[0] > latest.index):
            return self.graphs.get(newest[1])
        return self.latest_graph

    def detailed_steps(self) -> list[int]:
        return list(self._detailed)
