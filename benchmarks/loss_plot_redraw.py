"""Milliseconds for one redraw of the loss plot at 1,000, 10,000 and 100,000 points: new data
handed to the curve (``setData``) and the plot painted into an 800x400 image, the work of one
live frame. Median of several redraws per size, one process (offscreen Qt). Target: under
16 ms at 100,000 points (one frame at 60 Hz).

    python benchmarks/loss_plot_redraw.py [--repeats 15] [--linear]

Two figures per size: "full" hands over all the data again (what a frame costs after many
steps arrived at once) and "append" adds one step through the live path the controller's
``steps_recorded`` drives. The losses fall over ten decades with noise, as Example 2's do,
so the axis is logarithmic unless ``--linear``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from ui.loss_plot import LossPlot  # noqa: E402
from ui.selection import Selection  # noqa: E402
from ui.session_controller import SessionController  # noqa: E402

SIZES = (1_000, 10_000, 100_000)


def losses(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, n)
    return 3e7 * 10.0 ** (-10.0 * t) * np.exp(rng.normal(scale=0.3, size=n))


def paint(plot: LossPlot, image: QImage) -> None:
    painter = QPainter(image)
    try:
        plot.plot_widget.render(painter)
    finally:
        painter.end()


def measure(n: int, repeats: int, linear: bool) -> tuple[float, float]:
    controller = SessionController()
    plot = LossPlot(controller, Selection())
    plot.resize(800, 430)
    plot.show()
    QApplication.processEvents()
    trace = controller.trace
    trace.losses[:] = losses(n).tolist()
    trace.loss_steps[:] = range(n)
    controller.steps_recorded.emit(n - 1)
    if linear:
        plot.set_log_y(False)
    image = QImage(plot.plot_widget.size(), QImage.Format.Format_ARGB32_Premultiplied)
    paint(plot, image)  # warm caches and fonts
    full, append = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        plot.redraw()
        paint(plot, image)
        full.append(time.perf_counter() - t0)
        trace.losses.append(trace.losses[-1])
        trace.loss_steps.append(n + i)
        t0 = time.perf_counter()
        controller.steps_recorded.emit(n + i)
        paint(plot, image)
        append.append(time.perf_counter() - t0)
    plot.close()
    controller.shutdown()
    return statistics.median(full) * 1e3, statistics.median(append) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--linear", action="store_true", help="linear loss axis")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"loss plot redraw, 800x400, {'linear' if args.linear else 'log'} axis, "
          f"median of {args.repeats}")
    print(f"{'points':>8}  {'full ms':>8}  {'append ms':>9}")
    for n in SIZES:
        full, append = measure(n, args.repeats, args.linear)
        print(f"{n:>8,}  {full:>8.2f}  {append:>9.2f}")
    app.processEvents()


if __name__ == "__main__":
    main()
