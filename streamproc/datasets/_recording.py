"""A channel's test stream as a running worker receives it, for the backtest and the feed alike.

A worker that has been running holds the end of the channel's history in its window, so the
first test step already completes a window: the recording starts with the last ``warmup``
steps of the training data. Steps without real time get a regular time axis from ``start_ms``
(the first test step) every ``step_ms``; the same arguments give the same timestamps, so a
backtest and a stream of the same recording produce the same alert ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ._errors import DatasetError
from ._telemanom import ChannelData

# 2000-01-01T00:00:00Z: where the time axis of data without timestamps starts by default.
DEFAULT_START_MS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)
DEFAULT_STEP_MS = 1000


@dataclass(frozen=True)
class Recording:
    """``values[N, C]`` at ``timestamps_ms[N]`` (increasing): ``warmup`` training steps, then the
    channel's test stream."""

    channel: str
    values: np.ndarray
    timestamps_ms: np.ndarray
    warmup: int
    feature_names: list[str]

    @property
    def test_timestamps_ms(self) -> np.ndarray:
        return self.timestamps_ms[self.warmup :]

    @property
    def test_steps(self) -> int:
        return len(self.values) - self.warmup


def record(
    data: ChannelData, *, warmup: int, start_ms: int = DEFAULT_START_MS, step_ms: int = DEFAULT_STEP_MS
) -> Recording:
    """The recording of ``data``'s test stream after ``warmup`` (at most all) training steps."""
    if warmup < 0 or step_ms < 1:
        raise DatasetError(f"warm-up must be >= 0 and the step >= 1 ms, got {warmup} and {step_ms}")
    warmup = min(warmup, len(data.train))
    values = np.concatenate([data.train[len(data.train) - warmup :], data.test]).astype(np.float64)
    if data.test_timestamps is not None:
        before = (
            data.train_timestamps[len(data.train) - warmup :]
            if data.train_timestamps is not None and warmup
            else data.test_timestamps[0] - step_ms * np.arange(warmup, 0, -1)
        )
        timestamps = np.concatenate([np.asarray(before, np.int64), np.asarray(data.test_timestamps, np.int64)])
    else:
        timestamps = start_ms + step_ms * np.arange(-warmup, len(data.test), dtype=np.int64)
    return Recording(data.name, values, timestamps, warmup, list(data.feature_names))
