"""Model drift: recent scores against the calibration scores, by a two-sample KS statistic, and
the DRIFT alert that announces it."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.fusion import DRIFT
from streamproc.pipeline import DriftMonitor, drift_alert_id, ks_statistic


def test_ks_statistic_is_zero_for_alike_samples_and_one_for_disjoint_ones() -> None:
    rng = np.random.default_rng(0)
    assert ks_statistic(rng.normal(size=2000), rng.normal(size=2000)) < 0.06
    assert ks_statistic(np.arange(10.0), np.arange(10.0) + 100) == 1.0
    assert ks_statistic(np.array([]), np.arange(3.0)) == 0.0
    assert ks_statistic(np.array([1.0, 2.0, np.nan, np.inf]), np.array([1.0, 2.0])) == 0.0


def _feed(monitor, scores, calibration, version="v1", start=0):
    return [
        check
        for step, score in enumerate(scores, start=start)
        for check in monitor.observe("P-1", "pca", version, score, calibration, 1000 * step)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_is_raised_on_a_planted_shift_and_not_on_stationary_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    calibration = rng.gamma(2.0, 1.0, size=600)  # scores are positive and skewed
    monitor = DriftMonitor(window=300, min_scores=200, every=25)
    done = _feed(monitor, rng.gamma(2.0, 1.0, size=2000), calibration)
    assert len(done) == (2000 - 200) // 25 + 1 and not any(c.drifting for c in done)
    assert all(c.alert() is None for c in done)
    raised = [c for c in _feed(monitor, 1.8 * rng.gamma(2.0, 1.0, size=600), calibration, start=2000) if c.changed]
    assert len(raised) == 1 and raised[0].drifting, "a lasting shift is drift, said once"
    event = raised[0].alert()
    assert event is not None and (event.state, event.condition) == ("OPEN", DRIFT)
    assert event.alert_id == drift_alert_id("P-1", "pca", "v1") and event.fused_score == raised[0].statistic
    (verdict,) = event.detector_scores
    assert (verdict.detector, verdict.model_version, verdict.threshold) == ("pca", "v1", monitor.limit)
    back = [c for c in _feed(monitor, rng.gamma(2.0, 1.0, size=600), calibration, start=2600) if c.changed]
    assert len(back) == 1 and not back[0].drifting
    resolved = back[0].alert()
    assert resolved is not None and resolved.state == "RESOLVED" and resolved.opened_at == event.opened_at


def test_a_new_model_version_starts_over_and_ends_the_drift_of_the_old_one() -> None:
    rng = np.random.default_rng(3)
    calibration = rng.gamma(2.0, 1.0, size=600)
    monitor = DriftMonitor(window=300, min_scores=200, every=25)
    assert any(c.drifting for c in _feed(monitor, 3.0 * rng.gamma(2.0, 1.0, size=300), calibration))
    (ended,) = monitor.observe("P-1", "pca", "v2", 1.0, calibration, 999_000)
    assert (ended.model_version, ended.drifting, ended.changed) == ("v1", False, True)
    assert ended.alert().state == "RESOLVED"
    assert monitor.observe("P-1", "pca", "v2", 1.0, calibration, 1_000_000) == [], "v2 starts over"
