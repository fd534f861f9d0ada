# gradviz example: bug: a deep stack of sigmoid layers; the gradient shrinks at every layer and the first layers barely learn (vanishing-gradient).
# Each sigmoid multiplies the gradient by at most 0.25 on its way back, so after a dozen
# layers the first layer's gradient is many orders of magnitude smaller (relative to its
# weights) than the last layer's. The fix: ReLU activations, a better initialisation,
# normalisation layers or residual connections.
import torch

torch.manual_seed(0)
depth, width = 12, 32
layers = [torch.nn.Linear(10, width), torch.nn.Sigmoid()]
for _ in range(depth):
    layers += [torch.nn.Linear(width, width), torch.nn.Sigmoid()]  # BUG: saturating activations
layers.append(torch.nn.Linear(width, 1))
model = torch.nn.Sequential(*layers)

x = torch.randn(64, 10)
y = x.sum(dim=1, keepdim=True)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = torch.nn.MSELoss()
for t in range(30):
    loss = loss_fn(model(x), y)
    if t % 10 == 9:
        print(f"step {t}: loss {loss.item():.4f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
