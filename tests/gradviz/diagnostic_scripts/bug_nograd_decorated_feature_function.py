# expect: no-gradient at projection
# A feature function decorated with @torch.no_grad() (copied from an evaluation helper)
# uses a projection that is meant to be trained: nothing inside it is recorded, so the
# projection never gets a gradient.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch


@torch.no_grad()
def featurize(batch, projection):
    return torch.tanh(batch @ projection)  # <- diagnosed here


torch.manual_seed(27)
data = torch.randn(40, 6)
target = torch.randn(40, 1)
projection = torch.randn(6, 8, requires_grad=True)
readout = torch.randn(8, 1, requires_grad=True)
opt = torch.optim.SGD([projection, readout], lr=0.05)
for step in range(12):
    pred = featurize(data, projection) @ readout
    loss = ((pred - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
