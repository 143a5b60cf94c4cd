"""What every streamproc process reports besides its own work: process and Python collectors and
``streamproc_build_info``, so that dashboards can tell versions and restarts apart."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Gauge, gc_collector, platform_collector, process_collector


def register_process_metrics(registry: CollectorRegistry) -> None:
    """``process_*`` (CPU seconds, resident memory, open files, start time), ``python_*`` (GC,
    interpreter) and ``streamproc_build_info{version, python}`` (always 1) in ``registry``."""
    from streamproc import __version__

    process_collector.ProcessCollector(registry=registry)
    platform_collector.PlatformCollector(registry=registry)
    gc_collector.GCCollector(registry=registry)
    info = Gauge(
        "streamproc_build_info",
        "The streamproc version and Python this process runs (always 1).",
        ["version", "python"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version()).set(1)
