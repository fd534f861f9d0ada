# expect: inplace-modified at AddmmBackward0
# A GAN loop that steps the discriminator before the generator's backward pass: the
# generator's loss was computed through the discriminator's weights, which opt_d.step() has
# just changed in place. The fix: compute D(fake) for the generator after opt_d.step().
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(13)
G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
mse = nn.functional.mse_loss
real = torch.randn(32, 2) + 2.0
ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)

for step in range(3):
    fake = G(torch.randn(32, 2))
    d_loss = mse(D(real), ones) + mse(D(fake.detach()), zeros)
    g_loss = mse(D(fake), ones)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()  # <- diagnosed here
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
