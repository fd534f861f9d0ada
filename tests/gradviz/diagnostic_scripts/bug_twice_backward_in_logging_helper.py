# expect: backward-twice at MseLossBackward0
# A logging helper computes the gradient norm by calling backward() itself, on a loss the
# training step has already run backward() through.
import torch
import torch.nn.functional as F


def grad_norm(loss, params):
    loss.backward()  # <- diagnosed here
    return sum(float((p.grad ** 2).sum()) for p in params) ** 0.5


torch.manual_seed(16)
model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(20, 4), torch.randn(20, 2)
for step in range(3):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    print(f"step {step}: |grad| = {grad_norm(loss, list(model.parameters())):.3f}")
    opt.step()
