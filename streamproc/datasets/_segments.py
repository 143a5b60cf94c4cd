"""Labelled spans as ``(start, end_inclusive)`` pairs, the telemanom convention, and point labels."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Segment = tuple[int, int]


def merge_segments(segments: Iterable[Segment]) -> list[Segment]:
    """Sorted spans with overlapping or touching ones joined."""
    merged: list[list[int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in segments):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def labels_from_segments(segments: Iterable[Segment], length: int) -> np.ndarray:
    labels = np.zeros(length, dtype=bool)
    for start, end in segments:
        labels[start : end + 1] = True
    return labels


def segments_from_labels(labels: np.ndarray) -> list[Segment]:
    """The runs of ``True`` in ``labels``."""
    flags = np.asarray(labels, dtype=bool).astype(np.int8)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=False)]
