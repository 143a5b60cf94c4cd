"""Missing values through the real worker: flagged by the producer, filled by the policy, and
the same windows scored and alerts raised as the offline backtest of the same data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_missing_values_are_filled_as_offline_and_unfillable_windows_skipped(pipeline, stream_models) -> None:
    original = stream_models.channels["a0"]
    test = original.test.astype(np.float64).copy()
    test[50:52, 1] = np.nan  # within the default limit (3): held
    test[200:210, 2] = np.nan  # beyond it: the windows holding more than 3 of these steps are skipped
    channel = dataclasses.replace(original, test=test)
    offline = stream_models.backtest(channel)
    assert offline.unscored > 0 and offline.windows > 0

    pipeline.start_worker()
    pipeline.produce([channel])  # the feed sends each NaN as a missing value
    pipeline.wait_for(
        lambda: len(pipeline.scored_windows().get("a0", ())) == offline.windows, what="the scorable windows"
    )
    scored = set(pipeline.scored_windows()["a0"])
    expected = set(stream_models.expected_window_ends(len(test)))
    skipped = sorted((end - stream_models.start_ms) // stream_models.step_ms for end in expected - scored)
    assert len(skipped) == offline.unscored and all(203 <= step < 200 + 10 + stream_models.window for step in skipped)
    assert not pipeline.records("dead_letter")
    pipeline.wait_for(lambda: len(pipeline.records("alerts")) >= len(offline.events), what="the alerts")
    alerts = [(r.record["alert_id"], r.record["state"], r.record["updated_at"]) for r in pipeline.records("alerts")]
    assert alerts == [(e.alert_id, e.state, e.updated_at) for e in offline.events]
    assert pipeline.workers[0].metric("streamproc_windows_unscored_total", reason="missing-values") == offline.unscored
