# expect: nothing
# Temporal-difference learning: the bootstrapped target is computed from the same network
# and detached, so only the prediction is trained towards it.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(42)
q_net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(q_net.parameters(), lr=1e-3)
gamma = 0.95
for step in range(25):
    state = torch.randn(16, 4)
    next_state = torch.randn(16, 4)
    action = torch.randint(0, 2, (16,))
    reward = torch.randn(16)
    q = q_net(state)[torch.arange(16), action]
    target = reward + gamma * q_net(next_state).max(dim=1)[0].detach()
    loss = nn.functional.mse_loss(q, target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
