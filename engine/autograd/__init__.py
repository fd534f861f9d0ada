"""``torch.autograd``: backward, grad, Variable, custom Functions and gradcheck."""

from __future__ import annotations

from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from ..events import EVENTS
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .graph import Node, run_backward

__all__ = ["backward", "grad", "Variable", "Function", "gradcheck", "Node", "no_grad",
           "enable_grad", "set_grad_enabled"]


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802
    """Legacy wrapper: returns a Tensor (sharing ``data``'s storage) as PyTorch >= 0.4 does."""
    from .._tensor import Tensor

    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    t = data.detach()
    t.requires_grad_(requires_grad)
    return t


def _make_grads(outputs, grad_outputs):
    from .._tensor import Tensor

    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out.requires_grad_flag and out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind != "f":
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"{out.dtype}"
                )
            grads.append(out._B.ones(out._data.shape, dtype=out._data.dtype))
        else:
            if not isinstance(g, Tensor):
                raise TypeError(
                    "gradients can be either Tensors or None, but got " + type(g).__name__
                )
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                    f"output[{i}] has a shape of {out.shape}."
                )
            grads.append(g._data)
    return grads


def _as_tuple(x):
    from .._tensor import Tensor

    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_edges(outputs):
    edges = []
    for i, out in enumerate(outputs):
        if not out.requires_grad_flag:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        edges.append(out._edge())
    return edges


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad`` (``torch.autograd.backward``)."""
    if create_graph:
        raise NotImplementedError(
            "gradviz's engine does not implement create_graph=True (higher-order gradients)"
        )
    outputs = _as_tuple(tensors)
    grad_outputs = _as_tuple(grad_tensors) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"got {len(grad_outputs)} tensors and {len(outputs)} gradients"
        )
    if retain_graph is None:
        retain_graph = create_graph
    edges = _root_edges(outputs)
    grads = _make_grads(outputs, grad_outputs)
    only = None
    if inputs is not None:
        ins = _as_tuple(inputs)
        if not ins:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        only = [t._edge() for t in ins]
    _run(edges, grads, bool(retain_graph), outputs, only=only)


def _run(edges, grads, retain_graph, outputs, capture=None, only=None):
    if EVENTS.active:
        EVENTS.emit("backward_did_start", outputs, grads, retain_graph)
        try:
            result = run_backward(edges, grads, retain_graph, capture=capture, only=only)
        except BaseException as exc:
            EVENTS.emit("backward_did_fail", outputs, exc)
            raise
        EVENTS.emit("backward_did_finish", outputs)
        return result
    return run_backward(edges, grads, retain_graph, capture=capture, only=only)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``)."""
    from .._tensor import Tensor

    if create_graph:
        raise NotImplementedError(
            "gradviz's engine does not implement create_graph=True (higher-order gradients)"
        )
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    gouts = _as_tuple(grad_outputs) or (None,) * len(outs)
    for t in ins:
        if not t.requires_grad_flag:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    edges = _root_edges(outs)
    grads = _make_grads(outs, gouts)
    capture = [t._edge() for t in ins]
    found = _run(edges, grads, bool(retain_graph), outs, capture=capture)
    result = []
    for t, g in zip(ins, found):
        if g is None:
            if materialize_grads:
                g = t._B.zeros(t._data.shape, dtype=t._data.dtype)
            elif not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            else:
                result.append(None)
                continue
        result.append(Tensor._wrap(t._B.copy(g), t._B))
    return tuple(result)
