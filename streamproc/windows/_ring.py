"""Per-channel sliding-window state: a ring buffer of the last W samples and its bookkeeping.

The state is what a Faust changelog Table stores for each channel, so its encoding is compact
(a fixed header plus the float32 buffer, never JSON lists) and self-describing enough to be
rejected cleanly when it was written by an incompatible version.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence

import numpy as np

from streamproc.errors import StreamprocError

_MAGIC = b"SPW"
_VERSION = 2
# magic, version, window, features, head, count, last timestamp, last offset, last seen (v2)
_HEADER = struct.Struct("<3sBIIIQqqq")
_HEADER_V1 = struct.Struct("<3sBIIIQqq")
NO_OFFSET = -1
# The most negative int64 stands for "no timestamp yet"; epoch-millisecond timestamps never reach it.
_NO_TIMESTAMP = -(2**63)


class WindowStateError(StreamprocError):
    """Bytes that are not a window state this version can read."""


class Admission(enum.Enum):
    """What :meth:`ChannelWindow.admit` decided about one reading.

    ``ACCEPTED`` readings were appended; ``RESTARTED`` ones too, after a gap that emptied the
    window (no window spans a gap); ``REPLAYED`` ones had already been applied (the worker is
    re-reading offsets it processed before a restart) and are ignored. Every other member is a
    rejection whose value is the dead-letter reason code.
    """

    ACCEPTED = "accepted"
    RESTARTED = "restarted"
    REPLAYED = "replayed"
    WRONG_LENGTH = "wrong-length"
    NON_FINITE = "non-finite"
    TIMESTAMP_REPEATED = "timestamp-repeated"
    TIMESTAMP_BACKWARDS = "timestamp-backwards"

    @property
    def rejected(self) -> bool:
        return self not in (Admission.ACCEPTED, Admission.RESTARTED, Admission.REPLAYED)

    @property
    def appended(self) -> bool:
        return self in (Admission.ACCEPTED, Admission.RESTARTED)


class ChannelWindow:
    """The last ``window`` samples of one channel, plus what restarts and validation need.

    ``count`` is the number of samples ever appended: windows are due when
    ``count >= window`` and ``(count - window) % stride == 0``, which aligns streaming windows
    with an offline ``sliding_windows(series, window)[::stride]`` over the same samples and
    survives restarts (it is part of the stored state). ``last_timestamp`` is the largest
    timestamp accepted; ``last_offset`` the source offset of the last applied reading, so that
    readings re-delivered after a restart are recognised and skipped; ``last_seen_ms`` when the
    newest reading reached the broker (its message's time, wall clock), which tells how long a
    channel has been silent even across restarts.
    """

    __slots__ = ("window", "n_features", "buffer", "head", "count", "last_timestamp", "last_offset", "last_seen_ms")

    def __init__(self, window: int, n_features: int) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        if n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}")
        self.window = int(window)
        self.n_features = int(n_features)
        self.buffer = np.zeros((self.window, self.n_features), dtype=np.float32)
        self.head = 0
        self.count = 0
        self.last_timestamp: int | None = None
        self.last_offset = NO_OFFSET
        self.last_seen_ms: int | None = None

    # -- validation and appending ---------------------------------------------------------------

    def admit(
        self,
        values: Sequence[float] | np.ndarray,
        timestamp: int,
        offset: int = NO_OFFSET,
        grace_ms: int = 0,
        *,
        check_replay: bool = True,
        max_gap_ms: int | None = None,
        seen_ms: int | None = None,
        missing: tuple[int, ...] = (),
    ) -> Admission:
        """Validate one reading and append it when valid.

        A reading at or below ``last_offset`` whose timestamp is not newer than the state is a
        re-delivery and is skipped. Otherwise a repeated timestamp, or one more than
        ``grace_ms`` older than the newest accepted, is rejected; readings late by at most
        ``grace_ms`` are appended in arrival order. A valid reading more than ``max_gap_ms``
        after the newest accepted one first empties the window (:meth:`restart`). ``check_replay``
        false is for the later samples of a message whose first sample was found new: they share
        its offset. ``seen_ms`` (the message's time) becomes ``last_seen_ms`` when appended.
        The features at positions ``missing`` (valid indices) are stored as NaN whatever their
        value; every other value must be finite.
        """
        if (
            check_replay
            and offset != NO_OFFSET
            and offset <= self.last_offset
            and self.last_timestamp is not None
            and timestamp <= self.last_timestamp
        ):
            return Admission.REPLAYED
        if len(values) != self.n_features:
            return Admission.WRONG_LENGTH
        row = np.array(values, dtype=np.float64)
        if missing:
            row[list(missing)] = 0.0
        # Checked in float64: a finite double can still overflow float32 to infinity.
        if not np.isfinite(row).all() or np.abs(row).max(initial=0.0) > np.finfo(np.float32).max:
            return Admission.NON_FINITE
        if missing:
            row[list(missing)] = np.nan
        if self.last_timestamp is not None:
            if timestamp == self.last_timestamp:
                return Admission.TIMESTAMP_REPEATED
            if timestamp < self.last_timestamp - grace_ms:
                return Admission.TIMESTAMP_BACKWARDS
            if max_gap_ms is not None and timestamp - self.last_timestamp > max_gap_ms:
                self.restart()
                self.append(row, timestamp, offset, seen_ms)
                return Admission.RESTARTED
        self.append(row, timestamp, offset, seen_ms)
        return Admission.ACCEPTED

    def restart(self) -> None:
        """Forget the samples (a gap: what came before must not share a window with what comes
        after); the newest timestamp and offset stay, so order and re-deliveries are still
        judged. The next window is due once ``window`` new samples have arrived."""
        self.buffer[:] = 0.0
        self.head = 0
        self.count = 0

    def append(self, row: np.ndarray, timestamp: int, offset: int = NO_OFFSET, seen_ms: int | None = None) -> None:
        """Append one already validated sample."""
        self.buffer[self.head] = row
        self.head = (self.head + 1) % self.window
        self.count += 1
        if self.last_timestamp is None or timestamp > self.last_timestamp:
            self.last_timestamp = int(timestamp)
        if offset != NO_OFFSET:
            self.last_offset = int(offset)
        if seen_ms is not None and (self.last_seen_ms is None or seen_ms > self.last_seen_ms):
            self.last_seen_ms = int(seen_ms)

    def due(self, stride: int) -> bool:
        """Whether the sample just appended completes a window to score."""
        return self.count >= self.window and (self.count - self.window) % stride == 0

    def values(self) -> np.ndarray:
        """A copy of the window, oldest sample first: ``float32[window, n_features]``."""
        if self.head == 0:
            return self.buffer.copy()
        return np.concatenate((self.buffer[self.head :], self.buffer[: self.head]))

    # -- encoding ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(
            _MAGIC,
            _VERSION,
            self.window,
            self.n_features,
            self.head,
            self.count,
            _NO_TIMESTAMP if self.last_timestamp is None else self.last_timestamp,
            self.last_offset,
            _NO_TIMESTAMP if self.last_seen_ms is None else self.last_seen_ms,
        )
        return header + self.buffer.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChannelWindow:
        """Decode a state of this version, or of version 1 (before ``last_seen_ms``: unknown)."""
        if len(data) < _HEADER_V1.size:
            raise WindowStateError(f"window state of {len(data)} bytes is shorter than its header")
        if data[:3] != _MAGIC or data[3] not in (1, _VERSION):
            raise WindowStateError(f"not a version-1 or -{_VERSION} window state (header {data[:4].hex()})")
        layout = _HEADER if data[3] == _VERSION else _HEADER_V1
        if len(data) < layout.size:
            raise WindowStateError(f"window state of {len(data)} bytes is shorter than its header")
        _, _, window, n_features, head, count, last_ts, last_offset, *seen = layout.unpack_from(data)
        expected = layout.size + window * n_features * 4
        if len(data) != expected or head >= window:
            raise WindowStateError(
                f"window state of {len(data)} bytes, expected {expected} for window={window} features={n_features}"
            )
        state = cls(window, n_features)
        state.buffer[:] = np.frombuffer(data, dtype=np.float32, offset=layout.size).reshape(window, n_features)
        state.head = head
        state.count = count
        state.last_timestamp = None if last_ts == _NO_TIMESTAMP else last_ts
        state.last_offset = last_offset
        state.last_seen_ms = None if not seen or seen[0] == _NO_TIMESTAMP else seen[0]
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelWindow):
            return NotImplemented
        return (self.window, self.n_features, self.count, self.last_timestamp, self.last_offset) == (
            other.window,
            other.n_features,
            other.count,
            other.last_timestamp,
            other.last_offset,
        ) and np.array_equal(self.values(), other.values())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"ChannelWindow(window={self.window}, n_features={self.n_features}, count={self.count}, "
            f"last_timestamp={self.last_timestamp}, last_offset={self.last_offset})"
        )
