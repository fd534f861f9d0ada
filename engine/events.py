"""The listener API through which a debugger watches autograd work.

A listener is any object with some of the methods below; the engine calls those it has::

    op_did_record(node, output, inputs, source)   a graph node was created in the forward pass;
                                                  ``source`` is (filename, lineno, function) of
                                                  the user's line, or None unless the listener
                                                  has ``wants_source = True``
    backward_did_start(roots, grads, retain_graph)
    node_did_execute(node, grads_in, grads_out)   a backward node ran: the gradients flowing into
                                                  it (one per output) and out of it (one per
                                                  ``next_functions`` entry, None where unused)
    grad_will_accumulate(tensor, before, contribution)
                                                  ``before`` is the live ``.grad`` array (None
                                                  when the slot is empty): read or copy it now,
                                                  it is updated in place right after
    grad_did_accumulate(tensor, after, contribution, was_empty)
    grad_did_zero(tensor, how)                    ``how``: 'zero_()', 'grad = None',
                                                  'optimizer.zero_grad()' ...
    tensor_did_change_inplace(tensor, op)         an in-place update (``sub_``, ``-=`` ...)
    backward_did_finish(roots)
    backward_did_fail(roots, error)

Arrays handed to listeners are the engine's own (numpy or CuPy); copy them before keeping
them. With no listener attached, the engine pays one attribute check per event site.
"""

from __future__ import annotations

import os
import sys

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))
_METHODS = (
    "op_did_record", "backward_did_start", "node_did_execute", "grad_will_accumulate",
    "grad_did_accumulate", "grad_did_zero", "tensor_did_change_inplace", "backward_did_finish",
    "backward_did_fail",
)


def _ignore(*args) -> None:
    pass


def _fan_out(fns):
    def fan_out(*args) -> None:
        for fn in fns:
            fn(*args)

    return fan_out


class _Dispatcher:
    """Fans each event out to the listeners that define a method for it.

    Each event is an attribute of the dispatcher (``EVENTS.node_did_execute(...)``) bound at
    attach time to the one listener's method, to a fan-out over several, or to a no-op: an
    event then costs the engine one call, not a lookup and a loop per event."""

    def __init__(self):
        self.active = False  # the one cheap check on the hot path
        self.wants_source = False
        self._listeners: list = []
        self._rebuild()

    def add(self, listener) -> None:
        if listener in self._listeners:
            return
        self._listeners.append(listener)
        self._rebuild()

    def remove(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
            self._rebuild()

    def _rebuild(self) -> None:
        for m in _METHODS:
            fns = [getattr(lst, m) for lst in self._listeners if hasattr(lst, m)]
            setattr(self, m, fns[0] if len(fns) == 1 else _fan_out(fns) if fns else _ignore)
        self.active = bool(self._listeners)
        self.wants_source = any(getattr(lst, "wants_source", False) for lst in self._listeners)

    def emit(self, method: str, *args) -> None:
        getattr(self, method)(*args)

    def has(self, method: str) -> bool:
        return getattr(self, method) is not _ignore


EVENTS = _Dispatcher()


def refresh(listener=None) -> None:
    """Re-read listeners' ``wants_source`` after one changed it (a recorder that already has
    the source lines of a repeating graph stops asking for them)."""
    EVENTS._rebuild()


def add_listener(listener) -> None:
    """Attach ``listener``; it receives events until :func:`remove_listener`."""
    EVENTS.add(listener)


def remove_listener(listener) -> None:
    EVENTS.remove(listener)


class listening:  # noqa: N801 - reads as a context: ``with listening(recorder): ...``
    def __init__(self, listener):
        self.listener = listener

    def __enter__(self):
        add_listener(self.listener)
        return self.listener

    def __exit__(self, *exc):
        remove_listener(self.listener)
        return False


def user_source(skip_dirs: tuple[str, ...] = ()) -> tuple[str, int, str] | None:
    """(filename, lineno, function) of the innermost frame outside the engine (and skip_dirs)."""
    f = sys._getframe(1)
    skip = (_ENGINE_DIR, *skip_dirs)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(skip):
            return (fn, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None
