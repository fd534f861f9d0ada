"""Example 2 run in the main window with every panel live, against ``gradviz run`` headless:
the ratio of their total times (target <= 1.5) and how long the window's event loop stalls
while the script runs (target: p99 under 50 ms).

    python benchmarks/app_live_run.py [--rounds 5] [--target two_layer_net]

Contenders alternate (app headless app headless ...), each in a fresh process (offscreen Qt
for the app), and the ratio is the median of the per-round ratios (DESIGN.md,
"Benchmarks"). Both time the same thing: from pressing Run (``MainWindow.run_script``;
``gradviz.cli.main(["run", TARGET])``) to the run's end, child process start included. In
the app the graph, inspector (the loss selected), gradients panel (split out of its tab so
it is painted too), loss plot, console, timeline and animation controls all follow the run.

Stalls: a 5 ms precise QTimer records when it fires; a gap between two heartbeats longer
than 5 ms is the event loop busy (or starved) for that long. Reported: the p99 and the
longest gap while the script ran.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import THREADS  # noqa: E402

HEARTBEAT_MS = 5
RUN_TIMEOUT_S = 300


def run_worker(contender: str, target: str) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = THREADS  # the script's process inherits it: the same BLAS for both
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", contender,
                           "--target", target], capture_output=True, text=True, env=env,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {contender} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_headless(target: str) -> dict:
    import contextlib
    import io

    from gradviz import cli, runner, session  # noqa: F401 - imported before the clock starts

    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):  # the child inherits our stdout: keep it quiet
        code = cli.main(["run", target])
    seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"gradviz run {target} exited {code}")
    return {"seconds": seconds}


def worker_app(target: str) -> dict:
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="gradviz-bench-") as folder:
        settings = QSettings(os.path.join(folder, "gradviz.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, restore=False)
        window.resize(1280, 800)
        window.show()
        if not window.open_script(target):
            raise SystemExit(f"cannot open {target}")
        docks = window.docks
        window.splitDockWidget(docks["inspector"], docks["gradients"], Qt.Orientation.Horizontal)
        for _ in range(20):
            app.processEvents()

        beats: list[float] = []
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
        done: list[float] = []
        controller = window.controller

        def on_finished(result) -> None:
            done.append(time.perf_counter())
            if result.status != "ok":
                print(f"run ended {result.status}", file=sys.stderr)
            app.quit()

        def select_loss(_hash) -> None:  # the inspector shows the root once there is a graph
            graph = controller.trace.latest_graph
            if graph is not None and window.selection.node is None:
                window.selection.select_node(graph.root)

        controller.finished.connect(on_finished)
        controller.graph_changed.connect(select_loss)
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(controller.stop)
        guard.start(RUN_TIMEOUT_S * 1000)
        heartbeat.start()
        beats.append(time.perf_counter())
        t0 = time.perf_counter()
        window.run_script()
        app.exec()
        heartbeat.stop()
        guard.stop()
        seconds = done[0] - t0
        gaps = [(b - a) * 1e3 for a, b in zip(beats, beats[1:], strict=False) if b <= done[0]]
        gaps.sort()
        steps = len(controller.trace.steps)
        window.shutdown()
        window.deleteLater()
        app.processEvents()
    return {"seconds": seconds, "p99_gap_ms": gaps[round(0.99 * (len(gaps) - 1))],
            "max_gap_ms": gaps[-1], "median_gap_ms": statistics.median(gaps), "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", default="two_layer_net")
    parser.add_argument("--worker", choices=("app", "headless"))
    args = parser.parse_args()
    if args.worker:
        result = (worker_app if args.worker == "app" else worker_headless)(args.target)
        print(json.dumps(result))
        return
    rows = []
    for i in range(args.rounds):
        app = run_worker("app", args.target)
        headless = run_worker("headless", args.target)
        rows.append((app, headless))
        print(f"round {i + 1}: app {app['seconds']:.2f} s (p99 gap {app['p99_gap_ms']:.1f} ms, "
              f"max {app['max_gap_ms']:.1f} ms, {app['steps']} steps), headless "
              f"{headless['seconds']:.2f} s, ratio {app['seconds'] / headless['seconds']:.2f}",
              flush=True)
    ratio = statistics.median(a["seconds"] / h["seconds"] for a, h in rows)
    p99 = statistics.median(a["p99_gap_ms"] for a, _ in rows)
    worst = statistics.median(a["max_gap_ms"] for a, _ in rows)
    print(f"\n{args.target}, {args.rounds} rounds, {THREADS} BLAS thread(s)")
    print(f"  app / headless total time, median ratio: {ratio:.2f}   (target <= 1.5)")
    print(f"  event-loop gaps while running: p99 {p99:.1f} ms, longest {worst:.1f} ms "
          f"(medians over rounds; target p99 < 50 ms)")


if __name__ == "__main__":
    main()
