"""The script's process: ``python -m gradviz.child [OPTIONS] [--] TARGET [SCRIPT_ARGS...]``.

It runs one user script as ``__main__`` under the recorder and streams protocol messages to
the parent on a pipe of its own (``--events-fd``), reading commands from another
(``--control-fd``). Run without those options it simply runs the script, which is handy for
measuring start-up. The parent (``gradviz.runner``) is what users and the GUI talk to.

How it ends (DESIGN.md, "Command line"): 0 ok; 1 the script raised (a traceback of the
user's frames only on stderr); ``sys.exit(n)`` gives n; 130 for KeyboardInterrupt (Ctrl+C
or the debugger's Stop). Deaths by signal are the parent's to describe: it sees the status.
"""

from __future__ import annotations

import builtins
import faulthandler
import linecache
import os
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import engine

from . import scripts
from .control import ControlReader, Gate, leave_signals_to_the_main_thread
from .protocol import Finished, NodeExecuted, Paused, Resumed, Started, Values, write_messages

FLUSH_INTERVAL = 0.03  # seconds: how stale a batched event may get while the script runs
WATCHDOG_INTERVAL = 0.25  # seconds: how often pending events of a quiet script are checked
_URGENT = (Started, Paused, Resumed, NodeExecuted, Values, Finished)  # the parent waits on these
# frames from these folders are gradviz's and the engine's, never shown to the user; the
# bundled examples live inside gradviz but are scripts like the user's own
_INTERNAL_DIRS = tuple(str(Path(p.__file__).resolve().parent) + os.sep for p in (scripts, engine))
_EXAMPLES_DIR = str(Path(scripts.__file__).resolve().parent / "examples") + os.sep
_crash_log = None  # faulthandler's file; kept open for the life of the process


# --- the event channel -----------------------------------------------------------------------
class EventWriter:
    """Batches messages into frames on the events pipe.

    The script's thread itself pickles and writes a batch once its oldest message is
    ``interval`` old (so a 500-step loop sends a few dozen frames, not thousands), and at once
    for the messages the parent is waiting on (``_URGENT``: Paused, Finished, Values ...).
    Doing this work on the script's thread is deliberate: a writer thread competing for the
    GIL slowed Example 2 far more (1.8x against 1.45x with two BLAS threads on two cores).
    A watchdog thread, waking rarely, sends what a script that went quiet left pending.

    A write that fails means the parent is gone; ``on_broken`` then ends the process.
    """

    def __init__(self, fd: int, interval: float = FLUSH_INTERVAL, clock=time.monotonic,
                 on_broken=None, watchdog: float | None = WATCHDOG_INTERVAL):
        self._fd = fd
        self._interval = interval
        self._clock = clock
        self._on_broken = on_broken or (lambda: os._exit(1))
        self._lock = threading.Lock()  # one batch at a time keeps frames in order
        self._pending: list = []
        self._since = 0.0  # when the oldest pending message was emitted
        self._closed = threading.Event()
        if watchdog is not None:
            threading.Thread(target=self._watch, args=(watchdog,), name="gradviz-events",
                             daemon=True).start()

    def emit(self, message) -> None:
        with self._lock:
            now = self._clock()
            if not self._pending:
                self._since = now
            self._pending.append(message)
            if isinstance(message, _URGENT) or now - self._since >= self._interval:
                self._flush_locked()

    def flush(self) -> None:
        """Write everything pending, as one frame."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        self._closed.set()
        self.flush()

    def disown(self) -> None:
        """In a forked copy of the process: the pipe belongs to the original, write nothing.
        (The lock is new: another thread may have held it at the fork.)"""
        self._lock = threading.Lock()
        self._pending = []
        self._fd = None

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if self._fd is None:
            return
        try:
            write_messages(self._fd, batch)
        except OSError:  # BrokenPipeError and friends: nobody is listening any more
            self._on_broken()

    def _watch(self, period: float) -> None:
        leave_signals_to_the_main_thread()
        while not self._closed.wait(period):
            with self._lock:
                if self._pending and self._clock() - self._since >= self._interval:
                    self._flush_locked()


def _discard(message) -> None:
    """``emit`` when there is no parent to send to."""


# --- process set-up ----------------------------------------------------------------------------
def _die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux), and leave at once if
    the parent already died before we could ask."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1  # noqa: N806 - the kernel's name
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the control pipe's end of file still ends us
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _enable_crash_log(path: str | None) -> None:
    """On a fatal signal (SIGSEGV ...) faulthandler writes the Python stack to ``path``; the
    parent reads the user's line from it."""
    global _crash_log
    if path:
        _crash_log = open(path, "w")  # noqa: SIM115 - must stay open until the process ends
        faulthandler.enable(file=_crash_log, all_threads=False)


@dataclass
class Options:
    target: str
    args: list[str]
    device: str = "cpu"
    events_fd: int | None = None
    control_fd: int | None = None
    parent_pid: int | None = None
    crash_file: str | None = None
    pause_at_start: bool = False
    breakpoints: tuple[str, ...] = ()


def parse(argv: list[str]) -> Options:
    """Options up to ``--`` or the first non-option; then TARGET and the script's arguments
    untouched (they may look like options: ``-- train.py --lr 0.1``)."""
    values: dict = {"breakpoints": []}
    flags = {"--device": "device", "--events-fd": "events_fd", "--control-fd": "control_fd",
             "--parent-pid": "parent_pid", "--crash-file": "crash_file", "--break": None}
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg == "--pause-at-start":
            values["pause_at_start"] = True
            i += 1
            continue
        if arg not in flags or i + 1 >= len(argv):
            _usage(f"bad option {arg}")
        if arg == "--break":
            values["breakpoints"].append(argv[i + 1])
        else:
            key = flags[arg]
            values[key] = int(argv[i + 1]) if key.endswith(("_fd", "_pid")) else argv[i + 1]
        i += 2
    if i >= len(argv):
        _usage("no TARGET")
    values["breakpoints"] = tuple(values["breakpoints"])
    return Options(target=argv[i], args=argv[i + 1:], **values)


def _usage(problem: str):
    print(f"gradviz.child: {problem}\n"
          "usage: python -m gradviz.child [OPTIONS] [--] TARGET [ARGS...]", file=sys.stderr)
    raise SystemExit(2)


# --- running the script ------------------------------------------------------------------------
@dataclass
class Outcome:
    status: str  # "ok" | "error" | "exit" | "stopped"
    exit_code: int
    error: dict | None = None
    diagnostics: list | None = None  # Diagnostic.to_json() of each, for Finished


_keep: list = []  # the modules replaced as __main__


def _as_main(script: scripts.Script, args: list[str]) -> dict:
    """Make a fresh ``__main__`` for the script, as ``python script.py`` would, and return its
    globals."""
    module = types.ModuleType("__main__")
    module.__dict__.update(__builtins__=builtins, __spec__=None, __package__=None,
                           __loader__=None, __cached__=None)
    if script.kind == scripts.PYTHON:
        module.__file__ = script.path
    else:  # a notebook: tracebacks read their source lines from the cells, not the JSON
        lines = script.source.splitlines(keepends=True)
        linecache.cache[script.path] = (len(script.source), None, lines, script.path)
    _keep.append(sys.modules.get("__main__"))  # our own module's globals must outlive the swap
    sys.modules["__main__"] = module
    sys.argv = [script.path, *args]
    # under ``python -m`` sys.path[0] is the working directory; a script sees its own folder
    sys.path[0:1] = [script.folder]
    return module.__dict__


def run_script(script: scripts.Script, args: list[str], gate) -> Outcome:
    """Compile and execute the script; classify how it ended (printing what Python would)."""
    namespace = _as_main(script, args)
    try:
        code = compile(script.source, script.path, "exec", dont_inherit=True)
        exec(code, namespace)
        outcome = Outcome("ok", 0)
    except BaseException as exc:  # noqa: BLE001 - everything the script does is reported
        # a second Stop/SIGINT must not interrupt the reporting of the first
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        outcome = _outcome_of(exc, script, gate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if outcome.status != "stopped":
        _join_user_threads()
    return outcome


def _join_user_threads() -> None:
    """Python waits for non-daemon threads before it exits; so does ``Finished``."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()


def _outcome_of(exc: BaseException, script: scripts.Script, gate) -> Outcome:
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return Outcome("ok", 0)
        if isinstance(code, int):
            return Outcome("ok" if code == 0 else "exit", code & 0xFF)
        print(code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
        return Outcome("exit", 1)
    if isinstance(exc, KeyboardInterrupt) and gate is not None and gate.stop_requested:
        return Outcome("stopped", 130)  # the user pressed Stop: they know; print nothing
    text, error = user_traceback(exc, script)
    sys.stderr.write(text)
    sys.stderr.flush()
    if isinstance(exc, KeyboardInterrupt):
        return Outcome("stopped", 130, error)
    return Outcome("error", 1, error)


# --- tracebacks of the user's frames -----------------------------------------------------------
def is_internal(filename: str) -> bool:
    """Is this a frame of gradviz or the engine (or Python's frozen import machinery)?"""
    if filename.startswith(_EXAMPLES_DIR):
        return False
    return filename.startswith(_INTERNAL_DIRS) or filename.startswith("<frozen ")


def _trim(te: traceback.TracebackException) -> bool:
    """Drop gradviz and engine frames from ``te`` and its chain, in place. Returns whether any
    frame is left; a chained exception that happened entirely inside the engine (an internal
    error turned into the user-facing one) is hidden."""
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not is_internal(f.filename)])
    if te.__cause__ is not None and not _trim(te.__cause__):
        te.__cause__ = None
        te.__suppress_context__ = True
    if te.__context__ is not None and not _trim(te.__context__):
        te.__context__ = None
    for inner in getattr(te, "exceptions", None) or ():
        _trim(inner)
    return bool(te.stack)


def user_traceback(exc: BaseException, script: scripts.Script) -> tuple[str, dict]:
    """The traceback Python would print, minus gradviz's and the engine's frames, and the
    ``error`` dict: type, message, file and line (the user's innermost frame), traceback."""
    te = traceback.TracebackException.from_exception(exc)
    _trim(te)
    text = "".join(te.format())
    if isinstance(exc, SyntaxError):
        file, line = exc.filename or script.path, exc.lineno
        message = exc.msg
    else:
        file, line = _user_location(te.stack, script)
        message = str(exc)
    error = {"type": type(exc).__name__, "message": message, "file": file, "line": line,
             "traceback": text}
    cell = script.cell_of(line) if (line and file == script.path) else None
    if cell is not None:
        error["cell"], error["cell_line"] = cell
    return text, error


def _user_location(stack, script: scripts.Script) -> tuple[str, int | None]:
    """Innermost frame in the script's own folder (not the standard library's), else the
    innermost frame left, else the script itself."""
    folder = script.folder + os.sep
    for frame in reversed(stack):
        if frame.filename == script.path or frame.filename.startswith(folder):
            return frame.filename, frame.lineno
    if stack:
        return stack[-1].filename, stack[-1].lineno
    return script.path, None


# --- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    _die_with_parent(opts.parent_pid)
    # Ctrl+C, interrupt() and Stop all arrive as SIGINT. A parent started with SIGINT ignored
    # (a background job of a shell script, nohup) passes that on through exec, and Python
    # then installs no KeyboardInterrupt handler: put it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    writer = EventWriter(opts.events_fd) if opts.events_fd is not None else None
    emit = writer.emit if writer else _discard
    if writer:
        os.register_at_fork(after_in_child=writer.disown)
    for fd in (opts.events_fd, opts.control_fd):
        if fd is not None:
            os.set_inheritable(fd, False)  # the script's own subprocesses must not hold them

    gate = Gate(emit, pause_at_start=opts.pause_at_start, breakpoints=opts.breakpoints)
    if opts.control_fd is not None:
        ControlReader(opts.control_fd, gate).start()
    _enable_crash_log(opts.crash_file)

    outcome = _prepare_and_run(opts, emit, gate)
    emit(Finished(outcome.status, outcome.exit_code, outcome.error, outcome.diagnostics or []))
    if writer:
        writer.close()
    return outcome.exit_code


def _prepare_and_run(opts: Options, emit, gate) -> Outcome:
    try:
        script = scripts.load(opts.target)
    except scripts.ScriptError as exc:
        print(f"gradviz: {exc.message}", file=sys.stderr)
        return Outcome("error", exc.exit_code, exc.as_error())
    for note in script.notes:
        print(f"gradviz: {note}", file=sys.stderr)

    from . import torch_alias

    torch_alias.install()
    import engine.events

    try:
        engine.set_default_device(opts.device)
    except RuntimeError as exc:  # cuda without CuPy: the runner checks first; this is for -m
        print(f"gradviz: {exc}", file=sys.stderr)
        return Outcome("error", 2, {"type": "RuntimeError", "message": str(exc), "file": None,
                                    "line": None, "traceback": ""})
    from .diagnostics import Diagnostician, Thresholds
    from .recorder import Recorder

    # the diagnostician sees the recorder's messages on their way out and listens beside it
    diagnostician = Diagnostician(emit, Thresholds.from_env())
    recorder = Recorder(diagnostician.relay, gate=gate)
    diagnostician.follow(recorder)
    gate.values = recorder.values
    engine.events.add_listener(recorder)
    diagnostician.attach()
    # A forked copy of the script (multiprocessing, a DataLoader's workers) must neither write
    # into our event pipe nor wait on a gate nobody controls: it runs unrecorded.
    os.register_at_fork(after_in_child=lambda: (engine.events.remove_listener(recorder),
                                                diagnostician.detach()))
    emit(Started(os.getpid(), script.path, opts.device))
    outcome = run_script(script, opts.args, gate)
    engine.events.remove_listener(recorder)
    diagnostician.detach()
    try:
        recorder.finish()
        diagnostician.finish()
        gate.serve_requests()
    except Exception as exc:  # noqa: BLE001 - the script's own outcome matters more
        print(f"gradviz: the recorder failed at the end of the run: {exc!r}", file=sys.stderr)
    outcome.diagnostics = [d.to_json() for d in diagnostician.diagnostics]
    return outcome


if __name__ == "__main__":
    # Import ourselves by name so that the functions above keep a module of their own when
    # the script takes over ``__main__``.
    from gradviz.child import main as _main

    sys.exit(_main())
