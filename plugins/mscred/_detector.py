from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from streamproc.detection import TorchDetector, TrainStep

from ._network import MSCREDNetwork
from ._signature import signature_matrices, signature_span


class MSCREDDetector(TorchDetector):
    """MSCRED: reconstruction of multi-scale signature matrices.

    Each window becomes ``steps`` sets of signature matrices, ``gap`` time steps apart, one
    per segment length in ``scales`` (the paper: 5 steps, gap 10, scales 10/30/60, which
    span the default window of 100). The network reconstructs the last step's matrices;
    training minimises the squared residual. A window's per-feature contributions are the
    row sums of its squared residual matrices over all scales, and its score their sum (the
    paper counts residual elements above a threshold instead; the summed error is the
    label-free, threshold-free version of the same signal).
    """

    name = "mscred"

    def __init__(
        self,
        *,
        window: int = 100,
        scales: Sequence[int] = (10, 30, 60),
        steps: int = 5,
        gap: int = 10,
        filters: int = 4,
        rescale: float = 5.0,
        epochs: int = 15,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        patience: int = 3,
        validation_tail: float = 0.1,
        max_train_windows: int = 20000,
        train_stride: int = 10,
        score_batch_size: int = 256,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        scales = [int(s) for s in scales]
        if not scales or min(scales) < 2:
            raise ValueError(f"scales must be segment lengths >= 2, got {scales}")
        for key, value in (("steps", steps), ("gap", gap), ("filters", filters)):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if not rescale > 0:
            raise ValueError(f"rescale must be > 0, got {rescale}")
        span = signature_span(int(steps), int(gap), scales)
        if int(window) < span:
            raise ValueError(
                f"window {window} is shorter than the {span} steps that steps={steps}, "
                f"gap={gap} and scales={scales} need"
            )
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
            scales=scales,
            steps=steps,
            gap=gap,
            filters=filters,
            rescale=rescale,
        )
        self.scales = scales
        self.steps = int(steps)
        self.gap = int(gap)
        self.filters = int(filters)
        self.rescale = float(rescale)

    def _build_module(self, n_features: int) -> nn.Module:
        return MSCREDNetwork(len(self.scales), self.filters, self.rescale)

    def _residuals(self, windows: torch.Tensor) -> torch.Tensor:
        matrices = signature_matrices(windows, self.steps, self.gap, self.scales)
        return matrices[:, -1] - self.module(matrices)

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        loss = (self._residuals(batch) ** 2).mean()
        (optimizer,) = step.optimizers
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        contributions = (self._residuals(windows) ** 2).sum(dim=(1, 3))
        return contributions.sum(dim=1), contributions
