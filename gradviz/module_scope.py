"""Which ``nn.Module`` an op ran in, named as the user knows it, so that the graph view can
fold a layer's nodes into one box ("model.0", "model.encoder.fc1", "loss_fn").

The engine knows nothing about module names: while an op is recorded, the stack holds the
``forward`` frames of the modules it runs inside. The innermost one is the op's module. The
outermost one is named by the script's variable for it (``model``, ``loss_fn``; its class
name when no variable holds it), and a submodule by that name and its qualified name inside
(``named_modules()``, as PyTorch names submodules): two models' layers "0" never merge.

Looking at frames costs a few microseconds, so the recorder asks only while a graph
structure is new (the same steps in which it asks for source lines).
"""

from __future__ import annotations

import sys

from engine.nn import Module

from .naming import user_frames


class ModuleScope:
    """Names the module an op is being recorded in. Names of the modules of one outermost
    module are cached until :meth:`forget` (called once per backward: modules can change
    between steps, rarely within one)."""

    def __init__(self):
        self._names: dict[int, tuple[Module, dict[int, str]]] = {}

    def forget(self) -> None:
        self._names.clear()

    def current(self) -> str:
        """The name of the innermost module whose ``forward`` is running, or ""."""
        inner = outer = outer_frame = None
        f = sys._getframe(1)
        while f is not None:
            code = f.f_code
            # the cheap test first: only a frame of a method called ``forward`` can be one
            if code.co_name == "forward" and code.co_argcount and code.co_varnames[0] == "self":
                owner = f.f_locals.get("self")
                if isinstance(owner, Module):
                    if inner is None:
                        inner = owner
                    outer, outer_frame = owner, f
            f = f.f_back
        if inner is None:
            return ""
        return self._qualified(inner, outer, outer_frame.f_back)

    def _qualified(self, inner: Module, outer: Module, caller) -> str:
        cached = self._names.get(id(outer))
        if cached is None or cached[0] is not outer:
            label = _variable_for(outer, caller) or type(outer).__name__
            names = {id(m): f"{label}.{name}" if name else label
                     for name, m in outer.named_modules()}
            cached = self._names[id(outer)] = (outer, names)
        return cached[1].get(id(inner), "")


def _variable_for(obj, start) -> str | None:
    """The name of a variable of the user's code bound to ``obj``, looked up from the frame
    that called the outermost module (so not the ``self`` of its own ``forward``)."""
    if start is None:
        return None
    for frame in user_frames(start):
        for scope in (frame.f_locals, frame.f_globals):
            for var, value in list(scope.items()):
                if value is obj and not var.startswith("_"):
                    return var
    return None


def spread_to_leaves(modules: list[str], consumers: dict[int, list[int]]) -> None:
    """Give a node without a module of its own (an AccumulateGrad, whose leaf was created
    outside any forward) the module of its consumers when they all agree: a layer's weight
    folds into the layer's box, a tensor shared by two layers stays outside both."""
    for nid, users in consumers.items():
        if modules[nid] or not users:
            continue
        first = modules[users[0]]
        if first and all(modules[u] == first for u in users):
            modules[nid] = first
