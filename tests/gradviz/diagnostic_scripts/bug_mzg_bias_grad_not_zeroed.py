# expect: missing-zero-grad at bias
# Logistic regression written by hand: the weights' gradient is zeroed after each update,
# the bias's is not, so the bias is pushed by the sum of every earlier gradient.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(1)
features = torch.randn(100, 4)
labels = (features[:, 0] - 0.5 * features[:, 1] > 0).float()
weights = torch.zeros(4, requires_grad=True)
bias = torch.zeros(1, requires_grad=True)

for epoch in range(20):
    p = torch.sigmoid(features @ weights + bias)
    loss = -(labels * torch.log(p + 1e-7) + (1 - labels) * torch.log(1 - p + 1e-7)).mean()
    loss.backward()  # <- diagnosed here
    with torch.no_grad():
        weights -= 0.5 * weights.grad
        bias -= 0.5 * bias.grad
        weights.grad.zero_()
        # the bias's gradient is forgotten here
