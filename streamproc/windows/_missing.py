"""Missing values: what a window (or a training series) gets where a reading said a feature is
missing, by a per-feature policy.

- ``hold``: the feature's last value before the missing run (the next one when the run starts
  the series);
- ``interpolate``: a straight line between the values on either side of the run (held at an
  edge, where one side is not there);
- ``reject``: nothing: a series holding a missing value of this feature is not used.

A run of more than ``limit`` missing steps is not filled under any policy: the series is not
used, and the reason says which feature and how long. Missing values are NaN in the arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamproc.config import MISSING_POLICIES as MISSING_POLICIES  # re-exported by streamproc.windows

HOLD, INTERPOLATE, REJECT = MISSING_POLICIES


@dataclass(frozen=True)
class MissingPolicy:
    """``policy`` for every feature but those named in ``features`` (name -> policy); runs of at
    most ``limit`` missing steps are filled."""

    policy: str = HOLD
    limit: int = 3
    features: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, policy in {"(default)": self.policy, **self.features}.items():
            if policy not in MISSING_POLICIES:
                raise ValueError(
                    f"missing-value policy of {name}: {policy!r} is not one of {', '.join(MISSING_POLICIES)}"
                )
        if self.limit < 0:
            raise ValueError(f"the missing-value limit must be >= 0, got {self.limit}")

    def of(self, n_features: int, names: Sequence[str] | None) -> list[str]:
        """The policy of each of ``n_features`` features (named ``names`` when known)."""
        if names is None or len(names) != n_features:
            return [self.policy] * n_features
        return [self.features.get(name, self.policy) for name in names]

    def fill(self, values: np.ndarray, names: Sequence[str] | None = None) -> tuple[np.ndarray, str | None]:
        """``values[T, C]`` with its missing values (NaN) filled, and None; or the array as
        given and why it cannot be used."""
        missing = np.isnan(values)
        if not missing.any():
            return values, None
        filled = np.array(values, copy=True)
        for column, policy in enumerate(self.of(values.shape[1], names)):
            if not missing[:, column].any():
                continue
            label = names[column] if names is not None and len(names) == values.shape[1] else f"#{column}"
            problem = _fill_column(filled[:, column], missing[:, column], policy, self.limit)
            if problem is not None:
                return values, f"feature {label}: {problem}"
        return filled, None


def _fill_column(column: np.ndarray, missing: np.ndarray, policy: str, limit: int) -> str | None:
    """Fill ``column`` in place where ``missing``; the reason it cannot be, or None."""
    if policy == REJECT:
        return f"{int(missing.sum())} missing value(s) (policy reject)"
    if missing.all():
        return "missing at every step"
    # Runs of missing steps: [start, end) pairs.
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int((ends - starts).max())
    if longest > limit:
        return f"missing for {longest} consecutive steps (the limit is {limit})"
    for start, end in zip(starts, ends, strict=True):
        before = column[start - 1] if start > 0 else None
        after = column[end] if end < len(column) else None
        if policy == INTERPOLATE and before is not None and after is not None:
            steps = np.arange(1, end - start + 1) / (end - start + 1)
            column[start:end] = before + (after - before) * steps
        else:
            column[start:end] = before if before is not None else after
    return None


def fill_series(
    values: np.ndarray, policy: MissingPolicy, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """A long series (training data) under ``policy``: runs a window would fill are filled, the
    rows of the others are left out. Returns the filled values, the mask of rows kept and how
    many values were filled."""
    values = np.array(values, dtype=np.float64, copy=True)
    missing = np.isnan(values)
    keep = np.ones(len(values), dtype=bool)
    filled = 0
    if not missing.any():
        return values, keep, 0
    for column, rule in enumerate(policy.of(values.shape[1], names)):
        gaps = missing[:, column]
        if not gaps.any():
            continue
        edges = np.diff(np.concatenate(([0], gaps.astype(np.int8), [0])))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            run = np.zeros(len(values), dtype=bool)
            run[max(start - 1, 0) : min(end + 1, len(values))] = True
            segment = values[run, column]
            if (
                rule == REJECT
                or end - start > policy.limit
                or _fill_column(segment, np.isnan(segment), rule, policy.limit)
            ):
                keep[start:end] = False
                continue
            values[run, column] = segment
            filled += int(end - start)
    return values, keep, filled


def hold_everywhere(values: np.ndarray) -> np.ndarray:
    """``values[T, C]`` with every missing value held from the one before (the one after at the
    start; 0 in a feature missing throughout): the point-level view of a recording, which must
    score every step whatever a policy would leave out."""
    values = np.array(values, dtype=np.float64, copy=True)
    missing = np.isnan(values)
    if not missing.any():
        return values
    index = np.where(missing, 0, np.arange(len(values))[:, None])
    np.maximum.accumulate(index, axis=0, out=index)
    held = np.take_along_axis(values, index, axis=0)
    # Leading runs: the first value of the feature.
    for column in np.flatnonzero(np.isnan(held).any(axis=0)):
        valid = np.flatnonzero(~np.isnan(held[:, column]))
        held[np.isnan(held[:, column]), column] = held[valid[0], column] if len(valid) else 0.0
    return held
