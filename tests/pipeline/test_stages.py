"""The pipeline's stages on in-memory state: what the Faust agents do, without a broker."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, WindowVerdicts, alert_id
from streamproc.pipeline import (
    KEY_MISMATCH,
    NO_MODEL,
    FusionStage,
    IngestStage,
    ModelCatalog,
    RawMessage,
    StateBuffer,
    score_record,
    score_windows,
)
from streamproc.serde import Codec
from streamproc.windows import ChannelWindow, WindowAssembler

CODEC = Codec()
STEP_MS = 1000


def reading(channel: str, t: int, values, key: str | None = None, names=None) -> bytes:
    return CODEC.encode(
        "SensorReading",
        {
            "channel": channel,
            "timestamp": 1_000_000 + t * STEP_MS,
            "values": [float(v) for v in values],
            "feature_names": names,
        },
    )


class Stream:
    """Messages of one partition with increasing offsets."""

    def __init__(self) -> None:
        self.offset = 0

    def message(self, value: bytes | None, key: bytes | None, partition: int = 0) -> RawMessage:
        self.offset += 1
        return RawMessage(key, value, "readings", partition, self.offset, 1.0 + self.offset)

    def readings(self, channel: str, values: np.ndarray, start: int = 0) -> list[RawMessage]:
        return [self.message(reading(channel, start + t, row), channel.encode()) for t, row in enumerate(values)]

    def batches(self, channel: str, values: np.ndarray, size: int, start: int = 0) -> list[RawMessage]:
        """SensorReadingBatch messages of ``size`` consecutive samples each."""
        return [
            self.message(batch(channel, start + t, values[t : t + size]), channel.encode())
            for t in range(0, len(values), size)
        ]


def batch(channel: str, t: int, rows) -> bytes:
    return CODEC.encode(
        "SensorReadingBatch",
        {
            "channel": channel,
            "timestamps": [1_000_000 + (t + i) * STEP_MS for i in range(len(rows))],
            "values": [[float(v) for v in row] for row in rows],
        },
    )


@pytest.fixture
def ingest(stream_models):
    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window)
    return IngestStage(Codec(), catalog, WindowAssembler(stream_models.window, stream_models.stride, grace_ms=1500))


def run(ingest: IngestStage, messages, store: dict):
    decoded = ingest.decode(messages)
    ingest.catalog.prepare(decoded.channels)
    states = StateBuffer(store, ChannelWindow)
    result = ingest.apply(decoded, states)
    list(states.changes())
    return result


def test_windows_and_scores_match_offline_scoring(ingest, stream_models):
    channel = stream_models.channels["a0"]
    store: dict = {}
    stream = Stream()
    result = run(ingest, stream.readings("a0", channel.test[:100]), store)
    assert result.outcomes == {"accepted": 100}
    ends = [w.sequence - 1 for w, _ in result.windows]
    assert ends == list(range(stream_models.window - 1, 100, stream_models.stride))
    assert result.windows[0][0].feature_names == tuple(channel.feature_names)

    scored = score_windows(ingest.catalog, [w for w, _ in result.windows])
    offline, contributions = channel.model.score_series(channel.test[:100])
    np.testing.assert_allclose([v[0].score for v in scored.verdicts], offline[ends], rtol=1e-5)
    np.testing.assert_allclose(scored.verdicts[3][0].contributions, contributions[ends[3]], rtol=1e-5)
    assert scored.windows == {"pca": len(ends)} and scored.failures == {}


def test_state_survives_batches_and_replays(ingest, stream_models):
    test = stream_models.channels["a1"].test
    store: dict = {}
    stream = Stream()
    messages = stream.readings("a1", test[:60])
    whole = run(ingest, messages, {})
    first = run(ingest, messages[:25], store)
    # A restarted worker re-reads from an older committed offset: those readings are replays.
    second = run(ingest, messages[10:], store)
    assert second.outcomes == {"replayed": 15, "accepted": 35}
    assert [w.sequence for w, _ in first.windows + second.windows] == [w.sequence for w, _ in whole.windows]
    assert ChannelWindow.from_bytes(store[b"a1"]).count == 60


def test_every_kind_of_bad_input_is_a_dead_letter(ingest, stream_models):
    test = stream_models.channels["a2"].test
    stream = Stream()
    good = stream.readings("a2", test[:20])
    bad = [
        stream.message(b"\x07garbage", b"a2"),
        stream.message(b"\xc3\x01", b"a2"),
        stream.message(None, b"a2"),
        stream.message(reading("a2", 20, [1.0, 2.0]), b"a2"),
        stream.message(reading("a2", 20, [math.nan, 1, 1, 1]), b"a2"),
        stream.message(reading("a2", 20, [math.inf, 1, 1, 1]), b"a2"),
        stream.message(reading("a2", 19, test[19]), b"a2"),
        stream.message(reading("a2", 17, test[19]), b"a2"),
        stream.message(reading("nomodel", 0, [1, 2, 3, 4]), b"nomodel"),
        stream.message(reading("a2", 20, test[20]), b"other"),
    ]
    more = stream.readings("a2", test[20:40], start=20)
    result = run(ingest, good + bad + more, {})
    reasons = [record["reason"] for _, record in result.dead_letters]
    assert sorted(reasons) == sorted(
        [
            "unknown-magic",
            "truncated",
            "truncated",
            "wrong-length",
            "non-finite",
            "non-finite",
            "timestamp-repeated",
            "timestamp-backwards",
            NO_MODEL,
            KEY_MISMATCH,
        ]
    )
    assert result.outcomes == {"accepted": 40, "rejected": 10}
    by_reason = {record["reason"]: (message, record) for message, record in result.dead_letters}
    message, record = by_reason["wrong-length"]
    assert record["payload"] == message.value and record["offset"] == message.offset
    assert "4 features" in record["detail"] and "2 values" in record["detail"]
    assert "no 'pca' model for channel 'nomodel'" in by_reason[NO_MODEL][1]["detail"]
    for _, record in result.dead_letters:
        CODEC.encode("DeadLetter", record)
    # The good readings around the bad ones still form every window.
    assert [w.sequence for w, _ in result.windows] == list(range(stream_models.window, 41, stream_models.stride))


def test_batched_readings_give_the_windows_of_single_readings(ingest, stream_models):
    test = stream_models.channels["a3"].test[:60]
    single = run(ingest, Stream().readings("a3", test), {})
    store: dict = {}
    stream = Stream()
    batches = stream.batches("a3", test, size=7)
    batched = run(ingest, batches, store)
    assert batched.outcomes == single.outcomes == {"accepted": 60}
    assert [(w.sequence, w.end) for w, _ in batched.windows] == [(w.sequence, w.end) for w, _ in single.windows]
    np.testing.assert_array_equal(batched.windows[-1][0].values, single.windows[-1][0].values)
    # Re-delivered batches (a restart from an older committed offset) are replays, sample by sample.
    again = run(ingest, batches[4:], store)
    assert again.outcomes == {"replayed": 60 - 28} and again.windows == []


def test_a_bad_sample_of_a_batch_is_a_dead_letter_and_the_others_are_used(ingest, stream_models):
    test = stream_models.channels["a3"].test[:20].copy()
    test[12, 1] = math.nan
    stream = Stream()
    result = run(ingest, stream.batches("a3", test, size=10), {})
    assert result.outcomes == {"accepted": 19, "rejected": 1}
    ((message, record),) = result.dead_letters
    assert record["reason"] == "non-finite" and record["payload"] == message.value
    assert record["detail"].startswith("sample 3 of 10: values at positions [1]")
    uneven = CODEC.encode("SensorReadingBatch", {"channel": "a3", "timestamps": [1, 2], "values": [[1, 2, 3, 4]]})
    empty = CODEC.encode("SensorReadingBatch", {"channel": "a3", "timestamps": [], "values": []})
    result = run(ingest, [stream.message(uneven, b"a3"), stream.message(empty, b"a3")], {})
    assert [r["reason"] for _, r in result.dead_letters] == ["malformed", "malformed"]
    assert "2 timestamps but 1 value arrays" in result.dead_letters[0][1]["detail"]
    assert "without samples" in result.dead_letters[1][1]["detail"]
    nomodel = CODEC.encode(
        "SensorReadingBatch", {"channel": "nomodel", "timestamps": [1, 2, 3], "values": [[1.0, 2.0]] * 3}
    )
    result = run(ingest, [stream.message(nomodel, b"nomodel")], {})
    assert [r["reason"] for _, r in result.dead_letters] == [NO_MODEL]  # one per message
    assert result.outcomes == {"rejected": 3}


def test_a_batchs_later_samples_are_judged_as_readings_not_as_replays(ingest, stream_models):
    test = stream_models.channels["a3"].test
    store: dict = {}
    stream = Stream()
    run(ingest, stream.readings("a3", test[:10]), store)
    # Two late within the grace (1.5 s here), then the newest timestamp again: what single readings
    # would get.
    newest = 1_000_000 + 9 * STEP_MS
    late = CODEC.encode(
        "SensorReadingBatch",
        {
            "channel": "a3",
            "timestamps": [newest - 700, newest - 600, newest],
            "values": [[float(v) for v in row] for row in test[10:13]],
        },
    )
    message = stream.message(late, b"a3")
    result = run(ingest, [message], store)
    assert result.outcomes == {"accepted": 2, "rejected": 1}
    assert [r["reason"] for _, r in result.dead_letters] == ["timestamp-repeated"]
    assert run(ingest, [message], store).outcomes == {"replayed": 3}


def test_late_reading_within_grace_is_accepted(ingest, stream_models):
    test = stream_models.channels["a3"].test
    stream = Stream()
    messages = stream.readings("a3", test[:5]) + [stream.message(reading("a3", 3, test[5]), b"a3")]
    # 1.5 s of grace: a reading 1 s older than the newest is late but usable.
    result = run(ingest, messages, {})
    assert result.outcomes == {"accepted": 6}


def test_feature_names_of_readings_win_over_the_models(ingest, stream_models):
    test = stream_models.channels["a4"].test
    stream = Stream()
    names = ["w", "x", "y", "z"]
    messages = [stream.message(reading("a4", t, test[t], names=names), b"a4") for t in range(stream_models.window)]
    result = run(ingest, messages, {})
    assert result.windows[0][0].feature_names == tuple(names)


def test_fusion_stage_writes_state_only_when_it_changes():
    stage = FusionStage(Fuser(open_after=1))
    store: dict = {}
    states = StateBuffer(store, ChannelFusion)
    verdict = DetectorVerdict("pca", "v", 5.0, 1.0, (1.0, 0.0))
    events = stage.fuse(WindowVerdicts("c", 10, [verdict]), 3, states)
    assert [e.alert_id for e in events] == [alert_id("c", 10)]
    assert [(k, p) for k, p, _ in states.changes()] == [(b"c", 3)]
    again = StateBuffer(store, ChannelFusion)
    assert stage.fuse(WindowVerdicts("c", 10, [verdict]), 3, again) == []
    assert list(again.changes()) == []


def test_fusion_stage_joins_scores_from_the_scores_topic():
    stage = FusionStage(Fuser(open_after=1))
    states = StateBuffer({}, ChannelFusion)

    def message(detector: str, score: float) -> tuple[RawMessage, dict]:
        record = score_record("c", 10, DetectorVerdict(detector, "v", score, 1.0, (1.0,)), ["f"])
        return RawMessage(b"c", CODEC.encode("AnomalyScore", record), "scores", 1, 0, 2.0), record

    assert stage.join(*message("pca", 3.0), ["pca", "usad"], states) == []
    (event,) = stage.join(*message("usad", 0.5), ["pca", "usad"], states)
    assert {d.detector for d in event.detector_scores} == {"pca", "usad"}
    assert event.top_features[0].name == "f" and event.produced_at == 2.0


def test_fusion_stage_applies_feedback_to_the_owned_channel_that_remembers_the_alert():
    stage = FusionStage(Fuser(open_after=1))
    store: dict = {}
    for channel, partition in (("c", 3), ("d", 1)):
        states = StateBuffer(store, ChannelFusion)
        stage.fuse(WindowVerdicts(channel, 10, [DetectorVerdict("pca", "v", 5.0, 1.0, (1.0,))]), partition, states)
        list(states.changes())

    def verdict(channel: str, verdict: str = "FALSE_POSITIVE") -> RawMessage:
        value = CODEC.encode(
            "Feedback",
            {"alert_id": alert_id(channel, 10), "verdict": verdict, "author": "op", "submitted_at": 1, "note": None},
        )
        return RawMessage(alert_id(channel, 10).encode(), value, "alerts.feedback", 0, 7, 1.0)

    states = StateBuffer(store, ChannelFusion)
    junk = [RawMessage(b"x", b"\x07junk", "alerts.feedback", partition, 8, 1.0) for partition in (3, 1)]
    # d's partition belongs to another worker, which applies d's verdict there; the junk on
    # partition 1 is that worker's to dead-letter.
    result = stage.feedback(
        [verdict("c"), verdict("d"), verdict("c", "TRUE_POSITIVE"), *junk], CODEC, states, owned_partitions={3}
    )
    assert result.outcomes == ["applied", "not-here", "repeated", "rejected", None]
    assert [(k, p) for k, p, _ in states.changes()] == [(b"c", 3)]
    assert ChannelFusion.from_bytes(store[b"c"]).scales == {"pca": pytest.approx(1.1)}
    ((message, dead_letter),) = result.dead_letters
    assert message is junk[0] and dead_letter["reason"] == "unknown-magic"
    assert dead_letter["topic"] == "alerts.feedback" and dead_letter["offset"] == 8


def test_unreadable_stored_state_is_replaced(caplog):
    states = StateBuffer({b"c": b"not a state"}, ChannelWindow)
    assert states.get("c") is None
    assert "unreadable" in caplog.text


def test_each_rejected_sample_of_a_batch_message_is_its_own_dead_letter(ingest, stream_models):
    channel = stream_models.channels["a0"]
    rows = channel.test[:4].astype(float).copy()
    rows[1, 0] = math.nan
    rows[3, 0] = math.inf
    result = run(ingest, Stream().batches("a0", rows, size=4), {})
    letters = [record for _, record in result.dead_letters]
    assert [r["detail"][: len("sample 2 of 4")] for r in letters] == ["sample 2 of 4", "sample 4 of 4"]
    assert len({r["record_id"] for r in letters}) == 2, "two dead letters of one message share an id"
    again = run(ingest, Stream().batches("a0", rows, size=4), {})
    assert [r["record_id"] for _, r in again.dead_letters] == [r["record_id"] for r in letters]


def test_a_gap_longer_than_the_limit_restarts_the_window_and_is_reported(stream_models, tmp_path):
    from streamproc.pipeline import Gap
    from streamproc.training import ModelStore, train_channel

    channel = stream_models.channels["a0"]
    assert channel.model.sampling_period_ms is None  # trained without timestamps: no gap is judged
    # This model learns the channel's period (1 s) from its training timestamps.
    data = np.asarray(stream_models.channels["clean0"].test, dtype=np.float32)
    store = ModelStore(tmp_path)
    model = train_channel(
        "pca", "g", data, config={"window": stream_models.window}, timestamps=1_000_000 + STEP_MS * np.arange(len(data))
    )
    assert model.sampling_period_ms == STEP_MS
    store.save(model)
    catalog = ModelCatalog(store, ["pca"], stream_models.window)
    stage = IngestStage(Codec(), catalog, WindowAssembler(stream_models.window, 1, max_gap_periods=5))

    stream = Stream()
    before = stream.readings("g", channel.test[:30])
    after = stream.readings("g", channel.test[30:60], start=30 + 6)  # 7 s between rows 29 and 30
    result = run(stage, before + after, {})
    assert result.outcomes == {"accepted": 59, "restarted": 1}
    assert result.gaps == [Gap("g", 1_000_000 + 29 * STEP_MS, 1_000_000 + 36 * STEP_MS)]
    ends = [w.end for w, _ in result.windows]
    gap_end = 1_000_000 + 36 * STEP_MS
    # Windows before the gap, then none until a whole window of new samples has arrived.
    assert [e for e in ends if e >= gap_end][0] == gap_end + (stream_models.window - 1) * STEP_MS
    assert len(ends) == (30 - stream_models.window + 1) * 2

    # Within the limit (5 s), the same stream is one run of windows.
    stream = Stream()
    close = stream.readings("g", channel.test[:30]) + stream.readings("g", channel.test[30:60], start=30 + 4)
    assert run(stage, close, {}).outcomes == {"accepted": 60}


def missing_reading(channel: str, t: int, values, missing) -> bytes:
    return CODEC.encode(
        "SensorReading",
        {
            "channel": channel,
            "timestamp": 1_000_000 + t * STEP_MS,
            "values": [float(v) for v in values],
            "missing": missing,
        },
    )


def test_missing_values_are_filled_by_the_policy_and_an_unfillable_window_is_not_scored(stream_models):
    from streamproc.windows import MissingPolicy

    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window)
    assembler = WindowAssembler(stream_models.window, 1)
    stage = IngestStage(Codec(), catalog, assembler, missing=MissingPolicy("hold", limit=2))
    test = stream_models.channels["a0"].test
    # Feature 1 is missing at steps 20-21 (filled: held) and 40-43 (too long: not filled).
    gaps = {20, 21, 40, 41, 42, 43}
    stream = Stream()
    messages = [stream.message(missing_reading("a0", t, test[t], [1] if t in gaps else []), b"a0") for t in range(60)]
    result = run(stage, messages, {})
    assert result.outcomes == {"accepted": 60}
    scored = {w.sequence - 1: w for w, _ in result.windows}
    unscored = sorted(w.sequence - 1 for w, _, _ in result.unfilled)
    # A window holding more than 2 steps of the run 40..43 is left out, with the reason (those
    # ending at 40 and 41 hold 1 and 2 of them, those from 57 on only 42 and 43); the rest are scored.
    assert stream_models.window == 16 and unscored == list(range(42, 57))
    assert {p for _, _, p in result.unfilled} == {
        "feature sensor_2: missing for 3 consecutive steps (the limit is 2)",
        "feature sensor_2: missing for 4 consecutive steps (the limit is 2)",
    }
    assert sorted(scored) == [e for e in range(15, 60) if e not in unscored]
    window = scored[25]
    offset = 25 - (stream_models.window - 1)
    held = window.values[20 - offset : 22 - offset, 1]
    np.testing.assert_allclose(held, [test[19, 1]] * 2, rtol=1e-6)
    assert not any(np.isnan(w.values).any() for w in scored.values())


def test_missing_positions_outside_the_sample_are_a_malformed_message(ingest, stream_models):
    test = stream_models.channels["a0"].test
    stream = Stream()
    result = run(
        ingest,
        [
            stream.message(missing_reading("a0", 0, test[0], [7]), b"a0"),
            stream.message(missing_reading("a0", 1, test[1], [1, 1]), b"a0"),
        ],
        {},
    )
    assert [letter["reason"] for _, letter in result.dead_letters] == ["malformed", "malformed"]
    assert "must be distinct and below 4" in result.dead_letters[0][1]["detail"]


def test_a_reading_of_the_previous_contract_reads_as_missing_nothing(ingest, stream_models):
    import io
    import json
    from pathlib import Path

    import fastavro

    from streamproc.serde._schemas import parse_schema

    previous = next(Path(__file__).parents[2].joinpath("schemas", "previous").glob("sensor_reading-*.avsc"))
    schema = parse_schema(json.loads(previous.read_text()), previous.name)
    assert "missing" not in schema.field_names
    test = stream_models.channels["a0"].test
    record = {"channel": "a0", "timestamp": 1_000_000, "values": [float(v) for v in test[0]], "feature_names": None}
    payload = io.BytesIO()
    fastavro.schemaless_writer(payload, fastavro.parse_schema(json.loads(previous.read_text())), record)
    old = b"\xc3\x01" + schema.fingerprint + payload.getvalue()  # Avro single-object encoding
    decoded = ingest.decode([Stream().message(old, b"a0")])
    assert decoded.readings[0].reading.missing == () and not decoded.dead_letters
