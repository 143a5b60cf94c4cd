"""Precision, recall and F1 of binary alarms against labelled anomaly segments.

Three protocols, from most to least lenient:

- **point-adjusted** (Xu et al., WWW 2018; the protocol of most deep-model tables): if any
  point of a labelled segment is alarmed, every point of that segment counts as detected,
  then points are counted. A detector that hits each long segment once looks perfect, which
  is why a random score reaches high values on SMAP;
- **point-wise**: every time step counts once, as it is;
- **event-wise**: a labelled segment counts once, as a true positive if any of its points is
  alarmed and as a false negative otherwise; alarmed points outside every labelled segment
  are grouped into maximal contiguous runs, each run one false-alarm event.

Undefined ratios (no alarms, no labelled points) are reported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._segments import runs


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


@dataclass(frozen=True)
class Counts:
    """True/false positives and false negatives; ``+`` sums them (micro aggregation)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_json(self) -> dict[str, float]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def _check(labels: np.ndarray, alarms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=bool).ravel()
    alarms = np.asarray(alarms, dtype=bool).ravel()
    if labels.shape != alarms.shape:
        raise ValueError(f"labels and alarms differ in length: {labels.shape[0]} != {alarms.shape[0]}")
    return labels, alarms


def point_wise(labels: np.ndarray, alarms: np.ndarray) -> Counts:
    labels, alarms = _check(labels, alarms)
    return Counts(int(np.sum(labels & alarms)), int(np.sum(~labels & alarms)), int(np.sum(labels & ~alarms)))


def point_adjust(labels: np.ndarray, alarms: np.ndarray) -> np.ndarray:
    """``alarms`` with every labelled segment that holds an alarm alarmed entirely."""
    labels, alarms = _check(labels, alarms)
    adjusted = alarms.copy()
    for start, stop in runs(labels):
        if alarms[start:stop].any():
            adjusted[start:stop] = True
    return adjusted


def point_adjusted(labels: np.ndarray, alarms: np.ndarray) -> Counts:
    return point_wise(labels, point_adjust(labels, alarms))


def event_wise(labels: np.ndarray, alarms: np.ndarray) -> Counts:
    labels, alarms = _check(labels, alarms)
    segments = runs(labels)
    hit = sum(1 for start, stop in segments if alarms[start:stop].any())
    false_events = len(runs(alarms & ~labels))
    return Counts(hit, false_events, len(segments) - hit)
