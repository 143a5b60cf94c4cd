"""Benchmarks: sensitivity studies (anomaly ratio, noise, window length) over seeds; Table 1 side by side."""

from ._cache import ModelCache, ModelKey
from ._errors import BenchError
from ._figures import plot_study
from ._machine import describe_machine, machine_line
from ._markdown import render_markdown
from ._micro import METRICS, micro_metrics
from ._noise import add_relative_noise, feature_scale, unit_noise
from ._published import PUBLISHED_SMAP, PublishedFigure, published_figure
from ._ratio import RatioCrop, RatioInfeasible, crop_to_ratio, ratio_fraction
from ._scored import ScoreCache, TimedReplay
from ._sensitivity import (
    DEFAULT_NOISE_LEVELS,
    DEFAULT_RATIOS,
    DEFAULT_WINDOWS,
    MARKDOWN_FILE,
    NOISE_VARIANTS,
    RESULT_FILE,
    RESULT_KIND,
    STUDIES,
    SensitivitySettings,
    figure_file,
    run_sensitivity,
)
from ._table1 import (
    TABLE1_JSON,
    TABLE1_KIND,
    TABLE1_MARKDOWN,
    Table1Settings,
    default_detectors,
    run_table1,
)
from ._table1_markdown import render_table1

__all__ = [
    "DEFAULT_NOISE_LEVELS",
    "DEFAULT_RATIOS",
    "DEFAULT_WINDOWS",
    "MARKDOWN_FILE",
    "METRICS",
    "NOISE_VARIANTS",
    "PUBLISHED_SMAP",
    "RESULT_FILE",
    "RESULT_KIND",
    "STUDIES",
    "TABLE1_JSON",
    "TABLE1_KIND",
    "TABLE1_MARKDOWN",
    "BenchError",
    "ModelCache",
    "ModelKey",
    "PublishedFigure",
    "RatioCrop",
    "RatioInfeasible",
    "ScoreCache",
    "SensitivitySettings",
    "Table1Settings",
    "TimedReplay",
    "add_relative_noise",
    "crop_to_ratio",
    "default_detectors",
    "describe_machine",
    "feature_scale",
    "figure_file",
    "machine_line",
    "micro_metrics",
    "plot_study",
    "published_figure",
    "ratio_fraction",
    "render_markdown",
    "render_table1",
    "run_sensitivity",
    "run_table1",
    "unit_noise",
]
