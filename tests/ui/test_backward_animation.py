"""The backward animation: replays the engine's real order on a deterministic clock, delivers
gradients to the right nodes (adding up contributions of two paths), and follows a backward
the child steps through node by node."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Signal  # noqa: E402

from ui.animation_controls import AnimationControls, parse_breakpoints  # noqa: E402
from ui.backward_animation import (  # noqa: E402
    NODE_MS,
    PULSE_SHARE,
    AnimationClock,
    BackwardAnimation,
)
from ui.gradients_panel import GradientsPanel  # noqa: E402
from ui.selection import Selection  # noqa: E402

TIMEOUT_MS = 60_000
EXAMPLE_1_ORDER = ["MulBackward0", "AddBackward0", "AddBackward0", "UnbindBackward0",
                   "PowBackward0", "AccumulateGrad"]


class FakeGraphView(QObject):
    """The graph view's animation API, recording what it was told."""

    layout_ready = Signal()

    def __init__(self):
        super().__init__()
        self.states: dict[int, str] = {}
        self.badges: dict[int, str] = {}
        self.edges: dict[tuple[int, int], float] = {}
        self.calls = 0
        self.cleared = 0

    def set_node_state(self, node_id, state):
        self.calls += 1
        if state == "normal":
            self.states.pop(node_id, None)
        else:
            self.states[node_id] = state

    def set_node_badge(self, node_id, text):
        self.calls += 1
        if text is None:
            self.badges.pop(node_id, None)
        else:
            self.badges[node_id] = text

    def set_edge_progress(self, src, dst, t):
        self.calls += 1
        if t is None:
            self.edges.pop((src, dst), None)
        else:
            assert 0.0 <= t <= 1.0
            self.edges[(src, dst)] = t

    def clear_animation(self):
        self.cleared += 1
        self.states.clear()
        self.badges.clear()
        self.edges.clear()


@pytest.fixture
def rig(qtbot, controller):
    """Controller, selection, a test clock, the animation and a fake view."""
    selection = Selection()
    clock = AnimationClock(real_time=False)
    animation = BackwardAnimation(controller, selection, clock)
    view = FakeGraphView()
    animation.set_view(view)
    return controller, selection, clock, animation, view


def _run(qtbot, controller, target):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run(target)
    assert blocker.args[0].status == "ok", controller.result
    return controller.trace


def _leaf(graph, name):
    return next(n.id for n in graph.nodes if n.kind == "leaf" and n.name == name)


def test_example_1_steps_visit_the_engines_order_and_x_grad_is_2_4(qtbot, rig):
    controller, selection, clock, animation, view = rig
    panel = GradientsPanel(controller, selection, animation)
    qtbot.addWidget(panel)
    trace = _run(qtbot, controller, "square_sum")
    graph = trace.latest_graph
    x = _leaf(graph, "x")
    assert animation.length == 6 and animation.position == 0
    entered, reached = [], []
    animation.node_entered.connect(lambda nid: entered.append(graph.node(nid).name))
    animation.leaf_reached.connect(reached.append)
    with qtbot.waitSignal(animation.finished, timeout=1_000):
        for _ in range(6):
            animation.step_forward()
    assert entered == EXAMPLE_1_ORDER
    assert reached == ["x"]
    assert animation.position == 6
    # every node ran: the last one glows, the others are done, the leaf flashes
    acc = animation.order[-1]
    assert view.states[acc] == "current"
    assert all(view.states[n] == "done" for n in animation.order[:-1])
    assert view.states[x] == "flash"
    assert view.badges[x] == "[2., 4.]"
    assert view.badges[graph.root] == "1"  # d o / d o
    assert view.badges[animation.order[1]] == "0.5"  # (1/2) * ...
    assert panel.row("x").grad_text == "[2., 4.]"
    assert panel.row("x").flash_level > 0


def test_play_moves_the_pulse_on_the_clock_only(qtbot, rig):
    controller, selection, clock, animation, view = rig
    trace = _run(qtbot, controller, "square_sum")
    graph = trace.latest_graph
    root, add = animation.order[0], animation.order[1]
    animation.play()
    assert animation.is_playing and clock.running
    assert animation.position == 0 and view.states == {}
    clock.advance(NODE_MS * PULSE_SHARE / 2)  # half way along the root's first edge
    assert animation.position == 1
    assert view.states == {root: "current"}
    assert view.edges == {(add, root): pytest.approx(0.5)}
    assert add not in view.badges  # the gradient has not arrived yet
    clock.advance(NODE_MS * PULSE_SHARE / 2)
    assert view.edges == {} and view.badges[add] == "0.5"
    positions = []
    animation.position_changed.connect(positions.append)
    with qtbot.waitSignal(animation.finished, timeout=1_000):
        for _ in range(40):
            clock.advance(NODE_MS / 4)
    assert positions == [2, 3, 4, 5, 6]
    assert not animation.is_playing and not clock.running
    assert view.badges[_leaf(graph, "x")] == "[2., 4.]"
    # play again from the end starts over; double speed takes half the time per node
    animation.set_speed(2.0)
    animation.play()
    clock.advance(NODE_MS / 2)
    assert animation.position == 1 and animation.progress == pytest.approx(1.0)


def test_step_back_jump_and_seek(qtbot, rig):
    controller, selection, clock, animation, view = rig
    _run(qtbot, controller, "square_sum")
    animation.jump_to_end()
    assert animation.position == 6 and len(view.badges) == 7
    animation.step_back()
    assert animation.position == 5
    assert view.states[animation.order[4]] == "current"
    assert animation.order[5] not in view.states
    animation.seek(2)
    assert animation.position == 2
    assert set(view.states) == set(animation.order[:2])
    animation.seek(99)
    assert animation.position == 6
    animation.jump_to_start()
    assert animation.position == 0
    assert view.states == {} and view.badges == {} and view.edges == {}
    # a step forward is final at once; the pulse then runs its course on the clock
    animation.step_forward()
    assert animation.position == 1 and view.edges == {(animation.order[1], animation.order[0]): 0}
    clock.advance(NODE_MS)
    assert view.edges == {} and not clock.running


def test_the_view_is_told_only_what_changed_and_everything_after_a_new_layout(qtbot, rig):
    controller, selection, clock, animation, view = rig
    _run(qtbot, controller, "square_sum")
    animation.seek(3)
    calls = view.calls
    animation.seek(3)
    assert view.calls == calls
    before = (dict(view.states), dict(view.badges))
    view.states.clear()
    view.badges.clear()
    view.layout_ready.emit()  # new items: they are told their state again
    assert (view.states, view.badges) == before


def test_two_paths_into_one_leaf_add_up(qtbot, rig, tmp_path):
    controller, selection, clock, animation, view = rig
    script = tmp_path / "twice.py"
    script.write_text("import torch\nx = torch.tensor(3.0, requires_grad=True)\n"
                      "o = x * 2 + x * 3\no.backward()\nprint(x.grad)\n")
    trace = _run(qtbot, controller, script)
    graph = trace.latest_graph
    names = [graph.node(n).name for n in animation.order]
    assert names == ["AddBackward0", "MulBackward0", "MulBackward0", "AccumulateGrad"]
    acc = animation.order[3]
    animation.seek(2)  # the first product (x * 3: the engine runs it first) sent its share
    assert view.badges[acc] == "3 + …"
    animation.seek(3)  # the second one arrives: the two add up
    assert view.badges[acc] == "3 + 2 = 5"
    animation.seek(4)
    assert view.badges[acc] == "3 + 2 = 5"
    assert view.badges[_leaf(graph, "x")] == "5"


def test_selected_step_is_replayed_and_old_steps_without_detail_have_no_badges(qtbot, rig):
    controller, selection, clock, animation, view = rig
    trace = _run(qtbot, controller, "two_layer_net")
    assert animation.step_index == 499
    names = [trace.latest_graph.node(n).name for n in animation.order]
    assert names[:4] == ["SumBackward0", "PowBackward0", "SubBackward0", "MmBackward0"]
    assert names.count("AccumulateGrad") == 2
    bare = next(s.index for s in trace.steps if s.detail is None)
    selection.show_step(bare)
    assert animation.step_index == bare and animation.position == 0
    assert not animation.has_gradients
    animation.jump_to_end()
    assert view.badges == {} and len(view.states) == len(animation.order) + 2  # + 2 leaves
    # the oldest step that still has its gradient summaries (how many were detailed depends
    # on how fast the machine ran the loop)
    selection.show_step(trace.detailed_steps()[0])
    animation.jump_to_end()
    w1 = _leaf(trace.latest_graph, "w1")
    assert view.badges[w1].startswith("‖g‖ ")


def test_pause_at_backward_step_three_nodes_continue_stop(qtbot, rig, tmp_path):
    controller, selection, clock, animation, view = rig
    script = tmp_path / "loop.py"
    script.write_text(
        "import torch\nx = torch.tensor([2.0, 4.0], requires_grad=True)\n"
        "while True:\n    o = (1/2) * sum(x ** 2)\n    o.backward()\n    x.grad.zero_()\n")
    controls = AnimationControls(animation, controller)
    qtbot.addWidget(controls)
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS) as blocker:
        controller.run(script, pause_at_start=True)
    assert blocker.args[0].where == "backward"
    assert controller.state == "paused" and animation.live and animation.position == 0
    seen = []
    for k in range(1, 4):
        # the same control that replays a recorded backward steps the live one
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS) as blocker:
            animation.step_forward()
        seen.append(blocker.args[0].position)
        assert controller.state == "paused"
        assert animation.position == k
        assert view.states[animation.order[k - 1]] == "current"
        assert all(view.states[n] == "done" for n in animation.order[:k - 1])
    assert seen == [0, 1, 2]
    graph = animation.graph
    assert [graph.node(n).name for n in animation.order[:3]] == EXAMPLE_1_ORDER[:3]
    # the first backward of a new graph: how many nodes follow is not known yet
    assert controls.where_text() == "3 / …  AddBackward0  (live)"
    with qtbot.waitSignal(controller.steps_recorded, timeout=TIMEOUT_MS):
        controller.resume()
    assert controller.state == "running"
    qtbot.waitUntil(lambda: not animation.live, timeout=TIMEOUT_MS)
    assert animation.position == 3 and animation.has_gradients
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.stop()
    assert blocker.args[0].status == "stopped"
    assert controller.state == "finished" and not animation.live


def test_a_live_backward_shows_the_gradients_of_the_nodes_run_so_far(qtbot, rig, tmp_path):
    controller, selection, clock, animation, view = rig
    panel = GradientsPanel(controller, selection, animation)  # asks for values at every pause
    qtbot.addWidget(panel)
    script = tmp_path / "once.py"
    script.write_text("import torch\nx = torch.tensor([2.0, 4.0], requires_grad=True)\n"
                      "o = (1/2) * sum(x ** 2)\no.backward()\nprint(x.grad)\n")
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.run(script, pause_at_start=True)
    for _ in range(2):
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
            animation.step_forward()
    root, add = animation.order[:2]
    # the badges come with the values the panel asked for: d o / d o, then (1/2) * ...
    qtbot.waitUntil(lambda: view.badges.get(add) == "0.5", timeout=TIMEOUT_MS)
    assert animation.live and animation.has_gradients and view.badges[root] == "1"
    for _ in range(4):  # on to AccumulateGrad: x receives [2., 4.]
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
            animation.step_forward()
    x = _leaf(animation.graph, "x")
    qtbot.waitUntil(lambda: view.badges.get(x) == "[2., 4.]", timeout=TIMEOUT_MS)
    assert panel.row("x").grad_text == "[2., 4.]"
    assert panel.row("x").norm_text == "‖grad‖ now 4.472"
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.resume()
    assert controller.trace.live is None


def test_a_recent_step_without_summaries_gets_its_badges_from_its_kept_gradients(qtbot, rig,
                                                                                  tmp_path):
    controller, selection, clock, animation, view = rig
    script = tmp_path / "scaled.py"  # after step k: x.grad = [2(k+1), 4(k+1)]
    script.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "for k in range(40):\n    (x * x * (k + 1)).sum().backward()\n    x.grad.zero_()\n")
    trace = _run(qtbot, controller, script)
    x = _leaf(trace.latest_graph, "x")
    selection.show_step(34)  # among the last STEPS_WITH_VALUES
    animation.jump_to_end()
    assert animation.has_gradients
    assert view.badges[x] == "[ 70., 140.]"
    old = next((s.index for s in trace.steps[:20] if s.detail is None), None)
    if old is not None:  # neither summaries nor gradients kept: no badges
        selection.show_step(old)
        animation.jump_to_end()
        assert not animation.has_gradients and view.badges == {}


def test_breakpoint_field_sets_the_controllers_breakpoints(qtbot, rig):
    controller, selection, clock, animation, view = rig
    controls = AnimationControls(animation, controller)
    qtbot.addWidget(controls)
    assert parse_breakpoints(" MmBackward0, AddBackward0;MmBackward0 ") == (
        "MmBackward0", "AddBackward0")
    controls.set_breakpoints("PowBackward0")
    assert controller.breakpoints == ("PowBackward0",)
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS) as blocker:
        controller.run("square_sum")
    paused = blocker.args[0]
    assert paused.where == "node" and paused.position == 4  # PowBackward0 just ran
    qtbot.waitUntil(lambda: animation.position == 5, timeout=TIMEOUT_MS)
    assert animation.graph.node(animation.current_node).name == "PowBackward0"
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.resume()


def test_controls_follow_the_animation(qtbot, rig):
    controller, selection, clock, animation, view = rig
    controls = AnimationControls(animation, controller)
    qtbot.addWidget(controls)
    assert not controls.play_action.isEnabled()
    _run(qtbot, controller, "square_sum")
    assert controls.scrubber.maximum() == 6 and controls.play_action.isEnabled()
    controls.forward_action.trigger()
    assert controls.scrubber.value() == 1 and controls.where_text() == "1 / 6  MulBackward0"
    controls.scrubber.setValue(4)
    assert animation.position == 4
    controls.play_action.trigger()
    assert animation.is_playing and controls.play_action.text() == "Pause"
    controls.play_action.trigger()
    assert not animation.is_playing and not clock.running
    controls.end_action.trigger()
    assert not controls.forward_action.isEnabled() and not controls.end_action.isEnabled()


def test_real_graph_view_accepts_the_animation(qtbot, rig):
    graph_view = pytest.importorskip("ui.graph_view")
    controller, selection, clock, animation, view = rig
    view_cls = getattr(graph_view, "GraphView", None)
    if view_cls is None:
        pytest.skip("ui.graph_view has no GraphView yet")
    try:
        real = view_cls(controller, selection)
    except TypeError:
        pytest.skip("GraphView's constructor differs from (controller, selection)")
    qtbot.addWidget(real)
    animation.set_view(real)
    _run(qtbot, controller, "square_sum")
    with qtbot.waitSignal(animation.finished, timeout=1_000):
        for _ in range(6):
            animation.step_forward()
    clock.advance(NODE_MS)
    animation.jump_to_start()


def test_real_time_clock_plays_to_the_end_and_stops_its_timer(qtbot, controller):
    animation = BackwardAnimation(controller, Selection())  # the app's clock: a QTimer
    view = FakeGraphView()
    animation.set_view(view)
    _run(qtbot, controller, "square_sum")
    animation.set_speed(8.0)
    with qtbot.waitSignal(animation.finished, timeout=10_000):
        animation.play()
    assert animation.position == 6 and not animation.is_playing
    assert not animation.clock.running and not animation.clock._timer.isActive()
