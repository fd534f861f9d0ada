"""Layout with Graphviz: topology and rank order (never exact coordinates), edge splines that
touch their boxes, the per-process cache, the timeout fallbacks, a missing ``dot``."""

from __future__ import annotations

import random
import time

import pytest

from gradviz import layout as layout_mod
from gradviz.collapse import CollapseOptions, ViewEdge, ViewGraph, ViewNode, collapse
from gradviz.layout import (
    GraphvizError,
    GraphvizMissing,
    GraphvizTimeout,
    Layout,
    LayoutBox,
    clear_cache,
    layered_layout,
    layout_graph,
    parse_spline,
    run_graphviz,
)
from gradviz.trace import LEAF, OP, ROOT
from tests.gradviz.test_collapse import (
    builtin_sum_graph,
    example2_graph,
    make_graph,
    op_chain_graph,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def dot_calls(monkeypatch):
    """Counts ``dot`` runs, by the number of boxes in each DOT source it was given."""
    calls: list[int] = []
    real = layout_mod.run_graphviz

    def counting(source, args, timeout):
        calls.append(source.count("[label="))
        return real(source, args, timeout)

    monkeypatch.setattr(layout_mod, "run_graphviz", counting)
    return calls


def on_border(p, box: LayoutBox, tol: float = 2.0) -> bool:
    left, top, w, h = box.rect
    inside_outer = left - tol <= p[0] <= left + w + tol and top - tol <= p[1] <= top + h + tol
    inside_inner = left + tol < p[0] < left + w - tol and top + tol < p[1] < top + h - tol
    return inside_outer and not inside_inner


def assert_edges_flow(lay: Layout, downward: bool) -> None:
    for e in lay.edges:
        a, b = lay.box(e.src), lay.box(e.dst)
        assert (a.y < b.y) == downward, (e.src, e.dst)


def assert_edges_touch_boxes(lay: Layout) -> None:
    for e in lay.edges:
        assert len(e.points) % 3 == 1 and len(e.points) >= 4
        assert on_border(e.points[0], lay.box(e.src)), (e.src, e.points[0])
        assert on_border(e.end, lay.box(e.dst)), (e.dst, e.end)


def test_example_1_top_to_bottom_puts_the_root_below_its_inputs():
    lay = layout_graph(builtin_sum_graph(2))
    assert (lay.engine, lay.degraded, lay.rankdir) == ("dot", False, "TB")
    assert {b.id for b in lay.boxes} == {f"n{i}" for i in range(7)}
    assert {(e.src, e.dst) for e in lay.edges} == {
        ("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "n4"), ("n3", "n5"), ("n4", "n5"),
        ("n5", "n6")}
    assert_edges_flow(lay, downward=True)
    assert lay.box("n6").y == max(b.y for b in lay.boxes)  # the loss is at the bottom
    assert_edges_touch_boxes(lay)
    assert all(e.arrow_tip is not None for e in lay.edges)
    for b in lay.boxes:  # inside the scene, Qt coordinates
        left, top, w, h = b.rect
        assert -1 <= left and left + w <= lay.width + 1
        assert -1 <= top and top + h <= lay.height + 1


def test_bottom_to_top_puts_the_root_on_top():
    lay = layout_graph(example2_graph(), rankdir="BT")
    assert_edges_flow(lay, downward=False)
    assert lay.box(lay.root).y == min(b.y for b in lay.boxes)
    assert_edges_touch_boxes(lay)


def test_example_2_boxes_carry_labels_kinds_and_torchviz_colours():
    lay = layout_graph(example2_graph())
    w1, x, root = lay.box("n0"), lay.box("n2"), lay.box("n11")
    assert w1.lines == ("w1", "(1000, 100)") and w1.kind == LEAF
    assert w1.style.fill == "#add8e6"  # torchviz's lightblue
    assert x.style.dashed and x.lines == ("x", "(64, 1000)")  # a constant: no grad
    assert root.kind == ROOT and root.style.fill == "#caff70"  # darkolivegreen1
    assert lay.box("n3").style.fill == "#d3d3d3"  # lightgrey op
    assert lay.box_of_node(3) is lay.box("n3")
    assert w1.width > 0 and w1.height > 0
    hidden = layout_graph(example2_graph(), CollapseOptions(hide_no_grad=True))
    assert len(hidden.boxes) == 10 and hidden.box_of_node(2) is None


def test_builtin_sum_over_2000_elements_lays_out_collapsed_in_seconds():
    t0 = time.perf_counter()
    lay = layout_graph(builtin_sum_graph(2000))
    assert time.perf_counter() - t0 < 20  # generous: about 0.03 s here
    assert not lay.degraded and len(lay.boxes) == 6
    group = lay.box("chain:4")
    assert group.kind == "group" and group.lines[0] == "AddBackward0 ×2000"
    assert group.style.rounded and len(group.members) == 2000
    (fan,) = [e for e in lay.edges if e.src == "n3"]
    assert fan.count == 2000 and fan.label == "×2000" and fan.label_pos is not None
    assert_edges_flow(lay, downward=True)
    assert_edges_touch_boxes(lay)


def test_a_1000_node_chain_lays_out_in_order():
    lay = layout_graph(op_chain_graph(1000))
    assert not lay.degraded and len(lay.boxes) == 1000
    ys = [lay.box(f"n{i}").y for i in range(1000)]
    assert ys == sorted(ys) and len(set(ys)) == 1000
    assert_edges_touch_boxes(lay)


def test_the_same_structure_is_laid_out_once(dot_calls):
    a = layout_graph(builtin_sum_graph(50))
    b = layout_graph(builtin_sum_graph(50))  # a new but identical Graph: a later step
    assert b is a and len(dot_calls) == 1
    layout_graph(builtin_sum_graph(50), rankdir="BT")
    layout_graph(builtin_sum_graph(50), CollapseOptions().expand("chain:4"))
    assert len(dot_calls) == 3
    layout_graph(builtin_sum_graph(50), CollapseOptions().expand("chain:4"))
    assert len(dot_calls) == 3


def test_too_slow_dot_falls_back_to_the_fully_collapsed_view(monkeypatch, dot_calls):
    real = layout_mod.run_graphviz

    def slow_on_big_graphs(source, args, timeout):
        if source.count("->") > 20:
            raise GraphvizTimeout(timeout)
        return real(source, args, timeout)

    monkeypatch.setattr(layout_mod, "run_graphviz", slow_on_big_graphs)
    lay = layout_graph(builtin_sum_graph(30), CollapseOptions(chains=False))
    assert lay.degraded and lay.engine == "dot"
    assert "fully collapsed" in lay.message
    assert [b.lines[0] for b in lay.boxes if b.kind == "group"] == ["AddBackward0 ×30"]
    assert_edges_flow(lay, downward=True)


def test_if_even_the_collapsed_view_is_too_slow_python_lays_it_out(dot_calls):
    t0 = time.perf_counter()
    lay = layout_graph(builtin_sum_graph(30), CollapseOptions(chains=False), timeout=1e-4)
    assert time.perf_counter() - t0 < 5
    assert lay.degraded and lay.engine == "python" and "layered layout" in lay.message
    assert len(dot_calls) == 2  # the view asked for, then the fully collapsed one
    assert len(lay.boxes) == 6
    assert_edges_flow(lay, downward=True)
    assert_edges_touch_boxes(lay)
    # a degraded layout is cached for callers as impatient, not for more patient ones
    assert layout_graph(builtin_sum_graph(30), CollapseOptions(chains=False),
                        timeout=1e-4) is lay
    better = layout_graph(builtin_sum_graph(30), CollapseOptions(chains=False), timeout=30)
    assert not better.degraded and len(better.boxes) == 35


def test_a_view_that_does_not_shrink_goes_straight_to_python(dot_calls):
    rng = random.Random(0)
    n = 200
    names = ["MulBackward0", "AddBackward0", "TanhBackward0", "SubBackward0"]
    spec = [(0, LEAF, "x", (4,))] + [(i, ROOT if i == n - 1 else OP, rng.choice(names), (4,))
                                     for i in range(1, n)]
    edges = [(i - 1, i) for i in range(1, n)] + [(rng.randrange(0, i - 1), i)
                                                 for i in range(2, n) if rng.random() < 0.5]
    lay = layout_graph(make_graph(spec, edges, n - 1), timeout=1e-4)
    assert lay.engine == "python" and lay.degraded and len(dot_calls) == 1
    assert_edges_flow(lay, downward=True)


def test_layered_layout_survives_cycles():
    # module groups can make a cycle: fc1 -> relu -> fc1 (a module called twice)
    nodes = (ViewNode("a", LEAF, ("x", "(2)"), (0,)), ViewNode("m", "group", ("fc1",), (1, 3)),
             ViewNode("r", OP, ("ReluBackward0",), (2,)), ViewNode("z", ROOT, ("Sum",), (4,)))
    edges = (ViewEdge("a", "m"), ViewEdge("m", "r"), ViewEdge("r", "m"), ViewEdge("m", "z"))
    view = ViewGraph(nodes, edges, "z", {}, "cyclic")
    for rankdir, down in (("TB", True), ("BT", False)):
        lay = layered_layout(view, rankdir)
        assert {b.id for b in lay.boxes} == {"a", "m", "r", "z"}
        assert (lay.box("a").y < lay.box("z").y) == down


def test_missing_dot_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(layout_mod, "DOT", "gradviz-no-such-dot")
    with pytest.raises(GraphvizMissing) as err:
        layout_graph(builtin_sum_graph(2))
    msg = str(err.value)
    assert "sudo apt-get install graphviz" in msg and "brew install graphviz" in msg
    assert "conda install graphviz" in msg


def test_dot_not_on_path_is_missing_too(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        layout_graph(example2_graph())


def test_parse_spline_reads_the_arrow_end_point():
    points, tip = parse_spline("e,27,109.18 27,159.8 27,148.16 27,132.55 27,119.24")
    assert tip == (27.0, 109.18)
    assert points == ((27.0, 159.8), (27.0, 148.16), (27.0, 132.55), (27.0, 119.24))
    points, tip = parse_spline("21.1,72.8 19.9,61.6 19.9,47.1 21.1,36.0 1,2 3,4 5,6")
    assert tip is None and len(points) == 7


def test_a_failing_dot_reports_its_error():
    with pytest.raises(GraphvizError, match="syntax error"):
        run_graphviz("this is not DOT", ["-Tjson0"], 10)


def test_unknown_rankdir_is_refused():
    with pytest.raises(ValueError, match="rankdir"):
        layout_graph(builtin_sum_graph(2), rankdir="LR")


def test_saved_tensors_are_orange_and_undirected():
    g = example2_graph()
    nodes = tuple(n if n.id != 10 else type(n)(10, OP, "PowBackward0", (64, 10),
                                                 saved=(("self", (64, 10)),))
                  for n in g.nodes)
    view_graph = type(g)(nodes, g.edges, g.root)
    lay = layout_graph(view_graph, CollapseOptions(show_saved=True))
    saved = lay.box("saved:10:0")
    assert saved.style.fill == "#ffa500"
    (edge,) = [e for e in lay.edges if e.src == saved.id]
    assert not edge.arrow and edge.arrow_tip is None
    assert collapse(view_graph).digest != lay.view.digest
