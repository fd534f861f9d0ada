# expect: gradcheck-failed at LinearFunctionBackward
# The LinearFunction of PyTorch's "Extending PyTorch" notes, with one slip: the bias's
# gradient is the mean over the batch instead of the sum.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias):
        ctx.save_for_backward(input, weight, bias)
        return input.mm(weight.t()) + bias.unsqueeze(0).expand(input.shape[0], -1)

    @staticmethod
    def backward(ctx, grad_output):  # <- diagnosed here
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_output.mean(0)
        return grad_input, grad_weight, grad_bias


def linear(x, weight, bias):
    return LinearFunction.apply(x, weight, bias)


torch.manual_seed(9)
weight = torch.nn.Parameter(torch.randn(3, 7) * 0.1)
bias = torch.nn.Parameter(torch.zeros(3))
optimizer = torch.optim.SGD([weight, bias], lr=0.1)
data = torch.randn(25, 7)
target = torch.randn(25, 3)
for step in range(4):
    out = linear(data, weight, bias)
    loss = ((out - target) ** 2).sum() / len(data)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
