"""Replay of one backward pass, node by node, in the engine's real execution order.

``BackwardAnimation`` is a model: it owns no widget. It knows which recorded step is shown
(``selection.step``, or the latest), that step's execution order (``Step.order``) and, on
detailed steps, the gradient every node received and passed on (``Step.detail``). From a
playhead it works out what the graph view should show and tells the view through four calls
(``set_node_state``, ``set_node_badge``, ``set_edge_progress``, ``clear_animation``),
sending only what changed since the last frame.

The playhead ``progress`` runs from 0 (nothing has run) to ``length`` (every node has run).
While it is in ``(i, i + 1]`` node ``order[i]`` is the current node: it glows, and the
gradients it computes travel along its backward edges (from the node to each of its inputs)
during the first ``PULSE_SHARE`` of that interval; when they arrive the receiving nodes'
badges show them, as partial sums while a node still waits for other paths (``x`` used
twice: ``3.74 + 3.74 -> 7.48``). When an ``AccumulateGrad`` runs, its leaf flashes and its
badge shows the leaf's new ``.grad``. ``position`` is the integer part rounded up: the
number of nodes entered.

Time comes from one ``AnimationClock``. In the app a timer ticks it at the screen's rate;
tests build it with ``real_time=False`` and call ``advance(ms)``, so every frame of the
animation is reproducible without sleeping.

While the script is paused inside a backward and stepped node by node
(``controller.step_node()``), the playhead follows the live position the child reports
(``controller.position_changed``), and the badges come from the nodes run so far
(``trace.live``, sent with the values the gradients panel asks for at every pause).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from gradviz.session import AFTER_BACKWARD
from gradviz.trace import LEAF, Graph, NodeRun, Step, TensorSummary

NODE_MS = 700.0  # one node at speed 1: long enough to follow the pulse with the eye
PULSE_SHARE = 0.7  # the pulse travels in this share of a node's time; the rest lets it land
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MAX_TICK_MS = 100.0  # a stalled event loop resumes the animation instead of skipping nodes
SMALL_VALUES = 4  # a leaf's .grad with at most this many elements is shown as values

NORMAL, CURRENT, DONE, FLASH = "normal", "current", "done", "flash"


class AnimationClock(QObject):
    """The one source of time for an animation. ``ticked(ms)`` carries the milliseconds
    since the previous tick.

    With ``real_time=True`` a timer ticks it every ``interval_ms`` while it is started. With
    ``real_time=False`` nothing ticks it but ``advance(ms)``: what tests use.
    """

    ticked = Signal(float)

    def __init__(self, parent=None, *, real_time: bool = True, interval_ms: int = 16):
        super().__init__(parent)
        self.real_time = real_time
        self._running = False
        self._timer: QTimer | None = None
        self._elapsed = QElapsedTimer()
        if real_time:
            self._timer = QTimer(self)
            self._timer.setInterval(interval_ms)
            self._timer.timeout.connect(self._on_timeout)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start ticking (no-op if running)."""
        if self._running:
            return
        self._running = True
        if self._timer is not None:
            self._elapsed.start()
            self._timer.start()

    def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.stop()

    def advance(self, ms: float) -> None:
        """Move time forward by ``ms`` (tests; the timer calls it too)."""
        self.ticked.emit(float(ms))

    def _on_timeout(self) -> None:
        self.advance(min(float(self._elapsed.restart()), MAX_TICK_MS))


def format_number(v: float) -> str:
    """Short and exact enough for a badge: ``0.5``, ``4.472``, ``2.7e+06``."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    return format(v, ".4g")


def format_gradient(s: TensorSummary | None) -> str:
    """The value of a scalar gradient, the norm of a tensor one."""
    if s is None:
        return "None"
    if math.prod(s.shape) == 1:
        text = format_number(s.mean)
    else:
        text = f"‖g‖ {format_number(s.norm)}"
    if s.nonfinite:
        text += " ⚠NaN/Inf"
    return text


def format_values(a: np.ndarray) -> str:
    """A small array the way torch prints its values: ``[2., 4.]``."""
    return np.array2string(np.asarray(a), precision=4, separator=", ", suppress_small=False)


def inputs_by_node(graph: Graph) -> dict[int, list[int]]:
    """node -> its inputs (edge sources), in ``next_functions`` order, computed once per graph
    (``Graph.inputs_of`` scans every edge: quadratic over a 2,000-node graph)."""
    cached = graph.__dict__.get("_inputs_by_node")
    if cached is None:
        cached = {}
        for a, b in graph.edges:
            cached.setdefault(b, []).append(a)
        object.__setattr__(graph, "_inputs_by_node", cached)
    return cached


def _align(graph: Graph, inputs: list[int], grads_out: tuple) -> list[tuple[int, object]]:
    """Pair the node's graph inputs with the gradients it sent them.

    ``grads_out`` has one entry per ``next_functions`` slot, including slots with no node
    (an input that needs no gradient), while the graph keeps only the edges to real nodes.
    Equal counts pair up in order; otherwise each input takes the next gradient of its shape.
    """
    if len(inputs) == len(grads_out):
        return list(zip(inputs, grads_out, strict=True))
    pairs = []
    j = 0
    for inp in inputs:
        shape = graph.node(inp).shape
        while j < len(grads_out) and (grads_out[j] is None
                                      or tuple(grads_out[j].shape) != tuple(shape)):
            j += 1
        pairs.append((inp, grads_out[j] if j < len(grads_out) else None))
        j += 1
    return pairs


class _Replay:
    """What is precomputed once per (step, graph): who sends what to whom, per position."""

    def __init__(self, graph: Graph | None, order: tuple[int, ...], step: Step | None,
                 values: dict | None):
        self.graph = graph
        self.order = order
        self.step = step
        known = {n.id: n for n in graph.nodes} if graph is not None else {}
        inputs = inputs_by_node(graph) if graph is not None else {}
        runs = {}
        if step is not None and step.detail:
            runs = {r.node: r for r in step.detail}
        self.has_gradients = bool(runs)
        self.own: dict[int, object] = {}  # node -> the gradient it received (its output's)
        self.sends: list[list[tuple[int, object]]] = []  # per position: (receiver, gradient)
        self.edges: list[list[tuple[int, int]]] = []  # per position: (src, dst) graph edges
        self.leaf_of: dict[int, int] = {}  # AccumulateGrad node -> its leaf
        self.expected: dict[int, int] = {}  # receiver -> number of contributions to come
        self.slots: dict[int, int] = {}  # receiver -> number of output slots
        for nid in order:
            sends: list[tuple[int, object]] = []
            edges: list[tuple[int, int]] = []
            node = known.get(nid)
            if node is not None:
                run = runs.get(nid)
                if run is not None:
                    self.own[nid] = run.grads_in[0] if len(run.grads_in) == 1 else run.grads_in
                    self.slots[nid] = len(run.grads_in)
                if node.name == "AccumulateGrad":
                    leaves = [i for i in inputs.get(nid, ()) if known[i].kind == LEAF]
                    if leaves:
                        self.leaf_of[nid] = leaves[0]
                        g = run.grads_in[0] if run is not None and run.grads_in else None
                        sends.append((leaves[0], g))
                        edges.append((leaves[0], nid))
                else:
                    grads_out = run.grads_out if run is not None else ()
                    mine = inputs.get(nid, [])
                    pairs = (_align(graph, mine, grads_out) if grads_out
                             else [(i, None) for i in mine])
                    sends.extend(pairs)
                    edges.extend((inp, nid) for inp, _ in pairs)
            for receiver, _ in sends:
                self.expected[receiver] = self.expected.get(receiver, 0) + 1
            self.sends.append(sends)
            self.edges.append(list(dict.fromkeys(edges)))
        self.leaf_values = self._small_leaf_values(values)

    def _small_leaf_values(self, values: dict | None) -> dict[int, str]:
        """Exact values for small leaf grads, when the values the child sent are this step's
        (their norm matches what AccumulateGrad received); otherwise the norm is shown."""
        out: dict[int, str] = {}
        if not values or not self.has_gradients:
            return out
        for acc, leaf in self.leaf_of.items():
            g = self.own.get(acc)
            entry = values.get(leaf)
            if not isinstance(g, TensorSummary) or not entry:
                continue
            grad = entry.get("grad")
            if grad is None or grad.size > SMALL_VALUES or grad.size == 1:
                continue
            if math.isclose(float(np.linalg.norm(grad)), g.norm, rel_tol=1e-5, abs_tol=1e-12):
                out[leaf] = format_values(grad)
        return out

    def badge(self, nid: int, arrived: list, executed: bool) -> str | None:
        """The text on node ``nid``: the gradient it received, built up as it arrives."""
        if nid in self.leaf_values and arrived:
            return self.leaf_values[nid]
        known = [g for g in arrived if g is not None]
        if executed and len(arrived) < 2:
            own = self.own.get(nid)
            if isinstance(own, TensorSummary):
                return format_gradient(own)
            if isinstance(own, tuple):
                return ", ".join(format_gradient(g) for g in own)
            return None
        if not known:
            return None
        complete = len(arrived) >= self.expected.get(nid, 0)
        if len(known) == 1:
            return format_gradient(known[0]) + ("" if complete else " + …")
        if self.slots.get(nid, 1) > 1:  # contributions to different outputs do not add up
            return ", ".join(format_gradient(g) for g in known)
        if all(math.prod(g.shape) == 1 for g in known):
            parts = " + ".join(format_number(g.mean) for g in known)
            if complete:
                return f"{parts} = {format_number(sum(g.mean for g in known))}"
            return f"{parts} + …"
        parts = " + ".join(format_number(g.norm) for g in known)
        total = self.own.get(nid) if complete else None
        if isinstance(total, TensorSummary):
            return f"‖g‖ {parts} → {format_number(total.norm)}"
        return f"‖g‖ {parts} + …"


class BackwardAnimation(QObject):
    """Replays the backward pass of the step shown and drives a graph view.

    Signals: ``position_changed(int)`` (nodes entered, 0..length), ``node_entered(int)`` (the
    graph node id that became current), ``finished()`` (the playhead reached the end),
    ``playing_changed(bool)``, ``leaf_reached(str)`` (a leaf's .grad received its
    contribution: the leaf's name), ``replay_changed()`` (another step, order or length:
    re-read ``step_index``, ``length``, ``order``, ``live``).
    """

    position_changed = Signal(int)
    node_entered = Signal(int)
    finished = Signal()
    playing_changed = Signal(bool)
    leaf_reached = Signal(str)
    replay_changed = Signal()

    def __init__(self, controller, selection, clock: AnimationClock | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self.clock = clock if clock is not None else AnimationClock(self)
        self._view = None
        self._speed = 1.0
        self._u = 0.0  # the playhead, in nodes
        self._playing = False
        self._trail = 1.0  # after a single step: where the decorative pulse is, 0..1
        self._replay = _Replay(None, (), None, None)
        self._step_index: int | None = None
        self._live_step: int | None = None  # a backward in progress in the child
        self._live_nodes: dict[int, int] = {}  # position -> node id, reported by the child
        self._length_known = True
        self._newest_graph: tuple[int, str] | None = None  # (step, hash) of the last new graph
        self._trace = None
        # what the view shows now, so each frame sends only the differences
        self._shown_states: dict[int, str] = {}
        self._shown_badges: dict[int, str] = {}
        self._shown_edges: dict[tuple[int, int], float] = {}
        self._frame_cache: tuple | None = None  # (key, states, badges)

        self.clock.ticked.connect(self._on_tick)
        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.steps_recorded.connect(self._on_steps_recorded)
        controller.position_changed.connect(self._on_live_position)
        controller.paused.connect(self._on_paused)
        controller.values_changed.connect(self._on_values_changed)
        controller.finished.connect(self._on_run_finished)
        selection.step_changed.connect(self._on_step_selected)
        self._on_trace_replaced()

    # --- the view ---------------------------------------------------------------------------
    def set_view(self, view) -> None:
        """Drive ``view`` (a graph view with ``set_node_state``, ``set_node_badge``,
        ``set_edge_progress``, ``clear_animation`` and a ``layout_ready`` signal), or none."""
        if self._view is not None and hasattr(self._view, "layout_ready"):
            try:
                self._view.layout_ready.disconnect(self._on_layout_ready)
            except (RuntimeError, TypeError):
                pass
        self._view = view
        if view is not None and hasattr(view, "layout_ready"):
            view.layout_ready.connect(self._on_layout_ready)
        self._forget_shown()
        self._render()

    # --- reading ----------------------------------------------------------------------------
    @property
    def step_index(self) -> int | None:
        """The step replayed (None before any backward)."""
        return self._step_index

    @property
    def graph(self) -> Graph | None:
        return self._replay.graph

    @property
    def order(self) -> tuple[int, ...]:
        """Graph node ids in the engine's execution order."""
        return self._replay.order

    @property
    def length(self) -> int:
        return len(self._replay.order)

    @property
    def length_known(self) -> bool:
        """False while a live backward of a new structure runs: more nodes may follow."""
        return not self.live or self._length_known

    @property
    def live(self) -> bool:
        """True while following a backward the child is stepping through."""
        return self._live_step is not None

    @property
    def has_gradients(self) -> bool:
        """Whether badges can show gradients (the step was recorded in detail)."""
        return self._replay.has_gradients

    @property
    def progress(self) -> float:
        return self._u

    @property
    def position(self) -> int:
        """Nodes entered so far: 0 before the first, ``length`` at the end."""
        return _position(self._u)

    @property
    def current_node(self) -> int | None:
        p = self.position
        return self._replay.order[p - 1] if p > 0 else None

    @property
    def is_playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    def node_state(self, node_id: int) -> str:
        """What the view was told about ``node_id``: normal, current, done or flash."""
        return self._frame()[1].get(node_id, NORMAL)

    def badge(self, node_id: int) -> str | None:
        return self._frame()[2].get(node_id)

    def edge_progress(self) -> dict[tuple[int, int], float]:
        """Pulses on their way now: (src, dst) graph edge -> t in [0, 1]."""
        return dict(self._edges_now())

    # --- commands ---------------------------------------------------------------------------
    def play(self) -> None:
        """Play from here (from the start when at the end)."""
        if self._limit() == 0:
            return
        if self._u >= self._limit():
            self._set_u(0.0)
        self._set_playing(True)

    def pause(self) -> None:
        """Stop where the playhead is (a pulse may stay half way along its edge)."""
        self._set_playing(False)

    def toggle_play(self) -> None:
        """Play if paused, pause if playing."""
        self.pause() if self._playing else self.play()

    def step_forward(self) -> None:
        """Enter the next node, its gradients delivered. At the end of a backward the child is
        paused in, ask the child to run one more node (the playhead follows its report)."""
        self.pause()
        p = self.position
        if p < self._limit():
            self._set_u(float(p + 1))
            self._start_trail()
        elif self.live and self.controller.state == "paused":
            self.controller.step_node()

    def step_back(self) -> None:
        """Back to the previous node boundary (the node before becomes current)."""
        self.pause()
        self._trail = 1.0
        target = int(self._u) - 1 if self._u == int(self._u) else math.floor(self._u)
        self._set_u(float(max(target, 0)))

    def jump_to_start(self) -> None:
        """Before the first node: the graph as the forward pass left it."""
        self.pause()
        self._trail = 1.0
        self._set_u(0.0)

    def jump_to_end(self) -> None:
        """After the last node (of a live backward: the last one the child ran)."""
        self.pause()
        self._trail = 1.0
        self._set_u(float(self._limit()))

    def seek(self, position: int) -> None:
        """Put the playhead after ``position`` nodes (clamped), playing on if playing."""
        self._trail = 1.0
        self._set_u(float(min(max(int(position), 0), self._limit())))

    def _limit(self) -> int:
        """How far the playhead may go: in a live backward, only as far as the child ran."""
        if self.live:
            return max(self._live_nodes) + 1 if self._live_nodes else 0
        return self.length

    def set_speed(self, speed: float) -> None:
        """1.0 is one node per ``NODE_MS``."""
        self._speed = max(float(speed), 0.01)

    def show_step(self, index: int | None) -> None:
        """Replay step ``index`` (None: the latest). Views normally set ``selection.step``."""
        self._live_step = None
        self._live_nodes = {}
        self._load(index)

    # --- time -------------------------------------------------------------------------------
    def _on_tick(self, ms: float) -> None:
        du = ms * self._speed / NODE_MS
        if self._playing:
            limit = float(self._limit())
            u = min(self._u + du, limit)
            self._set_u(u)
            if u >= limit:
                self._set_playing(False)
        elif self._trail < 1.0:
            self._trail = min(1.0, self._trail + du / PULSE_SHARE)
            self._render()
        if not self._playing and self._trail >= 1.0:
            self.clock.stop()

    def _set_playing(self, playing: bool) -> None:
        if playing == self._playing:
            return
        self._playing = playing
        if playing:
            self._trail = 1.0
            self.clock.start()
        elif self._trail >= 1.0:
            self.clock.stop()
        self.playing_changed.emit(playing)

    def _start_trail(self) -> None:
        """After a single step the state is final at once; the pulse still runs its course on
        the clock, as decoration, so a person sees where the gradient went."""
        if self._replay.edges[self.position - 1]:
            self._trail = 0.0
            self.clock.start()
            self._render()

    def _set_u(self, u: float) -> None:
        before_pos, before_u = self.position, self._u
        self._u = u
        after = self.position
        self._render()
        if after != before_pos:
            self.position_changed.emit(after)
            if after > 0:
                nid = self._replay.order[after - 1]
                if nid >= 0:
                    self.node_entered.emit(nid)
        self._announce_leaves(before_u, u)
        if before_u < self.length <= u and self.length:
            self.finished.emit()

    def _announce_leaves(self, before: float, after: float) -> None:
        """``leaf_reached`` for every AccumulateGrad whose gradient landed in (before, after]."""
        if after <= before or not self._replay.leaf_of:
            return
        graph = self._replay.graph
        for i, nid in enumerate(self._replay.order):
            leaf = self._replay.leaf_of.get(nid)
            if leaf is not None and before < i + PULSE_SHARE <= after:
                self.leaf_reached.emit(graph.node(leaf).name)

    # --- what to show -----------------------------------------------------------------------
    def _frame(self):
        """(key, states, badges) at the playhead; cached per (position, arrived)."""
        p = self.position
        frac = self._u - (p - 1) if p > 0 else 0.0
        arrived = p > 0 and frac >= PULSE_SHARE - 1e-9
        key = (id(self._replay), p, arrived)
        if self._frame_cache is not None and self._frame_cache[0] == key:
            return self._frame_cache
        r = self._replay
        states: dict[int, str] = {}
        contributions: dict[int, list] = {}
        delivered = p if arrived else p - 1
        for i in range(max(delivered, 0)):
            for receiver, g in r.sends[i]:
                contributions.setdefault(receiver, []).append(g)
        for i in range(max(p - 1, 0)):
            nid = r.order[i]
            states[nid] = DONE
            leaf = r.leaf_of.get(nid)
            if leaf is not None:
                states[leaf] = DONE
        if p > 0:
            nid = r.order[p - 1]
            states[nid] = CURRENT
            leaf = r.leaf_of.get(nid)
            if leaf is not None and arrived:
                states[leaf] = FLASH
        states.pop(-1, None)
        executed = set(r.order[:p])
        badges: dict[int, str] = {}
        if r.has_gradients:
            for nid in set(contributions) | executed:
                text = r.badge(nid, contributions.get(nid, []), nid in executed)
                if text:
                    badges[nid] = text
        self._frame_cache = (key, states, badges)
        return self._frame_cache

    def _edges_now(self) -> dict[tuple[int, int], float]:
        p = self.position
        if p == 0:
            return {}
        frac = self._u - (p - 1)
        if self._trail < 1.0 and frac >= 1.0:
            t = self._trail
        elif frac < PULSE_SHARE:
            t = frac / PULSE_SHARE
        else:
            return {}
        return {edge: t for edge in self._replay.edges[p - 1]}

    def _render(self) -> None:
        view = self._view
        _, states, badges = self._frame()
        edges = self._edges_now()
        if view is None:
            return
        for nid in [n for n in self._shown_states if n not in states]:
            view.set_node_state(nid, NORMAL)
            del self._shown_states[nid]
        for nid, state in states.items():
            if self._shown_states.get(nid) != state:
                view.set_node_state(nid, state)
                self._shown_states[nid] = state
        for nid in [n for n in self._shown_badges if n not in badges]:
            view.set_node_badge(nid, None)
            del self._shown_badges[nid]
        for nid, text in badges.items():
            if self._shown_badges.get(nid) != text:
                view.set_node_badge(nid, text)
                self._shown_badges[nid] = text
        for edge in [e for e in self._shown_edges if e not in edges]:
            view.set_edge_progress(edge[0], edge[1], None)
            del self._shown_edges[edge]
        for edge, t in edges.items():
            if self._shown_edges.get(edge) != t:
                view.set_edge_progress(edge[0], edge[1], t)
                self._shown_edges[edge] = t

    def _forget_shown(self) -> None:
        self._shown_states.clear()
        self._shown_badges.clear()
        self._shown_edges.clear()

    def _on_layout_ready(self, *args) -> None:
        # a new layout has new items with no animation state: tell them everything again
        self._forget_shown()
        self._render()

    # --- which step -------------------------------------------------------------------------
    def _load(self, index: int | None, *, keep_position: bool = False,
              force: bool = False) -> None:
        trace = self.controller.trace
        if self._live_step is not None:
            step_index = self._live_step
            step = trace.steps[step_index] if step_index < len(trace.steps) else None
            graph = trace.graph_of(step) if step is not None else self._live_graph()
            order = step.order if step is not None else self._live_order(graph)
            live = trace.live
            if step is None and live is not None and live.step == step_index \
                    and graph is not None and live.structure == graph.structure_hash:
                # the nodes the child ran so far, with their gradients: badges as they go
                step = Step(step_index, live.structure, None, order, live.runs)
        else:
            if index is None:
                step = trace.latest_step
            else:
                step = trace.steps[index] if 0 <= index < len(trace.steps) else None
            step_index = step.index if step is not None else None
            graph = trace.graph_of(step)
            order = step.order if step is not None else ()
        old = self._replay
        same = (graph is old.graph and order == old.order and step is old.step)
        if same and step_index == self._step_index and not force:
            return
        shown = trace.values_at(step.index) if step is not None else None
        values = shown.values if shown is not None and shown.structure in ("", step.structure) \
            else None
        kept = shown is not None and shown.kind == AFTER_BACKWARD and bool(values)
        if (graph is old.graph and order == old.order and step is not None and not force
                and not step.detail and not old.has_gradients and not self.live and not kept):
            # the next step of a running loop, recorded without detail: nothing to recompute
            old.step = step
            self._step_index = step_index
            self.replay_changed.emit()
            return
        if step is not None and not step.detail and kept:
            # no summaries kept for this step, but its gradients are: badges from those
            step = Step(step.index, step.structure, step.loss, order, _runs_from(order, values))
        self._replay = _Replay(graph, order, step, values)
        self._frame_cache = None
        self._step_index = step_index
        if graph is not old.graph and self._view is not None:
            self._view.clear_animation()
            self._forget_shown()
        keep = keep_position or (order[:len(old.order)] == old.order and graph is old.graph)
        u = min(self._u, float(len(order))) if keep else 0.0
        if not keep:
            self.pause()
            self._trail = 1.0
        self.replay_changed.emit()
        self._set_u(u)

    def _live_graph(self) -> Graph | None:
        trace = self.controller.trace
        if self._newest_graph is not None and self._newest_graph[0] == self._live_step:
            return trace.graphs.get(self._newest_graph[1])
        return trace.latest_graph

    def _live_order(self, graph: Graph | None) -> tuple[int, ...]:
        """The order of a backward still running: what the child reported so far (-1 where
        it did not say, before a breakpoint), completed by the last recorded step of the same
        structure when it agrees (the engine's order is the same for the same structure)."""
        known = self._live_nodes
        count = max(known) + 1 if known else 0
        trace = self.controller.trace
        for step in reversed(trace.steps[-8:]):
            if graph is not None and step.structure == graph.structure_hash \
                    and len(step.order) >= count \
                    and all(step.order[i] == nid for i, nid in known.items()):
                self._length_known = True
                return step.order
        self._length_known = False
        return tuple(known.get(i, -1) for i in range(count))

    def _on_trace_replaced(self) -> None:
        if self._trace is not None:
            self._trace.unsubscribe(self._on_trace_event)
        self._trace = self.controller.trace
        self._trace.subscribe(self._on_trace_event)
        self._newest_graph = None
        self._live_step = None
        self._live_nodes = {}
        self.pause()
        self._u = 0.0
        self._trail = 1.0
        self._step_index = None
        self._replay = _Replay(None, (), None, None)
        self._frame_cache = None
        if self._view is not None:
            self._view.clear_animation()
        self._forget_shown()
        self.replay_changed.emit()
        self.position_changed.emit(0)
        self._load(self.selection.step)

    def _on_trace_event(self, what: str, message) -> None:
        if what == "graph":
            self._newest_graph = (message.step, message.graph.structure_hash)

    def _on_steps_recorded(self, latest: int) -> None:
        if self._live_step is not None:
            if self._live_step <= latest:  # the stepped backward is complete: full detail now
                self._load(self._live_step, keep_position=True)
                self._live_step = None
                self._live_nodes = {}
            return
        if self.selection.step is None:
            self._load(None, keep_position=True)

    def _on_step_selected(self, index) -> None:
        if self._live_step is not None and index is not None and index != self._live_step:
            self._live_step = None
            self._live_nodes = {}
        self._load(index)

    def _on_values_changed(self) -> None:
        live = self.controller.trace.live
        if self._live_step is not None and live is not None and live.step == self._live_step \
                and (self._replay.step is None or self._replay.step.detail is not live.runs):
            self._load(self._live_step, keep_position=True)
            return
        step = self._replay.step
        if step is None:
            return
        shown = self.controller.trace.values_at(step.index)
        if not self._replay.has_gradients:
            if shown is not None and shown.kind == AFTER_BACKWARD \
                    and shown.structure == step.structure and not self.live:
                self._load(step.index, keep_position=True, force=True)  # badges from those
            return
        if not self._replay.leaf_of:
            return
        if shown is not None and shown.structure in ("", step.structure):
            leaf_values = self._replay._small_leaf_values(shown.values)
            if leaf_values != self._replay.leaf_values:
                self._replay.leaf_values = leaf_values
                self._frame_cache = None
                self._render()

    def _on_paused(self, paused) -> None:
        if paused.where == "backward" and self._follows(paused.step):
            self._go_live(paused.step)
            self._load(paused.step)

    def _on_live_position(self, executed) -> None:
        if not self._follows(executed.step):
            return
        if self._live_step != executed.step:
            self._go_live(executed.step)
        self._live_nodes[executed.position] = executed.node
        self._load(executed.step, keep_position=True)
        self.pause()
        self._trail = 1.0
        before = self.position
        self._set_u(float(executed.position + 1))
        if self.position == before + 1:  # one node on: its gradient travels on the clock
            self._start_trail()

    def _on_run_finished(self, result) -> None:
        if self._live_step is not None:
            self._live_step = None
            self._live_nodes = {}
            self._load(self.selection.step, keep_position=True)

    def _follows(self, step: int) -> bool:
        return self.selection.step is None or self.selection.step == step

    def _go_live(self, step: int) -> None:
        self._live_step = step
        self._live_nodes = {}
        self._replay = _Replay(None, (), None, None)  # a different step: start over


def _runs_from(order: tuple[int, ...], values: dict) -> tuple[NodeRun, ...]:
    """Gradient summaries of a step from its kept gradients (what flowed into each node):
    what a step recorded without detail can still show, while its gradients are kept."""
    runs = []
    for nid in order:
        g = values.get(nid, {}).get("grad_in")
        runs.append(NodeRun(nid, (None if g is None else array_summary(g),), ()))
    return tuple(runs)


def array_summary(a) -> TensorSummary:
    """A ``TensorSummary`` of a host array (NaN and Inf counted, left out of the rest)."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    bad = int(a.size - np.count_nonzero(finite))
    good = a[finite] if bad else a.ravel()
    if good.size == 0:
        return TensorSummary(tuple(a.shape), float("nan"), nonfinite=bad)
    return TensorSummary(tuple(a.shape), float("nan") if bad else float(np.linalg.norm(good)),
                         float(good.min()), float(good.max()), float(good.mean()), bad)


def _position(u: float) -> int:
    return max(0, math.ceil(u - 1e-9))
