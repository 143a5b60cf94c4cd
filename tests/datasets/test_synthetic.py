from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from streamproc.datasets import ANOMALY_KINDS, DatasetError, PlantedAnomaly
from streamproc.datasets.synthetic import SyntheticConfig, generate_synthetic, generate_synthetic_channels

CONTRACT = SyntheticConfig(n_features=4, train_steps=1500, test_steps=1200, anomaly_ratio=0.08, seed=7)


def test_shapes_types_and_names():
    data = generate_synthetic(CONTRACT)
    assert data.train.shape == (1500, 4) and data.train.dtype == np.float32
    assert data.test.shape == (1200, 4) and data.test.dtype == np.float32
    assert data.labels.shape == (1200,) and data.labels.dtype == bool
    assert data.feature_names == ["sensor_1", "sensor_2", "sensor_3", "sensor_4"]
    assert all(isinstance(e, PlantedAnomaly) for e in data.events)
    assert np.isfinite(data.train).all() and np.isfinite(data.test).all()


def test_same_seed_same_data_other_seed_other_data():
    a, b = generate_synthetic(CONTRACT), generate_synthetic(CONTRACT)
    np.testing.assert_array_equal(a.test, b.test)
    assert a.events == b.events
    c = generate_synthetic(dataclasses.replace(CONTRACT, seed=8))
    assert not np.allclose(a.train, c.train)


@pytest.mark.parametrize(("ratio", "steps"), [(0.08, 1200), (0.05, 3000), (0.01, 1000), (0.2, 5000), (0.003, 1000)])
def test_anomaly_ratio_is_honoured(ratio, steps):
    data = generate_synthetic(
        SyntheticConfig(n_features=3, train_steps=500, test_steps=steps, anomaly_ratio=ratio, seed=1)
    )
    assert int(data.labels.sum()) == round(ratio * steps)
    assert sum(e.length for e in data.events) == round(ratio * steps)


def test_every_kind_is_planted_when_the_budget_allows():
    data = generate_synthetic(CONTRACT)
    assert sorted(e.kind for e in data.events) == sorted(ANOMALY_KINDS)
    many = generate_synthetic(
        SyntheticConfig(n_features=4, train_steps=500, test_steps=20000, anomaly_ratio=0.1, seed=2)
    )
    counts = {k: sum(e.kind == k for e in many.events) for k in ANOMALY_KINDS}
    assert min(counts.values()) >= 10


def test_kinds_can_be_restricted():
    data = generate_synthetic(dataclasses.replace(CONTRACT, kinds=("spike", "drift")))
    assert {e.kind for e in data.events} == {"spike", "drift"}


@pytest.mark.parametrize("seed", [0, 7, 11])
def test_labels_mark_exactly_what_the_anomalies_changed(seed):
    """Same seed without anomalies gives the same normal signal; the difference is the anomalies."""
    with_anomalies = generate_synthetic(dataclasses.replace(CONTRACT, seed=seed))
    normal = generate_synthetic(dataclasses.replace(CONTRACT, seed=seed, anomaly_ratio=0.0))
    assert normal.events == [] and not normal.labels.any()
    np.testing.assert_array_equal(with_anomalies.train, normal.train)  # training data stays clean

    touched = np.zeros(with_anomalies.test.shape, dtype=bool)
    for event in with_anomalies.events:
        touched[event.start : event.end + 1, list(event.features)] = True
    changed = with_anomalies.test != normal.test
    np.testing.assert_array_equal(changed, touched)
    np.testing.assert_array_equal(with_anomalies.labels, touched.any(axis=1))


def test_events_are_separated_and_inside_the_test_stream():
    data = generate_synthetic(CONTRACT)
    spans = data.segments
    assert spans[0][0] >= CONTRACT.min_gap
    assert spans[-1][1] <= CONTRACT.test_steps - 1 - CONTRACT.min_gap
    assert all(b[0] - a[1] - 1 >= CONTRACT.min_gap for a, b in zip(spans, spans[1:], strict=False))


def test_magnitudes_are_real():
    data = generate_synthetic(dataclasses.replace(CONTRACT, seed=3))
    mean, std = data.train.mean(axis=0), data.train.std(axis=0)
    z = (data.test - mean) / std
    lo, hi = ((data.train - mean) / std).min(axis=0), ((data.train - mean) / std).max(axis=0)
    for event in data.events:
        part = z[event.start : event.end + 1, list(event.features)]
        if event.kind in ("spike", "level_shift", "drift"):
            assert np.abs(part).max() > 3.0, event
        elif event.kind == "collective":
            # Each value stays within the normal range; the pattern, not the level, is anomalous.
            assert ((part >= lo[list(event.features)] - 0.5) & (part <= hi[list(event.features)] + 0.5)).all()


def test_channels_differ_and_are_reproducible():
    config = SyntheticConfig(n_features=3, train_steps=300, test_steps=300, anomaly_ratio=0.1, seed=5)
    channels = generate_synthetic_channels(config, n_channels=3)
    assert list(channels) == ["S-1", "S-2", "S-3"]
    assert not np.allclose(channels["S-1"].test, channels["S-2"].test)
    again = generate_synthetic_channels(config, n_channels=3, prefix="S")
    np.testing.assert_array_equal(again["S-3"].test, channels["S-3"].test)
    assert list(generate_synthetic_channels(config, 2, prefix="line")) == ["line-1", "line-2"]
    with pytest.raises(DatasetError):
        generate_synthetic_channels(config, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"anomaly_ratio": 1.0}, "anomaly_ratio must be in"),
        ({"n_features": 0}, "n_features must be >= 1"),
        ({"kinds": ("spike", "tsunami")}, "unknown anomaly kinds .'tsunami'."),
        ({"kinds": ()}, "kinds must not be empty"),
    ],
)
def test_invalid_config(changes, message):
    with pytest.raises(DatasetError, match=message):
        dataclasses.replace(CONTRACT, **changes)


def test_ratio_too_high_for_the_gaps():
    with pytest.raises(DatasetError, match="leaves no room for normal samples"):
        generate_synthetic(SyntheticConfig(n_features=2, train_steps=100, test_steps=100, anomaly_ratio=0.99))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_planted_anomalies_are_found_by_a_window_pca(seed):
    """The detector contract needs ROC AUC >= 0.8 from a window PCA; keep a margin over seeds."""
    from streamproc.detection import DetectorRegistry, RobustScaler, sliding_windows
    from streamproc.detection.checks import roc_auc

    spec = DetectorRegistry().spec("pca")
    data = generate_synthetic(dataclasses.replace(CONTRACT, seed=seed))
    scaler = RobustScaler.fit(data.train)
    detector = spec.build(**spec.small_config)
    detector.fit(scaler.transform(data.train))
    window = detector.window
    scores = detector.score(np.ascontiguousarray(sliding_windows(scaler.transform(data.test), window))).scores
    assert roc_auc(scores, data.labels[window - 1 :]) >= 0.85
