"""Label-free thresholds: POT calibration on normal scores and SPOT/DSPOT online adaptation."""

from ._config import ADAPTATIONS, ThresholdConfig, ThresholdConfigError
from ._gpd import GPDFit, fit_gpd, gpd_log_likelihood
from ._spot import Spot

__all__ = [
    "ADAPTATIONS",
    "GPDFit",
    "Spot",
    "ThresholdConfig",
    "ThresholdConfigError",
    "fit_gpd",
    "gpd_log_likelihood",
]
