"""What fusion consumes (detectors' scores of one window) and what it produces (alert events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamproc.serde import record_id

# What an alert is about (the Avro ``Condition`` enum).
ANOMALY = "ANOMALY"
STALE = "STALE"


@dataclass(frozen=True)
class DetectorVerdict:
    """One detector's score of one window; ``contributions`` are per feature, non-negative."""

    detector: str
    model_version: str
    score: float
    threshold: float
    contributions: Sequence[float]

    def to_json(self) -> list[Any]:
        return [
            self.detector,
            self.model_version,
            float(self.score),
            float(self.threshold),
            [float(c) for c in self.contributions],
        ]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> DetectorVerdict:
        detector, version, score, threshold, contributions = data
        return cls(detector, version, float(score), float(threshold), tuple(contributions))


@dataclass(frozen=True)
class WindowVerdicts:
    """Every available detector's verdict on one window of one channel.

    ``produced_at`` is the Kafka timestamp (seconds) of the reading that completed the window,
    carried along so that reading-to-alert latency can be measured.
    """

    channel: str
    window_end: int
    verdicts: Sequence[DetectorVerdict]
    feature_names: Sequence[str] | None = None
    produced_at: float = 0.0


@dataclass(frozen=True)
class FeatureContribution:
    index: int
    name: str | None
    contribution: float


@dataclass(frozen=True)
class AlertEvent:
    """One message of an alert's lifecycle, field for field the Avro ``Alert`` record."""

    alert_id: str
    channel: str
    state: str
    opened_at: int
    updated_at: int
    resolved_at: int | None
    severity: str
    fused_score: float
    detector_scores: Sequence[DetectorVerdict]
    top_features: Sequence[FeatureContribution]
    produced_at: float = 0.0
    condition: str = ANOMALY

    def to_record(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "channel": self.channel,
            "state": self.state,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "resolved_at": self.resolved_at,
            "severity": self.severity,
            "fused_score": float(self.fused_score),
            "detector_scores": [
                {
                    "detector": v.detector,
                    "model_version": v.model_version,
                    "score": float(v.score),
                    "threshold": float(v.threshold),
                }
                for v in self.detector_scores
            ],
            "top_features": [
                {"index": f.index, "name": f.name, "contribution": float(f.contribution)} for f in self.top_features
            ],
            "condition": self.condition,
            "record_id": record_id(self.alert_id, self.state, self.updated_at),
        }
