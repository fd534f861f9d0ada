# expect: nothing
# A SimSiam-style objective: each branch's projection is compared with the other branch's,
# detached (stop-gradient). The encoder still gets its gradient through the other side.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(54)
encoder = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
predictor = torch.nn.Linear(8, 8)
params = list(encoder.parameters()) + list(predictor.parameters())
opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)


def negative_cosine(p, z):
    p = p / (p.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-8)
    z = z / (z.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-8)
    return -(p * z.detach()).sum(dim=1).mean()


for step in range(15):
    x = torch.randn(32, 12)
    z1, z2 = encoder(x + 0.1 * torch.randn(32, 12)), encoder(x + 0.1 * torch.randn(32, 12))
    loss = 0.5 * negative_cosine(predictor(z1), z2) + 0.5 * negative_cosine(predictor(z2), z1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    running = loss.detach().item()
