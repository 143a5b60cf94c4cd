from __future__ import annotations

import json

import numpy as np
import pytest

from streamproc.thresholds import Spot, ThresholdConfig, ThresholdConfigError


def test_pot_threshold_matches_the_exponential_quantile() -> None:
    scores = np.random.default_rng(3).exponential(2.0, 50000)
    spot = Spot(ThresholdConfig(risk=1e-3, level=0.98)).fit(scores)
    assert spot.method == "pot" and spot.note is None
    assert spot.threshold == pytest.approx(-2.0 * np.log(1e-3), rel=0.08)


def test_pot_threshold_matches_a_heavy_tailed_quantile() -> None:
    # X ~ GPD(0.2, 1): P(X > x) = (1 + 0.2 x)^-5, so the 1e-4 quantile is 5 (1e-4^-0.2 - 1).
    u = np.random.default_rng(8).random(100000)
    scores = 5.0 * (u**-0.2 - 1.0)
    spot = Spot(ThresholdConfig(risk=1e-4, level=0.98)).fit(scores)
    assert spot.threshold == pytest.approx(5.0 * (1e-4**-0.2 - 1.0), rel=0.12)


def test_pot_extrapolates_beyond_the_calibration_maximum() -> None:
    scores = np.random.default_rng(4).exponential(1.0, 500)
    spot = Spot(ThresholdConfig(risk=1e-4)).fit(scores)
    assert spot.threshold > scores.max()


def test_few_scores_lower_the_initial_level_to_keep_min_peaks() -> None:
    scores = np.random.default_rng(1).exponential(1.0, 200)
    spot = Spot(ThresholdConfig(level=0.98, min_peaks=10)).fit(scores)
    assert spot.method == "pot"
    assert len(spot.peaks) == 10
    assert spot.initial == pytest.approx(np.quantile(scores, 0.95))


def test_constant_scores_fall_back_to_the_empirical_quantile_with_a_note() -> None:
    spot = Spot().fit(np.full(400, 3.5))
    assert spot.method == "empirical"
    assert "peaks" in spot.note
    assert spot.threshold == 3.5
    assert not spot.step(3.5)
    assert spot.step(3.5001)


def test_too_few_scores_fall_back_to_the_empirical_quantile() -> None:
    scores = np.random.default_rng(0).random(40)
    spot = Spot(ThresholdConfig(risk=1e-3, min_peaks=10, min_level=0.9)).fit(scores)
    assert spot.method == "empirical"
    assert spot.threshold == pytest.approx(np.quantile(scores, 0.999))


def test_a_tail_heavier_than_max_shape_falls_back_to_the_empirical_quantile() -> None:
    # Peaks barely over the initial level and a few huge ones, as a likelihood score gives
    # where rare command flags switch: the fit is extremely heavy, its quantile beyond any score.
    rng = np.random.default_rng(3)
    base = rng.normal(30.0, 3.0, 500)
    top = np.quantile(base, 0.98)
    scores = np.concatenate([base, top + rng.uniform(0, 1e-4, 6), top + np.array([44.0, 50.0, 50.4, 1164.0])])
    unbounded = Spot(ThresholdConfig(max_shape=1e9)).fit(scores)
    assert unbounded.gpd.shape > 2.0 and unbounded.threshold > 1.5 * scores.max()
    bounded = Spot().fit(scores)
    assert bounded.method == "empirical" and "max_shape" in bounded.note
    assert bounded.threshold == pytest.approx(np.quantile(scores, 0.999))


def test_nan_calibration_scores_are_ignored() -> None:
    scores = np.random.default_rng(6).exponential(1.0, 3000)
    with_nan = np.concatenate([np.full(50, np.nan), scores])
    assert Spot().fit(with_nan).threshold == Spot().fit(scores).threshold


def _stream_with_planted_peaks(seed: int, drift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    calibration = rng.exponential(1.0, 3000)
    stream = rng.exponential(1.0, 4000) + drift * np.arange(4000) / 4000
    planted = np.array([700, 1500, 2100, 3100, 3900])
    stream[planted] += 40.0
    return calibration, stream, planted


@pytest.mark.parametrize("adaptation", ["none", "spot"])
def test_planted_peaks_are_flagged(adaptation: str) -> None:
    calibration, stream, planted = _stream_with_planted_peaks(9)
    spot = Spot(ThresholdConfig(risk=1e-3, adaptation=adaptation)).fit(calibration)
    thresholds, alarms = spot.run(stream)
    assert alarms[planted].all()
    # q = 1e-3 over 4000 normal scores: a handful of false alarms, not hundreds.
    assert alarms.sum() - len(planted) <= 15
    if adaptation == "spot":
        assert len(np.unique(thresholds)) > 1, "SPOT must move the threshold as peaks arrive"
    else:
        assert len(np.unique(thresholds)) == 1


def test_dspot_follows_a_drifting_level_that_spot_flags() -> None:
    calibration, stream, planted = _stream_with_planted_peaks(12, drift=15.0)
    _, spot_alarms = Spot(ThresholdConfig(adaptation="spot", max_peaks=200)).fit(calibration).run(stream)
    dspot = Spot(ThresholdConfig(adaptation="dspot", depth=50)).fit(calibration)
    thresholds, dspot_alarms = dspot.run(stream)
    assert spot_alarms.sum() > 100, "a plain SPOT threshold is overrun by the drift"
    assert dspot_alarms[planted].all()
    assert dspot_alarms.sum() - len(planted) <= 30
    assert thresholds[-1] > thresholds[0] + 10.0


def test_state_round_trips_through_json_mid_stream() -> None:
    calibration, stream, _ = _stream_with_planted_peaks(2)
    for adaptation in ("spot", "dspot"):
        original = Spot(ThresholdConfig(adaptation=adaptation, depth=30)).fit(calibration)
        original.run(stream[:2000])
        restored = Spot.from_json(json.loads(json.dumps(original.to_json())))
        assert restored.threshold == original.threshold
        t1, a1 = original.run(stream[2000:])
        t2, a2 = restored.run(stream[2000:])
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(a1, a2)


def test_copy_leaves_the_original_untouched() -> None:
    calibration, stream, _ = _stream_with_planted_peaks(3)
    spot = Spot(ThresholdConfig(adaptation="spot")).fit(calibration)
    before = spot.to_json()
    spot.copy().run(stream)
    assert spot.to_json() == before


def test_peaks_stay_bounded_and_dropping_one_keeps_the_tail_ratio() -> None:
    rng = np.random.default_rng(0)
    spot = Spot(ThresholdConfig(adaptation="spot", min_peaks=10, max_peaks=40)).fit(rng.exponential(1.0, 2000))
    assert len(spot.peaks) == 40
    n_before, oldest = spot.n, spot.peaks[1]
    assert not spot.step(spot.initial + 0.5 * (spot.z - spot.initial))  # a new peak, below z
    assert len(spot.peaks) == 40
    assert spot.peaks[0] == oldest
    assert len(spot.peaks) / spot.n == pytest.approx(41 / (n_before + 1))
    spot.run(rng.exponential(1.0, 5000))
    assert len(spot.peaks) == 40


def test_nan_scores_are_never_alarms_and_change_nothing() -> None:
    spot = Spot(ThresholdConfig(adaptation="spot")).fit(np.random.default_rng(0).exponential(1.0, 1000))
    before = spot.to_json()
    _, alarms = spot.run(np.full(10, np.nan))
    assert not alarms.any()
    assert spot.to_json() == before


def test_step_before_fit_fails() -> None:
    with pytest.raises(RuntimeError):
        Spot().step(1.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"risk": 0.0},
        {"risk": 1.0},
        {"level": 1.0},
        {"adaptation": "kalman"},
        {"depth": 0},
        {"min_peaks": 2},
        {"min_level": 0.99, "level": 0.98},
        {"max_shape": 0.0},
    ],
)
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ThresholdConfigError):
        ThresholdConfig(**bad)


def test_dspot_needs_more_scores_than_its_depth() -> None:
    with pytest.raises(ThresholdConfigError, match="depth"):
        Spot(ThresholdConfig(adaptation="dspot", depth=100)).fit(np.ones(80))
