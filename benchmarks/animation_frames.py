"""Frame time of the backward animation drawn by the real graph view, on Example 2's graph and
on a 2,000-node graph. Target: 60 fps, so the p99 frame under 16.7 ms.

    python benchmarks/animation_frames.py [--runs 3] [--frames 300] [--nodes 2000]

A frame is what the app's animation timer does every 16 ms: the clock ticks
(``AnimationClock.advance(16)``), the animation tells the view what changed (node states,
badges, the pulse on an edge) and the event loop paints the dirty part of the view into its
backing store (offscreen Qt). The animation plays at its fastest speed (8x, a node every
88 ms), so a node is entered every five or six frames. Each graph is measured at the zoom it
opens at (readable, around the loss) and fitted whole into the view; "full" repaints the
whole view every frame (a window uncovered, a resize), "scrub" is one jump of the playhead
from the first node to the last (every node changes state and badge at once).

Several runs in one process; a figure is the median over runs of that run's p50 / p99 / max.
The steps are recorded in this process by the recorder itself (every step detailed), so the
badges carry real gradients.
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

from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import engine  # noqa: E402
from engine.events import listening  # noqa: E402
from gradviz.examples import find  # noqa: E402
from gradviz.recorder import Recorder  # noqa: E402
from gradviz.session import RunTrace  # noqa: E402
from ui.backward_animation import SPEEDS, AnimationClock, BackwardAnimation  # noqa: E402
from ui.graph_view import GraphView  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

FRAME_MS = 16.0
VIEW_SIZE = (860, 680)  # about the graph's share of a 1280x800 window
LAYOUT_WAIT_S = 120.0


def record(source: str) -> RunTrace:
    trace = RunTrace()
    recorder = Recorder(trace.apply, detail_interval=0.0)
    with listening(recorder):
        exec(compile(source, "<benchmark>", "exec"), {"torch": engine, "__name__": "__main__"})
        recorder.finish()
    return trace


def example_2(steps: int = 3) -> RunTrace:
    source = find("two_layer_net").path.read_text().replace("import torch\n", "")
    return record(source.replace("range(500)", f"range({steps})").replace("print(", "str("))


def deep_net(nodes: int) -> RunTrace:
    """A deep, narrow tanh network: per layer MmBackward0, TanhBackward0, AccumulateGrad and
    the weight, so nothing collapses into a group and every node is its own box."""
    layers = max(nodes // 4, 1)
    source = (
        "torch.manual_seed(0)\n"
        f"weights = [(torch.randn(8, 8) * 0.3).requires_grad_() for _ in range({layers})]\n"
        "h = torch.randn(4, 8)\n"
        "for w in weights:\n"
        "    h = h.mm(w).tanh()\n"
        "h.sum().backward()\n"
    )
    return record(source)


def wait_for_layout(app, view: GraphView) -> float:
    t0 = time.perf_counter()
    while view.layout_count == 0 or view.is_laying_out:
        app.processEvents()
        if time.perf_counter() - t0 > LAYOUT_WAIT_S:
            raise RuntimeError(f"no layout after {LAYOUT_WAIT_S} s")
        time.sleep(0.005)
    return time.perf_counter() - t0


def percentiles(ms: list[float]) -> tuple[float, float, float]:
    s = sorted(ms)
    return (statistics.median(s), s[min(len(s) - 1, round(0.99 * (len(s) - 1)))], s[-1])


def play_frames(app, animation: BackwardAnimation, clock: AnimationClock, view: GraphView,
                frames: int, full: bool) -> list[float]:
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied) \
        if full else None
    animation.jump_to_start()
    animation.set_speed(SPEEDS[-1])
    animation.play()
    app.processEvents()
    times = []
    for _ in range(frames):
        if not animation.is_playing:
            animation.jump_to_start()
            animation.play()
            app.processEvents()
        t0 = time.perf_counter()
        clock.advance(FRAME_MS)
        if full:
            painter = QPainter(image)
            try:
                view.render(painter)
            finally:
                painter.end()
        else:
            app.processEvents()
        times.append((time.perf_counter() - t0) * 1e3)
    animation.pause()
    return times


def scrub_ms(app, animation: BackwardAnimation, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        animation.jump_to_start()
        app.processEvents()
        t0 = time.perf_counter()
        animation.jump_to_end()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def measure(app, name: str, trace: RunTrace, runs: int, frames: int) -> None:
    controller = SessionController()
    selection = Selection()
    view = GraphView(controller, selection)
    view.resize(*VIEW_SIZE)
    view.show()
    clock = AnimationClock(real_time=False)
    animation = BackwardAnimation(controller, selection, clock)
    animation.set_view(view)
    controller.trace = trace
    controller.trace_replaced.emit()
    for h in trace.graphs:
        controller.graph_changed.emit(h)
    controller.steps_recorded.emit(len(trace.steps) - 1)
    layout_s = wait_for_layout(app, view)
    graph = trace.latest_graph
    print(f"\n{name}: {len(graph.nodes):,} nodes, {len(view.node_items()):,} boxes drawn, "
          f"{animation.length:,} nodes in the backward (layout {layout_s:.1f} s)")
    print(f"  {'view':<22} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for zoom in ("as it opens", "fitted whole"):
        if zoom == "fitted whole":
            view.fit()
        for full in (False, True):
            per_run = [percentiles(play_frames(app, animation, clock, view, frames, full))
                       for _ in range(runs)]
            p50, p99, worst = (statistics.median(r[i] for r in per_run) for i in range(3))
            label = f"{zoom}{', full' if full else ''}"
            flag = "" if p99 <= 1000 / 60 else "  (over 16.7 ms)"
            print(f"  {label:<22} {p50:>7.2f} {p99:>7.2f} {worst:>7.2f}{flag}")
    print(f"  scrub first->last node: {scrub_ms(app, animation):.1f} ms")
    animation.set_view(None)
    view.shutdown()
    view.close()
    controller.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=2000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"backward animation frames, view {VIEW_SIZE[0]}x{VIEW_SIZE[1]}, speed "
          f"{SPEEDS[-1]:g}x, {args.frames} frames x {args.runs} runs (median of runs)")
    measure(app, "Example 2 (two_layer_net)", example_2(), args.runs, args.frames)
    measure(app, f"deep tanh net, ~{args.nodes:,} nodes", deep_net(args.nodes), args.runs,
            args.frames)
    app.processEvents()


if __name__ == "__main__":
    main()
