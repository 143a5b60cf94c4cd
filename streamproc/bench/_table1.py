"""``streamproc bench table1``: every detector trained and evaluated on the same channels with
one protocol, measured beside the figures the paper's Table 1 publishes.

The protocol, the same for every detector:

- **training**: per channel, :func:`streamproc.training.train_channel` (robust scaling, the
  last ``validation_fraction`` of the training series held out, a label-free POT threshold
  calibrated on the held-out scores). Models live in a :class:`ModelStore`
  (``MODELS/<detector>/<channel>/``, the layout ``streamproc train`` writes, so ``streamproc
  replay --models MODELS`` replays them); a stored model trained with the same config, options
  and data is reused, so a rerun trains only what is missing.
- **scoring**: the test stream, after the end of the training data (a running worker's window
  holds it), goes through :func:`streamproc.replay.replay_model` (the code path of the replay and
  of the stream) with the model's own threshold; streams are kept under ``OUT/scores`` and
  reused while current (:class:`ScoreCache`).
- **alerts**: the detector alone through the pipeline a worker runs with the default
  configuration (:class:`streamproc.replay.Backtest`): incidents caught, alert precision and F1,
  false alerts per 10,000 steps.
- **metrics**: :func:`streamproc.metrics.evaluate_channels`: micro totals over the channels
  (the headline) and macro means; point-adjusted, point-wise and event-wise P/R/F1, VUS-PR,
  and best F1 over all thresholds marked as an oracle.
- **cost**: training seconds are the ``train_channel`` wall times stored in each model's
  metadata (scaling, fit and calibration, as measured when the model was trained), summed over
  channels; scoring windows/s are the full windows scored over the summed wall time of
  ``replay_model`` (scaling, batched :meth:`TrainedModel.score`, the fixed threshold).
- **sanity rows**: ``range`` is always run, and the replay's random baseline (uniform scores,
  top ``random_rate`` alarmed) is always evaluated on the same streams.

A detector that fails to train or to score on any channel is reported as failed, with every
failing channel and its error; it gets no metrics, which would cover other channels than the
other rows. The others carry on. ``OUT/table1.json`` and ``OUT/table1.md`` are rewritten after
each detector, so a long run's finished rows are readable while the rest is running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamproc import __version__
from streamproc.config import Settings
from streamproc.datasets import TelemanomDataset, load_telemanom
from streamproc.detection import DetectorRegistry, DetectorSpec
from streamproc.metrics import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_THRESHOLDS,
    HEADLINE,
    AlertCounts,
    ChannelSeries,
    evaluate_channels,
    total_alert_counts,
)
from streamproc.replay import Backtest, ReplaySettings, random_baseline
from streamproc.training import ModelStore, TrainingOptions, data_fingerprint, resolve_config, train_channel

from ._errors import BenchError
from ._machine import describe_machine
from ._published import PUBLISHED_SMAP, published_figure
from ._scored import ScoreCache
from ._table1_markdown import render_table1

TABLE1_JSON = "table1.json"
TABLE1_MARKDOWN = "table1.md"
TABLE1_KIND = "streamproc.table1"
TABLE1_FORMAT = 1
RANGE_DETECTOR = "range"


@dataclass(frozen=True)
class Table1Settings:
    """What to run. ``detectors`` empty means every installed detector; ``range`` is added when
    missing. ``overrides`` maps a detector to its config overrides (``--set det.key=value``)."""

    detectors: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    training: TrainingOptions = field(default_factory=TrainingOptions)
    batch_size: int = 1024
    random_rate: float = 0.02
    random_seed: int = 0
    vus_max_buffer: int = DEFAULT_MAX_BUFFER
    vus_thresholds: int = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "detectors", tuple(self.detectors))
        twice = sorted({d for d in self.detectors if self.detectors.count(d) > 1})
        if twice:
            raise BenchError(f"detector(s) listed twice: {', '.join(twice)}")
        if self.random_name in self.detectors:
            raise BenchError(f"{self.random_name!r} is the built-in sanity baseline, always included")
        if self.batch_size < 1 or self.vus_max_buffer < 0 or self.vus_thresholds < 2:
            raise BenchError("batch size must be >= 1, VUS max buffer >= 0 and VUS thresholds >= 2")

    @property
    def random_name(self) -> str:
        # The replay's own sanity row, validated and named by the replay's settings.
        try:
            return ReplaySettings(random_rate=self.random_rate).random_name
        except ValueError as exc:
            raise BenchError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
            "training": self.training.to_json(),
            "batch_size": self.batch_size,
            "random_baseline": self.random_name,
            "random_rate": self.random_rate,
            "random_seed": self.random_seed,
            "vus_max_buffer": self.vus_max_buffer,
            "vus_thresholds": self.vus_thresholds,
        }


def default_detectors(registry: DetectorRegistry) -> list[str]:
    """Every installed detector: those of the paper's Table 1 in its order, then the rest by name."""
    installed = registry.names()
    quoted = [f.detector for f in PUBLISHED_SMAP if f.detector in installed]
    return quoted + sorted(set(installed) - set(quoted))


def run_table1(
    data: Path | str,
    out: Path | str,
    settings: Table1Settings | None = None,
    *,
    channels: Sequence[str] | None = None,
    models: Path | str | None = None,
    registry: DetectorRegistry | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train (or reuse) and evaluate every detector of ``settings`` on the telemanom data set
    ``data``; write ``OUT/table1.json`` and ``OUT/table1.md``; return the JSON."""
    started = time.perf_counter()
    settings = settings or Table1Settings()
    log = log or (lambda message: None)
    data, out = Path(data), Path(out)
    registry = registry or DetectorRegistry()
    names = _detector_order(settings, registry)
    specs = {name: registry.spec(name) for name in names}
    # Config errors are the user's and surface before any training, never as a failed row.
    configs = {name: resolve_config(specs[name], settings.overrides.get(name, {})) for name in names}
    dataset = load_telemanom(data)
    selected = dataset.select(channels)
    store = ModelStore(Path(models) if models is not None else out / "models", registry)
    scores = ScoreCache(out / "scores", settings.batch_size)

    result: dict[str, Any] = {
        "kind": TABLE1_KIND,
        "format": TABLE1_FORMAT,
        "complete": False,
        "headline": HEADLINE,
        "settings": {
            "data": str(data),
            "channels": selected,
            "detectors": names,
            "detector_configs": configs,
            "models": str(store.root),
            "scores": str(scores.root),
            **settings.to_json(),
            "library_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "machine": describe_machine(),
        "published": [figure.to_json() for figure in PUBLISHED_SMAP],
        "detectors": {},
        "run": {},
    }
    result["detectors"][settings.random_name] = _random_row(dataset, selected, settings)
    for name in names:
        log(f"{name}: {len(selected)} channel(s)")
        result["detectors"][name] = _detector_row(
            specs[name], configs[name], dataset, selected, settings, store, scores, registry, log
        )
        _finish(result, started)
        _write(out, result)
    result["complete"] = True
    _finish(result, started)
    _write(out, result)
    return result


def _detector_order(settings: Table1Settings, registry: DetectorRegistry) -> list[str]:
    installed = registry.names()
    names = list(settings.detectors) or default_detectors(registry)
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise BenchError(f"unknown detector(s) {', '.join(unknown)}; installed: {', '.join(installed)}")
    if RANGE_DETECTOR not in installed:
        raise BenchError(f"the sanity detector {RANGE_DETECTOR!r} is not installed; every table carries it")
    if RANGE_DETECTOR not in names:
        names.append(RANGE_DETECTOR)
    stray = sorted(set(settings.overrides) - set(names))
    if stray:
        raise BenchError(f"--set names detector(s) not being run: {', '.join(stray)}")
    # Detectors first, sanity rows last, each group in the order given.
    return [n for n in names if not registry.spec(n).sanity] + [n for n in names if registry.spec(n).sanity]


def _random_row(dataset: TelemanomDataset, selected: list[str], settings: Table1Settings) -> dict[str, Any]:
    series = {}
    for name in selected:
        channel = dataset.channel(name)
        baseline = random_baseline(
            name, len(channel.test), channel.n_features, settings.random_rate, settings.random_seed
        )
        series[name] = ChannelSeries(channel.labels, baseline.score, baseline.alarm, baseline.calibrated_threshold)
    return {
        "status": "ok",
        "sanity": True,
        "config": {"rate": settings.random_rate, "seed": settings.random_seed},
        "published": None,
        "training": None,
        "scoring": None,
        "failures": [],
        **_evaluate(series, settings),
    }


def _detector_row(
    spec: DetectorSpec,
    config: dict[str, Any],
    dataset: TelemanomDataset,
    selected: list[str],
    settings: Table1Settings,
    store: ModelStore,
    scores: ScoreCache,
    registry: DetectorRegistry,
    log: Callable[[str], None],
) -> dict[str, Any]:
    name = spec.name
    options = settings.training.to_json()
    series: dict[str, ChannelSeries] = {}
    failures: list[dict[str, str]] = []
    training: dict[str, Any] = {
        "seconds": 0.0,
        "fit_seconds": 0.0,
        "models_trained": 0,
        "models_reused": 0,
        "per_channel": {},
    }
    scoring: dict[str, Any] = {"windows": 0, "seconds": 0.0, "streams_scored": 0, "streams_reused": 0}
    alerts: dict[str, AlertCounts] = {}
    backtest: Backtest | None = None
    for index, channel_name in enumerate(selected, start=1):
        channel = dataset.channel(channel_name)
        prefix = f"  [{index}/{len(selected)}] {name} {channel_name}"
        stage = "training"
        try:
            stored = store.reuse(
                name,
                channel_name,
                config=config,
                options=options,
                fingerprint=data_fingerprint(channel.train),
                covariates=channel.covariates,
            )
            reused = stored is not None
            if stored is not None:
                model = stored.model
            else:
                model = train_channel(
                    spec,
                    channel_name,
                    channel.train,
                    config=config,
                    options=settings.training,
                    feature_names=channel.feature_names,
                    covariates=channel.covariates,
                    registry=registry,
                )
                store.save(model)
            stage = "scoring"
            timed = scores.replay(model, channel.test, channel.train)
            stage = "alerting"
            if backtest is None:
                backtest = Backtest.of_models(Settings(), store, {name: model.window})
            alerts[channel_name] = backtest.judge(channel).counts
        except Exception as exc:  # a plugin's failure is a result of the benchmark, not its end
            failures.append({"channel": channel_name, "stage": stage, "error": f"{type(exc).__name__}: {exc}"})
            log(f"{prefix}: FAILED in {stage}: {type(exc).__name__}: {exc}")
            continue
        report = model.metadata["training"]
        training["seconds"] += float(report["seconds"])
        training["fit_seconds"] += float(report["fit_report"]["seconds"])
        training["models_reused" if reused else "models_trained"] += 1
        training["per_channel"][channel_name] = float(report["seconds"])
        scoring["windows"] += timed.windows
        scoring["seconds"] += timed.seconds
        scoring["streams_reused" if timed.reused else "streams_scored"] += 1
        series[channel_name] = ChannelSeries(
            channel.labels, timed.replayed.score, timed.replayed.alarm, timed.replayed.calibrated_threshold
        )
        scored = "stored scores of" if timed.reused else "scored"
        log(
            f"{prefix}: {'stored' if reused else 'trained'} model (trained in {report['seconds']:.1f}s), "
            f"{scored} {timed.windows} windows ({timed.windows / max(timed.seconds, 1e-9):,.0f}/s)"
        )
    scoring["windows_per_second"] = scoring["windows"] / scoring["seconds"] if scoring["seconds"] > 0 else None
    figure = published_figure(name)
    row: dict[str, Any] = {
        "status": "failed" if failures else "ok",
        "sanity": spec.sanity,
        "config": config,
        "published": figure.to_json() if figure else None,
        "training": training,
        "scoring": scoring,
        "failures": failures,
    }
    if failures:
        log(f"{name}: FAILED on {len(failures)} of {len(selected)} channel(s); no metrics")
        return row
    row.update(_evaluate(series, settings))
    row["alerts"] = {
        "channels": {c: counts.to_json() for c, counts in alerts.items()},
        "micro": total_alert_counts(alerts.values()).to_json(),
    }
    micro = row["micro"]
    log(
        f"{name}: PA-F1 {micro['point_adjusted']['f1']:.3f}  PW-F1 {micro['point_wise']['f1']:.3f}  "
        f"train {training['seconds']:.1f}s"
    )
    return row


def _evaluate(series: Mapping[str, ChannelSeries], settings: Table1Settings) -> dict[str, Any]:
    return evaluate_channels(series, max_buffer=settings.vus_max_buffer, n_thresholds=settings.vus_thresholds)


def _finish(result: dict[str, Any], started: float) -> None:
    rows = [r for r in result["detectors"].values() if r["training"] is not None]
    result["run"] = {
        "seconds": time.perf_counter() - started,
        "models_trained": sum(r["training"]["models_trained"] for r in rows),
        "models_reused": sum(r["training"]["models_reused"] for r in rows),
        "streams_scored": sum(r["scoring"]["streams_scored"] for r in rows),
        "streams_reused": sum(r["scoring"]["streams_reused"] for r in rows),
        "failed": [name for name, r in result["detectors"].items() if r["status"] == "failed"],
    }
    # torch is loaded once a neural detector ran: describe the machine again to include it.
    result["machine"] = describe_machine()


def _write(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / TABLE1_JSON).write_text(json.dumps(result, indent=2) + "\n")
    (out / TABLE1_MARKDOWN).write_text(render_table1(result))
