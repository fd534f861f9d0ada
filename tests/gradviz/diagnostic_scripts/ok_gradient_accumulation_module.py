# expect: nothing
# Gradient accumulation as the PyTorch docs show it: four micro-batches' backward() calls
# add up in .grad before each optimizer step, and zero_grad() runs after each step.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(40)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()
X = torch.randn(160, 10)
labels = torch.randint(0, 3, (160,))
accumulation_steps = 4
for epoch in range(3):
    for i in range(10):
        xb, yb = X[i * 16:(i + 1) * 16], labels[i * 16:(i + 1) * 16]
        loss = criterion(model(xb), yb) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
    optimizer.step()  # the last, partial accumulation
    optimizer.zero_grad()
