from __future__ import annotations

import numpy as np
import pytest

from streamproc.metrics import range_labels, range_pr_auc, vus_pr

LABELS = np.array([0, 0, 1, 1, 0, 0], bool)


def test_range_labels_by_hand() -> None:
    # Buffer 4: slopes of 2; after the end (index 3): 3 -> +1, 4 -> +sqrt(1 - 1/4);
    # before the start (index 2): 0 -> +sqrt(1 - 2/4), 1 -> +sqrt(1 - 1/4). Clipped to 1.
    expected = [np.sqrt(0.5), np.sqrt(0.75), 1.0, 1.0, np.sqrt(0.75), 0.0]
    np.testing.assert_allclose(range_labels(LABELS, 4), expected)
    np.testing.assert_array_equal(range_labels(LABELS, 0), LABELS.astype(float))
    np.testing.assert_array_equal(range_labels(LABELS, 1), LABELS.astype(float))


def test_range_pr_auc_of_a_perfect_ranking_without_buffer_is_one() -> None:
    assert range_pr_auc(LABELS, [0.1, 0.2, 0.9, 0.8, 0.3, 0.0], buffer=0, n_thresholds=6) == pytest.approx(1.0)


def test_range_pr_auc_by_hand_without_buffer() -> None:
    # Thresholds 0.9, 0.8, 0.3, 0.2, 0.1, 0.0 give (recall, precision):
    # (0, 0), (.5, .5), (.5, 1/3), (1, .5), (1, .4), (1, 1/3); the curve starts at (0, 1).
    # Trapezoids: .5 * (.5 + 0) / 2 + .5 * (.5 + 1/3) / 2 = 1/3.
    auc = range_pr_auc(LABELS, [0.9, 0.1, 0.8, 0.2, 0.0, 0.3], buffer=0, n_thresholds=6)
    assert auc == pytest.approx(1 / 3)


def test_range_pr_auc_by_hand_with_buffer() -> None:
    soft = np.array([np.sqrt(0.5), np.sqrt(0.75), 1.0, 1.0, np.sqrt(0.75), 0.0])
    positives = (2 + soft.sum()) / 2
    # Predicted sets in threshold order (scores 0.9, 0.8, 0.3, 0.2, 0.1, 0.0 at steps 0, 2, 5, 3, 1, 4).
    order = [0, 2, 5, 3, 1, 4]
    recall, precision = [0.0], [1.0]
    for k in range(1, 7):
        tp = soft[order[:k]].sum()
        recall.append(min(tp / positives, 1.0) * 1.0)  # the one range is always hit
        precision.append(tp / k)
    expected = sum((recall[i] - recall[i - 1]) * (precision[i] + precision[i - 1]) / 2 for i in range(1, 7))
    auc = range_pr_auc(LABELS, [0.9, 0.1, 0.8, 0.2, 0.0, 0.3], buffer=4, n_thresholds=6)
    assert auc == pytest.approx(expected)
    assert auc == pytest.approx(0.73405, abs=1e-4)


def _reference_range_pr_auc(labels: np.ndarray, scores: np.ndarray, buffer: int, n: int = 250) -> float:
    """A plain loop over thresholds, as in the authors' code: one pass over the series each."""
    soft = range_labels(labels, buffer)
    positive = soft > 0
    edges = np.diff(np.concatenate([[0], positive.astype(int), [0]]))
    ranges = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=False))
    p = (labels.sum() + soft.sum()) / 2
    thresholds = np.sort(scores)[::-1][np.linspace(0, len(scores) - 1, n).astype(int)]
    recall, precision = [0.0], [1.0]
    for t in thresholds:
        pred = scores >= t
        product = soft * pred
        tp = product.sum()
        existence = sum(product[a:b].sum() > 0 for a, b in ranges) / len(ranges)
        recall.append(min(tp / p, 1) * existence)
        precision.append(tp / pred.sum())
    recall.append(1.0)
    recall, precision = np.array(recall), np.array(precision)
    return float(np.sum((recall[1:-1] - recall[:-2]) * (precision[1:] + precision[:-1]) / 2))


def test_vus_pr_matches_the_reference_loop_on_random_series() -> None:
    rng = np.random.default_rng(0)
    labels = np.zeros(900, bool)
    for start in (50, 60, 300, 610, 880):  # 50 and 60 overlap once widened; 880 runs to the end
        labels[start : start + int(rng.integers(2, 30))] = True
    scores = np.round(rng.random(900) + 0.5 * labels, 2)
    for buffer in (0, 1, 5, 40):
        assert range_pr_auc(labels, scores, buffer) == pytest.approx(_reference_range_pr_auc(labels, scores, buffer))
    expected = np.mean([_reference_range_pr_auc(labels, scores, b) for b in range(0, 21)])
    assert vus_pr(labels, scores, max_buffer=20) == pytest.approx(expected)


def test_vus_pr_ranks_a_better_score_higher() -> None:
    rng = np.random.default_rng(1)
    labels = np.zeros(2000, bool)
    labels[500:540] = labels[1400:1410] = True
    good = rng.random(2000) + 2.0 * labels
    noise = rng.random(2000)
    assert vus_pr(labels, good, 50) > 0.7 > vus_pr(labels, noise, 50)


def test_vus_pr_without_labels_is_nan() -> None:
    assert np.isnan(vus_pr(np.zeros(10, bool), np.arange(10.0), 4))
