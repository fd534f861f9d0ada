# expect: nothing
# Gradients changed in place after backward (clipped to a total norm, weight decay added) and
# used for a hand-written update; model.zero_grad() clears them at the start of each step.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(58)
model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
x, y = torch.randn(32, 6), torch.randn(32, 1)
for step in range(15):
    model.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        total = sum(float((p.grad ** 2).sum()) for p in model.parameters()) ** 0.5
        for p in model.parameters():
            p.grad.mul_(min(1.0, 0.5 / (total + 1e-6)))
            p.grad.add_(1e-4 * p)
            p -= 0.1 * p.grad
