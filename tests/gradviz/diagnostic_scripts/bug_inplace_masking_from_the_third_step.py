# expect: inplace-modified at TanhBackward0
# Feature masking switched on from the third step, done in place on tanh's output, which
# TanhBackward0 saved: the first two steps train, the third backward() fails.
import torch

torch.manual_seed(29)
x = torch.randn(12, 5)
y = torch.randn(12, 1)
W = torch.randn(5, 4, requires_grad=True)
V = torch.randn(4, 1, requires_grad=True)
opt = torch.optim.SGD([W, V], lr=0.05)
for step in range(5):
    h = torch.tanh(x @ W)
    if step >= 2:
        h[:, 0] = 0.0  # <- diagnosed here
    loss = ((h @ V - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
