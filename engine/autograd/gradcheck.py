"""``gradcheck``: compare analytical gradients with central finite differences (float64).

PyTorch's slow-mode gradcheck, step for step: check the inputs, build the numerical Jacobian
of every differentiable output by perturbing each input element by ``±eps``, build the
analytical one row by row with ``autograd.grad`` (twice, to catch a nondeterministic
backward), compare with ``allclose(analytical, numerical, rtol, atol)``, then check that
backward scales with ``grad_output``. Failures raise ``GradcheckError`` with PyTorch's text.
"""

from __future__ import annotations

import warnings

import numpy as np


class GradcheckError(RuntimeError):
    """Error raised by :func:`gradcheck`."""


_NOT_IMPLEMENTED = "gradviz's engine does not implement gradcheck({}=True)"


def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _is_tensor(x) -> bool:
    from .._tensor import Tensor

    return isinstance(x, Tensor)


def _diff_inputs(inputs) -> list:
    return [t for t in inputs if _is_tensor(t) and t.requires_grad_flag]


def _as_engine_tensor(array: np.ndarray):
    """A host array as an engine tensor, so messages print the way PyTorch prints tensors."""
    from .._tensor import Tensor

    return Tensor._wrap(array)


def _check_inputs(inputs) -> None:
    found = False
    for idx, inp in enumerate(inputs):
        if _is_tensor(inp) and inp.requires_grad_flag:
            if inp._data.dtype != np.float64:
                warnings.warn(
                    f"Input #{idx} requires gradient and is not a double precision floating "
                    "point or complex. This check will likely fail if all the inputs are not "
                    "of double precision floating point or complex. ",
                    UserWarning,
                    stacklevel=4,
                )
            if any(st == 0 and sz > 1 for st, sz in zip(inp.stride(), inp._data.shape)):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                    "inputs that are non-overlapping to be able to compute the numerical "
                    "gradients correctly. You should call .contiguous on the input before "
                    "passing it to gradcheck."
                )
            found = True
    if not found:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of "
            "them have requires_grad=True."
        )


def _host_outputs(func, inputs) -> list:
    outs = [o for o in _as_tuple(func(*inputs)) if _is_tensor(o)]
    return [o._B.to_host(o._data).astype(np.float64).ravel() for o in outs]


def numerical_jacobian(func, inputs, eps: float = 1e-6) -> list:
    """``[output][diff input]`` matrices of shape (input numel, output numel): central
    differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, one input element at a time. Every
    tensor output gets one (PyTorch also checks those that do not require grad)."""
    from .._grad_mode import no_grad

    diff = _diff_inputs(inputs)
    with no_grad():
        n_out = [o.size for o in _host_outputs(func, inputs)]
        jac = [[np.zeros((t._data.size, m)) for t in diff] for m in n_out]
        for j, inp in enumerate(diff):
            data = inp._data  # perturbed in place (any strides), restored after each element
            for k, idx in enumerate(np.ndindex(data.shape)):
                orig = data[idx].item()
                data[idx] = orig - eps
                minus = _host_outputs(func, inputs)
                data[idx] = orig + eps
                plus = _host_outputs(func, inputs)
                data[idx] = orig
                for i in range(len(n_out)):
                    jac[i][j][k] = (plus[i] - minus[i]) / (2 * eps)
    return jac


def _analytical_rows(output, diff) -> list:
    """d output / d each diff input, one output element at a time: (input numel, output numel)
    matrices, and whether every returned gradient had its input's size and dtype."""
    from .._tensor import Tensor
    from . import grad as autograd_grad

    B = output._B
    jac = [np.zeros((t._data.size, output._data.size), dtype=t._data.dtype) for t in diff]
    sizes_ok = types_ok = True
    for r in range(output._data.size):
        seed = np.zeros(output._data.size, dtype=output._data.dtype)
        seed[r] = 1
        go = Tensor._wrap(B.from_host(seed.reshape(output._data.shape)), B)
        grads = autograd_grad(output, diff, grad_outputs=go, retain_graph=True, allow_unused=True)
        for j, (inp, g) in enumerate(zip(diff, grads)):
            if g is None:
                continue
            sizes_ok &= g.shape == inp.shape
            types_ok &= g._data.dtype == inp._data.dtype
            jac[j][:, r] = g._B.to_host(g._data).ravel()
    return jac, sizes_ok, types_ok


def _analytical_jacobian(output, diff, nondet_tol: float, check_grad_dtypes: bool) -> list:
    first, sizes_ok, types_ok = _analytical_rows(output, diff)
    second, _, _ = _analytical_rows(output, diff)
    reentrant = all(
        a.shape == b.shape and (a.size == 0 or np.abs(a - b).max() <= nondet_tol)
        for a, b in zip(first, second)
    )
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    if not reentrant:
        raise GradcheckError(
            "Backward is not reentrant, i.e., running backward with same input and "
            "grad_output multiple times gives different values, although analytical gradient "
            f"matches numerical gradient.The tolerance for nondeterminism was {nondet_tol}."
        )
    return first


def _check_backward_scales(outputs, diff) -> None:
    """A zero ``grad_output`` must give zero gradients (backward multiplies by it)."""
    from .._tensor import Tensor
    from . import grad as autograd_grad

    zeros = [Tensor._wrap(o._B.zeros(o._data.shape, dtype=o._data.dtype), o._B)
             for o in outputs]
    grads = autograd_grad(outputs, diff, zeros, allow_unused=True)
    for gi, di in zip(grads, diff):
        if gi is None:
            continue
        if np.any(gi._B.to_host(gi._data) != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if gi._data.dtype != di._data.dtype:
            raise GradcheckError("grad is incorrect type")
        if gi.shape != di.shape:
            raise GradcheckError("grad is incorrect size")


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes) -> bool:
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    func_out = _as_tuple(func(*inputs))
    outputs = [o for o in func_out if _is_tensor(o) and o.requires_grad_flag]
    diff = _diff_inputs(inputs)
    numerical = numerical_jacobian(func, inputs, eps)
    if not outputs:
        # nothing to differentiate: the function must then not depend on its inputs
        if any(np.any(m != 0) for per_output in numerical for m in per_output):
            raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    tensor_outs = [o for o in func_out if _is_tensor(o)]
    numerical = [n for o, n in zip(tensor_outs, numerical) if o.requires_grad_flag]
    for i, out in enumerate(outputs):
        analytical = _analytical_jacobian(out, diff, nondet_tol, check_grad_dtypes)
        for j, (a, n) in enumerate(zip(analytical, numerical[i])):
            want = np.promote_types(a.dtype, n.dtype)
            if not np.allclose(a.astype(want), n.astype(want), rtol=rtol, atol=atol):
                raise GradcheckError(
                    f"Jacobian mismatch for output {i:d} with respect to input {j:d},\n"
                    f"numerical:{_as_engine_tensor(n)}\nanalytical:{_as_engine_tensor(a)}\n"
                )
    _check_backward_scales(outputs, diff)
    return True


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked=None) -> bool:
    """True when, for every differentiable output and every input that requires grad, the
    analytical Jacobian matches finite differences: ``|a - n| <= atol + rtol * |n|``.
    Otherwise raise ``GradcheckError`` naming the first mismatch (or return False with
    ``raise_exception=False``). Use float64 inputs: float32 is too coarse for ``eps=1e-6``.

    ``fast_mode`` runs the full (slow) check; ``check_undefined_grad`` is accepted and not
    performed (the engine has no undefined gradients to feed a backward).
    """
    for flag, name in ((check_batched_grad, "check_batched_grad"),
                       (check_batched_forward_grad, "check_batched_forward_grad"),
                       (check_forward_ad, "check_forward_ad")):
        if flag:
            raise NotImplementedError(_NOT_IMPLEMENTED.format(name))
    if not check_backward_ad:
        return True
    try:
        return _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(*args, **kwargs):
    """Second-order gradcheck: needs ``create_graph``, which the engine does not implement."""
    raise NotImplementedError(
        "gradviz's engine does not implement gradgradcheck (higher-order gradients)"
    )
