from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from streamproc.detection import Detector, FitReport, ProgressCallback


class RangeDetector(Detector):
    """Per feature, how far the window's last value lies outside the training ``[min, max]``.

    Margins are measured in units of the feature's training range, floored at ``min_range``
    so that features constant in training (SMAP's command flags) are measured in scaler units
    instead of being divided by zero. A feature's contribution is its excess outside the range
    (zero inside). The score is the sum of the excesses when any feature is outside its range;
    when all are inside, it is minus the distance to a bound of the varying feature closest to
    one (features constant in training sit on both bounds and say nothing). That keeps the
    score continuous and the in-range points ranked (nearer the edge is more suspicious), so
    label-free thresholds fitted on normal data (POT), which lies inside the range, see a
    proper upper tail instead of a column of zeros.

    Only the last step counts, never the maximum over the window: a window's score belongs to
    its last step, and carrying an earlier excursion forward would smear each anomaly over the
    next ``window - 1`` points, which flatters point-adjusted metrics without any skill. The
    ``window`` is therefore irrelevant to the score; the smallest one (2) is the default.
    """

    name = "range"
    additive = False  # in range, the score is a distance, not a sum of excesses

    def __init__(self, *, window: int = 2, min_range: float = 1.0) -> None:
        if not min_range > 0:
            raise ValueError(f"min_range must be > 0, got {min_range}")
        super().__init__(window=window, min_range=min_range)
        self.min_range = float(min_range)
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None

    def _fit(
        self, train: np.ndarray, progress: ProgressCallback | None, validation: np.ndarray | None = None
    ) -> FitReport:
        # ``validation`` is accepted for the contract's sake: a range has nothing to stop early.
        started = time.perf_counter()
        self.low, self.high = train.min(axis=0), train.max(axis=0)
        if progress:
            progress(1, 1, {"loss": 0.0})
        return FitReport(seconds=time.perf_counter() - started, train_windows=len(train) - self.window + 1)

    def _score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.low is not None and self.high is not None  # fitted
        last = windows[:, -1, :]
        unit = np.maximum(self.high - self.low, self.min_range)
        margin = np.maximum(last - self.high, self.low - last) / unit
        measured = np.ones(margin.shape[1], bool)
        measured[list(self.covariates)] = False
        margin = np.where(measured, margin, -np.inf)  # a covariate is never outside its range
        excess = np.maximum(margin, 0.0)
        varying = (self.high > self.low) & measured
        nearest = margin[:, varying].max(axis=1) if varying.any() else np.zeros(len(last), np.float32)
        return np.where(excess.any(axis=1), excess.sum(axis=1), nearest), excess

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.low is not None and self.high is not None  # fitted
        return {"low": self.low, "high": self.high}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.low = arrays["low"].astype(np.float32)
        self.high = arrays["high"].astype(np.float32)
