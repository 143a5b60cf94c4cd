"""The output directories a report gathers, recognised by the files they hold.

- **replay** (``streamproc replay``): ``metrics.json`` with a ``detectors`` object; per-channel
  plots under ``plots/<detector>/<channel>.png``.
- **table1** (``streamproc bench table1``): ``table1.json`` (``{"detectors": {name: {metric:
  value}}, "quoted": {...}}``) and/or ``table1.md``.
- **sensitivity** (``streamproc bench sensitivity``): ``sensitivity.json`` and its figures.

One directory may hold several kinds; each becomes its own section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamproc.bench import RESULT_FILE as SENSITIVITY_FILE
from streamproc.bench import TABLE1_JSON
from streamproc.bench import TABLE1_MARKDOWN as TABLE1_MARKDOWN  # re-exported by streamproc.report
from streamproc.replay import METRICS_FILE as REPLAY_FILE

from ._errors import ReportError

TABLE1_FILE = TABLE1_JSON  # re-exported by streamproc.report
KINDS = ("table1", "replay", "sensitivity")  # the order of the report's sections


@dataclass(frozen=True)
class Source:
    """One section's input: ``data`` is the parsed JSON (empty when only markdown was found)."""

    kind: str
    directory: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    markdown: str | None = None


def find_sources(directories: Sequence[Path | str]) -> list[Source]:
    """Every recognised output in ``directories``, grouped by kind in :data:`KINDS` order."""
    if not directories:
        raise ReportError("no output directories given")
    found: list[Source] = []
    for directory in map(Path, directories):
        if not directory.exists():
            raise ReportError(f"{directory}: no such directory")
        if not directory.is_dir():
            raise ReportError(f"{directory}: not a directory")
        sources = _recognise(directory)
        if not sources:
            raise ReportError(
                f"{directory}: not a replay, table1 or sensitivity output "
                f"(none of {REPLAY_FILE}, {TABLE1_FILE}, {TABLE1_MARKDOWN}, {SENSITIVITY_FILE} found)"
            )
        found += sources
    return sorted(found, key=lambda s: KINDS.index(s.kind))


def _recognise(directory: Path) -> list[Source]:
    sources = []
    replay = directory / REPLAY_FILE
    if replay.is_file():
        data = _read_json(replay)
        if isinstance(data.get("detectors"), Mapping):
            sources.append(Source("replay", directory, data))
    table1, table1_md = directory / TABLE1_FILE, directory / TABLE1_MARKDOWN
    if table1.is_file() or table1_md.is_file():
        data = _read_json(table1) if table1.is_file() else {}
        markdown = _read_text(table1_md) if table1_md.is_file() else None
        sources.append(Source("table1", directory, data, markdown))
    sensitivity = directory / SENSITIVITY_FILE
    if sensitivity.is_file():
        data = _read_json(sensitivity)
        if isinstance(data.get("studies"), Mapping):
            sources.append(Source("sensitivity", directory, data))
    return sources


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read ({exc})") from None


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(_read_text(path))
    except ValueError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise ReportError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data
