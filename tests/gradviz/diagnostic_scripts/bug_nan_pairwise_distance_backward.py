# expect: nan-or-inf at PowBackward0
# A contrastive loss over all pairwise distances: the diagonal holds each point's distance to
# itself, 0, and the derivative of x ** 0.5 at 0 is infinite. The forward pass and the loss
# are finite; the gradients are NaN. The fix: add a small epsilon inside the power.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(7)
embed = nn.Linear(10, 3)
opt = torch.optim.SGD(embed.parameters(), lr=0.05)
points = torch.randn(12, 10)
group = torch.randint(0, 3, (12,))
same = (group.unsqueeze(0) == group.unsqueeze(1)).float()

for step in range(3):
    z = embed(points)
    diff = z.unsqueeze(1) - z.unsqueeze(0)
    dist = (diff ** 2).sum(dim=-1) ** 0.5  # <- diagnosed here
    loss = (same * dist ** 2 + (1 - same) * torch.relu(2.0 - dist) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
