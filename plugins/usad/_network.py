from __future__ import annotations

import torch
from torch import nn

from streamproc.detection import FeatureRange


def _mlp(sizes: list[int], last: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=False):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]), last)


class USADNetwork(nn.Module):
    """One encoder E and two decoders D1, D2 over flattened windows: AE1 = D1∘E, AE2 = D2∘E.

    As in the paper, each feature is min-max scaled by its training range and the decoders
    end in a sigmoid. The bound matters: AE2's adversarial phase maximises its error on
    AE1's reconstructions, which an unbounded output would let grow without limit. The layer
    widths halve twice from the input down to the latent size.
    """

    def __init__(self, window: int, n_features: int, latent: int) -> None:
        super().__init__()
        n_inputs = window * n_features
        hidden = [max(n_inputs // 2, latent), max(n_inputs // 4, latent)]
        self.feature_range = FeatureRange(n_features)
        self.encoder = _mlp([n_inputs, *hidden, latent], nn.ReLU())
        self.decoder1 = _mlp([latent, *hidden[::-1], n_inputs], nn.Sigmoid())
        self.decoder2 = _mlp([latent, *hidden[::-1], n_inputs], nn.Sigmoid())

    def inputs(self, windows: torch.Tensor) -> torch.Tensor:
        """``windows[B, W, C]`` as the flat, range-scaled vectors the autoencoders work on."""
        return self.feature_range(windows).flatten(1)

    def ae1(self, flat: torch.Tensor) -> torch.Tensor:
        return self.decoder1(self.encoder(flat))

    def ae2(self, flat: torch.Tensor) -> torch.Tensor:
        return self.decoder2(self.encoder(flat))
