from __future__ import annotations

import numpy as np
import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.replay import random_baseline, replay_model
from streamproc.thresholds import ThresholdConfig
from streamproc.training import TrainingOptions, train_channel


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(
        SyntheticConfig(n_features=3, train_steps=900, test_steps=800, anomaly_ratio=0.05, seed=8)
    )


@pytest.fixture(scope="module")
def adaptive_model(data):
    options = TrainingOptions(threshold=ThresholdConfig(adaptation="spot", risk=1e-2))
    return train_channel("pca", "S-1", data.train, config={"window": 10}, options=options)


def test_replay_steps_a_copy_of_the_stored_threshold(adaptive_model, data) -> None:
    before = adaptive_model.threshold_state.to_json()
    replayed = replay_model(adaptive_model, data.test, batch_size=64)
    assert adaptive_model.threshold_state.to_json() == before
    assert replayed.calibrated_threshold == adaptive_model.threshold
    assert replayed.threshold[9] == adaptive_model.threshold
    valid = np.isfinite(replayed.score)
    assert valid.sum() == 800 - 9
    np.testing.assert_array_equal(replayed.alarm[valid], replayed.score[valid] > replayed.threshold[valid])
    assert not replayed.alarm[~valid].any()


def test_replay_scores_do_not_depend_on_the_batch_size(adaptive_model, data) -> None:
    small = replay_model(adaptive_model, data.test, batch_size=3)
    large = replay_model(adaptive_model, data.test, batch_size=4096)
    np.testing.assert_allclose(small.score, large.score, rtol=1e-5)
    np.testing.assert_array_equal(small.alarm, large.alarm)


def test_random_baseline_flags_its_rate_with_a_fixed_draw_per_channel() -> None:
    first = random_baseline("P-1", 5000, 4)
    assert first.alarm.mean() == pytest.approx(0.02, abs=0.001)
    assert first.contributions.shape == (5000, 4)
    np.testing.assert_array_equal(random_baseline("P-1", 5000, 4).score, first.score)
    assert not np.array_equal(random_baseline("P-2", 5000, 4).score, first.score)
    assert not np.array_equal(random_baseline("P-1", 5000, 4, seed=1).score, first.score)
    assert random_baseline("P-1", 5000, 4, rate=0.1).alarm.mean() == pytest.approx(0.1, abs=0.001)
