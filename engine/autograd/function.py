"""Custom autograd Functions (``class Exp(torch.autograd.Function)`` with static forward and
backward), recorded in the graph as a node named ``<Name>Backward`` as in PyTorch.

The checks on what ``backward`` returns (count, types, shapes, dtypes) and their messages are
PyTorch's (``THPFunction_apply`` and the engine's ``validate_outputs``).
"""

from __future__ import annotations

import warnings

from .._grad_mode import GRAD_MODE
from .graph import Node


class FunctionCtx:
    """What ``forward`` receives as ``ctx``: save tensors and flags for ``backward``."""

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` (or None) for ``backward``, which reads them as ``saved_tensors``;
        changing one in place before backward is then an error."""
        self._to_save = tensors

    def mark_dirty(self, *tensors) -> None:
        """Declare the inputs ``forward`` modified in place (and returns)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (indices, masks)."""
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None instead of zeros for unused outputs."""
        self._materialize = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The graph node of one call of a custom Function; it is also that call's ``ctx``."""

    __slots__ = ("_fn_cls", "_to_save", "_dirty", "_non_differentiable", "_materialize",
                 "needs_input_grad", "_is_tensor_input", "_n_outputs", "_out_meta", "_in_meta")

    def __init__(self, fn_cls, next_functions, needs_input_grad, is_tensor_input):
        super().__init__(next_functions)
        self._fn_cls = fn_cls
        self._to_save = ()
        self._dirty = ()
        self._non_differentiable = set()
        self._materialize = True
        self.needs_input_grad = needs_input_grad
        self._is_tensor_input = is_tensor_input
        self._n_outputs = 1
        self._out_meta = ()  # (backend, shape, dtype) per output; None for a non-tensor one
        self._in_meta = ()  # the same per tensor input: what its gradient must look like

    def name(self) -> str:
        return type(self).__name__

    @property
    def n_outputs(self) -> int:
        return self._n_outputs

    @property
    def saved_tensors(self) -> tuple:
        self.check_saved()
        return tuple(self._to_save)

    saved_variables = saved_tensors

    def _drop_values(self) -> None:
        self._to_save = ()

    _holds_values = True

    def apply(self, grads):
        from .._tensor import Tensor

        args = []
        for g, meta in zip(grads, self._out_meta):
            if meta is not None and g is None and self._materialize:
                B, shape, np_dtype = meta
                g = B.zeros(shape, dtype=np_dtype)
            args.append(None if g is None else Tensor._wrap(g, meta[0]))
        prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = False
        try:
            result = _user_backward(self._fn_cls)(self, *args)
        finally:
            GRAD_MODE.enabled = prev
        return self._check_result(result if isinstance(result, tuple) else (result,))

    def _check_result(self, result: tuple) -> tuple:
        """One array (or None) per tensor input, checked and conformed as PyTorch does."""
        from .._tensor import Tensor

        name = type(self).__name__
        n_args = len(self._is_tensor_input)
        if len(result) > n_args and all(r is None for r in result[n_args:]):
            result = result[:n_args]  # extra Nones are allowed
        if len(result) != n_args:
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients "
                f"(expected {n_args}, got {len(result)})"
            )
        grads = []
        for i, (g, is_tensor) in enumerate(zip(result, self._is_tensor_input)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(
                        f"function {name} returned a gradient different than None at position "
                        f"{i + 1}, but the corresponding forward input was not a Variable"
                    )
            elif g is None or isinstance(g, Tensor):
                grads.append(g)
            else:
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
        out = []
        for k, g in enumerate(grads):
            if g is None or self.next_functions[k][0] is None:
                out.append(None)  # a gradient for an input that needs none is dropped
                continue
            out.append(_conform(name, k, g._data, *self._in_meta[k]))
        return tuple(out)


def _conform(name: str, index: int, data, B, shape: tuple, np_dtype):
    """A returned gradient with the input's shape and dtype: a broadcast one is summed back
    (PyTorch's ``validate_outputs``), anything else that differs in shape is an error."""
    if data.shape != shape:
        if not _expandable(shape, data.shape):
            raise RuntimeError(
                f"Function {name} returned an invalid gradient at index {index} - got "
                f"{list(data.shape)} but expected shape compatible with {list(shape)}"
            )
        from .._ops.common import sum_to

        data = sum_to(B, data, shape)
    if data.dtype != np_dtype:
        data = data.astype(np_dtype)
    return data


def _expandable(shape: tuple, to: tuple) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``to``."""
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(to)))


def _user_backward(fn_cls):
    backward, vjp = fn_cls.backward, fn_cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError(
            "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You "
            "should only implement one of them."
        )
    return vjp if vjp is not Function.vjp else backward


class _FunctionMeta(type):
    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        # one node class per Function, named as PyTorch names it (``ExpBackward``)
        cls._backward_cls = type(f"{name}Backward", (BackwardCFunction,), {"__slots__": ()})


class Function(metaclass=_FunctionMeta):
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``;
    call it with ``MyFunction.apply(*args)``."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            "static, so you should invoke them on the class itself. Instantiating an autograd "
            "function will raise an error in a future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @staticmethod
    def vjp(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` (grad mode off inside) and, when an input requires grad, record one
        ``<Name>Backward`` node whose ``next_functions`` are the tensor inputs' edges."""
        from .._tensor import Tensor, edge_of

        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a.requires_grad_flag for t, a in zip(is_tensor, args))
        record = GRAD_MODE.enabled and any(needs)
        inputs = [a for a, t in zip(args, is_tensor) if t]
        node = cls._backward_cls(cls, tuple(edge_of(a) for a in inputs), needs, is_tensor)
        prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = False
        try:
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args, **kwargs)
        finally:
            GRAD_MODE.enabled = prev
        if not record:
            return output
        return _record_outputs(node, args, inputs, output)


def _record_outputs(node: BackwardCFunction, args: tuple, inputs: list, output):
    """Attach ``forward``'s tensor outputs to ``node`` and save what ``backward`` will read."""
    from .._tensor import Tensor
    from ..events import EVENTS, user_source

    for i, t in enumerate(node._to_save):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(
                f"save_for_backward can only save variables, but argument {i} is of type "
                f"{type(t).__name__}"
            )
    dirty = {id(t) for t in node._dirty}
    input_ids = {id(a) for a in inputs}
    for t in node._dirty:
        if t.requires_grad_flag and t.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad has been used in an in-place operation."
            )
    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    wrapped, meta = [], []
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            wrapped.append(o)
            meta.append(None)
            continue
        if id(o) in node._non_differentiable:
            wrapped.append(o)
            meta.append((o._B, o._data.shape, o._data.dtype))
            continue
        if id(o) in input_ids and id(o) not in dirty:
            o = o._view_of(o._data)  # an input returned as is becomes a new view
        o.grad_fn = node
        o._output_nr = i
        o.requires_grad_flag = True
        if id(o) in dirty:
            o._version[0] += 1
        meta.append((o._B, o._data.shape, o._data.dtype))
        wrapped.append(o)
    node._n_outputs = len(outputs)
    node._out_meta = tuple(meta)
    node._in_meta = tuple((a._B, a._data.shape, a._data.dtype) for a in inputs)
    # a saved output is checked as the output of this node even after an in-place op moved
    # its grad_fn on, so the error names this Function, as PyTorch's does
    outs = {id(o) for o in wrapped if isinstance(o, Tensor) and o.grad_fn is node}
    saved = [t for t in node._to_save if t is not None]
    node.save(*(t for t in saved if id(t) not in outs),
              outputs=tuple(t for t in saved if id(t) in outs))
    if EVENTS.active:
        EVENTS.op_did_record(node, tuple(wrapped), args,
                    user_source() if EVENTS.wants_source else None)
    return wrapped[0] if single else tuple(wrapped)


class once_differentiable:  # noqa: N801 - decorator kept for source compatibility
    """``@once_differentiable`` on ``backward``: a no-op here, since backward never records a
    graph in this engine (there is no ``create_graph``)."""

    def __new__(cls, fn):
        return fn
