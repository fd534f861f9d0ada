# expect: no-gradient at proj.weight
# A custom layer written after an old tutorial reads self.proj.weight.data in its forward:
# the weight's values are used, but autograd never sees it, so it never learns.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn
import torch.nn.functional as F


class Scorer(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.proj = nn.Linear(n_in, n_out)

    def forward(self, x):
        return F.linear(x, self.proj.weight.data, self.proj.bias)  # <- diagnosed here


torch.manual_seed(26)
scorer = Scorer(10, 4)
optimizer = torch.optim.SGD(scorer.parameters(), lr=0.1)
x = torch.randn(30, 10)
labels = torch.randint(0, 4, (30,))
for epoch in range(12):
    loss = F.cross_entropy(scorer(x), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
