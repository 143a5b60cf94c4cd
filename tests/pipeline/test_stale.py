"""Silent channels: when a STALE alert opens, when it resolves, and its ids across restarts."""

from __future__ import annotations

import pytest

from streamproc.fusion import STALE
from streamproc.pipeline import IngestStage, ModelCatalog, RawMessage, StaleWatch, StateBuffer, stale_alert_id
from streamproc.serde import Codec
from streamproc.windows import ChannelWindow, WindowAssembler

MINUTE = 60_000


def state(last_reading_ms: int, seen_ms: int) -> ChannelWindow:
    window = ChannelWindow(4, 1)
    window.admit([1.0], last_reading_ms, offset=0, seen_ms=seen_ms)
    return window


def test_a_silent_channel_is_announced_once_and_a_fresh_one_not() -> None:
    watch = StaleWatch(5 * MINUTE)
    states = [("quiet", state(1_000, 10 * MINUTE)), ("busy", state(2_000, 14 * MINUTE))]
    assert watch.overdue(states, now_ms=15 * MINUTE) == []  # exactly 5 minutes: not yet
    (opened,) = watch.overdue(states, now_ms=15 * MINUTE + 1)
    assert (opened.channel, opened.state, opened.condition, opened.severity) == ("quiet", "OPEN", STALE, "HIGH")
    assert opened.opened_at == opened.updated_at == 1_000 and opened.resolved_at is None
    assert opened.alert_id == stale_alert_id("quiet", 1_000)
    assert opened.fused_score == 0.0 and not opened.detector_scores and not opened.top_features
    assert watch.overdue(states, now_ms=16 * MINUTE) == []  # announced already
    record = opened.to_record()
    assert record["condition"] == "STALE" and Codec().decode(Codec().encode("Alert", record)).record == record


def test_readings_after_a_long_silence_resolve_it() -> None:
    watch = StaleWatch(5 * MINUTE)
    (opened,) = watch.overdue([("quiet", state(1_000, 0))], now_ms=6 * MINUTE)
    # Back after 7 minutes; the readings' own clock says 9 minutes passed.
    (resolved,) = watch.returned("quiet", 0, 1_000, 7 * MINUTE, 1_000 + 9 * MINUTE)
    assert (resolved.alert_id, resolved.state) == (opened.alert_id, "RESOLVED")
    assert resolved.opened_at == 1_000 and resolved.updated_at == resolved.resolved_at == 1_000 + 9 * MINUTE
    assert watch.returned("quiet", 7 * MINUTE, 1_000 + 9 * MINUTE, 8 * MINUTE, 1_000 + 10 * MINUTE) == []


def test_an_announced_channel_is_resolved_by_its_next_reading_whatever_the_gap() -> None:
    # A worker far behind its input may take a backlog for a silence; the backlog's first
    # reading (sent a second after the one before) ends it.
    watch = StaleWatch(5 * MINUTE)
    (opened,) = watch.overdue([("quiet", state(1_000, 0))], now_ms=6 * MINUTE)
    (resolved,) = watch.returned("quiet", 0, 1_000, 1_000, 2_000)
    assert (resolved.alert_id, resolved.state, resolved.resolved_at) == (opened.alert_id, "RESOLVED", 2_000)


def test_a_silence_nobody_announced_is_reported_open_and_resolved_with_the_same_records() -> None:
    announced = StaleWatch(5 * MINUTE)
    (opened,) = announced.overdue([("quiet", state(1_000, 0))], now_ms=6 * MINUTE)
    (resolved,) = announced.returned("quiet", 0, 1_000, 7 * MINUTE, 2_000)
    # A watch that never ran its check (a worker down during the silence, or the offline backtest).
    late = StaleWatch(5 * MINUTE).returned("quiet", 0, 1_000, 7 * MINUTE, 2_000)
    assert [e.to_record() for e in late] == [opened.to_record(), resolved.to_record()]


def test_a_restarted_watch_announces_the_same_alert_again_and_a_new_silence_gets_a_new_id() -> None:
    first = StaleWatch(5 * MINUTE).overdue([("quiet", state(1_000, 0))], now_ms=6 * MINUTE)
    again = StaleWatch(5 * MINUTE).overdue([("quiet", state(1_000, 0))], now_ms=9 * MINUTE)
    assert [e.to_record()["record_id"] for e in again] == [e.to_record()["record_id"] for e in first]
    later = StaleWatch(5 * MINUTE).overdue([("quiet", state(50_000, 20 * MINUTE))], now_ms=26 * MINUTE)
    assert later[0].alert_id != first[0].alert_id


def test_forgotten_channels_are_announced_afresh_and_a_state_without_a_seen_time_is_never_stale() -> None:
    watch = StaleWatch(MINUTE)
    watch.overdue([("quiet", state(1_000, 0))], now_ms=2 * MINUTE)
    watch.forget(["quiet"])
    assert len(watch.overdue([("quiet", state(1_000, 0))], now_ms=3 * MINUTE)) == 1
    unknown = ChannelWindow(4, 1)
    unknown.admit([1.0], 1_000)  # a state from before last_seen_ms
    assert watch.overdue([("old", unknown)], now_ms=10**12) == []
    with pytest.raises(ValueError):
        StaleWatch(0)


def test_the_ingest_stage_resolves_a_silence_from_the_message_times(stream_models) -> None:
    codec = Codec()
    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window)
    stage = IngestStage(codec, catalog, WindowAssembler(stream_models.window, 4), StaleWatch(5 * MINUTE))
    test = stream_models.channels["a0"].test

    def message(t: int, seen_s: float) -> RawMessage:
        value = codec.encode(
            "SensorReading", {"channel": "a0", "timestamp": 1_000 * (t + 1), "values": test[t].tolist()}
        )
        return RawMessage(b"a0", value, "readings", 0, t, seen_s)

    store: dict = {}
    # One reading a second, then six minutes of silence on the wall clock, then two more.
    messages = [message(t, 100.0 + t) for t in range(10)] + [message(10, 469.0), message(11, 470.0)]
    decoded = stage.decode(messages)
    catalog.prepare(decoded.channels)
    result = stage.apply(decoded, StateBuffer(store, ChannelWindow))
    assert [(e.state, e.opened_at, e.updated_at) for e in result.stale_events] == [
        ("OPEN", 10_000, 10_000),
        ("RESOLVED", 10_000, 11_000),
    ]
    assert result.outcomes == {"accepted": 12}
