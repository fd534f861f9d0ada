# expect: nothing
# A shared trunk with two heads; the first loss's backward keeps the graph
# (retain_graph=True) because the second one goes through the trunk again.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn.functional as F

torch.manual_seed(41)
trunk = torch.nn.Linear(8, 16)
head_a = torch.nn.Linear(16, 1)
head_b = torch.nn.Linear(16, 3)
params = list(trunk.parameters()) + list(head_a.parameters()) + list(head_b.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
x = torch.randn(32, 8)
y_reg = torch.randn(32, 1)
y_cls = torch.randint(0, 3, (32,))
for step in range(10):
    features = torch.tanh(trunk(x))
    loss_a = F.mse_loss(head_a(features), y_reg)
    loss_b = F.cross_entropy(head_b(features), y_cls)
    opt.zero_grad()
    loss_a.backward(retain_graph=True)
    loss_b.backward()
    opt.step()
