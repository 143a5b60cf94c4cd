import numpy as np
import pytest

from streamproc.windows import Admission, ChannelWindow, WindowStateError


def filled(n: int, window: int = 4, features: int = 2) -> ChannelWindow:
    state = ChannelWindow(window, features)
    for i in range(n):
        row = [i, -i] + [0.5 * i] * (features - 2) if features >= 2 else [i]
        assert state.admit(row, timestamp=1000 + i, offset=i) is Admission.ACCEPTED
    return state


def test_values_are_the_last_samples_oldest_first():
    state = filled(7)
    np.testing.assert_array_equal(state.values()[:, 0], [3, 4, 5, 6])
    assert state.values().dtype == np.float32
    assert state.count == 7 and state.last_timestamp == 1006 and state.last_offset == 6


def test_values_is_a_copy():
    state = filled(5)
    state.values()[:] = 99
    assert state.values()[0, 0] == 1


@pytest.mark.parametrize("stride, due_at", [(1, [4, 5, 6, 7, 8]), (2, [4, 6, 8]), (3, [4, 7])])
def test_due_every_stride_once_full(stride, due_at):
    state = ChannelWindow(4, 1)
    due = []
    for i in range(8):
        state.admit([i], timestamp=i)
        if state.due(stride):
            due.append(state.count)
    assert due == due_at


@pytest.mark.parametrize(
    "values, reason",
    [
        ([1.0], Admission.WRONG_LENGTH),
        ([1.0, 2.0, 3.0], Admission.WRONG_LENGTH),
        ([float("nan"), 1.0], Admission.NON_FINITE),
        ([1.0, float("inf")], Admission.NON_FINITE),
        ([1.0, 1e300], Admission.NON_FINITE),
    ],
)
def test_rejects_bad_values_without_changing_state(values, reason):
    state = filled(3)
    before = state.to_bytes()
    assert state.admit(values, timestamp=5000, offset=10) is reason
    assert reason.rejected
    assert state.to_bytes() == before


def test_timestamp_rules():
    state = filled(3)  # newest timestamp 1002
    assert state.admit([0, 0], 1002, offset=3) is Admission.TIMESTAMP_REPEATED
    assert state.admit([0, 0], 1000, offset=4, grace_ms=1) is Admission.TIMESTAMP_BACKWARDS
    assert state.admit([0, 0], 1000, offset=5, grace_ms=2) is Admission.ACCEPTED
    assert state.last_timestamp == 1002, "a late reading does not move time back"
    assert state.admit([0, 0], 1003, offset=6) is Admission.ACCEPTED


def test_redelivered_offsets_are_replays_not_errors():
    state = filled(5)
    assert state.admit([3, -3], 1003, offset=3) is Admission.REPLAYED
    assert not Admission.REPLAYED.rejected
    assert state.count == 5
    # A reset topic starts its offsets again, with new timestamps: those are new readings.
    assert state.admit([9, 9], 2000, offset=0) is Admission.ACCEPTED


def test_round_trip_is_compact_and_exact():
    state = filled(6, window=100, features=25)
    data = state.to_bytes()
    assert len(data) < 100 * 25 * 4 + 64
    restored = ChannelWindow.from_bytes(data)
    assert restored == state
    restored.admit([1.0] * 25, 5000, offset=50)
    state.admit([1.0] * 25, 5000, offset=50)
    assert restored == state
    np.testing.assert_array_equal(restored.values(), state.values())


def test_last_seen_round_trips_and_a_version_1_state_still_reads():
    import struct

    state = ChannelWindow(3, 2)
    state.admit([1.0, 2.0], 1000, offset=4, seen_ms=1_700_000_000_123)
    state.admit([1.0, 2.0], 2000, offset=5, seen_ms=1_700_000_000_100)  # an older message time
    assert ChannelWindow.from_bytes(state.to_bytes()).last_seen_ms == 1_700_000_000_123
    # A state written before last_seen_ms: the same header without it, version 1.
    v1 = struct.pack("<3sBIIIQqq", b"SPW", 1, 3, 2, state.head, state.count, 2000, 5) + state.buffer.tobytes()
    old = ChannelWindow.from_bytes(v1)
    assert old.last_seen_ms is None and (old.count, old.last_timestamp, old.last_offset) == (2, 2000, 5)
    np.testing.assert_array_equal(old.values(), state.values())
    with pytest.raises(WindowStateError):
        ChannelWindow.from_bytes(v1[:3] + b"\x03" + v1[4:])


def test_fresh_state_round_trips():
    state = ChannelWindow(3, 2)
    assert ChannelWindow.from_bytes(state.to_bytes()) == state
    assert ChannelWindow.from_bytes(state.to_bytes()).last_timestamp is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:10],
        lambda b: b"XXX" + b[3:],
        lambda b: b[:-4],
        lambda b: b + b"\0\0\0\0",
    ],
)
def test_corrupt_state_is_rejected(mangle):
    with pytest.raises(WindowStateError):
        ChannelWindow.from_bytes(mangle(filled(5).to_bytes()))


def test_constructor_checks():
    with pytest.raises(ValueError):
        ChannelWindow(1, 3)
    with pytest.raises(ValueError):
        ChannelWindow(4, 0)


def test_missing_positions_are_stored_as_nan_and_only_the_others_must_be_finite():
    state = ChannelWindow(3, 3)
    assert state.admit([1.0, float("nan"), 5.0], 1000, missing=(1,)) is Admission.ACCEPTED
    assert state.admit([1.0, 7.0, 5.0], 2000, missing=(1,)) is Admission.ACCEPTED  # the value is ignored
    assert np.isnan(state.values()[-2:, 1]).all() and state.values()[-1, 0] == 1.0
    assert state.admit([float("nan"), 0.0, 5.0], 3000, missing=(1,)) is Admission.NON_FINITE
    np.testing.assert_array_equal(ChannelWindow.from_bytes(state.to_bytes()).values(), state.values())  # NaN kept
