"""The headline (micro) metrics of one detector over several channels, as flat named numbers.

Same definitions as :func:`streamproc.metrics.evaluate_channels`'s ``micro`` totals (alarm
counts summed over channels; VUS-PR on the concatenated scores, each channel's divided by its
own label-free threshold), built from the same primitives but without the per-channel VUS and
oracle sweeps that a sweep over dozens of settings does not use and that dominate its cost.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from streamproc.metrics import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_THRESHOLDS,
    ChannelSeries,
    Counts,
    event_wise,
    normalise_scores,
    point_adjusted,
    point_wise,
    vus_pr,
)

# name -> what a table or a figure calls it
METRICS: dict[str, str] = {
    "pa_precision": "PA precision",
    "pa_recall": "PA recall",
    "pa_f1": "PA F1",
    "pw_precision": "PW precision",
    "pw_recall": "PW recall",
    "pw_f1": "PW F1",
    "event_f1": "event F1",
    "vus_pr": "VUS-PR",
    "alarm_rate": "alarm rate",
}


def micro_metrics(
    channels: Mapping[str, ChannelSeries],
    *,
    max_buffer: int = DEFAULT_MAX_BUFFER,
    n_thresholds: int = DEFAULT_THRESHOLDS,
) -> dict[str, float | None]:
    """Every name of :data:`METRICS` for the channels taken as one stream; VUS-PR is None
    when no channel holds a labelled point."""
    if not channels:
        raise ValueError("no channels to evaluate")
    adjusted = wise = events = Counts(0, 0, 0)
    alarms = steps = 0
    for series in channels.values():
        adjusted = adjusted + point_adjusted(series.labels, series.alarms)
        wise = wise + point_wise(series.labels, series.alarms)
        events = events + event_wise(series.labels, series.alarms)
        alarms += int(np.count_nonzero(series.alarms))
        steps += len(series.labels)
    labels = np.concatenate([np.asarray(s.labels, bool) for s in channels.values()])
    scores = np.concatenate([normalise_scores(s.scores, s.threshold) for s in channels.values()])
    vus = vus_pr(labels, scores, max_buffer, n_thresholds)
    return {
        "pa_precision": adjusted.precision,
        "pa_recall": adjusted.recall,
        "pa_f1": adjusted.f1,
        "pw_precision": wise.precision,
        "pw_recall": wise.recall,
        "pw_f1": wise.f1,
        "event_f1": events.f1,
        "vus_pr": float(vus) if np.isfinite(vus) else None,
        "alarm_rate": alarms / steps if steps else 0.0,
    }
