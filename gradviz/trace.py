"""The trace model: what a recorded run is, independent of how it was recorded or shown.

A ``Graph`` is the structure of one backward pass (leaf tensors, autograd nodes, the root),
with edges in the direction data flows in the forward pass: from an input to the node that
consumed it (leaf -> AccumulateGrad -> PowBackward0 -> ... -> root), as torchviz draws them.
Backward runs against the arrows. ``structure_hash`` identifies a structure so that the 500
identical steps of a training loop share one graph and one layout.

Everything here is plain data (dataclasses of str/int/float/tuples) so it pickles across the
runner's process boundary and serialises to JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

LEAF, OP, ROOT = "leaf", "op", "root"


class Source(NamedTuple):
    """Where in the user's script something happened."""

    file: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class GraphNode:
    """One box in the graph.

    ``id`` is stable across steps with the same structure (assigned in traversal order).
    ``kind``: "leaf" (a tensor the user made, named after the script's variable, e.g. "w1"),
    "op" (an autograd node, AccumulateGrad included) or "root" (the node of the tensor
    ``backward()`` was called on). ``name``: the PyTorch node name for op and root nodes
    ("SumBackward0"), the variable name for leaves. ``shape``: of the tensor the node produced
    (for a leaf, the leaf itself; for AccumulateGrad, its variable).
    """

    id: int
    kind: str
    name: str
    shape: tuple[int, ...] = ()
    dtype: str = ""
    device: str = "cpu"
    source: Source | None = None
    saved: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (label, shape) of saved tensors
    requires_grad: bool = True
    module: str = ""  # the nn.Module the node ran in ("model.0", "loss_fn"); see module_scope


@dataclass(frozen=True)
class Graph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[int, int], ...]  # (from, to) in forward data-flow direction
    root: int

    @property
    def structure_hash(self) -> str:
        """Same hash <=> same boxes, names, shapes and edges (values may differ)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = self._compute_hash()
            object.__setattr__(self, "_hash", cached)
        return cached

    def _compute_hash(self) -> str:
        h = hashlib.blake2b(digest_size=12)
        for n in self.nodes:
            h.update(f"{n.id}|{n.kind}|{n.name}|{n.shape}|{n.dtype}|{n.module};".encode())
        for a, b in self.edges:
            h.update(f"{a}>{b};".encode())
        return h.hexdigest()

    def node(self, node_id: int) -> GraphNode:
        return self.nodes[self._index()[node_id]]

    def _index(self) -> dict[int, int]:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {n.id: i for i, n in enumerate(self.nodes)}
            object.__setattr__(self, "_idx", idx)
        return idx

    def inputs_of(self, node_id: int) -> list[int]:
        return [a for a, b in self.edges if b == node_id]

    def consumers_of(self, node_id: int) -> list[int]:
        return [b for a, b in self.edges if a == node_id]

    def to_json(self) -> dict:
        return {
            "nodes": [
                {"id": n.id, "kind": n.kind, "name": n.name, "shape": list(n.shape),
                 "dtype": n.dtype, "device": n.device,
                 "line": n.source.line if n.source else None,
                 "file": n.source.file if n.source else None,
                 "function": n.source.function if n.source else None,
                 "module": n.module,
                 "saved": [{"name": s, "shape": list(sh)} for s, sh in n.saved]}
                for n in self.nodes
            ],
            "edges": [[a, b] for a, b in self.edges],
            "root": self.root,
        }

    @classmethod
    def from_json(cls, data: dict) -> Graph:
        nodes = []
        for n in data["nodes"]:
            src = (Source(n["file"], n["line"], n.get("function") or "")
                   if n.get("line") is not None else None)
            nodes.append(GraphNode(
                id=n["id"], kind=n["kind"], name=n["name"], shape=tuple(n.get("shape", ())),
                dtype=n.get("dtype", ""), device=n.get("device", "cpu"), source=src,
                saved=tuple((s["name"], tuple(s["shape"])) for s in n.get("saved", ())),
                module=n.get("module", ""),
            ))
        return cls(tuple(nodes), tuple((a, b) for a, b in data["edges"]), data["root"])


# The small records made every step are NamedTuples: several per backward() are created in
# the training loop's own process, and a frozen dataclass costs several times more to build.
class TensorSummary(NamedTuple):
    """Cheap statistics of an array, computed where the array lives (on the GPU for cuda)."""

    shape: tuple[int, ...]
    norm: float
    min: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    nonfinite: int = 0  # NaN and Inf count

    def to_json(self) -> dict:
        return self._asdict() | {"shape": list(self.shape)}


class NodeRun(NamedTuple):
    """One node executed in the backward pass, in the engine's real order."""

    node: int
    grads_in: tuple[TensorSummary | None, ...]  # one per node output
    grads_out: tuple[TensorSummary | None, ...]  # one per next_functions entry


class GradEvent(NamedTuple):
    """Something happened to a leaf's ``.grad``.

    kind "accumulate": ``contribution`` was added; ``was_empty`` tells whether the slot held
    nothing before (False means it was added on top of a previous value). kind "zero": the
    grad was cleared (``how``: 'zero_()', 'grad = None', 'optimizer.zero_grad()' ...).
    """

    step: int
    leaf: str
    kind: str
    how: str = ""
    was_empty: bool = True
    norm_before: float = 0.0
    norm_after: float = 0.0
    contribution_norm: float = 0.0
    source: Source | None = None


@dataclass
class Step:
    """One ``backward()`` call."""

    index: int
    structure: str  # Graph.structure_hash
    loss: float | None  # the root value when it is a scalar
    order: tuple[int, ...] = ()  # graph node ids in the engine's execution order
    detail: tuple[NodeRun, ...] | None = None  # gradient summaries, on detailed steps only
    grad_norms: dict[str, float] = field(default_factory=dict)  # leaf name -> |grad| after
    seconds: float = 0.0
    source: Source | None = None  # the line of the backward() call

    def __reduce__(self):
        # one of these crosses the process boundary per training step: pickle it as a plain
        # argument tuple rather than a dataclass's attribute dict
        return (Step, (self.index, self.structure, self.loss, self.order, self.detail,
                       self.grad_norms, self.seconds, self.source))
