"""``gradcheck``: compare analytical gradients with central finite differences (float64)."""

from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _tensors(inputs):
    from .._tensor import Tensor

    if isinstance(inputs, Tensor):
        return (inputs,)
    return tuple(inputs)


def _flat_outputs(fn, inputs):
    from .._tensor import Tensor

    out = fn(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outs if isinstance(o, Tensor)]


def numerical_jacobian(fn, inputs, eps: float = 1e-6):
    """One matrix per (input, output): d out.flat / d in.flat by central differences."""
    from .._grad_mode import no_grad
    from .._tensor import Tensor

    jacobians = []
    with no_grad():
        base = _flat_outputs(fn, inputs)
        for inp in inputs:
            if not (isinstance(inp, Tensor) and inp.requires_grad_flag):
                jacobians.append(None)
                continue
            host = inp._B.to_host(inp._data)
            cols = [np.zeros((host.size, o._data.size)) for o in base]
            flat = inp._data.reshape(-1)  # a view: perturb in place, restore after
            for k in range(host.size):
                orig = flat[k].item()
                flat[k] = orig + eps
                plus = [o._B.to_host(o._data).astype(np.float64).ravel()
                        for o in _flat_outputs(fn, inputs)]
                flat[k] = orig - eps
                minus = [o._B.to_host(o._data).astype(np.float64).ravel()
                         for o in _flat_outputs(fn, inputs)]
                flat[k] = orig
                for j in range(len(base)):
                    cols[j][k] = (plus[j] - minus[j]) / (2 * eps)
            jacobians.append(cols)
    return jacobians


def analytical_jacobian(fn, inputs):
    from . import grad as autograd_grad
    from .._tensor import Tensor

    outs = _flat_outputs(fn, inputs)
    diff_inputs = [i for i in inputs if isinstance(i, Tensor) and i.requires_grad_flag]
    result = {id(i): [np.zeros((i._data.size, o._data.size)) for o in outs] for i in diff_inputs}
    for j, out in enumerate(outs):
        if not out.requires_grad_flag:
            continue
        for r in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[r] = 1
            go = Tensor._wrap(out._B.from_host(seed.reshape(out._data.shape)), out._B)
            grads = autograd_grad(out, diff_inputs, grad_outputs=go, retain_graph=True,
                                  allow_unused=True)
            for inp, g in zip(diff_inputs, grads):
                if g is not None:
                    result[id(inp)][j][:, r] = g._B.to_host(g._data).ravel()
    return [result.get(id(i)) for i in inputs]


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """True when every analytical Jacobian entry matches finite differences within
    ``atol + rtol * |numerical|``; otherwise raise (or return False) naming the first mismatch."""
    inputs = _tensors(inputs)
    numerical = numerical_jacobian(func, inputs, eps)
    analytical = analytical_jacobian(func, inputs)
    for i, (num, ana) in enumerate(zip(numerical, analytical)):
        if num is None:
            continue
        for j, (n, a) in enumerate(zip(num, ana)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {i},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
    return True


def gradgradcheck(*args, **kwargs):
    raise NotImplementedError(
        "gradviz's engine does not implement gradgradcheck (higher-order gradients)"
    )
