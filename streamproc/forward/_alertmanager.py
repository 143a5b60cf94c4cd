"""A streamproc alert as Alertmanager sees it (API v2 ``postableAlert``), and the sink posting it.

Alertmanager identifies an alert by its label set. Each streamproc alert is one Alertmanager
alert (its id is a label), routed like any other by ``alertname``, ``severity``, ``channel`` and
the configured labels (site, asset). An open alert is posted with ``endsAt`` a few resend
intervals ahead and posted again before then, as Prometheus does; a resolved one with the time
it resolved. A label that changes while the alert is open (its severity) makes a new label set,
so the old one is resolved in the same post.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from streamproc.errors import StreamprocError

from ._delivery import post

ALERTNAME = "StreamprocAnomaly"
# The alertname of each alert condition (a record from before conditions is an anomaly).
ALERTNAMES = {"ANOMALY": ALERTNAME, "STALE": "StreamprocChannelStale"}
# Labels streamproc sets itself; configured labels may not take these names.
RESERVED_LABELS = ("alertname", "alert_id", "channel", "severity", "detectors")
# Alertmanager's (Prometheus') label names.
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# How many resend intervals a post keeps an open alert firing: it survives three lost posts.
VALIDITY_INTERVALS = 4


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The configured labels, or StreamprocError naming the first that Alertmanager would refuse."""
    for name, value in labels.items():
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise StreamprocError(f"forward.labels: {name!r} is not a label name ([A-Za-z_][A-Za-z0-9_]*)")
        if name in RESERVED_LABELS:
            raise StreamprocError(
                f"forward.labels: {name!r} is set by streamproc itself (reserved: {', '.join(RESERVED_LABELS)})"
            )
        if not isinstance(value, str):
            raise StreamprocError(f"forward.labels.{name}: expected a string, got {value!r}")
    return dict(labels)


def rfc3339(millis: int) -> str:
    """``2026-01-05T10:00:00.000Z``; ValueError (or OverflowError) for a time outside the calendar."""
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_link(template: str, record: Mapping[str, Any]) -> str:
    """``template`` with the alert's fields filled in; empty when there is no template."""
    if not template:
        return ""
    return template.format(
        channel=record["channel"],
        alert_id=record["alert_id"],
        opened_at_ms=record["opened_at"],
        updated_at_ms=record["updated_at"],
    )


def top_features_text(record: Mapping[str, Any], top: int = 3) -> str:
    """``temp 41%, flow 22%``: the features that contributed most, with their shares."""
    return ", ".join(
        f"{f['name'] if f['name'] is not None else '#' + str(f['index'])} {100 * f['contribution']:.0f}%"
        for f in record["top_features"][:top]
    )


def alert_labels(record: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, str]:
    """The label set identifying the state ``record`` reports."""
    detectors = ",".join(sorted({d["detector"] for d in record["detector_scores"]}))
    return {
        **labels,
        "alertname": ALERTNAMES.get(record.get("condition", "ANOMALY"), ALERTNAME),
        "alert_id": record["alert_id"],
        "channel": record["channel"],
        "severity": record["severity"].lower(),
        "detectors": detectors,
    }


def alertmanager_alert(
    record: Mapping[str, Any], *, labels: Mapping[str, str], link: str, now_ms: int, valid_for_ms: int
) -> dict[str, Any]:
    """The postable alert for ``record``: firing until ``now_ms + valid_for_ms`` unless resolved."""
    if record["state"] == "RESOLVED":
        resolved = record["resolved_at"] if record["resolved_at"] is not None else record["updated_at"]
        ends = min(resolved, now_ms)  # resolved is resolved, even if the readings' clock runs ahead
    else:
        ends = now_ms + valid_for_ms
    scores = ", ".join(f"{d['detector']} {d['score']:.3g}/{d['threshold']:.3g}" for d in record["detector_scores"])
    features = top_features_text(record)
    description = f"Detector scores (score/threshold): {scores}." if scores else "No detector scores."
    if features:
        description += f" Top contributing features: {features}."
    if record.get("condition") == "STALE":
        summary = f"No readings from {record['channel']} since {rfc3339(record['opened_at'])}"
        description = "The channel went silent: a dead sensor, a stopped exporter or a lost link."
    else:
        severity = record["severity"].lower()
        summary = f"Anomaly on {record['channel']}: fused score {record['fused_score']:.2f} ({severity})"
    alert: dict[str, Any] = {
        "labels": alert_labels(record, labels),
        "annotations": {
            "summary": summary,
            "description": description,
            "fused_score": f"{record['fused_score']:.4g}",
            "top_features": features,
            "opened_at": rfc3339(record["opened_at"]),
        },
        "startsAt": rfc3339(record["opened_at"]),
        # Alertmanager refuses an end before the start.
        "endsAt": rfc3339(max(ends, record["opened_at"])),
    }
    if link:
        alert["generatorURL"] = link
    return alert


def resolved_copy(alert: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """``alert`` (a posted one) ended now: what retires a label set the alert no longer has."""
    starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    ends = max(now_ms, int(starts.timestamp() * 1000))
    return {**alert, "endsAt": rfc3339(ends)}


class AlertmanagerSink:
    """Posts alerts to one Alertmanager's ``/api/v2/alerts``."""

    name = "alertmanager"

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self.url = base_url.rstrip("/") + "/api/v2/alerts"

    def send(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        post(
            self._client,
            self.url,
            content=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
        )
