"""Observability: Prometheus metrics and health endpoints of workers and the forwarder."""

from ._http import MetricsServer
from ._logs import LOG_FORMATS, JsonFormatter, json_logging_config
from ._metrics import WorkerMetrics
from ._process import register_process_metrics
from ._web import add_health_views, assigned_partitions, readiness

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "MetricsServer",
    "WorkerMetrics",
    "add_health_views",
    "assigned_partitions",
    "json_logging_config",
    "readiness",
    "register_process_metrics",
]
