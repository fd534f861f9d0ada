# gradviz example: bug: part of the forward pass is computed once, outside the loop, so the second backward() goes through freed values (backward-twice).
# The hidden layer h is computed before the loop. The first backward() frees the values its
# nodes saved; the second step's backward() reaches them again and fails with "Trying to
# backward through the graph a second time". gradviz names the node and both backward()
# lines. The fix: compute h inside the loop (retain_graph=True would only hide the problem:
# h would never see the updated w1).
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 100, 50, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)

learning_rate = 1e-6
h = x.mm(w1).clamp(min=0)  # BUG: belongs inside the loop
for t in range(3):
    y_pred = h.mm(w2)
    loss = (y_pred - y).pow(2).sum()
    try:
        loss.backward()
    except RuntimeError as error:
        print(f"step {t}: backward() failed: {error}")
        break
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
