"""The graph view: drawing real graphs, selection, search, zoom, groups, level of detail, the
animation API, and layouts that happen once per structure and off the GUI thread."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gradviz import layout as gv_layout  # noqa: E402
from gradviz.diagnostics import Diagnostic  # noqa: E402
from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from gradviz.trace import Graph, GraphNode, Step  # noqa: E402
from ui import theme  # noqa: E402
from ui.graph_view import GraphView  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

RUN_MS = 60_000
LAYOUT_MS = 20_000


def run_to_end(controller: SessionController, target: str) -> None:
    """Run ``target`` and spin the event loop until it finishes (module fixtures have no
    qtbot)."""
    loop = QEventLoop()
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    controller.finished.connect(loop.quit)
    guard.start(RUN_MS)
    controller.run(target)
    loop.exec()
    guard.stop()
    assert controller.state == "finished", "the example did not finish in time"


@pytest.fixture(scope="module")
def example_1_trace(qapp, tmp_path_factory):
    """Example 1 (y = x**2; o = 0.5 * sum(y)) recorded by a real run, saved as a trace."""
    controller = SessionController()
    run_to_end(controller, "square_sum")
    path = tmp_path_factory.mktemp("traces") / "square_sum.json"
    controller.save_trace(path)
    controller.shutdown()
    return path


@pytest.fixture
def make_view(qtbot, controller):
    views = []

    def make(selection=None, size=(640, 520)):
        selection = selection or Selection()
        view = GraphView(controller, selection)
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        views.append(view)
        return view, selection

    yield make
    for view in views:
        view.shutdown()


def open_and_wait(qtbot, view, controller, path):
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        controller.open_trace(path)


def feed(qtbot, view, controller, graph: Graph) -> None:
    """Show ``graph`` as if a run had recorded one backward over it."""
    trace = RunTrace()
    trace.apply(GraphChanged(0, graph))
    trace.apply(StepRecorded(Step(0, graph.structure_hash, 1.0, ()), [], False))
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        controller.trace = trace
        controller.trace_replaced.emit()


def builtin_sum_graph(n: int) -> Graph:
    """The graph of ``0.5 * sum(x**2)`` with builtin ``sum`` over ``n`` elements: one
    UnbindBackward0 feeding a chain of ``n`` AddBackward0 (ids 1..n, n innermost)."""
    nodes = [GraphNode(0, "root", "MulBackward0", ())]
    edges = [(1, 0)]
    for i in range(1, n + 1):
        nodes.append(GraphNode(i, "op", "AddBackward0", ()))
        if i < n:
            edges.append((i + 1, i))
    unbind = n + 1
    edges += [(unbind, i) for i in range(1, n + 1)]
    nodes += [GraphNode(unbind, "op", "UnbindBackward0", ()),
              GraphNode(n + 2, "op", "PowBackward0", (n,)),
              GraphNode(n + 3, "op", "AccumulateGrad", (n,)),
              GraphNode(n + 4, "leaf", "x", (n,))]
    edges += [(n + 2, unbind), (n + 3, n + 2), (n + 4, n + 3)]
    return Graph(tuple(nodes), tuple(edges), 0)


class PaintedRegions(QObject):
    """The regions a widget has painted since it was made (an event filter)."""

    def __init__(self, widget):
        super().__init__(widget)
        self.regions = []
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.regions.append(event.region())
        return False

    def covers(self, rect) -> bool:
        return any(r.contains(rect) for r in self.regions)


def click(qtbot, view, item, double=False):
    pos = view.mapFromScene(item.sceneBoundingRect().center())
    if double:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    else:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def node_id(graph: Graph, name: str) -> int:
    return next(n.id for n in graph.nodes if n.name == name)


# --- drawing ---------------------------------------------------------------------------------

def test_example_1_draws_its_nodes_edges_and_labels(qtbot, controller, make_view,
                                                    example_1_trace):
    view, _ = make_view()
    assert "backward()" in view.message_text()  # nothing to show yet
    open_and_wait(qtbot, view, controller, example_1_trace)
    assert view.message_text() == ""
    labels = sorted(item.box.lines for item in view.node_items())
    assert labels == sorted([
        ("x", "(2)"), ("AccumulateGrad", "(2)"), ("PowBackward0", "(2)"),
        ("UnbindBackward0", "()"), ("AddBackward0", "()"), ("AddBackward0", "()"),
        ("MulBackward0", "()")])
    assert len(view.edge_items()) == 7
    kinds = {item.box.lines[0]: item.box.kind for item in view.node_items()}
    assert kinds["x"] == "leaf" and kinds["MulBackward0"] == "root"
    # torchviz colours: leaf light blue, root green
    x = view.node_item(node_id(view.graph, "x"))
    assert x.fill_color().name() == "#add8e6"
    # edges are drawn in forward direction, with arrowheads, from the layout's splines
    assert all(e.edge.arrow_tip is not None for e in view.edge_items())
    assert view.grab().width() > 0


def test_click_selects_and_highlights(qtbot, controller, make_view, example_1_trace):
    view, selection = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    pow_id = node_id(view.graph, "PowBackward0")
    item = view.node_item(pow_id)
    with qtbot.waitSignal(selection.node_changed, timeout=1_000):
        click(qtbot, view, item)
    assert selection.node == pow_id
    assert item.selected
    # the highlight follows the selection, whoever sets it
    selection.select_node(node_id(view.graph, "x"))
    assert not item.selected and view.node_item(selection.node).selected


def test_find_selects_and_centres_the_match(qtbot, controller, make_view, example_1_trace):
    view, selection = make_view(size=(300, 200))  # smaller than the graph: centring shows
    open_and_wait(qtbot, view, controller, example_1_trace)
    found = view.find("PowBackward0")
    assert found == node_id(view.graph, "PowBackward0") == selection.node
    centre = view.mapToScene(view.viewport().rect().center())
    target = view.node_item(found).scenePos()
    assert abs(centre.x() - target.x()) < 3 and abs(centre.y() - target.y()) < 3
    # again: the next match of a repeated name; no match: None and a message
    first = view.find("addbackward")
    second = view.find("addbackward")
    assert first != second and {first, second} == {
        n.id for n in view.graph.nodes if n.name == "AddBackward0"}
    assert view.find("NoSuchNode") is None and "No node" in view.message_text()


def test_zoom_and_fit_change_the_transform(qtbot, controller, make_view, example_1_trace):
    view, _ = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    start = view.zoom_level()
    view.zoom_in()
    assert view.zoom_level() == pytest.approx(start * 1.25)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom_level() == pytest.approx(start / 1.25)
    # the wheel zooms around the cursor: the scene point under it stays put
    at = view.viewport().rect().center() + QPoint(60, 40)
    before = view.mapToScene(at)
    wheel = QWheelEvent(QPointF(at), QPointF(view.viewport().mapToGlobal(at)), QPoint(),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom_level() > start / 1.25 * 1.3
    after = view.mapToScene(at)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    view.resize(200, 150)
    view.fit()
    fitted = view.zoom_level()
    assert fitted < start
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for item in view.node_items():  # every box is in the window
        assert visible.contains(item.sceneBoundingRect().center())


def test_tooltip_describes_the_node_with_values(qtbot, controller, make_view, example_1_trace):
    view, _ = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    tip = view.node_tooltip(node_id(view.graph, "PowBackward0"))
    assert "PowBackward0" in tip and "shape (2)" in tip and "float32" in tip and "cpu" in tip
    assert "square_sum.py:13" in tip and "x**2" in tip  # the source line, with its code
    assert "[ 4. 16.]" in tip  # the value preview from trace.values
    leaf = view.box_tooltip(view.node_item(node_id(view.graph, "x")).box.id)
    assert "leaf tensor" in leaf and "grad" in leaf and "[2. 4.]" in leaf


def test_keyboard_moves_the_selection_along_edges(qtbot, controller, make_view,
                                                  example_1_trace):
    view, selection = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    selection.select_node(node_id(g, "x"))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert selection.node == node_id(g, "AccumulateGrad")
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert selection.node == node_id(g, "PowBackward0")
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert selection.node == node_id(g, "AccumulateGrad")
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert selection.node is None


# --- groups, options, big graphs --------------------------------------------------------------

def test_double_click_expands_a_collapsed_chain_and_it_collapses_back(qtbot, controller,
                                                                      make_view):
    view, _ = make_view()
    feed(qtbot, view, controller, builtin_sum_graph(20))
    assert view.groups() == ["chain:20"]
    collapsed = len(view.node_items())
    group = view.box_item("chain:20")
    assert group.box.lines[0] == "AddBackward0 ×20"
    assert "Double-click" in view.box_tooltip("chain:20")
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        click(qtbot, view, group, double=True)
    assert len(view.node_items()) == collapsed + 19
    assert view.groups() == []
    # the members' boxes know their group, and the frame around them collapses it back
    assert {i.box.parent for i in view.node_items() if i.box.lines[0] == "AddBackward0"} \
        == {"chain:20"}
    frame = view.frame_item("chain:20")
    assert "AddBackward0 ×20" in frame.title
    view.centerOn(frame.tab_rect.center())
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton,
                          pos=view.mapFromScene(frame.tab_rect.center()))
    assert len(view.node_items()) == collapsed and view.frame_item("chain:20") is None


def test_nodes_in_a_group_animate_their_group_box(qtbot, controller, make_view):
    view, _ = make_view()
    feed(qtbot, view, controller, builtin_sum_graph(20))
    view.set_node_state(7, "done")  # an AddBackward0 inside the collapsed chain
    assert view.box_item("chain:20").state == "done"
    view.set_edge_progress(21, 7, 0.5)  # UnbindBackward0 -> the chain (a bundled edge)
    assert view.edge_item(21, 7).progress == 0.5
    assert view.edge_item(21, 7).edge.label == "×20"
    view.set_edge_progress(8, 7, 0.5)  # inside the group: nothing to draw, no error
    view.clear_animation()
    assert view.box_item("chain:20").state == "normal"
    assert view.edge_item(21, 7).progress is None


def test_hide_no_grad_option_relays_out_without_constants(qtbot, controller, make_view):
    nodes = (GraphNode(0, "root", "MulBackward0", ()),
             GraphNode(1, "op", "AccumulateGrad", (3,)),
             GraphNode(2, "leaf", "w", (3,)),
             GraphNode(3, "leaf", "x", (3,), requires_grad=False))
    graph = Graph(nodes, ((1, 0), (2, 1), (3, 0)), 0)
    view, _ = make_view()
    feed(qtbot, view, controller, graph)
    assert len(view.node_items()) == 4
    assert view.node_item(3).box.style.dashed  # a constant: dashed outline
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        view.set_hide_no_grad(True)
    assert len(view.node_items()) == 3 and view.node_item(3) is None


def test_two_thousand_element_builtin_sum_expanded_renders(qtbot, controller, make_view):
    view, _ = make_view(size=(800, 600))
    view.layout_timeout = 0.5  # dot needs minutes here: fall back to the Python layout fast
    view.expand_group("chain:2000")
    t0 = time.perf_counter()
    graph = builtin_sum_graph(2000)
    trace = RunTrace()
    trace.apply(GraphChanged(0, graph))
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        controller.trace = trace
        controller.graph_changed.emit(graph.structure_hash)
        # the layout runs on a worker thread: the GUI says so and stays responsive
        assert view.is_laying_out and "Laying out" in view.message_text()
    assert not view.is_laying_out
    assert len(view.node_items()) == 2005
    assert "layered layout" in view.message_text()  # says it is not dot's picture
    assert view.labels_visible()  # it opens readable, at the loss
    view.fit()
    assert not view.labels_visible()  # level of detail: no text when far out
    image = view.grab()
    assert not image.isNull()
    view.zoom_by(40)
    view.grab()
    assert time.perf_counter() - t0 < 15


def test_zoomed_out_the_overview_paints_and_items_keep_their_clicks(qtbot, controller,
                                                                   make_view, example_1_trace):
    """Level of detail: past the labels, one overview item draws every plain box and edge
    (their own paint is skipped); what the animation or the selection marks still paints
    itself, clicks and tooltips still find the boxes, and zooming in restores the items."""
    view, selection = make_view(size=(200, 150))  # Example 1 fitted: too small for labels
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    pow_id, unbind, x = (node_id(g, n) for n in ("PowBackward0", "UnbindBackward0", "x"))
    view.fit()
    assert not view.labels_visible() and view.overview_shown()
    items = view.node_items() + view.edge_items()
    assert not any(item.paints_itself() for item in items)
    # the overview has painted the boxes: the leaf's centre is torchviz's light blue
    image = view.grab().toImage()
    centre = view.mapFromScene(view.node_item(x).scenePos())
    assert image.pixelColor(centre).name() == "#add8e6"

    view.set_node_state(pow_id, "current")
    view.set_edge_progress(pow_id, unbind, 0.5)
    selection.select_node(x)
    painting = {item for item in items if item.paints_itself()}
    assert painting == {view.node_item(pow_id), view.edge_item(pow_id, unbind),
                        view.node_item(x)}
    view.grab()  # they paint over the overview without error
    with qtbot.waitSignal(selection.node_changed, timeout=1_000):
        click(qtbot, view, view.node_item(unbind))
    assert selection.node == unbind
    assert view.node_item(unbind).paints_itself()  # selected: drawn with its ring
    assert not view.node_item(x).paints_itself()  # plain again
    assert "UnbindBackward0" in view.tooltip_at(
        view.mapFromScene(view.node_item(unbind).scenePos()))

    # what an item drew is erased when it stops painting itself (Qt would not repaint the
    # area of an item without contents): the glow goes when the animation moves on
    QApplication.processEvents()  # paint what is pending first
    painted = PaintedRegions(view.viewport())
    glow = view.mapFromScene(view.node_item(pow_id).sceneBoundingRect()).boundingRect()
    view.set_node_state(pow_id, "normal")
    qtbot.waitUntil(lambda: painted.covers(glow), timeout=1_000)

    view.clear_animation()
    view.zoom_by(4.0)
    assert view.labels_visible() and not view.overview_shown()
    assert all(item.paints_itself() for item in items)
    assert view.node_item(pow_id).state == "normal"


def test_zoomed_out_executed_nodes_keep_their_tint(qtbot, controller, make_view,
                                                  example_1_trace):
    """The "done" tint stays on every node a backward pass executed: far out the overview
    draws it, whether the state changed while the overview was shown or hidden."""
    view, _ = make_view(size=(200, 150))
    open_and_wait(qtbot, view, controller, example_1_trace)
    x = view.node_item(node_id(view.graph, "x"))
    normal = x.fill_color()
    view.fit()
    view.grab()  # the overview's cache holds the leaf untinted

    def centre_color():
        return view.grab().toImage().pixelColor(view.mapFromScene(x.scenePos()))

    view.set_node_state(x.box.members[0], "done")
    assert not x.paints_itself() and x.fill_color() != normal
    assert centre_color() == x.fill_color()
    view.set_node_state(x.box.members[0], "normal")
    assert centre_color() == normal
    # changed while zoomed in (the overview hidden), seen when zoomed out again
    view.zoom_by(4.0)
    view.set_node_state(x.box.members[0], "done")
    view.fit()
    assert view.overview_shown() and centre_color() == x.fill_color()


def test_zoomed_out_problem_badges_still_show(qtbot, controller, make_view, example_1_trace):
    view, _ = make_view(size=(200, 150))
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    pow_id = node_id(g, "PowBackward0")
    view.set_diagnostics([Diagnostic("nan-or-inf", "inf", pow_id, 13, None, 0,
                                     g.structure_hash)])
    view.fit()
    assert view.overview_shown() and not view.node_item(pow_id).paints_itself()
    badge = view.problem_badge(pow_id)
    image = view.grab().toImage()
    # the marker (a disc centred on the badge's anchor, beside its exclamation mark) is in
    # the severity's colour: the badge, a child of a box that paints nothing, still paints
    marker = view.mapFromScene(badge.scenePos()) + QPoint(4, 0)
    assert image.pixelColor(marker) == badge.fill_color()


def test_missing_graphviz_is_a_message_not_a_crash(qtbot, controller, make_view, monkeypatch):
    monkeypatch.setattr(gv_layout, "DOT", "gradviz-no-such-dot")
    gv_layout.clear_cache()
    view, _ = make_view()
    trace = RunTrace()
    graph = builtin_sum_graph(3)
    trace.apply(GraphChanged(0, graph))
    with qtbot.waitSignal(view.layout_failed, timeout=LAYOUT_MS) as blocker:
        controller.trace = trace
        controller.graph_changed.emit(graph.structure_hash)
    assert "apt-get install graphviz" in blocker.args[0]
    assert "Graphviz" in view.message_text()
    assert view.node_items() == []


# --- animation API ----------------------------------------------------------------------------

def test_animation_api_changes_item_states(qtbot, controller, make_view, example_1_trace):
    view, _ = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    pow_id, unbind, x = (node_id(g, n) for n in ("PowBackward0", "UnbindBackward0", "x"))
    item = view.node_item(pow_id)
    normal_fill = item.fill_color().name()
    view.set_node_state(pow_id, "current")
    assert item.state == "current" and item.zValue() > view.node_item(x).zValue()
    view.set_node_state(pow_id, "done")
    assert item.state == "done" and item.fill_color().name() != normal_fill
    view.set_node_state(x, "flash")
    assert view.node_item(x).fill_color().name() != "#add8e6"
    with pytest.raises(ValueError):
        view.set_node_state(pow_id, "sparkly")
    view.set_node_badge(pow_id, "|g|=0.707")
    assert item.badge == "|g|=0.707"
    assert item.boundingRect().width() > item.box.width  # room for the badge

    edge = view.edge_item(pow_id, unbind)
    view.set_edge_progress(pow_id, unbind, 0.0)  # the gradient leaves the consumer...
    start = edge.pulse_position()
    view.set_edge_progress(pow_id, unbind, 1.0)  # ...and arrives at the input
    end = edge.pulse_position()
    src, dst = (view.node_rect(i) for i in (pow_id, unbind))
    assert abs(start.y() - dst.top()) < abs(start.y() - src.bottom())
    assert abs(end.y() - src.bottom()) < 2
    assert view.node_rect(pow_id).contains(QPointF(item.box.x, item.box.y))
    view.grab()  # paints every state without error

    view.clear_animation()
    assert item.state == "normal" and item.badge is None and edge.progress is None
    assert view.node_item(x).state == "normal"
    # unknown ids are ignored: the animation may run ahead of a relayout
    view.set_node_state(999, "done")
    view.set_edge_progress(999, 0, 0.5)


# --- once per structure -----------------------------------------------------------------------

def test_a_500_step_run_lays_out_once(qtbot, controller, make_view):
    view, selection = make_view()
    with qtbot.waitSignal(controller.finished, timeout=RUN_MS):
        controller.run("two_layer_net")
    qtbot.waitUntil(lambda: view.graph_layout is not None, timeout=LAYOUT_MS)
    assert len(controller.trace.steps) == 500
    assert view.layout_count == 1
    drawn = view.node_items()
    selection.show_step(3)  # another step of the same structure: nothing to lay out
    assert not view.is_laying_out and view.node_items() == drawn
    assert {i.box.lines[0] for i in drawn} >= {"MmBackward0", "ClampBackward1", "w1", "w2"}


# --- problem badges ---------------------------------------------------------------------------

def badge_pos(view, badge) -> QPoint:
    """Viewport position of a problem badge's centre (it keeps its pixel size at every zoom,
    so its own coordinates are pixels from its anchor, the box's corner)."""
    return view.mapFromScene(badge.scenePos()) + badge.boundingRect().center().toPoint()


def test_problem_badges_count_colour_tooltip_and_click(qtbot, controller, make_view,
                                                      example_1_trace):
    view, selection = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    pow_id, x = node_id(g, "PowBackward0"), node_id(g, "x")
    nan = Diagnostic("nan-or-inf", "PowBackward0 produced inf", pow_id, 13, None, 0,
                     g.structure_hash, "PowBackward0")
    dead = Diagnostic("dead-relu", "dead <b>relu</b>", pow_id, 13, None, 0, g.structure_hash)
    lost = Diagnostic("no-gradient", "x got nothing", x, 12, None, 0, g.structure_hash, "x")
    elsewhere = Diagnostic("nan-or-inf", "another graph", x, 3, None, 0, "other-structure")
    detached = Diagnostic("no-gradient", "w1 is not in the graph", None, 9)
    assert view.problem_badges() == {}
    view.set_diagnostics([nan, lost, dead, elsewhere, detached])
    assert len(view.problem_badges()) == 2  # the other structure's and node-less ones: none
    on_pow, on_x = view.problem_badge(pow_id), view.problem_badge(x)
    assert (on_pow.count, on_pow.severity, on_pow.diagnostics) == (2, "error", [nan, dead])
    assert (on_x.count, on_x.severity) == (1, "warning")
    assert on_pow.fill_color() != on_x.fill_color()  # red and amber
    assert "NaN or Inf" in on_pow.tooltip and "Dead ReLU" in on_pow.tooltip
    assert "dead &lt;b&gt;relu" in on_pow.tooltip  # messages are text, not markup
    view.grab()  # paints

    # hovering shows the messages; a click selects the node and hands over its findings
    pos = badge_pos(view, on_pow)
    assert view.tooltip_at(pos) == on_pow.tooltip
    assert "PowBackward0" in view.tooltip_at(view.mapFromScene(on_pow.parentItem().scenePos()))
    with qtbot.waitSignal(view.problem_badge_clicked, timeout=1_000) as clicked:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert clicked.args == [[nan, dead]]
    assert selection.node == pow_id

    # the dark theme recolours the badge
    light = on_pow.fill_color().name()
    view.setPalette(theme.palette(theme.DARK))
    assert on_pow.fill_color().name() != light

    view.set_diagnostics([])  # a new run
    assert view.problem_badges() == {} and view.problem_badge(pow_id) is None


def test_problem_badges_outlive_the_animation_and_relayouts(qtbot, controller, make_view,
                                                            example_1_trace):
    view, _ = make_view()
    open_and_wait(qtbot, view, controller, example_1_trace)
    g = view.graph
    pow_id = node_id(g, "PowBackward0")
    d = Diagnostic("nan-or-inf", "inf", pow_id, 13, None, 0, g.structure_hash)
    view.set_diagnostics([d])
    # the backward animation's gradient badge sits beside it; clearing the animation keeps it
    view.set_node_badge(pow_id, "‖g‖ 2")
    assert view.node_item(pow_id).badge == "‖g‖ 2" and view.problem_badge(pow_id).count == 1
    view.clear_animation()
    assert view.node_item(pow_id).badge is None and view.problem_badge(pow_id) is not None
    # a relayout makes new items: the badge is drawn on the new box
    old_item = view.node_item(pow_id)
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        view.set_rankdir("BT")
    assert view.node_item(pow_id) is not old_item
    assert view.problem_badge(pow_id).parentItem() is view.node_item(pow_id)
    # a new run (trace replaced) with another graph: nothing of the old findings' structure
    feed(qtbot, view, controller, builtin_sum_graph(3))
    assert view.problem_badges() == {}


def test_a_problem_inside_a_collapsed_group_badges_the_group(qtbot, controller, make_view):
    view, _ = make_view()
    graph = builtin_sum_graph(20)
    feed(qtbot, view, controller, graph)
    ds = [Diagnostic("dead-relu", f"node {i}", i, 1, None, 0, graph.structure_hash)
          for i in (7, 9)]
    view.set_diagnostics(ds)
    group = view.problem_badge(7)
    assert group is view.problem_badge(9) and group.count == 2
    assert group.parentItem() is view.box_item("chain:20")
    with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
        view.expand_group("chain:20")
    assert view.problem_badge(7) is not view.problem_badge(9)
    assert view.problem_badge(7).count == view.problem_badge(9).count == 1


def test_reveal_node_selects_and_centres_it(qtbot, controller, make_view, example_1_trace):
    view, selection = make_view(size=(260, 160))  # smaller than the graph
    open_and_wait(qtbot, view, controller, example_1_trace)
    x = node_id(view.graph, "x")
    root = view.node_item(view.graph.root)
    view.centerOn(root)
    view.reveal_node(x)
    assert selection.node == x and view.node_item(x).selected
    centre = view.mapToScene(view.viewport().rect().center())
    target = view.node_item(x).scenePos()
    assert abs(centre.x() - target.x()) < 3 and abs(centre.y() - target.y()) < 3


def test_zoomed_out_the_selection_ring_stays_visible(qtbot, controller, make_view,
                                                     example_1_trace):
    """Fitted whole, a box is a few pixels and the ring's 2.5 scene units a fraction of one:
    the selected box gets a ring of whole screen pixels instead."""
    view, selection = make_view(size=(200, 150))
    open_and_wait(qtbot, view, controller, example_1_trace)
    x = view.node_item(node_id(view.graph, "x"))
    view.fit()
    ring = x._selected_pen.color()

    def ring_pixels() -> int:
        image = view.grab().toImage()
        area = view.mapFromScene(x.sceneBoundingRect()).boundingRect().adjusted(-3, -3, 3, 3)
        count = 0
        for px in range(area.left(), area.right() + 1):
            for py in range(area.top(), area.bottom() + 1):
                c = image.pixelColor(px, py)
                if (abs(c.red() - ring.red()) + abs(c.green() - ring.green())
                        + abs(c.blue() - ring.blue())) < 60:
                    count += 1
        return count

    before = ring_pixels()
    selection.select_node(x.box.members[0])
    box = view.mapFromScene(x.sceneBoundingRect()).boundingRect()
    # a closed ring of at least one whole pixel around the box's on-screen outline
    assert ring_pixels() - before >= box.width() + box.height()
