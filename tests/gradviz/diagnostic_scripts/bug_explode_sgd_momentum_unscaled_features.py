# expect: exploding-gradient at linear.weight|linear.bias
# A linear model in an nn.Module, SGD with momentum and a learning rate that suits
# standardised inputs, on features that are 5 times larger: every step overshoots further.
import torch
from torch import nn


class LinearModel(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(1)


torch.manual_seed(21)
X = torch.randn(128, 6) * 5
true_w = torch.randn(6)
y = X @ true_w + 0.1 * torch.randn(128)
model = LinearModel(6)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(25):
    loss = nn.functional.mse_loss(model(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()  # <- diagnosed here
    if epoch % 5 == 0:
        print(f"epoch {epoch}: loss {loss.item():.3g}")
