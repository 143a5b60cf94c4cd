"""Evaluation streams with a chosen share of anomalous points, cut from labelled test data.

The procedure (:func:`crop_to_ratio`), for one labelled test stream ``labels[T]`` and a
target ratio r:

1. r is written as a reduced fraction p/q, the closest one with q <= ``max_denominator``
   (0.5% = 1/200, 1% = 1/100, 2% = 1/50, 5% = 1/20, 10% = 1/10). A target that no such
   fraction approximates within 1% of its value is refused.
2. The candidates are the contiguous slices ``[start, stop)`` of the stream whose labelled
   count k and length L satisfy k / L = p / q *exactly* (L is then a multiple of q), with
   - ``L >= min_length``;
   - ``start >= lead - 1`` and ``labels[start:start + lead]`` all normal: every slice begins
     with at least ``lead`` normal steps, and a detector whose window is at most ``lead`` has
     a full window at each of its steps;
   - ``stop`` free: a labelled segment may be cut by the end of the slice (the stream ends
     during the anomaly: its onset is in the slice, its remainder is not). Low ratios in data
     with long segments can only be reached that way; :class:`RatioCrop` says when it happened.
   The labels inside a slice are the data set's own: nothing is relabelled, moved or planted.
3. The candidates at least ``keep_fraction`` times as long as the longest one are kept (long
   slices give less variance) and one of them is drawn uniformly with the caller's generator,
   so a seed always gives the same slice.

A stream without any candidate raises :class:`RatioInfeasible`.

How exact slices are found: with P[i] the number of labelled points before position i, a
slice [a, b) has k/L = p/q exactly when G[a] = G[b] for G[i] = q·P[i] − p·i. Sorting the
positions by (G, i) makes "every admissible end for this start" one contiguous range, found
with a binary search, for all starts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import numpy as np

from ._errors import BenchError

MAX_DENOMINATOR = 1000
_TARGET_TOLERANCE = 0.01  # relative: how far the fraction p/q may be from the requested ratio


class RatioInfeasible(BenchError):
    """No slice of the stream has the requested share of anomalous points under the constraints."""


@dataclass(frozen=True)
class RatioCrop:
    """The slice ``[start, stop)`` of a test stream and what it holds."""

    target: float
    start: int
    stop: int
    anomalous: int
    segments: int
    ends_inside_segment: bool

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def achieved(self) -> float:
        return self.anomalous / self.length

    def to_json(self) -> dict[str, object]:
        return {
            "start": self.start,
            "stop": self.stop,
            "length": self.length,
            "anomalous": self.anomalous,
            "achieved": self.achieved,
            "segments": self.segments,
            "ends_inside_segment": self.ends_inside_segment,
        }


def ratio_fraction(target: float, max_denominator: int = MAX_DENOMINATOR) -> Fraction:
    """``target`` as the reduced fraction p/q the crop reaches exactly (step 1)."""
    if not 0.0 < target < 1.0:
        raise BenchError(f"anomaly ratio must be in (0, 1), got {target}")
    fraction = Fraction(repr(float(target))).limit_denominator(max_denominator)
    if fraction == 0 or abs(float(fraction) - target) > _TARGET_TOLERANCE * target:
        raise BenchError(
            f"anomaly ratio {target} has no fraction with a denominator up to {max_denominator} "
            f"within {100 * _TARGET_TOLERANCE:g}% of it"
        )
    return fraction


def crop_to_ratio(
    labels: np.ndarray,
    target: float,
    rng: np.random.Generator,
    *,
    min_length: int,
    lead: int = 1,
    keep_fraction: float = 0.5,
    max_denominator: int = MAX_DENOMINATOR,
) -> RatioCrop:
    """A slice of ``labels`` whose anomalous share is exactly ``target`` (as a fraction); see the module doc."""
    labels = np.asarray(labels, dtype=bool).ravel()
    if min_length < 1 or lead < 1:
        raise BenchError(f"min_length and lead must be >= 1, got {min_length} and {lead}")
    if not 0.0 < keep_fraction <= 1.0:
        raise BenchError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    fraction = ratio_fraction(target, max_denominator)
    p, q = fraction.numerator, fraction.denominator
    steps = len(labels)

    positions = np.arange(steps + 1, dtype=np.int64)
    prefix = np.concatenate([[0], np.cumsum(labels, dtype=np.int64)])
    level = q * prefix - p * positions
    # One sortable key per position: level first, then position (levels span at most q·T values).
    keys = (level - level.min()) * (steps + 1) + positions
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_positions = keys[order], positions[order]

    starts = _admissible_starts(labels, lead)
    if len(starts) == 0:
        raise RatioInfeasible(f"no stretch of {lead} normal steps to start a slice at")
    group = keys[starts] - starts  # the key of (level, 0) for each start's level
    last = np.searchsorted(sorted_keys, group + steps, side="right")

    def first_end(min_len: int) -> np.ndarray:
        return cast(np.ndarray, np.searchsorted(sorted_keys, group + starts + min_len, side="left"))

    first = first_end(min_length)
    has_end = last > first
    if not has_end.any():
        raise RatioInfeasible(f"no slice of at least {min_length} steps holds exactly {fraction} anomalous points")
    longest = int((sorted_positions[last[has_end] - 1] - starts[has_end]).max())
    shortest = max(min_length, int(np.ceil(keep_fraction * longest)))
    first = first_end(shortest)
    counts = np.maximum(last - first, 0)
    pick = int(rng.choice(len(starts), p=counts / counts.sum()))
    start = int(starts[pick])
    stop = int(sorted_positions[first[pick] + int(rng.integers(counts[pick]))])
    inside = labels[start:stop]
    anomalous = int(inside.sum())
    segments = int(np.count_nonzero(np.diff(np.concatenate([[False], inside]).astype(np.int8)) == 1))
    ends_inside = bool(stop < steps and labels[stop] and labels[stop - 1])
    return RatioCrop(float(target), start, stop, anomalous, segments, ends_inside)


def _admissible_starts(labels: np.ndarray, lead: int) -> np.ndarray:
    """Positions ``s >= lead - 1`` whose next ``lead`` steps are all normal."""
    steps = len(labels)
    if steps < lead:
        return np.zeros(0, dtype=np.int64)
    labelled = np.concatenate([[0], np.cumsum(labels, dtype=np.int64)])
    candidates = np.arange(max(lead - 1, 0), steps - lead + 1, dtype=np.int64)
    return cast(np.ndarray, candidates[labelled[candidates + lead] == labelled[candidates]])
