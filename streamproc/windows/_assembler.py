"""Turning a channel's readings into the windows its detectors score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._ring import NO_OFFSET, Admission, ChannelWindow
from ._window import Window


@dataclass(frozen=True)
class Reading:
    """One decoded sample of a channel and where it came from."""

    channel: str
    timestamp: int
    values: Sequence[float]
    feature_names: tuple[str, ...] | None = None
    offset: int = NO_OFFSET
    produced_at: float = 0.0
    missing: tuple[int, ...] = ()  # positions of features the reading says are missing


def seen_ms(reading: Reading) -> int | None:
    """When ``reading``'s message reached the broker, in epoch ms (None when unknown)."""
    return int(reading.produced_at * 1000) if reading.produced_at > 0 else None


class WindowAssembler:
    """Applies readings to per-channel :class:`ChannelWindow` states and emits due windows.

    Every ``stride`` accepted samples (once ``window`` samples exist) the window ending at the
    newest sample is emitted. Its end is the newest timestamp accepted so far, which only
    grows, so ``(channel, end)`` orders a channel's windows even when a reading arrived late
    within the grace period. A reading more than ``max_gap_periods`` sampling periods after
    the channel's previous one restarts its window (0: never); the period is the channel's
    (learned in training), so channels sampled at different rates are judged each by its own.
    """

    def __init__(self, window: int, stride: int, grace_ms: int = 0, max_gap_periods: float = 0.0) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if grace_ms < 0:
            raise ValueError(f"grace_ms must be >= 0, got {grace_ms}")
        if max_gap_periods < 0:
            raise ValueError(f"max_gap_periods must be >= 0, got {max_gap_periods}")
        self.window = int(window)
        self.stride = int(stride)
        self.grace_ms = int(grace_ms)
        self.max_gap_periods = float(max_gap_periods)

    def max_gap_ms(self, period_ms: int | None) -> int | None:
        """The longest step a channel sampled every ``period_ms`` takes without a restart."""
        if not period_ms or not self.max_gap_periods:
            return None
        return int(self.max_gap_periods * period_ms)

    def new_state(self, n_features: int) -> ChannelWindow:
        return ChannelWindow(self.window, n_features)

    def add(
        self, state: ChannelWindow, reading: Reading, *, check_replay: bool = True, period_ms: int | None = None
    ) -> tuple[Admission, Window | None]:
        """Offer ``reading`` to its channel's ``state``; return the decision and a due window
        (``check_replay``: see :meth:`ChannelWindow.admit`; ``period_ms``: the channel's
        sampling period, None when unknown, which turns gap detection off)."""
        admission = state.admit(
            reading.values,
            reading.timestamp,
            reading.offset,
            self.grace_ms,
            check_replay=check_replay,
            max_gap_ms=self.max_gap_ms(period_ms),
            seen_ms=seen_ms(reading),
            missing=reading.missing,
        )
        if not admission.appended or not state.due(self.stride):
            return admission, None
        assert state.last_timestamp is not None
        return admission, Window(
            reading.channel,
            state.last_timestamp,
            state.count,
            state.values(),
            reading.feature_names,
            reading.produced_at,
        )
