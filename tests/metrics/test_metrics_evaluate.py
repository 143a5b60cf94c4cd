from __future__ import annotations

import numpy as np
import pytest

from streamproc.metrics import ChannelSeries, evaluate, evaluate_channels, normalise_scores, point_wise


def _channel(seed: int, scale: float = 1.0, length: int = 600) -> ChannelSeries:
    rng = np.random.default_rng(seed)
    labels = np.zeros(length, bool)
    labels[100:130] = labels[400:405] = True
    scores = (rng.random(length) + 1.5 * labels) * scale
    scores[:10] = np.nan  # no full window yet
    threshold = 1.2 * scale
    return ChannelSeries(labels, scores, np.nan_to_num(scores, nan=-np.inf) > threshold, threshold)


def test_micro_sums_counts_and_macro_averages_channels() -> None:
    channels = {"a": _channel(0), "b": _channel(1, length=900)}
    result = evaluate_channels(channels, max_buffer=10)
    a, b = result["channels"]["a"], result["channels"]["b"]
    micro, macro = result["micro"], result["macro"]
    for key in ("tp", "fp", "fn"):
        assert micro["point_wise"][key] == a["point_wise"][key] + b["point_wise"][key]
        assert micro["event_wise"][key] == a["event_wise"][key] + b["event_wise"][key]
    joined = point_wise(
        np.concatenate([channels["a"].labels, channels["b"].labels]),
        np.concatenate([channels["a"].alarms, channels["b"].alarms]),
    )
    assert micro["point_wise"]["f1"] == pytest.approx(joined.f1)
    assert macro["point_wise"]["f1"] == pytest.approx((a["point_wise"]["f1"] + b["point_wise"]["f1"]) / 2)
    assert micro["n_steps"] == 1500


def test_threshold_free_totals_do_not_depend_on_each_channels_score_units() -> None:
    plain = evaluate_channels({"a": _channel(0), "b": _channel(1)}, max_buffer=10)["micro"]
    rescaled = evaluate_channels({"a": _channel(0, scale=1000.0), "b": _channel(1)}, max_buffer=10)["micro"]
    assert rescaled["vus_pr"] == pytest.approx(plain["vus_pr"])
    assert rescaled["oracle_best_f1"]["f1"] == pytest.approx(plain["oracle_best_f1"]["f1"])


def test_normalised_scores_put_the_threshold_at_one() -> None:
    np.testing.assert_allclose(normalise_scores(np.array([2.0, 4.0]), 4.0), [0.5, 1.0])
    np.testing.assert_allclose(normalise_scores(np.array([-3.0, -1.0]), -1.0), [-1.0, 1.0])


def test_channel_evaluation_is_json_ready_and_names_oracles() -> None:
    series = _channel(2)
    result = evaluate(series.labels, series.scores, series.alarms, max_buffer=5).to_json()
    assert set(result) >= {
        "point_adjusted",
        "point_wise",
        "event_wise",
        "vus_pr",
        "oracle_best_f1",
        "oracle_best_f1_point_adjusted",
        "alarm_rate",
    }
    assert result["n_segments"] == 2


def test_a_channel_without_anomalies_has_no_vus_but_still_counts_false_alarms() -> None:
    labels = np.zeros(100, bool)
    scores = np.linspace(0, 1, 100)
    result = evaluate(labels, scores, scores > 0.9, max_buffer=5).to_json()
    assert result["vus_pr"] is None
    assert result["point_wise"]["fp"] == 10
