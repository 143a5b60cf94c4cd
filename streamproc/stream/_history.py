"""The history of a readings topic as a training data set (``train --from-topic``)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from streamproc.datasets import ChannelHistory, DatasetError, HistoryDataset
from streamproc.serde import Codec, DecodeError

from ._reader import TopicReader

READINGS = ("SensorReading", "SensorReadingBatch")


def read_history(
    consumer_config: Mapping[str, Any],
    topic: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    idle_s: float = 3.0,
) -> HistoryDataset:
    """Every reading on ``topic`` taken in ``[since_ms, until_ms)`` (by its own timestamp), by
    channel. The topic is read from its beginning until nothing new arrives for ``idle_s``, or
    until every partition has delivered a message produced after the read began (a live topic
    has no end). Messages that are not readings, or not valid ones (what a worker dead-letters),
    are skipped and counted."""
    began_s = time.time()
    histories: dict[str, ChannelHistory] = {}
    skipped: Counter[str] = Counter()
    outside = 0
    codec = Codec()
    with TopicReader(consumer_config, [topic], codec=codec) as reader:
        partitions = reader.partition_count(topic)
        live: set[int] = set()
        last_message = time.monotonic()
        while len(live) < partitions and time.monotonic() - last_message < idle_s:
            messages = reader.poll_raw(0.5)
            if messages:
                last_message = time.monotonic()
            for message in messages:
                if message.timestamp > began_s:
                    live.add(message.partition)
                    continue
                for reason, timestamp, sample in _samples(codec, message.value):
                    if reason is not None:
                        skipped[reason] += 1
                        continue
                    if (since_ms is not None and timestamp < since_ms) or (
                        until_ms is not None and timestamp >= until_ms
                    ):
                        outside += 1
                        continue
                    assert sample is not None  # no problem, so a sample
                    channel, values, names = sample
                    history = histories.setdefault(channel, ChannelHistory(feature_names=names))
                    history.timestamps.append(timestamp)
                    history.values.append(values)
    if not histories:
        window = f" in the time range given ({outside} reading(s) outside it)" if outside else ""
        raise DatasetError(f"topic {topic!r}: no readings{window}")
    detected = [f"{sum(len(h.timestamps) for h in histories.values())} reading(s) of {len(histories)} channel(s)"]
    if outside:
        detected.append(f"{outside} reading(s) outside --since/--until left out")
    if skipped:
        detected.append("skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items())))
    return HistoryDataset(f"kafka:{topic}", histories, detected)


def _samples(
    codec: Codec, value: bytes | None
) -> Iterator[tuple[str | None, int, tuple[str, list[float], tuple[str, ...] | None] | None]]:
    """``(problem, timestamp, (channel, values, names))`` for each sample of a message."""
    try:
        schema, record = codec.decode(value or b"")
    except DecodeError as exc:
        yield exc.reason, 0, None
        return
    if schema not in READINGS:
        yield "not a reading", 0, None
        return
    names = tuple(record["feature_names"]) if record.get("feature_names") else None
    if schema == "SensorReading":
        samples = [(record["timestamp"], record["values"], record.get("missing") or [])]
    else:
        missing = record.get("missing") or [[] for _ in record["timestamps"]]
        samples = list(zip(record["timestamps"], record["values"], missing, strict=False))
    for timestamp, values, gaps in samples:
        row = [float(v) for v in values]
        for position in gaps:
            if 0 <= position < len(row):
                row[position] = math.nan
        if not all(math.isfinite(v) for i, v in enumerate(row) if i not in gaps):
            yield "non-finite", 0, None
            continue
        yield None, int(timestamp), (record["channel"], row, names)
