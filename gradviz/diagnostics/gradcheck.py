"""``gradcheck-failed``: a custom ``autograd.Function`` whose backward disagrees with finite
differences.

Checked once per distinct Function, on its first call that records a node:
the forward runs again on float64 copies of the inputs and its backward is compared, as a
vector-Jacobian product with a fixed random vector, against central differences of the
same product. Only a few elements of each input are perturbed (``gradcheck_samples``, spread
evenly over the input, fewer when the forward is slow: ``gradcheck_budget``), so large
inputs cost little. The user's tensors, outputs and random state are never touched: the
inputs are copies, the random streams (the engine's, numpy's, Python's) are saved and put
back before every evaluation, and what the forward prints is swallowed.

A point where the function is not smooth (a ReLU's kink) is recognised by the estimate
changing with the step size and skipped; a forward that is flat everywhere sampled (a
straight-through estimator's ``round``) is not judged.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import random
import time
import warnings

import numpy as np

from engine._device import backend_of
from engine._grad_mode import GRAD_MODE
from engine._ops.creation import default_generator
from engine._tensor import Tensor
from engine.autograd.function import BackwardCFunction, Function
from engine.events import EVENTS

from ..naming import user_frame
from ..trace import Source
from .context import at

ATOL = 1e-5  # differences below this (absolute) are agreement whatever the ratio


class GradCheck:
    """Wraps ``autograd.Function.apply`` while attached (built-in ops never go through it, so
    they cost nothing): a Function's first call that records a node is checked."""

    def __init__(self, diag):
        self.diag = diag
        self.checked: set = set()  # Function classes checked
        self.pending: list = []  # failures waiting for their node's graph id
        self._saved = None

    def install(self) -> None:
        if self._saved is not None:
            return
        original = Function.__dict__["apply"]
        self._saved = original
        apply = original.__func__
        checked = self.checked
        seen = self

        def checked_apply(cls, *args, **kwargs):
            out = apply(cls, *args, **kwargs)
            if cls not in checked and not kwargs:
                try:
                    seen.first_call(cls, args, out)
                except Exception as exc:  # noqa: BLE001
                    seen.diag._failed("gradcheck", exc)
            return out

        checked_apply.__doc__ = apply.__doc__
        Function.apply = classmethod(checked_apply)

    def uninstall(self) -> None:
        if self._saved is not None:
            Function.apply = self._saved
            self._saved = None

    def first_call(self, fn_cls, args: tuple, out) -> None:
        first = out[0] if isinstance(out, tuple) and out else out
        node = first.grad_fn if isinstance(first, Tensor) else None
        if not isinstance(node, BackwardCFunction) or node._fn_cls is not fn_cls:
            return  # nothing recorded (no_grad, no input requiring grad): the next call
        self.checked.add(fn_cls)
        result = check(fn_cls, node, tuple(args), self.diag.thresholds)
        if result is None or result[0] <= self.diag.thresholds.gradcheck_rtol:
            return
        frame = user_frame()
        call = None if frame is None else Source(frame.f_code.co_filename, frame.f_lineno,
                                                 frame.f_code.co_name)
        self.pending.append((node, fn_cls, result, call))

    def resolve(self, final: bool = False) -> None:
        """Report the failures whose node is in the graph of the backward just run (or,
        at the end of the run, all of them, without a node)."""
        keep = []
        view = self.diag.view
        for item in self.pending:
            node, fn_cls, (worst, i, j, analytic, numeric), call = item
            nid = view.node_id(node)
            if nid is None and not final:
                keep.append(item)
                continue
            where = _backward_source(fn_cls, call)
            self.diag.report(
                "gradcheck-failed",
                f"the backward of custom Function {fn_cls.__name__} disagrees with finite "
                f"differences: worst relative error {worst:.3g} (input {i}, element {j}: "
                f"backward gives {analytic:.6g}, finite differences {numeric:.6g}). Check "
                f"the derivative in {fn_cls.__name__}.backward"
                f"{' (called at ' + at(call) + ')' if call else ''}.",
                nid, where or call, key=fn_cls.__qualname__, node_name=node.name())
        self.pending = keep


def _backward_source(fn_cls, call: Source | None) -> Source | None:
    """The ``def backward`` line, when the Function lives in the file that calls it."""
    try:
        fn = fn_cls.vjp if fn_cls.vjp is not Function.vjp else fn_cls.backward
        file = inspect.getsourcefile(fn)
        lines, line = inspect.getsourcelines(fn)
    except (TypeError, OSError):
        return None
    for text in lines:  # past the decorators, to the def itself
        if text.lstrip().startswith(("def ", "async def ")):
            break
        line += 1
    if call is None or file != call.file:
        return None
    return Source(file, line, "backward")


# --- the check ---------------------------------------------------------------------------------
def check(fn_cls, node, args: tuple, thresholds):
    """(worst relative error, input index, element index, backward value, finite-difference
    value), or None when the Function cannot be judged (no float input that requires grad,
    in-place, not smooth, or it failed when run again)."""
    diff = [i for i, a in enumerate(args)
            if isinstance(a, Tensor) and a.requires_grad_flag and a._data.dtype.kind == "f"]
    if not diff or getattr(node, "_dirty", ()):
        return None
    with _isolated() as restore_rng:
        try:
            return _check(fn_cls, node, args, diff, thresholds, restore_rng)
        except Exception:  # noqa: BLE001 - a Function we cannot rerun is not judged
            return None


@contextlib.contextmanager
def _isolated():
    """No events, no graph, no output, no warnings; every random stream as it was."""
    gen = default_generator
    seed, rngs = gen._seed, dict(gen._rngs)
    states = {b: r.bit_generator.state for b, r in rngs.items()}
    np_state, py_state = np.random.get_state(), random.getstate()

    def restore():
        gen._seed = seed
        gen._rngs.clear()
        gen._rngs.update(rngs)
        for b, state in states.items():
            rngs[b].bit_generator.state = state
        np.random.set_state(np_state)
        random.setstate(py_state)

    active, mode = EVENTS.active, GRAD_MODE.enabled
    EVENTS.active = False
    GRAD_MODE.enabled = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield restore
    finally:
        restore()
        EVENTS.active, GRAD_MODE.enabled = active, mode


def _check(fn_cls, node, args, diff, thresholds, restore_rng):
    base = tuple(_as_float64(a) for a in args)
    started = time.perf_counter()
    restore_rng()
    outs, ctx = _forward(fn_cls, node, base)
    elapsed = time.perf_counter() - started
    floats = [k for k, o in enumerate(outs)
              if isinstance(o, Tensor) and o._data.dtype.kind == "f"
              and id(o) not in ctx._non_differentiable]
    if not floats:
        return None
    rng = np.random.default_rng(0)  # our own stream: the user's is untouched
    vs = {k: outs[k]._B.from_host(rng.standard_normal(outs[k]._data.shape)) for k in floats}

    def phi() -> float:
        restore_rng()
        o, _ = _forward(fn_cls, node, base)
        total = 0.0
        for k in floats:
            a = o[k]._data
            B = backend_of(a)
            total += float(B.sum(B.multiply(B.astype(a, np.float64, copy=False), vs[k])))
        return total

    grads = _backward(ctx, base, outs, vs)
    exact = all(outs[k]._data.dtype == np.float64 for k in floats)
    eps = 1e-6 if exact else 1e-3
    per_input = thresholds.gradcheck_budget / max(elapsed, 1e-6) / (4 * len(diff))
    samples = int(max(2, min(thresholds.gradcheck_samples, per_input)))
    tensor_index = {i: k for k, i in enumerate(
        i for i, a in enumerate(args) if isinstance(a, Tensor))}
    rtol = thresholds.gradcheck_rtol
    worst = (0.0, 0, 0, 0.0, 0.0)
    any_slope = False
    for i in diff:
        x = base[i]._data
        flat = x.reshape(-1)
        g = grads[tensor_index[i]] if tensor_index[i] < len(grads) else None
        g_host = (np.zeros(x.size) if g is None
                  else np.asarray(backend_of(g).to_host(g), dtype=np.float64).reshape(-1))
        for j in np.unique(np.linspace(0, x.size - 1, min(x.size, samples)).astype(int)):
            j = int(j)
            numeric = _central(flat, j, eps, phi)
            analytic = float(g_host[j])
            any_slope = any_slope or numeric != 0.0
            err = _relative(analytic, numeric)
            if err > rtol and _relative(numeric, _central(flat, j, eps / 10, phi)) > rtol:
                continue  # the estimate depends on the step: not smooth here
            if err > worst[0]:
                worst = (err, i, j, analytic, numeric)
    if not any_slope:
        return None  # flat wherever sampled: finite differences cannot judge this backward
    return worst


def _central(flat, j: int, eps: float, phi) -> float:
    old = flat[j].item()
    flat[j] = old + eps
    plus = phi()
    flat[j] = old - eps
    minus = phi()
    flat[j] = old
    return (plus - minus) / (2 * eps)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), ATOL)


def _as_float64(a):
    if not isinstance(a, Tensor):
        return a
    B = a._B
    if a._data.dtype.kind == "f":
        # contiguous, so that perturbing an element of reshape(-1) perturbs the input
        data = B.ascontiguousarray(B.astype(a._data, np.float64, copy=True))
    else:
        data = B.copy(a._data)
    return Tensor._wrap(data, B, a.requires_grad_flag and a._data.dtype.kind == "f")


def _forward(fn_cls, node, args):
    ctx = type(node)(fn_cls, node.next_functions, node.needs_input_grad,
                     node._is_tensor_input)
    if fn_cls.setup_context is not Function.setup_context:
        out = fn_cls.forward(*args)
        fn_cls.setup_context(ctx, args, out)
    else:
        out = fn_cls.forward(ctx, *args)
    return (out if isinstance(out, tuple) else (out,)), ctx


def _backward(ctx, args, outs, vs) -> tuple:
    """The Function's backward of ``vs``, one array (or None) per tensor input, checked and
    conformed as the engine does it."""
    ctx._out_meta = tuple((o._B, o._data.shape, o._data.dtype) if isinstance(o, Tensor)
                          else None for o in outs)
    ctx._n_outputs = len(outs)
    ctx._in_meta = tuple((a._B, a._data.shape, a._data.dtype) for a in args
                         if isinstance(a, Tensor))
    return ctx.apply([vs.get(k) for k in range(len(outs))])
