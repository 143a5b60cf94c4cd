from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from streamproc.bench import (
    DEFAULT_NOISE_LEVELS,
    DEFAULT_RATIOS,
    DEFAULT_WINDOWS,
    MARKDOWN_FILE,
    NOISE_VARIANTS,
    STUDIES,
    BenchError,
    SensitivitySettings,
    run_sensitivity,
)
from streamproc.metrics import DEFAULT_MAX_BUFFER
from streamproc.thresholds import ThresholdConfig
from streamproc.training import TrainingOptions

from ._shared import parse_settings

app = typer.Typer(help="Benchmarks: sensitivity studies and comparison tables.", no_args_is_help=True)


def _numbers(option: str, text: str, kind: Callable[[str], Any]) -> tuple[Any, ...]:
    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BenchError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def detector_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``det.key=value`` pairs grouped by detector; values are read as JSON when they parse."""
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in parse_settings(pairs).items():
        detector, dot, setting = key.partition(".")
        if not dot or not detector or not setting:
            raise BenchError(f"--set expects detector.key=value (e.g. pca.components=0.9), got key {key!r}")
        overrides.setdefault(detector, {})[setting] = value
    return overrides


def _fmt(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


@app.command("sensitivity")
def sensitivity(
    data: Path = typer.Option(..., "--data", help="A telemanom directory (train/, test/, labeled_anomalies.csv)."),
    out: Path = typer.Option(..., "--out", help="Output: sensitivity.json, sensitivity.md, one PNG per study."),
    detectors: str = typer.Option("pca", "--detectors", help="Comma-separated detector names."),
    seeds: int = typer.Option(3, "--seeds", help="Number of seeds (0..N-1): model init, ratio slices, noise draws."),
    channels: str = typer.Option(
        None, "--channels", help="Comma-separated channels or patterns such as valve1-* (default: all)."
    ),
    studies: str = typer.Option(",".join(STUDIES), "--studies", help="Comma-separated: ratio, noise, window."),
    settings: list[str] = typer.Option([], "--set", help="Detector config override detector.key=value (repeatable)."),
    ratios: str = typer.Option(_fmt(DEFAULT_RATIOS), "--ratios", help="Target anomaly ratios."),
    noise_levels: str = typer.Option(
        _fmt(DEFAULT_NOISE_LEVELS), "--noise-levels", help="Noise std as a share of each feature's training std."
    ),
    windows: str = typer.Option(_fmt(DEFAULT_WINDOWS), "--windows", help="Window lengths."),
    noise_variants: str = typer.Option(
        ",".join(NOISE_VARIANTS),
        "--noise-variants",
        help="eval_only (noise on the test stream), train_and_eval (on training data too, models retrained).",
    ),
    reseed_models: bool = typer.Option(
        True,
        "--reseed-models/--no-reseed-models",
        help="Train each seed's own models; --no-reseed-models uses seed 0's models "
        "for every seed (for detectors whose training has no randomness).",
    ),
    cache: Path = typer.Option(None, "--cache", help="Trained-model cache (default: OUT/models)."),
    min_length: int = typer.Option(
        SensitivitySettings.min_length, "--min-length", help="Shortest evaluation slice of the ratio study, in steps."
    ),
    keep_fraction: float = typer.Option(
        SensitivitySettings.keep_fraction,
        "--keep-fraction",
        help="Ratio slices are drawn among those at least this share of the longest feasible one.",
    ),
    validation_fraction: float = typer.Option(
        TrainingOptions.validation_fraction,
        "--validation-fraction",
        help="Share of training data held out for calibration.",
    ),
    risk: float = typer.Option(ThresholdConfig.risk, "--risk", help="POT risk q of the label-free thresholds."),
    vus_max_buffer: int = typer.Option(
        DEFAULT_MAX_BUFFER, "--vus-max-buffer", help="Largest VUS buffer length (lengths 0..L, step 1)."
    ),
) -> None:
    """Anomaly-ratio, noise and window-length studies over seeds, with figures."""
    options = TrainingOptions(validation_fraction=validation_fraction, threshold=ThresholdConfig(risk=risk))
    config = SensitivitySettings(
        detectors=tuple(_names(detectors)),
        seeds=seeds,
        studies=tuple(_names(studies)),
        ratios=_numbers("--ratios", ratios, float),
        noise_levels=_numbers("--noise-levels", noise_levels, float),
        windows=_numbers("--windows", windows, int),
        noise_variants=tuple(_names(noise_variants)),
        reseed_models=reseed_models,
        overrides=detector_overrides(settings),
        min_length=min_length,
        keep_fraction=keep_fraction,
        training=options,
        vus_max_buffer=vus_max_buffer,
    )
    result = run_sensitivity(
        data,
        out,
        config,
        channels=_names(channels) or None,
        cache=cache,
        log=lambda message: typer.echo(message, err=True),
    )
    for study, content in result["studies"].items():
        for variant, curves in content["variants"].items():
            for name, curve in curves["detectors"].items():
                cells = "  ".join(f"{p['level']:g}: {_short(p['metrics']['pw_f1']['mean'])}" for p in curve)
                typer.echo(f"{study}/{variant} {name} PW-F1  {cells}")
    typer.echo(f"report: {Path(out) / MARKDOWN_FILE}")


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
