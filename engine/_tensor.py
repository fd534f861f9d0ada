"""``Tensor``: an array on a backend plus the autograd bookkeeping PyTorch keeps for it.

Ops live in ``engine/_ops`` (each forward beside its backward node) and are bound to this
class there; this module holds what every op shares: construction, the graph edges of a
tensor, gradients, in-place bookkeeping, conversions and Python protocols.
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np

from . import _dtype as dt
from ._backend import NUMPY
from ._device import backend_for, device_of
from ._grad_mode import GRAD_MODE
from ._size import Size
from .autograd.graph import AccumulateGrad, Node, accumulate_into, run_backward
from .events import EVENTS, user_source

_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)
_LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}


class Tensor:
    """A multi-dimensional array that records the operations applied to it."""

    __slots__ = (
        "_data", "_B", "requires_grad_flag", "grad_fn", "_output_nr", "_grad", "_version",
        "_accumulator", "_grad_owner", "_base", "__weakref__", "__dict__",
    )
    # numpy must hand mixed expressions (ndarray * Tensor) to our reflected operators
    __array_priority__ = 1000
    __array_ufunc__ = None

    # --- construction ------------------------------------------------------------------------
    def __new__(cls, *args, **kwargs):
        # ``torch.Tensor([2, 4])`` / ``torch.Tensor(2, 3)``: the legacy float constructor
        self = object.__new__(cls)
        if cls is Tensor or args or kwargs:
            data = _legacy_constructor_data(args, kwargs)
            Tensor._init(self, data, backend_for(kwargs.get("device")))
        return self

    def __init__(self, *args, **kwargs):
        pass

    def _init(self, data, B, requires_grad=False, grad_fn=None):
        self._data = data
        self._B = B
        self.requires_grad_flag = requires_grad
        self.grad_fn = grad_fn
        self._output_nr = 0
        self._grad = None
        self._version = [0]
        self._accumulator = None
        self._grad_owner = None
        self._base = None

    @staticmethod
    def _wrap(data, B=NUMPY, requires_grad=False, grad_fn=None) -> Tensor:
        """A tensor around ``data`` without copying (the fast path every op uses)."""
        if isinstance(data, np.generic):
            # numpy returns scalars, not 0-d arrays, from ops on 0-d arrays; a tensor always
            # holds an array so that in-place ops (``out=``) and views work on 0-d tensors too
            data = np.asarray(data)
        t = object.__new__(Tensor)
        t._data = data
        t._B = B
        t.requires_grad_flag = requires_grad
        t.grad_fn = grad_fn
        t._output_nr = 0
        t._grad = None
        t._version = [0]
        t._accumulator = None
        t._grad_owner = None
        t._base = None
        return t

    def _view_of(self, data) -> Tensor:
        """A tensor sharing storage and version counter with ``self`` (no autograd)."""
        t = Tensor._wrap(data, self._B)
        t._version = self._version
        t._base = self if self._base is None else self._base
        return t

    # --- autograd identity -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self.requires_grad_flag

    @requires_grad.setter
    def requires_grad(self, flag) -> None:
        if flag and self.grad_fn is None and self._data.dtype.kind not in "fc":
            # PyTorch words this one differently from requires_grad_()'s
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return self
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad_flag = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def _version_counter(self) -> int:
        return self._version[0]

    @property
    def _is_view(self) -> bool:
        return self._base is not None

    def _edge(self) -> tuple:
        """This tensor's place in the graph: (grad_fn, output_nr) or its AccumulateGrad."""
        fn = self.grad_fn
        if fn is not None:
            return (fn, self._output_nr)
        acc = self._accumulator
        if acc is None:
            acc = self._accumulator = AccumulateGrad(self)
        return (acc, 0)

    # --- gradients ---------------------------------------------------------------------------
    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self.requires_grad_flag:
            warnings.warn(_NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._set_grad(value, how="grad = None")

    def _set_grad(self, value, how: str) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(_grad_dtype_message(value._data.dtype, self._data.dtype))
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the "
                    "tensor are the same size"
                )
            value._grad_owner = weakref.ref(self)
        had = self._grad is not None
        self._grad = value
        if value is None and had and EVENTS.active:
            EVENTS.grad_did_zero(self, how)

    @grad.deleter
    def grad(self) -> None:
        self._set_grad(None, how="del grad")

    def _set_grad_tensor(self, data) -> None:
        g = Tensor._wrap(data, self._B)
        g._grad_owner = weakref.ref(self)
        self._grad = g

    @property
    def _retains_grad(self) -> bool:
        fn = self.grad_fn
        return fn is not None and fn._retained is not None and self._output_nr in fn._retained

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward."""
        if not self.requires_grad_flag:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self.grad_fn
        if fn is None:
            return
        if fn._retained is None:
            fn._retained = {}
        fn._retained[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed."""
        if not self.requires_grad_flag:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.graph import _RemovableHandle

        fn = self.grad_fn
        if fn is None:
            # a leaf's hooks belong to its AccumulateGrad (as in PyTorch): they run before that
            # node's pre-hooks, and for autograd.grad too
            fn = self._edge()[0]
        if fn._tensor_pre_hooks is None:
            fn._tensor_pre_hooks = {}
        hooks = fn._tensor_pre_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor w.r.t. the graph leaves (PyTorch semantics)."""
        fn = self.grad_fn
        if (gradient is None and inputs is None and not create_graph and fn is not None
                and self._data.size == 1 and self._data.dtype.kind == "f"
                and not EVENTS.active):
            # ``loss.backward()``: the call every training step makes; skip the general
            # argument handling (the result is the same)
            seed = self._B.ones(self._data.shape, dtype=self._data.dtype)
            run_backward([(fn, self._output_nr)], [seed], bool(retain_graph))
            return
        from .autograd import backward as _backward

        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        # shares storage and the version counter, but is no view for autograd (PyTorch:
        # ``x.detach()._base is None``), so in-place writes into it never rebase ``self``
        t = self._view_of(self._data)
        t._base = None
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad_flag = False
        return self

    @property
    def data(self) -> Tensor:
        # shares storage but not the version counter: in-place changes through .data are
        # invisible to autograd, exactly the PyTorch behaviour the docs warn about
        t = Tensor._wrap(self._data, self._B)
        # ``w.grad.data.zero_()`` still zeroes w's gradient: keep the link for listeners
        t._grad_owner = self._grad_owner
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data
        self._B = value._B

    # --- metadata ----------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> dt.dtype:
        return dt.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return device_of(self._B)

    @property
    def is_cuda(self) -> bool:
        return self._B.name == "cuda"

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format=None) -> bool:
        return self._B.is_contiguous(self._data)

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def type(self, dtype=None):
        if dtype is None:
            name = _TYPE_NAMES[self._data.dtype.name]
            return f"torch.cuda.{name}" if self._B.name == "cuda" else f"torch.{name}"
        return self.to(dtype)

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0] if self._B is NUMPY else 0

    # --- conversion to Python / numpy --------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._B.item(self._data)

    def tolist(self):
        return self._B.to_host(self._data).tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        if self.requires_grad_flag and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        if self._B.name != "cpu" and not force:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. "
                "Use Tensor.cpu() to copy the tensor to host memory first."
            )
        return self._B.to_host(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        # PyTorch iterates with unbind(0), so builtin sum() records UnbindBackward0 + adds
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._B.to_host(self._data), self.requires_grad_flag))

    def __repr__(self, *, tensor_contents=None) -> str:
        from ._format import tensor_repr

        fn = self.grad_fn
        return tensor_repr(
            self._B.to_host(self._data),
            dtype_name=self._data.dtype.name,
            default_float=dt.DEFAULTS.float_dtype.name,
            device=str(self.device),
            # the class name, as PyTorch prints it (NotImplemented's name() is longer)
            grad_fn=None if fn is None else type(fn).__name__,
            requires_grad=self.requires_grad_flag,
        )

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment.  If you were attempting to deepcopy a module, "
                "this may be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
        t = Tensor._wrap(self._B.copy(self._data), self._B, self.requires_grad_flag)
        if type(self) is not Tensor:
            t.__class__ = type(self)
        if self._grad is not None:
            t._set_grad_tensor(self._B.copy(self._grad._data))
        memo[id(self)] = t
        return t

    # --- in-place bookkeeping -----------------------------------------------------------------
    def _check_inplace(self) -> None:
        if self.requires_grad_flag and GRAD_MODE.enabled:
            if self.grad_fn is None:
                raise RuntimeError(_LEAF_INPLACE)  # a detached copy is a leaf of its own
            base = self._base
            if base is not None and base.grad_fn is None and base.requires_grad_flag:
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an "
                    "in-place operation."
                )

    def _bump(self, op: str) -> None:
        self._version[0] += 1
        if EVENTS.active:
            EVENTS.tensor_did_change_inplace(self, op)

    def zero_(self) -> Tensor:
        self._check_inplace()
        if self.requires_grad_flag and GRAD_MODE.enabled:
            from ._ops.inplace import rebase_history_zero  # ZeroBackward0, as PyTorch records

            return rebase_history_zero(self)
        self._B.copyto(self._data, 0)
        self._bump("zero_")
        if EVENTS.active and self._grad_owner is not None:
            owner = self._grad_owner()
            if owner is not None:
                EVENTS.grad_did_zero(owner, "zero_()")
        return self

    def fill_(self, value) -> Tensor:
        if isinstance(value, Tensor):
            value = value.item()
        self._check_inplace()
        if GRAD_MODE.enabled and self.requires_grad_flag:
            from ._ops.inplace import rebase_history_fill

            return rebase_history_fill(self, value)
        self._B.copyto(self._data, value)
        self._bump("fill_")
        return self

    def copy_(self, src, non_blocking=False) -> Tensor:
        from ._ops.inplace import copy_

        return copy_(self, src)


# the C++ type names PyTorch's grad-assignment error uses (c10's TypeMeta names)
_CPP_TYPE_NAMES = {
    "float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
    "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
    "bool": "bool",
}


def _grad_dtype_message(got, want) -> str:
    scalar = _TYPE_NAMES[want.name].removesuffix("Tensor")
    return (
        f"attempting to assign a gradient with dtype '{_CPP_TYPE_NAMES[got.name]}' to a tensor "
        f"with grad_dtype '{scalar}'. The gradient must match the tensor's grad_dtype (defaults "
        "to the tensor's dtype). You can set the tensor's grad_dtype attribute with a specific "
        "dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes "
        "of a tensor and its gradient may break downstream systems that assume they match."
    )


def _rebuild(array, requires_grad):
    return Tensor._wrap(np.array(array), NUMPY, requires_grad)


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _legacy_constructor_data(args, kwargs):
    """``Tensor(list)``, ``Tensor(ndarray)``, ``Tensor(*sizes)``, ``Tensor()``: float32 data."""
    want = dt.float32.np  # the legacy constructor is always float32 (torch.FloatTensor)
    B = backend_for(kwargs.get("device"))
    if not args:
        return B.empty((0,), dtype=want)
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray, Tensor)):
        src = args[0]
        if isinstance(src, Tensor):
            return B.astype(src._data, want, copy=False)
        return B.asarray(np.asarray(src, dtype=want))
    if all(isinstance(a, (int, np.integer)) for a in args):
        return B.zeros(tuple(int(a) for a in args), dtype=want)
    if len(args) == 1 and isinstance(args[0], (int, float)):
        raise TypeError(
            "new(): data must be a sequence (got float)"
        )
    raise TypeError(f"new() received an invalid combination of arguments - got {args!r}")


# --- helpers every op module uses ------------------------------------------------------------


def needs_grad(a: Tensor, b=None) -> bool:
    """Whether an op on these inputs records a node (grad mode on and an input needs grad)."""
    if not GRAD_MODE.enabled:
        return False
    if a.requires_grad_flag:
        return True
    return b is not None and b.__class__ is not float and getattr(b, "requires_grad_flag", False)


def edge_of(t) -> tuple:
    """The ``next_functions`` entry for an input: its edge, or (None, 0) when it needs none."""
    if isinstance(t, Tensor) and t.requires_grad_flag:
        return t._edge()
    return (None, 0)


def record(data, B, node: Node, inputs=()) -> Tensor:
    """The output tensor of a recorded op, attached to ``node``; tells listeners."""
    out = Tensor._wrap(data, B, True, node)
    if EVENTS.active:
        EVENTS.op_did_record(node, out, inputs, user_source() if EVENTS.wants_source else None
        )
    return out


def record_many(datas, B, node: Node, inputs=()) -> tuple:
    """Outputs of a multi-output node (``unbind``): output i has ``output_nr`` i."""
    outs = []
    for i, data in enumerate(datas):
        t = Tensor._wrap(data, B, True, node)
        t._output_nr = i
        outs.append(t)
    if EVENTS.active:
        EVENTS.op_did_record(node, tuple(outs), inputs,
            user_source() if EVENTS.wants_source else None,
        )
    return tuple(outs)


__all__ = ["Tensor", "needs_grad", "edge_of", "record", "record_many", "accumulate_into",
           "run_backward"]
