"""The detector plugin API: contract, typed specs, hooks and discovery."""

from ._base import (
    ARRAYS_FILE,
    METADATA_FILE,
    ArtifactError,
    Detector,
    FitReport,
    ProgressCallback,
    ScoreBatch,
    read_metadata,
    sliding_windows,
)
from ._hookspec import ENTRY_POINT_GROUP, hookimpl, hookspec
from ._registry import DetectorRegistry, PluginError, PluginInfo
from ._scaling import RobustScaler
from ._spec import DetectorSpec

__all__ = [
    "ARRAYS_FILE",
    "ENTRY_POINT_GROUP",
    "METADATA_FILE",
    "ArtifactError",
    "Detector",
    "DetectorRegistry",
    "DetectorSpec",
    "FitReport",
    "PluginError",
    "PluginInfo",
    "ProgressCallback",
    "RobustScaler",
    "ScoreBatch",
    "hookimpl",
    "hookspec",
    "read_metadata",
    "sliding_windows",
]
