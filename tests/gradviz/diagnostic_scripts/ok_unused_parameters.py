# expect: nothing
# A model that defines an auxiliary head it does not use in this training phase, and an
# embedding table of which each batch uses a few rows: neither is a missing gradient.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(50, 8) * 0.1)
        self.main_head = nn.Linear(8, 1)
        self.aux_head = nn.Linear(8, 4)  # for a later phase

    def forward(self, ids):
        return self.main_head(self.embedding[ids].mean(dim=1))


torch.manual_seed(49)
model = Model()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(15):
    ids = torch.randint(0, 50, (16, 5))
    target = torch.randn(16, 1)
    loss = ((model(ids) - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
