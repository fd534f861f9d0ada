# expect: backward-twice at ExpBackward0
# A learnable temperature kept as a log, exponentiated once before the training loop: the
# first backward() frees exp()'s saved output and the next one needs it again. The fix:
# compute temperature = log_t.exp() inside the loop.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch

torch.manual_seed(17)
logits_in = torch.randn(24, 5)
labels = torch.randint(0, 5, (24,))
proj = torch.nn.Linear(5, 5)
log_t = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.Adam(list(proj.parameters()) + [log_t], lr=0.01)

temperature = log_t.exp()
for step in range(3):
    logits = proj(logits_in) / temperature
    loss = torch.nn.functional.cross_entropy(logits, labels)
    optimizer.zero_grad()
    loss.backward()  # <- diagnosed here
    optimizer.step()
