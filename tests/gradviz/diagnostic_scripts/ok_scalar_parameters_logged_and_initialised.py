# expect: nothing
# Scalar parameters read as Python numbers for logging (.item(), float()) before each step,
# weights initialised in place under no_grad, a non-scalar backward with an explicit
# gradient, and .grad reset to None by hand: all correct.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(59)
x = torch.randn(40, 5)
y = 3 * x[:, :1] + 1
w = torch.empty(5, 1, requires_grad=True)
with torch.no_grad():
    torch.nn.init.xavier_uniform_(w)
    w[0] = 0.0
a = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for step in range(15):
    print(f"a={a.item():.3f} b={float(b):.3f}")
    residual = a * torch.tanh(x @ w) + b - y
    residual.backward(2 * residual.detach() / len(x))
    with torch.no_grad():
        for p in (w, a, b):
            p -= 0.1 * p.grad
    w.grad = a.grad = b.grad = None
