"""Training on the history of a readings topic (`train --from-topic`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamproc.datasets import DatasetError, generate_synthetic
from streamproc.datasets.synthetic import SyntheticConfig
from streamproc.serde import Codec
from streamproc.stream import ChannelSeries, ReadingFeed, read_history
from streamproc.training import ModelStore

pytestmark = pytest.mark.broker

START_MS = 1_700_000_000_000


@pytest.fixture
def readings_topic(kafka_cluster, make_topic):
    """Two channels' histories, 1 s apart, on a two-partition topic; p1 with a missing value,
    some of it sent twice (at least once delivery) and a message that is not a reading."""
    topic = make_topic(partitions=2)
    data = generate_synthetic(SyntheticConfig(n_features=3, train_steps=400, test_steps=10, seed=4))
    p1 = data.train.astype(np.float64).copy()
    p1[100, 2] = np.nan
    feed = ReadingFeed(kafka_cluster.producer_config(), topic)
    series = [ChannelSeries("p1", p1, ["a", "b", "c"]), ChannelSeries("p2", data.train[:300], ["a", "b", "c"])]
    feed.produce(series, start_ms=START_MS, step_ms=1000, per_message=7)
    feed.produce([ChannelSeries("p1", p1[390:], ["a", "b", "c"])], start_ms=START_MS + 390_000, step_ms=1000)
    feed.send_raw(b"p1", b"not avro")
    feed.send_raw(
        b"p1",
        Codec().encode(
            "Feedback", {"alert_id": "x", "verdict": "UNSURE", "author": "a", "submitted_at": 1, "note": None}
        ),
    )
    feed.flush()
    return topic, p1


def test_the_history_of_a_topic_is_each_channels_training_series(kafka_cluster, readings_topic) -> None:
    topic, p1 = readings_topic
    history = read_history(kafka_cluster.consumer_config("history-test"), topic, idle_s=2.0)
    assert history.channels == ["p1", "p2"]
    channel = history.channel("p1")
    assert channel.feature_names == ["a", "b", "c"] and len(channel.test) == 0
    np.testing.assert_array_equal(channel.train_timestamps, START_MS + 1000 * np.arange(400))  # repeats dropped
    np.testing.assert_allclose(channel.train, p1.astype(np.float32))  # the missing value is NaN
    assert np.isnan(channel.train[100, 2])
    assert any("skipped: " in line and "not a reading" in line for line in history.detected)

    ranged = read_history(
        kafka_cluster.consumer_config("history-test"),
        topic,
        since_ms=START_MS + 100_000,
        until_ms=START_MS + 200_000,
        idle_s=2.0,
    )
    assert len(ranged.channel("p2").train) == 100
    with pytest.raises(DatasetError, match="no readings in the time range"):
        read_history(kafka_cluster.consumer_config("history-test"), topic, since_ms=START_MS * 2, idle_s=2.0)


def test_train_from_topic_on_the_command_line(kafka_cluster, readings_topic, run_cli, monkeypatch, tmp_path) -> None:
    topic, _ = readings_topic
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_cluster.bootstrap)
    for key, value in kafka_cluster.client_config.items():
        monkeypatch.setenv(f"STREAMPROC_KAFKA__{key.upper().replace('.', '_')}", value)
    status, _, err = run_cli(
        "train",
        "--detector",
        "pca",
        "--from-topic",
        topic,
        "--until",
        "2023-11-14T22:18:20Z",
        "--out",
        str(tmp_path),
        "--set",
        "window=20",
    )
    assert status == 0, err
    assert f"kafka:{topic}: " in err and "reading(s) of 2 channel(s)" in err
    meta = json.loads((ModelStore(tmp_path).live_path("pca", "p1") / "metadata.json").read_text())["training"]
    # Until 22:18:20 is 300 s after the first reading: 300 steps, one of them missing (filled).
    assert meta["fit_steps"] + meta["validation_steps"] == 300 and meta["sampling_period_ms"] == 1000
    assert meta["missing_values"] == {"filled": 1, "rows_left_out": 0}
    status, _, err = run_cli("train", "--detector", "pca", "--from-topic", topic, "--data", ".", "--out", str(tmp_path))
    assert status == 1 and err.strip() == "error: give --data or --from-topic (one of them)"
