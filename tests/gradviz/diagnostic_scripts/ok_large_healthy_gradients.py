# expect: nothing
# Regression on raw, large-valued features with a learning rate small enough for them: the
# first gradients are about 1e6 and shrink as the loss falls. Large is not exploding.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(44)
sqft = torch.rand(200, 1) * 3000 + 500
rooms = torch.randint(1, 8, (200, 1)).float()
X = torch.cat([sqft, rooms], dim=1)
price = 150 * sqft + 10000 * rooms + 20000
w = torch.zeros(2, 1, requires_grad=True)
for step in range(60):
    loss = ((X @ w - price) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 1e-7 * w.grad
        w.grad.zero_()
print(f"loss {loss.item():.4g}")
