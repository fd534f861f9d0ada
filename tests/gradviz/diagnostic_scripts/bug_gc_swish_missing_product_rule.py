# expect: gradcheck-failed at SwishBackward
# A custom Swish activation, x * sigmoid(x), used inside an nn.Module. Its backward forgets
# the product rule: d/dx [x s(x)] = s(x) + x s(x) (1 - s(x)), not s(x).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
import torch.nn as nn


class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad_out):  # <- diagnosed here
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 20)
        self.out = nn.Linear(20, 1)

    def forward(self, x):
        return self.out(Swish.apply(self.hidden(x)))


torch.manual_seed(8)
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(40, 5)
y = torch.sin(x.sum(dim=1, keepdim=True))
for epoch in range(5):
    loss = nn.functional.mse_loss(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"final loss {loss.item():.4f}")
