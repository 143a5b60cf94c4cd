"""The offline backtest: recorded streams through the pipeline a worker runs, then alerts, scores,
alert- and point-level metrics, a report and plots."""

from ._alerts import ChannelAlert, channel_alerts, write_alerts
from ._backtest import Backtest, BacktestAlerts, ChannelBacktest
from ._errors import ReplayError
from ._plots import plot_channel
from ._report import render_report
from ._run import ALERTS_FILE, METRICS_FILE, PIPELINE, REPORT_FILE, ReplaySettings, replay
from ._stream import SCORE_ARRAYS, ReplayedChannel, random_baseline, replay_model

__all__ = [
    "ALERTS_FILE",
    "PIPELINE",
    "Backtest",
    "BacktestAlerts",
    "ChannelAlert",
    "ChannelBacktest",
    "channel_alerts",
    "write_alerts",
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
