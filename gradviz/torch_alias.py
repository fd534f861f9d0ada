"""Make ``import torch`` (and ``torch.nn``, ``torch.optim``, ``torch.autograd`` ...) resolve to
gradviz's engine inside a user's script, and turn an import of a part of PyTorch the engine
lacks into one clear line instead of a ModuleNotFoundError about torch."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

ALIASES = {
    "torch": "engine",
    "torch.autograd": "engine.autograd",
    "torch.cuda": "engine.cuda",
    "torch.nn": "engine.nn",
    "torch.nn.functional": "engine.nn.functional",
    "torch.nn.init": "engine.nn.init",
    "torch.optim": "engine.optim",
}


class _MissingTorchPart(importlib.abc.MetaPathFinder):
    """Answers ``import torch.<anything else>`` with the engine's 'not implemented' message."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            if fullname in ALIASES:
                return None
            raise ModuleNotFoundError(f"gradviz's engine does not implement {fullname}",
                                      name=fullname)
        return None


_FINDER = _MissingTorchPart()


def install() -> None:
    """Point ``torch`` at the engine for this process (idempotent)."""
    for alias, real in ALIASES.items():
        try:
            sys.modules[alias] = importlib.import_module(real)
        except ImportError:
            continue
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    for alias, real in ALIASES.items():
        if sys.modules.get(alias) is sys.modules.get(real):
            sys.modules.pop(alias, None)
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
