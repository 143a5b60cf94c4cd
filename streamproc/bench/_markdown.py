"""``sensitivity.md``: the studies as tables of mean ± std over seeds, with their procedures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamproc.metrics import markdown_table

COLUMNS = ("pa_precision", "pa_recall", "pa_f1", "pw_precision", "pw_recall", "pw_f1", "event_f1", "vus_pr")
_TITLES = {"ratio": "Anomaly ratio", "noise": "Noise", "window": "Window length"}


def format_level(study: str, level: float) -> str:
    return f"{100 * level:g}%" if study in ("ratio", "noise") else f"{level:g}"


def _cell(summary: Mapping[str, Any]) -> str:
    mean, std = summary["mean"], summary["std"]
    return "n/a" if mean is None else f"{mean:.3f} ± {std:.3f}"


def render_markdown(result: Mapping[str, Any]) -> str:
    settings = result["settings"]
    labels: Mapping[str, str] = result["metrics"]
    sanity = set(result.get("sanity", ()))
    channels = settings["channels"]
    if settings.get("channel_subset"):
        scope = (
            f"**a subset: {len(channels)} of the {settings['channels_in_data']} channels** "
            f"({', '.join(channels)}), chosen with --channels"
        )
    else:
        scope = f"all {len(channels)} channel(s)"
    lines = [
        "# Sensitivity studies",
        "",
        f"- data: `{settings['data']}`; {scope}; detectors: "
        f"{', '.join(settings['detectors'])}; seeds: {', '.join(map(str, settings['seeds']))}; "
        f"streamproc {settings['library_version']}",
        f"- cells: mean ± sample std over seeds; micro totals over channels. {result['procedures']['thresholds']}",
        f"- sanity rows (not detectors with skill): {', '.join(sorted(sanity))}",
        f"- {result['procedures']['seeds']}",
        f"- run: {result['run']['seconds']:.0f} s, {result['run']['models_trained']} model(s) trained, "
        f"{result['run']['models_reused']} reused from the cache",
    ]
    header = ["detector", "level"] + [labels.get(c, c) for c in COLUMNS]
    for study, data in result["studies"].items():
        lines += [
            "",
            f"## {_TITLES.get(study, study)} ({data['parameter']})",
            "",
            result["procedures"].get(study, ""),
            "",
            f"Figure: `{result['figures'][study]}`",
        ]
        if study == "ratio":
            lines += ["", _construction_table(data)]
            if data.get("excluded_channels"):
                lines += [
                    "",
                    f"Left out of this study ({len(data['excluded_channels'])} channel(s)): "
                    + "; ".join(f"{k}: {v}" for k, v in data["excluded_channels"].items()),
                ]
        for variant, content in data["variants"].items():
            rows = [
                [
                    f"{name} (sanity)" if name in sanity else name,
                    format_level(study, point["level"]),
                    *(_cell(point["metrics"][c]) for c in COLUMNS),
                ]
                for name, curve in content["detectors"].items()
                for point in curve
            ]
            lines += ["", f"### {variant}: {content['label']}", "", *markdown_table(header, rows, text_columns=2)]
    return "\n".join(lines) + "\n"


def _construction_table(data: Mapping[str, Any]) -> str:
    header = [
        "target",
        "fraction",
        "achieved (mean over seeds)",
        "min",
        "max",
        "steps (seed 0)",
        "slices ending inside a segment (seed 0)",
    ]
    rows = []
    for point in data["construction"]:
        first = point["per_seed"][0]
        achieved = point["achieved"]
        rows.append(
            [
                f"{100 * point['target']:g}%",
                point["fraction"],
                f"{100 * achieved['mean']:.4f}%",
                f"{100 * achieved['min']:.4f}%",
                f"{100 * achieved['max']:.4f}%",
                str(first["steps"]),
                f"{first['slices_ending_inside_segment']} of {len(first['channels'])}",
            ]
        )
    return "\n".join(markdown_table(header, rows, text_columns=0))
