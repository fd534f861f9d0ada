"""The isolated runner end to end: real child processes running real scripts. Every wait is
on a message, an event or a process, with a timeout; nothing sleeps."""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gradviz.protocol import (
    Finished,
    GraphChanged,
    NodeExecuted,
    Paused,
    Resumed,
    Started,
    StepRecorded,
    Values,
)
from gradviz.runner import Runner

TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[2]


class Watch:
    """A Runner in "pipe" mode whose messages, output and state changes a test can wait on."""

    def __init__(self, target, **options):
        self.messages: queue.Queue = queue.Queue()
        self.all: list = []
        self.output: list[tuple[str, str]] = []
        self.lines: queue.Queue = queue.Queue()  # complete stdout lines
        self._partial = ""
        options.setdefault("stdio", "pipe")
        self.runner = Runner(str(target), on_message=self._message, on_output=self._output,
                             **options)

    def _message(self, message):
        self.all.append(message)
        self.messages.put(message)

    def _output(self, stream, text):
        self.output.append((stream, text))
        if stream == "stdout":
            *complete, self._partial = (self._partial + text).split("\n")
            for line in complete:
                self.lines.put(line)

    def start(self):
        self.runner.start()
        return self

    def run(self):
        return self.start().wait()

    def wait(self):
        return self.runner.wait(TIMEOUT)

    def expect(self, kind):
        """The next message of this type (skipping others)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(message, kind):
                return message

    def line(self) -> str:
        return self.lines.get(timeout=TIMEOUT)

    def text(self, stream) -> str:
        return "".join(t for s, t in self.output if s == stream)

    def of(self, kind) -> list:
        return [m for m in self.all if isinstance(m, kind)]


def write(tmp_path, text, name="script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def gone_within(pid_fd: int, seconds: float) -> bool:
    """A pidfd turns readable when its process exits."""
    readable, _, _ = select.select([pid_fd], [], [], seconds)
    return bool(readable)


@pytest.fixture(scope="module")
def endless_backward(tmp_path_factory):
    """A script that calls backward() until it is stopped."""
    return write(tmp_path_factory.mktemp("endless"), ENDLESS_BACKWARD)


ENDLESS_BACKWARD = """\
import torch
w = torch.ones(3, requires_grad=True)
print("ready", flush=True)
while True:
    loss = (w * 2).sum()
    loss.backward()
    w.grad = None
"""


# --- the seed examples ---------------------------------------------------------------------------
def test_example_1_runs_with_its_graph_and_output():
    watch = Watch("square_sum")
    result = watch.run()
    assert (result.status, result.exit_code, result.error) == ("ok", 0, None)
    assert watch.runner.state == "finished"
    assert watch.text("stdout").splitlines() == [
        " y =   tensor([ 4., 16.], grad_fn=<PowBackward0>)",
        " o =   tensor(10., grad_fn=<MulBackward0>)",
        "gradients:  tensor([2., 4.])",
    ]
    assert watch.text("stderr") == ""
    started = watch.of(Started)[0]
    assert started.pid == watch.runner.pid and started.device == "cpu"
    (changed,) = watch.of(GraphChanged)
    graph = changed.graph
    chain, node = [], graph.root
    while True:  # follow the inputs from the root down to the leaf
        chain.append(graph.node(node).name)
        inputs = graph.inputs_of(node)
        if not inputs:
            break
        node = inputs[0]  # the first input: AddBackward0 chains before UnbindBackward0
    assert chain == ["MulBackward0", "AddBackward0", "AddBackward0", "UnbindBackward0",
                     "PowBackward0", "AccumulateGrad", "x"]
    steps = {m.step.index: m.step for m in watch.of(StepRecorded)}
    assert list(steps) == [0] and steps[0].loss == 10.0
    assert isinstance(watch.all[-1], Finished)
    assert any(isinstance(m, Values) for m in watch.all)


def test_example_2_streams_500_steps():
    watch = Watch("two_layer_net")
    result = watch.run()
    assert result.status == "ok", watch.text("stderr")
    losses = {m.step.index: m.step.loss for m in watch.of(StepRecorded)
              if m.step.loss is not None}
    assert sorted(losses) == list(range(500))
    assert losses[499] < losses[0] / 1000
    zeros = [e for m in watch.of(StepRecorded) for e in m.grad_events if e.kind == "zero"]
    assert len(zeros) == 1000
    assert {e.leaf for e in zeros} == {"w1", "w2"}
    assert len(watch.of(GraphChanged)) == 1  # one structure for 500 steps
    assert len(watch.text("stdout").splitlines()) == 5
    # the queue the GUI drains holds the same messages, in order, in batches
    first = watch.runner.drain(10)
    rest = watch.runner.drain()
    assert first + rest == watch.all and len(first) == 10
    assert watch.runner.drain() == []


# --- pause, step, continue, stop -----------------------------------------------------------------
def test_pause_at_start_then_step_nodes_in_the_engines_order():
    watch = Watch("square_sum", pause_at_start=True)
    assert watch.runner.state == "idle"
    watch.start()
    paused = watch.expect(Paused)
    assert (paused.step, paused.where) == (0, "backward")
    assert paused.source.line == 22 and paused.source.file.endswith("square_sum.py")
    assert watch.runner.state == "paused"
    executed = []
    for position in range(3):
        assert watch.runner.step_node()
        watch.expect(Resumed)
        executed.append(watch.expect(NodeExecuted))
        paused = watch.expect(Paused)
        assert (paused.where, paused.position) == ("node", position)
        assert paused.node == executed[-1].node
    assert [e.position for e in executed] == [0, 1, 2]
    # values of the paused graph, read while the script waits
    assert watch.runner.request_values([0, 6])
    values = watch.expect(Values)
    assert values.values[0]["data"] == pytest.approx(10.0)
    assert values.values[6]["data"].tolist() == [2.0, 4.0]
    assert watch.runner.resume()
    assert watch.wait().status == "ok"
    (step,) = [m.step for m in watch.of(StepRecorded) if m.step.order]
    assert [e.node for e in executed] == list(step.order[:3])
    assert step.order[0] == 0  # the root runs first


def test_breakpoint_pauses_after_the_named_node():
    watch = Watch("square_sum", breakpoints=["UnbindBackward0"]).start()
    executed = watch.expect(NodeExecuted)
    paused = watch.expect(Paused)
    assert paused.where == "node" and paused.node == executed.node == 3
    watch.runner.set_breakpoints([])
    watch.runner.resume()
    assert watch.wait().status == "ok"


def test_pause_at_the_next_backward_then_stop_while_paused(endless_backward):
    watch = Watch(endless_backward)
    watch.start()
    assert watch.line() == "ready"
    assert watch.runner.pause()
    paused = watch.expect(Paused)
    assert paused.where == "backward" and paused.step >= 0
    assert paused.source.line == 6
    assert watch.runner.step_backward()
    watch.expect(Resumed)
    assert watch.expect(Paused).step == paused.step + 1
    started = time.monotonic()
    watch.runner.stop()
    result = watch.wait()
    assert time.monotonic() - started < 1.0
    assert (result.status, result.exit_code) == ("stopped", 130)
    assert watch.runner.state == "finished"
    assert watch.text("stderr") == ""  # Stop prints no traceback


def test_stop_ends_a_busy_loop_and_what_it_spawned_within_a_second(tmp_path):
    script = write(tmp_path, """\
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(child.pid, flush=True)
        while True:
            pass
    """)
    watch = Watch(script).start()
    grandchild = int(watch.line())
    grandchild_fd = os.pidfd_open(grandchild)
    child_fd = os.pidfd_open(watch.runner.pid)
    try:
        started = time.monotonic()
        watch.runner.stop()
        result = watch.wait()
        assert time.monotonic() - started < 1.0
        assert (result.status, result.exit_code) == ("stopped", 130)
        assert gone_within(child_fd, 0)
        assert gone_within(grandchild_fd, 1.0)
    finally:
        os.close(grandchild_fd)
        os.close(child_fd)


def test_stop_reaches_a_script_that_ignores_keyboard_interrupt(tmp_path):
    script = write(tmp_path, """\
        print("ready", flush=True)
        while True:
            try:
                while True:
                    pass
            except KeyboardInterrupt:
                pass
    """)
    watch = Watch(script).start()
    assert watch.line() == "ready"
    started = time.monotonic()
    watch.runner.stop()
    result = watch.wait()
    assert time.monotonic() - started < 1.0
    assert result.status == "stopped"


def test_timeout_stops_the_script(tmp_path):
    script = write(tmp_path, "while True:\n    pass\n")
    watch = Watch(script, timeout=0.5)
    result = watch.run()
    assert (result.status, result.exit_code) == ("timeout", 124)
    assert "timeout of 0.5 s" in result.message
    assert "gradviz: the script ran longer than the timeout" in watch.text("stderr")


def test_interrupt_is_ctrl_c(tmp_path):
    script = write(tmp_path, """\
        import time
        print("ready", flush=True)
        time.sleep(600)
    """)
    watch = Watch(script).start()
    assert watch.line() == "ready"
    watch.runner.interrupt()
    result = watch.wait()
    assert (result.status, result.exit_code) == ("stopped", 130)
    assert result.error["type"] == "KeyboardInterrupt"
    # the signal may land while print() is still returning, or in the sleep
    assert (result.error["file"], result.error["line"]) in {(str(script), 2), (str(script), 3)}
    assert watch.text("stderr").rstrip().endswith("KeyboardInterrupt")


def test_interrupt_works_when_gradviz_itself_ignores_sigint(tmp_path):
    """A shell script's background job starts with SIGINT ignored, and exec passes that on:
    the child must still turn SIGINT into KeyboardInterrupt."""
    script = write(tmp_path, 'import time\nprint("ready", flush=True)\ntime.sleep(600)\n')
    proc = subprocess.run(
        [sys.executable, "-c",
         "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
         "from gradviz.runner import Runner; "
         "r = Runner(sys.argv[1], stdio='pipe', "
         "           on_output=lambda s, t: r.interrupt() if 'ready' in t else None); "
         "r.start(); sys.exit(r.wait(30).exit_code)", str(script)],
        cwd=ROOT, timeout=TIMEOUT, check=False)
    assert proc.returncode == 130


def test_the_child_dies_with_its_parent(tmp_path):
    script = write(tmp_path, """\
        import os, threading
        print(os.getpid(), flush=True)
        threading.Event().wait()
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from gradviz.runner import Runner; "
         "r = Runner(sys.argv[1]); r.start(); r.wait()", str(script)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        child = int(parent.stdout.readline())
        child_fd = os.pidfd_open(child)
        parent.kill()
        parent.wait(TIMEOUT)
        assert gone_within(child_fd, 10)
        os.close(child_fd)
    finally:
        parent.kill()
        parent.stdout.close()


# --- streams -------------------------------------------------------------------------------
def test_inherited_stdout_and_stderr_keep_their_order(tmp_path):
    script = write(tmp_path, """\
        import sys
        for i in range(30):
            print("out", i)
            print("err", i, file=sys.stderr)
    """)
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys; from gradviz.runner import Runner; "
         "r = Runner(sys.argv[1]); r.start(); sys.exit(r.wait().exit_code)", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        timeout=TIMEOUT, check=False)
    assert proc.returncode == 0
    expected = [f"{kind} {i}" for i in range(30) for kind in ("out", "err")]
    assert proc.stdout.splitlines() == expected


def test_piped_streams_arrive_complete_and_in_order_each(tmp_path):
    script = write(tmp_path, """\
        import sys
        for i in range(200):
            print("out", i)
            print("err", i, file=sys.stderr)
        print("caf\\u00e9 \\u2713")
    """)
    watch = Watch(script)
    assert watch.run().status == "ok"
    out = watch.text("stdout").splitlines()
    assert out[:-1] == [f"out {i}" for i in range(200)]
    assert out[-1] == "caf\u00e9 \u2713"
    assert watch.text("stderr").splitlines() == [f"err {i}" for i in range(200)]


def test_argv_path_and_main(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 42\n", encoding="utf-8")
    script = write(tmp_path, """\
        import json, sys, helper
        import torch, torch.nn, torch.optim, torch.autograd
        print(json.dumps({"argv": sys.argv, "name": __name__, "path0": sys.path[0],
                          "helper": helper.VALUE, "file": __file__,
                          "torch": torch.__name__}))
    """)
    watch = Watch(script, args=["--lr", "0.1", "x y"])
    assert watch.run().status == "ok", watch.text("stderr")
    seen = json.loads(watch.text("stdout"))
    assert seen == {"argv": [str(script), "--lr", "0.1", "x y"], "name": "__main__",
                    "path0": str(tmp_path), "helper": 42, "file": str(script),
                    "torch": "engine"}


def test_notebook_with_a_magic_line(tmp_path):
    cells = [
        ("code", ["%matplotlib inline\n", "import torch\n"]),
        ("markdown", ["Some text"]),
        ("code", ["x = torch.tensor([1., 2.], requires_grad=True)\n",
                  "!echo not run\n", "(x * x).sum().backward()\n", "print(x.grad)\n"]),
        ("code", ["raise ValueError('in cell 4')"]),
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": k, "metadata": {}, "source": s} for k, s in cells]}
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    watch = Watch(path)
    result = watch.run()
    assert watch.text("stdout") == "tensor([2., 4.])\n"
    stderr = watch.text("stderr")
    assert stderr.count("gradviz: skipped 2 IPython magic or shell lines in demo.ipynb") == 1
    assert len(watch.of(StepRecorded)) >= 1
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error["file"] == str(path)
    assert (result.error["cell"], result.error["cell_line"]) == (4, 1)
    assert "raise ValueError('in cell 4')" in result.error["traceback"]


def test_a_fork_of_the_script_runs_unrecorded(tmp_path):
    script = write(tmp_path, """\
        import os, torch
        w = torch.ones(2, requires_grad=True)
        pid = os.fork()
        (w * 3).sum().backward()
        if pid:
            os.waitpid(pid, 0)
            print("parent", w.grad)
    """)
    watch = Watch(script)
    assert watch.run().status == "ok", watch.text("stderr")
    assert watch.text("stdout") == "parent tensor([3., 3.])\n"
    assert len(watch.of(Finished)) == 1
    assert {m.step.index for m in watch.of(StepRecorded)} == {0}
    assert {m.pid for m in watch.of(Started)} == {watch.runner.pid}


# --- the state machine and restarts --------------------------------------------------------
def test_states_and_a_restart_from_on_exit():
    states = []
    paused = queue.Queue()
    ended = queue.Queue()
    runner = None

    def on_message(message):
        if isinstance(message, (Paused, Resumed)):
            states.append(runner.state)  # already moved when the message is delivered
        if isinstance(message, Paused):
            paused.put(message)

    def on_exit(result):
        states.append(runner.state)
        ended.put(result)
        if len(states) == 3:
            runner.start()  # a new child, started from the runner's own thread

    runner = Runner("square_sum", stdio="pipe", on_output=lambda *a: None, on_exit=on_exit,
                    on_message=on_message, pause_at_start=True)
    assert runner.state == "idle"
    with pytest.raises(RuntimeError, match="has not been started"):
        runner.wait(0)
    runner.start()
    with pytest.raises(RuntimeError, match="still running"):
        runner.start()
    for _ in range(2):
        paused.get(timeout=TIMEOUT)
        assert runner.resume()
        assert ended.get(timeout=TIMEOUT).status == "ok"
    assert states == ["paused", "running", "finished", "paused", "running", "finished"]
    assert not runner.pause()  # no child: commands are refused, not raised


@pytest.mark.skipif(__import__("engine").cuda.is_available(), reason="CuPy is installed")
def test_cuda_without_cupy_fails_before_spawning():
    from engine._device import CUDA_HELP

    watch = Watch("square_sum", device="cuda")
    result = watch.run()
    assert (result.status, result.exit_code) == ("error", 2)
    assert result.message == CUDA_HELP
    assert watch.runner.pid is None
    assert watch.text("stderr") == f"gradviz: {CUDA_HELP}\n"


def test_a_callback_that_raises_does_not_stall_the_run(capsys):
    def bad(*_args):
        raise RuntimeError("callback bug")

    runner = Runner("square_sum", stdio="pipe", on_message=bad, on_output=bad)
    runner.start()
    assert runner.wait(TIMEOUT).status == "ok"
    assert "callback bug" in capsys.readouterr().err


def test_the_child_has_a_session_of_its_own(endless_backward):
    """So Stop reaches everything it started, and Ctrl+C in a terminal reaches gradviz (which
    forwards it with ``interrupt``), not the script directly."""
    watch = Watch(endless_backward).start()
    assert watch.line() == "ready"
    assert os.getsid(watch.runner.pid) == watch.runner.pid
    assert os.getpgid(watch.runner.pid) != os.getpgid(0)
    watch.runner.stop()
    assert watch.wait().exit_code == 130
