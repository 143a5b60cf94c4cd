"""Model drift: whether a model's recent scores still look like the scores it was calibrated on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

# A two-sample Kolmogorov-Smirnov statistic above this, over at least ``min_scores`` recent
# windows, says the recent scores no longer come from the calibration distribution. With a few
# hundred scores on each side, chance alone stays below about 0.1 (the 0.1% critical value of two
# samples of 500 is about 0.12); 0.3 leaves room for the slow wander of real plants.
DRIFT_LIMIT = 0.3


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest distance between the empirical
    distribution functions of ``a`` and ``b`` (0: alike, 1: disjoint)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return 0.0
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


@dataclass
class _Recent:
    model_version: str
    scores: deque[float]
    since_check: int = 0
    drifting: bool = False


@dataclass
class DriftMonitor:
    """Per channel and detector, the last ``window`` scores against the model's calibration
    scores, compared every ``every`` scores once ``min_scores`` are there."""

    window: int = 500
    min_scores: int = 200
    every: int = 50
    limit: float = DRIFT_LIMIT
    _recent: dict[tuple[str, str], _Recent] = field(default_factory=dict)

    def observe(
        self, channel: str, detector: str, model_version: str, score: float, calibration: np.ndarray
    ) -> DriftCheck | None:
        """Add one score of ``model_version`` (another version than before starts over: it has
        a calibration of its own); a :class:`DriftCheck` when this score completed a comparison."""
        recent = self._recent.get((channel, detector))
        if recent is None or recent.model_version != model_version:
            recent = self._recent[(channel, detector)] = _Recent(model_version, deque(maxlen=self.window))
        if np.isfinite(score):
            recent.scores.append(float(score))
        recent.since_check += 1
        if recent.since_check < self.every or len(recent.scores) < self.min_scores or len(calibration) == 0:
            return None
        recent.since_check = 0
        statistic = ks_statistic(np.fromiter(recent.scores, float), calibration)
        was, recent.drifting = recent.drifting, statistic > self.limit
        return DriftCheck(channel, detector, statistic, len(recent.scores), recent.drifting, recent.drifting != was)


@dataclass(frozen=True)
class DriftCheck:
    """One comparison: the KS ``statistic`` over ``scores`` recent windows, whether it is above
    the limit, and whether that just changed."""

    channel: str
    detector: str
    statistic: float
    scores: int
    drifting: bool
    changed: bool
