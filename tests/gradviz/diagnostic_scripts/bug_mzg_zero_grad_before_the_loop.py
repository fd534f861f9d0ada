# expect: missing-zero-grad at 0.weight|0.bias|2.weight|2.bias
# model.zero_grad() is called once, before the training loop, instead of once per step.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(3)
model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
X = torch.rand(30, 3)
Y = X.sum(dim=1, keepdim=True)

model.zero_grad()
for it in range(8):
    err = model(X) - Y
    cost = (err * err).mean()
    cost.backward()  # <- diagnosed here
    opt.step()
