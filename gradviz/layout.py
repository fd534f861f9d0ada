"""Lay out a recorded graph with Graphviz ``dot``, into plain data a view draws directly.

``layout_graph(graph, options)`` collapses the graph (``gradviz.collapse``), writes DOT, runs
``dot -Tjson0`` in a subprocess with a timeout (``graphviz.pipe()`` has none, and ``dot``
can take minutes on graphs with long-range edges), and returns a ``Layout``: boxes with
centres and sizes in points, edges as cubic Bézier control points, all in Qt's coordinates
(origin top left, y growing downward; Graphviz's y grows upward and is flipped here).

Direction: ``rankdir="TB"`` (the default) draws edges downward in data-flow direction:
leaves at the top, the root (the loss) at the bottom, the way torchviz draws autograd graphs
and the way the script reads, top to bottom; the backward pass then climbs up the picture.
``rankdir="BT"`` puts the root at the top, so the backward pass flows downward.

Nothing waits minutes: when ``dot`` exceeds ``timeout`` the fully collapsed view is laid out
instead (``degraded=True``, with a ``message`` for the user); if that is too slow as well, a
simple layered layout computed here in Python. Layouts are cached per process in an LRU keyed
by the view graph's digest (a function of the graph's structure, the collapse options and the
expanded set) and the direction, so the 500 identical steps of a training loop lay out once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from gradviz.collapse import GROUP, SAVED, CollapseOptions, ViewGraph, ViewNode, collapse
from gradviz.trace import LEAF, OP, ROOT, Graph

DOT = "dot"  # the executable; tests point it elsewhere to simulate a missing Graphviz
DEFAULT_TIMEOUT = 5.0  # seconds of dot per attempt: interactive, so short
CACHE_SIZE = 64
RANKDIRS = ("TB", "BT")

INSTALL_HINT = (
    "Graphviz's 'dot' program was not found; gradviz needs it to lay out graphs. "
    "Install it with 'sudo apt-get install graphviz' (Debian/Ubuntu), "
    "'brew install graphviz' (macOS) or 'conda install graphviz', then try again."
)


class GraphvizMissing(RuntimeError):
    """``dot`` is not installed (or not on PATH). The message says how to install it."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


class GraphvizError(RuntimeError):
    """``dot`` ran but failed; the message carries its stderr."""


class GraphvizTimeout(GraphvizError):
    """``dot`` did not finish within the timeout (it has been killed)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Graphviz took longer than {seconds:g} s and was stopped")
        self.seconds = seconds


# --- styles -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BoxStyle:
    """How a box is painted: colours as '#rrggbb', plus outline variants."""

    fill: str
    border: str = "#000000"
    text: str = "#000000"
    rounded: bool = False
    dashed: bool = False
    pen: float = 1.0


# torchviz's colours (lightblue, lightgrey, darkolivegreen1, orange) so the picture looks
# like the one PyTorch users know; groups get a lavender rounded box of their own.
STYLES: dict[str, BoxStyle] = {
    LEAF: BoxStyle("#add8e6"),
    OP: BoxStyle("#d3d3d3"),
    ROOT: BoxStyle("#caff70"),
    SAVED: BoxStyle("#ffa500"),
    GROUP: BoxStyle("#e6dcf5", border="#5b3f8c", rounded=True, pen=1.5),
}
CONSTANT = BoxStyle("#ffffff", border="#808080", text="#404040", dashed=True)  # no grad
FONT = "monospace"
FONT_SIZE = 10.0
EDGE_FONT_SIZE = 9.0


def style_for(node: ViewNode) -> BoxStyle:
    """The style of a box: by kind; a leaf that requires no grad is a dashed constant."""
    if node.kind == LEAF and not node.requires_grad:
        return CONSTANT
    return STYLES.get(node.kind, STYLES[OP])


def edge_label(count: int) -> str:
    return f"×{count}" if count > 1 else ""


# --- the result ---------------------------------------------------------------------------

Point = tuple[float, float]


@dataclass(frozen=True)
class LayoutBox:
    """A box to draw: centre ``x``, ``y`` and size in points, Qt coordinates."""

    id: str
    kind: str
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]
    style: BoxStyle
    members: tuple[int, ...] = ()
    group: str = ""
    parent: str = ""

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """(left, top, width, height), as QRectF takes it."""
        return (self.x - self.width / 2, self.y - self.height / 2, self.width, self.height)


@dataclass(frozen=True)
class LayoutEdge:
    """An edge: ``points`` is p0, then (c1, c2, p) per cubic Bézier segment (3n+1 points).

    With ``arrow``, the spline stops short of the head box and ``arrow_tip`` is where the
    arrowhead's point touches it (Graphviz's ``e,x,y``): draw the head from ``points[-1]``
    to ``arrow_tip``. ``label_pos`` is the centre of ``label`` ("×1999" for a bundled edge).
    """

    src: str
    dst: str
    points: tuple[Point, ...]
    count: int = 1
    arrow: bool = True
    arrow_tip: Point | None = None
    label: str = ""
    label_pos: Point | None = None

    @property
    def end(self) -> Point:
        return self.arrow_tip if self.arrow_tip is not None else self.points[-1]


@dataclass(frozen=True)
class Layout:
    """Everything a view needs to draw a graph without computing anything.

    ``engine``: "dot", or "python" for the layered fallback. ``degraded``: this is not the
    view that was asked for (dot was too slow); ``message`` says so in a sentence for the
    user. ``view`` is the view graph laid out (``view.box_of`` maps node ids to box ids).
    ``seconds``: time spent computing it (a cache hit returns the same object).
    """

    boxes: tuple[LayoutBox, ...]
    edges: tuple[LayoutEdge, ...]
    width: float
    height: float
    rankdir: str
    root: str
    view: ViewGraph = field(compare=False, repr=False)
    engine: str = "dot"
    degraded: bool = False
    message: str = ""
    seconds: float = 0.0

    def box(self, box_id: str) -> LayoutBox:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {b.id: b for b in self.boxes}
            object.__setattr__(self, "_idx", idx)
        return idx[box_id]

    def box_of_node(self, node_id: int) -> LayoutBox | None:
        """The box that shows graph node ``node_id`` (None if it is hidden)."""
        bid = self.view.box_of.get(node_id)
        return None if bid is None else self.box(bid)


# --- DOT ----------------------------------------------------------------------------------

def quote(text: str) -> str:
    """A DOT double-quoted string (labels become centred lines)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_attrs(node: ViewNode) -> dict[str, str]:
    """DOT attributes of a box: label and style, shared by layout and export."""
    s = style_for(node)
    styles = ["filled"] + (["rounded"] if s.rounded else []) + (["dashed"] if s.dashed else [])
    attrs = {"label": quote(node.label), "fillcolor": quote(s.fill), "color": quote(s.border),
             "fontcolor": quote(s.text), "style": quote(",".join(styles))}
    if s.pen != 1.0:
        attrs["penwidth"] = f"{s.pen:g}"
    return attrs


def to_dot(view: ViewGraph, rankdir: str = "TB") -> str:
    """The DOT source of a view graph: what ``dot`` lays out and what ``.dot`` export writes."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {RANKDIRS}, not {rankdir!r}")
    out = [
        "digraph gradviz {",
        f"  graph [rankdir={rankdir}, nodesep=0.25, ranksep=0.35, fontname={quote(FONT)}];",
        f"  node [shape=box, fontname={quote(FONT)}, fontsize={FONT_SIZE:g}, height=0.2, "
        'margin="0.08,0.04"];',
        f"  edge [fontname={quote(FONT)}, fontsize={EDGE_FONT_SIZE:g}, arrowsize=0.7];",
    ]
    for n in view.nodes:
        attrs = ", ".join(f"{k}={v}" for k, v in node_attrs(n).items())
        out.append(f"  {quote(n.id)} [{attrs}];")
    for e in view.edges:
        attrs = []
        if e.count > 1:
            attrs += [f"label={quote(edge_label(e.count))}", "penwidth=1.5"]
        if not e.arrow:
            attrs += ["dir=none", "style=dashed"]
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f"  {quote(e.src)} -> {quote(e.dst)}{tail};")
    out.append("}")
    return "\n".join(out) + "\n"


def run_graphviz(source: str, args: list[str], timeout: float) -> bytes:
    """Run ``dot <args>`` on ``source`` and return its stdout, killing it after ``timeout``."""
    exe = shutil.which(DOT)
    if exe is None:
        raise GraphvizMissing()
    try:
        proc = subprocess.run([exe, *args], input=source.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizTimeout(timeout) from None  # subprocess.run has killed dot already
    except FileNotFoundError:
        raise GraphvizMissing() from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GraphvizError(f"Graphviz failed (exit {proc.returncode}): {err}")
    return proc.stdout


def parse_spline(pos: str) -> tuple[tuple[Point, ...], Point | None]:
    """Graphviz's edge ``pos``: optional "s,x,y" / "e,x,y" arrow points, then 3n+1 B-spline
    control points. Returns (control points, end arrow tip), still in Graphviz coordinates.
    Only the first spline is kept when there are several (";"-separated; never with the
    attributes used here)."""
    tip = None
    points: list[Point] = []
    for tok in pos.split(";")[0].split():
        if tok.startswith("e,"):
            x, y = tok[2:].split(",")
            tip = (float(x), float(y))
        elif tok.startswith("s,"):
            continue  # a start arrowhead: never requested (no dir=back/both)
        else:
            x, y = tok.split(",")[:2]
            points.append((float(x), float(y)))
    if len(points) < 4 or len(points) % 3 != 1:
        raise GraphvizError(f"unexpected edge spline from Graphviz: {pos!r}")
    return tuple(points), tip


def _from_json(view: ViewGraph, data: dict, rankdir: str) -> Layout:
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))

    def flip(p: Point) -> Point:
        return (round(p[0] - x0, 3), round(y1 - p[1], 3))

    names: dict[int, str] = {}
    boxes = []
    for obj in data.get("objects", []):
        names[obj["_gvid"]] = obj["name"]
        if "pos" not in obj or "nodes" in obj:  # a subgraph, not a node
            continue
        node = view.node(obj["name"])
        x, y = flip(tuple(float(v) for v in obj["pos"].split(",")))
        w, h = (round(float(obj[k]) * 72.0, 3) for k in ("width", "height"))  # inches
        boxes.append(LayoutBox(
            node.id, node.kind, x, y, w, h, node.lines, style_for(node), node.members,
            node.group, node.parent))
    view_edges = {(e.src, e.dst): e for e in view.edges}  # deduplicated by collapse
    edges = []
    for e in data.get("edges", []):
        ve = view_edges[names[e["tail"]], names[e["head"]]]
        points, tip = parse_spline(e["pos"])
        lp = e.get("lp")
        edges.append(LayoutEdge(
            ve.src, ve.dst, tuple(flip(p) for p in points), ve.count, ve.arrow,
            arrow_tip=flip(tip) if tip else None, label=edge_label(ve.count),
            label_pos=flip(tuple(float(v) for v in lp.split(","))) if lp else None))
    return Layout(tuple(boxes), tuple(edges), x1 - x0, y1 - y0, rankdir, view.root, view)


def dot_layout(view: ViewGraph, rankdir: str = "TB", timeout: float = DEFAULT_TIMEOUT) -> Layout:
    """Lay out ``view`` with ``dot`` (no cache, no fallback: raises GraphvizTimeout)."""
    t0 = time.perf_counter()
    out = run_graphviz(to_dot(view, rankdir), ["-Tjson0"], timeout)
    layout = _from_json(view, json.loads(out), rankdir)
    return replace(layout, seconds=time.perf_counter() - t0)


# --- the fallback: layered layout in Python -----------------------------------------------

CHAR_W, LINE_H, PAD_W, PAD_H, MIN_W = 6.1, 11.0, 11.5, 6.0, 54.0  # as dot sizes monospace 10
NODE_SEP, RANK_SEP, ARROW_LEN = 18.0, 25.0, 7.0


def layered_layout(view: ViewGraph, rankdir: str = "TB") -> Layout:
    """A quick layered layout: longest-path ranks pulled down next to their consumers, one
    barycentre ordering pass, straight edges. Plainer than dot's but O(nodes + edges): the
    last resort when dot is too slow."""
    t0 = time.perf_counter()
    ids = [n.id for n in view.nodes]
    forward = _acyclic_edges(ids, [(e.src, e.dst) for e in view.edges])
    rank = _longest_path_ranks(ids, forward)
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in forward:
        preds[b].append(a)
    layers: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for i in ids:
        layers[rank[i]].append(i)
    order: dict[str, int] = {}
    for layer in layers:  # order each layer by the mean position of its inputs
        layer.sort(key=lambda i: (sum(order[p] for p in preds[i]) / len(preds[i])
                                  if preds[i] else 0.0))
        order.update((i, k) for k, i in enumerate(layer))

    size = {n.id: (max(MIN_W, CHAR_W * max(len(s) for s in n.lines) + PAD_W),
                   LINE_H * len(n.lines) + PAD_H) for n in view.nodes}
    widths = [sum(size[i][0] for i in layer) + NODE_SEP * (len(layer) - 1) for layer in layers]
    total_w = max(widths, default=0.0)
    heights = [max((size[i][1] for i in layer), default=0.0) for layer in layers]
    if rankdir == "BT":
        layers, widths, heights = layers[::-1], widths[::-1], heights[::-1]
    centre: dict[str, Point] = {}
    y = 0.0
    for layer, w, h in zip(layers, widths, heights):
        x = (total_w - w) / 2
        for i in layer:
            centre[i] = (x + size[i][0] / 2, y + h / 2)
            x += size[i][0] + NODE_SEP
        y += h + RANK_SEP
    boxes = tuple(
        LayoutBox(n.id, n.kind, *centre[n.id], *size[n.id], n.lines, style_for(n), n.members,
                  n.group, n.parent) for n in view.nodes)
    edges = tuple(_straight_edge(e, centre, size) for e in view.edges)
    return Layout(boxes, edges, total_w, max(y - RANK_SEP, 0.0), rankdir, view.root, view,
                  engine="python", seconds=time.perf_counter() - t0)


def _acyclic_edges(ids: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``edges`` without the back edges of a depth-first search (module groups can make
    cycles), iteratively so a 5,000-node chain does not hit the recursion limit."""
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[tuple[str, str]] = set()
    for start in ids:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                s = state.get(nxt)
                if s == 1:
                    back.add((node, nxt))
                elif s is None:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return [e for e in edges if e not in back]


def _longest_path_ranks(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    succ: dict[str, list[str]] = {i: [] for i in ids}
    indeg = dict.fromkeys(ids, 0)
    for a, b in edges:
        succ[a].append(b)
        indeg[b] += 1
    rank = dict.fromkeys(ids, 0)
    ready = [i for i in ids if indeg[i] == 0]
    topo = []
    while ready:
        a = ready.pop()
        topo.append(a)
        for b in succ[a]:
            rank[b] = max(rank[b], rank[a] + 1)
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    # then pull every node down to just above its nearest consumer, so a leaf sits next to
    # the op that uses it instead of on the top rank with a long edge down
    for a in reversed(topo):
        if succ[a]:
            rank[a] = min(rank[b] for b in succ[a]) - 1
    return rank


def _border_point(c: Point, size: tuple[float, float], towards: Point) -> Point:
    """Where the segment from box centre ``c`` towards ``towards`` leaves the box."""
    dx, dy = towards[0] - c[0], towards[1] - c[1]
    if dx == 0 and dy == 0:
        return c
    t = min(size[0] / 2 / abs(dx) if dx else float("inf"),
            size[1] / 2 / abs(dy) if dy else float("inf"))
    return (c[0] + dx * t, c[1] + dy * t)


def _straight_edge(e, centre: dict[str, Point], size) -> LayoutEdge:
    a = _border_point(centre[e.src], size[e.src], centre[e.dst])
    b = _border_point(centre[e.dst], size[e.dst], centre[e.src])
    tip = b if e.arrow else None
    if e.arrow:  # leave room for the arrowhead, as dot does
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
        k = min(ARROW_LEN, length / 2) / length
        b = (b[0] - dx * k, b[1] - dy * k)
    pts = (a, _lerp(a, b, 1 / 3), _lerp(a, b, 2 / 3), b)
    label = edge_label(e.count)
    return LayoutEdge(e.src, e.dst, pts, e.count, e.arrow, tip, label,
                      _lerp(a, b, 0.5) if label else None)


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


# --- cache and the entry point ------------------------------------------------------------

class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            value = self._d.get(key)
            if value is not None:
                self._d.move_to_end(key)
            return value

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


_layouts = _LRU(CACHE_SIZE)  # (view digest, rankdir) -> (Layout, timeout it was made under)
_views = _LRU(CACHE_SIZE)  # (graph structure, options) -> ViewGraph: hits skip collapsing


def clear_cache() -> None:
    """Forget every cached layout."""
    _layouts.clear()
    _views.clear()


def _cached(key: tuple, timeout: float) -> Layout | None:
    """A cached layout, unless it is degraded and was made under a shorter timeout than the
    caller now allows: that caller may be willing to wait for the real one."""
    hit = _layouts.get(key)
    if hit is None or (hit[0].degraded and hit[1] < timeout):
        return None
    return hit[0]


def _view(graph: Graph, opts: CollapseOptions) -> ViewGraph:
    # structure_hash leaves out requires_grad and saved tensors, which the view shows
    key = (graph.structure_hash, opts,
           tuple(n.id for n in graph.nodes if not n.requires_grad),
           tuple(n.saved for n in graph.nodes) if opts.show_saved else ())
    view = _views.get(key)
    if view is None:
        view = collapse(graph, opts)
        _views.put(key, view)
    return view


def layout_graph(graph: Graph, options: CollapseOptions | None = None, *,
                 rankdir: str = "TB", timeout: float = DEFAULT_TIMEOUT) -> Layout:
    """Lay out ``graph`` collapsed per ``options`` (default: chains and fans collapsed).

    Cached per process. Never takes much more than twice ``timeout``: if ``dot`` is too slow
    on the requested view, the fully collapsed view is laid out instead (when collapsing
    halves it at least), and if that is too slow too, a layered layout in Python; both come
    back with ``degraded=True`` and a ``message``. Raises GraphvizMissing (with install
    instructions) when there is no ``dot``. Blocks while ``dot`` runs, so a GUI calls it from
    a worker thread (it is thread-safe).
    """
    opts = options or CollapseOptions()
    return layout_view(_view(graph, opts), rankdir=rankdir, timeout=timeout,
                       fallback=lambda: _view(graph, opts.fully_collapsed()))


def layout_view(view: ViewGraph, *, rankdir: str = "TB", timeout: float = DEFAULT_TIMEOUT,
                fallback=None) -> Layout:
    """``layout_graph`` for a view graph already made; ``fallback`` is a callable giving the
    smaller view to try when ``dot`` times out (default: straight to the Python layout)."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {RANKDIRS}, not {rankdir!r}")
    key = (view.digest, rankdir)
    hit = _cached(key, timeout)
    if hit is not None:
        return hit
    try:
        layout = dot_layout(view, rankdir, timeout)
    except GraphvizTimeout:
        layout = _degraded(view, rankdir, timeout, fallback)
    _layouts.put(key, (layout, timeout))
    return layout


def _degraded(view: ViewGraph, rankdir: str, timeout: float, fallback) -> Layout:
    n = len(view.nodes)
    small = fallback() if fallback is not None else view
    # dot's time grows much faster than linearly, but a view that collapsing barely shrank
    # (a random DAG of distinct ops) would time out again: go straight to the Python layout
    if 2 * (len(small.nodes) + len(small.edges)) <= len(view.nodes) + len(view.edges):
        try:
            key = (small.digest, rankdir)
            layout = _cached(key, timeout) or dot_layout(small, rankdir, timeout)
            _layouts.put(key, (layout, timeout))
            return replace(layout, degraded=True, message=(
                f"Graphviz needed more than {timeout:g} s for {n:,} boxes; showing the "
                f"graph fully collapsed ({len(small.nodes):,} boxes)."))
        except GraphvizTimeout:
            pass
    layout = layered_layout(small, rankdir)
    return replace(layout, degraded=True, message=(
        f"Graphviz needed more than {timeout:g} s for {len(small.nodes):,} boxes; showing a "
        "simple layered layout instead."))


__all__ = [
    "CONSTANT", "DEFAULT_TIMEOUT", "DOT", "STYLES", "BoxStyle", "GraphvizError",
    "GraphvizMissing", "GraphvizTimeout", "Layout", "LayoutBox", "LayoutEdge", "clear_cache",
    "dot_layout", "layered_layout", "layout_graph", "layout_view", "node_attrs",
    "parse_spline", "run_graphviz", "style_for", "to_dot",
]
