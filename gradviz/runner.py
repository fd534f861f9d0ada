"""The debugger's side of the isolated runner: start a script in a child process, follow it,
pause, step and stop it. Plain Python threads, no Qt (the GUI wraps a ``Runner``).

One run, seen from here::

    start() --spawn--> python -u -m gradviz.child ... -- SCRIPT ARGS   (its own session)
      events pipe  <--  protocol frames (Started, GraphChanged, StepRecorded, Paused ...)
      control pipe -->  commands (Pause, Continue, StepNode, Stop ...)
      stdout/stderr     the terminal's (stdio="inherit"), or pipes read into ``on_output``

Three threads per run: one reads events (``on_message`` is called there, and every message
is also queued for ``drain``), one reads stdout/stderr in "pipe" mode, one waits for the
process and builds the ``RunResult`` (``on_exit`` is called there). No call blocks the caller
except ``wait``.

States (``Runner.state``): idle -> running <-> paused -> finished | error, and from finished
or error a new ``start()`` runs a fresh child.
"""

from __future__ import annotations

import codecs
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import scripts
from .child import is_internal
from .protocol import (
    Continue,
    Finished,
    FrameReader,
    Pause,
    Paused,
    RequestValues,
    Resumed,
    SetBreakpoints,
    StepBackward,
    StepNode,
    Stop,
    write_messages,
)

IDLE, RUNNING, PAUSED, FINISHED, ERROR = "idle", "running", "paused", "finished", "error"
_NEXT_STATES = {
    IDLE: {RUNNING, FINISHED, ERROR},
    RUNNING: {PAUSED, FINISHED, ERROR},
    PAUSED: {RUNNING, FINISHED, ERROR},
    FINISHED: {RUNNING, FINISHED, ERROR},
    ERROR: {RUNNING, FINISHED, ERROR},
}
EXIT_TIMEOUT, EXIT_INTERRUPTED, EXIT_USAGE = 124, 130, 2
# Stop's escalation (DESIGN.md, "Known pitfalls: Child process"): how long each step waits
# for the child before the next, harsher one. Together well under a second.
STOP_GRACE = (("message", 0.3), (signal.SIGINT, 0.2), (signal.SIGTERM, 0.2),
              (signal.SIGKILL, 5.0))
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_CRASH_FRAME = re.compile(r'File "(.+)", line (\d+) in ')


@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    ``status``: "ok", "error" (the script raised, or the target cannot run), "exit" (the
    script chose a non-zero status: ``sys.exit(n)``, ``os._exit(n)``), "stopped" (Stop or
    Ctrl+C), "timeout", "crashed" (killed by a signal it did not ask for). ``exit_code`` as
    DESIGN.md numbers them. ``error``: {"type", "message", "file", "line", "traceback"} where
    the script raised or crashed. ``message``: one line about an ending the script could not
    report itself (a crash, the timeout, a missing target); "" where its own output says it
    all (a traceback, ``sys.exit``).
    """

    status: str
    exit_code: int
    error: dict | None = None
    message: str = ""
    signal: int | None = None
    seconds: float = 0.0


class _Run:
    """Everything about one child process; a restarted Runner gets a new one, so threads of
    an old run can never touch a new run's state."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()  # exited / stop_reason / signalling the group
        self.send_lock = threading.Lock()
        self.control_w: int | None = None
        self.events_r: int | None = None
        self.crash_file: str | None = None
        self.threads: list[threading.Thread] = []
        self.timer: threading.Timer | None = None
        self.finished: Finished | None = None
        self.stop_reason: str | None = None  # "stop" | "timeout"
        self.stop_after_finish = False  # the script had already finished on its own
        self.exited = threading.Event()
        self.done = threading.Event()
        self.result: RunResult | None = None
        self.started = time.monotonic()


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _spawn(fn):
    """Run ``fn`` on one long-lived thread. Linux's PR_SET_PDEATHSIG fires when the *thread*
    that forked the child exits, not the process: a child started from a short-lived thread
    (an ``on_exit`` callback that restarts the run) would be killed with it."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gradviz-spawn")
    return _spawner.submit(fn).result()


class Runner:
    """Runs one TARGET (a .py file, a notebook or a bundled example) in a child process.

    ``stdio``: "inherit" (the script's output goes to this process's stdout/stderr, in order)
    or "pipe" (delivered to ``on_output(stream_name, text)`` from a reader thread).
    ``stdin``: "inherit" or "null" (a script that reads gets EOFError); by default inherited
    with "inherit" and null with "pipe". An ending the script cannot report itself (a crash,
    the timeout, a missing target) comes with a one-line ``RunResult.message``; in "pipe"
    mode that line also arrives through ``on_output("stderr", "gradviz: ...")``.

    Callbacks run on the runner's threads, never on the caller's: ``on_message(message)`` for
    each protocol message, ``on_exit(RunResult)`` once at the end. ``timeout`` (seconds)
    stops the run with status "timeout". ``pause_at_start``: pause just before the first
    ``backward()`` (where the first graph is known). ``breakpoints``: backward node names to
    pause after (``set_breakpoints`` changes them while running).
    """

    def __init__(self, target, args=(), device: str = "cpu", stdio: str = "inherit",
                 on_message=None, on_output=None, on_exit=None, pause_at_start: bool = False,
                 timeout: float | None = None, stdin: str | None = None,
                 breakpoints=(), python: str = sys.executable, cwd=None, env=None):
        if stdio not in ("inherit", "pipe"):
            raise ValueError(f"stdio must be 'inherit' or 'pipe', not {stdio!r}")
        self.target = str(target)
        self.args = [str(a) for a in args]
        self.device = str(device)
        self.stdio = stdio
        self.stdin = stdin or ("inherit" if stdio == "inherit" else "null")
        self.on_message = on_message
        self.on_output = on_output
        self.on_exit = on_exit
        self.pause_at_start = pause_at_start
        self.timeout = timeout
        self.python = python
        self.cwd = cwd
        self.env = env
        self.script: scripts.Script | None = None  # the loaded target, once started
        self._breakpoints = tuple(breakpoints)
        self._state = IDLE
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._queue: deque = deque()

    # --- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """"idle" | "running" | "paused" | "finished" | "error"."""
        return self._state

    @property
    def pid(self) -> int | None:
        run = self._run
        return run.proc.pid if run and run.proc else None

    def _enter(self, run: _Run | None, state: str) -> bool:
        """Move to ``state`` if ``run`` is still the current run and the move is allowed."""
        with self._lock:
            if run is not self._run or state not in _NEXT_STATES[self._state]:
                return False
            self._state = state
            return True

    # --- starting -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a new child. Returns at once; a target that cannot run ends the run here
        (``on_exit`` is called before ``start`` returns)."""
        run = _Run()
        with self._lock:
            if self._state in (RUNNING, PAUSED):
                raise RuntimeError("the script is still running; stop it first")
            self._run = run
            self._state = RUNNING
        problem = self._check()
        if problem is not None:
            self._end(run, problem)
            return
        try:
            self._start_child(run)
        except OSError as exc:
            self._end(run, RunResult("error", 1, message=f"cannot start Python: {exc}"))

    def _check(self) -> RunResult | None:
        """What can be known without a child: the target exists and is Python; the device."""
        try:
            self.script = scripts.load(self.target)
        except scripts.ScriptError as exc:
            return RunResult("error", exc.exit_code, exc.as_error(), exc.message)
        if self.device.startswith("cuda"):
            import engine.cuda
            from engine._device import CUDA_HELP

            if not engine.cuda.is_available():
                error = {"type": "RuntimeError", "message": CUDA_HELP, "file": None,
                         "line": None, "traceback": ""}
                return RunResult("error", EXIT_USAGE, error, CUDA_HELP)
        return None

    def _start_child(self, run: _Run) -> None:
        events_r, events_w = os.pipe()
        control_r, control_w = os.pipe()
        fd, run.crash_file = tempfile.mkstemp(prefix="gradviz-crash-", suffix=".log")
        os.close(fd)
        command = [self.python, "-u", "-m", "gradviz.child",
                   "--events-fd", str(events_w), "--control-fd", str(control_r),
                   "--parent-pid", str(os.getpid()), "--device", self.device,
                   "--crash-file", run.crash_file]
        if self.pause_at_start:
            command.append("--pause-at-start")
        for name in self._breakpoints:
            command += ["--break", name]
        command += ["--", self.script.path, *self.args]
        env = dict(os.environ if self.env is None else self.env)
        # the child imports gradviz by name, wherever the script's working directory is
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH"))
                                            if p)
        pipe = subprocess.PIPE if self.stdio == "pipe" else None
        try:
            run.proc = _spawn(lambda: subprocess.Popen(
                command, pass_fds=(events_w, control_r), start_new_session=True,
                stdin=subprocess.DEVNULL if self.stdin == "null" else None,
                stdout=pipe, stderr=pipe, env=env, cwd=self.cwd))
        except BaseException:
            for f in (events_r, events_w, control_r, control_w):
                os.close(f)
            raise
        run.started = time.monotonic()
        os.close(events_w)
        os.close(control_r)
        run.events_r, run.control_w = events_r, control_w
        run.threads.append(threading.Thread(target=self._read_events, args=(run,),
                                            name="gradviz-events", daemon=True))
        if self.stdio == "pipe":
            run.threads.append(threading.Thread(target=self._read_output, args=(run,),
                                                name="gradviz-output", daemon=True))
        for thread in run.threads:
            thread.start()
        if self.timeout is not None:
            run.timer = threading.Timer(self.timeout, self._stop_run, args=(run, "timeout"))
            run.timer.daemon = True
            run.timer.start()
        threading.Thread(target=self._wait_for_exit, args=(run,), name="gradviz-wait",
                         daemon=True).start()

    # --- reading --------------------------------------------------------------------------------
    def _read_events(self, run: _Run) -> None:
        reader = FrameReader(run.events_r)
        try:
            while (batch := reader.read()) is not None:
                for message in batch:
                    self._deliver(run, message)
        except Exception as exc:  # noqa: BLE001 - a torn frame from a dying child
            self._say(f"lost the event stream: {exc!r}")
        finally:
            os.close(run.events_r)

    def _deliver(self, run: _Run, message) -> None:
        if isinstance(message, Paused):
            self._enter(run, PAUSED)
        elif isinstance(message, Resumed):
            self._enter(run, RUNNING)
        elif isinstance(message, Finished):
            run.finished = message
        self._queue.append(message)
        self._call(self.on_message, message)

    def _read_output(self, run: _Run) -> None:
        """Both pipes on one thread, forwarded as they come; a script printing megabytes is
        read as fast as it writes, so it never blocks on a full pipe."""
        selector = selectors.DefaultSelector()
        for name, stream in (("stdout", run.proc.stdout), ("stderr", run.proc.stderr)):
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            selector.register(stream.fileno(), selectors.EVENT_READ, (name, stream, decoder))
        while selector.get_map():
            for key, _ in selector.select():
                name, stream, decoder = key.data
                data = os.read(key.fd, 65536)
                text = decoder.decode(data, final=not data)
                if text:
                    self._call(self.on_output, name, text)
                if not data:
                    selector.unregister(key.fd)
                    stream.close()
        selector.close()

    def drain(self, max_items: int | None = None) -> list:
        """Take up to ``max_items`` queued messages (all when None), oldest first; for a GUI
        timer that updates the screen in batches."""
        out = []
        queue = self._queue
        while queue and (max_items is None or len(out) < max_items):
            out.append(queue.popleft())
        return out

    # --- commands -------------------------------------------------------------------------------
    def pause(self) -> bool:
        """Pause just before the next ``backward()``."""
        return self._send(Pause())

    def resume(self) -> bool:
        return self._send(Continue())

    def step_backward(self) -> bool:
        """Run to just before the next ``backward()`` and pause there."""
        return self._send(StepBackward())

    def step_node(self) -> bool:
        """Run one backward node (or up to the next ``backward()``) and pause."""
        return self._send(StepNode())

    def set_breakpoints(self, names) -> bool:
        """Pause after any backward node of these names runs (kept for the next start)."""
        self._breakpoints = tuple(names)
        return self._send(SetBreakpoints(self._breakpoints))

    def request_values(self, node_ids) -> bool:
        """Ask for the latest graph's values; they arrive as a ``Values`` message."""
        return self._send(RequestValues(tuple(node_ids)))

    def _send(self, message) -> bool:
        """Send a command; False when there is no live child to receive it."""
        run = self._run
        if run is None:
            return False
        with run.send_lock:
            if run.control_w is None or run.exited.is_set():
                return False
            try:
                write_messages(run.control_w, [message])
            except OSError:
                return False
        return True

    def interrupt(self) -> None:
        """Ctrl+C: SIGINT to the script and everything it started. The script may catch
        KeyboardInterrupt; ``stop`` is the way that always ends it."""
        run = self._run
        if run is not None and run.proc is not None:
            self._signal_group(run, signal.SIGINT)

    def stop(self) -> None:
        """End the script and everything it started (within a second); returns at once,
        ``wait`` for the result (status "stopped", 130)."""
        if self._run is not None:
            self._stop_run(self._run, "stop")

    def _stop_run(self, run: _Run, reason: str) -> None:
        with run.lock:
            if run.proc is None or run.exited.is_set() or run.stop_reason:
                return
            run.stop_reason = reason
            run.stop_after_finish = run.finished is not None
        threading.Thread(target=self._escalate, args=(run,), name="gradviz-stop",
                         daemon=True).start()

    def _escalate(self, run: _Run) -> None:
        """Stop message, then SIGINT, SIGTERM and SIGKILL to the child's process group, each
        after the previous one had its grace period."""
        for how, grace in STOP_GRACE:
            if how == "message":
                self._send(Stop())
            elif not self._signal_group(run, how):
                return
            if run.exited.wait(grace):
                return

    def _signal_group(self, run: _Run, sig: int) -> bool:
        """Signal the child's group unless the child is gone (its id could be anyone's)."""
        with run.lock:
            if run.exited.is_set():
                return False
            _killpg(run.proc.pid, sig)
            return True

    # --- ending ---------------------------------------------------------------------------------
    def _wait_for_exit(self, run: _Run) -> None:
        try:
            returncode = self._reap(run)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the run must end
            run.exited.set()
            self._end(run, RunResult("error", 1, None,
                                     f"lost track of the script's process: {exc!r}"))
            return
        if run.timer is not None:
            run.timer.cancel()
        for thread in run.threads:
            # a process the script left running may hold stdout; don't wait for it forever
            thread.join(timeout=2.0)
        with run.send_lock:
            os.close(run.control_w)
            run.control_w = None
        self._end(run, self._result(run, returncode))

    def _reap(self, run: _Run) -> int:
        """Wait for the child's exit; after a Stop, kill what it left in its group."""
        pid = run.proc.pid
        if hasattr(os, "waitid"):
            # wait without reaping: until reaped, the pid (= the group's id) cannot be reused,
            # so the sweep below cannot hit a stranger
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        with run.lock:
            run.exited.set()
            if run.stop_reason:  # Stop ends what the script started too
                _killpg(pid, signal.SIGKILL)
        return run.proc.wait()

    def _result(self, run: _Run, returncode: int) -> RunResult:
        seconds = time.monotonic() - run.started
        fin = run.finished
        if run.stop_reason and not run.stop_after_finish:
            if run.stop_reason == "timeout":
                return RunResult("timeout", EXIT_TIMEOUT, None,
                                 f"the script ran longer than the timeout of {self.timeout:g} s "
                                 "and was stopped", seconds=seconds)
            return RunResult("stopped", EXIT_INTERRUPTED, seconds=seconds)
        if fin is not None and returncode == fin.exit_code:
            return RunResult(fin.status, fin.exit_code, fin.error, seconds=seconds)
        if returncode < 0:
            return self._crash(run, -returncode, seconds)
        # os._exit(n), or an exit that skipped the recorder's goodbye
        return RunResult("ok" if returncode == 0 else "exit", returncode, seconds=seconds)

    def _crash(self, run: _Run, signum: int, seconds: float) -> RunResult:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        file, line, dump = _crash_location(run.crash_file, self.script.folder)
        message = f"the script's process was killed by signal {signum} ({name})"
        if line is not None:
            message += f" at {file}, line {line}"
        if signum == signal.SIGKILL:
            message += "; the system may have run out of memory"
        error = {"type": name, "message": message, "file": file, "line": line,
                 "traceback": dump}
        return RunResult("crashed", 128 + signum, error, message, signum, seconds)

    def _end(self, run: _Run, result: RunResult) -> None:
        if run.crash_file:
            try:
                os.unlink(run.crash_file)
            except OSError:
                pass
        if result.message:
            self._say(result.message)
        run.result = result
        failed = result.status in ("error", "crashed")
        self._enter(run, ERROR if failed else FINISHED)
        run.done.set()
        self._call(self.on_exit, result)

    def wait(self, timeout: float | None = None) -> RunResult:
        """Block until the run ends; raises TimeoutError after ``timeout`` seconds."""
        run = self._run
        if run is None:
            raise RuntimeError("the runner has not been started")
        if not run.done.wait(timeout):
            raise TimeoutError(f"the script is still running after {timeout} s")
        return run.result

    # --- helpers --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        """One line from gradviz itself. In "pipe" mode it joins the script's stderr, so a
        console shows it in place; in "inherit" mode the caller (the CLI) prints
        ``RunResult.message`` itself, and nothing is printed twice."""
        if self.stdio == "pipe":
            self._call(self.on_output, "stderr", f"gradviz: {text}\n")

    @staticmethod
    def _call(callback, *args) -> None:
        """A failing callback must not kill a reader thread (the child would then block on a
        full pipe)."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            import traceback

            traceback.print_exc()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _crash_location(path: str | None, folder: str) -> tuple[str | None, int | None, str]:
    """The user's innermost frame in faulthandler's dump (most recent call first): in the
    script's folder if any frame is, else outside gradviz and the engine."""
    try:
        dump = Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return None, None, ""
    frames = [(m.group(1), int(m.group(2))) for m in _CRASH_FRAME.finditer(dump)]
    user = [(f, n) for f, n in frames if not is_internal(f)]
    lines = "".join(f'  File "{f}", line {n}\n' for f, n in reversed(user))
    own = [(f, n) for f, n in user if f.startswith(folder + os.sep)]
    for f, n in own or user:
        return f, n, lines
    return None, None, lines
