# expect: inplace-modified at ExpBackward0
# A softmax whose normalisation divides exp()'s output in place; ExpBackward0 needs that
# output to compute its gradient. The fix: probs = e / e.sum(dim=1, keepdim=True).
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(12)
scores = torch.randn(8, 6, requires_grad=True)
targets = torch.randint(0, 6, (8,))

for step in range(3):
    e = scores.exp()
    e /= e.sum(dim=1, keepdim=True)  # <- diagnosed here
    nll = -e[torch.arange(8), targets].log().mean()
    nll.backward()
    with torch.no_grad():
        scores -= 0.1 * scores.grad
        scores.grad.zero_()
