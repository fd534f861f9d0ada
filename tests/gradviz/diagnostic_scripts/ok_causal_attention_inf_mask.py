# expect: nothing
# Causal self-attention: future positions are masked with -inf before the softmax, a
# standard, correct use of inf that leaves the loss and the gradients finite.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import math

import torch
import torch.nn.functional as F

torch.manual_seed(51)
T, d = 6, 8
Wq = (torch.randn(d, d) / math.sqrt(d)).requires_grad_()
Wk = (torch.randn(d, d) / math.sqrt(d)).requires_grad_()
Wv = (torch.randn(d, d) / math.sqrt(d)).requires_grad_()
future = torch.arange(T).unsqueeze(0) > torch.arange(T).unsqueeze(1)  # [i, j]: j after i
opt = torch.optim.Adam([Wq, Wk, Wv], lr=1e-2)
for step in range(10):
    x = torch.randn(4, T, d)
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    scores = scores.masked_fill(future, float("-inf"))
    attn = F.softmax(scores, dim=-1)
    out = attn @ v
    loss = ((out - x) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
