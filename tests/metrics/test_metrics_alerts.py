"""Alert-level metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.metrics import AlertSpan, alert_counts, total_alert_counts


def labelled(n: int, *segments: tuple[int, int]) -> np.ndarray:
    """``n`` steps with the inclusive ``(start, end)`` segments labelled."""
    labels = np.zeros(n, bool)
    for start, end in segments:
        labels[start : end + 1] = True
    return labels


def test_caught_incidents_precision_false_alerts_and_delays():
    # 100 steps, incidents 10-19, 40-44 and 80-89.
    labels = labelled(100, (10, 19), (40, 44), (80, 89))
    spans = [
        AlertSpan(12, 25),  # catches 10-19, 2 steps late
        AlertSpan(30, 33),  # false
        AlertSpan(43, 50),  # catches 40-44, 3 steps late
        AlertSpan(60, 61),
    ]  # false; 80-89 is missed
    counts = alert_counts(spans, labels).to_json()
    assert (counts["incidents"], counts["incidents_caught"]) == (3, 2)
    assert counts["recall"] == pytest.approx(2 / 3)
    assert (counts["alerts"], counts["true_alerts"], counts["false_alerts"]) == (4, 2, 2)
    assert counts["precision"] == pytest.approx(0.5)
    assert counts["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert counts["false_alerts_per_10k_steps"] == pytest.approx(200.0)
    assert counts["delay_steps"] == {"median": 2.5, "p90": pytest.approx(2.9)}
    # Covered steps: 14 + 4 + 8 + 2 = 28, of which 8 (12-19) + 2 (43-44) labelled.
    assert counts["covered_precision"] == pytest.approx(10 / 28)
    assert counts["composite_f1"] == pytest.approx(2 * (10 / 28) * (2 / 3) / (10 / 28 + 2 / 3))
    assert counts["false_alerts_per_day"] is None and counts["delay_seconds"] is None


def test_early_warning_allowance():
    labels = labelled(50, (20, 29))
    warned = [AlertSpan(15, 17)]  # opens 5 steps before, resolves before the incident
    assert alert_counts(warned, labels).caught == 0
    assert alert_counts(warned, labels, early_warning=4).caught == 0
    counts = alert_counts(warned, labels, early_warning=5)
    assert (counts.caught, counts.true_alerts, counts.delays_steps) == (1, 1, (0,))


def test_an_alert_open_since_before_the_incident_catches_it_with_no_delay():
    labels = labelled(50, (20, 29))
    counts = alert_counts([AlertSpan(5, 21)], labels)
    assert (counts.caught, counts.true_alerts, counts.delays_steps) == (1, 1, (0,))


def test_one_alert_over_two_incidents_counts_once_and_two_alerts_on_one_incident_count_both():
    labels = labelled(60, (10, 14), (20, 24))
    one = alert_counts([AlertSpan(12, 22)], labels)
    assert (one.caught, one.n_alerts, one.true_alerts) == (2, 1, 1)
    assert one.delays_steps == (2, 0)
    two = alert_counts([AlertSpan(11, 11), AlertSpan(13, 14)], labelled(60, (10, 14)))
    assert (two.caught, two.n_alerts, two.true_alerts, two.delays_steps) == (1, 2, 2, (1,))


def test_real_time_gives_rates_per_day_and_delays_in_seconds():
    labels = labelled(100, (50, 59))
    timestamps = np.arange(100) * 60_000  # one step a minute: 100 minutes of data
    counts = alert_counts([AlertSpan(53, 70), AlertSpan(10, 12)], labels, timestamps_ms=timestamps).to_json()
    assert counts["delay_seconds"] == {"median": 180.0, "p90": 180.0}
    assert counts["false_alerts_per_day"] == pytest.approx(1 / 100 * 24 * 60)


def test_no_alerts_and_no_incidents():
    counts = alert_counts([], labelled(10)).to_json()
    assert counts["recall"] == counts["precision"] == counts["f1"] == 0.0
    assert counts["delay_steps"] == {"median": None, "p90": None}


def test_totals_add_counts_and_pool_delays():
    a = alert_counts(
        [AlertSpan(12, 25), AlertSpan(30, 33)], labelled(100, (10, 19)), timestamps_ms=np.arange(100) * 1000
    )
    b = alert_counts([AlertSpan(7, 9)], labelled(20, (5, 8)), timestamps_ms=np.arange(20) * 1000)
    total = total_alert_counts([a, b])
    assert (total.n_steps, total.n_incidents, total.caught, total.n_alerts, total.true_alerts) == (120, 2, 2, 3, 2)
    assert total.delays_steps == (2, 2) and total.seconds == pytest.approx(120.0)
    untimed = total_alert_counts([a, alert_counts([], labelled(20, (5, 8)))])
    assert untimed.seconds is None and untimed.delays_seconds is None


def test_spans_outside_the_series_are_refused():
    with pytest.raises(ValueError):
        alert_counts([AlertSpan(5, 10)], labelled(10))
    with pytest.raises(ValueError):
        AlertSpan(5, 4)
