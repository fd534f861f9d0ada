# expect: no-gradient at offset
# A learnable offset is added as a Python number (offset.item()), so the loss depends on
# it only as a constant and it never changes.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(28)
x = torch.randn(50, 3)
y = x @ torch.tensor([1.0, -1.0, 2.0]) + 4.0
weight = torch.zeros(3, requires_grad=True)
offset = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([weight, offset], lr=0.1)
for epoch in range(15):
    pred = x @ weight + offset.item()  # <- diagnosed here
    loss = ((pred - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
