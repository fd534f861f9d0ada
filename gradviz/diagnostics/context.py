"""What the detectors read of the recorder's per-step state, in one place.

The recorder already walks each backward's graph, names leaves, looks up source lines and
keeps the step's forward outputs and backward gradients (references, not copies). The
detectors reuse all of that through this view rather than computing it again; it is the
one module that knows the recorder's private attributes.
"""

from __future__ import annotations

import io
import linecache
import tokenize

from ..trace import LEAF, Graph, Source


class RecorderView:
    def __init__(self, recorder):
        self.recorder = recorder
        self._leaf_ids: dict[int, tuple] = {}  # id(Graph) -> (Graph, {leaf name: node id})

    # --- the step in progress ---------------------------------------------------------------
    @property
    def step(self) -> int | None:
        return None if self.recorder is None else self.recorder.step

    @property
    def graph(self) -> Graph | None:
        return None if self.recorder is None else self.recorder.graph

    @property
    def loss(self) -> float | None:
        """The root's value when it is a scalar (computed by the recorder at backward start)."""
        return self.recorder._loss

    def root_data(self):
        """The array of the tensor the latest ``backward()`` started from (None for a leaf)."""
        nodes = self.recorder._op_nodes
        out = self.recorder._step_outputs.get(nodes[0]) if nodes else None
        return None if out is None else out._data

    @property
    def backward_source(self) -> Source | None:
        """The line of the ``backward()`` call in progress (or last finished)."""
        return self.recorder._backward_source

    def node_id(self, node) -> int | None:
        """The graph id of an autograd node of the current backward's graph."""
        return self.recorder._node_ids.get(node)

    def node_ids(self) -> dict:
        return self.recorder._node_ids

    def nodes(self) -> list:
        """The autograd nodes of the current graph, by id."""
        return self.recorder._op_nodes

    def outputs(self) -> dict:
        """{autograd node: output tensor} of the forward pass this backward runs over, in the
        order the ops ran."""
        return self.recorder._step_outputs

    def pending_outputs(self) -> dict:
        """{autograd node: output tensor} of ops recorded since the last backward started
        (a forward pass no backward() has run over, yet)."""
        return self.recorder._outputs

    def execution(self) -> list:
        """[(node id, grads in, grads out)] of the backward just run, in the engine's order
        (the arrays themselves: read them, never keep them)."""
        return self.recorder._order

    def leaves(self) -> list:
        """[(AccumulateGrad id, leaf tensor)] of the current graph."""
        return self.recorder._leaves

    def leaf_name(self, tensor) -> str:
        return self.recorder.namer.name(tensor)

    def known_name(self, tensor) -> str | None:
        return self.recorder.namer.known(tensor)

    def leaf_id(self, name: str) -> int | None:
        """The id of the leaf node named ``name`` in the current graph."""
        graph = self.graph
        if graph is None:
            return None
        cached = self._leaf_ids.get(id(graph))
        if cached is None or cached[0] is not graph:
            cached = (graph, {n.name: n.id for n in graph.nodes if n.kind == LEAF})
            if len(self._leaf_ids) > 64:
                self._leaf_ids.clear()
            self._leaf_ids[id(graph)] = cached
        return cached[1].get(name)

    def leaf_node(self, tensor) -> int | None:
        """The id of a leaf tensor's node in the current graph (leaves follow the ops)."""
        leaves = self.recorder._leaves
        for i, (_acc, t) in enumerate(leaves):
            if t is tensor:
                return len(self.recorder._op_nodes) + i
        return None

    def source_of(self, node_id: int | None, node=None) -> Source | None:
        """The script line that created a node (its forward op)."""
        graph = self.graph
        if node_id is not None and graph is not None:
            try:
                src = graph.node(node_id).source
            except KeyError:
                src = None
            if src is not None:
                return src
        if node is not None and node._metadata:
            raw = node._metadata.get("source")
            if raw is not None:
                return Source(raw[0], raw[1], raw[2])
        return None

    def user_source(self) -> Source | None:
        """The user's line executing now."""
        return self.recorder._user_source()


def code_of(source: Source | None) -> str:
    """The text of a script line without its comment, stripped ("" when unknown)."""
    if source is None:
        return ""
    line = linecache.getline(source.file, source.line)
    if "#" in line:
        try:
            for tok in tokenize.generate_tokens(io.StringIO(line).readline):
                if tok.type == tokenize.COMMENT:
                    line = line[: tok.start[1]]
                    break
        except (tokenize.TokenError, SyntaxError):
            pass
    return line.strip()


def at(source: Source | None) -> str:
    """"line 12 (`y = torch.log(p)`)" or "" when unknown."""
    if source is None:
        return ""
    code = code_of(source)
    return f"line {source.line} (`{code}`)" if code else f"line {source.line}"
