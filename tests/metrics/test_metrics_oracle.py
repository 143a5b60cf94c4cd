from __future__ import annotations

import numpy as np
import pytest

from streamproc.metrics import oracle_best_f1, oracle_best_f1_point_adjusted, point_adjusted, point_wise

LABELS = np.array([0, 0, 1, 1, 0, 0], bool)
SCORES = np.array([0.1, 0.5, 0.9, 0.3, 0.2, 0.0])


def test_best_point_wise_f1_by_hand() -> None:
    # threshold 0.9: F1 2/3; 0.5: 1/2; 0.3: TP 2, FP 1 -> 4/5 (best); 0.2: 2/3; ...
    best = oracle_best_f1(LABELS, SCORES)
    assert best.f1 == pytest.approx(0.8)
    assert best.threshold == 0.3
    assert best.precision == pytest.approx(2 / 3)
    assert best.recall == 1.0


def test_best_point_adjusted_f1_by_hand() -> None:
    # At 0.9 the segment (max 0.9) is detected whole and nothing else is alarmed: F1 = 1.
    best = oracle_best_f1_point_adjusted(LABELS, SCORES)
    assert best.f1 == 1.0
    assert best.threshold == 0.9


def test_oracles_agree_with_a_sweep_over_every_threshold() -> None:
    rng = np.random.default_rng(4)
    labels = np.zeros(400, bool)
    for start in (30, 120, 250, 390):
        labels[start : start + int(rng.integers(1, 12))] = True
    scores = np.round(rng.random(400) + 0.4 * labels, 2)  # rounding makes ties
    sweep_pw = max(point_wise(labels, scores >= t).f1 for t in np.unique(scores))
    sweep_pa = max(point_adjusted(labels, scores >= t).f1 for t in np.unique(scores))
    assert oracle_best_f1(labels, scores).f1 == pytest.approx(sweep_pw)
    assert oracle_best_f1_point_adjusted(labels, scores).f1 == pytest.approx(sweep_pa)


def test_nan_scores_are_never_alarmed() -> None:
    scores = SCORES.copy()
    scores[3] = np.nan  # half of the segment has no score
    best = oracle_best_f1(LABELS, scores)
    assert best.recall <= 0.5
    assert best.f1 == pytest.approx(2 / 3)


def test_no_labels_gives_zero() -> None:
    assert oracle_best_f1(np.zeros(6, bool), SCORES).f1 == 0.0
