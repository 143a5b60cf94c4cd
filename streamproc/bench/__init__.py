"""Benchmarks: sensitivity studies (anomaly ratio, noise, window length) over seeds."""

from ._cache import ModelCache, ModelKey
from ._errors import BenchError
from ._figures import plot_study
from ._markdown import render_markdown
from ._micro import METRICS, micro_metrics
from ._noise import add_relative_noise, feature_scale, unit_noise
from ._ratio import RatioCrop, RatioInfeasible, crop_to_ratio, ratio_fraction
from ._sensitivity import (
    DEFAULT_NOISE_LEVELS,
    DEFAULT_RATIOS,
    DEFAULT_WINDOWS,
    MARKDOWN_FILE,
    RESULT_FILE,
    RESULT_KIND,
    STUDIES,
    SensitivitySettings,
    figure_file,
    run_sensitivity,
)

__all__ = [
    "DEFAULT_NOISE_LEVELS",
    "DEFAULT_RATIOS",
    "DEFAULT_WINDOWS",
    "MARKDOWN_FILE",
    "METRICS",
    "RESULT_FILE",
    "RESULT_KIND",
    "STUDIES",
    "BenchError",
    "ModelCache",
    "ModelKey",
    "RatioCrop",
    "RatioInfeasible",
    "SensitivitySettings",
    "add_relative_noise",
    "crop_to_ratio",
    "feature_scale",
    "figure_file",
    "micro_metrics",
    "plot_study",
    "ratio_fraction",
    "render_markdown",
    "run_sensitivity",
    "unit_noise",
]
