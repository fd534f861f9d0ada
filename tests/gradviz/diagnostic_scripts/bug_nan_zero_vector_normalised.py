# expect: nan-or-inf at DivBackward0
# Cosine similarity written by hand over an embedding table whose padding row is all zeros:
# the row's norm is 0 and 0 / 0 is NaN. The fix: divide by norm.clamp(min=1e-8).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(5)
vocab, dim = 10, 8
table = torch.randn(vocab, dim)
table[0] = 0.0  # padding
table.requires_grad_()
optimizer = torch.optim.SGD([table], lr=0.1)
pairs = torch.tensor([[1, 2], [3, 4], [0, 5], [6, 7]])
similar = torch.tensor([1.0, 0.0, 0.0, 1.0])


def unit(v):
    length = v.pow(2).sum(dim=-1, keepdim=True).sqrt()
    return v / length  # <- diagnosed here


for step in range(3):
    a = unit(table[pairs[:, 0]])
    b = unit(table[pairs[:, 1]])
    cos = (a * b).sum(dim=-1)
    loss = ((cos - similar) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
