"""``optim.Adam`` with PyTorch's update equations (bias correction, amsgrad, weight decay,
decoupled weight decay as in AdamW, maximize)."""

from __future__ import annotations

from .. import _dtype as dt
from .._backend import NUMPY
from .._grad_mode import enable_grad
from .._tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``::

        g = grad (+ weight_decay * p, or p *= 1 - lr * weight_decay when decoupled)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    with ``v`` replaced by its running maximum under ``amsgrad``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable,
                    "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _state_of(self, p: Tensor, amsgrad: bool) -> dict:
        state = self.state[p]
        if not state:
            B = p._B
            # PyTorch keeps ``step`` as a 0-d CPU tensor of the default float dtype
            state["step"] = Tensor._wrap(NUMPY.zeros((), dtype=dt.DEFAULTS.float_dtype.np))
            state["exp_avg"] = Tensor._wrap(B.zeros_like(p._data), B)
            state["exp_avg_sq"] = Tensor._wrap(B.zeros_like(p._data), B)
            if amsgrad:
                state["max_exp_avg_sq"] = Tensor._wrap(B.zeros_like(p._data), B)
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                B = p._B
                state = self._state_of(p, amsgrad)
                step_t = state["step"]
                NUMPY.add(step_t._data, 1, out=step_t._data)
                g = B.negative(grad._data) if maximize else grad._data
                if weight_decay != 0:
                    if decoupled:
                        B.multiply(p._data, 1 - lr * weight_decay, out=p._data,
                                   casting="unsafe")
                        p._bump("mul_")
                    else:
                        g = B.add(g, B.multiply(p._data, weight_decay))
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                _lerp_(B, m, g, 1 - beta1)
                B.multiply(v, beta2, out=v)
                B.add(v, B.multiply(B.multiply(g, 1 - beta2), g), out=v)
                step = float(step_t._data)
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                step_size = lr / bias_correction1
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    B.maximum(vmax, v, out=vmax)
                    v = vmax
                denom = B.add(B.divide(B.sqrt(v), bias_correction2_sqrt), eps)
                B.add(p._data, B.divide(B.multiply(m, -step_size), denom), out=p._data,
                      casting="unsafe")
                p._bump("addcdiv_")
        return loss


def _lerp_(B, start, end, weight: float) -> None:
    """``start.lerp_(end, weight)`` with PyTorch's two formulas (exact at both ends)."""
    diff = B.subtract(end, start)
    if abs(weight) < 0.5:
        B.add(start, B.multiply(diff, weight), out=start)
    else:
        B.subtract(end, B.multiply(diff, 1 - weight), out=start)
