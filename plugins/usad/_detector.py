from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import torch
from torch import nn

from streamproc.detection import TorchDetector, TrainStep

from ._network import USADNetwork


class USADDetector(TorchDetector):
    """USAD: two autoencoders sharing an encoder, trained in two adversarial phases.

    In epoch ``n`` AE1 minimises ``1/n·‖W−AE1(W)‖² + (1−1/n)·‖W−AE2(AE1(W))‖²`` (it learns to
    reconstruct, then to fool AE2) and AE2 minimises ``1/n·‖W−AE2(W)‖² − (1−1/n)·‖W−AE2(AE1(W))‖²``
    (it learns to reconstruct, then to tell real windows from AE1's reconstructions); each
    phase has its own optimiser over the shared encoder and its decoder, stepped one after
    the other on every batch. The score is ``α·‖W−AE1(W)‖² + β·‖W−AE2(AE1(W))‖²``: larger β
    trades false negatives for sensitivity. Errors are measured on features min-max scaled by
    their training range (see :class:`USADNetwork`). Per-feature contributions are those
    squared errors averaged over the window's steps; the score is their sum.
    """

    name = "usad"

    def __init__(
        self,
        *,
        window: int = 5,
        latent: int = 16,
        alpha: float = 0.5,
        beta: float = 0.5,
        epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        patience: int = 5,
        validation_tail: float = 0.1,
        max_train_windows: int = 20000,
        train_stride: int = 1,
        score_batch_size: int = 4096,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        if int(latent) < 1:
            raise ValueError(f"latent must be >= 1, got {latent}")
        if alpha < 0 or beta < 0 or alpha + beta <= 0:
            raise ValueError(f"alpha and beta must be >= 0 and not both 0, got {alpha}, {beta}")
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
            latent=latent,
            alpha=alpha,
            beta=beta,
        )
        self.latent = int(latent)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def _build_module(self, n_features: int) -> nn.Module:
        return USADNetwork(self.window, n_features, self.latent)

    def _initialise(self, module: nn.Module, train: np.ndarray) -> None:
        net = cast(USADNetwork, module)  # built by _build_module
        net.feature_range.fit(train)

    def _make_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        net = cast(USADNetwork, module)  # built by _build_module
        ae1 = [*net.encoder.parameters(), *net.decoder1.parameters()]
        ae2 = [*net.encoder.parameters(), *net.decoder2.parameters()]
        return [torch.optim.Adam(ae1, lr=self.learning_rate), torch.optim.Adam(ae2, lr=self.learning_rate)]

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        flat = self.module.inputs(batch)
        weight = 1.0 / step.epoch
        optimizer1, optimizer2 = step.optimizers
        loss1 = self._phase_one(flat, weight, optimizer1)
        loss2 = self._phase_two(flat, weight, optimizer2)
        return {"loss": loss1, "loss_ae2": loss2}

    def _phase_one(self, flat: torch.Tensor, weight: float, optimizer: torch.optim.Optimizer) -> float:
        """AE1 learns to reconstruct and, as ``weight`` = 1/n falls, to fool AE2."""
        net: USADNetwork = self.module
        reconstruction1 = net.ae1(flat)
        loss = weight * _mse(flat, reconstruction1) + (1 - weight) * _mse(flat, net.ae2(reconstruction1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    def _phase_two(self, flat: torch.Tensor, weight: float, optimizer: torch.optim.Optimizer) -> float:
        """AE2 learns to reconstruct and, as ``weight`` falls, to tell real windows from AE1's outputs."""
        net: USADNetwork = self.module
        latent = net.encoder(flat)
        loss = weight * _mse(flat, net.decoder2(latent)) - (1 - weight) * _mse(flat, net.ae2(net.decoder1(latent)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    def _validation_loss(self, windows: torch.Tensor) -> torch.Tensor:
        # The score is a poor stopping criterion here: its β term grows by design as AE2's
        # adversarial weight rises. AE1's reconstruction of real windows is what both phases
        # want small throughout.
        net: USADNetwork = self.module
        flat = net.inputs(windows)
        return ((flat - net.ae1(flat)) ** 2).mean(dim=1)

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net: USADNetwork = self.module
        flat = net.inputs(windows)
        reconstruction1 = net.ae1(flat)
        reconstruction12 = net.ae2(reconstruction1)
        squared = self.alpha * (flat - reconstruction1) ** 2 + self.beta * (flat - reconstruction12) ** 2
        contributions = squared.view_as(windows).mean(dim=1)
        return contributions.sum(dim=1), contributions


def _mse(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    return ((target - estimate) ** 2).mean()
