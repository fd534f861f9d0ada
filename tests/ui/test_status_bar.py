"""The status bar's step count agrees with the trace (and the timeline) whenever it is
redrawn, and it is redrawn a few times a second, not at the screen's rate."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QObject, Signal  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from gradviz.trace import LEAF, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.status_bar import STEPS_MIN_MS, TICK_MS, RunStatusBar  # noqa: E402
from ui.timeline import Timeline  # noqa: E402

RUN_MS = 120_000
FRAME_S = 0.016  # the controller emits steps_recorded at most once a frame


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeController(QObject):
    """The signals and attributes the status bar and the timeline read."""

    state_changed = Signal(str)
    trace_replaced = Signal()
    steps_recorded = Signal(int)
    finished = Signal(object)

    def __init__(self):
        super().__init__()
        self.trace = RunTrace()
        self.state = "idle"
        self.device = "cpu"
        graph = Graph((GraphNode(0, ROOT, "SumBackward0"), GraphNode(1, LEAF, "w")),
                      ((1, 0),), 0)
        self.trace.apply(GraphChanged(0, graph))
        self._structure = graph.structure_hash

    def set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def add_steps(self, n: int) -> None:
        """n more steps in one frame, signalled once, as the controller's pump does."""
        trace = self.trace
        for _ in range(n):
            trace.apply(StepRecorded(Step(len(trace.steps), self._structure, 1.0), [], False))
        self.steps_recorded.emit(len(trace.steps) - 1)


@pytest.fixture
def fake(qtbot):
    controller = FakeController()
    clock = Clock()
    timeline = Timeline(controller, Selection())
    bar = RunStatusBar(controller, clock=clock)
    for w in (timeline, bar):
        qtbot.addWidget(w)
    yield controller, clock, timeline, bar
    bar.stop()


def _count(text: str) -> int:
    return int(text.split()[0].replace(",", ""))


def _timeline_count(timeline: Timeline) -> int:
    # "step 239 / 239 · loss 1": the last index, so one less than the count
    return int(timeline.label_text().split(" / ")[1].split()[0].replace(",", "")) + 1


def test_in_a_fast_run_each_redraw_agrees_with_the_timeline_a_few_times_a_second(fake):
    controller, clock, timeline, bar = fake
    controller.set_state("running")
    assert bar.ticking and bar.steps_text == "0 steps"
    redraws = []  # the frames in which the bar changed
    shown = (bar.steps_text, bar.elapsed_text)
    seconds = 3.0
    for frame in range(int(seconds / FRAME_S)):
        clock.now += FRAME_S
        controller.add_steps(9)  # about 560 steps a second
        now_shown = (bar.steps_text, bar.elapsed_text)
        if now_shown != shown:
            redraws.append(frame)
            # the bar was redrawn in this frame: it says what the trace and the timeline say
            assert _count(bar.steps_text) == len(controller.trace.steps) \
                == _timeline_count(timeline)
        shown = now_shown
        # between redraws it is never more than STEPS_MIN_MS (plus the frame) behind
        behind = len(controller.trace.steps) - _count(bar.steps_text)
        assert behind <= 9 * (STEPS_MIN_MS / 1000 / FRAME_S + 1)
    per_second = len(redraws) / seconds
    assert 3 <= per_second <= 1000 / STEPS_MIN_MS  # a few times a second, not 60
    assert "steps/s" in bar.rate_text and bar.rate_text != "— steps/s"


def test_pausing_and_finishing_show_the_exact_count_at_once(fake):
    controller, clock, timeline, bar = fake
    controller.set_state("running")
    clock.now += 1.0
    controller.add_steps(5)  # redrawn: the first steps after a quiet second
    assert bar.steps_text == "5 steps"
    clock.now += FRAME_S
    controller.add_steps(3)
    assert bar.steps_text == "5 steps"  # too soon after the last redraw
    controller.set_state("paused")
    assert bar.steps_text == "8 steps" and bar.state_text == "paused"
    controller.set_state("running")
    clock.now += FRAME_S
    controller.add_steps(1)
    controller.set_state("finished")
    assert bar.steps_text == "9 steps" and not bar.ticking


def test_the_clock_tick_catches_up_when_the_steps_stop(fake):
    controller, clock, timeline, bar = fake
    controller.set_state("running")
    clock.now += 1.0
    controller.add_steps(1)
    clock.now += FRAME_S
    controller.add_steps(1)  # then a long step: no more steps_recorded for a while
    assert bar.steps_text == "1 step"
    clock.now += TICK_MS / 1000
    bar._timer.timeout.emit()  # the clock's tick (a test never waits for the real one)
    assert bar.steps_text == "2 steps"


def test_steps_outside_a_run_are_shown_at_once(fake):
    controller, clock, timeline, bar = fake
    controller.add_steps(2)
    assert not bar.ticking and bar.steps_text == "2 steps"


class _Paints(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_real_run_repaints_the_count_a_few_times_a_second(qtbot, controller):
    timeline = Timeline(controller, Selection())
    bar = RunStatusBar(controller)
    for w in (timeline, bar):
        qtbot.addWidget(w)
        w.show()
    qtbot.waitExposed(bar)
    label = next(x for x in bar.findChildren(QLabel) if x.text() == bar.steps_text)
    paints = _Paints()
    label.installEventFilter(paints)
    started = time.monotonic()
    with qtbot.waitSignal(controller.finished, timeout=RUN_MS):
        controller.run("two_layer_net")
    seconds = time.monotonic() - started
    label.removeEventFilter(paints)
    bar.stop()
    assert bar.steps_text == "500 steps"
    # at most one repaint per STEPS_MIN_MS, plus the start, the end and an expose or two
    assert paints.count <= seconds * 1000 / STEPS_MIN_MS + 6, (paints.count, seconds)
