"""Best F1 over every threshold of a score, chosen with the test labels: an oracle.

No deployable detector can pick this threshold (it needs the labels being evaluated); it
bounds what a perfect threshold choice would give and is reported only under ``oracle_*``
names. Alarms are ``score >= threshold``; non-finite scores are never alarmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._segments import runs


@dataclass(frozen=True)
class OracleF1:
    f1: float
    precision: float
    recall: float
    threshold: float

    def to_json(self) -> dict[str, float]:
        return {"f1": self.f1, "precision": self.precision, "recall": self.recall, "threshold": self.threshold}


_NONE = OracleF1(0.0, 0.0, 0.0, float("nan"))


def _prepare(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in length: {labels.shape[0]} != {scores.shape[0]}")
    return labels, np.where(np.isfinite(scores), scores, -np.inf)


def _best(tp: np.ndarray, fp: np.ndarray, positives: int, thresholds: np.ndarray) -> OracleF1:
    denominator = 2 * tp + fp + (positives - tp)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)
    best = int(np.argmax(f1))
    predicted = tp[best] + fp[best]
    precision = tp[best] / predicted if predicted else 0.0
    return OracleF1(float(f1[best]), float(precision), float(tp[best] / positives), float(thresholds[best]))


def _candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    finite = scores[np.isfinite(scores)]
    return np.unique(finite)[::-1]


def _count_at_least(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``sorted_values`` (ascending) are >= each threshold."""
    return len(sorted_values) - np.searchsorted(sorted_values, thresholds, side="left")


def oracle_best_f1(labels: np.ndarray, scores: np.ndarray) -> OracleF1:
    """Best point-wise F1 over all thresholds."""
    labels, scores = _prepare(labels, scores)
    thresholds = _candidate_thresholds(scores)
    positives = int(labels.sum())
    if positives == 0 or len(thresholds) == 0:
        return _NONE
    tp = _count_at_least(np.sort(scores[labels]), thresholds)
    fp = _count_at_least(np.sort(scores[~labels]), thresholds)
    return _best(tp, fp, positives, thresholds)


def oracle_best_f1_point_adjusted(labels: np.ndarray, scores: np.ndarray) -> OracleF1:
    """Best point-adjusted F1 over all thresholds: a segment is detected at thresholds up to its max score."""
    labels, scores = _prepare(labels, scores)
    thresholds = _candidate_thresholds(scores)
    positives = int(labels.sum())
    if positives == 0 or len(thresholds) == 0:
        return _NONE
    segments = runs(labels)
    segment_max = np.array([scores[a:b].max() for a, b in segments])
    order = np.argsort(segment_max)
    lengths = (segments[:, 1] - segments[:, 0])[order]
    # Points of segments whose max is >= t: suffix sums of lengths in ascending-max order.
    suffix = np.concatenate([np.cumsum(lengths[::-1])[::-1], [0]])
    tp = suffix[np.searchsorted(segment_max[order], thresholds, side="left")]
    fp = _count_at_least(np.sort(scores[~labels]), thresholds)
    return _best(tp, fp, positives, thresholds)
