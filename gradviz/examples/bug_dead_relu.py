# gradviz example: bug: every pre-activation of the hidden layer is negative, so its ReLU outputs only zeros and nothing before it learns (dead-relu).
# The hidden bias starts at -5 while x @ w1 is about +-0.1: the ReLU is zero for every sample,
# no gradient flows back through it, and w1 and b1 never change (the loss stays flat).
# The same happens when a too-large update pushes every pre-activation below zero.
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 100, 50, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = (torch.randn(D_in, H) * 0.01).requires_grad_()
b1 = torch.full((H,), -5.0, requires_grad=True)  # BUG: a large negative bias
w2 = torch.randn(H, D_out, requires_grad=True)

learning_rate = 1e-4
for t in range(20):
    h = (x.mm(w1) + b1).relu()
    y_pred = h.mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 5 == 4:
        print(f"step {t}: loss {loss.item():.2f}")
    loss.backward()
    with torch.no_grad():
        for p in (w1, b1, w2):
            p -= learning_rate * p.grad
            p.grad.zero_()
