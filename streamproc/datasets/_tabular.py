"""Tabular recordings: CSV (standard library) or Parquet (only when pyarrow is installed).

One row per time step: a timestamp column, value columns, and an optional label column.
Timestamps are returned as float seconds: ISO 8601 text becomes seconds since the epoch (text
without a UTC offset is read as UTC), numbers are kept as they are. Rows must be in time order.
Empty value cells and ``nan`` read as NaN (sensors drop out); anything else that is not a
number is an error naming the file, row and column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ._errors import DatasetError
from ._segments import Segment, segments_from_labels
from ._telemanom import ChannelData

_TRUE = {"1", "true", "yes", "y", "t", "1.0"}
_FALSE = {"0", "false", "no", "n", "f", "0.0", ""}


@dataclass(frozen=True)
class TabularDataset:
    """``values`` is ``float32[T, C]``; ``labels`` is ``bool[T]`` or ``None`` without a label column."""

    path: Path
    timestamps: np.ndarray
    values: np.ndarray
    labels: np.ndarray | None
    feature_names: list[str]

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def segments(self) -> list[Segment]:
        return segments_from_labels(self.labels) if self.labels is not None else []

    def to_channel(self, train_steps: int, name: str | None = None) -> ChannelData:
        """Split into a channel: the first ``train_steps`` rows train, the rest are the test stream.

        Training rows must be normal: a label inside them is an error, not silently kept.
        """
        if not 0 < train_steps < len(self):
            raise DatasetError(f"{self.path}: train_steps must be between 1 and {len(self) - 1}, got {train_steps}")
        labels = self.labels if self.labels is not None else np.zeros(len(self), dtype=bool)
        if labels[:train_steps].any():
            first = int(np.argmax(labels[:train_steps]))
            raise DatasetError(f"{self.path}: row {first} of the training part is labelled anomalous")
        test_labels = labels[train_steps:].copy()
        return ChannelData(
            name=name or self.path.stem,
            train=self.values[:train_steps].copy(),
            test=self.values[train_steps:].copy(),
            labels=test_labels,
            segments=segments_from_labels(test_labels),
            feature_names=list(self.feature_names),
        )


def load_tabular(path: Path | str, *, timestamp_column: str | None = "timestamp",
                 value_columns: Sequence[str] | None = None, label_column: str | None = None) -> TabularDataset:
    """Read a ``.csv`` or ``.parquet`` file.

    ``value_columns`` defaults to every column other than the timestamp and label columns;
    ``timestamp_column=None`` numbers the rows instead.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        header, columns = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        header, columns = _read_parquet(path)
    else:
        raise DatasetError(f"{path}: unsupported file type {suffix!r} (expected .csv or .parquet)")

    for option, column in (("timestamp column", timestamp_column), ("label column", label_column)):
        if column is not None and column not in header:
            raise DatasetError(f"{path}: no {option} {column!r}; columns: {', '.join(header)}")
    if value_columns is None:
        value_columns = [c for c in header if c not in (timestamp_column, label_column)]
    else:
        absent = [c for c in value_columns if c not in header]
        if absent:
            raise DatasetError(f"{path}: no value column(s) {', '.join(absent)}; columns: {', '.join(header)}")
    if not value_columns:
        raise DatasetError(f"{path}: no value columns")
    n_rows = len(columns[header[0]]) if header else 0
    if n_rows == 0:
        raise DatasetError(f"{path}: no data rows")

    values = np.empty((n_rows, len(value_columns)), dtype=np.float32)
    for j, column in enumerate(value_columns):
        values[:, j] = [_number(path, i, column, cell) for i, cell in enumerate(columns[column])]
    if timestamp_column is None:
        timestamps = np.arange(n_rows, dtype=np.float64)
    else:
        timestamps = np.array([_timestamp(path, i, timestamp_column, cell)
                               for i, cell in enumerate(columns[timestamp_column])], dtype=np.float64)
        backwards = np.flatnonzero(np.diff(timestamps) < 0)
        if len(backwards):
            raise DatasetError(f"{path}: timestamps go backwards at data row {int(backwards[0]) + 1}; "
                               f"rows must be in time order")
    labels = None
    if label_column is not None:
        labels = np.array([_flag(path, i, label_column, cell) for i, cell in enumerate(columns[label_column])],
                          dtype=bool)
    return TabularDataset(path, timestamps, values, labels, list(value_columns))


def _read_csv(path: Path) -> tuple[list[str], dict[str, list[object]]]:
    try:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            if not header:
                raise DatasetError(f"{path}: empty file")
            if len(set(header)) != len(header):
                raise DatasetError(f"{path}: duplicate column names in the header")
            columns: dict[str, list[object]] = {h: [] for h in header}
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DatasetError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
                for name, cell in zip(header, row):
                    columns[name].append(cell)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read CSV ({exc})") from None
    return header, columns


def _read_parquet(path: Path) -> tuple[list[str], dict[str, list[object]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow); "
                           f"or convert the file to CSV") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own hierarchy (ArrowInvalid, OSError, ...)
        raise DatasetError(f"{path}: cannot read Parquet ({exc})") from None
    return list(table.column_names), table.to_pydict()


def _number(path: Path, row: int, column: str, cell: object) -> float:
    if cell is None or (isinstance(cell, str) and cell.strip() == ""):
        return math.nan
    if isinstance(cell, (bool, int, float)):
        return float(cell)
    try:
        return float(str(cell))
    except ValueError:
        pass
    raise DatasetError(f"{path}: data row {row + 1}, column {column!r}: not a number: {cell!r}")


def _timestamp(path: Path, row: int, column: str, cell: object) -> float:
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(cell)
    else:
        text = str(cell).strip() if cell is not None else ""
        try:
            return float(text)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise DatasetError(f"{path}: data row {row + 1}, column {column!r}: "
                               f"not a number or ISO 8601 time: {cell!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _flag(path: Path, row: int, column: str, cell: object) -> bool:
    if isinstance(cell, (bool, int, float)) and not (isinstance(cell, float) and math.isnan(cell)):
        if cell in (0, 1):
            return bool(cell)
    elif cell is None:
        return False
    else:
        text = str(cell).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise DatasetError(f"{path}: data row {row + 1}, column {column!r}: label must be 0/1 or true/false, got {cell!r}")
