"""Markdown tables of metric dicts (the JSON form of :class:`Evaluation` and its totals), for
the reports that replay and the benchmarks write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def metric_cell(metrics: Mapping[str, Any], path: Sequence[str]) -> str:
    """The number at ``path`` (e.g. ``("point_wise", "f1")``) to 3 decimals (a count as it is);
    ``-`` when the dict has no such entry, ``n/a`` when the metric is undefined (null)."""
    value: Any = metrics
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return "-"
        value = value[key]
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> list[str]:
    """A pipe table's lines; the first ``text_columns`` columns left-aligned, the rest (numbers)
    right-aligned."""
    rule = ["---"] * text_columns + ["---:"] * (len(header) - text_columns)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
