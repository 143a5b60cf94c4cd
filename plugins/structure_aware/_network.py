"""The structure-aware network (DESIGN.md, "The structure-aware model").

Hidden states are kept in the convolution layout ``[B, d, T]`` from the embedding to the
heads, so no block pays for a transpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the feature axis of ``[B, d, T]`` states (``nn.LayerNorm`` wants it last)."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model, 1))
        self.bias = nn.Parameter(torch.zeros(d_model, 1))
        self.eps = eps

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        variance, mean = torch.var_mean(states, dim=1, keepdim=True, correction=0)
        return (states - mean) * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class MultiScaleBlock(nn.Module):
    """``LayerNorm(H + MSBlock(H))``: parallel 1-D convolutions fused by a learned gate.

    Each branch is a ``d → d`` convolution with its own kernel size and dilation ('same'
    padding, so every branch sees the whole window at its own scale). The gate is a softmax
    over branches computed from the time-averaged input, so each window chooses the mix of
    scales that describes it.
    """

    def __init__(self, d_model: int, kernel_sizes: Sequence[int], dilations: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv1d(d_model, d_model, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
            for kernel, dilation in zip(kernel_sizes, dilations, strict=False)
        )
        self.gate = nn.Linear(d_model, len(self.branches))
        self.dropout = nn.Dropout(dropout)
        self.norm = ChannelLayerNorm(d_model)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.gate(states.mean(dim=2)), dim=-1)
        fused = weights[:, 0, None, None] * F.gelu(self.branches[0](states))
        for index in range(1, len(self.branches)):
            fused = fused + weights[:, index, None, None] * F.gelu(self.branches[index](states))
        return self.norm(states + self.dropout(fused))


class StructuralAttention(nn.Module):
    """The middle layer's attention: a mask over feature channels and weights over time.

    ``M = sigmoid(W_m · GAP(H))`` rescales each of the ``d`` channels of every step; a small
    scoring network (``v · tanh(W_a h_t)``) followed by a softmax over the window gives the
    weight of each time position, which the prediction head uses to pool the window.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.channel_gate = nn.Linear(d_model, d_model)
        hidden = max(d_model // 2, 4)
        self.time_score = nn.Sequential(nn.Conv1d(d_model, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, 1, 1))

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        channel_mask = torch.sigmoid(self.channel_gate(states.mean(dim=2)))
        masked = states * channel_mask[:, :, None]
        time_attention = torch.softmax(self.time_score(masked)[:, 0], dim=-1)
        return masked, channel_mask, time_attention


class NetworkOutput(NamedTuple):
    reconstruction: torch.Tensor
    """``[B, T, C]``: the input steps as the network reconstructs them (the last
    ``bottleneck_steps`` of them, from the pooled context, when the network has a bottleneck)."""
    prediction: torch.Tensor
    """``[B, C]``: the step that follows the input."""
    channel_mask: torch.Tensor
    """``[B, d]``: the structural mask over hidden channels."""
    time_attention: torch.Tensor
    """``[B, T]``: attention over the input's time positions (sums to 1)."""


class StructureAwareNetwork(nn.Module):
    """Embedding, ``layers`` multi-scale blocks with structural attention after the middle one,
    a per-step reconstruction head and a next-step prediction head.

    The prediction head reads the attention-pooled window together with the last step's state:
    the pooled context carries the window's regime, the last state its most recent value.
    ``error_scale[2, C]`` (reconstruction, prediction) holds each feature's normal error,
    which the detector measures after training; it travels with the weights.
    """

    def __init__(
        self,
        n_features: int,
        d_model: int,
        layers: int,
        kernel_sizes: Sequence[int],
        dilations: Sequence[int],
        dropout: float,
        bottleneck_steps: int = 0,
    ) -> None:
        super().__init__()
        # With ``bottleneck_steps``, the reconstruction is decoded from the attention-pooled context
        # alone (``d_model`` numbers for ``bottleneck_steps x n_features`` values): it can only
        # rebuild what it learned to summarise, never copy a step it reads.
        self.bottleneck_steps = int(bottleneck_steps)
        self.decode = nn.Linear(d_model, self.bottleneck_steps * n_features) if bottleneck_steps else None
        self.embed = nn.Conv1d(n_features, d_model, 1)
        self.blocks = nn.ModuleList(MultiScaleBlock(d_model, kernel_sizes, dilations, dropout) for _ in range(layers))
        self.attention_after = (layers - 1) // 2
        self.attention = StructuralAttention(d_model)
        self.reconstruct = nn.Conv1d(d_model, n_features, 1)
        self.predict = nn.Sequential(nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, n_features))
        self.register_buffer("error_scale", torch.ones(2, n_features))

    def forward(self, history: torch.Tensor) -> NetworkOutput:
        """``history[B, T, C]`` → reconstruction of it and prediction of step ``T + 1``."""
        states = self.embed(history.transpose(1, 2))
        channel_mask = time_attention = None
        for index, block in enumerate(self.blocks):
            states = block(states)
            if index == self.attention_after:
                states, channel_mask, time_attention = self.attention(states)
        assert channel_mask is not None and time_attention is not None  # attention_after is one of the blocks
        context = torch.einsum("bt,bdt->bd", time_attention, states)
        prediction = self.predict(torch.cat([context, states[:, :, -1]], dim=1))
        if self.decode is not None:
            reconstruction = self.decode(context).view(len(context), self.bottleneck_steps, -1)
        else:
            reconstruction = self.reconstruct(states).transpose(1, 2)
        return NetworkOutput(reconstruction, prediction, channel_mask, time_attention)
