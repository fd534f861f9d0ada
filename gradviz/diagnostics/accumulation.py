"""``missing-zero-grad``: a leaf's ``.grad`` received a new contribution on top of an earlier
step's value although the leaf was updated in between, and that mixed gradient was then
used to update the leaf again: the forgotten ``w.grad.zero_()`` / ``optimizer.zero_grad()``.

Two things that look alike are intended and raise nothing: several backward passes with no
update in between (gradient accumulation), and a gradient that lands on top of an old one
but is cleared before the next update (a GAN's generator step flowing through the
discriminator, whose gradients are zeroed before its own next update).

Nothing is computed on tensors and nothing runs per update: after each backward the leaves
of its graph are compared with what they were after their previous one. A leaf's version
counter (which every in-place update moves) says whether it was updated since; the engine's
``grad_did_zero`` event records the version at which its gradient was cleared, which orders
the zeroing against the updates; and the identity of its ``.grad`` tensor (accumulation adds
in place, and bumps its version) says whether this backward added on top of the old value.
Updates through ``.data`` (``w.data -= lr * w.grad.data``, ``w.data.sub_(...)``), which
leave the version counter alone, are seen by wrapping ``Tensor.data`` while attached: reading
the ``.data`` of a leaf that has a gradient keeps the view it hands out, which is looked at
(its own version counter) after the next backward; assigning ``w.data = ...`` counts at once.
"""

from __future__ import annotations

import sys
import weakref

from engine._tensor import Tensor

from ..naming import user_frame
from ..trace import Source
from .context import at

MAX_VIEWS = 10_000  # .data views of leaves kept until the next backward


class _Leaf:
    __slots__ = ("ref", "grad", "grad_version", "version", "step", "updated", "stale",
                 "zeroed_at")

    def __init__(self, tensor, version: int, step: int, grad):
        self.ref = weakref.ref(tensor)
        self.grad = weakref.ref(grad)  # the .grad tensor seen after the last backward
        self.grad_version = grad._version[0]
        self.version = version  # the leaf's (updates counted) after its last backward
        self.step = step  # of the latest accumulation
        self.updated = False  # since then
        self.stale = None  # (step it was added in, earlier step, backward line) once mixed
        self.zeroed_at = None  # the leaf's version when its .grad was first cleared since


class MissingZeroGrad:
    def __init__(self, diag):
        self.diag = diag
        self._leaves: dict[int, _Leaf] = {}
        self._data_updates: dict[int, int] = {}  # id(leaf) -> updates through .data
        self._views: dict[int, tuple] = {}  # id(.data view) -> (leaf, view, line)
        self._saved = None

    # --- events -------------------------------------------------------------------------------
    def zeroed(self, tensor, how=None) -> None:
        """The engine's ``grad_did_zero`` (the diagnostician hands this method to it). (A
        state found under the id of a tensor that has died is replaced after the next
        backward anyway: no need to check it is this tensor's.)"""
        if self._views:
            self._flush_views()
        s = self._leaves.get(id(tensor))
        if s is not None and s.zeroed_at is None:
            s.zeroed_at = tensor._version[0] + (
                self._data_updates.get(id(tensor), 0) if self._data_updates else 0)

    def data_updated(self, leaf, source, op: str) -> None:
        key = id(leaf)
        self._data_updates[key] = self._data_updates.get(key, 0) + 1
        self.diag._data_update_lines[key] = (source, op)

    # --- updates through .data ----------------------------------------------------------------
    def install(self) -> None:
        if self._saved is not None:
            return
        data = Tensor.__dict__["data"]
        self._saved = data
        views = self._views
        seen = self

        def data_get(t):
            view = data.fget(t)
            if t._grad is not None and t.requires_grad_flag and t.grad_fn is None \
                    and len(views) < MAX_VIEWS:
                views[id(view)] = (t, view, _caller())
            return view

        def data_set(t, value):
            data.fset(t, value)
            if t.requires_grad_flag and t.grad_fn is None:
                kept = views.pop(id(value), None)
                seen.data_updated(t, kept[2] if kept else _caller(), "data =")

        Tensor.data = property(data_get, data_set, data.fdel, data.__doc__)

    def uninstall(self) -> None:
        if self._saved is not None:
            Tensor.data = self._saved
            self._saved = None

    def _flush_views(self) -> None:
        """The .data views handed out since the last backward that were changed in place
        (``w.data.sub_(...)``): updates of their leaves."""
        views = list(self._views.values())
        self._views.clear()
        for leaf, view, source in views:
            if view._version[0]:
                self.data_updated(leaf, source, "an in-place op on .data")

    # --- after each backward ----------------------------------------------------------------
    def step_recorded(self, step) -> None:
        if self._views:
            self._flush_views()
        index = step.index
        leaves = self._leaves
        data_updates = self._data_updates
        for _acc, t in self.diag.view.leaves():
            g = t._grad
            if g is None:
                continue
            key = id(t)
            version = t._version[0]
            if data_updates:
                version += data_updates.get(key, 0)
            s = leaves.get(key)
            if s is None or s.ref() is not t:
                leaves[key] = _Leaf(t, version, index, g)
                continue
            zeroed_at = s.zeroed_at
            if zeroed_at is not None and s.stale is None:
                # cleared since its last backward, nothing pending (a correct loop, every
                # step): this backward starts afresh
                s.zeroed_at, s.version, s.updated, s.step = None, version, False, index
                if s.grad() is not g:
                    s.grad = weakref.ref(g)
                s.grad_version = g._version[0]
                continue
            same = s.grad() is g
            if zeroed_at is not None or version != s.version:
                if (version if zeroed_at is None else zeroed_at) != s.version:
                    # updated since its last backward (before its .grad was cleared, if it
                    # was): with a mixed gradient, if one was left from then
                    if s.stale is not None:
                        self._report(t, s.stale)
                        s.stale = None
                    s.updated = True
                s.version = version
                if zeroed_at is not None:
                    s.zeroed_at = None
                    same = False  # cleared: this backward starts afresh
            grad_version = g._version[0]
            if not same:  # cleared or replaced
                s.stale, s.updated, s.step = None, False, index
                s.grad = weakref.ref(g)
            elif grad_version != s.grad_version:
                # added into the same buffer (its version moves with every accumulation) on
                # top of a value already used for an update
                if s.updated:
                    s.stale = (index, s.step, step.source)
                    s.updated = False
                s.step = index
            s.grad_version = grad_version

    def _between(self, t, s: _Leaf, version: int) -> bool:
        """What happened to ``t`` since its last backward: updates (reported when they used a
        mixed gradient), zeroing. True when its .grad was cleared."""
        zeroed_at = s.zeroed_at
        s.zeroed_at = None
        if (version if zeroed_at is None else zeroed_at) != s.version:  # updated (first)
            if s.stale is not None:
                self._report(t, s.stale)
                s.stale = None
            s.updated = True
        return zeroed_at is not None

    def run_finished(self) -> None:
        """An update after the last backward may still have used a mixed gradient."""
        for s in self._leaves.values():
            t = s.ref()
            if s.stale is not None and t is not None:
                version = t._version[0] + self._data_updates.get(id(t), 0)
                self._between(t, s, version)

    def _report(self, tensor, stale: tuple) -> None:
        step, earlier, backward_source = stale
        diag = self.diag
        view = diag.view
        leaf = view.leaf_name(tensor)
        update = diag.update_source(tensor)
        where = at(update)
        diag.report(
            "missing-zero-grad",
            f"{leaf}.grad is never zeroed: the backward() of step {step} added its gradient on "
            f"top of the one left from step {earlier}, after {leaf} had already been updated "
            f"with that one, and the sum was used to update {leaf} again"
            f"{' at ' + where if where else ''}. Every update then repeats all earlier "
            f"gradients. Zero the gradient after each update ({leaf}.grad.zero_() or "
            "optimizer.zero_grad()).",
            view.leaf_node(tensor), backward_source, node_name=leaf, step=step,
            # one finding per update line (an optimizer.step() updates every parameter)
            key=(update.file, update.line) if update is not None else id(tensor))


def _caller() -> Source | None:
    frame = user_frame(sys._getframe(2))
    return None if frame is None else Source(frame.f_code.co_filename, frame.f_lineno,
                                             frame.f_code.co_name)
