# gradviz example: the same two-layer ReLU network written with torch.nn and torch.optim.
# nn.Linear records AddmmBackward0 nodes, the loss is MseLossBackward0, and
# optimizer.zero_grad() clears every .grad (set to None) before the next backward.
import torch

torch.manual_seed(0)
device = torch.get_default_device()

N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in, device=device)
y = torch.randn(N, D_out, device=device)

model = torch.nn.Sequential(
    torch.nn.Linear(D_in, H),
    torch.nn.ReLU(),
    torch.nn.Linear(H, D_out),
).to(device)
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

for t in range(500):
    y_pred = model(x)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(f"step {t}: loss {loss.item():.6g}")

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
