# gradviz example: bug: the learning rate is 100 times too large, so every update makes the next gradient larger (exploding-gradient).
# Seed Example 2 with learning_rate = 1e-4 instead of 1e-6. Its first gradients are large
# (norm about 3e6) and that is fine; what is wrong is that they *grow*, by orders of
# magnitude in a few steps, while the loss rises. gradviz watches that trend.
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)

learning_rate = 1e-4  # BUG: 100 times too large for this network
for t in range(8):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    print(f"step {t}: loss {loss.item():.3g}")
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
