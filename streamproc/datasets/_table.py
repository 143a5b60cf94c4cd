"""A plant's own export as a data set: CSV or Parquet files, one channel per file, with real time.

What a historian exports: a header row, a timestamp column, sensor columns and perhaps label
columns, one file per asset or experiment (SKAB: ``valve1/0.csv`` ...). :class:`TableDataset`
gives such files the interface of the telemanom layout (``channels``, ``select``, ``channel``),
so ``train``, ``replay`` and ``bench`` read both. What is unambiguous is detected (delimiter,
timestamp column, label columns) and reported in :attr:`TableDataset.detected`; the split into
training and test parts is always stated, never guessed.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ._errors import DatasetError
from ._segments import segments_from_labels
from ._select import select_channels
from ._telemanom import ChannelData, TelemanomDataset

SUFFIXES = (".csv", ".parquet", ".pq")
TIMESTAMP_NAMES = ("datetime", "timestamp", "time", "date", "ts")
LABEL_NAMES = ("anomaly", "label", "labels", "is_anomaly", "anomalous", "attack", "changepoint", "fault")
DELIMITERS = ",;\t|"
_TRUE = {"1", "true", "yes", "y", "t", "1.0"}
_FALSE = {"0", "false", "no", "n", "f", "0.0", ""}


@dataclass(frozen=True)
class TableOptions:
    """How to read the files; ``None`` means "detect it" where detection is unambiguous.

    Split (exactly one, checked when files are read): ``train_rows`` (the first N rows of each
    file train, e.g. SKAB's 400), ``train_fraction`` (the first share of each file's rows) or
    ``train_until`` (rows before that time: epoch ms, or an ISO 8601 time read in ``timezone``
    when it carries no zone, like the files' own times).
    """

    delimiter: str | None = None
    timestamp_column: str | None = None
    time_format: str | None = None
    timezone: str = "UTC"
    value_columns: tuple[str, ...] | None = None
    label_columns: tuple[str, ...] | None = None
    train_rows: int | None = None
    train_fraction: float | None = None
    train_until: int | str | None = None

    def check_split(self) -> None:
        splits = [s for s in (self.train_rows, self.train_fraction, self.train_until) if s is not None]
        if len(splits) != 1:
            raise DatasetError(
                "say how to split each file into training and test parts: one of --train-rows N, "
                "--train-fraction F or --train-until TIME"
            )

    @property
    def train_until_ms(self) -> int | None:
        """``train_until`` as epoch ms (a time without a zone is read in ``timezone``)."""
        if self.train_until is None or isinstance(self.train_until, int):
            return self.train_until
        return parse_time("--train-until", self.train_until, self.timezone)

    def __post_init__(self) -> None:
        if self.train_rows is not None and self.train_rows < 2:
            raise DatasetError(f"--train-rows must be >= 2, got {self.train_rows}")
        if self.train_fraction is not None and not 0.0 < self.train_fraction < 1.0:
            raise DatasetError(f"--train-fraction must be in (0, 1), got {self.train_fraction}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise DatasetError(f"--delimiter must be one character, got {self.delimiter!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DatasetError(f"--timezone: unknown time zone {self.timezone!r}") from None


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_time(option: str, text: str, zone: str = "UTC", *, now_ms: int | None = None) -> int:
    """An ISO 8601 time (in ``zone`` when it names none), epoch milliseconds, or a span back from
    now (``90s``, ``30m``, ``12h``, ``7d``: what a scheduled job asks for), as epoch ms;
    ``option`` names the flag in the error."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    ago = _AGO.match(text)
    if ago is not None:
        now = int(datetime.now(UTC).timestamp() * 1000) if now_ms is None else now_ms
        return now - int(ago.group(1)) * _UNIT_MS[ago.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DatasetError(
            f"{option}: {text!r} is neither an ISO 8601 time, epoch milliseconds nor a span like 7d or 12h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return int(moment.timestamp() * 1000)


@dataclass
class _Table:
    path: Path
    header: list[str]
    columns: dict[str, list[object]]
    delimiter: str | None = None  # of a CSV file


@dataclass
class TableDataset:
    """CSV/Parquet files under ``root`` (a file, or a folder searched recursively), one channel each."""

    root: Path
    options: TableOptions
    files: dict[str, Path]
    detected: list[str] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        return list(self.files)

    def select(self, requested: Sequence[str] | None = None) -> list[str]:
        """The channels a run covers (see :func:`select_channels`)."""
        return select_channels(self.root, self.channels, requested)

    def channel(self, name: str) -> ChannelData:
        return self._channel(name, _read(self.files[name], self.options.delimiter))

    def _channel(self, name: str, table: _Table) -> ChannelData:
        options, path = self.options, table.path
        header = table.header
        stamp = options.timestamp_column or _detect(header, TIMESTAMP_NAMES)
        labels = (
            list(options.label_columns)
            if options.label_columns is not None
            else [c for c in header if c.strip().lower() in LABEL_NAMES]
        )
        for column in [c for c in (stamp, *labels) if c is not None]:
            if column not in header:
                raise DatasetError(f"{path}: no column {column!r}; columns: {', '.join(header)}")
        values = (
            list(options.value_columns)
            if options.value_columns is not None
            else [c for c in header if c != stamp and c not in labels]
        )
        overlap = sorted(set(values) & set(labels))
        if overlap:
            raise DatasetError(f"{path}: label column(s) {', '.join(overlap)} cannot be features")
        absent = [c for c in values if c not in header]
        if absent or not values:
            raise DatasetError(
                f"{path}: no value column(s) {', '.join(absent) or '(none left)'}; columns: {', '.join(header)}"
            )
        rows = len(table.columns[header[0]])
        data = np.empty((rows, len(values)), dtype=np.float32)
        for j, column in enumerate(values):
            data[:, j] = [_number(path, i, column, cell) for i, cell in enumerate(table.columns[column])]
        flags = np.zeros(rows, dtype=bool)
        for column in labels:
            flags |= np.array([_flag(path, i, column, cell) for i, cell in enumerate(table.columns[column])], bool)
        times = None
        if stamp is not None:
            zone = ZoneInfo(options.timezone)
            times = np.array(
                [
                    _epoch_ms(path, i, stamp, cell, options.time_format, zone)
                    for i, cell in enumerate(table.columns[stamp])
                ],
                dtype=np.int64,
            )
            backwards = np.flatnonzero(np.diff(times) <= 0)
            if len(backwards):
                row = int(backwards[0]) + 1
                raise DatasetError(
                    f"{path}: data row {row + 1}, column {stamp!r}: time does not increase "
                    f"({table.columns[stamp][row - 1]!r} then {table.columns[stamp][row]!r})"
                )
        split = self._split(path, rows, times)
        if flags[:split].any():
            first = int(np.argmax(flags[:split]))
            raise DatasetError(
                f"{path}: data row {first + 1} of the training part is labelled anomalous; training data must be normal"
            )
        test_labels = flags[split:].copy()
        return ChannelData(
            name,
            data[:split].copy(),
            data[split:].copy(),
            test_labels,
            segments_from_labels(test_labels),
            values,
            train_timestamps=None if times is None else times[:split],
            test_timestamps=None if times is None else times[split:],
        )

    def _split(self, path: Path, rows: int, times: np.ndarray | None) -> int:
        options = self.options
        if options.train_rows is not None:
            split = options.train_rows
        elif options.train_fraction is not None:
            split = int(rows * options.train_fraction)
        else:
            if times is None:
                raise DatasetError(f"{path}: --train-until needs a timestamp column")
            # check_split: with neither train_rows nor train_fraction, train_until is set.
            split = int(np.searchsorted(times, cast(int, options.train_until_ms)))
        if not 0 < split < rows:
            raise DatasetError(
                f"{path}: the split leaves {split} training and {rows - split} test rows; both parts must have rows"
            )
        return split


def open_table_dataset(root: Path | str, options: TableOptions) -> TableDataset:
    """The CSV/Parquet files at ``root`` (a file or a folder, searched recursively) as channels."""
    root = Path(root)
    options.check_split()
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise DatasetError(f"{root}: not a .csv or .parquet file")
        files = {_channel_name(root.parent, root): root}
    elif root.is_dir():
        found = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES), key=_natural)
        if not found:
            raise DatasetError(f"{root}: no .csv or .parquet files")
        files = {_channel_name(root, p): p for p in found}
    else:
        raise DatasetError(f"{root}: no such file or directory")
    dataset = TableDataset(root, options, files)
    first = _read(next(iter(files.values())), options.delimiter)
    delimiter = options.delimiter or first.delimiter
    header = first.header
    stamp = options.timestamp_column or _detect(header, TIMESTAMP_NAMES)
    labels = (
        options.label_columns
        if options.label_columns is not None
        else tuple(c for c in header if c.strip().lower() in LABEL_NAMES)
    )
    dataset.detected = [
        f"{len(files)} file(s), one channel each",
        *([f"delimiter {delimiter!r}"] if delimiter and options.delimiter is None else []),
        f"timestamp column {stamp!r}" if stamp else "no timestamp column: rows are numbered",
        f"label column(s) {', '.join(labels)} (never features)" if labels else "no label column",
    ]
    return dataset


def _natural(path: Path) -> list[object]:
    """Sort key putting ``2.csv`` before ``10.csv``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def _channel_name(root: Path, path: Path) -> str:
    """``<folder>-<file>`` (``valve1-0``), the same whether the folder or the file was given."""
    relative = path.relative_to(root).with_suffix("")
    name = "-".join((root.name, *relative.parts))
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name).lstrip("_.-") or "channel"


def _detect(header: Sequence[str], names: Sequence[str]) -> str | None:
    found = [c for c in header if c.strip().lower() in names]
    return found[0] if found else None


def _read(path: Path, delimiter: str | None) -> _Table:
    if path.suffix.lower() != ".csv":
        header, columns = _read_parquet(path)
        return _Table(path, header, columns)
    try:
        with path.open(newline="") as handle:
            first = handle.readline()
            if not first.strip():
                raise DatasetError(f"{path}: empty file")
            if delimiter is None:
                counts = {d: first.count(d) for d in DELIMITERS}
                delimiter = max(counts, key=lambda d: counts[d])
                if counts[delimiter] == 0:
                    delimiter = ","
            handle.seek(0)
            reader = csv.reader(handle, delimiter=delimiter)
            header = [h.strip() for h in next(reader)]
            if len(set(header)) != len(header):
                raise DatasetError(f"{path}: duplicate column names in the header")
            columns = {h: [] for h in header}
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DatasetError(
                        f"{path}: line {line}: {len(row)} fields, the header has {len(header)} "
                        f"(delimiter {delimiter!r})"
                    )
                for name, cell in zip(header, row, strict=False):
                    columns[name].append(cell)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read CSV ({exc})") from None
    if not columns[header[0]]:
        raise DatasetError(f"{path}: no data rows")
    return _Table(path, header, columns, delimiter)


def _epoch_ms(path: Path, row: int, column: str, cell: object, time_format: str | None, zone: ZoneInfo) -> int:
    if isinstance(cell, datetime):
        moment = cell
    else:
        text = str(cell).strip() if cell is not None else ""
        try:
            if time_format is not None:
                moment = datetime.strptime(text, time_format)
            else:
                number = float(text)
                # Epoch seconds or milliseconds, told apart by size (ms since 1973 exceed 1e11).
                milliseconds = number if abs(number) >= 1e11 else number * 1000
                if not abs(milliseconds) < 1e16:  # also NaN and infinities
                    raise DatasetError(f"{path}: data row {row + 1}, column {column!r}: not a time: {cell!r}")
                return int(milliseconds)
        except ValueError:
            if time_format is not None:
                raise DatasetError(
                    f"{path}: data row {row + 1}, column {column!r}: {cell!r} does not match "
                    f"the time format {time_format!r}"
                ) from None
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise DatasetError(
                    f"{path}: data row {row + 1}, column {column!r}: not a time: {cell!r} (give --time-format)"
                ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return int(round(moment.astimezone(UTC).timestamp() * 1000))
    except (OverflowError, ValueError, OSError):
        raise DatasetError(f"{path}: data row {row + 1}, column {column!r}: time out of range: {cell!r}") from None


def open_dataset(root: Path | str, table: TableOptions | None = None) -> TelemanomDataset | TableDataset:
    """A telemanom directory (it has ``labeled_anomalies.csv``), or CSV/Parquet files read with
    ``table`` (which must then say how to split them)."""
    from ._telemanom import load_telemanom

    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or directory")
    if root.is_dir() and (root / "labeled_anomalies.csv").is_file():
        return load_telemanom(root)
    if table is None:
        raise DatasetError(
            f"{root}: not a telemanom directory (no labeled_anomalies.csv); for CSV or Parquet files "
            f"say how to split them: --train-rows N, --train-fraction F or --train-until TIME"
        )
    return open_table_dataset(root, table)


def _read_parquet(path: Path) -> tuple[list[str], dict[str, list[object]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow); or convert the file to CSV"
        ) from None
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
