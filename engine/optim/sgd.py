"""``optim.SGD`` with PyTorch's update equations (momentum, dampening, Nesterov, weight
decay, maximize)."""

from __future__ import annotations

from .._grad_mode import enable_grad
from .._tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``::

        g = grad (+ weight_decay * p)
        buf = g  (first step)   |   buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf (nesterov)   |   g = buf
        p -= lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            dampening, weight_decay = group["dampening"], group["weight_decay"]
            nesterov, maximize = group["nesterov"], group["maximize"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                B = p._B
                g = B.negative(grad._data) if maximize else grad._data
                if weight_decay != 0:
                    g = B.add(g, B.multiply(p._data, weight_decay))
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._wrap(B.copy(g), B)
                    else:
                        b = buf._data
                        B.multiply(b, momentum, out=b)
                        B.add(b, g if dampening == 0 else B.multiply(g, 1 - dampening), out=b)
                    g = B.add(g, B.multiply(buf._data, momentum)) if nesterov else buf._data
                B.add(p._data, B.multiply(g, -lr), out=p._data, casting="unsafe")
                p._bump("add_")
        return loss
