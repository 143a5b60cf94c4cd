"""Model drift: whether a model's recent scores still look like the scores it was calibrated on."""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from streamproc.fusion import DRIFT, AlertEvent, DetectorVerdict

# A two-sample Kolmogorov-Smirnov statistic above this, over at least ``min_scores`` recent
# windows, says the recent scores no longer come from the calibration distribution. With a few
# hundred scores on each side, chance alone stays below about 0.1 (the 0.1% critical value of two
# samples of 500 is about 0.12); 0.3 leaves room for the slow wander of real plants.
DRIFT_LIMIT = 0.3
DRIFT_NAMESPACE = uuid.UUID("b1d4a9e2-3c57-4f0a-8e61-5d2c7f9a0b13")


def drift_alert_id(channel: str, detector: str, model_version: str) -> str:
    """The id of the DRIFT alert of one model version on one channel (one per version)."""
    return str(uuid.uuid5(DRIFT_NAMESPACE, f"{channel}\n{detector}\n{model_version}"))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest distance between the empirical
    distribution functions of ``a`` and ``b`` (0: alike, 1: disjoint); non-finite values are
    left out."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return 0.0
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


@dataclass(frozen=True)
class DriftCheck:
    """One comparison: the KS ``statistic`` over ``scores`` recent windows of ``model_version``,
    whether it is above ``limit``, and whether that just changed (at ``at_ms``, the scored
    window's end; ``opened_ms``: when the drift was first seen)."""

    channel: str
    detector: str
    model_version: str
    statistic: float
    limit: float
    scores: int
    drifting: bool
    changed: bool
    at_ms: int
    opened_ms: int | None = None

    def alert(self) -> AlertEvent | None:
        """The DRIFT alert event this check announces: OPEN when drift starts, RESOLVED when it
        ends; None when nothing changed."""
        if not self.changed:
            return None
        opened = self.opened_ms if self.opened_ms is not None else self.at_ms
        return AlertEvent(
            drift_alert_id(self.channel, self.detector, self.model_version),
            self.channel,
            "OPEN" if self.drifting else "RESOLVED",
            opened,
            self.at_ms,
            None if self.drifting else self.at_ms,
            "LOW",
            self.statistic,
            (DetectorVerdict(self.detector, self.model_version, self.statistic, self.limit, ()),),
            (),
            condition=DRIFT,
        )


@dataclass
class _Recent:
    model_version: str
    scores: deque[float]
    since_check: int = 0
    drifting: bool = False
    opened_ms: int | None = None


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
        self, channel: str, detector: str, model_version: str, score: float, calibration: np.ndarray, at_ms: int
    ) -> list[DriftCheck]:
        """Add one score of ``model_version`` at window end ``at_ms``; the comparisons it completed.
        Another version than before starts over (it has a calibration of its own), and a drift
        the previous version was in ends with it."""
        checks = []
        recent = self._recent.get((channel, detector))
        if recent is not None and recent.model_version != model_version and recent.drifting:
            checks.append(
                DriftCheck(
                    channel, detector, recent.model_version, 0.0, self.limit, 0, False, True, at_ms, recent.opened_ms
                )
            )
        if recent is None or recent.model_version != model_version:
            recent = self._recent[(channel, detector)] = _Recent(model_version, deque(maxlen=self.window))
        if np.isfinite(score):
            recent.scores.append(float(score))
        recent.since_check += 1
        if recent.since_check < self.every or len(recent.scores) < self.min_scores or len(calibration) == 0:
            return checks
        recent.since_check = 0
        statistic = ks_statistic(np.fromiter(recent.scores, float), calibration)
        was, recent.drifting = recent.drifting, statistic > self.limit
        if recent.drifting and not was:
            recent.opened_ms = at_ms
        checks.append(
            DriftCheck(
                channel,
                detector,
                model_version,
                statistic,
                self.limit,
                len(recent.scores),
                recent.drifting,
                recent.drifting != was,
                at_ms,
                recent.opened_ms,
            )
        )
        return checks
