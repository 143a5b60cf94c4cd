"""VUS-PR: the volume under the range-based precision-recall surface.

Paparrizos, Boniol, Palpanas, Tsay, Elmore, Franklin, "Volume Under the Surface: A New
Accuracy Evaluation Measure for Time-Series Anomaly Detection", PVLDB 15(11), 2022. This
follows the authors' reference implementation (TSB-UAD ``RangeAUC_volume``) step by step,
computed with sorted cumulative sums instead of one pass over the series per threshold:

1. **Range labels** for a buffer length ℓ: each labelled segment ``[s, e]`` (``e``
   inclusive) gets slopes of ``ℓ // 2`` samples; the samples ``e + k`` for
   ``0 <= k < ℓ // 2`` receive ``+sqrt(1 - k / ℓ)`` and ``s - k`` for ``1 <= k <= ℓ // 2``
   receive ``+sqrt(1 - k / ℓ)``; the sum is clipped to 1. (ℓ <= 1 leaves the labels binary.)
   The ranges used for the existence reward are the maximal runs of positive range labels.
2. **Thresholds**: 250 scores sampled uniformly by rank from the scores sorted in decreasing
   order (indices ``linspace(0, T-1, 250)``); a point is predicted if ``score >= threshold``.
3. **Range recall** = ``min(TP / P, 1) · existence``, where ``TP`` is the sum of range labels
   over predicted points, ``P`` the mean of the binary and the range-label totals, and
   ``existence`` the fraction of ranges holding a predicted point. **Range precision** =
   ``TP / (number of predicted points)``.
4. **Range-PR-AUC** by the trapezoid rule over the points ``(0, 1)``, then each threshold's
   ``(recall, precision)`` in decreasing-threshold order.
5. **VUS-PR** = the mean of the Range-PR-AUC over buffer lengths ℓ = 0, 1, ..., L (step 1).

L (``max_buffer``) defaults to 200, twice the 100-sample sliding window the reference uses
(``windowSize = 2 · slidingWindow``), kept fixed so that every detector is measured alike.
Series without a labelled segment have no PR curve: the result is NaN.
"""

from __future__ import annotations

import numpy as np

from ._segments import runs

DEFAULT_MAX_BUFFER = 200
DEFAULT_THRESHOLDS = 250


def range_labels(labels: np.ndarray, buffer: int) -> np.ndarray:
    """Binary labels widened by square-root slopes of ``buffer // 2`` samples on each side."""
    labels = np.asarray(labels, dtype=bool).ravel()
    soft = labels.astype(np.float64)
    slope = int(buffer) // 2
    if slope == 0:
        return soft
    length = len(soft)
    for start, stop in runs(labels):
        end = stop - 1
        after = np.arange(end, min(end + slope, length))
        soft[after] += np.sqrt(1.0 - (after - end) / buffer)
        before = np.arange(max(start - slope, 0), start)
        soft[before] += np.sqrt(1.0 - (start - before) / buffer)
    return np.minimum(soft, 1.0)


class _RankedScores:
    """Scores sorted once, shared by every buffer length."""

    def __init__(self, scores: np.ndarray, n_thresholds: int) -> None:
        scores = np.asarray(scores, dtype=np.float64).ravel()
        self.scores = np.where(np.isnan(scores), -np.inf, scores)
        self.order = np.argsort(-self.scores, kind="stable")
        descending = self.scores[self.order]
        self.thresholds = descending[np.linspace(0, len(descending) - 1, n_thresholds).astype(int)]
        ascending = descending[::-1]
        # Points with score >= threshold are the first ``predicted`` in decreasing order.
        self.predicted = len(ascending) - np.searchsorted(ascending, self.thresholds, side="left")


def _range_pr_auc(labels: np.ndarray, ranked: _RankedScores, buffer: int) -> float:
    soft = range_labels(labels, buffer)
    ranges = runs(soft > 0)
    positives = (labels.sum() + soft.sum()) / 2.0
    cumulative = np.concatenate([[0.0], np.cumsum(soft[ranked.order])])
    tp = cumulative[ranked.predicted]
    range_max = np.sort([ranked.scores[a:b].max() for a, b in ranges])
    existence = (len(range_max) - np.searchsorted(range_max, ranked.thresholds, side="left")) / len(range_max)
    recall = np.concatenate([[0.0], np.minimum(tp / positives, 1.0) * existence])
    precision = np.concatenate([[1.0], tp / ranked.predicted])
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2.0))


def range_pr_auc(labels: np.ndarray, scores: np.ndarray, buffer: int, n_thresholds: int = DEFAULT_THRESHOLDS) -> float:
    """Area under the range-based PR curve for one buffer length (step 4 above)."""
    labels = _check(labels, scores)
    if not labels.any():
        return float("nan")
    return _range_pr_auc(labels, _RankedScores(scores, n_thresholds), int(buffer))


def vus_pr(
    labels: np.ndarray, scores: np.ndarray, max_buffer: int = DEFAULT_MAX_BUFFER, n_thresholds: int = DEFAULT_THRESHOLDS
) -> float:
    """Mean Range-PR-AUC over buffer lengths ``0..max_buffer`` (step 1)."""
    if max_buffer < 0:
        raise ValueError("max_buffer must be >= 0")
    labels = _check(labels, scores)
    if not labels.any():
        return float("nan")
    ranked = _RankedScores(scores, n_thresholds)
    return float(np.mean([_range_pr_auc(labels, ranked, b) for b in range(max_buffer + 1)]))


def _check(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=bool).ravel()
    if labels.shape != np.shape(np.ravel(scores)):
        raise ValueError(f"labels and scores differ in length: {labels.shape[0]} != {np.size(scores)}")
    return labels
