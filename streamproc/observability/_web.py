"""Health, readiness and metrics pages on the Faust worker's own web server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._metrics import WorkerMetrics

if TYPE_CHECKING:
    import faust


def readiness(app: Any) -> tuple[bool, str]:
    """Whether ``app`` (a faust.App) is processing: started, not rebalancing, tables recovered."""
    if app.crashed:
        return False, "crashed"
    if not app.started:
        return False, "starting"
    if app.rebalancing or app.in_recovery:
        return False, "rebalancing" if app.rebalancing else "recovering tables"
    if not app.consumer.assignment():
        return False, "no partitions assigned"
    return True, "ready"


def assigned_partitions(app: Any) -> dict[str, list[int]]:
    """The source partitions (changelogs excluded) the worker's consumer holds, by topic."""
    found: dict[str, list[int]] = {}
    for tp in app.consumer.assignment():
        if not tp.topic.endswith("-changelog"):
            found.setdefault(tp.topic, []).append(tp.partition)
    return {topic: sorted(partitions) for topic, partitions in sorted(found.items())}


def add_health_views(app: faust.App, metrics: WorkerMetrics) -> None:
    """Serve ``/metrics`` (Prometheus), ``/healthz`` (liveness) and ``/readyz`` (readiness).

    ``/healthz`` fails only when the worker has crashed: restarting it is then the fix.
    ``/readyz`` also fails while partitions are being rebalanced or tables recovered, which
    is when the worker should not count as serving; its body lists the partitions held.
    """

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.exposition(), content_type=metrics.content_type)

    @app.page("/healthz")
    async def health_page(web: Any, request: Any) -> Any:
        alive = not app.crashed
        return web.json({"status": "ok" if alive else "crashed"}, status=200 if alive else 503)

    @app.page("/readyz")
    async def ready_page(web: Any, request: Any) -> Any:
        ready, why = readiness(app)
        body = {"status": why, "partitions": assigned_partitions(app) if app.started else {}}
        return web.json(body, status=200 if ready else 503)
