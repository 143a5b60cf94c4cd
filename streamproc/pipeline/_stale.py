"""Silent channels: a channel that stops sending raises a STALE alert, resolved when it returns.

Silence is measured on the wall clock, from the time of the newest reading's message (which the
window state keeps, so a restarted worker still knows how long a channel has been silent). The
times in the alert are the readings' own: it opens at the channel's last reading and resolves at
the first one after the silence. Its id depends only on the channel and that last reading, so
a worker restarted while a channel is silent announces the same alert again with the same
record id (a consumer drops the repeat), and a silence no running worker saw is still reported,
opened and resolved at once, when the channel returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from streamproc.fusion import STALE, AlertEvent
from streamproc.windows import ChannelWindow

STALE_NAMESPACE = uuid.UUID("2f6c1b0e-6d7a-4c36-9a51-3f1f0d2b7c11")


def stale_alert_id(channel: str, last_reading_ms: int) -> str:
    """The id of the STALE alert of ``channel`` silent since its reading at ``last_reading_ms``."""
    return str(uuid.uuid5(STALE_NAMESPACE, f"{channel}\n{last_reading_ms}"))


class StaleWatch:
    """Decides when a channel is silent (no reading for more than ``after_ms``) and when it
    returns; remembers which silences it has announced (in memory: see the module docstring)."""

    def __init__(self, after_ms: int, severity: str = "HIGH") -> None:
        if after_ms <= 0:
            raise ValueError(f"after_ms must be > 0, got {after_ms}")
        self.after_ms = int(after_ms)
        self.severity = severity
        self._announced: dict[str, int] = {}

    def overdue(self, states: Iterable[tuple[str, ChannelWindow]], now_ms: int) -> list[AlertEvent]:
        """OPEN events for the channels silent for longer than ``after_ms`` at ``now_ms`` and
        not announced yet."""
        events = []
        for channel, state in states:
            if state.last_seen_ms is None or state.last_timestamp is None:
                continue
            if now_ms - state.last_seen_ms > self.after_ms and self._announced.get(channel) != state.last_timestamp:
                self._announced[channel] = state.last_timestamp
                events.append(self._event(channel, "OPEN", state.last_timestamp, state.last_timestamp))
        return events

    def returned(
        self, channel: str, last_seen_ms: int | None, last_reading_ms: int | None, seen_ms: int, reading_ms: int
    ) -> list[AlertEvent]:
        """The events of a reading of ``channel`` seen at ``seen_ms`` after its previous one
        (seen at ``last_seen_ms``, read at ``last_reading_ms``): RESOLVED when this watch has
        announced the channel silent (whatever the gap: a worker that took a backlog for a
        silence corrects itself); OPEN and RESOLVED after a long silence it had not announced;
        none otherwise."""
        since = self._announced.pop(channel, None)
        if since is not None:
            return [self._event(channel, "RESOLVED", since, reading_ms, resolved=True)]
        if last_seen_ms is None or last_reading_ms is None or seen_ms - last_seen_ms <= self.after_ms:
            return []
        return [
            self._event(channel, "OPEN", last_reading_ms, last_reading_ms),
            self._event(channel, "RESOLVED", last_reading_ms, reading_ms, resolved=True),
        ]

    def forget(self, channels: Iterable[str]) -> None:
        """Channels this worker no longer owns (their partitions went elsewhere)."""
        for channel in channels:
            self._announced.pop(channel, None)

    def _event(self, channel: str, state: str, opened_ms: int, updated_ms: int, resolved: bool = False) -> AlertEvent:
        return AlertEvent(
            stale_alert_id(channel, opened_ms),
            channel,
            state,
            opened_ms,
            updated_ms,
            updated_ms if resolved else None,
            self.severity,
            0.0,
            (),
            (),
            condition=STALE,
        )
