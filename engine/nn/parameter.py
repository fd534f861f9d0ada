"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its weights."""

from __future__ import annotations

from .._backend import NUMPY
from .._tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad=True`` by default, and assigning
    it as a ``Module`` attribute registers it (``parameters()``, ``state_dict()``).

    Like PyTorch's, it shares storage and version counter with ``data``.

    >>> torch.nn.Parameter(torch.zeros(2))
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __new__(cls, data=None, requires_grad: bool = True):
        self = object.__new__(cls)
        if data is None:
            Tensor._init(self, NUMPY.empty((0,), dtype="float32"), NUMPY)
        else:
            if not isinstance(data, Tensor):
                raise TypeError(
                    f"_make_subclass(): argument 'data' (position 2) must be Tensor, not "
                    f"{type(data).__name__}"
                )
            Tensor._init(self, data._data, data._B)
            self._version = data._version  # a detached alias, as PyTorch's _make_subclass
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        self.requires_grad_flag = bool(requires_grad)
        return self

    def __init__(self, data=None, requires_grad: bool = True):
        pass

    def __repr__(self, *, tensor_contents=None) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._B.to_host(self._data), self.requires_grad_flag))


def _rebuild_parameter(array, requires_grad: bool) -> Parameter:
    return Parameter(Tensor._wrap(array, NUMPY), requires_grad)

