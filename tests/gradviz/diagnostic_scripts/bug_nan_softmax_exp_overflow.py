# expect: nan-or-inf at ExpBackward0
# A softmax written by hand with a low temperature: exp() of logits in the hundreds
# overflows float32 to inf, and inf / inf is NaN. The fix: subtract the row maximum first,
# or use torch.softmax / F.cross_entropy.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(6)
x = torch.randn(32, 16)
labels = torch.randint(0, 5, (32,))
W = torch.randn(16, 5, requires_grad=True)
temperature = 0.05

for it in range(3):
    logits = (x @ W) / temperature
    e = torch.exp(logits)  # <- diagnosed here
    probs = e / e.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(32), labels]).mean()
    loss.backward()
    with torch.no_grad():
        W -= 0.01 * W.grad
        W.grad.zero_()
