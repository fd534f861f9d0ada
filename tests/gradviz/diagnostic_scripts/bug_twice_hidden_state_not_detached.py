# expect: backward-twice at TanhBackward0
# A recurrent net trained on consecutive chunks carries its hidden state from one chunk to
# the next without detaching it, so the second backward() reaches into the first chunk's
# graph, already freed. The fix: h = h.detach() between chunks (truncated BPTT).
import torch

torch.manual_seed(15)
seq = torch.randn(40, 1, 3)
target = torch.randn(40, 1, 1)
Wx = (torch.randn(3, 6) * 0.3).requires_grad_()
Wh = (torch.randn(6, 6) * 0.3).requires_grad_()
Wo = (torch.randn(6, 1) * 0.3).requires_grad_()
opt = torch.optim.SGD([Wx, Wh, Wo], lr=0.01)

h = torch.zeros(1, 6)
for chunk in range(4):
    loss = 0.0
    for t in range(chunk * 10, chunk * 10 + 10):
        h = torch.tanh(seq[t] @ Wx + h @ Wh)
        loss = loss + ((h @ Wo - target[t]) ** 2).sum()
    opt.zero_grad()
    loss.backward()  # <- diagnosed here
    opt.step()
