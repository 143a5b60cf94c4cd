"""One self-contained HTML page: every image embedded as base64, no script, no external resource."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, cast

from streamproc import __version__
from streamproc.metrics import ALERT_COLUMNS

from . import _guides
from ._errors import ReportError
from ._sources import Source, find_sources

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Replay tables: (header, path into a metrics dict, is an oracle column).
REPLAY_COLUMNS: list[tuple[str, tuple[str, ...], bool]] = [
    ("PA P", ("point_adjusted", "precision"), False),
    ("PA R", ("point_adjusted", "recall"), False),
    ("PA F1", ("point_adjusted", "f1"), False),
    ("PW P", ("point_wise", "precision"), False),
    ("PW R", ("point_wise", "recall"), False),
    ("PW F1", ("point_wise", "f1"), False),
    ("PW FAR", ("point_wise", "false_alarm_rate"), False),
    ("event F1", ("event_wise", "f1"), False),
    ("VUS-PR", ("vus_pr",), False),
    ("alarm rate", ("alarm_rate",), False),
    ("best F1 PW (oracle)", ("oracle_best_f1", "f1"), True),
    ("best F1 PA (oracle)", ("oracle_best_f1_point_adjusted", "f1"), True),
]


# Table 1 metrics in display order; keys not listed here follow, in the order the file gives them.
TABLE1_LABELS = {
    "pa_precision": "PA P",
    "pa_recall": "PA R",
    "pa_f1": "PA F1",
    "pw_precision": "PW P",
    "pw_recall": "PW R",
    "pw_f1": "PW F1",
    "event_precision": "event P",
    "event_recall": "event R",
    "event_f1": "event F1",
    "vus_pr": "VUS-PR",
    "alarm_rate": "alarm rate",
    "oracle_best_f1": "best F1 PW (oracle)",
    "oracle_best_f1_point_adjusted": "best F1 PA (oracle)",
    "train_seconds": "train s",
    "windows_per_s": "windows/s",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1400px;
       padding: 1rem 2rem 4rem; color: #1d2430; background: #fff; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #d8dee8; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.meta { color: #5b6575; font-size: 0.9rem; }
.guide { background: #f3f6fb; border-left: 4px solid #4a78c2; padding: 0.4rem 1rem; margin: 0.8rem 0 1.2rem;
         font-size: 0.93rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.88rem; }
th, td { border: 1px solid #d8dee8; padding: 0.25rem 0.55rem; }
th { background: #eef2f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.sanity td { color: #6b7280; font-style: italic; }
th.oracle, td.oracle { background: #fbf6e9; color: #7a6326; }
details { margin: 0.5rem 0; } summary { cursor: pointer; font-weight: 600; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0.8rem; }
figure { margin: 0; border: 1px solid #d8dee8; padding: 0.4rem; background: #fff; }
figure img { width: 100%; height: auto; display: block; cursor: zoom-in; }
/* A click (focus) shows a figure at the size of the window; a click elsewhere puts it back. */
figure:focus { outline: none; }
figure:focus img { position: fixed; inset: 0; width: 100vw; height: 100vh; object-fit: contain; z-index: 10;
                   background: rgba(255, 255, 255, 0.97); cursor: zoom-out; }
td.false-alert { color: #a33; font-weight: 600; }
figcaption { font-size: 0.85rem; color: #3b4452; padding-top: 0.3rem; }
img.study { width: 100%; max-width: 1440px; border: 1px solid #d8dee8; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; font-size: 0.82rem; }
nav ul { columns: 2; } .missing { color: #a33; }
"""


def write_html_report(
    directories: Sequence[Path | str],
    html_path: Path | str,
    *,
    title: str = "streamproc report",
    channel_plots: bool = True,
) -> Path:
    """Gather ``directories`` into one HTML page at ``html_path``."""
    sources = find_sources(directories)
    html_path = Path(html_path)
    page = render_html(sources, title=title, channel_plots=channel_plots)
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{html_path}: cannot write ({exc.strerror or exc})") from None
    return html_path


def render_html(sources: Sequence[Source], *, title: str = "streamproc report", channel_plots: bool = True) -> str:
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    counts: dict[str, int] = {}
    for source in sources:
        counts[source.kind] = counts.get(source.kind, 0) + 1
        anchor = f"{source.kind}-{counts[source.kind]}"
        if source.kind == "table1":
            sections.append((anchor, f"Table 1 &mdash; {escape(str(source.directory))}", _table1(source)))
        elif source.kind == "replay":
            sections.append((anchor, f"Replay &mdash; {escape(str(source.directory))}", _replay(source, channel_plots)))
        else:
            sections.append((anchor, f"Sensitivity &mdash; {escape(str(source.directory))}", _sensitivity(source)))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    nav = "".join(f'<li><a href="#{a}">{h}</a></li>' for a, h, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{h}</h2>{b}</section>' for a, h, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">streamproc {escape(__version__)} &middot; generated {created}'
        f" &middot; {len(sources)} section(s)</p>"
        f'<h2 id="reading">How to read the metrics</h2><div class="guide">{_guides.METRICS}</div>'
        f"<nav><ul>{nav}</ul></nav>{body}</body></html>\n"
    )


# -- shared pieces -------------------------------------------------------------------------


def _png(path: Path, alt: str, css: str = "") -> str:
    """``path`` as an embedded <img>, or a visible note when it is missing or not a PNG."""
    try:
        data = path.read_bytes()
    except OSError:
        return f'<p class="missing">figure missing: {escape(str(path))}</p>'
    if not data.startswith(PNG_SIGNATURE):
        return f'<p class="missing">not a PNG image: {escape(str(path))}</p>'
    encoded = base64.b64encode(data).decode("ascii")
    klass = f' class="{css}"' if css else ""
    return f'<img{klass} alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _number(value: Any, key: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if "seconds" in key:
            return f"{value:,.1f}"
        if key.endswith("per_s"):
            return f"{value:,.0f}"
        return f"{value:.3f}"
    if isinstance(value, Mapping) and "mean" in value:
        std = value.get("std")
        return _number(value["mean"], key) + ("" if std is None else f" ± {_number(std, key)}")
    if isinstance(value, Mapping | list):
        return escape(json.dumps(value))
    return escape(str(value))


def _dig(data: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _table(
    header: Sequence[tuple[str, bool]],
    rows: Iterable[tuple[str, Sequence[tuple[str, bool]], bool]],
    text_columns: Sequence[int] = (),
) -> str:
    """``header``: (label, oracle); rows: (name, cells as (text, oracle), sanity); cells are numbers
    (right-aligned) except in ``text_columns``."""
    oracle_class = ' class="oracle"'
    head = "".join(f"<th{oracle_class if oracle else ''}>{label}</th>" for label, oracle in header)
    lines = [f"<table><thead><tr><th></th>{head}</tr></thead><tbody>"]
    for name, cells, sanity in rows:
        klass = ' class="sanity"' if sanity else ""
        tds = "".join(
            f'<td class="{"text" if i in text_columns else "num"}{" oracle" if oracle else ""}">{text}</td>'
            for i, (text, oracle) in enumerate(cells)
        )
        lines.append(f"<tr{klass}><th>{escape(name)}</th>{tds}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


# -- Table 1 -------------------------------------------------------------------------------

# Fields of ``bench table1``'s JSON that its own section shows; anything else is listed raw.
_TABLE1_SHOWN = {
    "detectors",
    "quoted",
    "published",
    "settings",
    "machine",
    "run",
    "complete",
    "kind",
    "format",
    "headline",
}


def _table1(source: Source) -> str:
    data = source.data
    parts = [f'<div class="guide">{_guides.TABLE1}</div>']
    settings = cast(Mapping[str, Any], data.get("settings")) if isinstance(data.get("settings"), Mapping) else {}
    if settings or isinstance(data.get("machine"), Mapping):
        parts.append(_table1_meta(settings, data.get("machine"), data.get("run")))
    if data.get("complete") is False:
        parts.append(
            '<p class="missing"><b>Partial</b>: the run was still going or was interrupted when this '
            "table was written.</p>"
        )
    detectors = data.get("detectors")
    if isinstance(detectors, Mapping) and detectors:
        if any(isinstance(row, Mapping) and isinstance(row.get("micro"), Mapping) for row in detectors.values()):
            parts.append(_evaluated_table1(detectors, settings))
        else:
            parts.append(_metric_rows_table(detectors))
    elif data:
        found = escape(json.dumps(detectors)) if detectors is not None else "nothing"
        parts.append(f'<p class="missing">table1.json has no "detectors" table (found: <code>{found}</code>).</p>')
    published = data.get("published")
    if isinstance(published, list) and published:
        parts.append("<h3>Published figures (quoted, not measured here)</h3>")
        parts.append(_published_table(published))
    quoted = data.get("quoted")
    if quoted:
        parts.append("<h3>Quoted from publications (not reproduced here)</h3>")
        parts.append(_quoted(quoted))
    extra = {
        k: v
        for k, v in data.items()
        if k not in _TABLE1_SHOWN or (k in ("settings", "machine", "run") and not isinstance(v, Mapping))
    }
    if extra:
        parts.append(
            f"<details><summary>Other fields of table1.json</summary><pre>"
            f"{escape(json.dumps(extra, indent=2))}</pre></details>"
        )
    if source.markdown:
        open_attr = "" if detectors else " open"
        parts.append(f"<details{open_attr}><summary>table1.md</summary><pre>{escape(source.markdown)}</pre></details>")
    return "".join(parts)


def _table1_meta(settings: Mapping[str, Any], machine: Any, run: Any) -> str:
    items = []
    if "data" in settings:
        items.append(f"data: <code>{escape(str(settings['data']))}</code>")
    if isinstance(settings.get("channels"), list):
        items.append(f"{len(settings['channels'])} channel(s)")
    if "created" in settings:
        items.append(f"created {escape(str(settings['created']))}")
    if isinstance(machine, Mapping):
        described = [
            f"{k} {machine[k]}"
            for k in ("cpu", "usable_cpus", "python", "numpy", "torch", "torch_threads")
            if machine.get(k) is not None
        ]
        items.append("machine: " + escape(", ".join(described)))
    if isinstance(run, Mapping) and isinstance(run.get("seconds"), int | float):
        items.append(f"run {run['seconds']:,.0f} s wall")
    return f'<p class="meta">{" &middot; ".join(items)}</p>'


def _published_cell(figure: Any) -> str:
    if not isinstance(figure, Mapping):
        return "&ndash;"
    value = figure.get("pa_f1")
    if value is None:
        return "not quoted"
    return f"&asymp; {value:g} (approx.)" if figure.get("approximate") else f"{value:g}"


def _evaluated_table1(rows: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``bench table1`` rows: evaluations (micro/macro like a replay's) with cost and the quoted figure."""
    random = settings.get("random_baseline")
    ordered = [n for n in rows if n != random] + [n for n in rows if n == random]
    metric_columns = [(label, path, oracle) for label, path, oracle in REPLAY_COLUMNS if label != "alarm rate"]
    header = (
        [(label, oracle) for label, _, oracle in metric_columns[:3]]
        + [("published PA F1 (quoted)", False)]
        + [(label, oracle) for label, _, oracle in metric_columns[3:]]
        + [("train s", False), ("windows/s", False)]
    )
    channels = len(settings.get("channels") or [])

    def table(level: str) -> str:
        body = []
        for name in ordered:
            row = rows[name] if isinstance(rows[name], Mapping) else {}
            sanity = bool(row.get("sanity"))
            if row.get("status") == "failed" or not isinstance(row.get(level), Mapping):
                failures = row.get("failures") or []
                cells = [(f"failed on {len(failures)} of {channels} channel(s)", False)]
                cells += [("&ndash;", oracle) for _, oracle in header[1:]]
            else:
                metrics = [(_number(_dig(row[level], path)), oracle) for _, path, oracle in metric_columns]
                training = row.get("training") if isinstance(row.get("training"), Mapping) else {}
                scoring = row.get("scoring") if isinstance(row.get("scoring"), Mapping) else {}
                cost = [
                    (_number(training.get("seconds"), "seconds") if training else "&ndash;", False),
                    (_number(scoring.get("windows_per_second"), "windows_per_s") if scoring else "&ndash;", False),
                ]
                cells = metrics[:3] + [(_published_cell(row.get("published")), False)] + metrics[3:] + cost
            body.append((f"{name} (sanity)" if sanity else str(name), cells, sanity))
        return _table(header, body)

    failures = [
        (name, f)
        for name in ordered
        if isinstance(rows[name], Mapping)
        for f in rows[name].get("failures") or []
        if isinstance(f, Mapping)
    ]
    failed = ""
    if failures:
        items = "".join(
            f"<li><code>{escape(name)}</code> on {escape(str(f.get('channel')))} "
            f"({escape(str(f.get('stage')))}): {escape(str(f.get('error')))}</li>"
            for name, f in failures
        )
        failed = f"<details><summary>Failures ({len(failures)})</summary><ul>{items}</ul></details>"
    return (
        f"<h3>Micro totals over {channels} channel(s) (headline)</h3>{table('micro')}"
        f"<details><summary>Macro means</summary>{table('macro')}</details>{failed}"
    )


def _published_table(published: list[Any]) -> str:
    header = [
        ("method", False),
        ("PA F1 (quoted)", False),
        ("PA P (quoted)", False),
        ("source", False),
        ("note", False),
    ]
    body = []
    for figure in published:
        if not isinstance(figure, Mapping):
            continue
        cells = [
            (escape(str(figure.get("method", ""))), False),
            (_published_cell(figure), False),
            (_number(figure.get("pa_precision")), False),
            (escape(str(figure.get("source", ""))), False),
            (escape(str(figure.get("note") or "")), False),
        ]
        body.append((str(figure.get("detector", "?")), cells, False))
    return _table(header, body, text_columns=(0, 3, 4))


def _metric_rows_table(rows: Mapping[str, Any]) -> str:
    """Rows of ``{name: {metric: value}}``: known metrics first, then any other key in file order."""
    keys: list[str] = []
    for values in rows.values():
        for key in values if isinstance(values, Mapping) else ():
            if key not in keys and key != "sanity":
                keys.append(key)
    ordered = [k for k in TABLE1_LABELS if k in keys] + [k for k in keys if k not in TABLE1_LABELS]
    header = [(escape(TABLE1_LABELS.get(k, k)), k.startswith("oracle")) for k in ordered]
    body = []
    for name, values in rows.items():
        values = values if isinstance(values, Mapping) else {}
        sanity = bool(values.get("sanity")) or name.startswith("random") or name == "range"
        cells = [(_number(values.get(k), k) if k in values else "&ndash;", k.startswith("oracle")) for k in ordered]
        body.append((f"{name} (sanity)" if sanity else str(name), cells, sanity))
    return _table(header, body)


def _quoted(quoted: Any) -> str:
    if isinstance(quoted, Mapping) and all(isinstance(v, Mapping) for v in quoted.values()):
        nested = all(isinstance(inner, Mapping) for v in quoted.values() for inner in v.values())
        if nested and any(quoted.values()):
            return "".join(f"<h4>{escape(str(k))}</h4>{_metric_rows_table(v)}" for k, v in quoted.items())
        return _metric_rows_table(quoted)
    return f"<pre>{escape(json.dumps(quoted, indent=2))}</pre>"


# -- replay --------------------------------------------------------------------------------


def _replay(source: Source, channel_plots: bool) -> str:
    data = source.data
    settings = data.get("settings", {}) if isinstance(data.get("settings"), Mapping) else {}
    detectors: Mapping[str, Any] = data["detectors"]
    channels = settings.get("channels") or []
    header = [(label, oracle) for label, _, oracle in REPLAY_COLUMNS]

    def rows(level: str) -> list[tuple[str, list[tuple[str, bool]], bool]]:
        out = []
        for name, result in detectors.items():
            result = result if isinstance(result, Mapping) else {}
            sanity = bool(result.get("sanity"))
            cells = [(_number(_dig(result.get(level), path)), oracle) for _, path, oracle in REPLAY_COLUMNS]
            out.append((f"{name} (sanity)" if sanity else name, cells, sanity))
        return out

    parts = [
        f'<div class="guide">{_guides.REPLAY}</div>',
        f'<p class="meta">data: <code>{escape(str(settings.get("data", "?")))}</code> &middot; models: '
        f"<code>{escape(str(settings.get('models', '?')))}</code> &middot; {len(channels)} channel(s) &middot; "
        f"threshold adaptation: {escape(str(settings.get('adaptation') or 'as stored'))}</p>",
        *_replay_alerts(data, source.directory, channel_plots),
        f"<h3>Point level: micro totals over {len(channels)} channel(s)</h3>",
        _table(header, rows("micro")),
        "<h3>Point level: macro means</h3>",
        _table(header, rows("macro")),
    ]
    for name, result in detectors.items():
        per_channel = result.get("channels") if isinstance(result, Mapping) else None
        if not isinstance(per_channel, Mapping) or not per_channel:
            continue
        body = [
            (channel, [(_number(_dig(values, path)), oracle) for _, path, oracle in REPLAY_COLUMNS], False)
            for channel, values in per_channel.items()
        ]
        parts.append(
            f"<details><summary>{escape(name)}: per-channel metrics ({len(per_channel)})</summary>"
            f"{_table(header, body)}</details>"
        )
        plots = source.directory / "plots" / name
        if channel_plots and plots.is_dir():
            parts.append(_gallery(name, plots, per_channel))
    return "".join(parts)


def _replay_alerts(data: Mapping[str, Any], directory: Path, channel_plots: bool) -> list[str]:
    """The alert-level part of a replay: the pipeline and each detector alone, then the
    pipeline's alerts channel by channel (absent from replays older than alert metrics)."""
    pipeline = data.get("pipeline")
    if not isinstance(pipeline, Mapping) or "micro" not in pipeline:
        return []
    header = [(label, False) for label, _ in ALERT_COLUMNS]

    def cells(values: Any) -> list[tuple[str, bool]]:
        return [(_number(_dig(values, path)), False) for _, path in ALERT_COLUMNS]

    members = list(pipeline.get("detectors", []))
    rows = []
    if len(members) > 1:
        rows.append((f"pipeline: {' + '.join(members)}", cells(pipeline["micro"]), False))
    for name, result in data["detectors"].items():
        if isinstance(result, Mapping) and isinstance(result.get("alerts"), Mapping):
            rows.append((f"{name} alone", cells(result["alerts"].get("micro")), False))
    fusion = pipeline.get("fusion", {})
    parts = [
        "<h3>Alerts: what operators would have received (headline)</h3>",
        f'<p class="meta">a window of {_number(pipeline.get("window"))} steps every {_number(pipeline.get("stride"))}; '
        f"open after {_number(fusion.get('open_after'))} anomalous windows, resolve after "
        f"{_number(fusion.get('resolve_after'))} normal ones; fusion {escape(str(fusion.get('policy')))}; alerts in "
        f"<code>{escape(str(pipeline.get('alerts_file')))}</code></p>",
        _table(header, rows),
    ]
    alert_list = pipeline.get("alert_list")
    if isinstance(alert_list, Mapping):
        tables = []
        for channel, alerts in alert_list.items():
            body = "".join(
                f'<tr><td class="num">{_number(a.get("opened"))}</td><td class="num">{_number(a.get("closed"))}'
                f"{'' if a.get('resolved') else ' (open)'}</td><td>{escape(str(a.get('severity')))}</td>"
                f"<td>{escape(', '.join(a.get('top_features', [])[:3]))}</td>"
                + (
                    f"<td>{escape(', '.join(f'{s}-{e}' for s, e in a['caught']))}</td>"
                    if a.get("caught")
                    else '<td class="false-alert">false alert</td>'
                )
                + "</tr>"
                for a in alerts
            )
            table = (
                "<table><thead><tr><th>opened (step)</th><th>resolved (step)</th><th>severity</th>"
                f"<th>top features</th><th>incident caught</th></tr></thead><tbody>{body}</tbody></table>"
                if alerts
                else "<p>No alert.</p>"
            )
            tables.append(f"<h4>{escape(channel)}</h4>{table}")
        parts.append(
            f"<details><summary>The pipeline's alerts, channel by channel ({len(alert_list)})</summary>"
            f"{''.join(tables)}</details>"
        )
    plots = directory / "plots" / "pipeline"
    if channel_plots and plots.is_dir():
        parts.append(_gallery("pipeline", plots, pipeline.get("channels", {}), alerts=True))
    return parts


def _gallery(detector: str, plots: Path, per_channel: Mapping[str, Any], alerts: bool = False) -> str:
    images = sorted(plots.glob("*.png"))
    figures = []
    for image in images:
        values = per_channel.get(image.stem, {})
        if alerts:
            caption = (
                f"<b>{escape(image.stem)}</b> &middot; incidents caught "
                f"{_number(_dig(values, ('incidents_caught',)))} of {_number(_dig(values, ('incidents',)))}"
                f" &middot; false alerts {_number(_dig(values, ('false_alerts',)))}"
            )
        else:
            caption = (
                f"<b>{escape(image.stem)}</b> &middot; PA F1 {_number(_dig(values, ('point_adjusted', 'f1')))}"
                f" &middot; PW F1 {_number(_dig(values, ('point_wise', 'f1')))}"
                f" &middot; VUS-PR {_number(_dig(values, ('vus_pr',)))}"
            )
        figures.append(
            f'<figure tabindex="0">{_png(image, f"{detector} on {image.stem}")}'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return (
        f"<details><summary>{escape(detector)}: per-channel plots ({len(images)})</summary>"
        f'<div class="gallery">{"".join(figures)}</div></details>'
    )


# -- sensitivity ---------------------------------------------------------------------------

_STUDY_TITLES = {"ratio": "Anomaly ratio", "noise": "Noise", "window": "Window length"}


def _sensitivity(source: Source) -> str:
    data = source.data
    settings = data.get("settings", {}) if isinstance(data.get("settings"), Mapping) else {}
    procedures = data.get("procedures", {}) if isinstance(data.get("procedures"), Mapping) else {}
    figures = data.get("figures", {}) if isinstance(data.get("figures"), Mapping) else {}
    labels = data.get("metrics", {}) if isinstance(data.get("metrics"), Mapping) else {}
    sanity = set(data.get("sanity") or ())
    seeds = settings.get("seeds") or []
    parts = [
        f'<div class="guide">{_guides.SENSITIVITY}</div>',
        f'<p class="meta">data: <code>{escape(str(settings.get("data", "?")))}</code> &middot; '
        f"{_scope(settings)} &middot; detectors: "
        f"{escape(', '.join(map(str, settings.get('detectors') or [])))} &middot; {len(seeds)} seed(s)</p>",
    ]
    for key in ("seeds", "thresholds"):
        if key in procedures:
            parts.append(f"<p>{escape(str(procedures[key]))}</p>")
    for study, content in data["studies"].items():
        if not isinstance(content, Mapping):
            continue
        parts.append(f"<h3>{escape(_STUDY_TITLES.get(study, study))}</h3>")
        if study in procedures:
            parts.append(f"<p>{escape(str(procedures[study]))}</p>")
        if study in figures:
            parts.append(_png(source.directory / str(figures[study]), f"sensitivity to {study}", "study"))
        if study == "ratio":
            parts.append(_construction(content))
        for variant, curves in (content.get("variants") or {}).items():
            parts.append(_study_table(study, variant, curves, labels, sanity))
    return "".join(parts)


def _scope(settings: Mapping[str, Any]) -> str:
    channels = settings.get("channels") or []
    if settings.get("channel_subset"):
        return (
            f"<b>a subset: {len(channels)} of {escape(str(settings.get('channels_in_data', '?')))} channels</b> "
            f"({escape(', '.join(map(str, channels)))})"
        )
    return f"{len(channels)} channel(s)"


def _construction(content: Mapping[str, Any]) -> str:
    points = content.get("construction") or []
    header = [
        ("fraction", False),
        ("achieved (mean over seeds)", False),
        ("min", False),
        ("max", False),
        ("steps, seed 0", False),
        ("slices ending inside a segment, seed 0", False),
    ]
    rows = []
    for point in points:
        first = (point.get("per_seed") or [{}])[0]
        achieved = point.get("achieved", {})
        rows.append(
            (
                f"target {100 * point['target']:g}%",
                [
                    (escape(str(point.get("fraction", ""))), False),
                    (f"{100 * achieved.get('mean', float('nan')):.4f}%", False),
                    (f"{100 * achieved.get('min', float('nan')):.4f}%", False),
                    (f"{100 * achieved.get('max', float('nan')):.4f}%", False),
                    (_number(first.get("steps")), False),
                    (f"{first.get('slices_ending_inside_segment', '?')} of {len(first.get('channels', {}))}", False),
                ],
                False,
            )
        )
    excluded = content.get("excluded_channels") or {}
    note = ""
    if excluded:
        items = "".join(f"<li><code>{escape(k)}</code>: {escape(str(v))}</li>" for k, v in excluded.items())
        note = (
            f"<details><summary>{len(excluded)} channel(s) left out of this study</summary><ul>{items}</ul></details>"
        )
    return "<p>How the evaluation streams were built, per target:</p>" + _table(header, rows) + note


def _study_table(
    study: str, variant: str, curves: Mapping[str, Any], labels: Mapping[str, str], sanity: set[str]
) -> str:
    metrics = [
        m
        for m in ("pa_precision", "pa_recall", "pa_f1", "pw_precision", "pw_recall", "pw_f1", "event_f1", "vus_pr")
        if m in labels
    ] or list(labels)
    header = [("level", False)] + [(escape(labels.get(m, m)), False) for m in metrics]
    rows = []
    for name, curve in (curves.get("detectors") or {}).items():
        for point in curve:
            level = point.get("level")
            shown = (
                f"{100 * level:g}%" if study in ("ratio", "noise") and isinstance(level, int | float) else str(level)
            )
            cells = [(shown, False)] + [(_number(_dig(point, ("metrics", m))), False) for m in metrics]
            rows.append((f"{name} (sanity)" if name in sanity else name, cells, name in sanity))
    label = escape(str(curves.get("label", "")))
    return (
        f"<details><summary>Table: {escape(variant)} &mdash; {label} (mean ± std over seeds)</summary>"
        f"{_table(header, rows)}</details>"
    )
