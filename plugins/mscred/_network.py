from __future__ import annotations

import torch
from torch import nn


class AttentiveConvLSTM(nn.Module):
    """A ConvLSTM over a sequence of feature maps, summarised by MSCRED's temporal attention.

    The last hidden state ``H_h`` weighs every step's ``H_i`` by
    ``softmax_i(Σ(H_h ∘ H_i) / χ)``; the output is ``Σ_i α_i H_i``.
    """

    def __init__(self, channels: int, rescale: float) -> None:
        super().__init__()
        self.channels = channels
        self.rescale = rescale
        self.input_gates = nn.Conv2d(channels, 4 * channels, 3, padding=1)
        self.hidden_gates = nn.Conv2d(channels, 4 * channels, 3, padding=1, bias=False)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        batch, steps = sequence.shape[:2]
        # The input half of every gate does not depend on the recurrence: one convolution for all steps.
        from_inputs = self.input_gates(sequence.flatten(0, 1)).unflatten(0, (batch, steps))
        hidden = sequence.new_zeros(sequence[:, 0].shape)
        cell = torch.zeros_like(hidden)
        states = []
        for k in range(steps):
            gates = from_inputs[:, k] + self.hidden_gates(hidden)
            i, f, o, g = gates.chunk(4, dim=1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            hidden = torch.sigmoid(o) * torch.tanh(cell)
            states.append(hidden)
        stacked = torch.stack(states, dim=1)  # [B, steps, F, H, W]
        similarity = (stacked * hidden[:, None]).flatten(2).sum(dim=2) / self.rescale
        weights = torch.softmax(similarity, dim=1)
        return (weights[:, :, None, None, None] * stacked).sum(dim=1)


class MSCREDNetwork(nn.Module):
    """Convolutional encoder, attentive ConvLSTMs and convolutional decoder over signature matrices.

    Four convolutional levels with ``filters·(1, 2, 4, 8)`` channels and SELU activations
    (the paper uses 32 to 256; the width is configurable so that the model fits small CPUs),
    the first at full resolution, the others halving it. Every level's feature maps over the
    ``steps`` time steps go through an attentive ConvLSTM, and the decoder upsamples from the
    deepest summary, concatenating each shallower one, to reconstruct the last step's
    signature matrices. All kernels are 3×3 (the paper's deepest two are 2×2), which keeps
    any feature count valid.
    """

    def __init__(self, scales: int, filters: int, rescale: float) -> None:
        super().__init__()
        widths = [filters, 2 * filters, 4 * filters, 8 * filters]
        self.encoders = nn.ModuleList(
            [
                nn.Conv2d(scales, widths[0], 3, stride=1, padding=1),
                nn.Conv2d(widths[0], widths[1], 3, stride=2, padding=1),
                nn.Conv2d(widths[1], widths[2], 3, stride=2, padding=1),
                nn.Conv2d(widths[2], widths[3], 3, stride=2, padding=1),
            ]
        )
        self.memories = nn.ModuleList([AttentiveConvLSTM(width, rescale) for width in widths])
        self.decoders = nn.ModuleList(
            [
                nn.ConvTranspose2d(widths[3], widths[2], 3, stride=2, padding=1),
                nn.ConvTranspose2d(2 * widths[2], widths[1], 3, stride=2, padding=1),
                nn.ConvTranspose2d(2 * widths[1], widths[0], 3, stride=2, padding=1),
            ]
        )
        self.output = nn.ConvTranspose2d(2 * widths[0], scales, 3, stride=1, padding=1)
        self.activation = nn.SELU()

    def forward(self, matrices: torch.Tensor) -> torch.Tensor:
        """``matrices[B, steps, scales, C, C]`` -> reconstruction of the last step ``[B, scales, C, C]``."""
        batch, steps = matrices.shape[:2]
        maps = matrices.flatten(0, 1)
        summaries = []
        for encoder, memory in zip(self.encoders, self.memories, strict=False):
            maps = self.activation(encoder(maps))
            summaries.append(memory(maps.unflatten(0, (batch, steps))))
        decoded = summaries[-1]
        for decoder, skip in zip(self.decoders, summaries[-2::-1], strict=False):
            decoded = self.activation(decoder(decoded, output_size=skip.shape[-2:]))
            decoded = torch.cat([decoded, skip], dim=1)
        return self.output(decoded)
