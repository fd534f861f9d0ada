"""Collapsing a recorded Graph into view boxes: chains, fans, modules, hidden constants.

The graph builders here are shared with test_layout.py and test_export.py. They mimic what
the recorder produces for the seed examples (edges in forward data-flow direction).
"""

from __future__ import annotations

import time

from gradviz.collapse import (
    CHAIN,
    FAN,
    GROUP,
    MODULE,
    SAVED,
    CollapseOptions,
    ViewGraph,
    collapse,
    shape_str,
)
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode


def make_graph(spec: list[tuple], edges: list[tuple[int, int]], root: int) -> Graph:
    """``spec``: (id, kind, name, shape) or (id, kind, name, shape, {extra GraphNode fields})."""
    nodes = []
    for s in spec:
        extra = s[4] if len(s) > 4 else {}
        nodes.append(GraphNode(id=s[0], kind=s[1], name=s[2], shape=tuple(s[3]), **extra))
    return Graph(tuple(nodes), tuple(edges), root)


def builtin_sum_graph(n: int) -> Graph:
    """``o = 0.5 * sum(x ** 2)`` over an n-element x, builtin ``sum``: UnbindBackward0 feeds
    every AddBackward0 of the chain. n=2 is seed Example 1."""
    spec = [(0, LEAF, "x", (n,)), (1, OP, "AccumulateGrad", (n,)),
            (2, OP, "PowBackward0", (n,)), (3, OP, "UnbindBackward0", (n,))]
    edges = [(0, 1), (1, 2), (2, 3)]
    adds = list(range(4, 4 + n))
    for k, a in enumerate(adds):
        spec.append((a, OP, "AddBackward0", ()))
        edges.append((3, a))
        if k:
            edges.append((a - 1, a))
    root = 4 + n
    spec.append((root, ROOT, "MulBackward0", ()))
    edges.append((adds[-1], root))
    return make_graph(spec, edges, root)


def example2_graph() -> Graph:
    """Seed Example 2's step: ``(x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()``; x and y
    require no grad."""
    no_grad = {"requires_grad": False}
    spec = [
        (0, LEAF, "w1", (1000, 100)), (1, OP, "AccumulateGrad", (1000, 100)),
        (2, LEAF, "x", (64, 1000), no_grad), (3, OP, "MmBackward0", (64, 100)),
        (4, OP, "ClampBackward1", (64, 100)), (5, LEAF, "w2", (100, 10)),
        (6, OP, "AccumulateGrad", (100, 10)), (7, OP, "MmBackward0", (64, 10)),
        (8, LEAF, "y", (64, 10), no_grad), (9, OP, "SubBackward0", (64, 10)),
        (10, OP, "PowBackward0", (64, 10)), (11, ROOT, "SumBackward0", ()),
    ]
    edges = [(0, 1), (2, 3), (1, 3), (3, 4), (4, 7), (5, 6), (6, 7), (7, 9), (8, 9),
             (9, 10), (10, 11)]
    return make_graph(spec, edges, 11)


def op_chain_graph(n: int, names=("MulBackward0", "AddBackward0", "TanhBackward0")) -> Graph:
    """A leaf then n-1 ops in a line, names cycling through ``names`` (nothing collapses
    unless ``names`` has one name)."""
    spec = [(0, LEAF, "x", (16,))]
    spec += [(i, ROOT if i == n - 1 else OP, names[i % len(names)], (16,)) for i in range(1, n)]
    return make_graph(spec, [(i - 1, i) for i in range(1, n)], n - 1)


def labels(view: ViewGraph) -> list[str]:
    return [n.lines[0] for n in view.nodes]


# --- tests --------------------------------------------------------------------------------

def test_example_1_is_shown_as_recorded():
    view = collapse(builtin_sum_graph(2))
    assert labels(view) == ["x", "AccumulateGrad", "PowBackward0", "UnbindBackward0",
                            "AddBackward0", "AddBackward0", "MulBackward0"]
    assert [n.kind for n in view.nodes] == [LEAF, OP, OP, OP, OP, OP, ROOT]
    assert view.node("n0").lines == ("x", "(2)")
    assert view.root == "n6"
    assert {(e.src, e.dst) for e in view.edges} == {
        ("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "n4"), ("n3", "n5"), ("n4", "n5"),
        ("n5", "n6")}
    assert all(e.count == 1 for e in view.edges)


def test_builtin_sum_chain_collapses_into_one_box_with_one_counted_edge():
    view = collapse(builtin_sum_graph(2000))
    assert labels(view) == ["x", "AccumulateGrad", "PowBackward0", "UnbindBackward0",
                            "AddBackward0 ×2000", "MulBackward0"]
    group = view.node("chain:4")
    assert group.kind == GROUP and group.group == CHAIN
    assert group.members == tuple(range(4, 2004))
    edges = {(e.src, e.dst): e.count for e in view.edges}
    assert edges[("n3", "chain:4")] == 2000  # the fan of Unbind edges, bundled
    assert edges[("chain:4", "n2004")] == 1
    assert view.box_of[1000] == "chain:4" and view.box_of[2004] == "n2004"


def test_short_chains_stay_expanded_and_the_threshold_is_an_option():
    assert len(collapse(builtin_sum_graph(7)).nodes) == 12
    assert len(collapse(builtin_sum_graph(8)).nodes) == 6
    assert len(collapse(builtin_sum_graph(7), CollapseOptions(min_chain=3)).nodes) == 6
    assert len(collapse(builtin_sum_graph(100), CollapseOptions(chains=False)).nodes) == 105


def test_expanded_group_shows_its_members_with_their_parent():
    graph = builtin_sum_graph(20)
    collapsed = collapse(graph)
    (group,) = collapsed.groups
    view = collapse(graph, CollapseOptions().expand(group.id))
    assert len(view.nodes) == 25
    assert all(view.node(f"n{i}").parent == group.id for i in range(4, 24))
    assert view.node("n3").parent == ""
    assert view.digest != collapsed.digest


def test_group_ids_and_digest_are_stable_for_the_same_structure():
    a, b = collapse(builtin_sum_graph(50)), collapse(builtin_sum_graph(50))
    assert [n.id for n in a.nodes] == [n.id for n in b.nodes]
    assert a.digest == b.digest
    assert collapse(builtin_sum_graph(51)).digest != a.digest


def test_a_chain_whose_links_feed_elsewhere_is_not_collapsed():
    # residual-style: every Add also feeds the root; collapsing would hide a real structure
    g = builtin_sum_graph(10)
    extra = tuple((a, g.root) for a in range(4, 13))
    view = collapse(Graph(g.nodes, g.edges + extra, g.root))
    assert not view.groups


def test_fan_of_identical_siblings_collapses():
    # torch.stack([x[i] for i in range(20)]): x feeds 20 SelectBackward0 that all feed Stack
    spec = [(0, LEAF, "x", (20,)), (1, OP, "AccumulateGrad", (20,))]
    spec += [(i, OP, "SelectBackward0", ()) for i in range(2, 22)]
    spec += [(22, ROOT, "StackBackward0", (20,))]
    edges = [(0, 1)] + [(1, i) for i in range(2, 22)] + [(i, 22) for i in range(2, 22)]
    view = collapse(make_graph(spec, edges, 22))
    assert labels(view) == ["x", "AccumulateGrad", "SelectBackward0 ×20", "StackBackward0"]
    assert view.node("fan:2").group == FAN
    assert {(e.src, e.dst): e.count for e in view.edges} == {
        ("n0", "n1"): 1, ("n1", "fan:2"): 20, ("fan:2", "n22"): 20}
    assert len(collapse(make_graph(spec, edges, 22), CollapseOptions(fans=False)).nodes) == 23


def test_modules_collapse_on_request_but_never_the_root():
    fc1, fc2 = {"module": "fc1"}, {"module": "fc2"}
    spec = [(0, LEAF, "fc1.weight", (5, 3), fc1), (1, OP, "AccumulateGrad", (5, 3), fc1),
            (2, OP, "TBackward0", (3, 5), fc1), (3, OP, "AddmmBackward0", (4, 5), fc1),
            (4, OP, "ReluBackward0", (4, 5)), (5, OP, "AddmmBackward0", (4, 1), fc2),
            (6, ROOT, "MseLossBackward0", (), fc2)]
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    g = make_graph(spec, edges, 6)
    assert len(collapse(g).nodes) == 7
    view = collapse(g, CollapseOptions(collapse_modules=True))
    assert labels(view) == ["fc1", "ReluBackward0", "AddmmBackward0", "MseLossBackward0"]
    assert view.node("module:fc1").lines == ("fc1", "4 nodes")
    assert view.node("module:fc1").group == MODULE
    assert view.root == "n6"  # fc2 holds one node besides the root: not a group
    expanded = collapse(g, CollapseOptions(collapse_modules=True).expand("module:fc1"))
    assert len(expanded.nodes) == 7 and expanded.node("n2").parent == "module:fc1"


def test_constants_are_shown_by_default_and_hidden_on_request():
    g = example2_graph()
    view = collapse(g)
    assert {"x", "y"} <= set(labels(view))
    assert not view.node("n2").requires_grad
    hidden = collapse(g, CollapseOptions(hide_no_grad=True))
    assert labels(hidden) == ["w1", "AccumulateGrad", "MmBackward0", "ClampBackward1", "w2",
                              "AccumulateGrad", "MmBackward0", "SubBackward0",
                              "PowBackward0", "SumBackward0"]
    assert 2 not in hidden.box_of
    assert all("n2" not in (e.src, e.dst) for e in hidden.edges)


def test_saved_tensors_are_orange_side_boxes_on_request():
    g = example2_graph()
    nodes = tuple(n if n.id != 3 else GraphNode(
        3, OP, "MmBackward0", (64, 100), saved=(("self", (64, 1000)), ("mat2", (1000, 100))))
        for n in g.nodes)
    g = Graph(nodes, g.edges, g.root)
    assert not [n for n in collapse(g).nodes if n.kind == SAVED]
    view = collapse(g, CollapseOptions(show_saved=True))
    saved = [n for n in view.nodes if n.kind == SAVED]
    assert [n.lines for n in saved] == [("self", "(64, 1000)"), ("mat2", "(1000, 100)")]
    assert [(e.dst, e.arrow) for e in view.edges if e.src.startswith("saved:")] == [
        ("n3", False), ("n3", False)]


def test_fully_collapsed_options_are_the_most_compact():
    full = CollapseOptions(min_chain=20, expanded=frozenset({"chain:4"})).fully_collapsed()
    assert full.collapse_modules and full.min_chain == 3 and not full.expanded
    assert len(collapse(builtin_sum_graph(5), full).nodes) == 6


def test_shape_str_reads_like_torchviz():
    assert shape_str((64, 100)) == "(64, 100)"
    assert shape_str((2,)) == "(2)"
    assert shape_str(()) == "()"


def test_collapse_is_linear_enough_for_big_graphs():
    g = builtin_sum_graph(20_000)
    t0 = time.perf_counter()
    view = collapse(g)
    assert time.perf_counter() - t0 < 2.0  # quadratic would be 4e8 steps
    assert len(view.nodes) == 6
