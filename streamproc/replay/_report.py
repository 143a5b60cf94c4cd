"""``report.md``: the metric tables of a replay, headline first, oracles and sanity rows marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamproc.metrics import markdown_table, metric_cell

# (header, path into a metrics dict); oracle columns say so in their header.
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("PA P", ("point_adjusted", "precision")),
    ("PA R", ("point_adjusted", "recall")),
    ("PA F1", ("point_adjusted", "f1")),
    ("PW P", ("point_wise", "precision")),
    ("PW R", ("point_wise", "recall")),
    ("PW F1", ("point_wise", "f1")),
    ("event P", ("event_wise", "precision")),
    ("event R", ("event_wise", "recall")),
    ("event F1", ("event_wise", "f1")),
    ("VUS-PR", ("vus_pr",)),
    ("alarm rate", ("alarm_rate",)),
    ("best F1 PW (oracle)", ("oracle_best_f1", "f1")),
    ("best F1 PA (oracle)", ("oracle_best_f1_point_adjusted", "f1")),
]


def _table(first: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    return markdown_table([first] + [name for name, _ in COLUMNS],
                          [[name] + [metric_cell(metrics, path) for _, path in COLUMNS] for name, metrics in rows])


def _label(name: str, result: Mapping[str, Any]) -> str:
    return f"{name} (sanity)" if result.get("sanity") else name


def render_report(metrics: Mapping[str, Any]) -> str:
    settings = metrics["settings"]
    detectors: Mapping[str, Mapping[str, Any]] = metrics["detectors"]
    n_channels = len(settings["channels"])
    lines = [
        "# Replay report",
        "",
        f"- data: `{settings['data']}`; models: `{settings['models']}`; {n_channels} channel(s); "
        f"streamproc {settings['library_version']}",
        f"- thresholds: label-free (POT calibrated on held-out training scores); adaptation: "
        f"{settings['adaptation'] or 'as stored in each model'}; risk: {settings['risk'] or 'as stored'}",
        "- **Headline: micro totals** — all channels taken as one stream (counts summed over channels; "
        "VUS-PR and oracle F1 on the concatenated scores, each channel's divided by its own threshold). "
        "Macro = unweighted mean over channels.",
        "- PA = point-adjusted (a segment hit once counts as fully detected; lenient), PW = point-wise, "
        "event = each labelled segment once, each run of alarms outside segments one false event.",
        f"- VUS-PR: buffer lengths 0..{settings['vus_max_buffer']} step 1, {settings['vus_thresholds']} "
        "thresholds per curve (Paparrizos et al., VLDB 2022).",
        "- Columns marked (oracle) pick the best threshold using the test labels: an upper bound, not a result.",
        f"- Sanity rows: `{settings['random_baseline']}` scores uniform noise and flags its top "
        f"{100 * settings['random_rate']:g}% of points (seed {settings['random_seed']}); `range` measures how "
        "far values leave the training range. A detector that does not beat them has not shown skill.",
        "",
        f"## Summary, micro over {n_channels} channel(s) (headline)",
        "",
        *_table("detector", [(_label(n, r), r["micro"]) for n, r in detectors.items()]),
        "",
        f"## Summary, macro mean over {n_channels} channel(s)",
        "",
        *_table("detector", [(_label(n, r), r["macro"]) for n, r in detectors.items()]),
    ]
    for name, result in detectors.items():
        rows = [(channel, values) for channel, values in result["channels"].items()]
        rows += [("**total (micro)**", result["micro"]), ("**mean (macro)**", result["macro"])]
        lines += ["", f"## {_label(name, result)}", "", *_table("channel", rows)]
    return "\n".join(lines) + "\n"

