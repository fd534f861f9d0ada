# gradviz example: bug: an in-place update of a value autograd saved for the backward pass (inplace-modified).
# sigmoid's backward needs its own output; "a -= 0.5" changes that output in place, so
# backward() raises PyTorch's "modified by an inplace operation" error. gradviz shows the
# node that needed the value and the line of the in-place operation that changed it.
# The fix: a = torch.sigmoid(h) - 0.5 (out of place).
import torch

torch.manual_seed(0)
N, D_in, H, D_out = 64, 100, 50, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)

h = x.mm(w1)
a = torch.sigmoid(h)
a -= 0.5  # BUG: centres the activations in place; SigmoidBackward0 saved a
y_pred = a.mm(w2)
loss = (y_pred - y).pow(2).sum()
try:
    loss.backward()
except RuntimeError as error:
    print(f"backward() failed: {error}")
