# expect: exploding-gradient at coef|intercept
# Polynomial regression with raw powers of x (up to x**3 with x in [0, 4]): the learning
# rate is far too large for the x**3 column, the fit diverges and the loss overflows to inf.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(22)
x = torch.rand(80) * 4
y = 0.5 * x ** 3 - x + torch.randn(80) * 0.1
features = torch.stack([x, x ** 2, x ** 3], dim=1)
coef = torch.zeros(3, requires_grad=True)
intercept = torch.zeros(1, requires_grad=True)
lr = 0.003

for step in range(300):
    pred = features @ coef + intercept
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        coef -= lr * coef.grad  # <- diagnosed here
        intercept -= lr * intercept.grad  # <- diagnosed here
    coef.grad.zero_()
    intercept.grad.zero_()
print("final loss", loss.item())
