"""Every message the script's process and the debugger exchange, and how they are framed.

Frames are a 4-byte big-endian length followed by a pickle of a list of messages (a batch).
The channel is a pipe of its own, never the script's stdout, so ``print`` cannot corrupt it.
Messages are plain dataclasses; nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .trace import GradEvent, Graph, Source, Step

if TYPE_CHECKING:
    from .diagnostics import Diagnostic

_HEADER = struct.Struct(">I")
MAX_FRAME = 512 * 1024 * 1024


# --- child -> parent ---------------------------------------------------------------------------
@dataclass
class Started:
    pid: int
    script: str
    device: str


@dataclass
class GraphChanged:
    """A backward ran over a structure not seen before in this run."""

    step: int
    graph: Graph


@dataclass
class StepRecorded:
    """One ``backward()`` finished. ``step.order`` carries gradient summaries when
    ``detailed`` (throttled), otherwise node ids only."""

    step: Step
    grad_events: list[GradEvent]
    detailed: bool

    def __reduce__(self):
        return (StepRecorded, (self.step, self.grad_events, self.detailed))


@dataclass
class NodeExecuted:
    """Sent only while stepping node by node: the live position inside a backward."""

    step: int
    position: int  # index in the step's execution order
    node: int


@dataclass
class Paused:
    step: int
    where: str  # "backward" (before a backward starts) or "node" (after a node ran)
    node: int | None = None
    position: int | None = None
    source: Source | None = None


@dataclass
class Resumed:
    pass


@dataclass
class Values:
    """Tensor values the parent asked for, as they are now (while paused, or at the end of
    the run): each node's tensor and, for leaves, its ``.grad``. Arrays larger than the
    recorder's ``MAX_VALUE_ELEMENTS`` come as summaries only. Replies for the same step merge
    in ``RunTrace.values``; a reply for another step replaces them."""

    step: int
    values: dict[int, dict] = field(default_factory=dict)  # node id -> {"data", "grad", ...}


# How many recent steps keep their full gradient arrays, on both sides of the pipe, and how
# many bytes of arrays they may hold at most (the oldest steps go first). Every step keeps
# its summaries (loss, execution order, leaf gradient norms) whatever these say.
# Eight, not more: the child keeps the engine's own gradient arrays alive that long, and on
# Example 2 holding 16 steps' (about 8 MB) slowed the training loop by 6% (cold buffers for
# every new gradient), 8 by under 1%.
STEPS_WITH_VALUES = 8
STEP_VALUES_BYTES = 64 * 1024 * 1024


@dataclass
class StepValues:
    """The gradients of one step, right after its ``backward()``: ``values`` maps a leaf's
    id to ``{"grad": array}`` (its ``.grad`` then) and an autograd node's id to
    ``{"grad_in": array}`` (the gradient that flowed into it). Sent for throttled detailed
    steps while the script runs, and for the last ``STEPS_WITH_VALUES`` steps when it pauses
    or ends; ``RunTrace`` keeps the latest ``STEPS_WITH_VALUES`` of them."""

    step: int
    structure: str  # Graph.structure_hash: whose node ids these are
    values: dict[int, dict] = field(default_factory=dict)
    nbytes: int = 0  # of the arrays in ``values``


@dataclass
class LiveBackward:
    """The backward in progress while the script is paused inside it (stepping node by
    node, or at a breakpoint): the nodes that ran so far, in order, with their gradient
    summaries (``runs``: what ``Step.detail`` holds for a finished step), and the gradient
    that flowed into each (``values``: node id -> ``{"grad_in": array}``). Sent with the
    values the debugger asks for while paused."""

    step: int
    structure: str
    runs: tuple = ()  # NodeRun, in execution order
    values: dict[int, dict] = field(default_factory=dict)


@dataclass
class Diagnosed:
    """A detector found a problem (``gradviz.diagnostics``); sent as soon as it is found."""

    diagnostic: Diagnostic


@dataclass
class Finished:
    status: str  # "ok" | "error" | "exit" | "stopped" (KeyboardInterrupt: Stop or Ctrl+C)
    exit_code: int
    error: dict | None = None  # {"type", "message", "line", "file", "traceback"}
    diagnostics: list[dict] = field(default_factory=list)  # every Diagnostic.to_json()


# --- parent -> child ---------------------------------------------------------------------------
@dataclass
class Pause:
    """Pause before the next ``backward()`` starts."""


@dataclass
class Continue:
    pass


@dataclass
class StepBackward:
    """Run until just before the next ``backward()`` starts, then pause again."""


@dataclass
class StepNode:
    """Run one more backward node, then pause."""


@dataclass
class SetBreakpoints:
    node_names: tuple[str, ...] = ()


@dataclass
class RequestValues:
    node_ids: tuple[int, ...]


@dataclass
class Stop:
    pass


# --- framing -----------------------------------------------------------------------------------
def encode(messages: list) -> bytes:
    body = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def write_messages(fd: int, messages: list) -> None:
    """Write one frame; blocks while the reader is behind (that is the back-pressure)."""
    data = memoryview(encode(messages))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class FrameReader:
    """Reads frames from a file descriptor; ``read()`` returns a list of messages or None at
    end of stream."""

    def __init__(self, fd: int):
        self._file = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115

    def _exactly(self, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = self._file.read(n)
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read(self) -> list | None:
        head = self._exactly(_HEADER.size)
        if head is None:
            return None
        (length,) = _HEADER.unpack(head)
        if length > MAX_FRAME:
            raise ValueError(f"frame of {length} bytes is larger than the protocol allows")
        body = self._exactly(length)
        if body is None:
            return None
        return pickle.loads(body)
