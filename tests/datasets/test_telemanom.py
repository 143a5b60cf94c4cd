from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from telemanom_upstream import UPSTREAM_ROWS, label_csv

from streamproc.datasets import (
    ChannelData,
    DatasetError,
    SyntheticConfig,
    generate_synthetic_channels,
    load_telemanom,
    merge_segments,
    segments_from_labels,
    write_telemanom,
)


@pytest.fixture
def telemanom_dir(tmp_path):
    """The telemanom_upstream rows laid out on disk, P-2 listed twice with overlapping spans."""
    rng = np.random.default_rng(1)
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    for name, _, _, test_len in UPSTREAM_ROWS:
        np.save(tmp_path / "train" / f"{name}.npy", rng.normal(size=(40, 4)))
        np.save(tmp_path / "test" / f"{name}.npy", rng.normal(size=(test_len, 4)))
    (tmp_path / "labeled_anomalies.csv").write_bytes(label_csv())
    return tmp_path


def test_channels_sorted_and_arrays_typed(telemanom_dir):
    ds = load_telemanom(telemanom_dir)
    assert ds.channels == ["A-1", "M-1", "P-1", "P-2"]
    ch = ds.channel("P-1")
    assert isinstance(ch, ChannelData) and ch.name == "P-1" and ch.spacecraft == "SMAP"
    assert ch.train.dtype == np.float32 and ch.train.shape == (40, 4)
    assert ch.test.dtype == np.float32 and ch.test.shape == (60, 4)
    np.testing.assert_allclose(ch.test, np.load(telemanom_dir / "test" / "P-1.npy").astype(np.float32))
    assert ch.labels.dtype == bool and ch.labels.shape == (60,)
    assert ch.segments == [(10, 14), (30, 33)]
    assert np.flatnonzero(ch.labels).tolist() == [10, 11, 12, 13, 14, 30, 31, 32, 33]
    assert ch.feature_names == ["value", "cmd_1", "cmd_2", "cmd_3"]


def test_duplicate_rows_are_merged_by_default(telemanom_dir):
    ds = load_telemanom(telemanom_dir)
    record = ds.labels("P-2")
    assert record.rows == 2
    assert record.segments == [(18, 29)]  # union of [20, 29] and [18, 25]
    assert ds.channel("P-2").labels.sum() == 12
    assert ds.dropped == []


def test_duplicate_rows_can_be_dropped(telemanom_dir):
    ds = load_telemanom(telemanom_dir, duplicates="drop")
    assert ds.channels == ["A-1", "M-1", "P-1"]
    assert ds.dropped == ["P-2"]
    with pytest.raises(DatasetError, match="no channel 'P-2'"):
        ds.channel("P-2")
    with pytest.raises(DatasetError, match="duplicates must be"):
        load_telemanom(telemanom_dir, duplicates="first")


def test_duplicate_rows_that_disagree_are_an_error(telemanom_dir):
    rows = [r if r[0] != "P-2" or r[2] != [[18, 25]] else ("P-2", "SMAP", [[18, 25]], 51) for r in UPSTREAM_ROWS]
    (telemanom_dir / "labeled_anomalies.csv").write_bytes(label_csv(rows))
    with pytest.raises(DatasetError, match="rows for channel P-2 disagree"):
        load_telemanom(telemanom_dir)


def test_spacecraft_filter(telemanom_dir):
    assert load_telemanom(telemanom_dir, spacecraft="msl").channels == ["M-1"]
    assert load_telemanom(telemanom_dir, spacecraft="SMAP").channels == ["A-1", "P-1", "P-2"]
    with pytest.raises(DatasetError, match="no rows for spacecraft 'SMD'"):
        load_telemanom(telemanom_dir, spacecraft="SMD")


def test_iteration_loads_each_channel_when_reached(telemanom_dir):
    ds = load_telemanom(telemanom_dir)
    iterator = iter(ds)
    first = next(iterator)
    assert first.name == "A-1"
    # Damage a later channel: the first was already served, the error surfaces only when reached.
    (telemanom_dir / "test" / "P-2.npy").write_bytes(b"garbage")
    assert [c.name for c in (next(iterator), next(iterator))] == ["M-1", "P-1"]
    with pytest.raises(DatasetError, match="P-2.npy: not a readable .npy array"):
        next(iterator)
    assert len(ds) == 4 and "P-1" in ds and "X-9" not in ds


def test_summary_reads_headers_only(telemanom_dir):
    summary = load_telemanom(telemanom_dir).summary("P-1")
    assert (summary.train_steps, summary.test_steps, summary.n_features) == (40, 60, 4)
    assert summary.anomalous_steps == 9 and summary.segments == [(10, 14), (30, 33)]


def test_unlabelled_arrays_are_reported(telemanom_dir):
    np.save(telemanom_dir / "train" / "Z-1.npy", np.zeros((5, 4)))
    np.save(telemanom_dir / "test" / "Z-1.npy", np.zeros((5, 4)))
    ds = load_telemanom(telemanom_dir)
    assert ds.unlabelled == ["Z-1"] and "Z-1" not in ds


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "labeled_anomalies.csv").unlink(), "labeled_anomalies.csv missing"),
        (lambda d: shutil.rmtree(d / "train"), r"train/ missing"),
        (lambda d: (d / "train" / "A-1.npy").unlink(), "lists channels without arrays: train/A-1.npy"),
        (
            lambda d: (d / "labeled_anomalies.csv").write_text("chan_id,spacecraft\nA-1,SMAP\n"),
            "missing column.s. anomaly_sequences, num_values",
        ),
        (
            lambda d: (d / "labeled_anomalies.csv").write_text(
                'chan_id,spacecraft,anomaly_sequences,class,num_values\n../../etc,SMAP,"[[1, 2]]",[point],40\n'
            ),
            "invalid chan_id '../../etc'",
        ),
        (
            lambda d: (d / "labeled_anomalies.csv").write_text(
                'chan_id,spacecraft,anomaly_sequences,class,num_values\nA-1,SMAP,"[[5, 2]]",[point],40\n'
            ),
            r"labeled_anomalies.csv:2: invalid anomaly sequence \[5, 2\]",
        ),
        (
            lambda d: (d / "labeled_anomalies.csv").write_text(
                "chan_id,spacecraft,anomaly_sequences,class,num_values\nA-1,SMAP,five,[point],40\n"
            ),
            "anomaly_sequences must be a list",
        ),
        (
            lambda d: (d / "labeled_anomalies.csv").write_text(
                'chan_id,spacecraft,anomaly_sequences,class,num_values\nA-1,SMAP,"[[1, 2]]",[point],many\n'
            ),
            "num_values must be an integer",
        ),
    ],
)
def test_broken_directories_fail_at_open(telemanom_dir, damage, message):
    damage(telemanom_dir)
    with pytest.raises(DatasetError, match=message):
        load_telemanom(telemanom_dir)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: np.save(d / "test" / "A-1.npy", np.zeros((41, 4))),
            "has 41 steps, labeled_anomalies.csv says num_values=40",
        ),
        (lambda d: np.save(d / "test" / "A-1.npy", np.zeros((40, 5))), "train has 4 features, test has 5"),
        (lambda d: np.save(d / "test" / "A-1.npy", np.zeros((2, 40, 4))), "expected a .T, C. array"),
        (lambda d: np.save(d / "train" / "A-1.npy", np.array([{"a": 1}], dtype=object)), "not a readable .npy array"),
    ],
)
def test_broken_channels_fail_when_read(telemanom_dir, damage, message):
    damage(telemanom_dir)
    ds = load_telemanom(telemanom_dir)
    with pytest.raises(DatasetError, match=message):
        ds.channel("A-1")
    with pytest.raises(DatasetError, match=message):
        ds.summary("A-1")


def test_span_past_the_test_array(telemanom_dir):
    rows = [("A-1", "SMAP", [[5, 40]], 40)]
    (telemanom_dir / "labeled_anomalies.csv").write_bytes(label_csv(rows))
    with pytest.raises(DatasetError, match=r"runs past the test array's 40 steps"):
        load_telemanom(telemanom_dir).channel("A-1")


def test_not_a_directory(tmp_path):
    with pytest.raises(DatasetError, match="not a directory"):
        load_telemanom(tmp_path / "absent")


def test_one_dimensional_arrays_are_one_feature(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    np.save(tmp_path / "train" / "X-1.npy", np.arange(10.0))
    np.save(tmp_path / "test" / "X-1.npy", np.arange(8.0))
    (tmp_path / "labeled_anomalies.csv").write_bytes(label_csv([("X-1", "SMAP", [], 8)]))
    ch = load_telemanom(tmp_path).channel("X-1")
    assert ch.train.shape == (10, 1) and ch.feature_names == ["value"] and not ch.labels.any()


def test_write_telemanom_round_trip(tmp_path):
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=3, train_steps=300, test_steps=400, anomaly_ratio=0.1, seed=3), n_channels=2
    )
    write_telemanom(tmp_path, channels)
    ds = load_telemanom(tmp_path)
    assert ds.channels == ["S-1", "S-2"]
    for name, data in channels.items():
        ch = ds.channel(name)
        np.testing.assert_array_equal(ch.train, data.train)
        np.testing.assert_array_equal(ch.test, data.test)
        np.testing.assert_array_equal(ch.labels, data.labels)
        assert ch.segments == data.segments
        assert ch.feature_names == data.feature_names
        assert ds.labels(name).classes == [e.kind for e in data.events]
        assert ds.labels(name).spacecraft == "SYNTHETIC"


def test_select_checks_the_requested_channels(telemanom_dir):
    ds = load_telemanom(telemanom_dir)
    assert ds.select() == ds.select([]) == ds.select([" ", ""]) == ["A-1", "M-1", "P-1", "P-2"]
    assert ds.select([" P-2", "A-1 "]) == ["P-2", "A-1"]  # the order asked for
    with pytest.raises(DatasetError, match=r"unknown channel\(s\) X-1, X-2; channels: "):
        ds.select(["P-1", "X-1", "X-2"])
    with pytest.raises(DatasetError, match=r"channel\(s\) listed twice: P-1$"):
        ds.select(["P-1", "A-1", "P-1"])


def test_select_on_a_data_set_without_channels_fails(telemanom_dir):
    (telemanom_dir / "labeled_anomalies.csv").write_bytes(label_csv(rows=[]))
    ds = load_telemanom(telemanom_dir)
    assert ds.channels == []
    with pytest.raises(DatasetError, match="no channels"):
        ds.select()


def test_write_telemanom_rejects_bad_input(tmp_path):
    data = generate_synthetic_channels(
        SyntheticConfig(n_features=2, train_steps=100, test_steps=100, anomaly_ratio=0.0), n_channels=1
    )["S-1"]
    with pytest.raises(DatasetError, match="invalid channel name '../x'"):
        write_telemanom(tmp_path, {"../x": data})
    with pytest.raises(DatasetError, match="no channels"):
        write_telemanom(tmp_path, {})


def test_feature_names_file_is_checked(tmp_path):
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=2, train_steps=100, test_steps=100, anomaly_ratio=0.0), n_channels=1
    )
    write_telemanom(tmp_path, channels)
    (tmp_path / "feature_names.json").write_text(json.dumps(["a", "b"]))
    assert load_telemanom(tmp_path).channel("S-1").feature_names == ["a", "b"]
    (tmp_path / "feature_names.json").write_text(json.dumps(["a"]))
    with pytest.raises(DatasetError, match="1 names for channel S-1, which has 2 features"):
        load_telemanom(tmp_path).channel("S-1")
    (tmp_path / "feature_names.json").write_text(json.dumps({"S-1": "ab"}))
    with pytest.raises(DatasetError, match="expected a list of names"):
        load_telemanom(tmp_path)


def test_segment_helpers():
    assert merge_segments([(5, 9), (0, 2), (3, 4), (8, 12), (20, 20)]) == [(0, 12), (20, 20)]
    labels = np.zeros(10, dtype=bool)
    labels[[0, 1, 4, 9]] = True
    assert segments_from_labels(labels) == [(0, 1), (4, 4), (9, 9)]
    assert segments_from_labels(np.zeros(3, dtype=bool)) == []
