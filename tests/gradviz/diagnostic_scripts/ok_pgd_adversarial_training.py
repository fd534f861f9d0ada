# expect: nothing
# Adversarial training with a PGD attack: the perturbation requires grad, is pushed up the
# loss for a few steps (its gradient zeroed each time, the model's left to pile up), then
# the model's gradients are cleared before its own update on the perturbed batch.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn.functional as F

torch.manual_seed(50)
model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
eps, alpha = 0.3, 0.1
for step in range(12):
    x = torch.randn(32, 10)
    y = (x[:, 0] > 0).long()
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(4):
        attack_loss = F.cross_entropy(model(x + delta), y)
        attack_loss.backward()
        delta.data = (delta + alpha * delta.grad.sign()).clamp(-eps, eps)
        delta.grad.zero_()
    loss = F.cross_entropy(model(x + delta.detach()), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
