# expect: inplace-modified at TanhBackward0
# A feature is masked out by assigning into the activations after tanh; TanhBackward0 saved
# those activations. The fix: multiply by a mask, or clone() before assigning.
import torch


def encode(x, weight):
    h = torch.tanh(x.mm(weight))
    h[:, 0] = 0.0  # <- diagnosed here
    return h


torch.manual_seed(14)
x = torch.randn(10, 5)
weight = torch.randn(5, 3, requires_grad=True)
readout = torch.randn(3, 1, requires_grad=True)
target = torch.randn(10, 1)
out = encode(x, weight).mm(readout)
loss = ((out - target) ** 2).mean()
try:
    loss.backward()
except RuntimeError as exc:
    print(f"error: {exc}")
