# expect: missing-zero-grad at 0.weight|0.bias|2.weight|2.bias
# The gradients are clipped in place before each update, but never zeroed: changing .grad in
# place is not clearing it, and every update still repeats all earlier gradients.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(57)
model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
x, y = torch.randn(32, 6), torch.randn(32, 1)
for step in range(8):
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()  # <- diagnosed here
    with torch.no_grad():
        for p in model.parameters():
            p.grad.clamp_(-1.0, 1.0)
            p -= 0.1 * p.grad
