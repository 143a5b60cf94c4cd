"""Evaluation metrics: point-adjusted, point-wise and event-wise P/R/F1, VUS-PR, oracle best F1, and
alert-level metrics (incidents caught, alert precision, false alerts, delay) of what operators receive."""

from ._alerts import ALERT_COLUMNS, AlertCounts, AlertSpan, alert_counts, catches, caught_incidents, total_alert_counts
from ._classification import Counts, event_wise, point_adjust, point_adjusted, point_wise
from ._evaluate import HEADLINE, ChannelSeries, Evaluation, evaluate, evaluate_channels, normalise_scores
from ._oracle import OracleF1, oracle_best_f1, oracle_best_f1_point_adjusted
from ._segments import runs
from ._tables import markdown_table, metric_cell
from ._vus import DEFAULT_MAX_BUFFER, DEFAULT_THRESHOLDS, range_labels, range_pr_auc, vus_pr

__all__ = [
    "ALERT_COLUMNS",
    "AlertCounts",
    "AlertSpan",
    "alert_counts",
    "catches",
    "caught_incidents",
    "total_alert_counts",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_THRESHOLDS",
    "HEADLINE",
    "ChannelSeries",
    "Counts",
    "Evaluation",
    "OracleF1",
    "evaluate",
    "evaluate_channels",
    "markdown_table",
    "metric_cell",
    "event_wise",
    "normalise_scores",
    "oracle_best_f1",
    "oracle_best_f1_point_adjusted",
    "point_adjust",
    "point_adjusted",
    "point_wise",
    "range_labels",
    "range_pr_auc",
    "runs",
    "vus_pr",
]
