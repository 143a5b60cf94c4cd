"""The forwarder's Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamproc.observability import register_process_metrics


class ForwardMetrics:
    """Deliveries by sink and outcome, resends to Alertmanager, and the alerts held open."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = False) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        if process:
            register_process_metrics(r)
        self.deliveries = Counter(
            "streamproc_forward_deliveries",
            "Alert messages forwarded, by sink and outcome: delivered, "
            "dead_lettered (every attempt failed, or undecodable: sink 'all'), and retried (one per "
            "extra attempt).",
            ["sink", "outcome"],
            registry=r,
        )
        self.resends = Counter(
            "streamproc_forward_resends",
            "Posts of the open alerts to Alertmanager again, "
            "by outcome (delivered, failed: tried again at the next interval).",
            ["outcome"],
            registry=r,
        )
        self.partitions = Gauge(
            "streamproc_forward_assigned_partitions",
            "Partitions of the alerts topic this forwarder holds (0: another replica has "
            "them all, or the group is rebalancing).",
            registry=r,
        )
        self.open_alerts = Gauge(
            "streamproc_forward_open_alerts", "Open alerts of the partitions this forwarder holds.", registry=r
        )

    def track_open_alerts(self, count: Callable[[], int]) -> None:
        self.open_alerts.set_function(count)
