# expect: nothing
# Correct custom autograd Functions: the documented LinearFunction on a large input (only a
# few elements are checked), a numerically stable softplus, and a function with a
# non-tensor argument and an output marked non-differentiable.
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return torch.log1p(torch.exp(-(beta * x).abs())) / beta + x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.sigmoid(ctx.beta * x), None


class TopIndex(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores):
        index = scores.argmax(dim=1)
        ctx.mark_non_differentiable(index)
        ctx.save_for_backward(scores)
        return scores * 1.0, index

    @staticmethod
    def backward(ctx, grad, _grad_index):
        return grad


torch.manual_seed(46)
x = torch.randn(256, 300)
weight = (torch.randn(20, 300) * 0.05).requires_grad_()
bias = torch.zeros(20, requires_grad=True)
target = torch.randn(256, 20)
opt = torch.optim.SGD([weight, bias], lr=0.01)
for step in range(5):
    out = Softplus.apply(LinearFunction.apply(x, weight, bias), 2.0)
    scores, top = TopIndex.apply(out)
    loss = ((scores - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
