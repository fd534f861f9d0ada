# expect: nothing
# The correct version of carrying a hidden state across chunks: h.detach() cuts the graph
# between chunks (truncated backpropagation through time).
import torch

torch.manual_seed(53)
seq = torch.randn(40, 1, 3)
target = torch.randn(40, 1, 1)
Wx = (torch.randn(3, 6) * 0.3).requires_grad_()
Wh = (torch.randn(6, 6) * 0.3).requires_grad_()
Wo = (torch.randn(6, 1) * 0.3).requires_grad_()
opt = torch.optim.SGD([Wx, Wh, Wo], lr=0.01)

h = torch.zeros(1, 6)
for chunk in range(4):
    h = h.detach()
    loss = 0.0
    for t in range(chunk * 10, chunk * 10 + 10):
        h = torch.tanh(seq[t] @ Wx + h @ Wh)
        loss = loss + ((h @ Wo - target[t]) ** 2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"chunk {chunk}: loss {loss.item():.3f}")
