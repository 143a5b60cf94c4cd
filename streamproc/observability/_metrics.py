"""The worker's Prometheus metrics, in a registry of their own (one per worker app)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LagSource = Callable[[], Mapping[tuple[str, int], int]]

# Latency from a reading's production to its window's score or alert: milliseconds to a minute.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SCORING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class _LagCollector:
    """``streamproc_consumer_lag``, computed from the consumer when scraped."""

    def __init__(self, source: LagSource) -> None:
        self._source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("streamproc_consumer_lag",
                                   "Messages between the consumer's position and the partition's end.",
                                   labels=["topic", "partition"])
        for (topic, partition), lag in sorted(self._source().items()):
            family.add_metric([topic, str(partition)], max(int(lag), 0))
        yield family


class WorkerMetrics:
    """Everything a worker reports; :meth:`exposition` renders the Prometheus text format."""

    # aiohttp takes the charset separately from the media type; the exposition is UTF-8 either way.
    content_type = CONTENT_TYPE_LATEST.split(";", 1)[0] + "; version=0.0.4"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.readings = Counter("streamproc_readings", "Readings consumed, by outcome "
                                "(accepted, replayed after a restart, rejected to the dead-letter topic).",
                                ["outcome"], registry=r)
        self.windows_scored = Counter("streamproc_windows_scored", "Windows scored, by detector.",
                                      ["detector"], registry=r)
        self.scoring_seconds = Histogram("streamproc_scoring_seconds",
                                         "Time one detector took to score one batch of windows.",
                                         ["detector"], buckets=_SCORING_BUCKETS, registry=r)
        self.reading_to_score_seconds = Histogram(
            "streamproc_reading_to_score_seconds",
            "From the production of the reading that completed a window to its score's publication.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.reading_to_alert_seconds = Histogram(
            "streamproc_reading_to_alert_seconds",
            "From the production of the reading that completed a window to the publication of the "
            "alert message it caused.", buckets=_LATENCY_BUCKETS, registry=r)
        self.alerts = Counter("streamproc_alerts", "Alert messages published, by state.", ["state"], registry=r)
        self.open_alerts = Gauge("streamproc_open_alerts", "Alerts open on the channels this worker owns.",
                                 registry=r)
        self.dead_letters = Counter("streamproc_dead_letters", "Messages sent to the dead-letter topic, by reason.",
                                    ["reason"], registry=r)
        self.dead_letters_repeated = Counter(
            "streamproc_dead_letters_repeated", "Dead letters not sent again: messages a worker met again "
            "after a restart or rebalance, which it had dead-lettered before.", registry=r)
        self.feedback = Counter("streamproc_feedback", "Operators' verdicts read from the feedback topic, by outcome "
                                "(applied; repeated: the alert had one; not-here: no channel this worker owns "
                                "remembers the alert, counted on arrival, and again as applied or repeated if "
                                "a rebalance brings the channel; rejected to the dead-letter topic, by the "
                                "worker owning that partition number).", ["outcome"], registry=r)
        self.batch_size = Histogram("streamproc_batch_size", "Messages per processed batch, by stage.",
                                    ["stage"], buckets=_BATCH_BUCKETS, registry=r)

    def track_open_alerts(self, count: Callable[[], int]) -> None:
        self.open_alerts.set_function(count)

    def track_consumer_lag(self, source: LagSource) -> None:
        self.registry.register(_LagCollector(source))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
