"""The telemanom layout (SMAP, MSL): ``train/<chan>.npy``, ``test/<chan>.npy``, ``labeled_anomalies.csv``.

``labeled_anomalies.csv`` has one row per channel: ``chan_id, spacecraft, anomaly_sequences,
class, num_values``, where ``anomaly_sequences`` lists inclusive ``[start, end]`` index pairs
into the channel's test array.

Duplicate rows. The published SMAP file lists P-2 twice, with ``[[5350, 6575]]`` and
``[[5300, 6420]]`` over the same 8,209-sample test array: two overlapping annotations of one
event. By default (``duplicates="merge"``) the rows of a channel are combined and their spans
joined, giving ``[[5300, 6575]]``: every sample either annotation calls anomalous stays
labelled, the event is counted once in event-wise metrics (iterating raw rows would score P-2
twice), and all 54 channels are kept. ``duplicates="drop"`` leaves such channels out instead,
the convention of papers that report 53 SMAP channels. Rows that disagree on the test length
(``num_values``) or the spacecraft are an error either way.

Column 0 of each array is the telemetry value; the others are one-hot command flags, named
``cmd_1``, ``cmd_2``, ... An optional ``feature_names.json`` beside the CSV (a list for every
channel, or an object mapping channel to list; written by :func:`write_telemanom`) names the
features of data sets that are not telemetry.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, cast

import numpy as np

from ._errors import DatasetError
from ._segments import Segment, labels_from_segments, merge_segments, segments_from_labels
from ._select import select_channels

LABELS_FILE = "labeled_anomalies.csv"
FEATURE_NAMES_FILE = "feature_names.json"
LABEL_COLUMNS = ("chan_id", "spacecraft", "anomaly_sequences", "class", "num_values")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

DuplicatePolicy = Literal["merge", "drop"]


@dataclass(frozen=True)
class ChannelLabels:
    """What ``labeled_anomalies.csv`` says about one channel (after duplicate rows are handled)."""

    name: str
    spacecraft: str
    segments: list[Segment]
    classes: list[str]
    num_values: int
    rows: int


@dataclass(frozen=True)
class ChannelSummary:
    """A channel's sizes and labels, read without loading its arrays."""

    name: str
    train_steps: int
    test_steps: int
    n_features: int
    segments: list[Segment]
    anomalous_steps: int
    label_rows: int


# Feature names of the layout's command columns (when the data set names no features itself).
COMMAND_PREFIX = "cmd_"


@dataclass(frozen=True)
class ChannelData:
    """One channel's arrays: ``train``/``test`` are ``float32[T, C]``, ``labels`` is ``bool[T_test]``.

    ``train_timestamps``/``test_timestamps`` (epoch milliseconds, int64) are there when the data
    has real time; the telemanom layout has none. ``covariates`` are the indices of features that
    are inputs only (commands, set points, modes): detectors see them, never score or blame them.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    segments: list[Segment]
    feature_names: list[str]
    spacecraft: str = ""
    train_timestamps: np.ndarray | None = None
    test_timestamps: np.ndarray | None = None
    covariates: tuple[int, ...] = ()

    def feature_indices(self, names: Sequence[str]) -> tuple[int, ...]:
        """The indices of features named ``names``; an unknown name is an error."""
        unknown = [n for n in names if n not in self.feature_names]
        if unknown:
            raise DatasetError(
                f"channel {self.name}: no feature(s) {', '.join(unknown)}; features: {', '.join(self.feature_names)}"
            )
        return tuple(self.feature_names.index(n) for n in names)

    @property
    def n_features(self) -> int:
        return int(self.train.shape[1])


class TelemanomDataset:
    """A telemanom directory; channels are read from disk one at a time, when asked for."""

    def __init__(
        self,
        root: Path,
        labels: Mapping[str, ChannelLabels],
        *,
        dropped: list[str],
        unlabelled: list[str],
        feature_names: Mapping[str, list[str]] | list[str] | None,
    ) -> None:
        self.root = root
        self._labels = dict(sorted(labels.items()))
        self.dropped = dropped
        self.unlabelled = unlabelled
        self._feature_names = feature_names

    @property
    def channels(self) -> list[str]:
        return list(self._labels)

    def select(self, requested: Sequence[str] | None = None) -> list[str]:
        """The channels a run covers (see :func:`select_channels`)."""
        return select_channels(self.root, self.channels, requested)

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, name: object) -> bool:
        return name in self._labels

    def __iter__(self) -> Iterator[ChannelData]:
        for name in self._labels:
            yield self.channel(name)

    def labels(self, name: str) -> ChannelLabels:
        """The label record of ``name`` without reading its arrays."""
        try:
            return self._labels[name]
        except KeyError:
            raise DatasetError(f"{self.root}: no channel {name!r}; channels: {', '.join(self._labels)}") from None

    def summary(self, name: str) -> ChannelSummary:
        """Sizes and labels of ``name``, checked, from the arrays' headers only (nothing is loaded)."""
        record = self.labels(name)
        train_path, test_path = self.root / "train" / f"{name}.npy", self.root / "test" / f"{name}.npy"
        train_shape = _matrix_shape(_array(train_path, mmap=True), train_path)
        test_shape = _matrix_shape(_array(test_path, mmap=True), test_path)
        _check_consistency(record, train_shape, test_shape, test_path)
        return ChannelSummary(
            name,
            train_shape[0],
            test_shape[0],
            train_shape[1],
            list(record.segments),
            sum(end - start + 1 for start, end in record.segments),
            record.rows,
        )

    def channel(self, name: str) -> ChannelData:
        record = self.labels(name)
        train_path, test_path = self.root / "train" / f"{name}.npy", self.root / "test" / f"{name}.npy"
        train = _as_matrix(_array(train_path), train_path)
        test = _as_matrix(_array(test_path), test_path)
        _check_consistency(record, train.shape, test.shape, test_path)
        names = self._names_for(name, train.shape[1])
        return ChannelData(
            name=name,
            train=train,
            test=test,
            labels=labels_from_segments(record.segments, test.shape[0]),
            segments=list(record.segments),
            feature_names=names,
            spacecraft=record.spacecraft,
            # The layout's own columns 1.. are one-hot commands sent to the spacecraft: inputs.
            covariates=tuple(i for i, n in enumerate(names) if n.startswith(COMMAND_PREFIX))
            if self._feature_names is None
            else (),
        )

    def _names_for(self, name: str, n_features: int) -> list[str]:
        names = self._feature_names
        if isinstance(names, Mapping):
            names = names.get(name)
        if names is None:
            return ["value"] + [f"{COMMAND_PREFIX}{i}" for i in range(1, n_features)]
        if len(names) != n_features:
            raise DatasetError(
                f"{self.root / FEATURE_NAMES_FILE}: {len(names)} names for channel {name}, "
                f"which has {n_features} features"
            )
        return list(names)


def load_telemanom(
    root: Path | str, *, spacecraft: str | None = None, duplicates: DuplicatePolicy = "merge"
) -> TelemanomDataset:
    """Open a telemanom directory: check its files and parse its labels; arrays load per channel.

    ``spacecraft`` (case-insensitive, e.g. ``"SMAP"``) keeps only that spacecraft's rows, for
    the published CSV that covers both SMAP and MSL.
    """
    root = Path(root)
    if duplicates not in ("merge", "drop"):
        raise DatasetError(f"duplicates must be 'merge' or 'drop', got {duplicates!r}")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    labels_path = root / LABELS_FILE
    for required in (root / "train", root / "test"):
        if not required.is_dir():
            raise DatasetError(f"{root}: not a telemanom directory ({required.name}/ missing)")
    if not labels_path.is_file():
        raise DatasetError(f"{root}: not a telemanom directory ({LABELS_FILE} missing)")

    rows = read_label_rows(labels_path)
    if spacecraft is not None:
        rows = [r for r in rows if r.spacecraft.lower() == spacecraft.lower()]
        if not rows:
            raise DatasetError(f"{labels_path}: no rows for spacecraft {spacecraft!r}")
    grouped: dict[str, list[ChannelLabels]] = {}
    for row in rows:
        grouped.setdefault(row.name, []).append(row)
    labels, dropped = {}, []
    for name, group in grouped.items():
        if len(group) > 1 and duplicates == "drop":
            dropped.append(name)
            continue
        labels[name] = _combine(group, labels_path)

    missing = [
        f"{split}/{name}.npy"
        for name in labels
        for split in ("train", "test")
        if not (root / split / f"{name}.npy").is_file()
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"{root}: {LABELS_FILE} lists channels without arrays: {shown}")
    on_disk = {p.stem for p in (root / "test").glob("*.npy")}
    unlabelled = sorted(on_disk - set(grouped)) if spacecraft is None else []
    return TelemanomDataset(
        root, labels, dropped=sorted(dropped), unlabelled=unlabelled, feature_names=_read_feature_names(root)
    )


def read_label_rows(path: Path) -> list[ChannelLabels]:
    """The rows of a ``labeled_anomalies.csv`` as they are, duplicates included."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            absent = [c for c in ("chan_id", "spacecraft", "anomaly_sequences", "num_values") if c not in columns]
            if absent:
                raise DatasetError(f"{path}: missing column(s) {', '.join(absent)}")
            return [_parse_row(path, line, row) for line, row in enumerate(reader, start=2)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read labels ({exc})") from None


def _parse_row(path: Path, line: int, row: dict[str, str]) -> ChannelLabels:
    where = f"{path}:{line}"
    name = (row.get("chan_id") or "").strip()
    if not _CHANNEL_NAME.match(name):
        raise DatasetError(f"{where}: invalid chan_id {name!r}")
    try:
        raw = json.loads(row["anomaly_sequences"])
        segments = [(int(s), int(e)) for s, e in raw]
    except (TypeError, ValueError):
        raise DatasetError(
            f"{where}: anomaly_sequences must be a list of [start, end] pairs, got {row['anomaly_sequences']!r}"
        ) from None
    for start, end in segments:
        if start < 0 or end < start:
            raise DatasetError(f"{where}: invalid anomaly sequence [{start}, {end}]")
    try:
        num_values = int(row["num_values"])
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: num_values must be an integer, got {row['num_values']!r}") from None
    # ``class`` is written without quotes inside the brackets ("[point, contextual]"): not JSON.
    classes = [c.strip() for c in (row.get("class") or "").strip().strip("[]").split(",") if c.strip()]
    return ChannelLabels(
        name, (row.get("spacecraft") or "").strip(), merge_segments(segments), classes, num_values, rows=1
    )


def _combine(group: list[ChannelLabels], path: Path) -> ChannelLabels:
    first = group[0]
    if len(group) == 1:
        return first
    if len({r.num_values for r in group}) > 1 or len({r.spacecraft for r in group}) > 1:
        raise DatasetError(f"{path}: rows for channel {first.name} disagree on num_values or spacecraft")
    return ChannelLabels(
        name=first.name,
        spacecraft=first.spacecraft,
        segments=merge_segments(s for r in group for s in r.segments),
        classes=[c for r in group for c in r.classes],
        num_values=first.num_values,
        rows=len(group),
    )


def _read_feature_names(root: Path) -> Mapping[str, list[str]] | list[str] | None:
    path = root / FEATURE_NAMES_FILE
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read feature names ({exc})") from None

    def valid(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(n, str) for n in value)

    if valid(names) or (isinstance(names, dict) and all(valid(v) for v in names.values())):
        return cast(Mapping[str, list[str]] | list[str], names)
    raise DatasetError(f"{path}: expected a list of names or an object mapping channel to a list of names")


def _array(path: Path, mmap: bool = False) -> np.ndarray:
    try:
        return cast(np.ndarray, np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None))
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy array ({exc})") from None


def _matrix_shape(array: np.ndarray, path: Path) -> tuple[int, int]:
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise DatasetError(f"{path}: expected a [T, C] array, got shape {array.shape}")
    return (int(array.shape[0]), int(array.shape[1]) if array.ndim == 2 else 1)


def _as_matrix(array: np.ndarray, path: Path) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32).reshape(_matrix_shape(array, path))


def _check_consistency(
    record: ChannelLabels, train_shape: tuple[int, ...], test_shape: tuple[int, ...], test_path: Path
) -> None:
    name = record.name
    if train_shape[1] != test_shape[1]:
        raise DatasetError(f"channel {name}: train has {train_shape[1]} features, test has {test_shape[1]}")
    if test_shape[0] != record.num_values:
        raise DatasetError(
            f"channel {name}: {test_path} has {test_shape[0]} steps, {LABELS_FILE} says num_values={record.num_values}"
        )
    if record.segments and record.segments[-1][1] >= test_shape[0]:
        raise DatasetError(
            f"channel {name}: anomaly sequence {list(record.segments[-1])} "
            f"runs past the test array's {test_shape[0]} steps"
        )


class _ChannelArrays(Protocol):
    # Read-only, so that frozen dataclasses (SyntheticData) conform.
    @property
    def train(self) -> np.ndarray: ...
    @property
    def test(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray: ...
    @property
    def feature_names(self) -> list[str]: ...


def write_telemanom(root: Path | str, channels: Mapping[str, _ChannelArrays], *, spacecraft: str = "SYNTHETIC") -> Path:
    """Write channels (``SyntheticData``, ``ChannelData``, ...) in the telemanom layout under ``root``.

    Spans come from each channel's ``labels``; the ``class`` column lists the planted kinds of
    synthetic channels. ``feature_names.json`` keeps the channels' feature names.
    """
    root = Path(root)
    if not channels:
        raise DatasetError("write_telemanom: no channels given")
    for name in channels:
        if not _CHANNEL_NAME.match(name):
            raise DatasetError(f"write_telemanom: invalid channel name {name!r}")
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "test").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, data in sorted(channels.items()):
        labels = np.asarray(data.labels, dtype=bool)
        if len(labels) != len(data.test):
            raise DatasetError(
                f"write_telemanom: channel {name} has {len(labels)} labels for {len(data.test)} test steps"
            )
        np.save(root / "train" / f"{name}.npy", np.asarray(data.train))
        np.save(root / "test" / f"{name}.npy", np.asarray(data.test))
        segments = segments_from_labels(labels)
        events = getattr(data, "events", None)
        classes = [e.kind for e in sorted(events, key=lambda e: e.start)] if events else []
        rows.append(
            {
                "chan_id": name,
                "spacecraft": spacecraft,
                "anomaly_sequences": json.dumps([list(s) for s in segments]),
                "class": "[" + ", ".join(classes) + "]",
                "num_values": len(data.test),
            }
        )
    with (root / LABELS_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    names = {name: list(data.feature_names) for name, data in sorted(channels.items())}
    (root / FEATURE_NAMES_FILE).write_text(json.dumps(names, indent=2) + "\n")
    return root
