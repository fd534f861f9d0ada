# expect: nothing
# Fine-tuning: the first layer is frozen with requires_grad_(False) and left out of the
# optimizer; a second model freezes a layer but still hands all parameters to the
# optimizer (frozen ones have no .grad and are skipped, as in PyTorch).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(48)
model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 1))
model[0].requires_grad_(False)
opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.05)
other = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 1))
for p in other[0].parameters():
    p.requires_grad = False
other_opt = torch.optim.Adam(other.parameters(), lr=1e-3)
x, y = torch.randn(40, 6), torch.randn(40, 1)
for step in range(15):
    for net, optimizer in ((model, opt), (other, other_opt)):
        loss = nn.functional.mse_loss(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
