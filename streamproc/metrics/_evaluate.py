"""All metrics of one detector, per channel and in total over channels.

Totals come in two kinds, both reported:

- **micro** (the headline): the channels taken together as one stream. Alarm-based metrics sum
  their counts over channels (the same as concatenating the series, without letting a segment
  run across a channel boundary). Threshold-free metrics (VUS-PR, oracle best F1) are computed
  on the concatenated scores, each channel's scores first divided by its own label-free
  threshold, so that 1.0 means "at the threshold" in every channel and one global sweep is
  meaningful across channels with different score units.
- **macro**: the unweighted mean of the per-channel values, for the reader who wants every
  channel to weigh the same whatever its length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._classification import Counts, event_wise, point_adjusted, point_wise
from ._oracle import OracleF1, oracle_best_f1, oracle_best_f1_point_adjusted
from ._segments import runs
from ._vus import DEFAULT_MAX_BUFFER, DEFAULT_THRESHOLDS, vus_pr

HEADLINE = "micro"
ALARM_METRICS = ("point_adjusted", "point_wise", "event_wise")
ORACLE_METRICS = ("oracle_best_f1", "oracle_best_f1_point_adjusted")


@dataclass(frozen=True)
class ChannelSeries:
    """What one detector produced on one channel, with the labels to judge it by."""

    labels: np.ndarray
    scores: np.ndarray
    alarms: np.ndarray
    threshold: float  # the label-free calibrated threshold, used to put channels on one scale


@dataclass(frozen=True)
class Evaluation:
    n_steps: int
    n_labelled: int
    n_segments: int
    n_alarms: int
    point_adjusted: Counts
    point_wise: Counts
    event_wise: Counts
    vus_pr: float
    oracle_best_f1: OracleF1
    oracle_best_f1_point_adjusted: OracleF1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_steps": self.n_steps,
            "n_labelled": self.n_labelled,
            "n_segments": self.n_segments,
            "n_alarms": self.n_alarms,
            "alarm_rate": self.n_alarms / self.n_steps if self.n_steps else 0.0,
            "vus_pr": _finite_or_none(self.vus_pr),
        }
        for name in ALARM_METRICS:
            out[name] = getattr(self, name).to_json()
        out["point_wise"].update(_alarm_rates(self.point_wise, self.n_steps - self.n_labelled))
        for name in ORACLE_METRICS:
            out[name] = {k: _finite_or_none(v) for k, v in getattr(self, name).to_json().items()}
        return out


def _alarm_rates(counts: Counts, normal_steps: int) -> dict[str, float]:
    """SKAB's point-wise rates: false alarms among normal steps, missed ones among anomalous."""
    return {
        "false_alarm_rate": counts.fp / normal_steps if normal_steps else 0.0,
        "missed_alarm_rate": counts.fn / (counts.tp + counts.fn) if counts.tp + counts.fn else 0.0,
    }


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN; "not defined" (e.g. VUS of a channel without anomalies) is null.
    return float(value) if np.isfinite(value) else None


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    alarms: np.ndarray,
    *,
    max_buffer: int = DEFAULT_MAX_BUFFER,
    n_thresholds: int = DEFAULT_THRESHOLDS,
) -> Evaluation:
    """Every metric for one series; NaN scores (no full window yet) count as never alarmed."""
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    alarms = np.asarray(alarms, dtype=bool).ravel()
    if not (len(labels) == len(scores) == len(alarms)):
        raise ValueError(f"labels, scores and alarms differ in length: {len(labels)}, {len(scores)}, {len(alarms)}")
    return Evaluation(
        n_steps=len(labels),
        n_labelled=int(labels.sum()),
        n_segments=len(runs(labels)),
        n_alarms=int(alarms.sum()),
        point_adjusted=point_adjusted(labels, alarms),
        point_wise=point_wise(labels, alarms),
        event_wise=event_wise(labels, alarms),
        vus_pr=vus_pr(labels, scores, max_buffer, n_thresholds),
        oracle_best_f1=oracle_best_f1(labels, scores),
        oracle_best_f1_point_adjusted=oracle_best_f1_point_adjusted(labels, scores),
    )


def normalise_scores(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Scores on the threshold's scale: 1.0 at the threshold, order within the channel kept."""
    scores = np.asarray(scores, dtype=np.float64)
    if threshold > 0:
        return scores / threshold
    # A non-positive threshold cannot be divided by; shifting still puts it at 1.0.
    return scores - threshold + 1.0


def evaluate_channels(
    channels: Mapping[str, ChannelSeries],
    *,
    max_buffer: int = DEFAULT_MAX_BUFFER,
    n_thresholds: int = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Per-channel metrics plus the micro (headline) and macro totals, as JSON-ready dicts."""
    if not channels:
        raise ValueError("no channels to evaluate")
    per_channel = {
        name: evaluate(s.labels, s.scores, s.alarms, max_buffer=max_buffer, n_thresholds=n_thresholds)
        for name, s in channels.items()
    }
    labels = np.concatenate([np.asarray(s.labels, bool) for s in channels.values()])
    scores = np.concatenate([normalise_scores(s.scores, s.threshold) for s in channels.values()])
    results = list(per_channel.values())
    micro: dict[str, Any] = {
        "n_steps": sum(r.n_steps for r in results),
        "n_labelled": sum(r.n_labelled for r in results),
        "n_segments": sum(r.n_segments for r in results),
        "n_alarms": sum(r.n_alarms for r in results),
        "vus_pr": _finite_or_none(vus_pr(labels, scores, max_buffer, n_thresholds)),
        "oracle_best_f1": {k: _finite_or_none(v) for k, v in oracle_best_f1(labels, scores).to_json().items()},
        "oracle_best_f1_point_adjusted": {
            k: _finite_or_none(v) for k, v in _joined_oracle_point_adjusted(channels).to_json().items()
        },
    }
    micro["alarm_rate"] = micro["n_alarms"] / micro["n_steps"] if micro["n_steps"] else 0.0
    for name in ALARM_METRICS:
        total = Counts(0, 0, 0)
        for r in results:
            total = total + getattr(r, name)
        micro[name] = total.to_json()
        if name == "point_wise":
            micro[name].update(_alarm_rates(total, micro["n_steps"] - micro["n_labelled"]))
    macro: dict[str, Any] = {
        "alarm_rate": float(np.mean([r.n_alarms / r.n_steps for r in results])),
        "vus_pr": _nanmean([r.vus_pr for r in results]),
    }
    for name in ALARM_METRICS:
        macro[name] = {
            k: float(np.mean([getattr(getattr(r, name), k) for r in results])) for k in ("precision", "recall", "f1")
        }
    for name in ORACLE_METRICS:
        macro[name] = {
            k: float(np.mean([getattr(getattr(r, name), k) for r in results])) for k in ("precision", "recall", "f1")
        }
    return {"channels": {name: r.to_json() for name, r in per_channel.items()}, "micro": micro, "macro": macro}


def _joined_oracle_point_adjusted(channels: Mapping[str, ChannelSeries]) -> OracleF1:
    # A labelled segment must not run across a channel boundary, so channels are joined with a
    # one-step unlabelled separator that is never alarmed (its score is -inf).
    labels, scores = [], []
    for series in channels.values():
        labels += [np.asarray(series.labels, bool), np.zeros(1, bool)]
        scores += [normalise_scores(series.scores, series.threshold), np.full(1, -np.inf)]
    return oracle_best_f1_point_adjusted(np.concatenate(labels), np.concatenate(scores))


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None
