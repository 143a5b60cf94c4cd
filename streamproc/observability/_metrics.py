"""The worker's Prometheus metrics, in a registry of their own (one per worker app).

Every name carries its unit (``_seconds``, ``_messages``; counters end in ``_total``). Series per
channel are bounded: at most ``channel_limit`` channels get them (the first seen), so that a
plant with many channels cannot swamp Prometheus; updates for the others are counted instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ._process import register_process_metrics

LagSource = Callable[[], Mapping[tuple[str, int], int]]
SeveritySource = Callable[[], Mapping[str, int]]

# Latency from a reading's production to its window's score or alert: milliseconds to a minute.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SCORING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
# The Alert schema's severities: each gets a series, 0 when none is open.
_SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class _LagCollector:
    """``streamproc_consumer_lag_messages``, computed from the consumer when scraped."""

    def __init__(self, source: LagSource) -> None:
        self._source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "streamproc_consumer_lag_messages",
            "Messages between the consumer's position and the partition's end.",
            labels=["topic", "partition"],
        )
        for (topic, partition), lag in sorted(self._source().items()):
            family.add_metric([topic, str(partition)], max(int(lag), 0))
        yield family


class _OpenAlertsCollector:
    """``streamproc_open_alerts{severity}``, counted from the fusion states when scraped."""

    def __init__(self, source: SeveritySource) -> None:
        self._source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        counts = self._source()
        family = GaugeMetricFamily(
            "streamproc_open_alerts",
            "Alerts open on the channels this worker owns, by severity (the highest each has reached).",
            labels=["severity"],
        )
        for severity in sorted(set(_SEVERITIES) | set(counts)):
            family.add_metric([severity], counts.get(severity, 0))
        yield family


class ChannelMetrics:
    """What an operator looks at per channel: each detector's last score against its threshold,
    the threshold, the time of the last reading, and the model versions in use."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self._channels: set[str] = set()
        self._scores: dict[tuple[str, str], tuple[float, float]] = {}
        self._readings: dict[str, float] = {}
        self._models: dict[tuple[str, str], str] = {}
        self._drift: dict[tuple[str, str], float] = {}
        self._where: dict[str, tuple[str, int]] = {}
        self.skipped = 0

    def _admit(self, channel: str) -> bool:
        if channel in self._channels:
            return True
        if len(self._channels) < self.limit:
            self._channels.add(channel)
            return True
        self.skipped += 1
        return False

    def located(self, channel: str, topic: str, partition: int) -> None:
        """The partition a channel's messages come from, so that its series go with it."""
        if channel in self._channels:
            self._where[channel] = (topic, partition)

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop the series of channels whose partitions this worker no longer holds: their new
        owner reports them, and frozen values here would contradict it."""
        gone = set(partitions)
        for channel in [c for c, where in self._where.items() if where in gone]:
            del self._where[channel]
            self._channels.discard(channel)
            self._readings.pop(channel, None)
            for key in [k for k in self._scores if k[0] == channel]:
                del self._scores[key]
            for key in [k for k in self._models if k[0] == channel]:
                del self._models[key]
            for key in [k for k in self._drift if k[0] == channel]:
                del self._drift[key]

    def score(self, channel: str, detector: str, score: float, threshold: float) -> None:
        if self._admit(channel):
            self._scores[(channel, detector)] = (float(score), float(threshold))

    def reading(self, channel: str, timestamp_s: float) -> None:
        if self._admit(channel):
            self._readings[channel] = max(float(timestamp_s), self._readings.get(channel, float("-inf")))

    def drift(self, channel: str, detector: str, statistic: float) -> None:
        if self._admit(channel):
            self._drift[(channel, detector)] = float(statistic)

    def models(self, channel: str, versions: Mapping[str, str]) -> None:
        if self._admit(channel):
            for detector, version in versions.items():
                self._models[(channel, detector)] = version

    def collect(self) -> Iterable[Metric]:
        ratio = GaugeMetricFamily(
            "streamproc_channel_score_ratio",
            "A detector's last score on a channel divided "
            "by its threshold (1 is at the threshold; above it, the window was anomalous).",
            labels=["channel", "detector"],
        )
        threshold = GaugeMetricFamily(
            "streamproc_channel_threshold",
            "A detector's threshold on a channel, in the units of its score.",
            labels=["channel", "detector"],
        )
        for (channel, detector), (score, limit) in sorted(self._scores.items()):
            ratio.add_metric([channel, detector], score / limit if limit > 0 else score - limit + 1.0)
            threshold.add_metric([channel, detector], limit)
        drift = GaugeMetricFamily(
            "streamproc_model_drift",
            "Kolmogorov-Smirnov distance between a model's recent scores on a channel and the "
            "scores it was calibrated on (0: alike; above 0.3 the worker logs that it drifted).",
            labels=["channel", "detector"],
        )
        for (channel, detector), statistic in sorted(self._drift.items()):
            drift.add_metric([channel, detector], statistic)
        last = GaugeMetricFamily(
            "streamproc_channel_last_reading_timestamp_seconds",
            "Time (the readings' own, seconds since the epoch) of a channel's latest reading.",
            labels=["channel"],
        )
        for channel, timestamp in sorted(self._readings.items()):
            last.add_metric([channel], timestamp)
        models = GaugeMetricFamily(
            "streamproc_model_info",
            "The model version each detector scores a channel with (always 1).",
            labels=["channel", "detector", "model_version"],
        )
        for (channel, detector), version in sorted(self._models.items()):
            models.add_metric([channel, detector, version], 1)
        skipped = CounterMetricFamily(
            "streamproc_channel_metrics_skipped",
            "Per-channel updates not exported because worker.channel_metrics_limit channels already have series.",
        )
        skipped.add_metric([], self.skipped)
        yield from (ratio, threshold, drift, last, models, skipped)


class WorkerMetrics:
    """Everything a worker reports; :meth:`exposition` renders the Prometheus text format."""

    # aiohttp takes the charset separately from the media type; the exposition is UTF-8 either way.
    content_type = CONTENT_TYPE_LATEST.split(";", 1)[0] + "; version=0.0.4"

    def __init__(
        self, registry: CollectorRegistry | None = None, *, channel_limit: int = 1000, process: bool = True
    ) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        if process:
            register_process_metrics(r)
        self.readings = Counter(
            "streamproc_readings",
            "Readings consumed, by outcome (accepted; restarted: accepted after a gap, which restarted the "
            "window; replayed after a restart; rejected to the dead-letter topic).",
            ["outcome"],
            registry=r,
        )
        self.windows_scored = Counter(
            "streamproc_windows_scored", "Windows scored, by detector.", ["detector"], registry=r
        )
        self.windows_unscored = Counter(
            "streamproc_windows_unscored",
            "Due windows not scored, by reason (missing-values: a missing-value run the policy cannot fill).",
            ["reason"],
            registry=r,
        )
        self.scoring_seconds = Histogram(
            "streamproc_scoring_seconds",
            "Time one detector took to score one batch of windows.",
            ["detector"],
            buckets=_SCORING_BUCKETS,
            registry=r,
        )
        self.reading_to_score_seconds = Histogram(
            "streamproc_reading_to_score_seconds",
            "From the production of the reading that completed a window to its score's publication.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reading_to_alert_seconds = Histogram(
            "streamproc_reading_to_alert_seconds",
            "From the production of the reading that completed a window to the publication of the "
            "alert message it caused.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.alerts = Counter("streamproc_alerts", "Alert messages published, by state.", ["state"], registry=r)
        self.dead_letters = Counter(
            "streamproc_dead_letters", "Messages sent to the dead-letter topic, by reason.", ["reason"], registry=r
        )
        self.dead_letters_repeated = Counter(
            "streamproc_dead_letters_repeated",
            "Dead letters not sent again: messages a worker met again "
            "after a restart or rebalance, which it had dead-lettered before.",
            registry=r,
        )
        self.feedback = Counter(
            "streamproc_feedback",
            "Operators' verdicts read from the feedback topic, by outcome "
            "(applied; repeated: the alert had one; not-here: no channel this worker owns "
            "remembers the alert, counted on arrival, and again as applied or repeated if "
            "a rebalance brings the channel; rejected to the dead-letter topic, by the "
            "worker owning that partition number).",
            ["outcome"],
            registry=r,
        )
        self.batch_messages = Histogram(
            "streamproc_batch_messages",
            "Messages per processed batch, by stage.",
            ["stage"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.channels = ChannelMetrics(channel_limit)
        r.register(self.channels)

    def track_open_alerts(self, by_severity: SeveritySource) -> None:
        self.registry.register(_OpenAlertsCollector(by_severity))

    def track_consumer_lag(self, source: LagSource) -> None:
        self.registry.register(_LagCollector(source))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
