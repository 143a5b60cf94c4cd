"""The alerts of a backtest: as Alert records on file, and as spans on a channel's test steps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, cast

import numpy as np

from streamproc.config import SEVERITIES
from streamproc.fusion import AlertEvent
from streamproc.metrics import AlertSpan


@dataclass(frozen=True)
class ChannelAlert:
    """One alert of a channel, from OPEN to RESOLVED (``resolved`` False: still open at the end).

    ``announced_score`` is the highest fused score its OPEN and UPDATE events carried (an UPDATE
    is only sent when the severity rises, so a higher score within the same band is not seen
    here); ``top_features`` are those of its most anomalous window once it resolved (the RESOLVED
    event repeats them), else of its last announcement.
    """

    alert_id: str
    span: AlertSpan
    severity: str
    announced_score: float
    resolved: bool
    top_features: tuple[str, ...]


def channel_alerts(events: Iterable[AlertEvent], timestamps_ms: np.ndarray) -> list[ChannelAlert]:
    """The alerts ``events`` describe, on the steps of ``timestamps_ms`` (the channel's test stream).

    The highest severity any event of an alert reported is kept; an alert still open after
    the last event runs to the last step.
    """
    timestamps_ms = np.asarray(timestamps_ms)
    last = len(timestamps_ms) - 1

    def step(timestamp: int) -> int:
        return min(int(np.searchsorted(timestamps_ms, timestamp)), last)

    opened: dict[str, dict[str, Any]] = {}
    alerts: list[ChannelAlert] = []
    for event in events:
        if event.state == "OPEN":
            opened[event.alert_id] = {
                "at": step(event.opened_at),
                "severity": event.severity,
                "peak": event.fused_score,
                "top": _names(event),
            }
            continue
        alert = opened.get(event.alert_id)
        if alert is None:
            continue
        if SEVERITIES.index(event.severity) > SEVERITIES.index(alert["severity"]):
            alert["severity"] = event.severity
        if event.state == "UPDATE":
            alert["peak"], alert["top"] = max(alert["peak"], event.fused_score), _names(event)
        if event.state == "RESOLVED":
            del opened[event.alert_id]
            alerts.append(
                ChannelAlert(
                    event.alert_id,
                    AlertSpan(alert["at"], step(cast(int, event.resolved_at))),  # set on RESOLVED events
                    alert["severity"],
                    alert["peak"],
                    True,
                    _names(event),
                )
            )
    for alert_id, alert in opened.items():
        alerts.append(
            ChannelAlert(alert_id, AlertSpan(alert["at"], last), alert["severity"], alert["peak"], False, alert["top"])
        )
    return sorted(alerts, key=lambda a: a.span.opened)


def _names(event: AlertEvent) -> tuple[str, ...]:
    return tuple(f.name if f.name is not None else f"feature {f.index}" for f in event.top_features)


def write_alerts(stream: TextIO, events: Sequence[AlertEvent]) -> None:
    """One Alert record (the Avro contract's fields) per line."""
    for event in events:
        stream.write(json.dumps(event.to_record(), separators=(",", ":")) + "\n")
