# expect: nothing
# A healthy ten-layer ReLU network with Kaiming initialisation: some units are off for
# some samples, no layer is dead, and the gradients reach the first layer.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn


def make_mlp(width, depth):
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


torch.manual_seed(43)
net = make_mlp(32, 10)
opt = torch.optim.SGD(net.parameters(), lr=1e-3)
x = torch.randn(64, 32)
y = x[:, :4].sum(dim=1, keepdim=True)
for step in range(30):
    loss = nn.functional.mse_loss(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
