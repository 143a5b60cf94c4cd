"""The offline backtest: the worker's pipeline objects driven from recorded series."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from streamproc.config import Settings
from streamproc.datasets import ChannelData, Recording, SyntheticConfig, generate_synthetic, record
from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, WindowVerdicts
from streamproc.replay import Backtest, ReplayError, channel_alerts, replay_model
from streamproc.training import ModelStore, train_channel


def key(event):
    return event.alert_id, event.state, event.opened_at, event.updated_at, event.resolved_at, event.severity


def test_alerts_are_those_of_fusing_each_strided_window(stream_models):
    """What the backtest emits is what fusing the window every ``stride`` steps gives."""
    channel = stream_models.channels["a0"]
    scores, contributions = channel.model.score_series(channel.test)
    fuser, state, expected = Fuser.from_settings(Settings().fusion), ChannelFusion(), []
    for i in stream_models.window_steps(len(channel.test)):
        verdict = DetectorVerdict(
            "pca", channel.model.version, float(scores[i]), channel.model.threshold, contributions[i]
        )
        expected += fuser.fuse(
            state, WindowVerdicts("a0", stream_models.window_end(i), [verdict], channel.feature_names)
        )
    result = stream_models.backtest(channel)
    assert expected, "the planted anomalies should raise alerts"
    assert [key(e) for e in result.events] == [key(e) for e in expected]
    assert [e.fused_score for e in result.events] == pytest.approx([e.fused_score for e in expected], rel=1e-5)
    assert result.windows == len(stream_models.window_steps(len(channel.test)))
    assert result.outcomes == {"accepted": len(channel.test)}


def test_batch_boundaries_do_not_change_the_alerts(stream_models):
    channel = stream_models.channels["a1"]
    settings = Settings.load(
        env={}, overrides={"window.size": stream_models.window, "window.stride": stream_models.stride}
    )
    timestamps = stream_models.start_ms + 1000 * np.arange(len(channel.test))
    recording = Recording("a1", channel.test, timestamps, 0, channel.feature_names)
    whole = Backtest(settings, stream_models.store, ["pca"]).run(recording)
    small = dataclasses.replace(settings, worker=dataclasses.replace(settings.worker, batch_size=1))
    batched = Backtest(small, stream_models.store, ["pca"]).run(recording)
    assert whole.events and [key(e) for e in batched.events] == [key(e) for e in whole.events]


def test_warm_up_scores_the_first_test_step(tmp_path):
    data = generate_synthetic(SyntheticConfig(n_features=3, train_steps=600, test_steps=200, seed=4))
    store = ModelStore(tmp_path)
    model = train_channel("pca", "c", data.train, config={"window": 16}, feature_names=data.feature_names)
    store.save(model)
    channel = ChannelData("c", data.train, data.test, data.labels, [], data.feature_names)
    recording = record(channel, warmup=15, start_ms=0, step_ms=1000)
    assert recording.test_timestamps_ms[0] == 0 and recording.timestamps_ms[0] == -15_000
    np.testing.assert_array_equal(recording.values[:15], data.train[-15:])
    settings = Settings.load(env={}, overrides={"window.size": 16, "window.stride": 5})
    result = Backtest(settings, store, ["pca"]).run(recording)
    assert result.windows == 40  # test steps 0, 5, ..., 195
    replayed = replay_model(model, data.test, history=data.train[-15:])
    assert np.isfinite(replayed.score).all()
    np.testing.assert_allclose(replayed.score[15:], replay_model(model, data.test).score[15:], rtol=1e-6)


def test_unusable_readings_are_counted_and_explained(stream_models):
    channel = stream_models.channels["clean0"]
    values = channel.test.copy()
    values[50, 1] = np.inf  # corrupt, unlike NaN (a missing value the window policy fills)
    values[80, 2] = np.nan
    settings = Settings.load(
        env={}, overrides={"window.size": stream_models.window, "window.stride": stream_models.stride}
    )
    recording = Recording("clean0", values, 1000 * np.arange(len(values)), 0, channel.feature_names)
    result = Backtest(settings, stream_models.store, ["pca"]).run(recording)
    assert result.outcomes == {"rejected": 1, "accepted": len(values) - 1}
    assert result.failures[0].startswith("test step 50: non-finite: values at positions [1]")


def test_a_channel_without_model_is_an_error(stream_models):
    settings = Settings.load(env={}, overrides={"window.size": stream_models.window})
    recording = Recording("nowhere", np.zeros((20, 4)), np.arange(20), 0, [])
    with pytest.raises(ReplayError, match="nowhere"):
        Backtest(settings, stream_models.store, ["pca"]).run(recording)


# -- false alerts as a rate --------------------------------------------------------------------

RISK = 1e-3
STRIDE = 4


def test_false_alerts_on_clean_streams_stay_below_the_thresholds_risk(tmp_path):
    """Over many seeds of clean data, the default hysteresis raises fewer false alerts than the
    threshold's risk lets windows through: at most ``risk`` alerts per window scored, i.e.
    ``risk * 10_000 / stride`` per 10,000 steps (2.5 here). One lucky seed proves nothing; the
    rate over 30 seeds does."""
    store = ModelStore(tmp_path)
    settings = Settings.load(env={}, overrides={"window.size": 16, "window.stride": STRIDE})
    alerts = steps = 0
    for seed in range(30):
        data = generate_synthetic(
            SyntheticConfig(n_features=4, train_steps=4000, test_steps=2000, anomaly_ratio=0.0, seed=1000 + seed)
        )
        name = f"clean{seed}"
        store.save(train_channel("pca", name, data.train, config={"window": 16}, feature_names=data.feature_names))
        channel = ChannelData(name, data.train, data.test, np.zeros(len(data.test), bool), [], data.feature_names)
        recording = record(channel, warmup=15)
        found = channel_alerts(Backtest(settings, store, ["pca"]).run(recording).events, recording.test_timestamps_ms)
        alerts += len(found)
        steps += len(data.test)
    bound = RISK * 10_000 / STRIDE
    assert alerts / steps * 10_000 <= bound, f"{alerts} false alerts in {steps} clean steps"
