# gradviz example: y = x^2, o = 1/2 * sum(y), so do/dx = x.
# The founding notebook's first example, verbatim apart from the imports. Note the builtin
# sum(): it iterates over the tensor, so the graph records UnbindBackward0 and a chain of
# AddBackward0 nodes, exactly as PyTorch does.
import torch
from torch.autograd import Variable

# lets make basic backward propagation
# we have an equation that is y = x^2
array = [2,4]
tensor = torch.Tensor(array)
x = Variable(tensor, requires_grad = True)
y = x**2
# y = Variable(y, requires_grad = True)          # (1)
print(" y =  ",y)

# recap o equation o = 1/2*sum(y)
o = (1/2)*sum(y)
print(" o =  ",o)

# backward
o.backward() # calculates gradients

# As I defined, variables accumulates gradients. In this part there is only one variable x.
# Therefore variable x should be have gradients
# Lets look at gradients with x.grad
print("gradients: ",x.grad)                   #(2)
# print("gradients: ",y.grad)                   #(3)
