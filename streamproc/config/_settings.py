"""The settings tree: one frozen dataclass per section, defaults included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from ._errors import ConfigError
from ._fields import setting
from ._kafka import KafkaSettings
from ._secret import MASK, Secret

TOPIC_NAME = r"[A-Za-z0-9._-]{1,249}"
# The Alert schema's Severity symbols, lowest first; severity bands are keyed by them.
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
FUSION_POLICIES = ("max", "mean", "weighted", "k_of_n")
# What a window gets where a reading says a feature is missing (streamproc.windows.MissingPolicy).
MISSING_POLICIES = ("hold", "interpolate", "reject")


@dataclass(frozen=True)
class TopicSettings:
    """Topic names and how the embedded broker or `streamproc` creates them."""

    readings: str = setting(
        "sensors.readings", "Input: SensorReading and SensorReadingBatch records.", pattern=TOPIC_NAME
    )
    scores: str = setting("scores", "Output: AnomalyScore records.", pattern=TOPIC_NAME)
    alerts: str = setting("alerts", "Output: Alert records.", pattern=TOPIC_NAME)
    dead_letter: str = setting("readings.dlq", "Output: DeadLetter records.", pattern=TOPIC_NAME)
    feedback: str = setting("alerts.feedback", "Input: Feedback records.", pattern=TOPIC_NAME)
    partitions: int = setting(4, "Partitions of topics streamproc creates.", min=1)
    replication: int = setting(1, "Replication factor of topics streamproc creates.", min=1)

    def by_schema(self) -> dict[str, str]:
        """The topic of each schema of the contract, by schema short name."""
        return {
            "SensorReading": self.readings,
            "SensorReadingBatch": self.readings,
            "AnomalyScore": self.scores,
            "Alert": self.alerts,
            "DeadLetter": self.dead_letter,
            "Feedback": self.feedback,
        }


@dataclass(frozen=True)
class WindowSettings:
    """The sliding window each detector scores."""

    size: int = setting(100, "Samples per window (W).", min=2)
    stride: int = setting(10, "New samples between two scored windows.", min=1)
    max_gap_periods: float = setting(
        10.0,
        "A reading more than this many sampling periods (the channel's, learned in training) after "
        "the previous one restarts the window, so no window spans a gap; 0 never restarts.",
        min=0.0,
    )
    missing_policy: str = setting(
        "hold",
        "What a window gets where a reading says a feature is missing: hold (its last value), "
        "interpolate (between its neighbours) or reject (the window is not scored).",
        choices=MISSING_POLICIES,
    )
    missing_limit: int = setting(
        3, "Longest run of missing steps of a feature that is filled; a window with a longer one is not scored.", min=0
    )
    missing_policies: dict[str, str] = setting({}, "Per-feature missing_policy, by feature name.")

    def __post_init__(self) -> None:
        for name, policy in self.missing_policies.items():
            if policy not in MISSING_POLICIES:
                raise ConfigError(
                    f"window.missing_policies.{name}: {policy!r} is not one of {', '.join(MISSING_POLICIES)}"
                )


@dataclass(frozen=True)
class DetectorSettings:
    """Which detectors run, where their models are and on what device."""

    # The pair whose fused alerts led the alert backtest (BENCHMARKS.md, "Alert defaults"): the
    # structure-aware model beside pca, which catches what it misses on some channels.
    enabled: list[str] = setting(["structure_aware", "pca"], "Detector plugin names to run.", nonempty=True)
    models_dir: str = setting("models", "Folder of trained model artifacts, one subfolder per detector.", nonempty=True)
    device: str = setting("auto", "auto, cpu, cuda or cuda:N.", pattern=r"auto|cpu|cuda(:\d+)?")
    config: dict[str, dict[str, Any]] = setting({}, "Per-detector overrides of the plugin's default config.")
    reload_interval_s: float = setting(
        10.0, "How often a worker looks for newly promoted or rolled-back models (seconds; 0: never).", min=0.0
    )


@dataclass(frozen=True)
class FusionSettings:
    """How detector scores become alerts."""

    # Policy and hysteresis were chosen by alert F1 on a development split (half of SMAP's channels;
    # BENCHMARKS.md, "Alert defaults") and confirmed on the other half and SKAB: fused
    # structure_aware + pca alerts, mean 4/20 0.604 on development and 0.642 held out, against
    # 0.431 and 0.491 for mean 3/5 and 0.374 and 0.620 for max 3/5. With one detector every policy
    # is that detector.
    policy: str = setting("mean", "How normalised detector scores are combined.", choices=FUSION_POLICIES)
    weights: dict[str, float] = setting({}, "Per-detector weights of the weighted policy (default 1).")
    k: int = setting(1, "Detectors that must agree under the k_of_n policy.", min=1)
    threshold: float = setting(
        1.0, "Fused score (1.0 = a detector's threshold) above which a window counts as anomalous.", min=0.0
    )
    open_after: int = setting(4, "Consecutive anomalous windows that open an alert.", min=1)
    resolve_after: int = setting(20, "Consecutive normal windows that resolve an open alert.", min=1)
    feedback_step: float = setting(
        0.1, "How far one verdict moves a detector's threshold scale on a channel (a factor of 1 + step).", min=0.0
    )
    feedback_max_scale: float = setting(
        4.0, "Bound of the threshold scales feedback sets: within [1/max, max].", min=1.0
    )
    severity_bands: dict[str, float] = setting(
        {"LOW": 1.0, "MEDIUM": 2.0, "HIGH": 4.0, "CRITICAL": 8.0},
        "Lowest fused score of each severity (LOW, MEDIUM, HIGH, CRITICAL), increasing.",
    )

    def __post_init__(self) -> None:
        # Environment keys arrive lower-cased; severities are the Alert schema's upper-case symbols.
        object.__setattr__(self, "severity_bands", {k.upper(): v for k, v in self.severity_bands.items()})
        unknown = sorted(set(self.severity_bands) - set(SEVERITIES))
        if unknown:
            raise ConfigError(
                f"fusion.severity_bands: unknown severity {unknown[0]!r}; expected some of {', '.join(SEVERITIES)}"
            )
        bounds = [self.severity_bands[s] for s in SEVERITIES if s in self.severity_bands]
        if not bounds or any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
            raise ConfigError(
                "fusion.severity_bands: expected at least one band, bounds increasing from LOW to CRITICAL"
            )
        negative = sorted(name for name, weight in self.weights.items() if weight < 0)
        if negative:
            raise ConfigError(f"fusion.weights.{negative[0]}: expected a non-negative number")

    def severity(self, fused_score: float) -> str | None:
        """The highest severity whose band starts at or below ``fused_score``; None below every band."""
        found = None
        for name in SEVERITIES:
            if name in self.severity_bands and fused_score >= self.severity_bands[name]:
                found = name
        return found


@dataclass(frozen=True)
class WorkerSettings:
    """The Faust worker process."""

    web_port: int = setting(6066, "Port of the worker's web server (metrics, health).", min=1, max=65535)
    batch_size: int = setting(256, "Most windows scored in one detector call.", min=1)
    batch_within_s: float = setting(0.05, "Longest wait (seconds) to fill a batch.", min=0.0)
    timestamp_grace_ms: int = setting(1000, "How far (ms) a reading may go back in time and still be accepted.", min=0)
    stale_after_s: float = setting(
        300.0,
        "A channel that sends no reading for this long (seconds, wall clock) raises a STALE alert, "
        "resolved when its readings return; 0 never does.",
        min=0.0,
    )
    commit_interval_s: float = setting(
        2.8,
        "How often (seconds) consumed offsets are committed. A crash "
        "repeats at most this long a stretch of input, which "
        "a restarted worker recognises (README: delivery "
        "guarantees).",
        min=0.1,
    )
    log_format: str = setting(
        "text", "text (for people) or json (one object per line, for log shippers).", choices=("text", "json")
    )
    channel_metrics_limit: int = setting(
        1000,
        "Most channels that get series of their own on /metrics (last "
        "score, threshold, last reading, model versions); the first "
        "seen keep them.",
        min=0,
    )
    data_dir: str = setting(
        "",
        "Folder for Faust's local files (its tables live in memory and in their "
        "changelogs); empty: a temporary folder removed when the worker exits.",
    )


@dataclass(frozen=True)
class ForwardSettings:
    """`streamproc alerts forward`: alerts to Alertmanager and to a signed webhook."""

    alertmanager_url: Secret | None = setting(
        None,
        "Alertmanager's base URL (http://alertmanager:9093); alerts "
        "are posted to its API v2. Unset: no Alertmanager sink.",
    )
    webhook_url: Secret | None = setting(None, "URL every alert message is POSTed to as JSON. Unset: no webhook.")
    webhook_secret: Secret | None = setting(
        None, "Key of the webhook's HMAC-SHA256 signature header; unset: requests are not signed."
    )
    labels: dict[str, str] = setting({}, "Labels added to every forwarded alert (site, asset, team).")
    link_template: str = setting(
        "",
        "Link sent with each alert; {channel}, {alert_id}, {opened_at_ms} and "
        "{updated_at_ms} are filled in. Empty: no link.",
    )
    resend_interval_s: float = setting(
        60.0,
        "How often open alerts are posted to Alertmanager again (each "
        "post is valid for four intervals, as Prometheus does).",
        min=1.0,
    )
    timeout_s: float = setting(5.0, "Timeout of one HTTP request.", min=0.1)
    retries: int = setting(4, "Attempts after the first before a delivery is dead-lettered.", min=0)
    backoff_s: float = setting(0.5, "Wait before the first retry; doubled each time, with jitter.", min=0.0)
    max_backoff_s: float = setting(8.0, "Longest wait between two attempts.", min=0.0)
    group_id: str = setting("streamproc-alerts-forward", "Consumer group of the forwarder.", nonempty=True)
    lookback_s: float = setting(
        7 * 86400.0,
        "How far back the alerts topic is read, when partitions are assigned, to learn which alerts are still open.",
        min=0.0,
    )
    metrics_port: int = setting(6067, "Port of the forwarder's /metrics and /healthz.", min=1, max=65535)


@dataclass(frozen=True)
class Settings:
    """Everything streamproc is configured with; build it with :meth:`load`.

    Each layer overrides the one before: defaults, the TOML config file (``--config`` or
    ``STREAMPROC_CONFIG``), the environment (``STREAMPROC_<SECTION>__<KEY>``, plus
    ``KAFKA_BOOTSTRAP``), then explicit overrides (what CLI flags set).
    """

    kafka: KafkaSettings = setting(KafkaSettings(), "Kafka connection.")
    topics: TopicSettings = setting(TopicSettings(), "Topics.")
    window: WindowSettings = setting(WindowSettings(), "Windowing.")
    detectors: DetectorSettings = setting(DetectorSettings(), "Detectors.")
    fusion: FusionSettings = setting(FusionSettings(), "Fusion and alerting.")
    worker: WorkerSettings = setting(WorkerSettings(), "Worker process.")
    forward: ForwardSettings = setting(ForwardSettings(), "Alert forwarding.")
    embedded: bool = setting(True, "Start the embedded broker when kafka.bootstrap is unset.")

    def __post_init__(self) -> None:
        if self.fusion.policy == "k_of_n" and self.fusion.k > len(self.detectors.enabled):
            raise ConfigError(
                f"fusion.k: {self.fusion.k} exceeds the {len(self.detectors.enabled)} enabled detector(s)"
            )

    @classmethod
    def load(
        cls,
        config_file: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Resolve the settings from every layer; ConfigError names the first bad key.

        ``config_file`` defaults to ``$STREAMPROC_CONFIG`` (no file when unset); ``env`` to
        ``os.environ``. ``overrides`` takes dotted keys (``{"window.size": 64}``) or nested
        mappings; None values are skipped, so unset CLI flags can be passed as they are.
        """
        from ._resolve import resolve

        return cast(Settings, resolve(cls, config_file, env, overrides))

    @property
    def uses_embedded_broker(self) -> bool:
        """Whether the embedded broker should be started: no bootstrap configured and embedded on."""
        return self.embedded and not self.kafka.bootstrap

    def to_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """Plain nested data; secrets appear as ``***`` unless ``reveal_secrets``."""
        return cast(dict[str, Any], _plain(self, reveal_secrets))


def _plain(value: Any, reveal: bool) -> Any:
    if isinstance(value, Secret):
        return value.reveal() if reveal else MASK
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name), reveal) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v, reveal) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, reveal) for v in value]
    return value
