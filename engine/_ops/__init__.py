"""All ops. Importing this package binds every op to ``Tensor``; the names in each module's
``__all__`` are the module-level functions of the ``torch`` namespace (``torch.sum`` ...)."""

from . import (
    arithmetic,
    conversion,
    creation,
    indexing,
    inplace,
    linalg,
    loss,
    minmax,
    pointwise,
    reduction,
    shape,
    softmax,
)

_MODULES = (arithmetic, conversion, creation, indexing, inplace, linalg, loss, minmax, pointwise,
            reduction, shape, softmax)

FUNCTIONS = {name: getattr(m, name) for m in _MODULES for name in m.__all__}
