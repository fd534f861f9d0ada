# expect: nan-or-inf at LogBackward0
# Logistic regression on features that were never normalised (prices, areas): after one
# update the logits are in the hundreds, sigmoid returns exactly 1.0 in float32, and
# log(1 - p) is -inf. The fix: F.binary_cross_entropy_with_logits, or normalise the inputs.
import torch

torch.manual_seed(4)
n = 64
area = torch.rand(n, 1) * 200 + 20
price = torch.rand(n, 1) * 500 + 100
X = torch.cat([area, price], dim=1)
y = (torch.rand(n) < 0.8).float()
w = torch.zeros(2, requires_grad=True)
lr = 0.1

for epoch in range(5):
    p = torch.sigmoid(X.matmul(w))
    log_p = torch.log(p)
    log_not_p = torch.log(1 - p)  # <- diagnosed here
    loss = -(y * log_p + (1 - y) * log_not_p).mean()
    print(f"epoch {epoch}: loss {loss.item()}")
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
    w.grad = None
