"""Which alerts are open, by the alerts-topic partition their messages come from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class OpenAlerts:
    """The latest message of every open alert, kept per source partition: an alert's messages
    share a key (its channel), so all of them come from one partition, and a forwarder that
    loses the partition in a rebalance hands the alert over with it."""

    def __init__(self) -> None:
        self._by_partition: dict[int, dict[str, Mapping[str, Any]]] = {}

    def update(self, partition: int, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Take ``record`` (an Alert) as its alert's latest state; returns the one it replaces."""
        alerts = self._by_partition.setdefault(partition, {})
        if record["state"] == "RESOLVED":
            # From any partition: after the topic gains partitions, a channel may move.
            found = [held.pop(record["alert_id"], None) for held in self._by_partition.values()]
            return next((r for r in found if r is not None), None)
        previous = alerts.get(record["alert_id"])
        alerts[record["alert_id"]] = record
        return previous

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._by_partition.pop(partition, None)

    def records(self) -> list[Mapping[str, Any]]:
        return [record for alerts in self._by_partition.values() for record in alerts.values()]

    def __len__(self) -> int:
        # A copy: the metrics thread counts while the loop adds and forgets partitions.
        return sum(len(alerts) for alerts in list(self._by_partition.values()))
