"""``no_grad`` / ``enable_grad`` / ``set_grad_enabled``: whether ops record a graph."""

from __future__ import annotations

import functools


class _GradMode:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


GRAD_MODE = _GradMode()


def is_grad_enabled() -> bool:
    return GRAD_MODE.enabled


class _GradModeContext:
    """A context manager that is also a decorator, as in PyTorch."""

    _target: bool

    def __enter__(self):
        self._prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self._target
        return None

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):  # noqa: N801
    """Ops inside record no graph; in-place updates of leaves are allowed."""

    _target = False


class enable_grad(_GradModeContext):  # noqa: N801
    _target = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self._target

    def __enter__(self):
        return None

    def __call__(self, fn):
        GRAD_MODE.enabled = self._prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self._target):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(no_grad):  # noqa: N801
    def __init__(self, mode: bool = True):
        self._target = not mode
