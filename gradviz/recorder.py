"""The recorder: an engine listener that turns autograd events into the trace model.

It runs inside the script's process. Per ``backward()`` it sends one ``StepRecorded`` (loss,
execution order, leaf gradient norms, the ``.grad`` events since the last step); a graph
only when its structure has not been seen before in the run; gradient summaries for every
node only on throttled "detailed" steps (the first few, then at most every
``detail_interval`` seconds, and always the last), so the training loop is not slowed.

The gradients themselves (each leaf's ``.grad`` and what flowed into each node) are kept for
the last ``STEPS_WITH_VALUES`` steps as references, not copies: the engine never changes a
gradient it has passed on, and a leaf's ``.grad`` right after a backward that added into an
empty slot is the gradient its AccumulateGrad received. Only a ``.grad`` that was added on
top of an earlier value is copied, since the script may change it in place afterwards. They
are sent (``StepValues``) on detailed steps, and all of them when the debugger asks for
values (it does whenever the script pauses) and at the end of the run.
"""

from __future__ import annotations

import collections
import time
from typing import NamedTuple

from engine import events
from engine._device import backend_of
from engine._tensor import Tensor
from engine.autograd.graph import AccumulateGrad

from .module_scope import ModuleScope, spread_to_leaves
from .naming import LeafNamer, user_frame
from .protocol import (
    STEP_VALUES_BYTES,
    STEPS_WITH_VALUES,
    GraphChanged,
    LiveBackward,
    StepRecorded,
    StepValues,
    Values,
)
from .summaries import norm, summarize
from .trace import LEAF, OP, ROOT, GradEvent, Graph, GraphNode, NodeRun, Source, Step

MAX_VALUE_ELEMENTS = 1_000_000
MAX_PENDING_OUTPUTS = 50_000
SOURCE_REPEATS = 3  # identical steps after which forward source lines are no longer looked up


def _source(raw) -> Source | None:
    return None if raw is None else Source(raw[0], raw[1], raw[2])


class _Gate:
    """No pausing: what the recorder uses outside the debugger's runner."""

    stepping = False

    def before_backward(self, step: int, source) -> None:
        pass

    def after_node(self, step: int, position: int, node_id, name: str) -> None:
        pass


class Recorder:
    """Listener for ``engine.events``. ``emit(message)`` receives protocol messages."""

    wants_source = True

    def __init__(self, emit, *, detail_interval: float = 0.05, detail_first: int = 3,
                 gate=None, clock=time.perf_counter):
        self.emit = emit
        self.gate = gate or _Gate()
        self.detail_interval = detail_interval
        self.detail_first = detail_first
        self.clock = clock
        self.namer = LeafNamer()
        self._scope = ModuleScope()
        self.step = -1
        self.losses: list[float] = []
        self.graph: Graph | None = None  # of the latest backward
        self._graphs: dict = {}  # structure key -> Graph
        self._node_ids: dict = {}  # autograd node -> graph id, for the backward in progress
        self._leaves: list = []  # (AccumulateGrad id, leaf tensor) of the latest graph
        self._order: list = []
        self._events: list[GradEvent] = []
        self._norms: dict[str, float] = {}
        self._started = 0.0
        self._last_detail = float("-inf")
        self._loss: float | None = None
        self._backward_source: Source | None = None
        self._pending_step: Step | None = None  # latest step sent without detail
        self._pending_order: list | None = None
        self._outputs: dict = {}  # node -> output tensor, forward in progress
        self._step_outputs: dict = {}  # node -> output tensor, latest backward's graph
        self._op_nodes: list = []
        self._orders: dict = {}
        self._sources: dict = {}  # (code, line) -> Source
        self._step_norms: dict[str, float] = {}  # leaf -> |grad| after this step's backward
        # Source lines of forward ops are looked up only while a structure is new: once the
        # same graph has repeated a few steps, its lines are known and the lookup is skipped
        self.wants_source = True
        self._repeats = 0
        self._sourceless: set = set()  # structure keys built while lookups were off
        self._cleared: set[str] = set()  # leaves whose grad was zeroed since it last grew
        self._recent: collections.deque[_Kept] = collections.deque()  # the last steps' grads
        self._recent_bytes = 0
        self._sent: set[int] = set()  # steps of ``_recent`` whose gradients were sent
        self._live_runs: tuple[list, list] | None = None  # (order, its NodeRuns so far)
        self._grad_bytes: dict[str, int] = {}  # structure -> bytes of one step's gradients

    # --- engine events ------------------------------------------------------------------------
    def op_did_record(self, node, output, inputs, source) -> None:
        if source is not None:  # a structure still new: where it ran, line and module
            module = self._scope.current()
            md = node._metadata
            if md is None:
                node._metadata = {"source": source, "module": module}
            else:
                md["source"] = source
                md["module"] = module
        # Strong references, held by the recorder (not the node: that would make a cycle):
        # the inspector shows intermediate values the script itself no longer holds. Only
        # the forward in progress and the latest backward's are kept.
        outputs = self._outputs
        outputs[node] = output[0] if isinstance(output, tuple) else output
        if len(outputs) > MAX_PENDING_OUTPUTS:  # a script that never calls backward()
            for stale in list(outputs)[: MAX_PENDING_OUTPUTS // 2]:
                del outputs[stale]

    def backward_did_start(self, roots, grads, retain_graph) -> None:
        self.step += 1
        self._started = self.clock()
        data = roots[0]._data
        self._loss = float(data) if data.size == 1 else None
        if self._loss is not None:
            self.losses.append(self._loss)
        self._backward_source = self._user_source()
        self._scope.forget()
        self._order = []
        self._step_outputs, self._outputs = self._outputs, {}
        self.graph = self._graph_of(roots[0])
        self.gate.before_backward(self.step, self._backward_source)

    def node_did_execute(self, node, grads_in, grads_out) -> None:
        nid = self._node_ids.get(node)
        self._order.append((nid, grads_in, grads_out))
        if self.gate.stepping:
            self.gate.after_node(self.step, len(self._order) - 1, nid, node.name())

    def grad_will_accumulate(self, tensor, before, contribution) -> None:
        name = self.namer.name(tensor)
        if name not in self._norms:
            self._norms[name] = norm(before)

    def grad_did_accumulate(self, tensor, after, contribution, was_empty) -> None:
        name = self.namer.name(tensor)
        # "empty" for the debugger: nothing there, or cleared (zero_(), zero_grad) since the
        # last accumulation; otherwise this adds on top of an earlier step's gradient
        was_empty = was_empty or name in self._cleared
        self._cleared.discard(name)
        before = 0.0 if was_empty else self._norms.get(name, 0.0)
        after_norm = norm(after)
        contribution_norm = after_norm if before == 0.0 else norm(contribution)
        self._norms[name] = after_norm
        self._step_norms[name] = after_norm
        self._events.append(GradEvent(
            self.step, name, "accumulate", was_empty=was_empty, norm_before=before,
            norm_after=after_norm, contribution_norm=contribution_norm,
        ))

    def grad_did_zero(self, tensor, how) -> None:
        name = self.namer.name(tensor)
        before = self._norms.get(name, 0.0)
        self._norms[name] = 0.0
        self._cleared.add(name)
        self._events.append(GradEvent(self.step, name, "zero", how=how, norm_before=before,
                                      source=self._user_source()))

    def tensor_did_change_inplace(self, tensor, op) -> None:
        # an update of a parameter (``w1 -= lr * w1.grad``): diagnostics need to know that a
        # leaf changed between two accumulations
        # (Only for leaves already named by a backward: a parameter being initialised inside
        # nn.Linear.__init__ has no variable name yet, and naming it now would stick.)
        if tensor.requires_grad_flag and tensor.grad_fn is None:
            name = self.namer.known(tensor)
            if name is not None:
                self._events.append(GradEvent(self.step, name, "update", how=op,
                                              source=self._user_source()))

    def backward_did_finish(self, roots) -> None:
        self._finish_step()

    def backward_did_fail(self, roots, error) -> None:
        self._finish_step()

    # --- steps ----------------------------------------------------------------------------------
    def _finish_step(self) -> None:
        now = self.clock()
        detailed = self.step < self.detail_first or now - self._last_detail >= self.detail_interval
        order = tuple([nid for nid, _, _ in self._order])
        if None in order:  # a node outside the root's graph (several roots): no id
            order = tuple(-1 if nid is None else nid for nid in order)
        norms, self._step_norms = self._step_norms, {}
        step = Step(self.step, self.graph.structure_hash if self.graph else "", self._loss,
                    self._intern(order), self._runs() if detailed else None, norms,
                    now - self._started, self._backward_source)
        if detailed:
            self._last_detail = now
            self._pending_step = None
            self._pending_order = None
        else:
            self._pending_step = step
            self._pending_order = self._order  # references only; summarised if it is the last
        events, self._events = self._events, []
        self.emit(StepRecorded(step, events, detailed))
        self._keep_gradients(events, detailed)

    def _runs(self) -> tuple[NodeRun, ...]:
        return tuple(NodeRun(nid if nid is not None else -1,
                             tuple(summarize(g) for g in gin), tuple(summarize(g) for g in gout))
                     for nid, gin, gout in self._order)

    def _intern(self, order: tuple) -> tuple:
        """One tuple object per distinct execution order (500 identical steps share one)."""
        return self._orders.setdefault(order, order)

    def finish(self) -> None:
        """At the end of the script: detail the last step if it went without, send values."""
        if self._pending_step is not None:
            self._order = self._pending_order
            step = self._pending_step
            step.detail = self._runs()
            self._pending_step = None
            self.emit(StepRecorded(step, [], True))
        if self._events:  # zeroing/updates after the last backward
            self.emit(StepRecorded(Step(self.step, "", None), self._events, False))
            self._events = []
        if self.graph is not None:
            self.emit(self.values([n.id for n in self.graph.nodes]))

    # --- graph ----------------------------------------------------------------------------------
    def _graph_of(self, root: Tensor) -> Graph:
        """Walk the graph from the root (breadth-first, next_functions order; ids in the order
        nodes are found) and return its Graph, building one only for a structure not seen
        before in this run. Runs every step: kept to plain loops and tuples."""
        start = root._edge()[0]
        ids: dict = {start: 0}
        ids_get = ids.get
        order = [start]
        key = []
        leaves = []
        outputs_get = self._step_outputs.get
        for i, node in enumerate(order):  # the list grows while it is walked: breadth-first
            nexts = []
            for nxt, _nr in node.next_functions:
                if nxt is not None:
                    nid = ids_get(nxt)
                    if nid is None:
                        nid = ids[nxt] = len(order)
                        order.append(nxt)
                    nexts.append(nid)
            cls = node.__class__
            if cls is AccumulateGrad:
                t = node.variable
                leaves.append((i, t))
            else:
                t = outputs_get(node)
            key.append((cls, () if t is None else t._data.shape, *nexts))
        name = self.namer.name
        leaf_names = tuple((nid, name(t)) for nid, t in leaves)
        if len(leaves) > 1 and len({n for _, n in leaf_names}) < len(leaves):
            leaf_names = self._distinct_names(leaves)
        structure_key = (tuple(key), leaf_names)
        self._node_ids = ids
        self._op_nodes = order
        self._leaves = leaves
        graph = self._graphs.get(structure_key)
        had_sources = self.wants_source  # what was on while this step's forward ran
        if graph is None or (had_sources and structure_key in self._sourceless):
            graph = self._build(order, ids, leaf_names, dict(leaves))
            self._graphs[structure_key] = graph
            if had_sources:
                self._sourceless.discard(structure_key)
            else:
                self._sourceless.add(structure_key)
            self.emit(GraphChanged(self.step, graph))
            self._repeats = 0
            self._set_wants_source(True)
        else:
            self._repeats += 1
            if self._repeats >= SOURCE_REPEATS and not self._sourceless:
                self._set_wants_source(False)
        return graph

    def _distinct_names(self, leaves) -> tuple:
        """Leaf names of one graph, none shared (the graph, the panels and the ``.grad``
        events tell leaves apart by name)."""
        taken: set[str] = set()
        names = []
        for nid, t in leaves:
            n = self.namer.name(t, taken)
            taken.add(n)
            names.append((nid, n))
        return tuple(names)

    def _build(self, order, ids, leaf_names, leaves) -> Graph:
        nodes = []
        edges = []
        modules = [(node._metadata or {}).get("module", "") for node in order]
        consumers: dict[int, list[int]] = {}  # AccumulateGrad id -> ids of nodes using it
        for nid, node in enumerate(order):
            for nxt, _ in node.next_functions:
                if nxt is not None:
                    edges.append((ids[nxt], nid))
                    if type(nxt) is AccumulateGrad:
                        consumers.setdefault(ids[nxt], []).append(nid)
        spread_to_leaves(modules, consumers)
        for nid, node in enumerate(order):
            md = node._metadata or {}
            t = node.variable if type(node) is AccumulateGrad else self._step_outputs.get(node)
            nodes.append(GraphNode(
                id=nid, kind=ROOT if nid == 0 else OP, name=node.name(),
                shape=tuple(t._data.shape) if t is not None else (),
                dtype=str(t.dtype).removeprefix("torch.") if t is not None else "",
                device=str(t.device) if t is not None else "cpu",
                source=_source(md.get("source")),
                saved=tuple(_saved_labels(node)),
                module=modules[nid],
            ))
        n_ops = len(order)
        for i, (acc_id, name) in enumerate(leaf_names):
            t = leaves[acc_id]
            leaf_id = n_ops + i
            nodes.append(GraphNode(
                id=leaf_id, kind=LEAF, name=name, shape=tuple(t._data.shape),
                dtype=str(t.dtype).removeprefix("torch."), device=str(t.device),
                module=modules[acc_id],
            ))
            edges.append((leaf_id, acc_id))
        return Graph(tuple(nodes), tuple(edges), 0)

    # --- gradients of the last steps -----------------------------------------------------------
    def _keep_gradients(self, events, detailed: bool) -> None:
        """Keep this step's gradients among the last ``STEPS_WITH_VALUES``; send them now when
        the step is detailed (the views show them live). Runs every step: a few microseconds."""
        graph = self.graph
        if graph is None:
            return
        copies = None
        for e in events:
            if not e.was_empty and e.kind == "accumulate":  # was_empty is True for the others
                copies = self._grads_added_on_top(events)
                break
        nbytes = self._grad_bytes.get(graph.structure_hash)
        if nbytes is None:  # the same for every step of a structure: counted once
            nbytes = self._grad_bytes[graph.structure_hash] = sum(
                g.nbytes for _, gin, _ in self._order for g in gin if g is not None)
        if copies:
            nbytes += sum(a.nbytes for a in copies.values())
        kept = _Kept(self.step, graph, self._order, self._leaves, copies, nbytes)
        recent = self._recent
        recent.append(kept)
        total = self._recent_bytes + nbytes
        while len(recent) > STEPS_WITH_VALUES or (total > STEP_VALUES_BYTES and len(recent) > 1):
            old = recent.popleft()
            total -= old.nbytes
            self._sent.discard(old.step)
        self._recent_bytes = total
        if detailed:
            self._sent.add(kept.step)
            self.emit(self._step_values(kept))

    def _grads_added_on_top(self, events) -> dict:
        """AccumulateGrad id -> a copy of its leaf's ``.grad``, for the leaves whose gradient
        was added on top of an earlier value this step (the script may change it in place)."""
        names = {e.leaf for e in events if e.kind == "accumulate" and not e.was_empty}
        copies = {}
        for acc_id, t in self._leaves:
            if t._grad is not None and self.namer.name(t) in names:
                copies[acc_id] = backend_of(t._grad._data).copy(t._grad._data)
        return copies

    def _send_kept(self) -> None:
        """Send the kept gradients the debugger has not received yet, oldest first."""
        for kept in self._recent:
            if kept.step not in self._sent:
                self._sent.add(kept.step)
                self.emit(self._step_values(kept))

    def _step_values(self, kept: _Kept) -> StepValues:
        graph = kept.graph
        n_ops = len(graph.nodes) - len(kept.leaves)
        received = _received(kept.order)
        values: dict[int, dict] = {}
        budget = STEP_VALUES_BYTES // 4  # one step's share: the newest steps all fit
        # the leaves' .grad first: what the gradients panel shows
        for i, (acc_id, t) in enumerate(kept.leaves):
            g = kept.copies.get(acc_id) if kept.copies else None
            if g is None:
                g = received.get(acc_id)
                if g is None:
                    continue
                B = backend_of(g)
                shape, dtype = t._data.shape, t._data.dtype
                if g.dtype != dtype:
                    g = B.astype(g, dtype, copy=True)
                if g.shape != shape:  # AccumulateGrad broadcasts into the leaf, as the engine
                    g = B.broadcast_to(g, shape)
            if g.size <= MAX_VALUE_ELEMENTS and g.nbytes <= budget:
                budget -= g.nbytes
                values[n_ops + i] = {"grad": backend_of(g).to_host(g)}
        _add_grads_in(values, received, budget)
        return StepValues(kept.step, graph.structure_hash, values)

    def _live_backward(self) -> LiveBackward | None:
        """The backward the script is paused inside, if it is: the nodes run so far."""
        order = self._order
        if not order or self.graph is None or (self._recent and self._recent[-1].order is order):
            return None  # before the first node, or the backward is complete
        cached = self._live_runs
        if cached is None or cached[0] is not order:
            cached = self._live_runs = (order, [])
        runs = cached[1]
        for nid, gin, gout in order[len(runs):]:  # summarise each node once per backward
            runs.append(NodeRun(nid if nid is not None else -1,
                                tuple(summarize(g) for g in gin),
                                tuple(summarize(g) for g in gout)))
        values: dict[int, dict] = {}
        _add_grads_in(values, _received(order), STEP_VALUES_BYTES // 4)
        return LiveBackward(self.step, self.graph.structure_hash, tuple(runs), values)

    # --- values on demand ---------------------------------------------------------------------
    def values(self, node_ids) -> Values:
        """Values of the latest graph's nodes: the tensor each produced and, for leaves, its
        gradient. Arrays over MAX_VALUE_ELEMENTS are sent as summaries only. The kept
        gradients of the last steps not sent yet go first."""
        self._send_kept()
        live = self._live_backward()
        if live is not None:
            self.emit(live)
        out: dict[int, dict] = {}
        ops = self._op_nodes
        leaf_tensors = {len(ops) + i: t for i, (_, t) in enumerate(self._leaves)}
        for nid in node_ids:
            entry: dict = {}
            t = leaf_tensors.get(nid)
            if t is None and 0 <= nid < len(ops):
                node = ops[nid]
                t = node.variable if type(node) is AccumulateGrad else self._step_outputs.get(node)
            if t is None:
                continue
            entry["data"] = _host(t._data)
            entry["data_summary"] = summarize(t._data)
            if t._grad is not None:
                entry["grad"] = _host(t._grad._data)
                entry["grad_summary"] = summarize(t._grad._data)
            entry["version"] = t._version[0]
            out[nid] = entry
        return Values(self.step, out)

    def _user_source(self) -> Source | None:
        frame = user_frame()
        if frame is None:
            return None
        # one Source per line: the same few lines recur every step, and a shared object is
        # pickled once per batch
        key = (frame.f_code, frame.f_lineno)
        src = self._sources.get(key)
        if src is None:
            src = self._sources[key] = Source(frame.f_code.co_filename, frame.f_lineno,
                                              frame.f_code.co_name)
        return src

    def _set_wants_source(self, on: bool) -> None:
        if on != self.wants_source:
            self.wants_source = on
            events.refresh()


def _received(order) -> dict:
    """Node id -> the gradient that flowed into it (its first output's), from an order of
    (node id, grads_in, grads_out)."""
    received = {}
    for nid, gin, _ in order:
        if nid is not None and nid >= 0:
            g = next((g for g in gin if g is not None), None)
            if g is not None:
                received[nid] = g
    return received


def _add_grads_in(values: dict, received: dict, budget: int) -> None:
    for nid, g in received.items():
        if g.size <= MAX_VALUE_ELEMENTS and g.nbytes <= budget:
            budget -= g.nbytes
            values[nid] = {"grad_in": backend_of(g).to_host(g)}


class _Kept(NamedTuple):
    """One recent step's gradients, as references (see the module docstring)."""

    step: int
    graph: Graph
    order: list  # [(node id, grads_in, grads_out)] in execution order
    leaves: list  # [(AccumulateGrad id, leaf tensor)]
    copies: dict | None  # AccumulateGrad id -> .grad copied after an on-top accumulation
    nbytes: int


def _host(a):
    if a.size > MAX_VALUE_ELEMENTS:
        return None
    return backend_of(a).to_host(a).copy()


def _saved_labels(node):
    saved = node._saved
    if not saved:
        return []
    labels = []
    for i, (t, _version, is_output) in enumerate(saved):
        labels.append(("result" if is_output else f"saved{i}", tuple(t._data.shape)))
    return labels
