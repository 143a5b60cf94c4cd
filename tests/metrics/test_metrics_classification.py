from __future__ import annotations

import numpy as np
import pytest

from streamproc.metrics import Counts, event_wise, point_adjust, point_adjusted, point_wise, runs

# Segments [1, 4) and [6, 8); alarms at 0, 2, 8, 9.
LABELS = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0], bool)
ALARMS = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 1], bool)


def test_runs() -> None:
    assert runs(LABELS).tolist() == [[1, 4], [6, 8]]
    assert runs(np.ones(3, bool)).tolist() == [[0, 3]]
    assert runs(np.zeros(3, bool)).shape == (0, 2)


def test_point_wise_by_hand() -> None:
    # TP: step 2. FP: steps 0, 8, 9. FN: steps 1, 3, 6, 7.
    c = point_wise(LABELS, ALARMS)
    assert (c.tp, c.fp, c.fn) == (1, 3, 4)
    assert c.precision == pytest.approx(1 / 4)
    assert c.recall == pytest.approx(1 / 5)
    assert c.f1 == pytest.approx(2 / 9)


def test_point_adjusted_by_hand() -> None:
    # The first segment holds an alarm, so all three of its steps count; the second is missed.
    assert point_adjust(LABELS, ALARMS).astype(int).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    c = point_adjusted(LABELS, ALARMS)
    assert (c.tp, c.fp, c.fn) == (3, 3, 2)
    assert c.precision == pytest.approx(0.5)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(6 / 11)


def test_event_wise_by_hand() -> None:
    # One segment hit, one missed; alarms outside segments form two runs: {0} and {8, 9}.
    c = event_wise(LABELS, ALARMS)
    assert (c.tp, c.fp, c.fn) == (1, 2, 1)
    assert c.precision == pytest.approx(1 / 3)
    assert c.recall == pytest.approx(1 / 2)
    assert c.f1 == pytest.approx(0.4)


def test_event_wise_counts_the_overhang_of_an_alarm_run_as_a_false_event() -> None:
    labels = np.array([0, 1, 1, 0, 0], bool)
    alarms = np.array([0, 1, 1, 1, 0], bool)
    assert event_wise(labels, alarms) == Counts(1, 1, 0)


def test_a_segment_hit_many_times_counts_once_in_event_wise() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0], bool)
    alarms = np.array([1, 0, 1, 0, 0, 0], bool)
    assert event_wise(labels, alarms) == Counts(1, 0, 0)
    assert point_adjusted(labels, alarms) == Counts(4, 0, 0)
    assert point_wise(labels, alarms) == Counts(2, 0, 2)


def test_no_alarms_and_no_labels_give_zero_not_nan() -> None:
    c = point_wise(np.zeros(5, bool), np.zeros(5, bool))
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)
    assert event_wise(LABELS, np.zeros(10, bool)) == Counts(0, 0, 2)


def test_counts_add_up_for_micro_totals() -> None:
    assert Counts(1, 2, 3) + Counts(4, 5, 6) == Counts(5, 7, 9)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        point_wise(LABELS, ALARMS[:-1])
