"""The step timeline: scrubbing sets the shown step for every view, "follow latest" tracks
the run; and the history behind it stays bounded however long the run."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.session import DETAILED_STEPS_KEPT, GRAD_EVENTS_KEPT  # noqa: E402
from gradviz.trace import LEAF, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.backward_animation import AnimationClock, BackwardAnimation  # noqa: E402
from ui.gradients_panel import LOG_LINES, GradientsPanel  # noqa: E402
from ui.loss_plot import LossPlot  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.timeline import Timeline  # noqa: E402

TIMEOUT_MS = 60_000


def _feed(controller, n, start=0):
    trace = controller.trace
    if not trace.graphs:
        graph = Graph((GraphNode(0, ROOT, "SumBackward0"), GraphNode(1, LEAF, "w")),
                      ((1, 0),), 0)
        trace.apply(GraphChanged(0, graph))
    structure = next(iter(trace.graphs))
    for i in range(start, start + n):
        trace.apply(StepRecorded(Step(i, structure, 1.0 / (i + 1), (0,)), [], False))
    controller.steps_recorded.emit(len(trace.steps) - 1)


def test_scrubbing_shows_a_step_and_follow_latest_tracks_the_run(qtbot, controller):
    selection = Selection()
    timeline = Timeline(controller, selection)
    qtbot.addWidget(timeline)
    assert timeline.label_text() == "no steps yet" and not timeline.slider.isEnabled()
    _feed(controller, 10)
    assert timeline.follows_latest and selection.step is None
    assert timeline.slider.value() == 9
    assert timeline.label_text() == "step 9 / 9 · loss 0.1"
    with qtbot.waitSignal(selection.step_changed) as blocker:
        timeline.slider.setValue(3)
    assert blocker.args == [3] and not timeline.follows_latest
    assert timeline.label_text() == "step 3 / 9 · loss 0.25"
    _feed(controller, 5, start=10)  # the run goes on; the step shown stays
    assert selection.step == 3 and timeline.slider.value() == 3
    assert timeline.slider.maximum() == 14
    timeline.set_follow_latest(True)
    assert selection.step is None and timeline.slider.value() == 14
    selection.show_step(7)  # another view picked a step (a click on the loss curve)
    assert timeline.slider.value() == 7 and not timeline.follows_latest
    selection.show_step(None)
    assert timeline.follows_latest and timeline.slider.value() == 14


def test_memory_stays_bounded_over_20000_steps(qtbot, controller, tmp_path):
    """A tiny script of 20,000 backward calls with every panel live: the trace keeps a
    summary of every step but bounded detail, event log and execution orders."""
    script = tmp_path / "long.py"
    script.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "for _ in range(20_000):\n    (x * x).sum().backward()\n"
        "    with torch.no_grad():\n        x -= 1e-5 * x.grad\n    x.grad.zero_()\n")
    selection = Selection()
    animation = BackwardAnimation(controller, selection, AnimationClock(real_time=False))
    panel = GradientsPanel(controller, selection, animation)
    plot = LossPlot(controller, selection)
    timeline = Timeline(controller, selection)
    for w in (panel, plot, timeline):
        qtbot.addWidget(w)
        w.show()
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run(script)
    assert blocker.args[0].status == "ok"
    trace = controller.trace
    assert len(trace.steps) == len(trace.losses) == 20_000
    # 60,000 events happened; the log keeps the latest, the counts stay exact
    assert len(trace.grad_events) == GRAD_EVENTS_KEPT
    stats = trace.leaves["x"]
    assert (stats.accumulations, stats.zeroings, stats.updates) == (20_000, 20_000, 20_000)
    # gradient summaries for a bounded number of recent steps only
    detailed = [s.index for s in trace.steps if s.detail is not None]
    assert 0 < len(detailed) <= DETAILED_STEPS_KEPT and detailed[-1] == 19_999
    # one graph, one execution order object shared by every step
    assert len(trace.graphs) == 1
    assert len({id(s.order) for s in trace.steps}) == 1
    # the views are bounded too
    assert len(panel.log_lines()) == LOG_LINES
    assert plot.capacity <= 2 * 20_000 and len(plot.losses) == 20_000
    assert timeline.slider.maximum() == 19_999
    assert animation.step_index == 19_999 and animation.length == 3
