from __future__ import annotations

from pathlib import Path

import typer

from streamproc.bench import TABLE1_MARKDOWN, Table1Settings, run_table1
from streamproc.detection import DetectorRegistry
from streamproc.metrics import DEFAULT_MAX_BUFFER
from streamproc.thresholds import ThresholdConfig
from streamproc.training import TrainingOptions

from ._bench import detector_overrides
from ._shared import comma_list, headline_line, make_deterministic


def table1(
    data: Path = typer.Option(..., "--data", help="A telemanom directory (train/, test/, labeled_anomalies.csv)."),
    out: Path = typer.Option(..., "--out", help="Output: table1.md, table1.json, scores/."),
    detectors: str = typer.Option(
        None,
        "--detectors",
        help="Comma-separated detector names (default: every installed one); "
        "`range` and the random baseline are always added.",
    ),
    channels: str = typer.Option(
        None, "--channels", help="Comma-separated channels or patterns such as valve1-* (default: all)."
    ),
    settings: list[str] = typer.Option([], "--set", help="Detector config override detector.key=value (repeatable)."),
    models: Path = typer.Option(
        None,
        "--models",
        help="Models directory, reused across runs (default: OUT/models); the layout `streamproc train` writes.",
    ),
    validation_fraction: float = typer.Option(
        TrainingOptions.validation_fraction,
        "--validation-fraction",
        help="Share of training data held out for calibration.",
    ),
    risk: float = typer.Option(ThresholdConfig.risk, "--risk", help="POT risk q of the label-free thresholds."),
    batch_size: int = typer.Option(Table1Settings.batch_size, "--batch-size", help="Windows scored per call."),
    vus_max_buffer: int = typer.Option(
        DEFAULT_MAX_BUFFER, "--vus-max-buffer", help="Largest VUS buffer length (lengths 0..L, step 1)."
    ),
) -> None:
    """Train and evaluate every detector on the same channels; measured metrics beside the paper's Table 1."""
    config = Table1Settings(
        detectors=tuple(comma_list(detectors)),
        overrides=detector_overrides(settings),
        training=TrainingOptions(validation_fraction=validation_fraction, threshold=ThresholdConfig(risk=risk)),
        batch_size=batch_size,
        vus_max_buffer=vus_max_buffer,
    )
    registry = DetectorRegistry()  # imports the plugins, and torch with the neural ones: determinism applies
    make_deterministic()
    result = run_table1(
        data,
        out,
        config,
        channels=comma_list(channels) or None,
        models=models,
        registry=registry,
        log=lambda message: typer.echo(message, err=True),
    )
    for name, row in result["detectors"].items():
        label = f"{name} (sanity)" if row["sanity"] else name
        if row["status"] == "failed":
            typer.echo(f"{label}: FAILED on {len(row['failures'])} channel(s): {row['failures'][0]['error']}")
            continue
        typer.echo(headline_line(label, row["micro"]))
    typer.echo(f"report: {Path(out) / TABLE1_MARKDOWN}")
