# expect: no-gradient at scale
# Per-feature scales are learned, but the forward pass reads them with .tolist() to build the
# scaled features in a Python loop: they enter the graph as plain numbers, so `scale` never
# gets a gradient while the readout trains.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(41)
data = torch.randn(32, 3)
target = torch.randn(32, 1)
scale = torch.ones(3, requires_grad=True)
readout = torch.randn(3, 1, requires_grad=True)
opt = torch.optim.SGD([scale, readout], lr=0.05)

for step in range(12):
    factors = scale.tolist()  # <- diagnosed here
    features = torch.stack([data[:, i] * f for i, f in enumerate(factors)], dim=1)
    loss = ((features @ readout - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
