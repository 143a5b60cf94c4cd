"""Producing recorded or synthetic series onto the readings topic at a chosen rate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from streamproc.datasets import DEFAULT_STEP_MS
from streamproc.errors import StreamprocError
from streamproc.kafka import CLIENT_LOG
from streamproc.serde import Codec

_LOG = logging.getLogger(__name__)
# How often (in readings) the pacing loop checks the clock and serves delivery callbacks.
_PACE_EVERY = 64


@dataclass(frozen=True)
class ChannelSeries:
    """One channel's samples ``values[T, C]`` in time order, with optional feature names and
    timestamps (epoch ms; without them the feed puts the samples on its regular time axis)."""

    channel: str
    values: np.ndarray
    feature_names: Sequence[str] | None = None
    timestamps_ms: np.ndarray | None = None

    def __post_init__(self) -> None:
        if np.ndim(self.values) != 2:
            raise StreamprocError(f"channel {self.channel!r}: series must be [T, C], got shape {np.shape(self.values)}")
        if self.timestamps_ms is not None and len(self.timestamps_ms) != len(self.values):
            raise StreamprocError(
                f"channel {self.channel!r}: {len(self.timestamps_ms)} timestamps for {len(self.values)} samples"
            )


@dataclass(frozen=True)
class FeedReport:
    readings: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else float("inf")


class ReadingFeed:
    """Encodes series as SensorReading records and produces them, keyed by channel.

    Channels advance together, one time step at a time, so a topic of several channels looks
    like a plant whose sensors all report every ``step_ms``. ``rate`` is in readings per second
    over all channels (``None``: as fast as the producer goes). With ``per_message`` above 1,
    each channel's consecutive samples travel ``per_message`` at a time as SensorReadingBatch
    records, as a gateway that buffers its sensors would send them.
    """

    def __init__(self, producer_config: Mapping[str, Any], topic: str, codec: Codec | None = None) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.codec = codec or Codec(validate=False)
        self._producer = Producer({"logger": CLIENT_LOG, **producer_config})
        self._errors: list[str] = []

    def _on_delivery(self, error: Any, message: Any) -> None:
        if error is not None:
            self._errors.append(str(error))

    def produce(
        self,
        series: Sequence[ChannelSeries],
        *,
        rate: float | None = None,
        start_ms: int | None = None,
        step_ms: int = 1000,
        stop: threading.Event | None = None,
        on_step: Callable[[int], None] | None = None,
        per_message: int = 1,
    ) -> FeedReport:
        """Produce every step of ``series``; returns early when ``stop`` is set.

        ``on_step(t)`` is called after step ``t`` of all channels was handed to the producer
        (with ``per_message`` above 1, after the last step of each group of steps).
        """
        if rate is not None and rate <= 0:
            raise StreamprocError(f"--rate must be positive, got {rate}")
        if per_message < 1:
            raise StreamprocError(f"--per-message must be at least 1, got {per_message}")
        start_ms = int(time.time() * 1000) if start_ms is None else start_ms
        steps = max((len(s.values) for s in series), default=0)
        keys = [s.channel.encode() for s in series]
        names = [list(s.feature_names) if s.feature_names is not None else None for s in series]
        arrays = [np.asarray(s.values, dtype=np.float64) for s in series]
        # A NaN in the data is a missing value: sent as such (its position listed, its value 0).
        missing = [[np.flatnonzero(row).tolist() for row in np.isnan(a)] if np.isnan(a).any() else None for a in arrays]
        rows = [np.nan_to_num(a, nan=0.0).tolist() for a in arrays]
        times = [
            np.asarray(s.timestamps_ms, dtype=np.int64).tolist()
            if s.timestamps_ms is not None
            else [start_ms + t * step_ms for t in range(len(s.values))]
            for s in series
        ]
        sent = 0
        began = time.perf_counter()
        paced = 0
        for t in range(0, steps, per_message):
            if stop is not None and stop.is_set():
                break
            for i, s in enumerate(series):
                group = rows[i][t : t + per_message]
                if not group:
                    continue
                gaps = cast("list[list[int]]", missing[i])[t : t + per_message] if missing[i] is not None else None
                if per_message == 1:
                    record = {"channel": s.channel, "timestamp": times[i][t], "values": group[0]}
                    record.update(feature_names=names[i], missing=gaps[0] if gaps else [])
                    value = self.codec.encode("SensorReading", record)
                else:
                    timestamps = times[i][t : t + per_message]
                    record = {"channel": s.channel, "timestamps": timestamps, "values": group}
                    record.update(feature_names=names[i], missing=gaps if gaps and any(gaps) else [])
                    value = self.codec.encode("SensorReadingBatch", record)
                self._send(keys[i], value)
                sent += len(group)
                if sent - paced >= _PACE_EVERY:
                    paced = sent
                    self._producer.poll(0)
                    if rate is not None:
                        ahead = began + sent / rate - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
            if on_step is not None:
                on_step(min(t + per_message, steps) - 1)
        self.flush()
        return FeedReport(sent, time.perf_counter() - began)

    def send_raw(self, key: bytes | None, value: bytes | None) -> None:
        """Produce arbitrary bytes (tests use it to send what a broken producer would)."""
        self._send(key, value)

    def _send(self, key: bytes | None, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(self.topic, key=key, value=value, on_delivery=self._on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.05)

    def flush(self, stall_timeout: float = 30.0) -> None:
        """Wait until every reading is delivered; fail when none is for ``stall_timeout`` seconds."""
        remaining = len(self._producer)
        stalled_since = time.monotonic()
        while remaining:
            now_remaining = self._producer.flush(1.0)
            if now_remaining < remaining:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since > stall_timeout:
                raise StreamprocError(
                    f"{now_remaining} readings could not be delivered to {self.topic!r}: "
                    f"no progress for {stall_timeout:g}s"
                )
            remaining = now_remaining
        if self._errors:
            errors, self._errors = self._errors, []
            raise StreamprocError(f"{len(errors)} readings could not be delivered to {self.topic!r}: {errors[0]}")


def replay_to_kafka(
    settings: Any,
    data: Any,
    *,
    channels: Sequence[str] | None = None,
    rate: float | None = None,
    start_ms: int | None = None,
    step_ms: int = DEFAULT_STEP_MS,
    per_message: int = 1,
    table: Any = None,
    log: Callable[[str], None] = lambda message: None,
) -> FeedReport:
    """``streamproc replay --to-kafka``: produce the test streams of a telemanom directory onto the
    readings topic of the configured cluster (``KAFKA_BOOTSTRAP`` or ``kafka.bootstrap``), at
    ``rate`` readings per second over all channels (``None``: as fast as possible), ``per_message``
    samples of a channel per message.

    Each stream is the recording the offline backtest replays: the last ``window.size - 1``
    training steps, then the test steps from ``start_ms`` (default: now) every ``step_ms``; with
    the same start a worker raises the alerts ``streamproc replay`` writes, ids included.
    """
    from streamproc.datasets import open_dataset, record
    from streamproc.kafka import create_topics

    if not settings.kafka.bootstrap:
        raise StreamprocError(
            "replay --to-kafka: no cluster configured; set KAFKA_BOOTSTRAP (for example to the "
            "address `streamproc run` or `streamproc broker start` prints)"
        )
    dataset = open_dataset(data, table)
    names = dataset.select(channels)
    start_ms = int(time.time() * 1000) if start_ms is None else start_ms
    series = []
    for name in names:
        recording = record(dataset.channel(name), warmup=settings.window.size - 1, start_ms=start_ms, step_ms=step_ms)
        series.append(ChannelSeries(name, recording.values, recording.feature_names, recording.timestamps_ms))
    config = settings.kafka.confluent_config()
    bootstrap = config.pop("bootstrap.servers")
    topic = settings.topics.readings
    create_topics(
        bootstrap, {topic: settings.topics.partitions}, replication=settings.topics.replication, client_config=config
    )
    total = sum(len(s.values) for s in series)
    log(
        f"producing {total} readings of {len(series)} channel(s) to {topic!r} on {bootstrap}"
        + (f" at {rate:g}/s" if rate else "")
    )
    report = ReadingFeed({**config, "bootstrap.servers": bootstrap}, topic).produce(
        series, rate=rate, per_message=per_message
    )
    log(f"produced {report.readings} readings in {report.seconds:.1f}s ({report.rate:.0f}/s)")
    return report
