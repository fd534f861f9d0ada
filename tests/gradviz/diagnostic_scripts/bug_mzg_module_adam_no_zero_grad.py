# expect: missing-zero-grad at fc1.weight|fc1.bias|fc2.weight|fc2.bias
# An nn.Module trained with Adam over minibatches inside a helper function; the loop never
# calls optimizer.zero_grad(), so every step's update uses the sum of all earlier gradients.
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def train_one_epoch(model, optimizer, inputs, targets, batch_size=16):
    total = 0.0
    for start in range(0, len(inputs), batch_size):
        xb = inputs[start:start + batch_size]
        yb = targets[start:start + batch_size]
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()  # <- diagnosed here
        optimizer.step()
        total += loss.item()
    return total


torch.manual_seed(0)
inputs = torch.randn(64, 6)
targets = torch.randint(0, 3, (64,))
model = MLP(6, 32, 3)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    print(f"epoch {epoch}: loss {train_one_epoch(model, optimizer, inputs, targets):.4f}")
