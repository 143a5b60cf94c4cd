"""Producing series onto the readings topic: the feed, and `streamproc replay --to-kafka`."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.config import Settings
from streamproc.datasets import SyntheticConfig, generate_synthetic, write_telemanom
from streamproc.errors import StreamprocError
from streamproc.stream import ChannelSeries, ReadingFeed, TopicReader, replay_to_kafka


def read_all(cluster, topic: str, expected: int) -> list:
    records = []
    with TopicReader(cluster.consumer_config("feed-test"), [topic]) as reader:
        for _ in range(40):
            records += list(reader.poll(0.5))
            if len(records) >= expected:
                break
    return records


@pytest.mark.broker
def test_feed_interleaves_channels_in_time(kafka_cluster, make_topic):
    topic = make_topic(partitions=2)
    feed = ReadingFeed(kafka_cluster.producer_config(), topic)
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    report = feed.produce(
        [ChannelSeries("x", values, ["a", "b", "c"]), ChannelSeries("y", values[:2])], start_ms=1000, step_ms=10
    )
    assert report.readings == 6
    records = read_all(kafka_cluster, topic, 6)
    by_channel: dict[str, list] = {}
    for r in records:
        by_channel.setdefault(r.record["channel"], []).append(r.record)
    assert [r["timestamp"] for r in by_channel["x"]] == [1000, 1010, 1020, 1030]
    assert by_channel["x"][2]["values"] == [6.0, 7.0, 8.0] and by_channel["x"][0]["feature_names"] == ["a", "b", "c"]
    assert [r["feature_names"] for r in by_channel["y"]] == [None, None]


@pytest.mark.broker
def test_feed_sends_a_channels_samples_per_message_as_batches(kafka_cluster, make_topic):
    topic = make_topic(partitions=2)
    feed = ReadingFeed(kafka_cluster.producer_config(), topic)
    values = np.arange(15, dtype=np.float32).reshape(5, 3)
    steps = []
    report = feed.produce(
        [ChannelSeries("x", values, ["a", "b", "c"]), ChannelSeries("y", values[:2])],
        start_ms=1000,
        step_ms=10,
        per_message=2,
        on_step=steps.append,
    )
    assert report.readings == 7 and steps == [1, 3, 4]
    records = read_all(kafka_cluster, topic, 4)
    assert {r.schema for r in records} == {"SensorReadingBatch"}
    x = sorted((r.record for r in records if r.record["channel"] == "x"), key=lambda r: r["timestamps"][0])
    assert [r["timestamps"] for r in x] == [[1000, 1010], [1020, 1030], [1040]]
    assert x[1]["values"] == [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]] and x[0]["feature_names"] == ["a", "b", "c"]


def test_feed_rejects_bad_rates_and_shapes(kafka_cluster):
    with pytest.raises(StreamprocError, match="shape"):
        ChannelSeries("x", np.zeros(3))
    feed = ReadingFeed({"bootstrap.servers": "127.0.0.1:1"}, "t")
    with pytest.raises(StreamprocError, match="--rate"):
        feed.produce([ChannelSeries("x", np.zeros((2, 2)))], rate=0)
    with pytest.raises(StreamprocError, match="--per-message"):
        feed.produce([ChannelSeries("x", np.zeros((2, 2)))], per_message=0)


@pytest.mark.broker
def test_replay_to_kafka_produces_a_telemanom_directory(kafka_cluster, make_topic, tmp_path):
    data = {
        name: generate_synthetic(SyntheticConfig(n_features=3, train_steps=50, test_steps=40, seed=i))
        for i, name in enumerate(["P-1", "P-2"])
    }
    write_telemanom(tmp_path, data)
    topic = make_topic(partitions=4)
    settings = Settings.load(
        env={}, overrides={"kafka.bootstrap": kafka_cluster.bootstrap, "topics.readings": topic, "window.size": 11}
    )
    messages = []
    start = 1_767_225_600_000
    report = replay_to_kafka(settings, tmp_path, channels=["P-2"], rate=2000, log=messages.append, start_ms=start)
    # The last window.size - 1 training steps first, as a running worker's window holds them.
    assert report.readings == 50 and "50 readings" in messages[0]
    records = sorted(read_all(kafka_cluster, topic, 50), key=lambda r: r.record["timestamp"])
    assert len(records) == 50 and {r.record["channel"] for r in records} == {"P-2"}
    assert [r.record["timestamp"] for r in records] == [start + 1000 * i for i in range(-10, 40)]
    np.testing.assert_allclose(records[0].record["values"], data["P-2"].train[-10], rtol=1e-6)
    first = records[10].record
    np.testing.assert_allclose(first["values"], data["P-2"].test[0], rtol=1e-6)
    assert first["feature_names"] == data["P-2"].feature_names


def test_replay_to_kafka_needs_a_cluster(tmp_path):
    with pytest.raises(StreamprocError, match="KAFKA_BOOTSTRAP"):
        replay_to_kafka(Settings.load(env={}), tmp_path)


@pytest.mark.broker
def test_replay_command_to_kafka(kafka_cluster, make_topic, tmp_path):
    import os
    import subprocess
    import sys

    write_telemanom(
        tmp_path, {"P-1": generate_synthetic(SyntheticConfig(n_features=2, train_steps=30, test_steps=25, seed=3))}
    )
    topic = make_topic(partitions=4)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")},
        "KAFKA_BOOTSTRAP": kafka_cluster.bootstrap,
        "STREAMPROC_TOPICS__READINGS": topic,
        "STREAMPROC_WINDOW__SIZE": "6",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamproc",
            "replay",
            "--data",
            str(tmp_path),
            "--to-kafka",
            "--per-message",
            "10",
            "--start-time",
            "2026-01-01T00:00:00Z",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "produced 30 readings" in done.stderr  # 5 warm-up steps, 25 test steps
    records = sorted(read_all(kafka_cluster, topic, 3), key=lambda r: r.record["timestamps"][0])
    assert [len(r.record["timestamps"]) for r in records] == [10, 10, 10]
    assert records[0].record["timestamps"][5] == 1_767_225_600_000
