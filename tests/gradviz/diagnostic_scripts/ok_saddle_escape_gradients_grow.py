# expect: nothing
# A deep linear network started near zero: its gradients grow by orders of magnitude as it
# leaves the saddle at the origin, while the loss falls. Growth with a falling loss is
# learning, not an explosion.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(45)
x = torch.randn(100, 5)
y = x @ (3 * torch.randn(5, 5))
w1 = (torch.randn(5, 5) * 1e-2).requires_grad_()
w2 = (torch.randn(5, 5) * 1e-2).requires_grad_()
w3 = (torch.randn(5, 5) * 1e-2).requires_grad_()
opt = torch.optim.SGD([w1, w2, w3], lr=0.05)
for step in range(340):
    loss = ((x @ w1 @ w2 @ w3 - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"loss {loss.item():.4g}")
