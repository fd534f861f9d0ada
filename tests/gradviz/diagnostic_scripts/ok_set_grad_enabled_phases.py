# expect: nothing
# One loop for both phases, as torchvision's reference scripts write it: gradients on in
# training (set_grad_enabled(True)), off in validation (set_grad_enabled(False)).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(37)
model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
data = {"train": (torch.randn(64, 6), torch.randn(64, 1)),
        "val": (torch.randn(32, 6), torch.randn(32, 1))}

for epoch in range(8):
    for phase in ("train", "val"):
        x, y = data[phase]
        with torch.set_grad_enabled(phase == "train"):
            loss = nn.functional.mse_loss(model(x), y)
            if phase == "train":
                opt.zero_grad()
                loss.backward()
                opt.step()
        print(epoch, phase, round(loss.item(), 4))
