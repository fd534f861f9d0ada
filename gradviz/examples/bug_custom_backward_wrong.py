# gradviz example: bug: a custom autograd.Function whose backward has the wrong derivative (gradcheck-failed).
# Cube computes x**3, but its backward returns 3*x instead of 3*x**2. Nothing crashes: the
# network just trains on wrong gradients. gradviz checks every custom Function once, on its
# first call, against finite differences in float64, and names the one that disagrees.
import torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x  # BUG: d(x^3)/dx is 3 * x**2


torch.manual_seed(0)
N, D_in, D_out = 32, 8, 2
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w = (torch.randn(D_in, D_out) * 0.1).requires_grad_()

learning_rate = 1e-2
for t in range(10):
    y_pred = Cube.apply(x.mm(w))
    loss = (y_pred - y).pow(2).mean()
    if t % 5 == 4:
        print(f"step {t}: loss {loss.item():.4f}")
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
        w.grad.zero_()
