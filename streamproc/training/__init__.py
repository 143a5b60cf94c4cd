"""Training: per-channel models with robust scaling and label-free thresholds, stored as artifacts."""

from ._compare import ShadowComparison, compare_shadow
from ._errors import TrainingError
from ._fingerprint import data_fingerprint
from ._model import CALIBRATION_FILE, TrainedModel
from ._options import TrainingOptions
from ._store import KEEP_VERSIONS, ModelStore, Pointers, Reused, VersionInfo
from ._trainer import (
    FLAT_FEATURE_SPREAD,
    flat_features,
    resolve_config,
    resolve_spec,
    sampling_period_ms,
    seed_everything,
    split_validation,
    train_channel,
)

__all__ = [
    "FLAT_FEATURE_SPREAD",
    "KEEP_VERSIONS",
    "Pointers",
    "VersionInfo",
    "flat_features",
    "CALIBRATION_FILE",
    "ModelStore",
    "Reused",
    "ShadowComparison",
    "compare_shadow",
    "TrainedModel",
    "TrainingError",
    "TrainingOptions",
    "data_fingerprint",
    "resolve_config",
    "resolve_spec",
    "sampling_period_ms",
    "seed_everything",
    "split_validation",
    "train_channel",
]
