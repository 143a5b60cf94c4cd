"""Property-based fuzzing of what a worker does with input it cannot trust: the decoder and the
ingest stage, fed random bytes and valid records with extreme values, never raise, and account
for every message (used, or dead-lettered with a reason that fits the DeadLetter schema)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamproc.pipeline import IngestStage, ModelCatalog, RawMessage, StateBuffer
from streamproc.serde import Codec, DecodeError, load_schemas
from streamproc.windows import ChannelWindow, WindowAssembler

CODEC = Codec()
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# Single-object headers of every schema the decoder knows, earlier versions included.
HEADERS = [b"\xc3\x01" + schema.fingerprint for schema in [*load_schemas().values(), *load_schemas().previous()]] + [
    b"\xc3\x01",
    b"\x00",
]

# Values a historian or a broken sensor can send: the float extremes, NaN, infinities, zero.
extreme_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 3.5e38, 5e-324, math.nan, math.inf]),
)
timestamps = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=1_000_000, max_value=1_000_000 + 10**6)
)
channel_names = st.one_of(st.sampled_from(["a0", "a2", "clean0", ""]), st.text(max_size=40))


@st.composite
def readings(draw) -> tuple[bytes | None, bytes | None]:
    """``(key, value)`` of one message: a valid reading or batch with extreme contents, garbage
    after a valid header, or raw random bytes."""
    kind = draw(st.sampled_from(["reading", "batch", "header+garbage", "bytes", "none"]))
    channel = draw(channel_names)
    key = draw(st.one_of(st.just(channel.encode()), st.none(), st.binary(max_size=8)))
    if kind == "none":
        return key, None
    if kind == "bytes":
        return key, draw(st.binary(max_size=200))
    if kind == "header+garbage":
        return key, draw(st.sampled_from(HEADERS)) + draw(st.binary(max_size=120))
    width = draw(st.integers(min_value=0, max_value=5))
    values = st.lists(extreme_floats, min_size=width, max_size=width)
    names = draw(st.one_of(st.none(), st.lists(st.text(max_size=5), max_size=5)))
    if kind == "reading":
        return key, CODEC.encode(
            "SensorReading",
            {"channel": channel, "timestamp": draw(timestamps), "values": draw(values), "feature_names": names},
        )
    count = draw(st.integers(min_value=0, max_value=4))
    return key, CODEC.encode(
        "SensorReadingBatch",
        {
            "channel": channel,
            "timestamps": draw(st.lists(timestamps, min_size=count, max_size=count)),
            "values": draw(st.lists(values, min_size=count, max_size=count)),
            "feature_names": names,
        },
    )


@pytest.fixture(scope="module")
def stage(stream_models) -> IngestStage:
    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window)
    return IngestStage(Codec(), catalog, WindowAssembler(stream_models.window, stream_models.stride, grace_ms=1500))


@FUZZ
@given(data=st.binary(max_size=300), header=st.sampled_from([b""] + HEADERS))
def test_the_decoder_raises_nothing_but_decode_errors(data, header):
    try:
        CODEC.decode(header + data)
    except DecodeError as exc:
        assert exc.reason and isinstance(exc.detail, str)


@FUZZ
@given(messages=st.lists(readings(), min_size=1, max_size=12), prefix=st.integers(min_value=0, max_value=40))
def test_the_ingest_stage_accounts_for_every_message_and_never_raises(stage, stream_models, messages, prefix):
    store: dict[bytes, bytes] = {}
    offset = 0
    # Some clean readings first, so that a window is nearly full when the fuzzed ones arrive.
    clean = stream_models.channels["a0"].test[:prefix]
    raw = []
    for t, row in enumerate(clean):
        offset += 1
        raw.append(
            RawMessage(
                b"a0",
                CODEC.encode(
                    "SensorReading",
                    {"channel": "a0", "timestamp": 1_000_000 + t * 1000, "values": [float(v) for v in row]},
                ),
                "readings",
                0,
                offset,
                0.0,
            )
        )
    for key, value in messages:
        offset += 1
        raw.append(RawMessage(key, value, "readings", 0, offset, 0.0))

    decoded = stage.decode(raw)
    stage.catalog.prepare(decoded.channels)
    states = StateBuffer(store, ChannelWindow)
    result = stage.apply(decoded, states)
    list(states.changes())

    # Every sample decoded and every message that could not be is counted under one outcome.
    assert sum(result.outcomes.values()) == len(decoded.readings) + len(decoded.dead_letters)
    # Nothing is lost: each message was used (a sample of it counted as accepted or replayed)
    # or dead-lettered, and every dead letter is a valid DeadLetter record with a reason.
    used = {sample.message.offset for sample in decoded.readings}
    lettered = {message.offset for message, _ in result.dead_letters}
    assert {m.offset for m in raw} <= used | lettered
    for _, record in result.dead_letters:
        assert record["reason"]
        Codec().encode("DeadLetter", record)  # validates against the schema
    for window, _ in result.windows:
        assert np.isfinite(window.values).all(), "a non-finite value reached a detector"
