# gradviz example: bug: log(softmax(...)) computed in two steps; large scores underflow to probability 0 and log(0) = -inf (nan-or-inf).
# softmax of scores hundreds apart gives probabilities of exactly 0 in float32, and log(0)
# is -inf; times a target of 0 that is NaN, and the loss, the gradients and then the weights
# all become NaN. gradviz names the first node that produced a non-finite value and its line.
# The fix: torch.log_softmax(scores, dim=1), which never takes the log of 0.
import torch

torch.manual_seed(0)
N, D, C = 16, 10, 4
x = torch.randn(N, D) * 30  # features that were never normalised
labels = torch.randint(0, C, (N,))
target = torch.zeros(N, C)
target[torch.arange(N), labels] = 1.0
w = torch.randn(D, C, requires_grad=True)

learning_rate = 1e-3
for t in range(5):
    scores = x.mm(w)
    probs = torch.softmax(scores, dim=1)
    log_probs = torch.log(probs)  # BUG: log of probabilities that underflowed to 0
    loss = -(target * log_probs).sum() / N
    print(f"step {t}: loss {loss.item()}")
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
        w.grad.zero_()
