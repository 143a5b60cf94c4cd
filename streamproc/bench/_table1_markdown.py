"""``table1.md``: measured metrics beside the published figures, quoted figures labelled as such."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from streamproc.config import Settings
from streamproc.metrics import ALERT_COLUMNS, markdown_table, metric_cell

from ._machine import machine_line
from ._published import PublishedFigure

# (header, path into an evaluation dict); oracle columns say so in their header.
METRIC_COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("PA P", ("point_adjusted", "precision")),
    ("PA R", ("point_adjusted", "recall")),
    ("PA F1", ("point_adjusted", "f1")),
    ("PW P", ("point_wise", "precision")),
    ("PW R", ("point_wise", "recall")),
    ("PW F1", ("point_wise", "f1")),
    ("event F1", ("event_wise", "f1")),
    ("VUS-PR", ("vus_pr",)),
    ("best PW F1 (oracle)", ("oracle_best_f1", "f1")),
    ("best PA F1 (oracle)", ("oracle_best_f1_point_adjusted", "f1")),
]
PUBLISHED_HEADER = "published PA F1 (quoted)"
_DEFAULTS = Settings()


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _label(name: str, row: Mapping[str, Any]) -> str:
    return f"{name} (sanity)" if row["sanity"] else name


def _published(row: Mapping[str, Any]) -> str:
    figure = row.get("published")
    return PublishedFigure(**figure).cell() if figure else "-"


def _cost(row: Mapping[str, Any]) -> tuple[str, str]:
    if row["training"] is None:
        return "-", "-"
    seconds, speed = row["training"]["seconds"], row["scoring"]["windows_per_second"]
    return f"{seconds:.1f}" if seconds >= 10 else f"{seconds:.2f}", "n/a" if speed is None else f"{speed:,.0f}"


def _failed_cells(row: Mapping[str, Any], n_channels: int, width: int) -> list[str]:
    failures = row["failures"]
    stages = sorted({f["stage"] for f in failures})
    first = failures[0]
    summary = (
        f"**failed** ({'/'.join(stages)}) on {len(failures)} of {n_channels} channel(s), "
        f"e.g. {first['channel']}: {_escape(first['error'])}"
    )
    return [summary] + ["-"] * (width - 1)


def _headline_table(rows: Mapping[str, Mapping[str, Any]], n_channels: int) -> list[str]:
    header = (
        ["detector"]
        + [h for h, _ in METRIC_COLUMNS[:3]]
        + [PUBLISHED_HEADER]
        + [h for h, _ in METRIC_COLUMNS[3:]]
        + ["train s", "scoring windows/s"]
    )
    cells = []
    for name, row in rows.items():
        if row["status"] == "failed":
            metrics = _failed_cells(row, n_channels, len(METRIC_COLUMNS))
        else:
            metrics = [metric_cell(row["micro"], path) for _, path in METRIC_COLUMNS]
        cells.append([_label(name, row), *metrics[:3], _published(row), *metrics[3:], *_cost(row)])
    return markdown_table(header, cells)


def _alert_table(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    header = ["detector"] + [h for h, _ in ALERT_COLUMNS]
    return markdown_table(
        header,
        [
            [_label(name, row)] + [metric_cell(row["alerts"]["micro"], p) for _, p in ALERT_COLUMNS]
            for name, row in rows.items()
            if row["status"] == "ok" and "alerts" in row
        ],
    )


def _macro_table(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    header = ["detector"] + [h for h, _ in METRIC_COLUMNS]
    return markdown_table(
        header,
        [
            [_label(name, row)] + [metric_cell(row["macro"], p) for _, p in METRIC_COLUMNS]
            for name, row in rows.items()
            if row["status"] == "ok"
        ],
    )


def _quoted_table(published: list[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| method | detector here | PA F1 (quoted) | PA P (quoted) | source | note |",
        "|---|---|---:|---:|---|---|",
    ]
    for entry in published:
        figure = PublishedFigure(**entry)
        precision = "-" if figure.pa_precision is None else f"{figure.pa_precision:.4f}"
        lines.append(
            f"| {figure.method} | `{figure.detector}` | {figure.cell()} | {precision} | "
            f"{_escape(figure.source)} | {_escape(figure.note) or '-'} |"
        )
    return lines


def render_table1(result: Mapping[str, Any]) -> str:
    settings = result["settings"]
    rows: Mapping[str, Mapping[str, Any]] = result["detectors"]
    n_channels = len(settings["channels"])
    # Measured detectors first in run order, the random sanity row last.
    ordered = {n: r for n, r in rows.items() if n != settings["random_baseline"]}
    if settings["random_baseline"] in rows:
        ordered[settings["random_baseline"]] = rows[settings["random_baseline"]]
    threshold = settings["training"]["threshold"]
    run = result["run"]
    lines = ["# Table 1: detectors side by side", ""]
    if not result["complete"]:
        done = len([n for n in rows if n != settings["random_baseline"]])
        lines += [
            f"**Partial**: {done} of {len(settings['detectors'])} detector(s) done; the run is still "
            "going or was interrupted.",
            "",
        ]
    lines += [
        f"- data: `{settings['data']}`, {n_channels} channel(s); streamproc {settings['library_version']}; "
        f"created {settings['created']}",
        f"- machine: {machine_line(result['machine'])}",
        f"- run: {run.get('seconds', 0.0):.0f} s wall; models trained {run.get('models_trained', 0)}, reused "
        f"{run.get('models_reused', 0)}; streams scored {run.get('streams_scored', 0)}, reused "
        f"{run.get('streams_reused', 0)}; models under `{settings['models']}`",
        "- **Measured columns**: one protocol for every detector. Thresholds are label-free: POT "
        f"(risk {threshold['risk']:g}, level {threshold['level']:g}, adaptation {threshold['adaptation']}) "
        f"on the scores of the last {settings['training']['validation_fraction']:g} of each channel's training "
        "data, held out from fitting. Headline = micro totals: all channels as one stream (counts summed; "
        "VUS-PR and oracle F1 on the concatenated scores, each channel's divided by its own threshold).",
        "- PA = point-adjusted (the protocol of the paper's Table 1: a segment hit once counts as fully "
        "detected), PW = point-wise, event F1 = each labelled segment once, each run of false alarms one "
        f"false event. VUS-PR: buffers 0..{settings['vus_max_buffer']}. Columns marked **(oracle)** choose the "
        "best threshold with the test labels: an upper bound, not a result.",
        f"- **{PUBLISHED_HEADER}**: copied from the literature, not measured here (sources below). Those papers "
        "picked thresholds their own way (often the best over the test labels), so compare them with the "
        "oracle PA column rather than with the label-free one, and read both against the sanity rows.",
        f"- Sanity rows: `{settings['random_baseline']}` scores uniform noise and alarms its top "
        f"{100 * settings['random_rate']:g}% of points (seed {settings['random_seed']}); `range` measures how far "
        "values leave the training range. A detector that does not beat them has not shown skill.",
        "- train s: summed wall time of training over channels (scaling, fit, threshold calibration), as "
        "stored with each model when it was trained; scoring windows/s: full windows over the wall time of "
        f"replaying the test streams (batches of {settings['batch_size']}).",
        "",
        f"## Micro over {n_channels} channel(s) (headline), measured beside published",
        "",
        *_headline_table(ordered, n_channels),
        "",
        f"## Alerts over {n_channels} channel(s): each detector alone through the worker's pipeline",
        "",
        f"Default configuration: a window every {_DEFAULTS.window.stride} steps, an alert opened after "
        f"{_DEFAULTS.fusion.open_after} anomalous windows and resolved after {_DEFAULTS.fusion.resolve_after} "
        "normal ones. An incident (labelled segment) is caught when an alert is open during it; alert "
        "precision = alerts that caught one, out of all alerts.",
        "",
        *_alert_table(ordered),
        "",
        f"## Macro mean over {n_channels} channel(s)",
        "",
        *_macro_table(ordered),
        "",
        "## Quoted figures (published, not measured here)",
        "",
        *_quoted_table(result["published"]),
    ]
    failures = [(name, f) for name, row in ordered.items() for f in row["failures"]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- `{name}` on {f['channel']} ({f['stage']}): {_escape(f['error'])}" for name, f in failures]
    lines += ["", "## Detector configs", ""]
    lines += [f"- `{name}`: `{_escape(json.dumps(row['config']))}`" for name, row in ordered.items()]
    return "\n".join(lines) + "\n"
