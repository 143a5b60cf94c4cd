"""Alert-level metrics: what operators received, judged against the labelled incidents.

Point- and event-wise metrics judge a detector's raw alarms; operators never see those. They see
alerts, which open after a few anomalous windows and resolve after a few normal ones. Here an
alert is a span of steps, from the step whose window opened it to the step whose window resolved
it (or the series' end), and each labelled segment is an incident:

- an alert **catches** an incident when it is open during it, or opens at most
  ``early_warning`` steps before it starts (an alert that warned early and resolved before the
  incident still caught it);
- **incidents caught** (alert recall) is the share of incidents some alert caught;
- **alert precision** is the share of alerts that caught some incident; the others are
  **false alerts**, reported per 10,000 steps and, where the data has real time, per day;
- **detection delay** of a caught incident is from its first step to the opening of the first
  alert that caught it, 0 when that alert opened before the incident (an early warning);
- the **composite F-score** (Garg et al., 2021, "An evaluation of anomaly detection and diagnosis
  in multivariate time series") combines the point-wise precision of the steps alerts covered
  with the event-wise recall (incidents caught).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._segments import runs

SECONDS_PER_DAY = 86_400.0
# How reports show alert-level metrics: (header, path into AlertCounts.to_json()).
ALERT_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("incidents caught", ("incidents_caught",)),
    ("of", ("incidents",)),
    ("alert recall", ("recall",)),
    ("alerts", ("alerts",)),
    ("false alerts", ("false_alerts",)),
    ("alert precision", ("precision",)),
    ("alert F1", ("f1",)),
    ("false / 10k steps", ("false_alerts_per_10k_steps",)),
    ("false / day", ("false_alerts_per_day",)),
    ("delay median (steps)", ("delay_steps", "median")),
    ("delay p90 (steps)", ("delay_steps", "p90")),
    ("alert-time precision", ("covered_precision",)),
    ("composite F1", ("composite_f1",)),
)


@dataclass(frozen=True)
class AlertSpan:
    """An alert on the step axis: ``opened`` is the step whose window opened it, ``closed`` the
    last step it was open (the step whose window resolved it, or the series' last step)."""

    opened: int
    closed: int

    def __post_init__(self) -> None:
        if self.closed < self.opened:
            raise ValueError(f"an alert cannot close (step {self.closed}) before it opens (step {self.opened})")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class AlertCounts:
    """Counts behind the alert-level metrics of one series, or of several added together."""

    n_steps: int = 0
    n_incidents: int = 0
    caught: int = 0
    n_alerts: int = 0
    true_alerts: int = 0
    covered: int = 0  # steps some alert was open
    covered_labelled: int = 0  # ... of which labelled anomalous
    seconds: float | None = 0.0  # the series' duration; None when it has no real time
    delays_steps: tuple[int, ...] = field(default=())
    delays_seconds: tuple[float, ...] | None = field(default=())

    def __add__(self, other: AlertCounts) -> AlertCounts:
        timed = self.seconds is not None and other.seconds is not None
        return AlertCounts(
            self.n_steps + other.n_steps,
            self.n_incidents + other.n_incidents,
            self.caught + other.caught,
            self.n_alerts + other.n_alerts,
            self.true_alerts + other.true_alerts,
            self.covered + other.covered,
            self.covered_labelled + other.covered_labelled,
            (self.seconds or 0.0) + (other.seconds or 0.0) if timed else None,
            self.delays_steps + other.delays_steps,
            (self.delays_seconds or ()) + (other.delays_seconds or ()) if timed else None,
        )

    @property
    def false_alerts(self) -> int:
        return self.n_alerts - self.true_alerts

    @property
    def recall(self) -> float:
        """Incidents caught, out of all incidents."""
        return _ratio(self.caught, self.n_incidents)

    @property
    def precision(self) -> float:
        """Alerts that caught an incident, out of all alerts."""
        return _ratio(self.true_alerts, self.n_alerts)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def composite_f1(self) -> float:
        """Point-wise precision of the steps alerts covered with event-wise recall (Garg et al.)."""
        return _f1(_ratio(self.covered_labelled, self.covered), self.recall)

    def to_json(self) -> dict[str, Any]:
        per_day = None
        if self.seconds:
            per_day = self.false_alerts / self.seconds * SECONDS_PER_DAY
        return {
            "incidents": self.n_incidents,
            "incidents_caught": self.caught,
            "recall": self.recall,
            "alerts": self.n_alerts,
            "true_alerts": self.true_alerts,
            "false_alerts": self.false_alerts,
            "precision": self.precision,
            "f1": self.f1,
            "false_alerts_per_10k_steps": _ratio(self.false_alerts * 10_000, self.n_steps),
            "false_alerts_per_day": per_day,
            "delay_steps": _quantiles(self.delays_steps),
            "delay_seconds": _quantiles(self.delays_seconds) if self.delays_seconds is not None else None,
            "composite_f1": self.composite_f1,
            "covered_precision": _ratio(self.covered_labelled, self.covered),
            "n_steps": self.n_steps,
        }


def _quantiles(values: Sequence[float] | None) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    return {"median": float(np.median(values)), "p90": float(np.quantile(values, 0.9))}


def catches(span: AlertSpan, start: int, end: int, early_warning: int = 0) -> bool:
    """Whether an alert caught the incident of steps ``start..end``: open during it, or opened at
    most ``early_warning`` steps before it."""
    return span.opened <= end and (span.closed >= start or span.opened >= start - early_warning)


def caught_incidents(
    spans: Sequence[AlertSpan], labels: np.ndarray, early_warning: int = 0
) -> list[list[tuple[int, int]]]:
    """For each alert, the incidents (``(start, end)``, inclusive) of ``labels`` it caught."""
    incidents = [(int(a), int(b) - 1) for a, b in runs(np.asarray(labels, dtype=bool))]
    return [[(a, b) for a, b in incidents if catches(span, a, b, early_warning)] for span in spans]


def alert_counts(
    spans: Iterable[AlertSpan], labels: np.ndarray, *, early_warning: int = 0, timestamps_ms: np.ndarray | None = None
) -> AlertCounts:
    """Alert-level counts of ``spans`` on a series labelled ``labels[T]`` (see the module).

    ``timestamps_ms[T]``, when the data has real time, adds durations: the series' duration (its
    span plus one median step) and delays in seconds.
    """
    if early_warning < 0:
        raise ValueError(f"early_warning must be >= 0, got {early_warning}")
    labels = np.asarray(labels, dtype=bool).ravel()
    n_steps = len(labels)
    spans = list(spans)
    for span in spans:
        if span.opened < 0 or span.closed >= n_steps:
            raise ValueError(f"alert {span} lies outside the series of {n_steps} steps")
    seconds = None
    if timestamps_ms is not None:
        timestamps_ms = np.asarray(timestamps_ms, dtype=np.float64).ravel()
        if len(timestamps_ms) != n_steps:
            raise ValueError(f"{len(timestamps_ms)} timestamps for {n_steps} labels")
        step = float(np.median(np.diff(timestamps_ms))) if n_steps > 1 else 0.0
        seconds = (float(timestamps_ms[-1] - timestamps_ms[0]) + step) / 1000.0 if n_steps else 0.0
    incidents = runs(labels)  # (start, stop exclusive)
    covered = np.zeros(n_steps, dtype=bool)
    for span in spans:
        covered[span.opened : span.closed + 1] = True
    true_alerts: set[int] = set()
    delays: list[int] = []
    delays_seconds: list[float] = []
    caught = 0
    for start, stop in incidents:
        catching = [i for i, span in enumerate(spans) if catches(span, int(start), int(stop) - 1, early_warning)]
        if not catching:
            continue
        caught += 1
        true_alerts.update(catching)
        first = min(spans[i].opened for i in catching)
        delays.append(max(first - int(start), 0))
        if timestamps_ms is not None:
            delays_seconds.append(max(float(timestamps_ms[first] - timestamps_ms[start]), 0.0) / 1000.0)
    return AlertCounts(
        n_steps,
        len(incidents),
        caught,
        len(spans),
        len(true_alerts),
        int(covered.sum()),
        int((covered & labels).sum()),
        seconds,
        tuple(delays),
        tuple(delays_seconds) if timestamps_ms is not None else None,
    )


def total_alert_counts(counts: Iterable[AlertCounts]) -> AlertCounts:
    """Several series' counts as one (incidents and alerts never span two series)."""
    total = AlertCounts()
    for c in counts:
        total = total + c
    return total
