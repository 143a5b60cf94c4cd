"""Data sets: the telemanom layout (SMAP, MSL), tabular recordings, and a synthetic generator."""

from ._errors import DatasetError
from ._fetch import FETCH_RECORD, ChecksumError, FetchedFile, FetchResult, fetch_telemanom, telemanom_sources
from ._history import ChannelHistory, HistoryDataset
from ._recording import DEFAULT_START_MS, DEFAULT_STEP_MS, Recording, record
from ._segments import Segment, labels_from_segments, merge_segments, segments_from_labels
from ._table import TableDataset, TableOptions, open_dataset, open_table_dataset, parse_time
from ._telemanom import (
    ChannelData,
    ChannelLabels,
    ChannelSummary,
    TelemanomDataset,
    load_telemanom,
    read_label_rows,
    write_telemanom,
)
from .synthetic import (
    ANOMALY_KINDS,
    PlantedAnomaly,
    SyntheticConfig,
    SyntheticData,
    generate_synthetic,
    generate_synthetic_channels,
)

__all__ = [
    "ChannelHistory",
    "HistoryDataset",
    "TableDataset",
    "TableOptions",
    "open_dataset",
    "open_table_dataset",
    "parse_time",
    "DEFAULT_START_MS",
    "DEFAULT_STEP_MS",
    "Recording",
    "record",
    "ANOMALY_KINDS",
    "FETCH_RECORD",
    "ChannelData",
    "ChannelLabels",
    "ChannelSummary",
    "ChecksumError",
    "DatasetError",
    "FetchResult",
    "FetchedFile",
    "PlantedAnomaly",
    "Segment",
    "SyntheticConfig",
    "SyntheticData",
    "TelemanomDataset",
    "fetch_telemanom",
    "generate_synthetic",
    "generate_synthetic_channels",
    "labels_from_segments",
    "load_telemanom",
    "merge_segments",
    "read_label_rows",
    "segments_from_labels",
    "telemanom_sources",
    "write_telemanom",
]
