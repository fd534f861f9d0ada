"""Automatic gradient diagnostics: detectors that watch a recorded run and name the bug, the
node and the script line (DESIGN.md, "Command line": the ``--report`` ``diagnostics``).

A ``Diagnostician`` runs in the script's process beside the ``Recorder``. The recorder's
messages pass through it (``relay``), and the detectors run once per ``backward()``, when its
``StepRecorded`` goes by, on what the recorder already holds (graph ids, source lines, leaf
gradient norms, the forward outputs and backward gradients of the step, the lines of the
updates) instead of copying or recomputing anything. It is an engine listener too, but for
little: a ``.grad`` being cleared, a backward failing, and the in-place ops of the first
forward pass; a few engine entry points are wrapped while it is attached (``Function.apply``,
``Tensor.data``, ``detach``, ``item``, ``no_grad``). A training step costs it a few
microseconds of Python (``benchmarks/diagnostics_overhead.py``).
Each finding is sent at once as a ``protocol.Diagnosed`` message and again, all together, in
``Finished``.

The detectors, one module per family:

==========================  ==============================================================
kind                        module (what fires it)
==========================  ==============================================================
``missing-zero-grad``       ``accumulation``: a leaf's ``.grad`` grows on top of an earlier
                            step's value although the leaf was updated in between
``nan-or-inf``              ``nonfinite``: the first forward or backward node that produced
                            NaN/Inf from finite inputs (looked for when the loss or a
                            gradient norm stops being finite)
``gradcheck-failed``        ``gradcheck``: a custom ``autograd.Function`` whose backward
                            disagrees with float64 central differences (first call only)
``inplace-modified``        ``graph_errors``: the version-counter error, with the line of
                            the in-place op and the node that needed the value
``backward-twice``          ``graph_errors``: a backward through freed saved values
``dead-relu``               ``dead_relu``: a ReLU / clamp(min=0) output all zeros, K steps
``exploding-gradient``      ``gradient_scale``: a gradient norm growing by orders of
                            magnitude while the same loss rises (or overflows)
``vanishing-gradient``      ``gradient_scale``: the earliest layers' relative gradients
                            orders of magnitude below the last ones', over a window
``no-gradient``             ``no_gradient``: a leaf meant to learn, used in the forward pass
                            (through .data, .detach(), .item(), no_grad), never given a
                            gradient
==========================  ==============================================================

Thresholds are the fields of :class:`Thresholds` (documented there); set them in code
(``Diagnostician(emit, Thresholds(dead_relu_steps=3))``) or, for ``gradviz run`` and the
app, with the environment variable ``GRADVIZ_THRESHOLDS="dead_relu_steps=3,exploding_orders=2"``.
"""

from __future__ import annotations

import collections
import os
import sys
from dataclasses import dataclass, fields

from ..protocol import Diagnosed, StepRecorded

KINDS = (
    "missing-zero-grad", "nan-or-inf", "gradcheck-failed", "inplace-modified", "backward-twice",
    "dead-relu", "exploding-gradient", "vanishing-gradient", "no-gradient",
)
THRESHOLDS_ENV = "GRADVIZ_THRESHOLDS"
# in-place ops that overwrite a leaf rather than step it: loading weights (a DQN's target
# network, load_state_dict), not training
OVERWRITES = frozenset({"copy_", "fill_", "zero_", "normal_", "uniform_"})
RECENT_EVENTS = 4  # steps whose .grad events are kept, for the lines of the latest updates


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``node`` is a graph node id in the graph of ``structure`` (the structure
    hash of step ``step``'s graph), or None where the culprit is not in any recorded graph (a
    leaf detached from it); ``line`` (in ``file``) is the script line to show."""

    kind: str
    message: str
    node: int | None = None
    line: int | None = None
    file: str | None = None
    step: int | None = None
    structure: str = ""
    node_name: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "node": self.node,
                "line": self.line, "file": self.file, "step": self.step,
                "structure": self.structure, "node_name": self.node_name}

    @classmethod
    def from_json(cls, data: dict) -> Diagnostic:
        return cls(data["kind"], data["message"], data.get("node"), data.get("line"),
                   data.get("file"), data.get("step"), data.get("structure") or "",
                   data.get("node_name") or "")


def by_node(diagnostics, structure: str | None = None) -> dict[int, list[Diagnostic]]:
    """Diagnostics grouped by the graph node they point at (what badges on a graph need):
    only those of ``structure`` (a ``Graph.structure_hash``) when it is given."""
    out: dict[int, list[Diagnostic]] = {}
    for d in diagnostics:
        if d.node is None or (structure is not None and d.structure != structure):
            continue
        out.setdefault(d.node, []).append(d)
    return out


@dataclass
class Thresholds:
    """When the detectors fire. Every value can be set; the defaults are tuned so that
    correct training code (the seed examples among it) raises nothing."""

    #: detectors that run (drop a kind to switch its detector off)
    kinds: tuple[str, ...] = KINDS
    #: dead-relu: consecutive backward passes in which the ReLU's output was all zeros
    dead_relu_steps: int = 5
    #: exploding-gradient: steps in the window a gradient norm is compared over (steps of the
    #: same loss: the same backward() line, over as many leaves)
    exploding_window: int = 10
    #: exploding-gradient: how many orders of magnitude (log10) the norm must grow by
    exploding_orders: float = 3.0
    #: exploding-gradient: and the loss must have grown by this factor over the same window
    exploding_loss_rise: float = 10.0
    #: vanishing-gradient: consecutive steps the condition must hold
    vanishing_window: int = 10
    #: vanishing-gradient: earliest layers' relative gradient (|grad| / |param|) below the
    #: last layers' by this many orders of magnitude
    vanishing_orders: float = 4.0
    #: vanishing-gradient: or below this fraction of the parameter's norm while the last
    #: layers' are at least 100 times larger
    vanishing_fraction: float = 1e-9
    #: vanishing-gradient: the earliest and last layers' parameter norms are recomputed at most
    #: every this many steps (ten times less often while the gradients are far from vanishing)
    vanishing_refresh: int = 10
    #: gradcheck-failed: worst relative error between backward and finite differences
    gradcheck_rtol: float = 1e-2
    #: gradcheck-failed: elements perturbed per input at most (spread over the input)
    gradcheck_samples: int = 12
    #: gradcheck-failed: seconds one Function's check may take (fewer samples if slower)
    gradcheck_budget: float = 0.5
    #: no-gradient: backward passes without a gradient, after the leaf was used, before the
    #: leaf is reported during the run (it is also reported at the end of the run)
    no_gradient_steps: int = 10

    @classmethod
    def from_env(cls, environ=None) -> Thresholds:
        """Defaults overridden by ``GRADVIZ_THRESHOLDS="name=value,..."`` (a bad entry is
        reported on stderr and ignored)."""
        text = (os.environ if environ is None else environ).get(THRESHOLDS_ENV, "")
        t = cls()
        types = {f.name: f.type for f in fields(cls)}
        for item in filter(None, (s.strip() for s in text.split(","))):
            name, _, value = item.partition("=")
            name = name.strip()
            try:
                if name not in types:
                    raise KeyError(name)
                if name == "kinds":
                    setattr(t, name, tuple(k for k in value.split("+") if k in KINDS))
                else:
                    kind = int if types[name] in (int, "int") else float
                    setattr(t, name, kind(value))
            except (KeyError, ValueError):
                print(f"gradviz: ignoring {THRESHOLDS_ENV} entry {item!r}", file=sys.stderr)
        return t


@dataclass
class _Failure:
    detector: str
    error: BaseException


class Diagnostician:
    """Engine listener that runs the detectors. Attach it *after* the recorder it follows::

        diag = Diagnostician(emit)
        recorder = Recorder(diag.relay)      # the recorder's messages pass through diag
        diag.follow(recorder)
        add_listener(recorder); diag.attach()
        ...                                  # the script runs
        diag.detach(); recorder.finish(); diag.finish()

    ``diagnostics`` lists what was found. A detector that fails (a bug of ours) is switched
    off with one line on stderr; it never breaks the user's script (``strict=True``, for
    tests, raises instead).
    """

    def __init__(self, emit, thresholds: Thresholds | None = None, *, strict: bool = False):
        from . import (
            accumulation,
            dead_relu,
            gradcheck,
            gradient_scale,
            graph_errors,
            no_gradient,
            nonfinite,
        )
        from .context import RecorderView

        self.emit = emit
        self.thresholds = thresholds or Thresholds()
        self.strict = strict
        self.diagnostics: list[Diagnostic] = []
        self.kinds_found: set[str] = set()
        # the .grad events of the last steps; id(leaf) -> (Source, op) of its latest update
        # through .data (which the recorder does not see)
        self._recent_events: collections.deque = collections.deque(maxlen=RECENT_EVENTS)
        self._data_update_lines: dict[int, tuple] = {}
        self.failures: list[_Failure] = []
        self.view = RecorderView(None)
        self._keys: set = set()
        on = set(self.thresholds.kinds)
        self.accumulation = accumulation.MissingZeroGrad(self) if "missing-zero-grad" in on \
            else None
        self.nonfinite = nonfinite.NonFinite(self) if "nan-or-inf" in on else None
        self.gradcheck = gradcheck.GradCheck(self) if "gradcheck-failed" in on else None
        self.graph_errors = graph_errors.GraphErrors(self)
        self.dead_relu = dead_relu.DeadRelu(self) if "dead-relu" in on else None
        self.scale = gradient_scale.GradientScale(self)
        self.no_gradient = no_gradient.NoGradient(self) if "no-gradient" in on else None
        self._attached = False
        self._last_step = -1
        self._recorder = None
        self._twice_on = self.graph_errors.twice_on
        if self.accumulation is not None:
            # the engine's grad_did_zero goes straight to the detector (one call, each .grad
            # cleared, in the middle of every step)
            self.grad_did_zero = self.accumulation.zeroed

    # --- wiring -----------------------------------------------------------------------------
    def follow(self, recorder) -> None:
        self.view = type(self.view)(recorder)
        self._recorder = recorder

    def attach(self) -> None:
        from engine import events

        if self._last_step < 0:
            self.tensor_did_change_inplace = self._on_inplace
        events.add_listener(self)
        if self.no_gradient is not None:
            self.no_gradient.install()
        if self.accumulation is not None:
            self.accumulation.install()
        if self.gradcheck is not None:
            self.gradcheck.install()
        self._attached = True

    def detach(self) -> None:
        from engine import events

        events.remove_listener(self)
        vars(self).pop("tensor_did_change_inplace", None)
        if self.gradcheck is not None:
            self.gradcheck.uninstall()
        if self.accumulation is not None:
            self.accumulation.uninstall()
        if self.no_gradient is not None:
            self.no_gradient.uninstall()
        self._attached = False

    def relay(self, message) -> None:
        """The recorder's ``emit``: forwards each message, then reads the steps.

        Most detectors run here, once per ``backward()``, on the ``StepRecorded`` the recorder
        sends when the backward is over (done or failed): what they read (the loss, the leaf
        gradient norms, the forward outputs, the graph ids, the leaves, the lines of the
        updates) is held by the recorder or carried by the message, and needs no engine
        event of ours."""
        self.emit(message)
        if message.__class__ is StepRecorded:
            step = message.step
            # the .grad events since the last step (a named leaf's updates among them, with
            # their lines): read only when a finding needs a line
            self._recent_events.append(message.grad_events)
            if step.index <= self._last_step or not step.structure:
                return  # the last step re-sent with detail, or events after the last one
            self._last_step = step.index
            try:
                if "tensor_did_change_inplace" in vars(self):
                    self._stop_inplace()
                self._step_finished(step)
            except Exception as exc:  # noqa: BLE001
                self._failed("step", exc)

    def _step_finished(self, step) -> None:
        # this runs once per training step: the detectors' fast paths are spelled out here
        gradcheck = self.gradcheck
        if gradcheck is not None and gradcheck.pending:
            gradcheck.resolve()
        norms = step.grad_norms
        total = sum(norms.values()) if norms else 0.0
        loss = step.loss
        nonfinite = self.nonfinite
        # (x - x is 0.0 for a finite x, NaN, which is true, for inf and NaN)
        if nonfinite is not None and (loss is None or loss - loss or total - total) \
                and not nonfinite.done:
            nonfinite.step_recorded(step, total)
        if self.accumulation is not None:
            self.accumulation.step_recorded(step)
        if self.dead_relu is not None:
            self.dead_relu.step_recorded()
        if self._twice_on:  # backward-twice: which backward freed what
            self.graph_errors._recent.append((step.index, step.source, self.view.node_ids()))
        no_gradient = self.no_gradient
        if no_gradient is not None and (no_gradient._candidates or no_gradient._cuts):
            no_gradient.step_recorded()
        scale = self.scale
        if scale.exploding or scale.vanishing:
            scale.step_recorded(step, total)

    # --- engine events ----------------------------------------------------------------------
    # Only what the recorder's messages do not carry: a leaf's .grad being cleared
    # (``grad_did_zero``, bound in __init__ to missing-zero-grad's ``zeroed``: the recorder
    # keys it by name, and two leaves can share one), in-place changes that are not a named
    # leaf's update (for the line of an inplace-modified: the recorder logs those), and a
    # backward's failure. They run in the middle of every step: each returns at once in a
    # training loop's steady state.
    def _on_inplace(self, tensor, op) -> None:
        """``tensor_did_change_inplace`` until the first backward is over: the line of each
        in-place op, for an inplace-modified in the first backward (the graph of a later one
        has its in-place ops' lines, the recorder logs the named leaves' updates; listening to
        every step's updates and .grad zeroing would cost more than everything else)."""
        if tensor._grad_owner is not None or not self.graph_errors.inplace_on:
            return  # zeroing or updating a .grad buffer: never a saved value
        try:
            self.graph_errors.record(tensor, op, self.view.user_source())
        except Exception as exc:  # noqa: BLE001
            self._failed("in-place", exc)

    def _stop_inplace(self) -> None:
        if "tensor_did_change_inplace" in vars(self):
            from engine import events

            del self.tensor_did_change_inplace
            events.refresh()

    def backward_did_fail(self, roots, error) -> None:
        try:
            self.graph_errors.backward_failed(error)
        except Exception as exc:  # noqa: BLE001
            self._failed("backward failure", exc)

    def finish(self) -> None:
        """At the end of the run: what can only be decided once it is over."""
        try:
            if self.gradcheck is not None and self.gradcheck.pending:
                self.gradcheck.resolve(final=True)
            if self.nonfinite is not None:
                self.nonfinite.run_finished()
            if self.no_gradient is not None:
                self.no_gradient.run_finished()
            if self.accumulation is not None:
                self.accumulation.run_finished()
        except Exception as exc:  # noqa: BLE001
            self._failed("finish", exc)

    # --- for the detectors ------------------------------------------------------------------
    def update_source(self, tensor):
        """The line of the latest update of a leaf in the last few steps (an update that
        steps it, not a copy or a fill), or None."""
        found = self._latest_change(tensor, training=True)
        return None if found is None else found[0]

    def last_change(self, tensor) -> tuple | None:
        """(Source, op) of the latest in-place change of a leaf in the last few steps."""
        return self._latest_change(tensor, training=False)

    def _latest_change(self, tensor, training: bool) -> tuple | None:
        name = self.view.known_name(tensor)
        if name is not None:
            for events in reversed(self._recent_events):
                for e in reversed(events):
                    if e.kind == "update" and e.leaf == name and \
                            not (training and e.how in OVERWRITES):
                        return e.source, e.how
        return self._data_update_lines.get(id(tensor))

    def was_updated(self, tensor) -> bool:
        """Whether the script has changed a leaf in place (its version counter moved, or
        its .data was updated)."""
        return tensor._version[0] > 0 or id(tensor) in self._data_update_lines

    def report(self, kind: str, message: str, node: int | None = None, source=None, *,
               key=None, node_name: str = "", step: int | None = None) -> Diagnostic | None:
        """Record and send a finding once per ``key`` (default: kind and node)."""
        key = (kind, node) if key is None else (kind, key)
        if key in self._keys:
            return None
        self._keys.add(key)
        view = self.view
        graph = view.graph
        if node is not None and not node_name and graph is not None:
            try:
                node_name = graph.node(node).name
            except KeyError:
                node_name = ""
        if step is None:
            step = view.step
        d = Diagnostic(
            kind, message, node,
            source.line if source is not None else None,
            source.file if source is not None else None,
            step if step is not None and step >= 0 else None,
            graph.structure_hash if graph is not None and node is not None else "",
            node_name,
        )
        self.diagnostics.append(d)
        self.kinds_found.add(kind)
        self.emit(Diagnosed(d))
        return d

    def _failed(self, where: str, exc: BaseException) -> None:
        if self.strict:
            raise exc
        self.failures.append(_Failure(where, exc))
        print(f"gradviz: diagnostics switched off after an internal error ({where}): {exc!r}",
              file=sys.stderr)
        if self._attached:
            self.detach()


__all__ = ["KINDS", "Diagnostic", "Diagnostician", "Thresholds", "by_node"]
