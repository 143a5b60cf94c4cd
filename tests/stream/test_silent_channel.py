"""A channel that stops sending raises a STALE alert through the real worker, resolved when it returns."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def stale_alerts(pipeline, channel: str) -> list[dict]:
    return [
        r.record
        for r in pipeline.records("alerts")
        if r.record["channel"] == channel and r.record["condition"] == "STALE"
    ]


def test_a_silent_channel_raises_a_stale_alert_resolved_when_it_returns(pipeline, stream_models) -> None:
    channel = stream_models.channels["clean0"]
    pipeline.start_worker(env={"STREAMPROC_WORKER__STALE_AFTER_S": "3"})
    pipeline.produce([channel], 0, 60)
    expected = len(stream_models.window_steps(60))
    pipeline.wait_for(lambda: len(pipeline.scored_windows().get("clean0", ())) == expected, what="the windows scored")
    silent_from = time.monotonic()
    pipeline.wait_for(lambda: stale_alerts(pipeline, "clean0"), what="the STALE alert", timeout=60)
    assert time.monotonic() - silent_from >= 2.0, "announced before the channel was silent for long"
    (opened,) = stale_alerts(pipeline, "clean0")
    assert opened["state"] == "OPEN" and opened["opened_at"] == stream_models.window_end(59)
    assert opened["detector_scores"] == [] and opened["top_features"] == []
    # No anomaly alert on the clean channel, and the silence is announced once.
    time.sleep(4)
    assert [r.record["condition"] for r in pipeline.records("alerts")] == ["STALE"]

    pipeline.produce([channel], 60, 80)
    pipeline.wait_for(lambda: len(stale_alerts(pipeline, "clean0")) == 2, what="the STALE alert to resolve")
    resolved = stale_alerts(pipeline, "clean0")[1]
    assert (resolved["alert_id"], resolved["state"]) == (opened["alert_id"], "RESOLVED")
    assert resolved["resolved_at"] == stream_models.window_end(60)
