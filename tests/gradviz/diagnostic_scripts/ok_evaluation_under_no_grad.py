# expect: nothing
# A train/validate loop: the validation pass runs in a @torch.no_grad() function and in a
# with torch.no_grad() block, with model.eval()/model.train(); metrics use .item().
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 16), nn.Tanh())
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        return self.out(self.body(x))


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    correct = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return correct


torch.manual_seed(47)
model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x_train, x_val = torch.randn(80, 5), torch.randn(40, 5)
y_train, y_val = (x_train[:, 0] > 0).long(), (x_val[:, 0] > 0).long()
for epoch in range(15):
    loss = F.cross_entropy(model(x_train), y_train)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        val_loss = F.cross_entropy(model(x_val), y_val).item()
    if epoch % 5 == 4:
        print(f"{epoch}: train {loss.item():.3f} val {val_loss:.3f} "
              f"acc {accuracy(model, x_val, y_val):.2f}")
