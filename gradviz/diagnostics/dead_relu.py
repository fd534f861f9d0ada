"""``dead-relu``: a ReLU (or ``clamp(min=0)``) of a hidden layer whose output was zero for
every sample in each of the last ``dead_relu_steps`` backward passes: no gradient flows
through it, so nothing behind it learns.

After each backward it reads the ReLU outputs the recorder holds for the step (no copy):
one reduction per ReLU node (``max > 0``), the ReLU nodes of a graph structure found once.
"""

from __future__ import annotations

from numpy import ndarray

from engine._device import backend_of

from .context import at

RELU_NAMES = frozenset({"ReluBackward0", "ClampBackward1", "ClampMinBackward0"})
# nodes that only re-view their input: a weight reaches a layer's op through them (w.t())
VIEWS = frozenset({"TBackward0", "PermuteBackward0", "TransposeBackward0", "ViewBackward0",
                   "UnsafeViewBackward0", "ExpandBackward0", "SqueezeBackward0",
                   "SqueezeBackward1", "UnsqueezeBackward0", "CloneBackward0",
                   "ToCopyBackward0"})


def hidden_relus(graph) -> tuple[int, ...]:
    """The ReLU nodes of a hidden layer: between them and the loss, some op takes a
    parameter (a leaf, possibly through a view such as ``w.t()``). A ReLU that feeds the
    loss only through reductions (a hinge loss, ``relu(margin - score).mean()``) is zero
    for every sample exactly when training has succeeded: never "dead"."""
    names = {n.id: n.name for n in graph.nodes}
    inputs: dict[int, list[int]] = {}
    consumers: dict[int, list[int]] = {}
    for a, b in graph.edges:
        inputs.setdefault(b, []).append(a)
        consumers.setdefault(a, []).append(b)

    def is_parameter(nid: int, depth: int = 0) -> bool:
        name = names.get(nid)
        if name == "AccumulateGrad":
            return True
        return name in VIEWS and depth < 4 and any(
            is_parameter(i, depth + 1) for i in inputs.get(nid, ()))

    takes_parameter = {nid for nid in names
                       if any(is_parameter(i) for i in inputs.get(nid, ()))}
    hidden = []
    for n in graph.nodes:
        if n.name not in RELU_NAMES:
            continue
        seen, stack = {n.id}, list(consumers.get(n.id, ()))
        while stack:
            nid = stack.pop()
            if nid in takes_parameter:
                hidden.append(n.id)
                break
            for c in consumers.get(nid, ()):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
    return tuple(hidden)


class DeadRelu:
    def __init__(self, diag):
        self.diag = diag
        self._relus: dict[int, tuple] = {}  # id(Graph) -> (Graph, (node id, ...))
        self._dead: dict[tuple, int] = {}  # (structure, node id) -> consecutive dead steps
        self._graph = None  # the latest graph, and its hidden ReLUs' node ids
        self._ids: tuple = ()

    def step_recorded(self) -> None:
        """After each backward: were the hidden ReLUs of its forward pass all zeros?"""
        view = self.diag.view
        graph = view.graph
        if graph is not self._graph:  # the hidden ReLUs of a structure, found once
            if graph is None:
                return
            cached = self._relus.get(id(graph))
            if cached is None or cached[0] is not graph:
                nodes = view.nodes()
                # a clamp counts only with a lower bound of 0 (ReLU6 too: clamp(0, 6))
                ids = tuple(nid for nid in hidden_relus(graph)
                            if type(nodes[nid]).__name__ == "ReluBackward0"
                            or getattr(nodes[nid], "lo", None) == 0)
                cached = (graph, ids)
                if len(self._relus) > 64:
                    self._relus.clear()
                self._relus[id(graph)] = cached
            self._graph, self._ids = graph, cached[1]
        if not self._ids:
            return
        nodes, outputs = view.nodes(), view.outputs()
        for nid in self._ids:
            out = outputs.get(nodes[nid])
            if out is None:
                continue
            a = out._data
            size = a.size
            # on the CPU, three elements first (a live layer almost always has one above 0);
            # on a GPU each would be a synchronisation: one reduction instead
            if size and not (a.__class__ is ndarray and (
                    a.item(0) > 0 or a.item(size // 2) > 0 or a.item(size - 1) > 0)) \
                    and not float(backend_of(a).amax(a)) > 0.0:
                key = (graph.structure_hash, nid)
                dead = self._dead.get(key, 0) + 1
                self._dead[key] = dead
                if dead >= self.diag.thresholds.dead_relu_steps:
                    self._report(nid, nodes[nid], dead, a.shape)
            elif self._dead:
                self._dead.pop((graph.structure_hash, nid), None)

    def _report(self, nid: int, node, steps: int, shape) -> None:
        view = self.diag.view
        src = view.source_of(nid, node)
        self.diag.report(
            "dead-relu",
            f"dead ReLU: the output of {node.name()}{' at ' + at(src) if src else ''} "
            f"(shape {tuple(shape)}) was zero for every sample in each of the last {steps} "
            "steps, so no gradient flows back through it and the parameters before it stop "
            "learning. Its inputs are all negative: check the bias and the initialisation, "
            "lower the learning rate, or use LeakyReLU.",
            nid, src, key=(view.graph.structure_hash, nid))
