"""The graph view: the autograd graph of the step shown, laid out by Graphviz and drawn natively
so it can be hovered, clicked, searched and animated.

Layout runs on a worker thread (``dot`` can take seconds); the view says "laying out…" in
the meantime and draws the result when it arrives. ``gradviz.layout`` caches layouts per
structure and the view remembers what it drew, so the 500 identical steps of a training
loop lay out once and values update in place. The animation API (``set_node_state``,
``set_node_badge``, ``set_edge_progress``, ``clear_animation``) is what
``ui/backward_animation.py`` drives; every call repaints one item.

Zoomed out past the labels, the graph is drawn by one overview item in a few batched calls
instead of one Python ``paint`` per box and edge (``graph_items``, "Level of detail"): the
view switches as its zoom crosses the threshold (``overview_shown``), which keeps
fit-to-window of a 2,000-box graph within a frame (``benchmarks/graph_view_frames.py``).

Problem badges are separate from the animation's: ``set_diagnostics`` gives the view the
run's findings (the main window passes on the Problems panel's list); the view badges the
boxes of the graph drawn whose nodes they point at, again after every relayout, and leaves
them alone when the animation clears its own state. A click on a badge selects its box and
emits ``problem_badge_clicked``.
"""

from __future__ import annotations

import html
import linecache
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, QRectF, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QMenu,
    QToolTip,
)

from gradviz.collapse import CHAIN, FAN, GROUP, MODULE, SAVED, CollapseOptions, collapse
from gradviz.diagnostics import Diagnostic, by_node
from gradviz.layout import (
    DEFAULT_TIMEOUT,
    STYLES,
    GraphvizMissing,
    Layout,
    layout_graph,
    layout_view,
)
from gradviz.trace import LEAF, ROOT, Graph

from .graph_items import (
    MIN_TEXT_PX,
    NORMAL,
    EdgeItem,
    GraphOverviewItem,
    GroupFrameItem,
    NodeItem,
    ProblemBadgeItem,
    blend,
    label_font,
    set_far,
)
from .problems_panel import severity, title, worst

MIN_SCALE, MAX_SCALE = 0.002, 12.0
MAX_FIT_SCALE = 2.0  # fitting Example 1's seven boxes into a big window would make them huge
READABLE_SCALE = 0.5  # below this labels are hidden: start zoomed in on what matters instead
DETAIL_SCALE = 0.8  # the zoom a part of a big graph is shown at: 8 px labels
ZOOM_STEP = 1.25
CLICK_SLOP = 4  # pixels a press may move and still be a click, not a drag
NO_VALUES = "values are kept for the latest step; run or pause to see them"


def compute_layout(graph: Graph, options: CollapseOptions, rankdir: str,
                   timeout: float) -> Layout:
    """The layout the view draws for ``graph`` (blocking: call it off the GUI thread).

    With groups the user expanded, a slow ``dot`` falls back to the Python layered layout of
    the same view rather than to the fully collapsed one: collapsing what the user just asked
    to see would make expanding impossible on big groups.
    """
    if options.expanded:
        return layout_view(collapse(graph, options), rankdir=rankdir, timeout=timeout,
                           fallback=None)
    return layout_graph(graph, options, rankdir=rankdir, timeout=timeout)


def array_preview(a) -> str:
    """A few values of an array, numpy-style, for tooltips."""
    a = np.asarray(a)
    if a.ndim == 0:
        return f"{a.item():.6g}"
    return np.array2string(a, precision=4, threshold=12, edgeitems=2, max_line_width=64,
                           suppress_small=False)


class _LayoutBridge(QObject):
    """Carries a finished layout from the worker thread to the GUI thread (queued)."""

    done = Signal(int, object, object, str)  # generation, graph, layout or None, error


class GraphView(QGraphicsView):
    """Draws the graph of ``selection.step`` (or the latest) from ``controller.trace``.

    Signals: ``layout_ready()`` after a new layout is drawn (its items carry no animation
    state); ``layout_failed(str)`` with the message shown instead of a graph (e.g. Graphviz
    is missing); ``node_activated(int)`` when a plain node is double-clicked (the main window
    may jump to its source line); ``problem_badge_clicked(list)`` with the ``Diagnostic``s of
    a problem badge that was clicked (its box is selected too).
    """

    layout_ready = Signal()
    layout_failed = Signal(str)
    node_activated = Signal(int)
    problem_badge_clicked = Signal(list)

    def __init__(self, controller, selection, parent=None, *, rankdir: str = "TB"):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self.layout_timeout = DEFAULT_TIMEOUT  # seconds of dot per attempt
        self.layout_count = 0  # layouts drawn: tests and benchmarks check nothing re-lays out
        self._rankdir = rankdir
        self._options = CollapseOptions()
        self._graph: Graph | None = None  # what is drawn
        self._layout: Layout | None = None
        self._shown_key: tuple | None = None
        self._pending_key: tuple | None = None
        self._follow_hash: str | None = None  # newest structure heard of, while following
        self._generation = 0
        self._node_items: dict[str, NodeItem] = {}
        self._edge_items: dict[tuple[str, str], EdgeItem] = {}
        self._frames: dict[str, GroupFrameItem] = {}
        self._overview: GraphOverviewItem | None = None
        self._far: bool | None = None  # whether the overview draws the graph (None: not yet)
        self._adjacent: dict[str, set[str]] = {}
        self._states: set[str] = set()  # box ids with a non-normal state
        self._badges: set[str] = set()
        self._pulses: set[tuple[str, str]] = set()
        self._highlighted: str | None = None
        self._diagnostics: list[Diagnostic] = []
        self._problem_badges: dict[str, ProblemBadgeItem] = {}
        self._reveal_pending: int | None = None  # centre on this node once laid out
        self._anchor_box: str | None = None  # centre here after an expand/collapse relayout
        self._find_text = ""
        self._base_message = ""  # what the message shows when nothing transient is said
        self._press: QPoint | None = None

        # the pool first: child objects are destroyed in creation order, and the pool's
        # destructor waits for a running layout, which still needs the bridge to report to
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._bridge = _LayoutBridge(self)
        self._bridge.done.connect(self._on_layout_done)

        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # panning is by dragging (the scene has a margin to drag into); the arrow keys move
        # the selection, so scroll bars would only take room
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._font = label_font()
        self._badge_font = label_font(8)
        self._edge_font = label_font(9)

        # a child of the view, not of the viewport: scrolling moves the viewport's children
        self._message = QLabel(self)
        self._message.setWordWrap(True)
        self._message.setTextFormat(Qt.TextFormat.PlainText)
        self._message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._message.setStyleSheet(
            "QLabel { background: palette(window); color: palette(window-text);"
            " border: 1px solid palette(mid); border-radius: 6px; padding: 6px 10px; }")
        self._message.hide()
        self._apply_palette()

        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.graph_changed.connect(self._on_graph_changed)
        controller.steps_recorded.connect(self._on_steps_recorded)
        selection.step_changed.connect(self._on_step_changed)
        selection.node_changed.connect(self._on_node_changed)
        self._refresh()

    # --- public: state ------------------------------------------------------------------------
    @property
    def graph(self) -> Graph | None:
        """The graph drawn now."""
        return self._graph

    @property
    def graph_layout(self) -> Layout | None:
        """The layout drawn now."""
        return self._layout

    @property
    def options(self) -> CollapseOptions:
        """How the graph is collapsed; change it with the ``set_*`` / ``expand_group`` methods."""
        return self._options

    @property
    def is_laying_out(self) -> bool:
        return self._pending_key is not None

    def message_text(self) -> str:
        """The message shown over the view ("" when none): busy, degraded layout, errors."""
        return self._message.text() if self._message.isVisible() else ""

    def node_item(self, node_id: int) -> NodeItem | None:
        """The item of the box showing graph node ``node_id`` (its group's box when collapsed)."""
        box = self._box_of(node_id)
        return None if box is None else self._node_items.get(box)

    def box_item(self, box_id: str) -> NodeItem | None:
        return self._node_items.get(box_id)

    def node_items(self) -> list[NodeItem]:
        return list(self._node_items.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edge_items.values())

    def edge_item(self, src_node: int, dst_node: int) -> EdgeItem | None:
        """The item of the edge from graph node ``src_node`` to ``dst_node`` (between their
        boxes), or None when they share a box or no such edge is drawn."""
        a, b = self._box_of(src_node), self._box_of(dst_node)
        return None if a is None or b is None else self._edge_items.get((a, b))

    def node_rect(self, node_id: int) -> QRectF | None:
        """The scene rectangle of the box showing ``node_id`` (None if not drawn)."""
        item = self.node_item(node_id)
        return None if item is None else item.mapRectToScene(item.shape().boundingRect())

    def problem_badge(self, node_id: int) -> ProblemBadgeItem | None:
        """The problem badge on the box showing ``node_id``, or None."""
        box = self._box_of(node_id)
        return None if box is None else self._problem_badges.get(box)

    def problem_badges(self) -> dict[str, ProblemBadgeItem]:
        """{box id: its problem badge} for the boxes drawn now."""
        return dict(self._problem_badges)

    def shutdown(self) -> None:
        """Drop pending layouts and wait for a running one (window closing, tests)."""
        self._generation += 1
        self._pool.clear()
        self._pool.waitForDone()

    # --- public: options ----------------------------------------------------------------------
    def set_hide_no_grad(self, on: bool) -> None:
        """Hide leaves that need no gradient (inputs and targets such as Example 2's x, y)."""
        self._set_options(replace(self._options, hide_no_grad=on))

    def set_collapse_modules(self, on: bool) -> None:
        """Show the nodes of each ``nn.Module`` as one box."""
        self._set_options(replace(self._options, collapse_modules=on))

    def set_show_saved(self, on: bool) -> None:
        """Show torchviz's orange boxes for the tensors each op saved for backward."""
        self._set_options(replace(self._options, show_saved=on))

    def set_rankdir(self, rankdir: str) -> None:
        """"TB": leaves on top, the loss at the bottom (torchviz); "BT": the loss on top."""
        if rankdir != self._rankdir:
            self._rankdir = rankdir
            self._refresh()

    def expand_group(self, group_id: str) -> None:
        """Show the members of a collapsed group instead of its box."""
        if group_id in self._options.expanded:
            return
        self._anchor_box = group_id
        self._set_options(self._options.expand(group_id))

    def collapse_group(self, group_id: str) -> None:
        """Fold an expanded group back into one box."""
        if group_id not in self._options.expanded:
            return
        self._anchor_box = group_id
        self._set_options(replace(self._options, expanded=self._options.expanded - {group_id}))

    def frame_item(self, group_id: str) -> GroupFrameItem | None:
        """The frame drawn around an expanded group's members."""
        return self._frames.get(group_id)

    def groups(self) -> list[str]:
        """Ids of the collapsed group boxes drawn now ("chain:2000", "module:encoder")."""
        return [b for b, item in self._node_items.items() if item.box.kind == GROUP]

    def _set_options(self, options: CollapseOptions) -> None:
        if options != self._options:
            self._options = options
            self._refresh()

    # --- public: navigation -------------------------------------------------------------------
    def zoom_by(self, factor: float, *, at: QPoint | None = None) -> None:
        """Scale by ``factor`` keeping the scene point under ``at`` (viewport pixels; default
        the centre) where it is."""
        scale = self.transform().m11()
        factor = min(MAX_SCALE / scale, max(MIN_SCALE / scale, factor))
        at = self.viewport().rect().center() if at is None else at
        fixed = self.mapToScene(at)
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        self.setTransformationAnchor(anchor)
        self._sync_far()
        # scroll so that ``fixed`` is under ``at`` again (the scroll bars exist while hidden)
        drift = self.mapFromScene(fixed) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())

    def _set_scale(self, scale: float, *, sync: bool = True) -> None:
        self.resetTransform()
        self.scale(scale, scale)
        if sync:
            self._sync_far()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def labels_visible(self) -> bool:
        """Whether labels are drawn at the current zoom (level of detail)."""
        return self.zoom_level() * self._font.pixelSize() >= MIN_TEXT_PX

    def overview_shown(self) -> bool:
        """Whether the graph is drawn by its overview now (zoomed out past the labels: one
        batched paint instead of one per item; see ``graph_items``)."""
        return bool(self._far)

    def zoom_level(self) -> float:
        """The current scale (1.0: one point of layout per pixel)."""
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole graph into the window (never larger than twice its natural size)."""
        self._fit()
        self._sync_far()

    def _fit(self) -> None:
        # without switching the level of detail: callers that zoom again right after switch
        # once, at the zoom they end at
        if self._layout is None:
            return
        self.fitInView(self._graph_rect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > MAX_FIT_SCALE:
            self.resetTransform()
            self.scale(MAX_FIT_SCALE, MAX_FIT_SCALE)
            self.centerOn(self._graph_rect().center())

    def find(self, text: str) -> int | None:
        """Select and centre the first node whose name contains ``text`` (case-insensitive);
        called again with the same text, the next one. Returns the node id, or None."""
        graph, text = self._graph, text.strip().lower()
        if graph is None or not text:
            return None
        hits = [n.id for n in graph.nodes
                if text in n.name.lower() and self._box_of(n.id) is not None]
        if not hits:
            self._show_message(f"No node matches “{text}”.")  # until the next find or click
            return None
        node = hits[0]
        if text == self._find_text and self.selection.node in hits:
            node = hits[(hits.index(self.selection.node) + 1) % len(hits)]
        self._find_text = text
        self.selection.select_node(node)
        self._highlight(node)
        item = self.node_item(node)
        if item is not None:
            if self.zoom_level() < READABLE_SCALE:
                self._set_scale(1.0)
            self.centerOn(item)
        self._show_message(self._base_message)
        return node

    def reveal_node(self, node_id: int | None) -> None:
        """Select ``node_id`` and bring its box into the middle of the view (zooming in to a
        readable size if needed), unless it is already in full view. While a layout is in
        progress (the node belongs to another step's graph) it happens once it is drawn."""
        self.selection.select_node(node_id)
        self._reveal_pending = None
        if node_id is None:
            return
        if self.is_laying_out:
            self._reveal_pending = node_id
        else:
            self._centre_on(node_id)

    def _centre_on(self, node_id: int) -> None:
        item = self.node_item(node_id)
        if item is None:
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if self.zoom_level() >= READABLE_SCALE and visible.contains(self.node_rect(node_id)):
            return  # already in view, readably: moving the graph would only disorient
        if self.zoom_level() < READABLE_SCALE:
            self._set_scale(DETAIL_SCALE)
        self.centerOn(item)

    # --- public: problems ---------------------------------------------------------------------
    def set_diagnostics(self, diagnostics) -> None:
        """Badge the boxes ``diagnostics`` (``gradviz.diagnostics.Diagnostic``s, those of the
        whole run) point at in the graph shown; kept across relayouts and steps of other
        structures; an empty list removes every problem badge (a new run)."""
        self._diagnostics = list(diagnostics)
        self._apply_problem_badges()

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self._diagnostics)

    def _apply_problem_badges(self) -> None:
        found: dict[str, list[Diagnostic]] = {}
        if self._graph is not None and self._layout is not None:
            for node, ds in by_node(self._diagnostics, self._graph.structure_hash).items():
                box = self._box_of(node)
                if box in self._node_items:  # hidden (no-grad leaves) or not drawn: no badge
                    found.setdefault(box, []).extend(ds)
        for box in [b for b in self._problem_badges if b not in found]:
            badge = self._problem_badges.pop(box)
            if badge.scene() is not None:
                badge.scene().removeItem(badge)
        pal = self.palette()
        for box, ds in found.items():
            old = self._problem_badges.get(box)
            if old is not None and old.diagnostics == ds:
                continue
            if old is not None and old.scene() is not None:
                old.scene().removeItem(old)
            self._problem_badges[box] = ProblemBadgeItem(
                self._node_items[box], ds, worst(ds), self._problems_tooltip(ds), pal)

    @staticmethod
    def _problems_tooltip(diagnostics) -> str:
        n = len(diagnostics)
        rows = [f"<b>{n} problem{'s' if n != 1 else ''}</b> <i>(click to show in the "
                "Problems panel)</i>"]
        for d in diagnostics:
            where = f" (line {d.line})" if d.line is not None else ""
            rows.append(f"<b>{html.escape(title(d.kind))}</b> &nbsp;<i>{severity(d.kind)}"
                        f"{where}</i><br>{html.escape(d.message)}")
        return "<hr>".join(rows)

    # --- public: animation --------------------------------------------------------------------
    def set_node_state(self, node_id: int, state: str) -> None:
        """"normal", "current" (glow), "done" (executed tint) or "flash" (a leaf receiving
        its gradient). A node inside a collapsed group marks the group's box."""
        box = self._box_of(node_id)
        item = self._node_items.get(box) if box is not None else None
        if item is None:
            return
        item.set_state(state)
        if state == NORMAL:
            self._states.discard(box)
        else:
            self._states.add(box)

    def set_node_badge(self, node_id: int, text: str | None) -> None:
        """A small label on the box's corner (the gradient's value or norm), or None."""
        box = self._box_of(node_id)
        item = self._node_items.get(box) if box is not None else None
        if item is None:
            return
        item.set_badge(text)
        if text:
            self._badges.add(box)
        else:
            self._badges.discard(box)

    def set_edge_progress(self, src_node_id: int, dst_node_id: int, t: float | None) -> None:
        """A pulse on the edge ``src -> dst`` (forward direction) at t in [0, 1] measured
        from the consumer ``dst`` back toward the input ``src``, the way the gradient
        travels; None removes it."""
        a, b = self._box_of(src_node_id), self._box_of(dst_node_id)
        item = self._edge_items.get((a, b)) if a is not None and b is not None else None
        if item is None:
            return
        item.set_progress(t)
        if t is None:
            self._pulses.discard((a, b))
        else:
            self._pulses.add((a, b))

    def clear_animation(self) -> None:
        """Every node normal, no badges, no pulses."""
        for box in self._states:
            if box in self._node_items:
                self._node_items[box].set_state(NORMAL)
        for box in self._badges:
            if box in self._node_items:
                self._node_items[box].set_badge(None)
        for key in self._pulses:
            if key in self._edge_items:
                self._edge_items[key].set_progress(None)
        self._states.clear()
        self._badges.clear()
        self._pulses.clear()

    # --- which graph --------------------------------------------------------------------------
    def _shown_graph(self) -> Graph | None:
        trace = self.controller.trace
        index = self.selection.step
        if index is not None and 0 <= index < len(trace.steps):
            graph = trace.graph_of(trace.steps[index])
            if graph is not None:
                return graph
        if self._follow_hash is not None and self._follow_hash in trace.graphs:
            return trace.graphs[self._follow_hash]
        graph = trace.latest_graph
        if graph is None and trace.graphs:  # a backward in progress, not yet recorded
            graph = next(reversed(trace.graphs.values()))
        return graph

    def _on_trace_replaced(self) -> None:
        self._follow_hash = None
        self._reveal_pending = None
        self._refresh()

    def _on_graph_changed(self, structure_hash: str) -> None:
        self._follow_hash = structure_hash
        if self.selection.step is None:
            self._refresh()

    def _on_steps_recorded(self, latest: int) -> None:
        step = self.controller.trace.latest_step
        if step is not None and step.structure:
            self._follow_hash = step.structure
        if self.selection.step is None:
            self._refresh()

    def _on_step_changed(self, index) -> None:
        self._refresh()

    def _refresh(self) -> None:
        """Lay out the graph shown, unless what is drawn (or coming) is already it."""
        graph = self._shown_graph()
        if graph is None:
            self._generation += 1
            self._pending_key = None
            self._clear_scene()
            self._graph = None
            self._shown_key = None
            self._show_message("The graph appears here when the script calls backward().",
                               centred=True)
            return
        key = (graph.structure_hash, self._options, self._rankdir)
        if key == self._pending_key or (key == self._shown_key and self._pending_key is None):
            return  # same structure: only values changed, and the items read them on demand
        self._generation += 1
        generation = self._generation
        self._pending_key = key
        options, rankdir, timeout = self._options, self._rankdir, self.layout_timeout
        self._show_message("Laying out the graph…", centred=self._layout is None)
        self._pool.start(lambda: self._layout_job(generation, graph, options, rankdir, timeout))

    def _layout_job(self, generation, graph, options, rankdir, timeout) -> None:
        # on the pool's thread: no widget may be touched here, only the bridge's signal
        if generation != self._generation:
            return  # superseded while it waited
        layout, error = None, ""
        try:
            layout = compute_layout(graph, options, rankdir, timeout)
        except GraphvizMissing as e:
            error = str(e)
        except Exception as e:  # noqa: BLE001 - shown to the user instead of a graph
            error = f"The graph could not be laid out: {e}"
        try:
            self._bridge.done.emit(generation, graph, layout, error)
        except RuntimeError:
            pass  # the view was destroyed meanwhile

    def _on_layout_done(self, generation: int, graph: Graph, layout, error: str) -> None:
        if generation != self._generation:
            return
        key, self._pending_key = self._pending_key, None
        reveal, self._reveal_pending = self._reveal_pending, None
        if layout is None:
            self._base_message = ""
            self._clear_scene()
            self._graph, self._layout, self._shown_key = graph, None, key
            self._show_message(error, centred=True)
            self.layout_failed.emit(error)
            return
        same_structure = (self._graph is not None and self._layout is not None
                          and graph.structure_hash == self._graph.structure_hash)
        self._build(graph, layout)
        self._shown_key = key
        self._base_message = layout.message if layout.degraded else ""
        self._show_message(self._base_message)
        if same_structure and self._anchor_box is not None:
            self._show_group(self._anchor_box)
        elif not same_structure:
            self._initial_view()
        self._anchor_box = None
        if reveal is not None and reveal == self.selection.node:
            self._centre_on(reveal)
        self.layout_count += 1
        self.layout_ready.emit()

    # --- drawing ------------------------------------------------------------------------------
    def _clear_scene(self) -> None:
        self.scene().clear()
        self._node_items.clear()
        self._edge_items.clear()
        self._frames.clear()
        self._overview = None
        self._far = None
        self._problem_badges.clear()  # children of the boxes: the scene deleted them
        self._adjacent.clear()
        self._states.clear()
        self._badges.clear()
        self._pulses.clear()
        self._highlighted = None
        self._layout = None

    def _build(self, graph: Graph, layout: Layout) -> None:
        self._clear_scene()
        self._graph, self._layout = graph, layout
        scene = self.scene()
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for box in layout.boxes:
            item = NodeItem(box, self._font, self._badge_font, highlight)
            scene.addItem(item)
            self._node_items[box.id] = item
            self._adjacent[box.id] = set()
        color = self._edge_color()
        for edge in layout.edges:
            item = EdgeItem(edge, color, self._edge_font)
            scene.addItem(item)
            self._edge_items[(edge.src, edge.dst)] = item
            self._adjacent[edge.src].add(edge.dst)
            self._adjacent[edge.dst].add(edge.src)
        self._overview = GraphOverviewItem(self._node_items.values(), self._edge_items.values(),
                                           color)
        self._overview.set_shown(False)
        scene.addItem(self._overview)
        self._add_group_frames(graph, layout)
        scene.setSceneRect(self._graph_rect().adjusted(-400, -400, 400, 400))
        self._highlight(self.selection.node)
        self._apply_problem_badges()
        self._sync_far()

    def _add_group_frames(self, graph: Graph, layout: Layout) -> None:
        rects: dict[str, QRectF] = {}
        for box in layout.boxes:
            if box.parent:
                r = QRectF(*box.rect)
                rects[box.parent] = rects[box.parent].united(r) if box.parent in rects else r
        color = QColor(STYLES[GROUP].border)
        for gid, rect in rects.items():
            frame = GroupFrameItem(gid, self._group_title(gid, graph), rect, color)
            self.scene().addItem(frame)
            self._frames[gid] = frame

    def _group_title(self, gid: str, graph: Graph) -> str:
        kind, _, rest = gid.partition(":")
        members = [nid for nid, b in self._layout.view.box_of.items()
                   if self._layout.box(b).parent == gid] if self._layout else []
        if kind == MODULE:
            return f"module {rest} ({len(members)} nodes)"
        name = graph.node(int(rest)).name if kind == CHAIN else (
            graph.node(min(members)).name if members else rest)
        return f"{name} ×{len(members)}"

    def _graph_rect(self) -> QRectF:
        if self._layout is None:
            return QRectF()
        rect = QRectF(0, 0, self._layout.width, self._layout.height)
        for frame in self._frames.values():
            rect = rect.united(frame.boundingRect())
        return rect.adjusted(-12, -12, 12, 12)

    def _initial_view(self) -> None:
        self._fit()
        if self.zoom_level() < READABLE_SCALE and self._layout is not None:
            # too big to read whole: start readable, at the loss, where backward starts
            self._set_scale(DETAIL_SCALE, sync=False)
            root = self._node_items.get(self._layout.root)
            if root is not None:
                self.centerOn(root)
        self._sync_far()

    def _show_group(self, gid: str) -> None:
        """After expanding or collapsing ``gid``: the whole graph if it fits readably, else
        the group at the current zoom, its collapse handle in view."""
        self._fit()
        if self.zoom_level() < READABLE_SCALE:
            self._set_scale(DETAIL_SCALE, sync=False)
            frame = self._frames.get(gid)
            if frame is not None:  # expanded
                self.centerOn(frame.sceneBoundingRect().center())
                self.ensureVisible(frame.tab_rect, 30, 30)
            elif gid in self._node_items:  # collapsed back
                self.centerOn(self._node_items[gid])
        self._sync_far()

    def _edge_color(self) -> QColor:
        pal = self.palette()
        return blend(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.25)

    def _apply_palette(self) -> None:
        self.setBackgroundBrush(self.palette().color(QPalette.ColorRole.Base))
        color = self._edge_color()
        for item in self._edge_items.values():
            item.set_color(color)
        if self._overview is not None:
            self._overview.set_color(color)
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for item in self._node_items.values():
            item.set_highlight_color(highlight)
        for badge in self._problem_badges.values():
            badge.set_palette(self.palette())

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._apply_palette()
        super().changeEvent(event)

    # --- the message over the view ------------------------------------------------------------
    def _show_message(self, text: str, *, centred: bool = False) -> None:
        label = self._message
        if not text:
            label.hide()
            return
        label.setText(text)
        label.setProperty("centred", centred)
        self._place_message()
        label.show()
        label.raise_()

    def _place_message(self) -> None:
        label, vp = self._message, self.viewport().geometry()
        if label.property("centred"):
            width = min(520, max(200, vp.width() - 40))
            label.setFixedWidth(width)
            label.adjustSize()
            label.move(vp.x() + (vp.width() - width) // 2,
                       vp.y() + max(10, (vp.height() - label.height()) // 2))
        else:
            fm = label.fontMetrics()
            natural = fm.horizontalAdvance(label.text()) + 24  # padding and border
            label.setFixedWidth(min(natural, 460, max(160, vp.width() - 20)))
            label.adjustSize()
            label.move(vp.x() + 10, vp.y() + 10)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._message.isVisible():
            self._place_message()

    # --- level of detail ----------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        # the view's own zoom methods switch at once; this catches a transform set any other
        # way (Qt's scale or setTransform called from outside) before anything is drawn
        self._sync_far()
        super().paintEvent(event)

    def _sync_far(self) -> None:
        """Switch between the overview (zoomed out past the labels) and per-item painting.
        Called where the zoom changes, before the paint: switching marks thousands of items
        dirty, which inside a paint would cost a second full paint right after it."""
        far = self._overview is not None and not self.labels_visible()
        if far == self._far:
            return
        self._far = far
        if self._overview is not None:
            self._overview.set_shown(far)
        set_far(self._node_items.values(), far)
        set_far(self._edge_items.values(), far)

    # --- selection ----------------------------------------------------------------------------
    def _box_of(self, node_id) -> str | None:
        if self._layout is None or node_id is None:
            return None
        return self._layout.view.box_of.get(node_id)

    def _node_of_box(self, box_id: str) -> int | None:
        item = self._node_items.get(box_id)
        if item is None:
            return None
        if item.box.members:
            return item.box.members[0]
        if item.box.kind == SAVED:  # "saved:<op id>:<i>": stands for its op
            return int(box_id.split(":")[1])
        return None

    def _highlight(self, node_id) -> None:
        box = self._box_of(node_id)
        if box == self._highlighted:
            return
        if self._highlighted in self._node_items:
            self._node_items[self._highlighted].set_selected(False)
        self._highlighted = box
        if box in self._node_items:
            self._node_items[box].set_selected(True)

    def _on_node_changed(self, node_id) -> None:
        self._highlight(node_id)

    def _select_box(self, box_id: str | None, *, reveal: bool = False) -> None:
        node = None if box_id is None else self._node_of_box(box_id)
        self.selection.select_node(node)
        if reveal and box_id in self._node_items:
            self.ensureVisible(self._node_items[box_id], 40, 40)

    def _item_at(self, pos: QPoint, *, badges: bool = False):
        """The box or frame under ``pos``; with ``badges``, a problem badge first (otherwise
        a badge counts as its box)."""
        for item in self.items(pos):
            if isinstance(item, ProblemBadgeItem):
                return item if badges else item.parentItem()
            if isinstance(item, (NodeItem, GroupFrameItem)):
                return item
        return None

    # --- mouse --------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            # around the cursor: the point being looked at stays under it
            self.zoom_by(math.pow(1.0015, delta), at=event.position().toPoint())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        event.accept()  # the view handles clicks itself; no item grabs the mouse
        press, self._press = self._press, None
        if event.button() != Qt.MouseButton.LeftButton or press is None:
            return
        pos = event.position().toPoint()
        if (pos - press).manhattanLength() > CLICK_SLOP:
            return  # a drag (pan), not a click
        if (self._message.text() != self._base_message and self._layout is not None
                and not self.is_laying_out):
            self._show_message(self._base_message)  # a click dismisses "No node matches"
        item = self._item_at(pos, badges=True)
        if isinstance(item, ProblemBadgeItem):
            self._select_box(item.parentItem().box.id)
            self.problem_badge_clicked.emit(list(item.diagnostics))
        elif isinstance(item, NodeItem):
            self._select_box(item.box.id)
        elif item is None:
            self.selection.select_node(None)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        item = self._item_at(event.position().toPoint())
        if isinstance(item, GroupFrameItem):
            self.collapse_group(item.group_id)
        elif isinstance(item, NodeItem):
            if item.box.kind == GROUP:
                self.expand_group(item.box.id)
            else:
                node = self._node_of_box(item.box.id)
                if node is not None:
                    self.node_activated.emit(node)
        event.accept()

    def contextMenuEvent(self, event) -> None:
        item = self._item_at(event.pos())
        menu = QMenu(self)
        if isinstance(item, NodeItem) and item.box.kind == GROUP:
            gid = item.box.id
            menu.addAction("Expand group", lambda: self.expand_group(gid))
        parent = (item.group_id if isinstance(item, GroupFrameItem)
                  else item.box.parent if isinstance(item, NodeItem) else "")
        if parent:
            menu.addAction("Collapse group", lambda: self.collapse_group(parent))
        if not menu.isEmpty():
            menu.addSeparator()
        menu.addAction("Fit to window", self.fit)
        menu.addAction("Zoom in", self.zoom_in)
        menu.addAction("Zoom out", self.zoom_out)
        menu.addSeparator()
        for text, on, setter in (
                ("Hide leaves that need no gradient", self._options.hide_no_grad,
                 self.set_hide_no_grad),
                ("Collapse nn.Module nodes", self._options.collapse_modules,
                 self.set_collapse_modules),
                ("Show saved tensors", self._options.show_saved, self.set_show_saved)):
            action = QAction(text, menu)
            action.setCheckable(True)
            action.setChecked(on)
            action.toggled.connect(setter)
            menu.addAction(action)
        menu.exec(event.globalPos())

    # --- keyboard -----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        directions = {Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1),
                      Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0)}
        if key in directions and self._layout is not None:
            self._move_selection(*directions[key])
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            box = self._highlighted
            item = self._node_items.get(box) if box else None
            if item is not None and item.box.kind == GROUP:
                self.expand_group(box)
            elif item is not None and item.box.members:
                self.node_activated.emit(item.box.members[0])
        elif key == Qt.Key.Key_Backspace:
            item = self._node_items.get(self._highlighted) if self._highlighted else None
            if item is not None and item.box.parent:
                self.collapse_group(item.box.parent)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_Escape:
            self.selection.select_node(None)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _move_selection(self, dx: int, dy: int) -> None:
        """Arrow keys: to the connected box in that direction (up/down follow edges), else to
        the nearest box that way (left/right between siblings of one rank)."""
        layout = self._layout
        current = self._highlighted
        if current is None or current not in self._node_items:
            self._select_box(layout.root, reveal=True)
            return
        here = layout.box(current)

        def score(box_id: str) -> float | None:
            b = layout.box(box_id)
            vx, vy = b.x - here.x, b.y - here.y
            along = vx * dx + vy * dy
            if along <= 1.0:
                return None
            return along + 3.0 * abs(vx * dy - vy * dx)

        for candidates in (self._adjacent.get(current, ()), self._node_items.keys()):
            scored = [(s, b) for b in candidates
                      if b != current and (s := score(b)) is not None
                      and self._node_of_box(b) is not None]
            if scored:
                self._select_box(min(scored)[1], reveal=True)
                return

    # --- tooltips -----------------------------------------------------------------------------
    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def tooltip_at(self, pos: QPoint) -> str:
        """The rich-text tooltip for viewport position ``pos`` ("" over the background): a
        problem badge's findings, a box's description, or a group frame's handle."""
        item = self._item_at(pos, badges=True)
        if isinstance(item, ProblemBadgeItem):
            return item.tooltip
        if isinstance(item, NodeItem):
            return self.box_tooltip(item.box.id)
        if isinstance(item, GroupFrameItem):
            return (f"<b>{html.escape(item.title)}</b><br>"
                    "Double-click to collapse the group again.")
        return ""

    def box_tooltip(self, box_id: str) -> str:
        """Rich-text tooltip of a box: its node's (or group's) description and values."""
        item = self._node_items.get(box_id)
        if item is None or self._graph is None:
            return ""
        box = item.box
        if box.kind == GROUP:
            first = self._graph.node(box.members[0])
            what = {CHAIN: "a chain", FAN: "a fan", MODULE: "an nn.Module"}.get(box.group,
                                                                                 "a group")
            head = (f"<b>{html.escape(' '.join(box.lines))}</b><br>"
                    f"{len(box.members)} nodes collapsed into one box ({what}).<br>"
                    "<i>Double-click or press Enter to expand.</i><hr>")
            return head + self.node_tooltip(first.id)
        node = self._node_of_box(box_id)
        if box.kind == SAVED:
            return (f"<b>saved tensor</b> {html.escape(' '.join(box.lines))}<br>"
                    f"saved for backward by {html.escape(self._graph.node(node).name)}")
        return self.node_tooltip(node)

    def node_tooltip(self, node_id: int) -> str:
        """Rich-text description of a graph node: kind, name, shape, dtype, device, the
        source line, and value and grad previews when ``trace.values`` has them."""
        graph = self._graph
        if graph is None:
            return ""
        try:
            n = graph.node(node_id)
        except KeyError:
            return ""
        kind = {LEAF: "leaf tensor", ROOT: "root (backward() called on it)"}.get(n.kind,
                                                                                "autograd node")
        if n.kind == LEAF and not n.requires_grad:
            kind = "leaf tensor (requires_grad=False)"
        shape = "(" + ", ".join(str(d) for d in n.shape) + ")"
        rows = [f"<b>{html.escape(n.name)}</b> &nbsp;<i>{kind}</i>",
                f"shape {shape} &nbsp; dtype {html.escape(n.dtype or '?')} &nbsp; "
                f"device {html.escape(n.device)}"]
        if n.module:
            rows.append(f"module {html.escape(n.module)}")
        if n.source is not None:
            code = linecache.getline(n.source.file, n.source.line).strip()
            rows.append(f"{html.escape(Path(n.source.file).name)}:{n.source.line}"
                        + (f" &nbsp;<code>{html.escape(code)}</code>" if code else ""))
        entry = self._values_of(node_id)
        if entry is None:
            rows.append(f"<i>{NO_VALUES}</i>")
        else:
            for key, label in (("data", "value"), ("grad", "grad")):
                a, summary = entry.get(key), entry.get(f"{key}_summary")
                if a is not None:
                    # a block of its own, with no <br> around it: <pre> brings its own break
                    rows.append(f"<pre style='margin:2px 0 0 0'>{label}:\n"
                                f"{html.escape(array_preview(a))}</pre>")
                elif summary is not None:
                    rows.append(f"{label}: norm {summary.norm:.4g}, min {summary.min:.4g}, "
                                f"max {summary.max:.4g}")
        out = rows[0]
        for row in rows[1:]:
            out += row if row.startswith("<pre") or out.endswith("</pre>") else "<br>" + row
        return out

    def _values_of(self, node_id: int) -> dict | None:
        values = self.controller.trace.values
        if values is None or self._graph is None:
            return None
        steps = self.controller.trace.steps
        if 0 <= values.step < len(steps) and steps[values.step].structure \
                and steps[values.step].structure != self._graph.structure_hash:
            return None  # node ids belong to another structure
        return values.values.get(node_id)
