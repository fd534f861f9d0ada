"""From a recorded ``Graph`` to the *view graph* that is laid out and drawn.

A view graph is made of boxes. A box shows one graph node, or a *group* of nodes shown as
one box ("AddBackward0 ×1999"); edges between boxes are deduplicated and carry a count.
Collapsing exists because Graphviz's ``dot`` slows down sharply with long-range edges:
builtin ``sum`` over a 100-element tensor takes 16 s uncollapsed (one UnbindBackward0 feeds
every AddBackward0 of the chain), over 250 elements minutes (DESIGN.md, Known pitfalls).

What is collapsed, in this order (each step sees the boxes the previous one made):

1. modules, only with ``collapse_modules=True``: nodes sharing ``GraphNode.module``;
2. chains: runs of at least ``min_chain`` op nodes with the same name, each the only
   consumer of the one before (builtin ``sum``'s AddBackward0 chain);
3. fans: at least ``min_fan`` sibling nodes with the same name and shape and exactly the
   same input boxes and consumer boxes (``torch.stack([x[i] for i in range(1000)])``).

Many parallel edges between two boxes (UnbindBackward0 into the collapsed Add chain) become
one edge with a count. The root is never grouped: it is the loss the user is looking at.
Group ids are stable ("chain:<first node id>", "fan:<lowest node id>", "module:<name>")
because node ids are stable across steps with the same structure; a caller passes ids in
``expanded`` to show a group's members instead (the UI's double-click).

Everything is O(nodes + edges).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from gradviz.trace import LEAF, OP, Graph, GraphNode

GROUP, SAVED = "group", "saved"
CHAIN, FAN, MODULE = "chain", "fan", "module"


@dataclass(frozen=True)
class CollapseOptions:
    """How to turn a Graph into a view graph. Hashable: part of the layout cache key.

    ``hide_no_grad`` hides leaves with ``requires_grad=False`` (torchviz never shows them:
    autograd records ``None`` for such inputs). They are shown by default, drawn as dashed
    constants, because their shape explains the shapes of the ops they feed (Example 2's
    ``x`` and ``y``). ``show_saved`` adds torchviz's orange boxes for the tensors each
    (ungrouped) op saved for backward.
    """

    chains: bool = True
    min_chain: int = 8
    fans: bool = True
    min_fan: int = 8
    collapse_modules: bool = False
    hide_no_grad: bool = False
    show_saved: bool = False
    expanded: frozenset[str] = frozenset()

    def expand(self, *group_ids: str) -> CollapseOptions:
        """These options with ``group_ids`` added to the expanded set."""
        return replace(self, expanded=self.expanded | frozenset(group_ids))

    def fully_collapsed(self) -> CollapseOptions:
        """The most compact view of the same graph: the layout's fallback when ``dot`` is slow."""
        return replace(
            self, chains=True, min_chain=min(self.min_chain, 3), fans=True,
            min_fan=min(self.min_fan, 3), collapse_modules=True, show_saved=False,
            expanded=frozenset(),
        )


@dataclass(frozen=True)
class ViewNode:
    """One box. ``kind``: "leaf", "op", "root", "group" or "saved".

    ``members``: the graph node ids the box stands for (empty for a saved tensor).
    ``group``: "chain", "fan" or "module" for a group box, "" otherwise. ``parent``: for a
    node shown because its group is in ``expanded``, that group's id (so the UI can collapse
    it again), else "". ``requires_grad`` is False only for constant leaves.
    """

    id: str
    kind: str
    lines: tuple[str, ...]
    members: tuple[int, ...]
    group: str = ""
    parent: str = ""
    requires_grad: bool = True

    @property
    def label(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class ViewEdge:
    """An edge between boxes in forward data-flow direction; ``count`` parallel graph edges.

    ``arrow`` is False for the undirected link from a saved tensor to its op (as torchviz).
    """

    src: str
    dst: str
    count: int = 1
    arrow: bool = True


@dataclass(frozen=True)
class ViewGraph:
    """Boxes and edges ready for layout, plus ``box_of``: graph node id -> box id.

    ``digest`` identifies the view's content (boxes, labels, edges): equal digests lay out
    identically, so it is the layout cache key.
    """

    nodes: tuple[ViewNode, ...]
    edges: tuple[ViewEdge, ...]
    root: str
    box_of: Mapping[int, str] = field(compare=False, repr=False)
    digest: str = ""

    def node(self, box_id: str) -> ViewNode:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {n.id: n for n in self.nodes}
            object.__setattr__(self, "_idx", idx)
        return idx[box_id]

    @property
    def groups(self) -> list[ViewNode]:
        return [n for n in self.nodes if n.kind == GROUP]


def shape_str(shape: Iterable[int]) -> str:
    """A shape as torchviz writes it: "(64, 100)", "(2)", "()"."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def node_lines(node: GraphNode) -> tuple[str, ...]:
    """A single node's label: its name (the variable name for a leaf) and its shape."""
    return (node.name, shape_str(node.shape))


def collapse(graph: Graph, options: CollapseOptions | None = None) -> ViewGraph:
    """The view graph of ``graph`` under ``options`` (defaults: chains and fans collapsed)."""
    opts = options or CollapseOptions()
    hidden = {n.id for n in graph.nodes
              if opts.hide_no_grad and n.kind == LEAF and not n.requires_grad}
    nodes = [n for n in graph.nodes if n.id not in hidden]
    by_id = {n.id: n for n in nodes}
    edges = [(a, b) for a, b in graph.edges if a in by_id and b in by_id]
    succs: dict[int, set[int]] = {n.id: set() for n in nodes}
    preds: dict[int, list[int]] = {n.id: [] for n in nodes}
    for a, b in edges:
        succs[a].add(b)
        preds[b].append(a)

    owner: dict[int, str] = {}  # node id -> id of the group box that shows it
    parent: dict[int, str] = {}  # node id -> expanded group it belongs to
    group_kind: dict[str, str] = {}

    def assign(gid: str, kind: str, members: list[int]) -> None:
        target = parent if gid in opts.expanded else owner
        for m in members:
            target[m] = gid
        group_kind[gid] = kind

    if opts.collapse_modules:
        by_module: dict[str, list[int]] = {}
        for n in nodes:
            if n.module and n.id != graph.root:
                by_module.setdefault(n.module, []).append(n.id)
        for name, members in by_module.items():
            if len(members) >= 2:
                assign(f"{MODULE}:{name}", MODULE, members)

    if opts.chains:
        for chain in _chains(nodes, by_id, succs, preds, owner, graph.root):
            if len(chain) >= opts.min_chain:
                assign(f"{CHAIN}:{chain[0]}", CHAIN, chain)

    if opts.fans:
        def box(i: int) -> str:
            return owner.get(i, f"n{i}")

        siblings: dict[tuple, list[int]] = {}
        for n in nodes:
            if n.id in owner or n.id == graph.root or n.kind not in (OP, LEAF):
                continue
            key = (n.kind, n.name, n.shape, n.requires_grad,
                   frozenset(box(p) for p in preds[n.id]),
                   frozenset(box(s) for s in succs[n.id]))
            siblings.setdefault(key, []).append(n.id)
        for members in siblings.values():
            if len(members) >= opts.min_fan:
                assign(f"{FAN}:{min(members)}", FAN, members)

    return _build(graph, opts, nodes, by_id, edges, owner, parent, group_kind)


def _chains(nodes, by_id, succs, preds, owner, root) -> list[list[int]]:
    """Maximal runs a1 -> a2 -> ... of same-name op nodes where each a(i+1) is a(i)'s only
    consumer and a(i) is a(i+1)'s only input of that name.

    The "only consumer" rule keeps collapsing from creating a cycle: nothing leaves the run
    except from its last node, so no path can leave it and come back.
    """

    def candidate(i: int) -> bool:
        n = by_id[i]
        return n.kind == OP and i != root and i not in owner

    nxt: dict[int, int] = {}
    has_prev: set[int] = set()
    for n in nodes:
        if not candidate(n.id) or len(succs[n.id]) != 1:
            continue
        (b,) = succs[n.id]
        if not candidate(b) or by_id[b].name != n.name:
            continue
        same_name_inputs = {p for p in preds[b] if by_id[p].name == n.name}
        if same_name_inputs == {n.id}:
            nxt[n.id] = b
            has_prev.add(b)
    chains = []
    for n in nodes:
        if n.id in nxt and n.id not in has_prev:
            chain = [n.id]
            while chain[-1] in nxt:
                chain.append(nxt[chain[-1]])
            chains.append(chain)
    return chains


def _build(graph, opts, nodes, by_id, edges, owner, parent, group_kind) -> ViewGraph:
    """Boxes in the order of their first member in ``graph.nodes``; edges deduplicated."""
    members: dict[str, list[int]] = {}
    for n in nodes:
        gid = owner.get(n.id)
        if gid is not None:
            members.setdefault(gid, []).append(n.id)

    box_of: dict[int, str] = {}
    view_nodes: list[ViewNode] = []
    for n in nodes:
        gid = owner.get(n.id)
        if gid is None:
            bid = f"n{n.id}"
            view_nodes.append(ViewNode(bid, n.kind, node_lines(n), (n.id,),
                                       parent=parent.get(n.id, ""),
                                       requires_grad=n.requires_grad))
            box_of[n.id] = bid
        else:
            box_of[n.id] = gid
            if members[gid][0] == n.id:
                view_nodes.append(_group_node(gid, group_kind[gid], members[gid], by_id))

    counts: dict[tuple[str, str], int] = {}
    for a, b in edges:
        key = (box_of[a], box_of[b])
        if key[0] != key[1]:  # edges inside a group are not drawn
            counts[key] = counts.get(key, 0) + 1
    view_edges = [ViewEdge(a, b, c) for (a, b), c in counts.items()]

    if opts.show_saved:
        for n in nodes:
            if n.id in owner or n.kind == LEAF:
                continue
            for i, (label, shape) in enumerate(n.saved):
                sid = f"{SAVED}:{n.id}:{i}"
                view_nodes.append(ViewNode(sid, SAVED, (label, shape_str(shape)), ()))
                view_edges.append(ViewEdge(sid, f"n{n.id}", 1, arrow=False))

    root = box_of.get(graph.root, f"n{graph.root}")
    return ViewGraph(tuple(view_nodes), tuple(view_edges), root, box_of,
                     _digest(view_nodes, view_edges, root))


def _group_node(gid: str, kind: str, ids: list[int], by_id) -> ViewNode:
    first = by_id[ids[0]]
    if kind == MODULE:
        lines = (gid.split(":", 1)[1], f"{len(ids)} nodes")
    else:
        shapes = {by_id[i].shape for i in ids}
        lines = (f"{first.name} ×{len(ids)}",)
        if len(shapes) == 1:
            lines += (shape_str(first.shape),)
    return ViewNode(gid, GROUP, lines, tuple(ids), group=kind,
                    requires_grad=any(by_id[i].requires_grad for i in ids))


def _digest(view_nodes, view_edges, root) -> str:
    h = hashlib.blake2b(digest_size=12)
    for n in view_nodes:
        # members and parent too: a cached layout hands them to the view
        h.update(f"{n.id}|{n.kind}|{n.lines}|{n.requires_grad}|{n.members}|{n.parent};".encode())
    for e in view_edges:
        h.update(f"{e.src}>{e.dst}|{e.count}|{e.arrow};".encode())
    h.update(root.encode())
    return h.hexdigest()


__all__ = [
    "CHAIN", "FAN", "GROUP", "MODULE", "SAVED", "CollapseOptions", "ViewEdge",
    "ViewGraph", "ViewNode", "collapse", "node_lines", "shape_str",
]
