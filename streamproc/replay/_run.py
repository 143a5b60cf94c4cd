"""``streamproc replay``: test streams through trained models, then scores, metrics, report, plots."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from streamproc import __version__
from streamproc.datasets import load_telemanom
from streamproc.detection import DetectorRegistry
from streamproc.metrics import DEFAULT_MAX_BUFFER, DEFAULT_THRESHOLDS, HEADLINE, ChannelSeries, evaluate_channels
from streamproc.thresholds import ADAPTATIONS, Spot
from streamproc.training import ModelStore, TrainedModel, data_fingerprint

from ._errors import ReplayError
from ._plots import plot_channel
from ._report import render_report
from ._stream import random_baseline, replay_model

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"


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

    @property
    def random_name(self) -> str:
        return f"random_{100 * self.random_rate:g}pct".replace(".", "_")


def replay(data: Path | str, models: Path | str, detectors: Sequence[str], out: Path | str, *,
           channels: Sequence[str] | None = None, settings: ReplaySettings | None = None,
           registry: DetectorRegistry | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Replay the test streams of ``data`` through ``models`` and write everything under ``out``.

    Returns the metrics written to ``OUT/metrics.json``.
    """
    settings = settings or ReplaySettings()
    log = log or (lambda message: None)
    data, models, out = Path(data), Path(models), Path(out)
    dataset = load_telemanom(data)
    store = ModelStore(models, registry)
    detectors = _check_detectors(detectors, store, settings)
    selected = dataset.select(channels)
    missing = {d: [c for c in selected if c not in set(store.channels(d))] for d in detectors}
    missing = {d: cs for d, cs in missing.items() if cs}
    if missing:
        detail = "; ".join(f"{d}: {', '.join(cs[:5])}{' ...' if len(cs) > 5 else ''}" for d, cs in missing.items())
        raise ReplayError(f"no trained model for some channels ({detail}); train them or pass --channels")

    series: dict[str, dict[str, ChannelSeries]] = {name: {} for name in [*detectors, settings.random_name]}
    thresholds: dict[str, dict[str, Any]] = {name: {} for name in detectors}
    foreign: list[str] = []
    for index, name in enumerate(selected, start=1):
        channel = dataset.channel(name)
        fingerprint = data_fingerprint(channel.train)
        for detector in detectors:
            model = store.load(detector, name)
            if model.n_features != channel.n_features:
                raise ReplayError(f"{detector}/{name}: model has {model.n_features} features, "
                                  f"the data has {channel.n_features}")
            if model.metadata["training"]["data_fingerprint"] != fingerprint:
                foreign.append(f"{detector}/{name}")
            spot = _threshold_for(model, settings)
            replayed = replay_model(model, channel.test, spot, settings.batch_size)
            replayed.save(out / "scores" / detector / f"{name}.npz")
            series[detector][name] = ChannelSeries(channel.labels, replayed.score, replayed.alarm,
                                                   replayed.calibrated_threshold)
            thresholds[detector][name] = {"calibrated": replayed.calibrated_threshold, "method": spot.method,
                                          "adaptation": spot.config.adaptation, "risk": spot.config.risk,
                                          "note": spot.note, "model_version": model.version}
            if settings.plots:
                plot_channel(out / "plots" / detector / f"{name}.png", title=f"{detector} on {name}",
                             signal=channel.test[:, 0], feature_name=channel.feature_names[0],
                             labels=channel.labels, replayed=replayed)
        baseline = random_baseline(name, len(channel.test), channel.n_features, settings.random_rate,
                                   settings.random_seed)
        series[settings.random_name][name] = ChannelSeries(channel.labels, baseline.score, baseline.alarm,
                                                           baseline.calibrated_threshold)
        log(f"[{index}/{len(selected)}] {name} replayed")
    if foreign:
        log(f"warning: {len(foreign)} model(s) were trained on other data than {data}: {', '.join(foreign[:5])}")

    results: dict[str, Any] = {}
    for name, per_channel in series.items():
        evaluation = evaluate_channels(per_channel, max_buffer=settings.vus_max_buffer,
                                       n_thresholds=settings.vus_thresholds)
        sanity = name == settings.random_name or store.registry.spec(name).sanity
        results[name] = {"sanity": sanity, **evaluation}
        if name in thresholds:
            results[name]["thresholds"] = thresholds[name]
    metrics = {
        "headline": HEADLINE,
        "settings": {
            "data": str(data), "models": str(models), "detectors": list(detectors), "channels": selected,
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "plots"},
            "random_baseline": settings.random_name,
            "models_trained_on_other_data": foreign,
            "library_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "detectors": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    (out / REPORT_FILE).write_text(render_report(metrics))
    return metrics


def _check_detectors(detectors: Sequence[str], store: ModelStore, settings: ReplaySettings) -> list[str]:
    names = [d.strip() for d in detectors if d.strip()]
    if not names:
        raise ReplayError("no detectors given")
    if settings.random_name in names:
        raise ReplayError(f"{settings.random_name!r} is the built-in sanity baseline, always included")
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
    overrides = {k: v for k, v in (("adaptation", settings.adaptation), ("risk", settings.risk)) if v is not None}
    return model.recalibrated(dataclasses.replace(model.threshold_state.config, **overrides))
