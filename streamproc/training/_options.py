"""Settings of the training procedure itself (as opposed to a detector's own config)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from streamproc.thresholds import ThresholdConfig

from ._errors import TrainingError


@dataclass(frozen=True)
class TrainingOptions:
    """How a channel is split, fitted and calibrated.

    - ``validation_fraction``: the last share of the training series held out from fitting.
      It is passed to the detector as ``validation`` (early stopping where supported) and its
      scores calibrate the threshold: scores of data the model never fitted behave like the
      stream's, while in-sample scores understate them (a PCA or an auto-encoder reconstructs
      its own training windows better than unseen normal ones), which would set the threshold
      too low and flood the stream with alarms.
    - ``min_calibration``: fewest held-out scores worth calibrating on; a shorter tail (a
      channel with little training data) calibrates as its detector declares
      (``DetectorSpec.short_calibration``): on out-of-sample scores of all training windows
      from cross-fitting (two models, each fitted on one half), or on the final model's
      in-sample scores; the artifact says which.
    - ``in_sample_margin``: in-sample scores are multiplied by it before POT (so is the
      threshold: POT scales with its scores), since they understate the errors of unseen data.
    - ``threshold``: POT risk, level and online adaptation (:class:`ThresholdConfig`).
    """

    validation_fraction: float = 0.2
    min_calibration: int = 100
    in_sample_margin: float = 1.5
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 0.5:
            raise TrainingError(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        if self.min_calibration < 1:
            raise TrainingError(f"min_calibration must be >= 1, got {self.min_calibration}")
        if not (math.isfinite(self.in_sample_margin) and self.in_sample_margin >= 1.0):
            raise TrainingError(f"in_sample_margin must be finite and >= 1, got {self.in_sample_margin}")

    def to_json(self) -> dict[str, Any]:
        return {
            "validation_fraction": self.validation_fraction,
            "min_calibration": self.min_calibration,
            "in_sample_margin": self.in_sample_margin,
            "threshold": self.threshold.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingOptions:
        return cls(
            validation_fraction=float(data["validation_fraction"]),
            min_calibration=int(data["min_calibration"]),
            # options stored before the margin existed calibrated in-sample scores as they were
            in_sample_margin=float(data.get("in_sample_margin", 1.0)),
            threshold=ThresholdConfig.from_json(data["threshold"]),
        )
