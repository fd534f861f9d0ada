# expect: dead-relu at ClampBackward1
# Log-probability features (all <= 0) fed to a layer whose weights were drawn with
# torch.rand (all >= 0) instead of torch.randn: every pre-activation is negative, so the
# clamp(min=0) is zero everywhere and w_in gets no gradient.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(19)
n, d, hidden = 40, 6, 16
log_probs = torch.log(torch.rand(n, d))
y = torch.randn(n, 1)
w_in = (torch.rand(d, hidden) * 0.5).requires_grad_()
w_out = (torch.randn(hidden, 1) * 0.5).requires_grad_()

for epoch in range(10):
    hidden_act = log_probs.mm(w_in).clamp(min=0)  # <- diagnosed here
    loss = (hidden_act.mm(w_out) - y).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        for p in (w_in, w_out):
            p -= 0.05 * p.grad
            p.grad.zero_()
