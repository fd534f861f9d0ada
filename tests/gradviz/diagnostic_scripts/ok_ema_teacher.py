# expect: nothing
# Mean teacher: a teacher network, a copy of the student, follows it by an exponential
# moving average of the weights (in-place updates under no_grad) and produces targets under
# no_grad. The teacher is never trained by gradient, and needs none.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import copy

import torch
from torch import nn

torch.manual_seed(52)
student = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
teacher = copy.deepcopy(student)
opt = torch.optim.SGD(student.parameters(), lr=0.05)
decay = 0.99
for step in range(20):
    x = torch.randn(32, 6)
    with torch.no_grad():
        soft_targets = torch.softmax(teacher(x + 0.1 * torch.randn(32, 6)), dim=1)
    log_probs = torch.log_softmax(student(x), dim=1)
    loss = -(soft_targets * log_probs).sum(dim=1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for t_param, s_param in zip(teacher.parameters(), student.parameters()):
            t_param.mul_(decay).add_(s_param, alpha=1 - decay)
