from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from streamproc.detection import TorchDetector, TrainStep

from ._network import OmniAnomalyNetwork

# OmniAnomaly's reference training clips gradients by norm; the flow and the recurrence need it.
_GRADIENT_CLIP = 10.0


class OmniAnomalyDetector(TorchDetector):
    """OmniAnomaly: a stochastic recurrent network scored by reconstruction probability.

    Trained by maximising the ELBO ``Σ_t E_q[log p(x_t|z_{≤t}) + log p(z_t|z_{t−1}) − log q(z_t|·)]``
    with one reparameterised posterior sample per window. A window's score is the
    negative reconstruction probability of its last step, ``−E_q[log p(x_T | z_{≤T})]``,
    estimated with ``samples`` posterior samples; per-feature contributions are each
    feature's negative log-likelihood.

    Both are offset by the smallest negative log-likelihood the model can express,
    ``log(min_std) + ½·log 2π``, so that contributions are non-negative and sum to the score
    (a constant shift: rankings and thresholds are unaffected).

    Scoring noise is drawn once from ``seed`` and shared by every window (common random
    numbers): scores are repeatable, survive save/load and do not depend on how windows are
    batched, and differences between windows are not blurred by independent sampling noise.
    """

    name = "omnianomaly"

    def __init__(
        self,
        *,
        window: int = 100,
        hidden: int = 64,
        dense: int = 64,
        latent: int = 3,
        flows: int = 20,
        min_std: float = 0.1,
        samples: int = 4,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        patience: int = 3,
        validation_tail: float = 0.1,
        max_train_windows: int = 20000,
        train_stride: int = 5,
        score_batch_size: int = 1024,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        for key, value in (("hidden", hidden), ("dense", dense), ("latent", latent), ("samples", samples)):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if int(flows) < 0:
            raise ValueError(f"flows must be >= 0, got {flows}")
        if not min_std > 0:
            raise ValueError(f"min_std must be > 0, got {min_std}")
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
            hidden=hidden,
            dense=dense,
            latent=latent,
            flows=flows,
            min_std=min_std,
            samples=samples,
        )
        self.hidden = int(hidden)
        self.dense = int(dense)
        self.latent = int(latent)
        self.flows = int(flows)
        self.min_std = float(min_std)
        self.samples = int(samples)
        self._noise: torch.Tensor | None = None

    def _build_module(self, n_features: int) -> nn.Module:
        return OmniAnomalyNetwork(n_features, self.hidden, self.dense, self.latent, self.flows, self.min_std)

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        noise = torch.randn(batch.shape[0], self.window, self.latent, generator=step.generator, device=batch.device)
        log_px, log_pz_over_q = self.module(batch, noise)
        loss = -(log_px.sum(dim=-1) + log_pz_over_q).mean()
        (optimizer,) = step.optimizers
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.module.parameters(), _GRADIENT_CLIP)
        optimizer.step()
        return {"loss": loss.item()}

    def _scoring_noise(self, device: torch.device) -> torch.Tensor:
        """``[samples, window, latent]`` standard normal noise fixed by the seed."""
        if self._noise is None or self._noise.device != device:
            generator = torch.Generator().manual_seed(self.seed + 2)
            self._noise = torch.randn(self.samples, self.window, self.latent, generator=generator).to(device)
        return self._noise

    def _validation_loss(self, windows: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per step of each window, with the first scoring sample's noise."""
        noise = self._scoring_noise(windows.device)[:1].expand(len(windows), -1, -1)
        log_px, log_pz_over_q = self.module(windows, noise)
        return -(log_px.sum(dim=-1) + log_pz_over_q).mean(dim=1)

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = self._scoring_noise(windows.device)
        rows = noise[:, None].expand(-1, len(windows), -1, -1).reshape(-1, self.window, self.latent)
        log_px, _ = self.module(windows, rows)
        nll = -log_px[:, -1].view(self.samples, len(windows), -1).mean(dim=0)
        contributions = (nll - (math.log(self.min_std) + 0.5 * math.log(2.0 * math.pi))).clamp_min(0.0)
        return contributions.sum(dim=1), contributions
