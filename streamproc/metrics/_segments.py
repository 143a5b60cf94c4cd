"""Contiguous runs of ``True`` in a boolean series (labelled segments, alarm runs)."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> np.ndarray:
    """``[K, 2]`` array of ``(start, stop)`` (stop exclusive) for each maximal run of ``True``."""
    mask = np.asarray(mask, dtype=bool).ravel()
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
