"""``streamproc bench sensitivity``: how detectors hold up as the anomaly ratio, the noise level
and the window length change, over several seeds.

Three studies share one pass over the channels:

- **ratio**: models trained on clean data at each detector's configured window score the whole
  test stream once; each target ratio is then evaluated on a slice of that stream cut by
  :func:`crop_to_ratio` (the detector ran over the whole stream, so the slice's first steps
  have their history). Only channels where every target is reachable take part, so every
  target is measured on the same channels.
- **noise**: Gaussian noise of a share of each feature's training standard deviation
  (:func:`add_relative_noise`) is added to the test stream and scored by the clean models
  (variant ``eval_only``), and added to the training data too, with models retrained on it
  (variant ``train_and_eval``); ``noise_variants`` selects either or both.
- **window**: models retrained at each window length, scored on the clean test stream.

Seeds 0..N-1: each seeds the detectors (their ``seed`` setting is replaced by it), the ratio
slices and the noise draws. With ``reseed_models=False`` every seed uses the models trained with
detector seed 0, which saves retraining detectors whose training has no randomness (``pca``
below its ``max_train_windows``); the seeds then vary the slices and noise only. Thresholds are each
model's own label-free POT threshold; metrics
are micro totals over the channels (:func:`micro_metrics`), summarised over seeds as mean and
sample standard deviation. The random sanity baseline of the replay (uniform scores, its top
``random_rate`` alarmed) is measured alongside, on the same streams.
"""

from __future__ import annotations

import functools
import json
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamproc import __version__
from streamproc.datasets import ChannelData, labels_from_segments, load_telemanom
from streamproc.detection import DetectorRegistry, DetectorSpec
from streamproc.metrics import DEFAULT_MAX_BUFFER, DEFAULT_THRESHOLDS, ChannelSeries
from streamproc.replay import ReplayedChannel, random_baseline, replay_model
from streamproc.training import TrainedModel, TrainingOptions, resolve_config, resolve_spec

from ._cache import ModelCache, ModelKey
from ._errors import BenchError
from ._figures import plot_study
from ._markdown import render_markdown
from ._micro import METRICS, micro_metrics
from ._noise import add_relative_noise, feature_scale, unit_noise
from ._ratio import RatioCrop, RatioInfeasible, crop_to_ratio, ratio_fraction

STUDIES = ("ratio", "noise", "window")
DEFAULT_RATIOS = (0.005, 0.01, 0.02, 0.05, 0.10)
DEFAULT_NOISE_LEVELS = (0.0, 0.01, 0.05, 0.10, 0.20)
DEFAULT_WINDOWS = (16, 32, 64, 100, 128)
NOISE_VARIANTS = ("eval_only", "train_and_eval")
RESULT_FILE = "sensitivity.json"
MARKDOWN_FILE = "sensitivity.md"
RESULT_KIND = "streamproc.sensitivity"
RESULT_FORMAT = 1

# Stream identities: two study points that evaluate the same scores share one evaluation.
StreamKey = tuple[Any, ...]


def figure_file(study: str) -> str:
    return f"sensitivity_{study}.png"


@dataclass(frozen=True)
class SensitivitySettings:
    """What to sweep. ``overrides`` maps a detector to its config overrides (``--set det.key=v``)."""

    detectors: tuple[str, ...] = ("pca",)
    seeds: int = 3
    studies: tuple[str, ...] = STUDIES
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    noise_levels: tuple[float, ...] = DEFAULT_NOISE_LEVELS
    windows: tuple[int, ...] = DEFAULT_WINDOWS
    noise_variants: tuple[str, ...] = NOISE_VARIANTS
    reseed_models: bool = True
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    min_length: int = 500
    keep_fraction: float = 0.5
    training: TrainingOptions = field(default_factory=TrainingOptions)
    vus_max_buffer: int = DEFAULT_MAX_BUFFER
    vus_thresholds: int = DEFAULT_THRESHOLDS
    random_rate: float = 0.02
    batch_size: int = 1024

    def __post_init__(self) -> None:
        for name in ("detectors", "studies", "ratios", "noise_levels", "windows", "noise_variants"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.detectors:
            raise BenchError("no detectors given")
        _no_duplicates("detector", self.detectors)
        if not self.studies:
            raise BenchError(f"no studies given (choose from {', '.join(STUDIES)})")
        unknown = [s for s in self.studies if s not in STUDIES]
        if unknown:
            raise BenchError(f"unknown study {', '.join(unknown)}; known: {', '.join(STUDIES)}")
        _no_duplicates("study", self.studies)
        if self.seeds < 1:
            raise BenchError(f"seeds must be >= 1, got {self.seeds}")
        if "ratio" in self.studies:
            _check_grid("ratios", self.ratios)
            for ratio in self.ratios:
                ratio_fraction(ratio)
        if "noise" in self.studies:
            _check_grid("noise levels", self.noise_levels)
            if any(not np.isfinite(level) or level < 0 for level in self.noise_levels):
                raise BenchError(f"noise levels must be finite and >= 0, got {list(self.noise_levels)}")
            unknown = [v for v in self.noise_variants if v not in NOISE_VARIANTS]
            if unknown or not self.noise_variants:
                raise BenchError(
                    f"noise variants must be among {', '.join(NOISE_VARIANTS)}, "
                    f"got {', '.join(self.noise_variants) or 'none'}"
                )
            _no_duplicates("noise variant", self.noise_variants)
        if "window" in self.studies:
            _check_grid("windows", self.windows)
            if any(int(w) != w or w < 2 for w in self.windows):
                raise BenchError(f"windows must be integers >= 2, got {list(self.windows)}")
            object.__setattr__(self, "windows", tuple(int(w) for w in self.windows))
        stray = sorted(set(self.overrides) - set(self.detectors))
        if stray:
            raise BenchError(f"--set names detector(s) not being run: {', '.join(stray)}")
        if self.min_length < 1:
            raise BenchError(f"min length must be >= 1, got {self.min_length}")
        if not 0.0 < self.keep_fraction <= 1.0:
            raise BenchError(f"keep fraction must be in (0, 1], got {self.keep_fraction}")
        if not 0.0 < self.random_rate < 1.0:
            raise BenchError(f"random rate must be in (0, 1), got {self.random_rate}")
        if self.vus_max_buffer < 0 or self.vus_thresholds < 2 or self.batch_size < 1:
            raise BenchError("VUS max buffer must be >= 0, VUS thresholds >= 2 and batch size >= 1")

    @property
    def random_name(self) -> str:
        return f"random_{100 * self.random_rate:g}pct".replace(".", "_")

    def to_json(self) -> dict[str, Any]:
        return {
            "detectors": list(self.detectors),
            "seeds": list(range(self.seeds)),
            "studies": list(self.studies),
            "ratios": list(self.ratios),
            "noise_levels": list(self.noise_levels),
            "windows": list(self.windows),
            "noise_variants": list(self.noise_variants),
            "reseed_models": self.reseed_models,
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
            "min_length": self.min_length,
            "keep_fraction": self.keep_fraction,
            "training": self.training.to_json(),
            "vus_max_buffer": self.vus_max_buffer,
            "vus_thresholds": self.vus_thresholds,
            "random_baseline": self.random_name,
            "random_rate": self.random_rate,
        }


def _no_duplicates(kind: str, values: Sequence[Any]) -> None:
    twice = sorted({str(v) for v in values if list(values).count(v) > 1})
    if twice:
        raise BenchError(f"{kind} listed twice: {', '.join(twice)}")


def _check_grid(name: str, values: Sequence[float]) -> None:
    if not values:
        raise BenchError(f"no {name} given")
    _no_duplicates(name[:-1], values)


@dataclass(frozen=True)
class _Detector:
    spec: DetectorSpec
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def window(self) -> int:
        return int(self.config["window"])

    @property
    def seeded(self) -> bool:
        return "seed" in self.config


def run_sensitivity(
    data: Path | str,
    out: Path | str,
    settings: SensitivitySettings | None = None,
    *,
    channels: Sequence[str] | None = None,
    cache: Path | str | None = None,
    registry: DetectorRegistry | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the studies of ``settings`` on the telemanom data set ``data``; write
    ``OUT/sensitivity.json``, ``OUT/sensitivity.md`` and one figure per study; return the JSON."""
    started = time.perf_counter()
    settings = settings or SensitivitySettings()
    log = log or (lambda message: None)
    data, out = Path(data), Path(out)
    registry = registry or DetectorRegistry()
    dataset = load_telemanom(data)
    selected = dataset.select(channels)
    detectors = [_resolve(name, settings, registry) for name in settings.detectors]
    model_cache = ModelCache(Path(cache) if cache is not None else out / "models", settings.training, registry)
    seeds = list(range(settings.seeds))

    crops: dict[str, dict[int, list[RatioCrop]]] = {}
    excluded: dict[str, str] = {}
    if "ratio" in settings.studies:
        lead = max(d.window for d in detectors)
        for name in selected:
            record = dataset.labels(name)
            labels = labels_from_segments(record.segments, record.num_values)
            try:
                crops[name] = {
                    seed: [
                        crop_to_ratio(
                            labels,
                            ratio,
                            _rng(seed, name, "ratio", ratio),
                            min_length=settings.min_length,
                            lead=lead,
                            keep_fraction=settings.keep_fraction,
                        )
                        for ratio in settings.ratios
                    ]
                    for seed in seeds
                }
            except RatioInfeasible as exc:
                excluded[name] = str(exc)
        if not crops:
            raise BenchError(
                f"ratio study: no channel reaches every target ratio with slices of at least "
                f"{settings.min_length} steps (e.g. {next(iter(excluded))}: {next(iter(excluded.values()))}); "
                f"lower --min-length or the targets"
            )
        if excluded:
            log(
                f"ratio study: {len(excluded)} channel(s) cannot reach every target and are left out of it: "
                f"{', '.join(excluded)}"
            )

    streams: dict[StreamKey, dict[str, ChannelSeries]] = {}

    def put(key: StreamKey, channel: str, series: ChannelSeries) -> None:
        streams.setdefault(key, {})[channel] = series

    for index, name in enumerate(selected, start=1):
        channel = dataset.channel(name)
        run = _ChannelRun(channel, settings, model_cache)
        for seed in seeds:
            baseline = random_baseline(name, len(channel.test), channel.n_features, settings.random_rate, seed)
            put(("random", seed), name, _series(channel.labels, baseline))
            for crop, ratio in zip(crops.get(name, {}).get(seed, []), settings.ratios, strict=False):
                put(("random", "ratio", ratio, seed), name, _series(channel.labels, baseline, crop))
            eval_draws = unit_noise(channel.test.shape, _rng(seed, name, "eval-noise"))
            train_draws = unit_noise(channel.train.shape, _rng(seed, name, "train-noise"))
            for detector in detectors:
                run.add_streams(detector, seed, crops.get(name, {}).get(seed, []), eval_draws, train_draws, put)
        log(
            f"[{index}/{len(selected)}] {name}: models trained so far {model_cache.trained}, "
            f"reused {model_cache.reused}"
        )

    log(f"evaluating {len(streams)} stream(s)")
    evaluated = {
        key: micro_metrics(per_channel, max_buffer=settings.vus_max_buffer, n_thresholds=settings.vus_thresholds)
        for key, per_channel in streams.items()
    }
    studies = {
        study: _study(study, settings, detectors, seeds, evaluated, crops, excluded, selected)
        for study in settings.studies
    }
    sanity = [settings.random_name] + [d.name for d in detectors if d.spec.sanity]
    result = {
        "kind": RESULT_KIND,
        "format": RESULT_FORMAT,
        "settings": {
            "data": str(data),
            "channels": selected,
            "channels_in_data": len(dataset.channels),
            "channel_subset": len(selected) < len(dataset.channels),
            **settings.to_json(),
            "detector_configs": {d.name: d.config for d in detectors},
            "cache": str(model_cache.root),
            "library_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "sanity": sanity,
        "metrics": METRICS,
        "procedures": _procedures(settings, max(d.window for d in detectors)),
        "studies": studies,
        "figures": {study: figure_file(study) for study in settings.studies},
        "run": {
            "seconds": time.perf_counter() - started,
            "models_trained": model_cache.trained,
            "models_reused": model_cache.reused,
            "streams_evaluated": len(streams),
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n")
    (out / MARKDOWN_FILE).write_text(render_markdown(result))
    for study in settings.studies:
        plot_study(out / figure_file(study), study, result)
    return result


def _resolve(name: str, settings: SensitivitySettings, registry: DetectorRegistry) -> _Detector:
    spec = resolve_spec(name, registry)
    return _Detector(spec, resolve_config(spec, settings.overrides.get(name, {})))


def _rng(seed: int, channel: str, purpose: str, value: float = 0.0) -> np.random.Generator:
    # One independent stream per (seed, channel, purpose, target): adding a channel or a target
    # to a run leaves every other draw as it was.
    return np.random.default_rng(
        [seed, zlib.crc32(channel.encode()), zlib.crc32(purpose.encode()), int(round(value * 1e6))]
    )


def _series(labels: np.ndarray, replayed: ReplayedChannel, crop: RatioCrop | None = None) -> ChannelSeries:
    part = slice(None) if crop is None else slice(crop.start, crop.stop)
    return ChannelSeries(labels[part], replayed.score[part], replayed.alarm[part], replayed.calibrated_threshold)


class _ChannelRun:
    """One channel's models and replays, kept in memory across seeds: a model that does not
    depend on the seed is trained (or loaded) and replayed on the clean stream once."""

    def __init__(self, channel: ChannelData, settings: SensitivitySettings, cache: ModelCache) -> None:
        self.channel = channel
        self.settings = settings
        self.cache = cache
        self.scale = feature_scale(channel.train)
        self._models: dict[ModelKey, TrainedModel] = {}
        self._clean: dict[ModelKey, ReplayedChannel] = {}

    def model(
        self, detector: _Detector, window: int, train_noise: float, seed: int, train_draws: np.ndarray
    ) -> tuple[ModelKey, TrainedModel]:
        config_seed = (seed if self.settings.reseed_models else 0) if detector.seeded else None
        # The key names the seed the model depends on: the detector's seed, or the noise draws
        # of its training data.
        depends_on = seed if train_noise > 0 else config_seed
        key = ModelKey(detector.name, self.channel.name, window, train_noise, depends_on)
        if key not in self._models:
            config = {**detector.config, "window": window, **({"seed": config_seed} if config_seed is not None else {})}
            train = add_relative_noise(self.channel.train, self.scale, train_noise, train_draws)
            self._models[key] = self.cache.model(key, detector.spec, config, train, self.channel.feature_names)
        return key, self._models[key]

    def replay(self, model: TrainedModel, test: np.ndarray) -> ReplayedChannel:
        return replay_model(model, test, batch_size=self.settings.batch_size)

    def clean(self, key: ModelKey, model: TrainedModel) -> ReplayedChannel:
        if key not in self._clean:
            self._clean[key] = self.replay(model, self.channel.test)
        return self._clean[key]

    def add_streams(
        self,
        detector: _Detector,
        seed: int,
        crops: list[RatioCrop],
        eval_draws: np.ndarray,
        train_draws: np.ndarray,
        put: Callable[[StreamKey, str, ChannelSeries], None],
    ) -> None:
        name, base, channel, settings = detector.name, detector.window, self.channel, self.settings
        studies = settings.studies
        series = functools.partial(_series, channel.labels)
        if "ratio" in studies or "noise" in studies or ("window" in studies and base in settings.windows):
            base_key, base_model = self.model(detector, base, 0.0, seed, train_draws)
            clean = self.clean(base_key, base_model)
            put(_clean_key(name, base, seed), channel.name, series(clean))
            for crop, ratio in zip(crops, settings.ratios, strict=False):
                put((name, "ratio", ratio, seed), channel.name, series(clean, crop))
        if "noise" in studies:
            for level in settings.noise_levels:
                if level == 0:
                    continue
                noisy = add_relative_noise(channel.test, self.scale, level, eval_draws)
                if "eval_only" in settings.noise_variants:
                    put((name, "eval_noise", level, seed), channel.name, series(self.replay(base_model, noisy)))
                if "train_and_eval" in settings.noise_variants:
                    _, retrained = self.model(detector, base, level, seed, train_draws)
                    put((name, "train_noise", level, seed), channel.name, series(self.replay(retrained, noisy)))
        if "window" in studies:
            for window in settings.windows:
                if window != base:
                    key, model = self.model(detector, window, 0.0, seed, train_draws)
                    put(_clean_key(name, window, seed), channel.name, series(self.clean(key, model)))


def _clean_key(detector: str, window: int, seed: int) -> StreamKey:
    return (detector, "clean", window, seed)


# -- assembling the results ----------------------------------------------------------------


def _stream_for(study: str, variant: str, detector: _Detector | None, level: float, seed: int) -> StreamKey:
    """Which evaluated stream a study point reads; ``detector`` None is the random baseline."""
    if detector is None:
        return ("random", "ratio", level, seed) if study == "ratio" else ("random", seed)
    name = detector.name
    if study == "ratio":
        return (name, "ratio", level, seed)
    if study == "noise":
        if level == 0:
            return _clean_key(name, detector.window, seed)
        return (name, "eval_noise" if variant == "eval_only" else "train_noise", level, seed)
    return _clean_key(name, int(level), seed)


_VARIANTS = {
    "ratio": {"crop": "slices of the test stream with the target share of labelled points"},
    "noise": {
        "eval_only": "noise added to the evaluation stream only",
        "train_and_eval": "noise added to training data (models retrained) and to the evaluation stream",
    },
    "window": {"retrained": "models retrained at each window length, clean data"},
}
_PARAMETERS = {
    "ratio": ("anomaly ratio", "ratios"),
    "noise": ("noise std / feature training std", "noise_levels"),
    "window": ("window length (steps)", "windows"),
}


def _study(
    study: str,
    settings: SensitivitySettings,
    detectors: list[_Detector],
    seeds: list[int],
    evaluated: Mapping[StreamKey, dict[str, float | None]],
    crops: Mapping[str, Mapping[int, list[RatioCrop]]],
    excluded: Mapping[str, str],
    selected: list[str],
) -> dict[str, Any]:
    parameter, grid_name = _PARAMETERS[study]
    levels = list(getattr(settings, grid_name))
    variants: dict[str, Any] = {}
    for variant, label in _VARIANTS[study].items():
        if study == "noise" and variant not in settings.noise_variants:
            continue
        curves = {
            d.name: [
                _summary(level, [evaluated[_stream_for(study, variant, d, level, s)] for s in seeds])
                for level in levels
            ]
            for d in detectors
        }
        curves[settings.random_name] = [
            _summary(level, [evaluated[_stream_for(study, variant, None, level, s)] for s in seeds]) for level in levels
        ]
        variants[variant] = {"label": label, "detectors": curves}
    result: dict[str, Any] = {
        "parameter": parameter,
        "levels": levels,
        "variants": variants,
        "channels": list(crops) if study == "ratio" else list(selected),
    }
    if study == "ratio":
        result["excluded_channels"] = dict(excluded)
        result["construction"] = [_construction(i, ratio, crops, seeds) for i, ratio in enumerate(levels)]
    return result


def _summary(level: float, per_seed: list[dict[str, float | None]]) -> dict[str, Any]:
    metrics = {}
    for name in METRICS:
        values = [m[name] for m in per_seed]
        metrics[name] = {"mean": _mean(values), "std": _std(values), "values": values}
    return {"level": level, "metrics": metrics}


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def _std(values: list[float | None]) -> float | None:
    # Sample standard deviation over seeds; a single seed has no spread to report (0).
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def _construction(
    index: int, ratio: float, crops: Mapping[str, Mapping[int, list[RatioCrop]]], seeds: list[int]
) -> dict[str, Any]:
    per_seed: list[dict[str, Any]] = []
    for seed in seeds:
        chosen = {name: by_seed[seed][index] for name, by_seed in crops.items()}
        steps = sum(c.length for c in chosen.values())
        anomalous = sum(c.anomalous for c in chosen.values())
        per_seed.append(
            {
                "seed": seed,
                "steps": steps,
                "anomalous": anomalous,
                "achieved": anomalous / steps,
                "slices_ending_inside_segment": sum(c.ends_inside_segment for c in chosen.values()),
                "channels": {name: c.to_json() for name, c in chosen.items()},
            }
        )
    achieved = [s["achieved"] for s in per_seed]
    fraction = ratio_fraction(ratio)
    return {
        "target": ratio,
        "fraction": f"{fraction.numerator}/{fraction.denominator}",
        "achieved": {"mean": float(np.mean(achieved)), "min": float(np.min(achieved)), "max": float(np.max(achieved))},
        "per_seed": per_seed,
    }


def _procedures(settings: SensitivitySettings, lead: int) -> dict[str, str]:
    return {
        "ratio": (
            "Each target ratio p/q is reached exactly on every channel: the evaluation stream is a contiguous slice "
            "[start, stop) of the channel's labelled test stream holding exactly p/q labelled points, at least "
            f"{settings.min_length} steps long, beginning with at least {lead} normal steps (the largest detector "
            "window); its end may cut a labelled segment, keeping that anomaly's onset. Among such slices, those at "
            f"least {settings.keep_fraction:g} times as long as the longest are kept and one is drawn per seed. "
            "Labels are the data set's own. Detectors score the whole test stream; metrics use the slice only. "
            "Channels that cannot reach every target are left out of this study (listed)."
        ),
        "noise": (
            "Gaussian noise with standard deviation level x sigma_j is added to feature j, where sigma_j is the "
            "feature's standard deviation over the channel's clean training data (features constant in training get "
            "none). The same unit draws, per channel and seed, are scaled by every level. Variant eval_only: clean "
            "models score the noisy test stream; variant train_and_eval: models retrained on training data with "
            "noise of the same level (its own draws)."
        ),
        "window": (
            "Models are retrained with each window length on clean data and score the clean test stream; "
            "everything else in the detector's config stays as configured."
        ),
        "seeds": (
            (
                "Each seed sets the detectors' seed, the ratio slices and the noise draws."
                if settings.reseed_models
                else "Each seed sets the ratio slices and the noise draws; every seed uses the models trained with "
                "detector seed 0 (--no-reseed-models: right for detectors whose training has no randomness, "
                "e.g. pca below its max_train_windows)."
            )
            + " Spread = sample standard deviation over seeds."
        ),
        "thresholds": (
            "Alarms use each model's label-free POT threshold calibrated on held-out training scores; "
            "metrics are micro totals over the channels (PA = point-adjusted, PW = point-wise)."
        ),
    }
