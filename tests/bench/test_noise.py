"""The noise procedure adds noise of the claimed standard deviation, relative to each feature's training spread."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.bench import BenchError, add_relative_noise, feature_scale, unit_noise


def _data(steps: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    units = np.array([0.02, 1.0, 30.0, 5.0])
    offsets = np.array([100.0, -3.0, 0.0, 7.0])
    train = offsets + units * rng.standard_normal((steps, 4))
    train[:, 3] = 7.0  # constant in training, like SMAP's command flags
    # The test stream is spread far more than training: noise must follow training, not it.
    test = offsets + 4 * units * rng.standard_normal((steps, 4))
    return train.astype(np.float32), test.astype(np.float32)


@pytest.mark.parametrize("level", [0.01, 0.05, 0.10, 0.20])
def test_noise_std_is_the_level_times_each_features_training_std(level: float) -> None:
    train, test = _data()
    scale = feature_scale(train)
    noisy = add_relative_noise(test, scale, level, unit_noise(test.shape, np.random.default_rng(1)))
    added = noisy.astype(np.float64) - test
    measured = added[:, :3].std(axis=0) / scale[:3]
    # 40,000 draws: the sample std is within 1.5% of the true one with overwhelming probability
    # (float32 rounding of the 100-offset feature adds far less).
    np.testing.assert_allclose(measured, level, rtol=0.015)
    assert np.all(np.abs(added[:, :3].mean(axis=0)) < 4 * level * scale[:3] / np.sqrt(len(test)))
    np.testing.assert_array_equal(added[:, 3], 0.0)


def test_feature_scale_is_the_training_std() -> None:
    train, _ = _data()
    np.testing.assert_allclose(feature_scale(train), train.astype(np.float64).std(axis=0))
    np.testing.assert_allclose(feature_scale(train)[:3], [0.02, 1.0, 30.0], rtol=0.02)


def test_level_zero_changes_nothing_and_levels_share_their_draws() -> None:
    train, test = _data(2000)
    scale = feature_scale(train)
    unit = unit_noise(test.shape, np.random.default_rng(3))
    np.testing.assert_array_equal(add_relative_noise(test, scale, 0.0, unit), test)
    small = add_relative_noise(test, scale, 0.05, unit).astype(np.float64) - test
    large = add_relative_noise(test, scale, 0.20, unit).astype(np.float64) - test
    np.testing.assert_allclose(large[:, 1:3], 4 * small[:, 1:3], rtol=1e-3, atol=1e-4)


def test_mismatched_shapes_and_bad_levels_are_refused() -> None:
    train, test = _data(100)
    scale = feature_scale(train)
    unit = unit_noise(test.shape, np.random.default_rng(0))
    with pytest.raises(BenchError):
        add_relative_noise(test, scale, -0.1, unit)
    with pytest.raises(BenchError):
        add_relative_noise(test, scale, 0.1, unit[:-1])
    with pytest.raises(BenchError):
        add_relative_noise(test, scale[:-1], 0.1, unit)
