# expect: dead-relu at ReluBackward0
# A model whose hidden bias is initialised to a large negative constant (meant as a
# "sparse" start): every unit of the ReLU is off for every sample, and the hidden layer
# never learns.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn
import torch.nn.functional as F


class Regressor(nn.Module):
    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.head = nn.Linear(n_hidden, 1)
        nn.init.constant_(self.hidden.bias, -10.0)

    def forward(self, x):
        h = F.relu(self.hidden(x))  # <- diagnosed here
        return self.head(h)


torch.manual_seed(18)
model = Regressor(8, 24)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(50, 8)
y = x[:, :1] * 2
for epoch in range(12):
    loss = F.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
