# gradviz example: bug: a weight used through .data, so autograd never sees it and it never learns (no-gradient).
# w1.data hands over w1's values without the graph: the loss depends on w1 only as a
# constant, w1.grad stays None and the optimizer skips it. .detach(), a .numpy() round trip
# or computing under torch.no_grad() do the same. The fix: x.mm(w1).
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 100, 50, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)
optimizer = torch.optim.SGD([w1, w2], lr=1e-5)

for t in range(30):
    h = x.mm(w1.data).clamp(min=0)  # BUG: .data leaves the graph
    y_pred = h.mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 10 == 9:
        print(f"step {t}: loss {loss.item():.1f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
