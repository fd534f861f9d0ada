# expect: vanishing-gradient at layers.0.weight|layers.0.bias
# Fifteen tanh layers in an nn.ModuleList, initialised with a standard deviation of 0.05:
# each layer shrinks the backward signal about four-fold, so the first layers' gradients are
# many orders of magnitude smaller than the last ones'. The fix: Xavier/Kaiming
# initialisation, ReLU, normalisation layers or residual connections.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn


class DeepTanh(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=0.05)
            nn.init.zeros_(layer.bias)
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))  # <- diagnosed here
        return self.head(x)


torch.manual_seed(24)
model = DeepTanh(width=24, depth=15)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x = torch.randn(32, 24)
y = x[:, :1] ** 2
for step in range(20):
    loss = ((model(x) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
