"""``missing-zero-grad``: a leaf's ``.grad`` received a new contribution on top of an earlier
step's value although the leaf was updated in between, and that mixed gradient was then
used to update the leaf again: the forgotten ``w.grad.zero_()`` / ``optimizer.zero_grad()``.

Two things that look alike are intended and raise nothing: several backward passes with no
update in between (gradient accumulation), and a gradient that lands on top of an old one
but is cleared before the next update (a GAN's generator step flowing through the
discriminator, whose gradients are zeroed before its own next update).

It follows the engine's ``.grad`` events per leaf tensor (a few dictionary operations per
event, nothing computed on tensors).
"""

from __future__ import annotations

import weakref

from .context import at


class _Leaf:
    __slots__ = ("ref", "step", "updated", "stale", "empty")

    def __init__(self, tensor, step: int):
        self.ref = weakref.ref(tensor)
        self.step = step  # of the latest accumulation
        self.updated = False  # since then
        self.stale = None  # (step it was added in, earlier step, backward line) once mixed
        self.empty = False  # zeroed since


class MissingZeroGrad:
    def __init__(self, diag):
        self.diag = diag
        self._leaves: dict[int, _Leaf] = {}

    def accumulated(self, tensor) -> None:
        step = self.diag.view.step
        s = self._leaves.get(id(tensor))
        if s is None or s.ref() is not tensor:
            self._leaves[id(tensor)] = _Leaf(tensor, step)
            return
        if s.empty:
            s.step, s.updated, s.stale, s.empty = step, False, None, False
            return
        if s.updated and s.step < step:
            s.stale = (step, s.step, self.diag.view.backward_source)
        s.step, s.updated = step, False

    def zeroed(self, tensor) -> None:
        s = self._leaves.get(id(tensor))
        if s is not None:
            s.empty = True

    def updated(self, tensor, source) -> None:
        s = self._leaves.get(id(tensor))
        if s is None or s.empty or s.ref() is not tensor:
            return
        s.updated = True
        if s.stale is not None:
            self._report(tensor, s.stale, source)
            s.stale = None

    def _report(self, tensor, stale: tuple, update) -> None:
        step, earlier, backward_source = stale
        view = self.diag.view
        leaf = view.leaf_name(tensor)
        where = at(update)
        self.diag.report(
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
