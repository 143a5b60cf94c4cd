"""The sweep's micro totals are the replay's micro totals, without the per-channel sweeps."""

from __future__ import annotations

import numpy as np

from streamproc.bench import micro_metrics
from streamproc.datasets import SyntheticConfig, generate_synthetic_channels
from streamproc.metrics import ChannelSeries, evaluate_channels


def test_micro_metrics_match_evaluate_channels() -> None:
    data = generate_synthetic_channels(SyntheticConfig(n_features=2, train_steps=10, test_steps=900, seed=5), 3)
    rng = np.random.default_rng(0)
    channels = {}
    for name, channel in data.items():
        scores = rng.random(len(channel.labels)) + 0.8 * channel.labels
        scores[:7] = np.nan  # no full window yet
        threshold = float(rng.uniform(0.8, 1.2))
        channels[name] = ChannelSeries(channel.labels, scores, np.nan_to_num(scores) > threshold, threshold)
    expected = evaluate_channels(channels, max_buffer=40)["micro"]
    got = micro_metrics(channels, max_buffer=40)
    for name, path in {
        "pa_precision": ("point_adjusted", "precision"),
        "pa_recall": ("point_adjusted", "recall"),
        "pa_f1": ("point_adjusted", "f1"),
        "pw_precision": ("point_wise", "precision"),
        "pw_recall": ("point_wise", "recall"),
        "pw_f1": ("point_wise", "f1"),
        "event_f1": ("event_wise", "f1"),
        "vus_pr": ("vus_pr",),
        "alarm_rate": ("alarm_rate",),
    }.items():
        value = expected
        for key in path:
            value = value[key]
        assert got[name] == value, name
    assert 0 < got["pw_f1"] < 1
