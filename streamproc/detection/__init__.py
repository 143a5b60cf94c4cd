"""The detector plugin API: contract, typed specs, hooks and discovery."""

from typing import Any

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
    "DeviceError",
    "FeatureRange",
    "TorchDetector",
    "TrainStep",
    "module_arrays",
    "resolve_device",
    "restore_module",
    "window_tensor",
]

# The torch plumbing is imported on first use so that importing the plugin API (the CLI, the
# registry, non-neural detectors) does not pay for importing torch.
_TORCH_NAMES = frozenset(
    {
        "DeviceError",
        "FeatureRange",
        "TorchDetector",
        "TrainStep",
        "module_arrays",
        "resolve_device",
        "restore_module",
        "window_tensor",
    }
)


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from . import _torch

        return getattr(_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
