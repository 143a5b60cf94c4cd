"""A window due for scoring, and its binary form on the internal windows topic.

The windows topic only links streamproc's own roles (window -> detect), so it is not part of the
Avro contract: a fixed header, the channel and feature names, then the raw float32 samples.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from ._ring import WindowStateError

_MAGIC = b"SPX"
_VERSION = 1
# magic, version, window, features, end, sequence, produced_at (s), channel bytes, names bytes
_HEADER = struct.Struct("<3sBIIqQdII")


@dataclass(frozen=True, eq=False)
class Window:
    """The last ``W`` samples of a channel, oldest first, ending at timestamp ``end``.

    ``sequence`` counts the channel's samples up to and including the window's last one, so
    ``(channel, sequence)`` identifies the window across restarts. ``produced_at`` is the Kafka
    timestamp (seconds) of the reading that completed the window: latency is measured from it.
    """

    channel: str
    end: int
    sequence: int
    values: np.ndarray
    feature_names: tuple[str, ...] | None = None
    produced_at: float = 0.0

    def to_bytes(self) -> bytes:
        channel = self.channel.encode()
        names = b"" if self.feature_names is None else json.dumps(list(self.feature_names)).encode()
        values = np.ascontiguousarray(self.values, dtype=np.float32)
        window, n_features = values.shape
        return b"".join(
            (
                _HEADER.pack(
                    _MAGIC,
                    _VERSION,
                    window,
                    n_features,
                    self.end,
                    self.sequence,
                    self.produced_at,
                    len(channel),
                    len(names),
                ),
                channel,
                names,
                values.tobytes(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Window:
        if len(data) < _HEADER.size:
            raise WindowStateError(f"window message of {len(data)} bytes is shorter than its header")
        magic, version, window, n_features, end, sequence, produced_at, n_channel, n_names = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise WindowStateError(f"not a version-{_VERSION} window message (header {data[:4].hex()})")
        start = _HEADER.size
        expected = start + n_channel + n_names + window * n_features * 4
        if len(data) != expected:
            raise WindowStateError(f"window message of {len(data)} bytes, expected {expected}")
        channel = data[start : start + n_channel].decode()
        start += n_channel
        names = tuple(json.loads(data[start : start + n_names])) if n_names else None
        start += n_names
        values = np.frombuffer(data, dtype=np.float32, offset=start).reshape(window, n_features)
        return cls(channel, end, sequence, values, names, produced_at)
