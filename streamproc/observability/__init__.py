"""Observability: Prometheus metrics and health endpoints of workers and the forwarder."""

from ._http import MetricsServer
from ._metrics import WorkerMetrics
from ._process import register_process_metrics
from ._web import add_health_views, assigned_partitions, readiness

__all__ = ["MetricsServer", "WorkerMetrics", "add_health_views", "assigned_partitions", "readiness",
           "register_process_metrics"]
