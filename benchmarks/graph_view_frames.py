"""Frame times of the graph view on Example 2's graph and on synthetic 2,000-node graphs:
first show (layout + scene + first paint), pan, zoom and fit-to-window frames. Target: 60 fps,
so the p99 frame under 16.7 ms.

    python benchmarks/graph_view_frames.py [--runs 5] [--frames 60] [--screenshots DIR]

One process, offscreen Qt, the view at 860x680 (about its share of a 1280x800 window).

- show: the trace handed to the view until its layout is drawn (``layout_ready``), with the
  layout cache cleared first so ``dot`` runs every time; "dot" is the layout's own share;
  "paint" is the first paint of the view after it.
- pan: the view scrolled by 24x16 pixels and the event loop left to paint what Qt marks
  dirty (what a drag does), at the zoom the graph opens at.
- zoom: a sweep from fitted-whole to 2x and back in wheel-sized steps (x1.15), the whole
  viewport painted each step (``viewport().repaint()``): every level of detail on the way.
- fit: zoomed in by a step and painted (untimed), then ``fit()`` and a full paint, at the
  fitted-whole zoom where every box is on screen at once (the worst case for per-item
  painting).

Several runs in this process; each figure is over the frames of all runs: median and p99
(nearest rank). ``--screenshots DIR`` also saves what the view shows (``grab()``, PNG) at
the zoom it opens at and fitted whole, for comparing pictures before and after a change.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import engine  # noqa: E402
from engine.events import listening  # noqa: E402
from gradviz.examples import find  # noqa: E402
from gradviz.layout import clear_cache  # noqa: E402
from gradviz.protocol import GraphChanged, StepRecorded  # noqa: E402
from gradviz.recorder import Recorder  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode, Step  # noqa: E402
from ui.graph_view import GraphView  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

VIEW_SIZE = (860, 680)
PAN = (24, 16)
ZOOM_STEP = 1.15
LAYOUT_WAIT_S = 120.0
FRAME_BUDGET_MS = 1000 / 60


# --- the graphs -------------------------------------------------------------------------------

def example_2() -> RunTrace:
    """Example 2 recorded in this process by the recorder (three steps of the loop)."""
    source = find("two_layer_net").path.read_text().replace("import torch\n", "")
    source = source.replace("range(500)", "range(3)").replace("print(", "str(")
    trace = RunTrace()
    recorder = Recorder(trace.apply)
    with listening(recorder):
        exec(compile(source, "<benchmark>", "exec"), {"torch": engine, "__name__": "__main__"})
        recorder.finish()
    return trace


def _trace_of(graph: Graph) -> RunTrace:
    trace = RunTrace()
    trace.apply(GraphChanged(0, graph))
    trace.apply(StepRecorded(Step(0, graph.structure_hash, 1.0, ()), [], False))
    return trace


def wide_net(layers: int = 31, heads: int = 16) -> RunTrace:
    """A wide network, 2,017 nodes: per layer ``heads`` parallel heads (weight,
    AccumulateGrad, MmBackward0, TanhBackward0; shapes differ, so nothing collapses) joined by
    a CatBackward0. ``dot`` lays it out about as wide as tall, so fitted whole every box is a
    few pixels: the case that made fit-to-window slow."""
    nodes = [GraphNode(0, LEAF, "x", (32, 64), requires_grad=False)]
    edges: list[tuple[int, int]] = []

    def add(kind: str, name: str, shape: tuple) -> int:
        nodes.append(GraphNode(len(nodes), kind, name, shape))
        return len(nodes) - 1

    prev = 0
    for layer in range(layers):
        outs = []
        for k in range(heads):
            w = add(LEAF, f"blocks.{layer}.head{k}.weight", (64, 4 + k))
            acc = add(OP, "AccumulateGrad", (64, 4 + k))
            mm = add(OP, "MmBackward0", (32, 4 + k))
            tanh = add(OP, "TanhBackward0", (32, 4 + k))
            edges += [(w, acc), (prev, mm), (acc, mm), (mm, tanh)]
            outs.append(tanh)
        prev = add(OP, "CatBackward0", (32, 64))
        edges += [(o, prev) for o in outs]
    root = add(ROOT, "SumBackward0", ())
    edges.append((prev, root))
    return _trace_of(Graph(tuple(nodes), tuple(edges), root))


def deep_chain(nodes: int = 2000) -> RunTrace:
    """A deep, narrow tanh network (per layer MmBackward0, TanhBackward0, AccumulateGrad and
    the weight): tall and thin, so fitted whole its boxes are specks."""
    graph_nodes = [GraphNode(0, LEAF, "h0", (4, 8), requires_grad=False)]
    edges: list[tuple[int, int]] = []
    prev = 0
    for layer in range(nodes // 4):
        i = len(graph_nodes)
        graph_nodes += [GraphNode(i, LEAF, f"weights[{layer}]", (8, 8)),
                        GraphNode(i + 1, OP, "AccumulateGrad", (8, 8)),
                        GraphNode(i + 2, OP, "MmBackward0", (4, 8)),
                        GraphNode(i + 3, OP, "TanhBackward0", (4, 8))]
        edges += [(i, i + 1), (i + 1, i + 2), (prev, i + 2), (i + 2, i + 3)]
        prev = i + 3
    root = len(graph_nodes)
    graph_nodes.append(GraphNode(root, ROOT, "SumBackward0", ()))
    edges.append((prev, root))
    return _trace_of(Graph(tuple(graph_nodes), tuple(edges), root))


# --- measuring --------------------------------------------------------------------------------

class _PaintCounter(QObject):
    """Counts the viewport's paint events: a pan frame must have painted something."""

    def __init__(self):
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def p99(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


def timed_ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def show(app, view: GraphView, controller: SessionController, trace: RunTrace):
    """(ms to layout_ready, dot's seconds, ms of the first paint) for one fresh show."""
    clear_cache()
    controller.trace = RunTrace()
    controller.trace_replaced.emit()  # nothing drawn: the next show lays out from scratch
    app.processEvents()
    drawn = view.layout_count
    t0 = time.perf_counter()
    controller.trace = trace
    controller.trace_replaced.emit()
    while view.layout_count == drawn or view.is_laying_out:
        app.processEvents()
        if time.perf_counter() - t0 > LAYOUT_WAIT_S:
            raise RuntimeError(f"no layout after {LAYOUT_WAIT_S} s")
        time.sleep(0.001)
    ready = (time.perf_counter() - t0) * 1e3
    paint = timed_ms(view.viewport().repaint)
    return ready, view.graph_layout.seconds, paint


def pan_frames(app, view: GraphView, frames: int, counter: _PaintCounter) -> list[float]:
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()
    times, sign = [], 1
    for i in range(frames):
        if i % 10 == 0:
            sign = -sign  # back and forth: stay over the graph
        if not _can_scroll(h, sign) and not _can_scroll(v, sign):
            sign = -sign  # at the scene's edge (the root is at the bottom): the other way
        before = counter.paints

        def frame(s=sign):
            h.setValue(h.value() + s * PAN[0])
            v.setValue(v.value() + s * PAN[1])
            app.processEvents()

        times.append(timed_ms(frame))
        if counter.paints == before:
            raise RuntimeError("a pan frame painted nothing: the measurement is wrong")
    return times


def _can_scroll(bar, sign: int) -> bool:
    return bar.value() < bar.maximum() if sign > 0 else bar.value() > bar.minimum()


def zoom_frames(view: GraphView) -> list[float]:
    view.fit()
    start = view.zoom_level()
    steps = 0
    while start * ZOOM_STEP ** steps < 2.0:
        steps += 1
    times = []
    for factor in [ZOOM_STEP] * steps + [1 / ZOOM_STEP] * steps:
        times.append(timed_ms(lambda f=factor: (view.zoom_by(f), view.viewport().repaint())))
    return times


def fit_frames(view: GraphView, frames: int) -> list[float]:
    times = []
    for _ in range(frames):
        view.zoom_by(ZOOM_STEP)
        view.viewport().repaint()  # painted zoomed in: no cache holds the fitted picture
        times.append(timed_ms(lambda: (view.fit(), view.viewport().repaint())))
    return times


def measure(app, name: str, trace: RunTrace, runs: int, frames: int, shots: str | None):
    controller = SessionController()
    view = GraphView(controller, Selection())
    view.resize(*VIEW_SIZE)
    view.show()
    counter = _PaintCounter()
    view.viewport().installEventFilter(counter)
    app.processEvents()
    results: dict[str, list[float]] = {"show": [], "dot": [], "first paint": [], "pan": [],
                                       "zoom": [], "fit": []}
    for run in range(runs):
        ready, dot_s, paint = show(app, view, controller, trace)
        results["show"].append(ready)
        results["dot"].append(dot_s * 1e3)
        results["first paint"].append(paint)
        opens_at = view.zoom_level()
        if run == 0 and shots:
            slug = name.split(" ")[0].lower().replace(",", "")
            view.grab().save(os.path.join(shots, f"{slug}-opens.png"))
        results["pan"] += pan_frames(app, view, frames, counter)
        results["zoom"] += zoom_frames(view)
        results["fit"] += fit_frames(view, frames)
        if run == 0 and shots:
            view.fit()
            view.grab().save(os.path.join(shots, f"{slug}-fitted.png"))
    fit_scale = view.zoom_level()
    print(f"\n{name}: {len(trace.latest_graph.nodes):,} nodes, {len(view.node_items()):,} "
          f"boxes, {len(view.edge_items()):,} edges; opens at x{opens_at:.2f}, "
          f"fitted whole x{fit_scale:.3f}")
    print(f"  {'':<12} {'median ms':>10} {'p99 ms':>8} {'frames':>7}")
    for key, values in results.items():
        flag = "" if key in ("show", "dot", "first paint") or p99(values) <= FRAME_BUDGET_MS \
            else "  (over 16.7 ms)"
        print(f"  {key:<12} {statistics.median(values):>10.2f} {p99(values):>8.2f} "
              f"{len(values):>7}{flag}")
    view.viewport().removeEventFilter(counter)
    view.shutdown()
    view.close()
    controller.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60, help="pan and fit frames per run")
    parser.add_argument("--screenshots", metavar="DIR", help="save PNGs of what is drawn")
    args = parser.parse_args()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"graph view frames, view {VIEW_SIZE[0]}x{VIEW_SIZE[1]}, {args.runs} runs, "
          f"{args.frames} pan and fit frames per run; median and p99 over all frames")
    for name, make in (("Example 2 (two_layer_net)", example_2),
                       ("Wide net, 2,017 nodes", wide_net),
                       ("Deep chain, 2,001 nodes", deep_chain)):
        measure(app, name, make(), args.runs, args.frames, args.screenshots)
    app.processEvents()


if __name__ == "__main__":
    main()
