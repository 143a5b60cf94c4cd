"""How a label-free threshold is set and adapted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from streamproc.errors import StreamprocError

ADAPTATIONS = ("none", "spot", "dspot")


class ThresholdConfigError(StreamprocError):
    """A threshold setting is out of range or unknown."""


@dataclass(frozen=True)
class ThresholdConfig:
    """Settings of POT calibration and of the optional online adaptation.

    - ``risk``: the target probability q that a normal score exceeds the threshold z_q.
    - ``level``: the quantile of calibration scores used as the initial threshold t; the
      excesses over t are the peaks the GPD is fitted to.
    - ``min_peaks``: fewest peaks worth a GPD fit. With few calibration scores the initial
      level is lowered (to no less than ``min_level``) so that this many peaks exist; below
      that, the threshold falls back to the empirical ``1 - risk`` quantile and says so.
    - ``adaptation``: ``none`` keeps the calibrated threshold fixed; ``spot`` updates the GPD
      with every new peak of the stream (Siffer et al.'s SPOT); ``dspot`` does the same on
      scores minus the moving average of the last ``depth`` normal scores (DSPOT, for
      drifting score levels).
    - ``max_shape``: the heaviest GPD tail trusted. A fitted shape above it (γ >= 1 means the
      excesses would not even have a finite mean) says the peaks are not one smooth tail, e.g.
      a few huge scores among moderate ones; extrapolating it puts the threshold orders of
      magnitude beyond any score seen, so the empirical ``1 - risk`` quantile is used instead.
    - ``max_peaks``: the most peaks kept while streaming; the oldest are dropped beyond it
      (with the observation count scaled to keep the tail ratio) so that state stays bounded.
    """

    risk: float = 1e-3
    level: float = 0.98
    min_peaks: int = 10
    min_level: float = 0.9
    adaptation: str = "none"
    depth: int = 100
    max_peaks: int = 1000
    max_shape: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            ("risk", 0.0 < self.risk < 1.0, "must be in (0, 1)"),
            ("level", 0.0 < self.level < 1.0, "must be in (0, 1)"),
            ("min_level", 0.0 < self.min_level <= self.level, "must be in (0, level]"),
            ("min_peaks", self.min_peaks >= 3, "must be >= 3"),
            ("adaptation", self.adaptation in ADAPTATIONS, f"must be one of {', '.join(ADAPTATIONS)}"),
            ("depth", self.depth >= 1, "must be >= 1"),
            ("max_peaks", self.max_peaks >= self.min_peaks, "must be >= min_peaks"),
            ("max_shape", self.max_shape > 0.0, "must be > 0"),
        ]
        for key, ok, message in checks:
            if not ok:
                raise ThresholdConfigError(f"threshold config: {key} {message} (got {getattr(self, key)!r})")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThresholdConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ThresholdConfigError(f"threshold config: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)
