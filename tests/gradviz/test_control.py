"""The child-side gate (pause / step / stop state machine), its control reader, and the batched
event writer, in one process: a worker thread plays the script, the test plays the parent."""

from __future__ import annotations

import os
import queue
import threading

import pytest

from gradviz.child import EventWriter
from gradviz.control import (
    PAUSE_AT_BACKWARD,
    RUN,
    STEP_NODE,
    ControlReader,
    Gate,
    StopRequested,
)
from gradviz.protocol import (
    Continue,
    Finished,
    FrameReader,
    NodeExecuted,
    Pause,
    Paused,
    RequestValues,
    Resumed,
    SetBreakpoints,
    StepBackward,
    StepNode,
    Stop,
    Values,
    write_messages,
)

TIMEOUT = 10


class Script:
    """A worker thread that calls the gate's hooks as the recorder would, one call per item
    put on ``todo``; what each call ended with (None or an exception) goes to ``done``."""

    def __init__(self, gate: Gate):
        self.gate = gate
        self.todo: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while (call := self.todo.get()) is not None:
            try:
                call()
                self.done.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self.done.put(exc)

    def call(self, fn, *args):
        self.todo.put(lambda: fn(*args))

    def finished(self):
        return self.done.get(timeout=TIMEOUT)

    def close(self):
        self.todo.put(None)
        self.thread.join(TIMEOUT)


@pytest.fixture
def sent():
    return queue.Queue()


@pytest.fixture
def make(sent):
    scripts = []

    def make_gate(**kw):
        kw.setdefault("interrupt", lambda: sent.put("interrupt"))
        gate = Gate(sent.put, **kw)
        script = Script(gate)
        scripts.append(script)
        return gate, script

    yield make_gate
    for script in scripts:
        script.gate.handle(Stop())
        script.close()


def expect(sent: queue.Queue, kind):
    message = sent.get(timeout=TIMEOUT)
    assert isinstance(message, kind), message
    return message


def test_running_freely_nothing_pauses(make, sent):
    gate, script = make()
    assert gate.mode == RUN and not gate.stepping
    script.call(gate.before_backward, 0, None)
    assert script.finished() is None
    assert sent.empty()


def test_pause_at_next_backward_then_continue(make, sent):
    gate, script = make()
    gate.handle(Pause())
    assert gate.mode == PAUSE_AT_BACKWARD
    script.call(gate.before_backward, 3, "src")
    paused = expect(sent, Paused)
    assert (paused.step, paused.where, paused.source) == (3, "backward", "src")
    assert gate.paused and script.done.empty()
    gate.handle(Continue())
    expect(sent, Resumed)
    assert script.finished() is None
    assert gate.mode == RUN and not gate.paused


def test_step_node_three_times(make, sent):
    gate, script = make(pause_at_start=True)
    script.call(gate.before_backward, 0, None)
    expect(sent, Paused)
    for position, node in enumerate((10, 11, 12)):
        gate.handle(StepNode())
        assert gate.stepping
        expect(sent, Resumed)
        assert script.finished() is None
        script.call(gate.after_node, 0, position, node, "AddBackward0")
        executed = expect(sent, NodeExecuted)
        paused = expect(sent, Paused)
        assert (executed.position, executed.node) == (position, node)
        assert (paused.where, paused.position, paused.node) == ("node", position, node)
    gate.handle(Continue())
    expect(sent, Resumed)
    assert script.finished() is None
    assert not gate.stepping
    script.call(gate.after_node, 0, 3, 13, "AddBackward0")
    assert script.finished() is None
    assert sent.empty()


def test_step_node_stops_before_the_next_backward(make, sent):
    gate, script = make()
    gate.handle(StepNode())
    assert gate.mode == STEP_NODE
    script.call(gate.before_backward, 1, None)
    assert expect(sent, Paused).where == "backward"
    gate.handle(StepBackward())
    expect(sent, Resumed)
    assert script.finished() is None
    assert gate.mode == PAUSE_AT_BACKWARD and not gate.stepping


def test_breakpoints_pause_after_the_named_node(make, sent):
    gate, script = make(breakpoints=("MmBackward0",))
    assert gate.stepping
    script.call(gate.after_node, 0, 0, 1, "SumBackward0")
    assert script.finished() is None
    script.call(gate.after_node, 0, 1, 2, "MmBackward0")
    assert expect(sent, NodeExecuted).node == 2
    assert expect(sent, Paused).node == 2
    gate.handle(SetBreakpoints(()))
    gate.handle(Continue())
    expect(sent, Resumed)
    assert script.finished() is None
    assert not gate.stepping


def test_stop_while_paused_unwinds_the_script(make, sent):
    gate, script = make(pause_at_start=True)
    script.call(gate.before_backward, 0, None)
    expect(sent, Paused)
    gate.handle(Stop())
    assert isinstance(script.finished(), StopRequested)
    assert issubclass(StopRequested, KeyboardInterrupt)
    assert gate.stop_requested


def test_stop_while_running_interrupts(make, sent):
    gate, _script = make()
    gate.handle(Stop())
    assert sent.get(timeout=TIMEOUT) == "interrupt"
    # a script that swallowed the interrupt is stopped at its next pause point
    with pytest.raises(StopRequested):
        gate.handle(Pause())
        gate.before_backward(0, None)


def test_values_are_read_on_the_script_thread_while_paused(make, sent):
    gate, script = make(pause_at_start=True)
    readers = []

    def values(node_ids):
        readers.append(threading.current_thread())
        return Values(7, {i: {"data": i} for i in node_ids})

    gate.values = values
    script.call(gate.before_backward, 7, None)
    expect(sent, Paused)
    gate.handle(RequestValues((1, 2)))
    answer = expect(sent, Values)
    assert answer.values == {1: {"data": 1}, 2: {"data": 2}}
    assert readers == [script.thread]
    gate.handle(Continue())
    expect(sent, Resumed)
    # while running, a request waits for the next backward (tensors are not read mid-update)
    gate.handle(RequestValues((3,)))
    assert sent.empty()
    script.call(gate.before_backward, 8, None)
    assert script.finished() is None
    assert expect(sent, Values).values == {3: {"data": 3}}


def test_control_reader_applies_commands_and_sees_the_parent_go(make, sent):
    gate, _script = make()
    r, w = os.pipe()
    gone = threading.Event()
    reader = ControlReader(r, gate, on_parent_gone=gone.set)
    reader.start()
    write_messages(w, [Pause(), SetBreakpoints(("PowBackward0",))])
    os.close(w)  # the parent died
    assert gone.wait(TIMEOUT)
    reader.join(TIMEOUT)
    os.close(r)
    assert gate.mode == PAUSE_AT_BACKWARD
    assert gate.breakpoints == {"PowBackward0"}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_event_writer_batches_and_flushes_what_the_parent_waits_for():
    r, w = os.pipe()
    clock = FakeClock()
    writer = EventWriter(w, interval=0.03, clock=clock, watchdog=None)
    frames = FrameReader(r)
    writer.emit("a")
    writer.emit("b")
    clock.now = 0.03  # the oldest is now one interval old: the next emit sends the batch
    writer.emit("c")
    assert frames.read() == ["a", "b", "c"]
    writer.emit("d")
    writer.emit(Paused(0, "backward"))  # urgent: goes out at once, after what came before
    assert [type(m).__name__ for m in frames.read()] == ["str", "Paused"]
    writer.emit("e")
    writer.emit(Finished("ok", 0))
    assert [type(m).__name__ for m in frames.read()] == ["str", "Finished"]
    writer.emit("f")
    writer.close()  # sends the rest
    assert frames.read() == ["f"]
    os.close(w)
    assert frames.read() is None
    os.close(r)


def test_event_writer_flushes_a_quiet_script_on_its_own():
    r, w = os.pipe()
    writer = EventWriter(w, interval=0.01, watchdog=0.01)
    writer.emit("lonely")
    assert FrameReader(r).read() == ["lonely"]  # no further emit: the watchdog sent it
    writer.close()
    os.close(w)
    os.close(r)


def test_event_writer_reports_a_vanished_parent():
    r, w = os.pipe()
    os.close(r)
    broken = threading.Event()
    writer = EventWriter(w, on_broken=broken.set)
    writer.emit(Finished("ok", 0))
    assert broken.is_set()
    writer.close()
    os.close(w)
