from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from streamproc.detection import Detector, FitReport, ProgressCallback, sliding_windows


class PCADetector(Detector):
    """Principal subspace of flattened windows; the residual outside it is the anomaly score.

    ``components`` is a count (>= 1) or the share of variance to keep (< 1). Per-feature
    contributions are the squared residuals summed over the window's time steps.
    """

    name = "pca"

    def __init__(
        self, *, window: int = 100, components: float = 0.95, max_train_windows: int = 20000, seed: int = 0
    ) -> None:
        if components <= 0:
            raise ValueError("components must be > 0")
        super().__init__(window=window, components=components, max_train_windows=max_train_windows, seed=seed)
        self.components = components
        self.max_train_windows = int(max_train_windows)
        self.seed = int(seed)
        self.mean: np.ndarray | None = None
        self.basis: np.ndarray | None = None

    def _fit(
        self, train: np.ndarray, progress: ProgressCallback | None, validation: np.ndarray | None = None
    ) -> FitReport:
        start = time.perf_counter()
        windows = sliding_windows(train, self.window)
        if len(windows) > self.max_train_windows:
            rng = np.random.default_rng(self.seed)
            windows = windows[np.sort(rng.choice(len(windows), self.max_train_windows, replace=False))]
        flat = windows.reshape(len(windows), -1).astype(np.float64)
        self.mean = flat.mean(axis=0)
        centred = flat - self.mean
        # Eigen-decomposition of the (D x D) covariance is cheaper than an SVD of (N x D) here.
        cov = centred.T @ centred / max(len(flat) - 1, 1)
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        eigvals, eigvecs = np.clip(eigvals[order], 0, None), eigvecs[:, order]
        if self.components >= 1:
            k = int(self.components)
        else:
            total = eigvals.sum()
            explained = np.cumsum(eigvals) / total if total > 0 else np.ones_like(eigvals)
            k = int(np.searchsorted(explained, self.components) + 1)
        k = max(1, min(k, flat.shape[1]))
        self.basis = eigvecs[:, :k].astype(np.float32)
        self.mean = self.mean.astype(np.float32)
        if progress:
            progress(1, 1, {"components": float(k)})
        residual = self._residual(windows[: min(len(windows), 4096)])
        # PCA has nothing to stop early; the held-out reconstruction error shows how far the
        # in-sample residual understates the error on unseen normal data.
        held_out = None if validation is None else sliding_windows(validation, self.window)
        validation_loss = float(self._residual(held_out).mean()) if held_out is not None and len(held_out) else None
        return FitReport(
            seconds=time.perf_counter() - start,
            train_windows=len(flat),
            final_loss=float(residual.mean()),
            validation_loss=validation_loss,
        )

    def _residual(self, windows: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.basis is not None  # fitted
        flat = windows.reshape(len(windows), -1) - self.mean
        recon = (flat @ self.basis) @ self.basis.T
        return (flat - recon) ** 2

    def _score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        err = self._residual(windows).reshape(windows.shape)
        contributions = err.mean(axis=1)
        return contributions.sum(axis=1), contributions

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.mean is not None and self.basis is not None  # fitted
        return {"mean": self.mean, "basis": self.basis}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.mean = arrays["mean"].astype(np.float32)
        self.basis = arrays["basis"].astype(np.float32)
