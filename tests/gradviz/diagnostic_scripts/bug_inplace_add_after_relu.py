# expect: inplace-modified at ReluBackward0
# A hidden layer's ReLU output is shifted in place. ReluBackward0 saved that output for the
# backward pass, so backward() fails. The fix: h = F.relu(z) + shift.
import torch
import torch.nn.functional as F

torch.manual_seed(11)
x = torch.randn(16, 4)
y = torch.randn(16, 1)
W1 = torch.randn(4, 8, requires_grad=True)
W2 = torch.randn(8, 1, requires_grad=True)
shift = 0.1 * torch.ones(8)

h = F.relu(x @ W1)
h += shift  # <- diagnosed here
loss = F.mse_loss(h @ W2, y)
try:
    loss.backward()
except RuntimeError as err:
    print("backward failed:", err)
