"""Custom autograd Functions (``class Exp(torch.autograd.Function)`` with static forward and
backward), recorded in the graph as a node named ``<Name>Backward`` as in PyTorch."""

from __future__ import annotations

from .._grad_mode import GRAD_MODE
from .graph import Node


class FunctionCtx:
    """What ``forward`` receives as ``ctx``: save tensors and flags for ``backward``."""

    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The graph node of one call of a custom Function; it is also that call's ``ctx``."""

    __slots__ = ("_fn_cls", "_to_save", "_dirty", "_non_differentiable", "_materialize",
                 "needs_input_grad", "_tensor_positions", "_n_outputs", "_out_meta")

    def __init__(self, fn_cls, next_functions, needs_input_grad, tensor_positions):
        super().__init__(next_functions)
        self._fn_cls = fn_cls
        self._to_save = ()
        self._dirty = ()
        self._non_differentiable = set()
        self._materialize = True
        self.needs_input_grad = needs_input_grad
        self._tensor_positions = tensor_positions
        self._n_outputs = 1
        self._out_meta = ()

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
        for g, (B, shape, np_dtype) in zip(grads, self._out_meta):
            if g is None and self._materialize:
                g = B.zeros(shape, dtype=np_dtype)
            args.append(None if g is None else Tensor._wrap(g, B))
        prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = False
        try:
            result = self._fn_cls.backward(self, *args)
        finally:
            GRAD_MODE.enabled = prev
        if not isinstance(result, tuple):
            result = (result,)
        n_args = len(self.needs_input_grad)
        if len(result) < n_args:
            raise RuntimeError(
                f"function {type(self).__name__} returned an incorrect number of gradients "
                f"(expected {n_args}, got {len(result)})"
            )
        out = []
        for pos in self._tensor_positions:
            g = result[pos]
            out.append(None if g is None else g._data)
        return tuple(out)


class _FunctionMeta(type):
    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        # one node class per Function, named as PyTorch names it (``ExpBackward``)
        cls._backward_cls = type(f"{name}Backward", (BackwardCFunction,), {"__slots__": ()})


class Function(metaclass=_FunctionMeta):
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``;
    call it with ``MyFunction.apply(*args)``."""

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

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor, edge_of
        from ..events import EVENTS, user_source

        tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        needs = tuple(isinstance(a, Tensor) and a.requires_grad_flag for a in args)
        record = GRAD_MODE.enabled and any(needs)
        next_functions = tuple(edge_of(args[i]) for i in tensor_positions)
        node = cls._backward_cls(cls, next_functions, needs, tensor_positions)
        custom_setup = cls.setup_context is not Function.setup_context
        prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = False
        try:
            if custom_setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args, **kwargs)
        finally:
            GRAD_MODE.enabled = prev
        if not record:
            return output
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        wrapped = []
        inputs = {id(args[i]) for i in tensor_positions}
        meta = []
        for i, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            if id(o) in node._non_differentiable:
                wrapped.append(o)
                meta.append((o._B, o._data.shape, o._data.dtype))
                continue
            if id(o) in inputs and o not in node._dirty:
                o = o._view_of(o._data)  # an input returned as is becomes a new view
            o.grad_fn = node
            o._output_nr = i
            o.requires_grad_flag = True
            if o in node._dirty:
                o._version[0] += 1
            meta.append((o._B, o._data.shape, o._data.dtype))
            wrapped.append(o)
        node._n_outputs = len(outputs)
        node._out_meta = tuple(meta)
        saved = [t for t in node._to_save if isinstance(t, Tensor)]
        node.save(*saved)
        if EVENTS.active:
            EVENTS.emit("op_did_record", node, tuple(wrapped), args,
                        user_source() if EVENTS.wants_source else None)
        return wrapped[0] if single else tuple(wrapped)


class once_differentiable:  # noqa: N801 - decorator kept for source compatibility
    def __new__(cls, fn):
        return fn
