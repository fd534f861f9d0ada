"""Automatic gradient diagnostics: detectors that watch a recorded run and name the bug, the
node and the script line (DESIGN.md, "Command line": the ``--report`` ``diagnostics``).

A ``Diagnostician`` runs in the script's process beside the ``Recorder``: it is a second
engine listener, and the recorder's messages pass through it (``relay``) so that it reuses
what the recorder already computed (graph ids, source lines, leaf gradient norms, the
forward outputs and backward gradients of the step) instead of copying tensors. Each finding
is sent at once as a ``protocol.Diagnosed`` message and again, all together, in ``Finished``.

The detectors, one module per family:

==========================  ==============================================================
kind                        module (what fires it)
==========================  ==============================================================
``missing-zero-grad``       ``accumulation``: a leaf's ``.grad`` grows on top of an earlier
                            step's value although the leaf was updated in between
``nan-or-inf``              ``nonfinite``: the first forward or backward node that produced
                            NaN/Inf from finite inputs (checked when the loss or a gradient
                            norm stops being finite)
``gradcheck-failed``        ``gradcheck``: a custom ``autograd.Function`` whose backward
                            disagrees with float64 central differences (first call only)
``inplace-modified``        ``graph_errors``: the version-counter error, with the line of
                            the in-place op and the node that needed the value
``backward-twice``          ``graph_errors``: a backward through freed saved values
``dead-relu``               ``dead_relu``: a ReLU / clamp(min=0) output all zeros, K steps
``exploding-gradient``      ``gradient_scale``: a gradient norm growing by orders of
                            magnitude while the loss rises (or the loss overflowing)
``vanishing-gradient``      ``gradient_scale``: the earliest layers' relative gradients
                            orders of magnitude below the last ones', over a window
``no-gradient``             ``no_gradient``: a leaf that requires grad, was used in the
                            forward pass and never received a gradient
==========================  ==============================================================

Thresholds are the fields of :class:`Thresholds` (documented there); set them in code
(``Diagnostician(emit, Thresholds(dead_relu_steps=3))``) or, for ``gradviz run`` and the
app, with the environment variable ``GRADVIZ_THRESHOLDS="dead_relu_steps=3,exploding_orders=2"``.
"""

from __future__ import annotations

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
    #: exploding-gradient: steps in the window a gradient norm is compared over
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
    #: vanishing-gradient: parameter norms are recomputed every this many steps
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
        self.update_sources: dict[int, object] = {}  # id(leaf) -> Source of its last update
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

    # --- wiring -----------------------------------------------------------------------------
    def follow(self, recorder) -> None:
        self.view = type(self.view)(recorder)

    def attach(self) -> None:
        from engine import events

        events.add_listener(self)
        if self.no_gradient is not None:
            self.no_gradient.install()
        self._attached = True

    def detach(self) -> None:
        from engine import events

        events.remove_listener(self)
        if self.no_gradient is not None:
            self.no_gradient.uninstall()
        self._attached = False

    def relay(self, message) -> None:
        """The recorder's ``emit``: forwards each message, then reads the steps."""
        self.emit(message)
        if message.__class__ is StepRecorded:
            step = message.step
            try:
                if step.index <= self._last_step or not step.structure:
                    return  # the last step re-sent with detail, or events after the last one
                self._last_step = step.index
                if self.nonfinite is not None:
                    self.nonfinite.step_recorded(step)
                self.scale.step_recorded(message)
            except Exception as exc:  # noqa: BLE001
                self._failed("step", exc)

    # --- engine events ----------------------------------------------------------------------
    def op_did_record(self, node, output, inputs, source) -> None:
        gc = self.gradcheck
        if gc is not None and node.__class__ not in gc.plain:
            try:
                gc.first_seen(node, inputs, source)
            except Exception as exc:  # noqa: BLE001
                self._failed("gradcheck", exc)

    def backward_did_start(self, roots, grads, retain_graph) -> None:
        try:
            if self.gradcheck is not None and self.gradcheck.pending:
                self.gradcheck.resolve()
            if self.nonfinite is not None:
                self.nonfinite.backward_started(roots)
            if self.dead_relu is not None:
                self.dead_relu.backward_started()
        except Exception as exc:  # noqa: BLE001
            self._failed("backward start", exc)

    def grad_did_accumulate(self, tensor, after, contribution, was_empty) -> None:
        if self.accumulation is not None:
            try:
                self.accumulation.accumulated(tensor)
            except Exception as exc:  # noqa: BLE001
                self._failed("accumulation", exc)

    def grad_did_zero(self, tensor, how) -> None:
        if self.accumulation is not None:
            self.accumulation.zeroed(tensor)

    def tensor_did_change_inplace(self, tensor, op) -> None:
        if tensor._grad_owner is not None:
            return  # zeroing or updating a .grad buffer: never a saved value, never a leaf
        try:
            leaf = None
            if tensor.grad_fn is None and self.view.step >= 0:  # (not an initialisation)
                # a leaf updated directly, or through its .data (``w.data -= lr * ...``)
                leaf = tensor if tensor.requires_grad_flag else self.view.leaf_of_data(tensor)
            source = self.graph_errors.inplace(tensor, op, leaf is tensor)
            if leaf is not None:
                self.update_sources[id(leaf)] = source
                if self.accumulation is not None:
                    self.accumulation.updated(leaf, source)
                if self.no_gradient is not None and op not in OVERWRITES:
                    self.no_gradient.updated(leaf)
        except Exception as exc:  # noqa: BLE001
            self._failed("in-place", exc)

    def backward_did_finish(self, roots) -> None:
        try:
            self.graph_errors.backward_finished()
            if self.no_gradient is not None:
                self.no_gradient.backward_finished()
        except Exception as exc:  # noqa: BLE001
            self._failed("backward finish", exc)

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
        except Exception as exc:  # noqa: BLE001
            self._failed("finish", exc)

    # --- for the detectors ------------------------------------------------------------------
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
