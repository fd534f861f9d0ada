# expect: exploding-gradient at U|V
# Matrix factorisation of a ratings matrix (values 1..5) with plain SGD and a learning rate
# ten times too large: the factors grow, the gradients grow with them.
import torch

torch.manual_seed(23)
ratings = torch.randint(1, 6, (30, 20)).float()
U = torch.randn(30, 4, requires_grad=True)
V = torch.randn(20, 4, requires_grad=True)
optimizer = torch.optim.SGD([U, V], lr=8.0)
for epoch in range(30):
    approx = U @ V.T
    loss = torch.nn.functional.mse_loss(approx, ratings)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()  # <- diagnosed here
    if not torch.isfinite(loss):
        print("diverged at epoch", epoch)
        break
