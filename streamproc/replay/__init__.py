"""Offline replay: test streams through trained models, with metrics, a report and plots."""

from ._errors import ReplayError
from ._plots import plot_channel
from ._report import render_report
from ._run import METRICS_FILE, REPORT_FILE, ReplaySettings, replay
from ._stream import SCORE_ARRAYS, ReplayedChannel, random_baseline, replay_model

__all__ = [
    "METRICS_FILE",
    "REPORT_FILE",
    "SCORE_ARRAYS",
    "ReplayError",
    "ReplaySettings",
    "ReplayedChannel",
    "plot_channel",
    "random_baseline",
    "render_report",
    "replay",
    "replay_model",
]
