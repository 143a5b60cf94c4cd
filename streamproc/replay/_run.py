"""``streamproc replay``: the backtest of the product on recorded data.

Each channel's test stream (after the end of its training data, which a running worker's window
holds) goes two ways:

- **point level**: every step scored by each detector's model, against its label-free
  threshold: the scores, alarms and point/event metrics of each detector;
- **alert level**: through the pipeline a worker runs with the same configuration (windows every
  ``window.stride`` steps, detectors, thresholds, fusion, hysteresis, severities), once for the
  detectors fused as configured (``OUT/alerts.jsonl``) and once for each detector alone: the
  alerts operators would have received, judged against the labelled incidents.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from streamproc import __version__
from streamproc.config import Settings
from streamproc.datasets import DEFAULT_START_MS, DEFAULT_STEP_MS, TableOptions, open_dataset
from streamproc.detection import DetectorRegistry
from streamproc.metrics import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_THRESHOLDS,
    HEADLINE,
    AlertCounts,
    ChannelSeries,
    caught_incidents,
    evaluate_channels,
    total_alert_counts,
)
from streamproc.pipeline import describe_gaps
from streamproc.thresholds import ADAPTATIONS, Spot
from streamproc.training import ModelStore, TrainedModel, data_fingerprint
from streamproc.windows import hold_everywhere

from ._alerts import ChannelAlert, write_alerts
from ._backtest import Backtest
from ._errors import ReplayError
from ._plots import plot_channel
from ._report import render_report
from ._stream import ReplayedChannel, random_baseline, replay_model

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
ALERTS_FILE = "alerts.jsonl"
# The name of the configured pipeline (every detector fused) among the alert-level results.
PIPELINE = "pipeline"


@dataclass(frozen=True)
class ReplaySettings:
    """``adaptation``/``risk`` override what each model stored (None keeps it): thresholds are
    recalibrated from the model's stored calibration scores, never from test data."""

    batch_size: int = 1024
    adaptation: str | None = None
    risk: float | None = None
    vus_max_buffer: int = DEFAULT_MAX_BUFFER
    vus_thresholds: int = DEFAULT_THRESHOLDS
    random_rate: float = 0.02
    random_seed: int = 0
    plots: bool = True
    early_warning: int = 0
    start_ms: int = DEFAULT_START_MS
    step_ms: int = DEFAULT_STEP_MS

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ReplayError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.random_rate < 1.0:
            raise ReplayError(f"random rate must be in (0, 1), got {self.random_rate}")
        if self.vus_max_buffer < 0:
            raise ReplayError(f"VUS max buffer must be >= 0, got {self.vus_max_buffer}")
        if self.adaptation is not None and self.adaptation not in ADAPTATIONS:
            raise ReplayError(f"adaptation must be one of {', '.join(ADAPTATIONS)}, got {self.adaptation!r}")
        if self.risk is not None and not 0.0 < self.risk < 1.0:
            raise ReplayError(f"risk must be in (0, 1), got {self.risk}")
        if self.early_warning < 0:
            raise ReplayError(f"early warning must be >= 0 steps, got {self.early_warning}")
        if self.step_ms < 1:
            raise ReplayError(f"step must be >= 1 ms, got {self.step_ms}")

    @property
    def random_name(self) -> str:
        return f"random_{100 * self.random_rate:g}pct".replace(".", "_")


def replay(
    data: Path | str,
    models: Path | str,
    detectors: Sequence[str],
    out: Path | str,
    *,
    channels: Sequence[str] | None = None,
    settings: ReplaySettings | None = None,
    config: Settings | None = None,
    table: TableOptions | None = None,
    registry: DetectorRegistry | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay the test streams of ``data`` through ``models`` and write everything under ``out``.

    ``config`` is the worker configuration the alert-level backtest runs with (default: the
    defaults); its window size is taken from the models. ``table`` reads CSV/Parquet files
    (see :func:`streamproc.datasets.open_dataset`). Returns the metrics written to
    ``OUT/metrics.json``.
    """
    settings = settings or ReplaySettings()
    config = config or Settings()
    log = log or (lambda message: None)
    data, models, out = Path(data), Path(models), Path(out)
    dataset = open_dataset(data, table)
    store = ModelStore(models, registry)
    detectors = _check_detectors(detectors, store, settings)
    selected = dataset.select(channels)
    missing = {d: [c for c in selected if c not in set(store.channels(d))] for d in detectors}
    missing = {d: cs for d, cs in missing.items() if cs}
    if missing:
        detail = "; ".join(f"{d}: {', '.join(cs[:5])}{' ...' if len(cs) > 5 else ''}" for d, cs in missing.items())
        raise ReplayError(f"no trained model for some channels ({detail}); train them or pass --channels")

    pipelines = _pipelines(detectors)
    series: dict[str, dict[str, ChannelSeries]] = {name: {} for name in [*detectors, settings.random_name]}
    thresholds: dict[str, dict[str, Any]] = {name: {} for name in detectors}
    alerts: dict[str, dict[str, AlertCounts]] = {name: {} for name in pipelines}
    alert_lists: dict[str, dict[str, list[ChannelAlert]]] = {name: {} for name in pipelines}
    rejected: dict[str, int] = {name: 0 for name in pipelines}
    unscored: dict[str, int] = {name: 0 for name in pipelines}
    restarts: dict[str, int] = {name: 0 for name in pipelines}
    silences: dict[str, int] = {name: 0 for name in pipelines}
    backtests: dict[str, Backtest] = {}
    alert_tables: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in pipelines}
    foreign: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    alert_files: dict[str, TextIO] = {}
    try:
        for index, name in enumerate(selected, start=1):
            channel = dataset.channel(name)
            fingerprint = data_fingerprint(channel.train)
            loaded: dict[str, TrainedModel] = {}
            replays: dict[str, ReplayedChannel] = {}
            for detector in detectors:
                model = loaded[detector] = store.load(detector, name)
                if model.n_features != channel.n_features:
                    raise ReplayError(
                        f"{detector}/{name}: model has {model.n_features} features, the data has {channel.n_features}"
                    )
                if model.metadata["training"]["data_fingerprint"] != fingerprint:
                    foreign.append(f"{detector}/{name}")
                spot = _threshold_for(model, settings)
                # Point level scores every step: missing values held (alerts follow the policy).
                replayed = replay_model(
                    model,
                    hold_everywhere(channel.test),
                    spot,
                    settings.batch_size,
                    history=hold_everywhere(channel.train[len(channel.train) - (model.window - 1) :]),
                )
                replayed.save(out / "scores" / detector / f"{name}.npz")
                series[detector][name] = ChannelSeries(
                    channel.labels, replayed.score, replayed.alarm, replayed.calibrated_threshold
                )
                thresholds[detector][name] = {
                    "calibrated": replayed.calibrated_threshold,
                    "method": spot.method,
                    "adaptation": spot.config.adaptation,
                    "risk": spot.config.risk,
                    "note": spot.note,
                    "model_version": model.version,
                }
                replays[detector] = replayed
            for pipeline, members in pipelines.items():
                backtest = backtests.get(pipeline)
                if backtest is None:
                    windows = {d: loaded[d].window for d in members}
                    backtest = backtests[pipeline] = Backtest.of_models(config, store, windows)
                    if pipeline == PIPELINE or len(pipelines) == 1:
                        size = backtest.settings.window.size
                        if size != config.window.size:
                            log(
                                f"warning: window.size is {config.window.size} but the models use windows of "
                                f"{size}: a worker with this configuration would refuse them; the backtest "
                                f"uses {size} (set window.size = {size} for the worker)"
                            )
                    alert_files[pipeline] = _alert_file(out, pipeline, pipelines)
                judged = backtest.judge(
                    channel, early_warning=settings.early_warning, start_ms=settings.start_ms, step_ms=settings.step_ms
                )
                write_alerts(alert_files[pipeline], judged.result.events)
                alert_lists[pipeline][name] = judged.alerts
                caught = caught_incidents([a.span for a in judged.alerts], channel.labels, settings.early_warning)
                alert_tables[pipeline][name] = [_alert_json(a, c) for a, c in zip(judged.alerts, caught, strict=False)]
                rejected[pipeline] += judged.rejected
                unscored[pipeline] += judged.result.unscored
                restarts[pipeline] += len(judged.result.gaps)
                silences[pipeline] += sum(e.state == "OPEN" for e in judged.result.stale_events)
                for failure in judged.result.failures[:3]:
                    log(f"{pipeline} on {name}: {failure}")
                if judged.result.gaps and pipeline == next(iter(pipelines)):
                    log(f"{name}: {describe_gaps(judged.result.gaps)}")
                alerts[pipeline][name] = judged.counts
            baseline = random_baseline(
                name, len(channel.test), channel.n_features, settings.random_rate, settings.random_seed
            )
            series[settings.random_name][name] = ChannelSeries(
                channel.labels, baseline.score, baseline.alarm, baseline.calibrated_threshold
            )
            if settings.plots:
                times = channel.test_timestamps
                for pipeline, members in pipelines.items():
                    title = f"{_describe(members, backtests[pipeline].settings)} on {name}"
                    plot_channel(
                        out / "plots" / pipeline / f"{name}.png",
                        title=title,
                        signal=channel.test[:, 0],
                        feature_name=channel.feature_names[0],
                        labels=channel.labels,
                        replayed=replays.get(pipeline),
                        alerts=alert_lists[pipeline][name],
                        timestamps_ms=times,
                    )
            log(f"[{index}/{len(selected)}] {name} replayed")
    finally:
        for stream in alert_files.values():
            stream.close()
    if foreign:
        log(f"warning: {len(foreign)} model(s) were trained on other data than {data}: {', '.join(foreign[:5])}")

    results: dict[str, Any] = {}
    for name, per_channel in series.items():
        evaluation = evaluate_channels(
            per_channel, max_buffer=settings.vus_max_buffer, n_thresholds=settings.vus_thresholds
        )
        sanity = name == settings.random_name or store.registry.spec(name).sanity
        results[name] = {"sanity": sanity, **evaluation}
        if name in thresholds:
            results[name]["thresholds"] = thresholds[name]
    alert_results = {}
    for pipeline, counts_by_channel in alerts.items():
        backtest = backtests[pipeline]
        section = {
            "detectors": backtest.detectors,
            "window": backtest.settings.window.size,
            "stride": backtest.settings.window.stride,
            "fusion": _fusion_json(backtest.settings),
            "readings_rejected": rejected[pipeline],
            "windows_not_scored": unscored[pipeline],
            "window_restarts": restarts[pipeline],
            "stale_alerts": silences[pipeline],
            # A worker scores against each model's stored threshold; --adaptation/--risk change the
            # point level only.
            "thresholds": "as stored in each model",
            "alerts_file": str(Path(alert_files[pipeline].name).relative_to(out)),
            "channels": {name: counts.to_json() for name, counts in counts_by_channel.items()},
            "micro": total_alert_counts(counts_by_channel.values()).to_json(),
            "alert_list": alert_tables[pipeline],
        }
        alert_results[pipeline] = section
        if pipeline in results:
            results[pipeline]["alerts"] = section
    metrics = {
        "headline": HEADLINE,
        "settings": {
            "data": str(data),
            "models": str(models),
            "detectors": list(detectors),
            "channels": selected,
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "plots"},
            "random_baseline": settings.random_name,
            "models_trained_on_other_data": foreign,
            "library_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "detectors": results,
        "pipeline": alert_results.get(PIPELINE) or alert_results[detectors[0]],
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    (out / REPORT_FILE).write_text(render_report(metrics))
    return metrics


def _pipelines(detectors: Sequence[str]) -> dict[str, list[str]]:
    """The alert-level runs: every detector fused as configured (``PIPELINE``), and each alone.

    With one detector the two are the same run, named after the detector.
    """
    alone = {d: [d] for d in detectors}
    return {PIPELINE: list(detectors), **alone} if len(detectors) > 1 else alone


def _alert_file(out: Path, pipeline: str, pipelines: Mapping[str, Sequence[str]]) -> TextIO:
    """``OUT/alerts.jsonl`` for the configured pipeline (the only one with one detector), else
    ``OUT/alerts/<detector>.jsonl`` for a detector alone."""
    if pipeline == PIPELINE or len(pipelines) == 1:
        path = out / ALERTS_FILE
    else:
        path = out / "alerts" / f"{pipeline}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w")


def _fusion_json(config: Settings) -> dict[str, Any]:
    fusion = config.fusion
    return {
        "policy": fusion.policy,
        "weights": dict(fusion.weights),
        "k": fusion.k,
        "threshold": fusion.threshold,
        "open_after": fusion.open_after,
        "resolve_after": fusion.resolve_after,
        "severity_bands": dict(fusion.severity_bands),
    }


def _describe(detectors: Sequence[str], config: Settings) -> str:
    fusion = config.fusion
    fused = f", {fusion.policy}" if len(detectors) > 1 else ""
    return (
        f"{' + '.join(detectors)} (alerts: open after {fusion.open_after}, resolve after "
        f"{fusion.resolve_after} windows of stride {config.window.stride}{fused})"
    )


def _alert_json(alert: ChannelAlert, caught: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """An alert as the report lists it: test steps, severity, features, the incidents it caught."""
    return {
        "alert_id": alert.alert_id,
        "opened": alert.span.opened,
        "closed": alert.span.closed,
        "resolved": alert.resolved,
        "severity": alert.severity,
        "announced_score": alert.announced_score,
        "top_features": list(alert.top_features),
        "caught": [list(c) for c in caught],
    }


def _check_detectors(detectors: Sequence[str], store: ModelStore, settings: ReplaySettings) -> list[str]:
    names = [d.strip() for d in detectors if d.strip()]
    if not names:
        raise ReplayError("no detectors given")
    if settings.random_name in names:
        raise ReplayError(f"{settings.random_name!r} is the built-in sanity baseline, always included")
    if PIPELINE in names:
        raise ReplayError(f"{PIPELINE!r} names the fused pipeline in the results; rename that detector")
    duplicates = sorted({d for d in names if names.count(d) > 1})
    if duplicates:
        raise ReplayError(f"detector(s) listed twice: {', '.join(duplicates)}")
    for name in names:
        if not store.channels(name):
            available = ", ".join(store.detectors()) or "none"
            raise ReplayError(f"no trained {name!r} models under {store.root} (available: {available})")
    return names


def _threshold_for(model: TrainedModel, settings: ReplaySettings) -> Spot:
    if settings.adaptation is None and settings.risk is None:
        return model.threshold_state.copy()
    overrides: dict[str, Any] = {
        k: v for k, v in (("adaptation", settings.adaptation), ("risk", settings.risk)) if v is not None
    }
    return model.recalibrated(dataclasses.replace(model.threshold_state.config, **overrides))
