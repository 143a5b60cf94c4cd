from __future__ import annotations

import math

import torch
from torch import nn

from streamproc.detection import FeatureRange


def _positions(length: int, d_model: int) -> torch.Tensor:
    """Sinusoidal position encodings ``[length, d_model]`` (Vaswani et al.)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return table


class TranADNetwork(nn.Module):
    """TranAD's transformer: one encoder of the window and its focus score, two decoders.

    The encoder reads each step of the window concatenated with the focus score (zero in
    phase 1, the squared phase-1 error in phase 2). The window encoder embeds the window
    itself under a causal mask and each decoder attends from it to the encoder's output;
    decoder ``d`` ends in a sigmoid over range-scaled features, as in the paper. Unlike the
    paper, whose model width is twice the feature count with one head per feature, inputs
    are projected to ``d_model`` with ``heads`` heads, so width does not grow with the data.
    """

    def __init__(
        self, window: int, n_features: int, d_model: int, heads: int, layers: int, feedforward: int, dropout: float
    ) -> None:
        super().__init__()
        self.feature_range = FeatureRange(n_features)
        self.register_buffer("positions", _positions(window, d_model))
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(window))
        self.context_embedding = nn.Linear(2 * n_features, d_model)
        self.window_embedding = nn.Linear(n_features, d_model)

        def encoder_layer() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(d_model, heads, feedforward, dropout, batch_first=True)

        def decoder() -> nn.TransformerDecoder:
            layer = nn.TransformerDecoderLayer(d_model, heads, feedforward, dropout, batch_first=True)
            return nn.TransformerDecoder(layer, layers)

        self.encoder = nn.TransformerEncoder(encoder_layer(), layers, enable_nested_tensor=False)
        self.window_encoder = nn.TransformerEncoder(encoder_layer(), 1, enable_nested_tensor=False)
        self.decoder1 = decoder()
        self.decoder2 = decoder()
        self.output1 = nn.Sequential(nn.Linear(d_model, n_features), nn.Sigmoid())
        self.output2 = nn.Sequential(nn.Linear(d_model, n_features), nn.Sigmoid())

    def query(self, scaled: torch.Tensor) -> torch.Tensor:
        """The window encoder's embedding of each step from the steps up to it."""
        return self.window_encoder(self.window_embedding(scaled) + self.positions, mask=self.causal, is_causal=True)

    def encode(self, scaled: torch.Tensor, focus: torch.Tensor) -> torch.Tensor:
        """The encoder's context from the window and a focus score of the same shape."""
        return self.encoder(self.context_embedding(torch.cat([scaled, focus], dim=-1)) + self.positions)

    def decode1(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.output1(self.decoder1(query, context, tgt_mask=self.causal, tgt_is_causal=True))

    def decode2(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.output2(self.decoder2(query, context, tgt_mask=self.causal, tgt_is_causal=True))

    def forward(self, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(O1, O2, Ô2)`` of range-scaled windows: both phase-1 outputs, then the phase-2 output."""
        query = self.query(scaled)
        context = self.encode(scaled, torch.zeros_like(scaled))
        output1 = self.decode1(query, context)
        output2 = self.decode2(query, context)
        return output1, output2, self.decode2(query, self.encode(scaled, (output1 - scaled) ** 2))
