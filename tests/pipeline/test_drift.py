"""Model drift: recent scores against the calibration scores, by a two-sample KS statistic."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.pipeline import DriftMonitor, ks_statistic


def test_ks_statistic_is_zero_for_alike_samples_and_one_for_disjoint_ones() -> None:
    rng = np.random.default_rng(0)
    assert ks_statistic(rng.normal(size=2000), rng.normal(size=2000)) < 0.06
    assert ks_statistic(np.arange(10.0), np.arange(10.0) + 100) == 1.0
    assert ks_statistic(np.array([]), np.arange(3.0)) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_is_raised_on_a_planted_shift_and_not_on_stationary_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    calibration = rng.gamma(2.0, 1.0, size=600)  # scores are positive and skewed
    monitor = DriftMonitor(window=300, min_scores=200, every=25)
    checks = [monitor.observe("P-1", "pca", "v1", s, calibration) for s in rng.gamma(2.0, 1.0, size=2000)]
    done = [c for c in checks if c is not None]
    assert len(done) == (2000 - 200) // 25 + 1 and not any(c.drifting for c in done)
    shifted = [monitor.observe("P-1", "pca", "v1", s, calibration) for s in 1.8 * rng.gamma(2.0, 1.0, size=600)]
    raised = [c for c in shifted if c is not None and c.changed]
    assert raised and raised[0].drifting, "a lasting shift in the score distribution is drift"
    assert len(raised) == 1, "said once, not at every check"
    assert monitor.observe("P-1", "pca", "v2", 1.0, calibration) is None, "a new model starts over"


def test_non_finite_scores_are_left_out() -> None:
    assert ks_statistic(np.array([1.0, 2.0, np.nan, np.inf]), np.array([1.0, 2.0])) == 0.0
