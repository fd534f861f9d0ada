# expect: nothing
# A GAN whose discriminator wins: its loss falls towards 0 while the generator's loss, and
# the generator's gradients, grow large. Two different losses alternating, each behaving as
# it may: nothing here is an exploding gradient (growth is judged within one loss's steps).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(56)
G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-4)
opt_d = torch.optim.Adam(D.parameters(), lr=5e-2)
real_label, fake_label = torch.ones(64, 1), torch.zeros(64, 1)
for step in range(120):
    real = torch.randn(64, 2) * 0.3 + 4.0
    fake = G(torch.randn(64, 2))
    d_loss = F.binary_cross_entropy(torch.sigmoid(D(real)), real_label) + \
        F.binary_cross_entropy(torch.sigmoid(D(fake.detach())), fake_label)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.binary_cross_entropy(torch.sigmoid(D(fake)), real_label)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
