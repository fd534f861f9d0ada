"""The step timeline: scrubbing sets the shown step for every view, "follow latest" tracks
the run; and the history behind it stays bounded however long the run."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.session import (  # noqa: E402
    DETAILED_STEPS_KEPT,
    GRAD_EVENTS_KEPT,
    STEP_VALUES_BYTES,
    STEPS_WITH_VALUES,
)
from gradviz.trace import LEAF, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.backward_animation import AnimationClock, BackwardAnimation  # noqa: E402
from ui.gradients_panel import LOG_LINES, GradientsPanel  # noqa: E402
from ui.inspector import Inspector  # noqa: E402
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
    # full gradients for the last steps only, within their byte budget
    assert trace.steps_with_values() == list(range(20_000 - STEPS_WITH_VALUES, 20_000))
    assert 0 < trace.step_values_bytes <= STEP_VALUES_BYTES
    # one graph, one execution order object shared by every step
    assert len(trace.graphs) == 1
    assert len({id(s.order) for s in trace.steps}) == 1
    # the views are bounded too
    assert len(panel.log_lines()) == LOG_LINES
    assert plot.capacity <= 2 * 20_000 and len(plot.losses) == 20_000
    assert timeline.slider.maximum() == 19_999
    assert animation.step_index == 19_999 and animation.length == 3


def test_a_recent_step_shows_its_own_gradients_and_an_old_one_says_they_were_not_kept(
        qtbot, controller, tmp_path):
    # after step k's backward, x.grad = d/dx (k+1) * sum(x * x) = [2(k+1), 4(k+1)]
    script = tmp_path / "scaled.py"
    script.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "for k in range(40):\n    (x * x * (k + 1)).sum().backward()\n    x.grad.zero_()\n")
    selection = Selection()
    panel = GradientsPanel(controller, selection)
    inspector = Inspector(controller, selection)
    timeline = Timeline(controller, selection)
    for w in (panel, inspector, timeline):
        qtbot.addWidget(w)
        w.show()
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.run(script)
    graph = controller.trace.latest_graph
    x = next(n.id for n in graph.nodes if n.kind == "leaf")
    square = graph.inputs_of(graph.inputs_of(graph.root)[0])[0]  # x * x, under the "* (k+1)"
    assert graph.node(square).name == "MulBackward0"
    selection.select_node(x)
    row = panel.row("x")
    assert row.grad_text == "[0., 0.]"  # the latest state: zeroed by the script
    with qtbot.waitSignal(selection.step_changed):
        timeline.slider.setValue(34)
    assert row.grad_text == "[ 70., 140.]"  # as torch prints it
    assert "right after step 34's backward()" in panel._values_note.text()
    grads = inspector._grad_pane.table
    assert [grads.item(i, 0).text() for i in range(2)] == ["70", "140"]
    assert "Gradients right after step 34's backward()" in inspector._note.text()
    selection.select_node(square)  # an autograd node: the gradient that flowed into it
    assert inspector._tabs.tabText(1) == "grad flowing in"
    assert [grads.item(i, 0).text() for i in range(2)] == ["35", "35"]
    timeline.slider.setValue(39)
    assert [grads.item(i, 0).text() for i in range(2)] == ["40", "40"]
    # an old step: its summaries, and a clear note
    timeline.slider.setValue(5)
    assert row.grad_text == "not kept"
    assert "Values not kept for step 5" in panel._values_note.text()
    assert f"(now {40 - STEPS_WITH_VALUES}–39)" in panel._values_note.text()
    assert "Values not kept for step 5" in inspector._note.text()
    assert inspector._grad_pane.message.text().startswith("Values not kept for step 5.")
    assert row.norm_text == "‖grad‖ @5 26.83"  # |[12, 24]|: the norm of every step is kept
    timeline.set_follow_latest(True)
    assert row.grad_text == "[0., 0.]" and not panel._values_note.isVisible()
