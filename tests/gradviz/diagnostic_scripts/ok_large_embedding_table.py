# expect: nothing
# A bag-of-embeddings model over a 20,000-row table, each batch touching a few rows: the
# table's gradient is small next to its norm, which is sparse learning, not vanishing.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(60)


class BagModel(nn.Module):
    def __init__(self, rows, dim):
        super().__init__()
        self.table = nn.Parameter(torch.randn(rows, dim) * 0.1)
        self.hidden = nn.Linear(dim, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, ids):
        return self.out(torch.relu(self.hidden(self.table[ids].mean(dim=1))))


model = BagModel(20000, 16)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(25):
    ids = torch.randint(0, 20000, (32, 4))
    target = torch.randn(32, 1)
    loss = ((model(ids) - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
