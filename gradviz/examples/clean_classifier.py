# gradviz example: clean: a small classifier with Adam, gradient accumulation over two half-batches and evaluation under no_grad; no detector fires.
# Correct code that looks a little like several of the bug_* examples: two backward() calls
# before each update (intended accumulation: zero_grad() runs once per update), loss.detach()
# for logging, and an accuracy check under torch.no_grad().
import torch

torch.manual_seed(0)
N, D, C = 256, 20, 3
X = torch.randn(N, D)
labels = X.mm(torch.randn(D, C)).argmax(dim=1)

model = torch.nn.Sequential(torch.nn.Linear(D, 64), torch.nn.ReLU(), torch.nn.Linear(64, C))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = torch.nn.CrossEntropyLoss()

for epoch in range(30):
    optimizer.zero_grad()
    running = 0.0
    for half in (slice(0, N // 2), slice(N // 2, N)):
        loss = loss_fn(model(X[half]), labels[half]) / 2
        loss.backward()  # accumulates: both halves count in this update
        running += loss.detach().item()
    optimizer.step()
    if epoch % 10 == 9:
        with torch.no_grad():
            accuracy = (model(X).argmax(dim=1) == labels).float().mean().item()
        print(f"epoch {epoch}: loss {running:.4f}  accuracy {accuracy:.2f}")
