"""Printing alerts for people: one line per lifecycle message."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ._reader import TopicReader

_STATE_WIDTH = len("RESOLVED")
_SEVERITY_WIDTH = len("CRITICAL")


def format_time(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_alert(record: Mapping[str, Any], *, top: int = 3, when: bool = True) -> str:
    """``2026-01-05 10:00:00  OPEN      pump-7  HIGH      fused 5.32  pca 2.1/0.4  top temp 41%, flow 22%
    [id 1b2c3d4e]``: time (of the readings), state, channel, severity, fused score, each detector's
    score/threshold, the top features' shares and the start of the alert id; ``silent`` in place
    of the score for a STALE alert (a channel that stopped sending)."""
    detectors = " ".join(f"{d['detector']} {d['score']:.3g}/{d['threshold']:.3g}" for d in record["detector_scores"])
    features = ", ".join(
        f"{f['name'] if f['name'] is not None else '#' + str(f['index'])} {100 * f['contribution']:.0f}%"
        for f in record["top_features"][:top]
    )
    parts = [
        record["state"].ljust(_STATE_WIDTH),
        record["channel"],
        record["severity"].ljust(_SEVERITY_WIDTH),
        # A silent channel has no score: say what it is instead.
        "silent" if record.get("condition") == "STALE" else f"fused {record['fused_score']:.2f}",
    ]
    if when:
        parts.insert(0, format_time(record["resolved_at"] if record["state"] == "RESOLVED" else record["updated_at"]))
    if detectors:
        parts.append(detectors)
    if features:
        parts.append(f"top {features}")
    parts.append(f"[id {record['alert_id'][:8]}]")
    return "  ".join(parts)


def tail_alerts(
    reader: TopicReader,
    echo: Callable[[str], None],
    *,
    channel: str | None = None,
    as_json: bool = False,
    follow: bool = True,
    idle_s: float = 2.0,
) -> int:
    """Print alerts as they arrive; without ``follow``, stop after ``idle_s`` seconds without any.

    Returns the number printed.
    """
    printed = 0
    idle = 0.0
    while follow or idle < idle_s:
        got = False
        for item in reader.poll(0.5):
            got = True
            if item.schema != "Alert" or (channel is not None and item.record["channel"] != channel):
                continue
            echo(json.dumps(item.record, sort_keys=True) if as_json else format_alert(item.record))
            printed += 1
        idle = 0.0 if got else idle + 0.5
    return printed
