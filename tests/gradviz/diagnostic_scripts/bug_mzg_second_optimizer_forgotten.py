# expect: missing-zero-grad at encoder.weight|encoder.bias
# An encoder and a decoder, each with its own optimizer; only the decoder's gradients are
# cleared, so the encoder's keep piling up.
# (gradviz names the parameters of a bare nn.Linear "weight" and "bias"; where two such
# modules meet in one graph, the second's take the module's variable: "encoder.weight".)
# ruff: noqa: B007  (loop counters left unused, as training scripts have them)
import torch
from torch import nn

torch.manual_seed(2)
encoder = nn.Linear(12, 4)
decoder = nn.Linear(4, 12)
enc_opt = torch.optim.SGD(encoder.parameters(), lr=0.05, momentum=0.9)
dec_opt = torch.optim.SGD(decoder.parameters(), lr=0.05, momentum=0.9)
data = torch.randn(48, 12)

for step in range(10):
    recon = decoder(torch.tanh(encoder(data)))
    loss = nn.functional.mse_loss(recon, data)
    dec_opt.zero_grad()
    loss.backward()  # <- diagnosed here
    enc_opt.step()
    dec_opt.step()
