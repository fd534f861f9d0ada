"""The ``gradviz`` command (DESIGN.md, "Command line"; a stable contract).

    gradviz                              open the desktop app
    gradviz open TARGET [--run] [--device cpu|cuda] [--screenshot FILE.png]
    gradviz run TARGET [--device cpu|cuda] [--export FILE] [--report FILE.json]
                       [--timeout SECONDS] [-- SCRIPT_ARGS...]
    gradviz examples

This module is the one composition root allowed to import ``ui`` (lazily, for the commands
that open a window). gradviz's own messages go to stderr; stdout carries only the script's.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

EXIT_USAGE = 2
EXPORT_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".json")


def _say(message: str) -> None:
    print(f"gradviz: {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gradviz",
        description="A debugger that makes automatic differentiation visible.",
        epilog="TARGET is a .py file, a Jupyter notebook (.ipynb) or the name of a bundled "
               "example (see `gradviz examples`).",
    )
    sub = p.add_subparsers(dest="command")
    o = sub.add_parser("open", help="open the desktop app with a script loaded")
    o.add_argument("target")
    o.add_argument("--run", action="store_true", help="start the script at once")
    o.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    o.add_argument("--screenshot", metavar="FILE.png",
                   help="run to the end, save a 1280x800 picture of the window and exit")
    r = sub.add_parser("run", help="run a script headless under the recorder")
    r.add_argument("target")
    r.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    r.add_argument("--export", metavar="FILE",
                   help="write the last backward's graph (.svg .png .pdf .dot) or the whole "
                        "trace (.json)")
    r.add_argument("--report", metavar="FILE.json", help="write a JSON report of the run")
    r.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop the script after this many seconds (exit status 124)")
    sub.add_parser("examples", help="list the bundled examples")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    if args.command == "examples":
        return _examples()
    if args.command == "run":
        return _run(args, script_args)
    if args.command == "open":
        return _open_app(args.target, run=args.run, device=args.device,
                         screenshot=args.screenshot, script_args=script_args)
    return _open_app(None)


def _examples() -> int:
    from .examples import all_examples

    examples = all_examples()
    width = max(len(e.name) for e in examples)
    for e in examples:
        print(f"{e.name:<{width}}  {e.description}")
    return 0


def _check_device(device: str) -> str | None:
    if device == "cuda":
        import engine

        if not engine.cuda.is_available():
            from engine._device import CUDA_HELP

            return CUDA_HELP
    return None


class _Progress:
    """One self-rewriting line on stderr (only when stderr is a terminal)."""

    def __init__(self, trace, enabled: bool):
        self.trace = trace
        self.enabled = enabled
        self._last = 0.0
        self._start = time.monotonic()
        self._shown = False
        self._lock = threading.Lock()

    def __call__(self, what, payload) -> None:
        if not self.enabled or what != "step":
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        steps = len(self.trace.steps)
        loss = self.trace.losses[-1] if self.trace.losses else None
        elapsed = now - self._start
        text = f"step {steps}"
        if loss is not None:
            text += f"  loss {loss:.4g}"
        text += f"  {steps / elapsed:.0f} steps/s  {elapsed:.1f} s"
        with self._lock:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()
            self._shown = True

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()


def _run(args, script_args: list[str]) -> int:
    from . import report as report_mod
    from .runner import Runner
    from .scripts import ScriptError, resolve
    from .session import RunTrace

    if args.export and Path(args.export).suffix.lower() not in EXPORT_SUFFIXES:
        _say(f"cannot export to '{args.export}': use one of {', '.join(EXPORT_SUFFIXES)}")
        return EXIT_USAGE
    try:
        target = resolve(args.target)
    except ScriptError as exc:
        _say(exc.message)
        return exc.exit_code
    problem = _check_device(args.device)
    if problem:
        _say(problem)
        return EXIT_USAGE

    trace = RunTrace()
    progress = _Progress(trace, sys.stderr.isatty())
    trace.subscribe(progress)
    runner = Runner(target, script_args, device=args.device, stdio="inherit",
                    on_message=trace.apply, timeout=args.timeout)
    runner.start()
    interrupts = 0
    while True:
        try:
            result = runner.wait()
            break
        except KeyboardInterrupt:
            # Ctrl+C reaches only us (the script runs in its own session): pass it on; a
            # script that swallows it is stopped by the second one
            interrupts += 1
            runner.interrupt() if interrupts == 1 else runner.stop()
    progress.clear()
    if result.message:
        _say(result.message)

    status = {"ok": "ok", "exit": "ok", "timeout": "timeout"}.get(result.status, "error")
    if result.status == "exit" and result.exit_code != 0:
        status = "error"
    if args.report:
        rep = report_mod.build_report(trace, status, args.device, error=result.error,
                                      exit_code=result.exit_code,
                                      diagnostics=[d.to_json() for d in trace.diagnostics])
        report_mod.write_report(args.report, rep)
    if args.export:
        _export(trace, args.export)
    return result.exit_code


def _export(trace, path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        from . import trace_io

        trace_io.save(trace, path)
        return
    graph = trace.latest_graph
    if graph is None:
        _say(f"nothing to export to {path}: the script never called backward()")
        return
    from .export import export_graph
    from .layout import GraphvizMissing

    try:
        export_graph(graph, path)
    except GraphvizMissing as exc:
        _say(str(exc))


def _open_app(target, *, run: bool = False, device: str = "cpu", screenshot=None,
              script_args=()) -> int:
    try:
        from ui.app import main as app_main  # the composition root's one lazy ui import
    except ModuleNotFoundError as exc:
        if exc.name in ("ui.app", "ui"):
            _say("the desktop app is not built yet; the headless commands work: "
                 "`gradviz run TARGET`, `gradviz examples`")
        else:
            _say(f"the desktop app could not start: {exc} (run ./dev setup to install it)")
        return EXIT_USAGE
    except ImportError as exc:
        _say(f"the desktop app could not start: {exc}")
        return EXIT_USAGE
    return app_main(target=target, run=run, device=device, screenshot=screenshot,
                    script_args=list(script_args))


if __name__ == "__main__":
    sys.exit(main())
