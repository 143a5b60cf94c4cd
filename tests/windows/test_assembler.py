import numpy as np
import pytest

from streamproc.detection import sliding_windows
from streamproc.windows import Admission, ChannelWindow, Reading, Window, WindowAssembler


def readings(series: np.ndarray, channel: str = "c1", start: int = 0):
    return [
        Reading(channel, 1_000 + 10 * t, series[t].tolist(), ("a", "b", "c"), offset=t)
        for t in range(start, len(series))
    ]


@pytest.mark.parametrize("stride", [1, 3, 10])
def test_windows_match_offline_sliding_windows(stride):
    series = np.random.default_rng(0).normal(size=(57, 3)).astype(np.float32)
    assembler = WindowAssembler(window=8, stride=stride)
    state = assembler.new_state(3)
    emitted = [w for r in readings(series) for _, w in [assembler.add(state, r)] if w is not None]
    offline = sliding_windows(series, 8, stride)
    assert len(emitted) == len(offline)
    for window, expected in zip(emitted, offline, strict=False):
        np.testing.assert_array_equal(window.values, expected)
    assert [w.sequence for w in emitted] == list(range(8, 58, stride))
    assert all(w.end == 1_000 + 10 * (w.sequence - 1) for w in emitted)
    assert emitted[0].feature_names == ("a", "b", "c")


def test_restored_state_continues_without_skipping_or_repeating():
    series = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    assembler = WindowAssembler(window=6, stride=4)
    whole = assembler.new_state(3)
    expected = [w.sequence for r in readings(series) if (w := assembler.add(whole, r)[1])]

    state = assembler.new_state(3)
    got = [w.sequence for r in readings(series)[:23] if (w := assembler.add(state, r)[1])]
    restored = ChannelWindow.from_bytes(state.to_bytes())
    # After a crash the source is re-read from an older committed offset.
    outcomes = [assembler.add(restored, r) for r in readings(series, start=15)]
    assert [a for a, _ in outcomes[:8]] == [Admission.REPLAYED] * 8
    got += [w.sequence for _, w in outcomes if w is not None]
    assert got == expected


def test_rejected_reading_emits_nothing():
    assembler = WindowAssembler(window=2, stride=1)
    state = assembler.new_state(1)
    assembler.add(state, Reading("c", 1, [0.0]))
    admission, window = assembler.add(state, Reading("c", 2, [float("nan")]))
    assert admission is Admission.NON_FINITE and window is None


def test_window_message_round_trip():
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    window = Window("pump-7", 1234567, 42, values, ("x", "y", "z"), produced_at=1.5)
    back = Window.from_bytes(window.to_bytes())
    assert (back.channel, back.end, back.sequence, back.feature_names, back.produced_at) == (
        "pump-7",
        1234567,
        42,
        ("x", "y", "z"),
        1.5,
    )
    np.testing.assert_array_equal(back.values, values)
    unnamed = Window.from_bytes(Window("c", 1, 2, values).to_bytes())
    assert unnamed.feature_names is None


def test_window_message_rejects_garbage():
    from streamproc.windows import WindowStateError

    data = Window("c", 1, 2, np.zeros((2, 2), np.float32)).to_bytes()
    for bad in (data[:5], b"nope" + data[4:], data[:-1]):
        with pytest.raises(WindowStateError):
            Window.from_bytes(bad)


def test_assembler_checks():
    with pytest.raises(ValueError):
        WindowAssembler(4, 0)
    with pytest.raises(ValueError):
        WindowAssembler(4, 1, grace_ms=-1)


def test_a_gap_restarts_the_window_so_none_spans_it():
    # Sampled every 10 ms; a step of more than 3 periods restarts the window.
    series = np.arange(60, dtype=np.float32).reshape(20, 3)
    assembler = WindowAssembler(window=4, stride=1, max_gap_periods=3)
    state = assembler.new_state(3)
    times = [10 * t for t in range(10)] + [10 * 9 + 31 + 10 * t for t in range(10)]  # a 31 ms step at row 10
    outcomes = [
        assembler.add(state, Reading("c", ts, series[t].tolist(), offset=t), period_ms=10) for t, ts in enumerate(times)
    ]
    assert [a for a, _ in outcomes].count(Admission.RESTARTED) == 1 and outcomes[10][0] is Admission.RESTARTED
    windows = [w for _, w in outcomes if w is not None]
    # 7 windows before the gap (rows 3..9), none with rows from both sides, 7 after (rows 13..19).
    assert len(windows) == 14
    for window in windows:
        rows = window.values[:, 0] // 3
        assert (rows < 10).all() or (rows >= 10).all()
    assert windows[7].values[0, 0] == series[10, 0] and windows[7].end == times[13]
    # Order and re-deliveries are still judged across the restart.
    assert state.last_offset == 19
    assert assembler.add(state, Reading("c", times[5], series[5].tolist(), offset=5), period_ms=10)[0] is (
        Admission.REPLAYED
    )


def test_a_step_within_the_limit_an_unknown_period_or_a_zero_limit_never_restarts():
    def admissions(max_gap_periods, period_ms):
        assembler = WindowAssembler(window=4, stride=1, max_gap_periods=max_gap_periods)
        state = assembler.new_state(1)
        times = [0, 10, 20, 50, 1_000_000]
        return [assembler.add(state, Reading("c", ts, [1.0]), period_ms=period_ms)[0] for ts in times]

    assert admissions(3, 10)[3] is Admission.ACCEPTED  # 30 ms: exactly 3 periods
    assert admissions(3, 10)[4] is Admission.RESTARTED
    assert Admission.RESTARTED not in admissions(3, None)
    assert Admission.RESTARTED not in admissions(0, 10)


def test_a_rejected_reading_after_a_long_silence_keeps_the_window():
    assembler = WindowAssembler(window=3, stride=1, max_gap_periods=2)
    state = assembler.new_state(1)
    for ts in (0, 10, 20):
        assembler.add(state, Reading("c", ts, [1.0]), period_ms=10)
    admission, _ = assembler.add(state, Reading("c", 500, [float("nan")]), period_ms=10)
    assert admission is Admission.NON_FINITE and state.count == 3
