from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import torch
from torch import nn

from streamproc.detection import TorchDetector, TrainStep

from ._network import TranADNetwork


class TranADDetector(TorchDetector):
    """TranAD: adversarially trained transformer encoder-decoders with self-conditioning.

    Phase 1 encodes the window with a zero focus score and decodes it twice (O1, O2); phase 2
    encodes it again with the focus score ``(O1 − W)²`` and decodes with the second decoder
    (Ô2), so that the model attends to where its first attempt failed. In epoch ``n``, with
    ``w = 1/n``, the encoders and the first decoder minimise ``w‖O1−W‖² + (1−w)‖Ô2−W‖²`` and
    the second decoder minimises ``w‖O2−W‖² − (1−w)‖Ô2−W‖²``: each with its own optimiser,
    stepped one after the other on every batch. The paper's MAML step is left out (its
    meta-learning-free variant). Scores are per step ``½(O1−W)² + ½(Ô2−W)²`` on range-scaled
    features; a window's per-feature contributions are those of its last step, and its
    score their sum.
    """

    name = "tranad"

    def __init__(
        self,
        *,
        window: int = 10,
        d_model: int = 32,
        heads: int = 4,
        layers: int = 1,
        feedforward: int = 64,
        dropout: float = 0.1,
        epochs: int = 5,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        patience: int = 5,
        validation_tail: float = 0.1,
        max_train_windows: int = 20000,
        train_stride: int = 1,
        score_batch_size: int = 4096,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        for key, value in (("d_model", d_model), ("heads", heads), ("layers", layers), ("feedforward", feedforward)):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if int(d_model) % (2 * int(heads)):
            raise ValueError(f"d_model ({d_model}) must be an even multiple of heads ({heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        super().__init__(
            window=window,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            validation_tail=validation_tail,
            max_train_windows=max_train_windows,
            train_stride=train_stride,
            score_batch_size=score_batch_size,
            device=device,
            seed=seed,
            d_model=d_model,
            heads=heads,
            layers=layers,
            feedforward=feedforward,
            dropout=dropout,
        )
        self.d_model = int(d_model)
        self.heads = int(heads)
        self.layers = int(layers)
        self.feedforward = int(feedforward)
        self.dropout = float(dropout)

    def _build_module(self, n_features: int) -> nn.Module:
        return TranADNetwork(
            self.window, n_features, self.d_model, self.heads, self.layers, self.feedforward, self.dropout
        )

    def _initialise(self, module: nn.Module, train: np.ndarray) -> None:
        net = cast(TranADNetwork, module)  # built by _build_module
        net.feature_range.fit(train)

    def _make_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        net = cast(TranADNetwork, module)  # built by _build_module
        second = [*net.decoder2.parameters(), *net.output2.parameters()]
        owned = {id(p) for p in second}
        first = [p for p in module.parameters() if id(p) not in owned]
        return [torch.optim.Adam(first, lr=self.learning_rate), torch.optim.Adam(second, lr=self.learning_rate)]

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        scaled = self.module.feature_range(batch)
        weight = 1.0 / step.epoch
        optimizer1, optimizer2 = step.optimizers
        loss1 = self._phase_one(scaled, weight, optimizer1)
        loss2 = self._phase_two(scaled, weight, optimizer2)
        return {"loss": loss1, "loss_decoder2": loss2}

    def _phase_one(self, scaled: torch.Tensor, weight: float, optimizer: torch.optim.Optimizer) -> float:
        """Encoders and decoder 1: reconstruct, and make the self-conditioned Ô2 reconstruct too."""
        output1, _, focused2 = self.module(scaled)
        loss = weight * _mse(scaled, output1) + (1 - weight) * _mse(scaled, focused2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    def _phase_two(self, scaled: torch.Tensor, weight: float, optimizer: torch.optim.Optimizer) -> float:
        """Decoder 2: reconstruct from phase 1, but push the self-conditioned Ô2 away from the input."""
        _, output2, focused2 = self.module(scaled)
        loss = weight * _mse(scaled, output2) - (1 - weight) * _mse(scaled, focused2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    def _validation_loss(self, windows: torch.Tensor) -> torch.Tensor:
        # The phase-1 reconstruction of real windows, which both phases want small; the score's
        # Ô2 term is pushed up by the second decoder's adversarial objective by design.
        net: TranADNetwork = self.module
        scaled = net.feature_range(windows)
        output1, _, _ = net(scaled)
        return ((scaled - output1) ** 2).mean(dim=(1, 2))

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net: TranADNetwork = self.module
        scaled = net.feature_range(windows)
        output1, _, focused2 = net(scaled)
        last = scaled[:, -1]
        contributions = 0.5 * (output1[:, -1] - last) ** 2 + 0.5 * (focused2[:, -1] - last) ** 2
        return contributions.sum(dim=1), contributions


def _mse(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    return ((target - estimate) ** 2).mean()
