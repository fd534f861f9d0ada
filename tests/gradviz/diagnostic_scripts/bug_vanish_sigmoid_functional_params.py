# expect: vanishing-gradient at W0|b0
# A ten-layer sigmoid network written as a function over a list of (weight, bias) pairs,
# trained with Adam: sigmoid's derivative is at most 1/4, so the gradient of the first layer
# is orders of magnitude below the last layer's.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch


def init_params(sizes):
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = (torch.randn(n_in, n_out) / n_in ** 0.5).requires_grad_()
        b = torch.zeros(n_out, requires_grad=True)
        params.append((W, b))
    return params


def forward(params, x):
    for W, b in params[:-1]:
        x = torch.sigmoid(x @ W + b)  # <- diagnosed here
    W, b = params[-1]
    return x @ W + b


torch.manual_seed(25)
params = init_params([8] + [16] * 10 + [1])
W0, b0 = params[0]
optimizer = torch.optim.Adam([p for pair in params for p in pair], lr=1e-3)
x = torch.randn(64, 8)
y = (x[:, :1] > 0).float()
for step in range(20):
    out = forward(params, x)
    loss = torch.nn.functional.mse_loss(out, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
