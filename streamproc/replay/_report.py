"""``report.md``: the metric tables of a replay, alerts first, oracles and sanity rows marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamproc.metrics import ALERT_COLUMNS, markdown_table, metric_cell

# (header, path into a metrics dict); oracle columns say so in their header.
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("PA P", ("point_adjusted", "precision")),
    ("PA R", ("point_adjusted", "recall")),
    ("PA F1", ("point_adjusted", "f1")),
    ("PW P", ("point_wise", "precision")),
    ("PW R", ("point_wise", "recall")),
    ("PW F1", ("point_wise", "f1")),
    ("PW FAR", ("point_wise", "false_alarm_rate")),
    ("PW MAR", ("point_wise", "missed_alarm_rate")),
    ("event P", ("event_wise", "precision")),
    ("event R", ("event_wise", "recall")),
    ("event F1", ("event_wise", "f1")),
    ("VUS-PR", ("vus_pr",)),
    ("alarm rate", ("alarm_rate",)),
    ("best F1 PW (oracle)", ("oracle_best_f1", "f1")),
    ("best F1 PA (oracle)", ("oracle_best_f1_point_adjusted", "f1")),
]


def _alert_table(first: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    return markdown_table(
        [first] + [name for name, _ in ALERT_COLUMNS],
        [[name] + [metric_cell(metrics, path) for _, path in ALERT_COLUMNS] for name, metrics in rows],
    )


def _alert_list(alerts: list[Mapping[str, Any]]) -> list[str]:
    rows = [
        [
            str(a["opened"]),
            str(a["closed"]) + ("" if a["resolved"] else " (open at the end)"),
            a["severity"],
            f"{a['announced_score']:.3g}",
            ", ".join(a["top_features"][:3]),
            ", ".join(f"{s}-{e}" for s, e in a["caught"]) or "**false alert**",
        ]
        for a in alerts
    ]
    return markdown_table(
        ["opened (step)", "resolved (step)", "severity", "fused score announced", "top features", "incident caught"],
        rows,
        text_columns=6,
    )


def _alert_sections(metrics: Mapping[str, Any]) -> list[str]:
    pipeline = metrics["pipeline"]
    detectors: Mapping[str, Mapping[str, Any]] = metrics["detectors"]
    fusion = pipeline["fusion"]
    rows = []
    if len(pipeline["detectors"]) > 1:
        rows.append((f"**pipeline: {' + '.join(pipeline['detectors'])}** ({fusion['policy']})", pipeline["micro"]))
    rows += [(f"{name} alone", result["alerts"]["micro"]) for name, result in detectors.items() if "alerts" in result]
    lines = [
        "## Alerts: what operators would have received (headline)",
        "",
        f"The pipeline a worker runs, on the same configuration: a window of {pipeline['window']} steps every "
        f"{pipeline['stride']} steps, detectors' scores normalised by their thresholds and fused "
        f"({fusion['policy']}), an alert opened after {fusion['open_after']} anomalous windows and resolved after "
        f"{fusion['resolve_after']} normal ones. An incident (a labelled segment) is caught when an alert is open "
        f"during it or opens at most {metrics['settings']['early_warning']} step(s) before it; alert precision is "
        "the share of alerts that caught one; the delay runs from the incident's first step to the alert's "
        "opening (0 for an early warning); alert-time precision is the share of the steps alerts were open "
        "that are labelled (an alert left open for hours after a short incident still counts as one true alert, "
        "but not here); composite F1 = that precision with incidents caught (Garg et al. 2021). Alerts: "
        f"`{pipeline['alerts_file']}`; readings the pipeline rejected: {pipeline['readings_rejected']}; windows a "
        f"detector failed on: {pipeline['windows_not_scored']}; gaps in the data that restarted a window: "
        f"{pipeline.get('window_restarts', 0)}; silences that raised a STALE alert: {pipeline.get('stale_alerts', 0)} "
        "(not counted as alerts here). Alerts use each model's stored threshold, as a "
        "worker does: --adaptation and --risk change the point level only.",
        "",
        *_alert_table("pipeline", rows),
    ]
    return lines


def _table(first: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    return markdown_table(
        [first] + [name for name, _ in COLUMNS],
        [[name] + [metric_cell(metrics, path) for _, path in COLUMNS] for name, metrics in rows],
    )


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
        "- PA = point-adjusted (a segment hit once counts as fully detected; lenient), PW = point-wise "
        "(FAR: false alarms among normal steps, MAR: missed among labelled ones, SKAB's rates), "
        "event = each labelled segment once, each run of alarms outside segments one false event.",
        f"- VUS-PR: buffer lengths 0..{settings['vus_max_buffer']} step 1, {settings['vus_thresholds']} "
        "thresholds per curve (Paparrizos et al., VLDB 2022).",
        "- Columns marked (oracle) pick the best threshold using the test labels: an upper bound, not a result.",
        f"- Sanity rows: `{settings['random_baseline']}` scores uniform noise and flags its top "
        f"{100 * settings['random_rate']:g}% of points (seed {settings['random_seed']}); `range` measures how "
        "far values leave the training range. A detector that does not beat them has not shown skill.",
        "",
        *_alert_sections(metrics),
        "",
        f"## Point level: summary, micro over {n_channels} channel(s)",
        "",
        *_table("detector", [(_label(n, r), r["micro"]) for n, r in detectors.items()]),
        "",
        f"## Point level: summary, macro mean over {n_channels} channel(s)",
        "",
        *_table("detector", [(_label(n, r), r["macro"]) for n, r in detectors.items()]),
    ]
    for name, result in detectors.items():
        rows = [(channel, values) for channel, values in result["channels"].items()]
        rows += [("**total (micro)**", result["micro"]), ("**mean (macro)**", result["macro"])]
        lines += ["", f"## {_label(name, result)}", "", *_table("channel", rows)]
        if "alerts" in result:
            alerts = result["alerts"]
            rows = [*alerts["channels"].items(), ("**total**", alerts["micro"])]
            lines += ["", f"### {name} alone: alerts by channel", "", *_alert_table("channel", rows)]
    pipeline = metrics["pipeline"]
    lines += ["", "## The pipeline's alerts, channel by channel", ""]
    if len(pipeline["detectors"]) > 1:
        rows = [*pipeline["channels"].items(), ("**total**", pipeline["micro"])]
        lines += [*_alert_table("channel", rows), ""]
    for channel, alerts in pipeline["alert_list"].items():
        lines += [f"### {channel}", ""]
        lines += _alert_list(alerts) if alerts else ["No alert."]
        lines.append("")
    return "\n".join(lines) + "\n"
