"""Combining detectors' scores, each first normalised by its own threshold.

A normalised score of 1.0 sits exactly at its detector's threshold, so scores of detectors with
unrelated scales become comparable, and every policy yields a fused score on that same scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from streamproc.config import FUSION_POLICIES
from streamproc.errors import StreamprocError

POLICIES = FUSION_POLICIES  # re-exported by streamproc.fusion

# A threshold at or below this is treated as this: a degenerate (zero) threshold must not
# turn every score into infinity.
_MIN_THRESHOLD = 1e-12


class FusionConfigError(StreamprocError):
    """A fusion policy that cannot be built from its settings."""


def normalise(score: float, threshold: float) -> float:
    """``score / threshold``: 1.0 at the threshold; non-finite scores count as 0 (no evidence)."""
    if not math.isfinite(score):
        return 0.0
    if not math.isfinite(threshold) or threshold < _MIN_THRESHOLD:
        threshold = _MIN_THRESHOLD
    return max(score, 0.0) / threshold


@dataclass(frozen=True)
class FusionPolicy:
    """How normalised detector scores become one fused score.

    - ``max``: the largest; any detector can raise an alert on its own.
    - ``mean``: the average; detectors must broadly agree.
    - ``weighted``: the ``weights``-weighted average (a detector without a weight counts 1).
    - ``k_of_n``: the ``k``-th largest, which exceeds 1.0 exactly when at least ``k``
      detectors exceed their thresholds. With fewer than ``k`` scores it is 0.
    """

    name: str = "max"
    weights: Mapping[str, float] = field(default_factory=dict)
    k: int = 1

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise FusionConfigError(f"fusion.policy: {self.name!r} is not one of {', '.join(POLICIES)}")
        if self.k < 1:
            raise FusionConfigError(f"fusion.k: must be >= 1, got {self.k}")
        negative = sorted(d for d, w in self.weights.items() if not w >= 0)
        if negative:
            raise FusionConfigError(f"fusion.weights.{negative[0]}: expected a non-negative number")
        object.__setattr__(self, "weights", dict(self.weights))

    def weight(self, detector: str) -> float:
        return float(self.weights.get(detector, 1.0)) if self.name == "weighted" else 1.0

    def combine(self, normalised: Mapping[str, float]) -> float:
        """The fused score of one window from its detectors' normalised scores."""
        if not normalised:
            return 0.0
        values = list(normalised.values())
        if self.name == "max":
            return max(values)
        if self.name == "mean":
            return sum(values) / len(values)
        if self.name == "k_of_n":
            return sorted(values, reverse=True)[self.k - 1] if len(values) >= self.k else 0.0
        total = sum(self.weight(d) for d in normalised)
        if total <= 0:
            return 0.0
        return sum(self.weight(d) * s for d, s in normalised.items()) / total
