"""Observability of a worker: Prometheus metrics and health endpoints on its web port."""

from ._metrics import WorkerMetrics
from ._web import add_health_views, assigned_partitions, readiness

__all__ = ["WorkerMetrics", "add_health_views", "assigned_partitions", "readiness"]
