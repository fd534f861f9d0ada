# expect: no-gradient at table
# The training loop shares a helper with evaluation and passes is_train=False by mistake:
# the lookup runs under torch.set_grad_enabled(False), so the embedding table is never
# recorded and never learns, while the head above it trains normally.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(31)
table = torch.randn(20, 4, requires_grad=True)
head = torch.randn(4, 1, requires_grad=True)
ids = torch.randint(0, 20, (32,))
target = torch.randn(32, 1)
opt = torch.optim.SGD([table, head], lr=0.1)


def embed(ids, is_train):
    with torch.set_grad_enabled(is_train):
        return table[ids] * 2.0  # <- diagnosed here


for step in range(12):
    pred = embed(ids, is_train=False) @ head
    loss = ((pred - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
