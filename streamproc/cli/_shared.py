"""What several commands do alike: read comma-separated lists and ``--set key=value`` pairs, print
aligned columns and a detector's headline metrics, make torch deterministic."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from streamproc.errors import StreamprocError

if TYPE_CHECKING:
    from streamproc.datasets import TableOptions


def comma_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None or blanks give an empty list."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def echo_columns(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first one the header) in columns two spaces apart; the last column is
    not padded, so a long description does not widen the others."""
    import typer

    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])


def parse_settings(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, booleans)."""
    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise StreamprocError(f"--set expects key=value, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(raw)
        except ValueError:
            settings[key.strip()] = raw
    return settings


def headline_line(label: str, micro: Mapping[str, Any]) -> str:
    """One detector's micro (headline) metrics on one line, the oracle marked as such."""
    vus = "n/a" if micro["vus_pr"] is None else f"{micro['vus_pr']:.3f}"
    return (
        f"{label}: PA-F1 {micro['point_adjusted']['f1']:.3f}  PW-F1 {micro['point_wise']['f1']:.3f}  "
        f"event-F1 {micro['event_wise']['f1']:.3f}  VUS-PR {vus}  "
        f"best PW-F1 (oracle) {micro['oracle_best_f1']['f1']:.3f}"
    )


def make_deterministic() -> None:
    """Ask torch, when a plugin has imported it, for reproducible kernels."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    # cuBLAS needs a fixed workspace for reproducible results; setting it is harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


# Options of every command that reads a data set (``--data``): CSV/Parquet files need them.
def table_options(
    delimiter: str | None,
    timestamp_column: str | None,
    time_format: str | None,
    timezone: str,
    value_columns: str | None,
    label_columns: str | None,
    train_rows: int | None,
    train_fraction: float | None,
    train_until: str | None,
) -> TableOptions | None:
    """The :class:`TableOptions` the flags describe, or None when none of them is given (a
    telemanom directory needs none)."""
    from streamproc.datasets import TableOptions

    given = (
        delimiter,
        timestamp_column,
        time_format,
        value_columns,
        label_columns,
        train_rows,
        train_fraction,
        train_until,
    )
    if all(value is None for value in given) and timezone == "UTC":
        return None
    return TableOptions(
        delimiter=delimiter,
        timestamp_column=timestamp_column,
        time_format=time_format,
        timezone=timezone,
        value_columns=tuple(comma_list(value_columns)) if value_columns is not None else None,
        label_columns=tuple(comma_list(label_columns)) if label_columns is not None else None,
        train_rows=train_rows,
        train_fraction=train_fraction,
        train_until=train_until,
    )


def _table_parameters() -> list[inspect.Parameter]:
    import typer

    def option(name: str, kind: type | types.UnionType, default: object, flag: str, help: str) -> inspect.Parameter:
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=kind,
            default=typer.Option(default, flag, help=help, rich_help_panel="CSV / Parquet data"),
        )

    return [
        option(
            "delimiter", str | None, None, "--delimiter", "CSV field separator (default: detected from the header)."
        ),
        option(
            "timestamp_column",
            str | None,
            None,
            "--timestamp-column",
            "Column of times (default: one named datetime, timestamp, time, date or ts).",
        ),
        option(
            "time_format",
            str | None,
            None,
            "--time-format",
            "strptime format of the times (default: ISO 8601, or epoch seconds/milliseconds).",
        ),
        option("timezone", str, "UTC", "--timezone", "Time zone of times that carry none (e.g. Europe/Berlin)."),
        option(
            "value_columns",
            str | None,
            None,
            "--value-columns",
            "Comma-separated feature columns (default: every column but the time and labels).",
        ),
        option(
            "label_columns",
            str | None,
            None,
            "--label-columns",
            "Comma-separated 0/1 label columns, never features (default: anomaly, label, changepoint, ...).",
        ),
        option("train_rows", int | None, None, "--train-rows", "The first N rows of each file are the training part."),
        option(
            "train_fraction",
            float | None,
            None,
            "--train-fraction",
            "The first share of each file's rows is the training part.",
        ),
        option(
            "train_until",
            str | None,
            None,
            "--train-until",
            "Rows before this time (ISO 8601 or epoch ms) are the training part.",
        ),
    ]


TABLE_PARAMETER_NAMES = (
    "delimiter",
    "timestamp_column",
    "time_format",
    "timezone",
    "value_columns",
    "label_columns",
    "train_rows",
    "train_fraction",
    "train_until",
)


def with_table_options(command: Callable[..., object]) -> Callable[..., object]:
    """Give a command that reads ``--data`` the CSV/Parquet options; it receives them as one
    ``table`` argument (a :class:`TableOptions`, or None for a telemanom directory)."""
    signature = inspect.signature(command)
    extra = _table_parameters()

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        values = {name: kwargs.pop(name) for name in TABLE_PARAMETER_NAMES}
        return command(*args, table=table_options(**values), **kwargs)  # type: ignore[arg-type]

    own = [p for p in signature.parameters.values() if p.name != "table"]
    wrapper.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in command.__annotations__.items() if k != "table"},
        **{p.name: p.annotation for p in extra},
    }
    return wrapper
