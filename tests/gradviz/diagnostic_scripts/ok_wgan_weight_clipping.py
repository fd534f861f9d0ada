# expect: nothing
# WGAN with weight clipping: the critic takes five steps per generator step, its weights
# are clipped in place after each step, and each network's gradients are cleared before its
# own update (the generator's backward also fills the critic's .grad, which the critic's
# next zero_grad() discards).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(55)
G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
critic = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
opt_g = torch.optim.SGD(G.parameters(), lr=5e-3)
opt_c = torch.optim.SGD(critic.parameters(), lr=5e-3)
for it in range(8):
    for _ in range(5):
        real = torch.randn(32, 2) * 0.5 + 1.0
        fake = G(torch.randn(32, 3)).detach()
        loss_c = critic(fake).mean() - critic(real).mean()
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        for p in critic.parameters():
            p.data.clamp_(-0.05, 0.05)
    loss_g = -critic(G(torch.randn(32, 3))).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
