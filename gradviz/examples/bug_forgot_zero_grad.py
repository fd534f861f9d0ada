# gradviz example: bug: .grad is never zeroed between steps, so each backward() adds every earlier gradient again (missing-zero-grad).
# The seed two-layer network, smaller, with the two zero_() calls after the update left out.
# autograd *adds* into .grad: without zeroing, step t's update uses the sum of the gradients
# of steps 0..t, and training goes astray. gradviz reports it at the first step that adds on
# top of a gradient left over from before the update.
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 100, 50, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)

learning_rate = 1e-6
for t in range(20):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 5 == 4:
        print(f"step {t}: loss {loss.item():.1f}")
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        # BUG: missing  w1.grad.zero_()  and  w2.grad.zero_()
