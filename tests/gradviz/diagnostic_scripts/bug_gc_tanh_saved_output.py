# expect: gradcheck-failed at MyTanhBackward
# A recurrent cell with a custom tanh that saves its output for backward, as it should, but
# differentiates it as 1 - y instead of 1 - y ** 2.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch


class MyTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):  # <- diagnosed here
        (y,) = ctx.saved_tensors
        return dy * (1 - y)


torch.manual_seed(10)
T, B, D, H = 6, 4, 3, 5
xs = torch.randn(T, B, D)
target = torch.randn(B, 1)
Wx = (torch.randn(D, H) * 0.5).requires_grad_()
Wh = (torch.randn(H, H) * 0.5).requires_grad_()
Wo = (torch.randn(H, 1) * 0.5).requires_grad_()
params = [Wx, Wh, Wo]
opt = torch.optim.SGD(params, lr=0.05)
for it in range(5):
    h = torch.zeros(B, H)
    for t in range(T):
        h = MyTanh.apply(xs[t] @ Wx + h @ Wh)
    loss = ((h @ Wo - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
