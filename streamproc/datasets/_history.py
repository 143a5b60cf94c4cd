"""A data set of channels already in memory: the history of a readings topic, for training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import DatasetError
from ._select import select_channels
from ._telemanom import ChannelData


@dataclass
class ChannelHistory:
    """One channel's samples as read: times (epoch ms), values (NaN where missing) and names."""

    timestamps: list[int] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)
    feature_names: tuple[str, ...] | None = None


@dataclass
class HistoryDataset:
    """Channels whose whole series is training data (a recorded history has no labels and no
    test part); ``source`` names where it came from, ``detected`` says what was found."""

    source: str
    histories: dict[str, ChannelHistory]
    detected: list[str] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        return sorted(self.histories)

    def select(self, requested: Sequence[str] | None = None) -> list[str]:
        return select_channels(Path(self.source), self.channels, requested)

    def channel(self, name: str) -> ChannelData:
        history = self.histories[name]
        order = np.argsort(np.asarray(history.timestamps, dtype=np.int64), kind="stable")
        times = np.asarray(history.timestamps, dtype=np.int64)[order]
        widths = {len(row) for row in history.values}
        if len(widths) != 1:
            raise DatasetError(
                f"{self.source}: channel {name}: samples of {sorted(widths)} features; one count expected"
            )
        values = np.asarray(history.values, dtype=np.float64)[order]
        # A sample delivered twice (at least once delivery) is one sample.
        keep = np.concatenate(([True], np.diff(times) > 0))
        names = list(history.feature_names or [f"f{i}" for i in range(values.shape[1])])
        return ChannelData(
            name,
            values[keep].astype(np.float32),
            np.zeros((0, values.shape[1]), dtype=np.float32),
            np.zeros(0, dtype=bool),
            [],
            names,
            train_timestamps=times[keep],
            test_timestamps=np.zeros(0, dtype=np.int64),
        )
