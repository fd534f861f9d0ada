"""``no_grad`` / ``enable_grad`` / ``set_grad_enabled``: whether ops record a graph."""

from __future__ import annotations

import functools
import inspect


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
        return _decorate(fn, self.clone)

    def clone(self):
        return self.__class__()


def _decorate(fn, make_context):
    """``fn`` run inside a fresh ``make_context()``; for a generator function, every step of
    the generator runs inside it (and the caller's mode is back in between), as in PyTorch."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with make_context():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with make_context():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with make_context():
                            response = gen.throw(exc)
                    else:
                        with make_context():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_context():
            return fn(*args, **kwargs)

    return wrapper


class _NoParamContext(_GradModeContext):
    """Usable as ``@no_grad()`` and as a bare ``@no_grad`` too, as PyTorch allows."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamContext):  # noqa: N801
    """Ops inside record no graph; in-place updates of leaves are allowed."""

    _target = False


class enable_grad(_NoParamContext):  # noqa: N801
    """Ops inside record a graph again (inside ``no_grad``)."""

    _target = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(
                "set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                f"{type(mode).__name__}"
            )
        self._target = mode
        self._prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self._target

    def __enter__(self):
        return None

    def __call__(self, fn):
        GRAD_MODE.enabled = self._prev  # used as a decorator: the mode applies inside fn only
        return _decorate(fn, self.clone)

    def clone(self):
        return set_grad_enabled(self._target)


class inference_mode(no_grad):  # noqa: N801
    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return object.__new__(cls)
        return cls()(mode)  # bare ``@inference_mode``

    def __init__(self, mode: bool = True):
        self._target = not mode

    def clone(self):
        return self.__class__(not self._target)
