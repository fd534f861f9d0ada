"""``torch.autograd``: backward, grad, Variable, custom Functions and gradcheck.

Argument handling and error messages follow ``torch/autograd/__init__.py`` and the checks of
PyTorch's C++ ``run_backward`` in the same order, so a wrong call fails with PyTorch's words.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from ..events import EVENTS
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .graph import Node, run_backward

__all__ = ["backward", "grad", "Variable", "Function", "gradcheck", "Node", "no_grad",
           "enable_grad", "set_grad_enabled"]

_NO_CREATE_GRAPH = (
    "gradviz's engine does not implement create_graph=True (higher-order gradients)"
)


def Variable(data=None, requires_grad: bool = False, volatile: bool = False):  # noqa: N802
    """Legacy wrapper: returns a Tensor (sharing ``data``'s storage) as PyTorch >= 0.4 does."""
    from .._tensor import Tensor

    if volatile:
        warnings.warn(
            "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
            UserWarning,
            stacklevel=2,
        )
    if data is None:
        data = Tensor()
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    t = data.detach()
    t.requires_grad_(requires_grad)
    return t


def _tensors_tuple(x) -> tuple:
    from .._tensor import Tensor

    return (x,) if isinstance(x, Tensor) else tuple(x)


def _grads_tuple(grads, n: int) -> tuple:
    """``grad_tensors`` / ``grad_outputs`` as a tuple (PyTorch's _tensor_or_tensors_to_tuple)."""
    from .._tensor import Tensor

    if grads is None:
        return (None,) * n
    return (grads,) if isinstance(grads, Tensor) else tuple(grads)


def _inputs_tuple(inputs, caller: str) -> tuple:
    from .._tensor import Tensor

    if isinstance(inputs, Tensor):
        return (inputs,)
    if type(inputs) is dict:
        return tuple(inputs.values())
    if isinstance(inputs, Mapping):
        raise TypeError(
            f"`inputs` argument to `{caller}()` must be a dict, not {type(inputs).__name__}. "
            "Other Mapping types are not supported."
        )
    return tuple(inputs)


def _make_grads(outputs, grad_outputs) -> list:
    """The seed gradient (an array, or None) of each output; like PyTorch, pairs are taken with
    ``zip``, so a count mismatch is reported afterwards by ``_check_counts``."""
    from .._tensor import Tensor

    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if isinstance(g, Tensor):
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                    f"output[{i}] has a shape of {out.shape}."
                )
            data = g._data
            if g._B is not out._B:
                data = out._B.from_host(g._B.to_host(data))
            if data.dtype != out._data.dtype:  # PyTorch casts the seed to the output's dtype
                data = data.astype(out._data.dtype)
            grads.append(data)
        elif g is None:
            if not out.requires_grad_flag:
                grads.append(None)  # run_backward's check names this output
                continue
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind != "f":
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"{out.dtype}"
                )
            grads.append(out._B.ones(out._data.shape, dtype=out._data.dtype))
        else:
            raise TypeError(
                "gradients can be either Tensors or None, but got " + type(g).__name__
            )
    return grads


def _root_edges(outputs, grads) -> list:
    if len(outputs) != len(grads):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    edges = []
    for i, out in enumerate(outputs):
        if not out.requires_grad_flag:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        edges.append(out._edge())
    return edges


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad`` (``torch.autograd.backward``).

    ``inputs`` restricts accumulation to those tensors; a non-leaf among them gets its
    ``.grad`` too (it is made to ``retain_grad()``, as PyTorch does).
    """
    if create_graph:
        raise NotImplementedError(_NO_CREATE_GRAPH)
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.",
                      FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError(
                "`grad_tensors` and `grad_variables` (deprecated) arguments both passed to "
                "`backward()`. Please only use `grad_tensors`."
            )
        grad_tensors = grad_variables
    ins = () if inputs is None else _inputs_tuple(inputs, "backward")
    if inputs is not None and not ins:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    outputs = _tensors_tuple(tensors)
    grads = _make_grads(outputs, _grads_tuple(grad_tensors, len(outputs)))
    edges = _root_edges(outputs, grads)
    only = None
    if ins:
        only = []
        for t in ins:
            t.retain_grad()  # raises PyTorch's error for an input that does not require grad
            only.append(t._edge())
    _run(edges, grads, bool(retain_graph), outputs, only=only)


def _run(edges, grads, retain_graph, outputs, capture=None, only=None):
    if EVENTS.active:
        EVENTS.backward_did_start(outputs, grads, retain_graph)
        try:
            result = run_backward(edges, grads, retain_graph, capture=capture, only=only)
        except BaseException as exc:
            EVENTS.backward_did_fail(outputs, exc)
            raise
        EVENTS.backward_did_finish(outputs)
        return result
    return run_backward(edges, grads, retain_graph, capture=capture, only=only)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any leaf's ``.grad``
    (``torch.autograd.grad``); a dict of inputs gives a dict of gradients."""
    from .._tensor import Tensor

    if create_graph:
        raise NotImplementedError(_NO_CREATE_GRAPH)
    if is_grads_batched:
        raise NotImplementedError(
            "gradviz's engine does not implement is_grads_batched=True (vmap)"
        )
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    outs = _tensors_tuple(outputs)
    ins = _inputs_tuple(inputs, "grad")
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if not only_inputs:
        warnings.warn(
            "only_inputs argument is deprecated and is ignored now (defaults to True). To "
            "accumulate gradient for other parts of the graph, please use "
            "torch.autograd.backward.",
            FutureWarning,
            stacklevel=2,
        )
    grads = _make_grads(outs, _grads_tuple(grad_outputs, len(outs)))
    edges = _root_edges(outs, grads)
    for t in ins:
        if not t.requires_grad_flag:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = [t._edge() for t in ins]
    found = _run(edges, grads, bool(retain_graph), outs, capture=capture)
    result = []
    for i, (t, g) in enumerate(zip(ins, found)):
        B = t._B
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(
                Tensor._wrap(B.zeros(t._data.shape, dtype=t._data.dtype), B)
                if materialize_grads else None
            )
            continue
        # a copy: the captured array may be a broadcast view or shared with the graph
        want = t._data.dtype
        g = B.astype(g, want, copy=True) if g.dtype != want else B.copy(g)
        result.append(Tensor._wrap(g, B))
    if type(inputs) is dict:
        return dict(zip(inputs.keys(), result))
    return tuple(result)
