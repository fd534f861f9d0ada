"""Names for leaf tensors as the user knows them: the script's own variables (``w1``), or a
parameter's qualified name inside an ``nn.Module`` (``0.weight``)."""

from __future__ import annotations

import os
import sys
import weakref
from types import FrameType

from engine import Tensor

_ENGINE_PREFIXES: tuple[str, ...] = ()
_EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples") + os.sep


def _engine_dirs() -> tuple[str, ...]:
    global _ENGINE_PREFIXES
    if not _ENGINE_PREFIXES:
        import os

        import engine

        here = os.path.dirname(os.path.abspath(__file__))
        _ENGINE_PREFIXES = (os.path.dirname(os.path.abspath(engine.__file__)), here)
    return _ENGINE_PREFIXES


# code object -> whether it is the user's (not the engine's, not gradviz's): the frame walk
# runs several times per training step and meets the same few code objects every time
_IS_USER_CODE: dict = {}


def _is_user_code(code) -> bool:
    filename = code.co_filename
    # the bundled examples live inside gradviz's folder but are the user's scripts
    mine = not filename.startswith(_engine_dirs()) or filename.startswith(_EXAMPLES_DIR)
    if len(_IS_USER_CODE) > 100_000:  # scripts that exec fresh code objects in a loop
        _IS_USER_CODE.clear()
    _IS_USER_CODE[code] = mine
    return mine


def user_frames(start: FrameType | None = None):
    """Frames of the user's code, innermost first (skipping the engine and gradviz)."""
    f = start or sys._getframe(1)
    while f is not None:
        code = f.f_code
        mine = _IS_USER_CODE.get(code)
        if mine is None:
            mine = _is_user_code(code)
        if mine:
            yield f
        f = f.f_back


def user_frame(start: FrameType | None = None) -> FrameType | None:
    """The innermost frame of the user's code (``next(user_frames())`` without a generator:
    this runs several times per training step)."""
    f = start or sys._getframe(1)
    known = _IS_USER_CODE.get
    while f is not None:
        code = f.f_code
        mine = known(code)
        if mine is None:
            mine = _is_user_code(code)
        if mine:
            return f
        f = f.f_back
    return None


class LeafNamer:
    """Finds and remembers a name for each leaf tensor (cached per tensor)."""

    def __init__(self):
        # keyed by id: tensors compare elementwise, so they can't be dict keys by value
        self._names: dict[int, tuple[weakref.ref, str]] = {}
        self._counter = 0

    def known(self, t: Tensor) -> str | None:
        """The name already given to ``t``, without searching (None if it has none yet)."""
        known = self._names.get(id(t))
        return known[1] if known is not None and known[0]() is t else None

    def name(self, t: Tensor, taken=()) -> str:
        """``t``'s name, kept for the tensor's life; ``taken``: names of other leaves of the
        same graph, which ``t`` must not share (two models' ``0.weight``, two bare
        ``nn.Linear``'s ``weight``): it then gets its next candidate and keeps that."""
        known = self._names.get(id(t))
        if known is not None and known[0]() is t and known[1] not in taken:
            return known[1]
        candidates = self._search(t)
        found = next((c for c in candidates if c not in taken), None)
        if found is None:
            base = candidates[-1] if candidates else "tensor"
            while found is None or found in taken:
                self._counter += 1
                found = f"{base}{self._counter}" if base == "tensor" else \
                    f"{base}#{self._counter}"
        key = id(t)
        self._names[key] = (weakref.ref(t, lambda _ref, k=key: self._names.pop(k, None)), found)
        return found

    def _search(self, t: Tensor) -> list[str]:
        """Names for ``t`` in order of preference: the variable holding it; or, for a
        module's parameter, its name inside the module (``0.weight``) and then that name
        qualified by the module's variable (``head.0.weight``), used when another live
        leaf already has the short one (two models, two bare ``nn.Linear``)."""
        modules = []
        for frame in user_frames():
            for scope in (frame.f_locals, frame.f_globals):
                for var, value in list(scope.items()):
                    if value is t and not var.startswith("_"):
                        return [var]
                    if _is_module(value):
                        modules.append((var, value))
            for var, module in modules:
                for pname, p in module.named_parameters():
                    if p is t:
                        return [pname, f"{var}.{pname}"]
        return []


def _is_module(value) -> bool:
    try:
        from engine.nn import Module
    except ImportError:  # pragma: no cover - nn is part of the engine
        return False
    return isinstance(value, Module)
