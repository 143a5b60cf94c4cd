"""Gaussian noise scaled to each feature's spread in the training data.

The procedure (:func:`add_relative_noise`): for a noise level ℓ (0.05 means 5%), feature j of a
series gets independent zero-mean Gaussian noise of standard deviation ℓ·σ_j, where σ_j is the
standard deviation of feature j over the channel's *clean training data* (raw units, ddof=0;
:func:`feature_scale`). Training data sets the scale for both the evaluation stream and, in the
second variant, the training data itself, so that a level means the same physical amount in
both. A feature that is constant in training (σ_j = 0, e.g. SMAP's command flags) receives no
noise: "a share of its spread" is zero for it.

The unit draws come from the caller's generator; the studies draw them once per channel and
seed and scale them by each level (common random numbers), so two levels differ in magnitude
only and a curve over levels is not jagged by independent draws.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from ._errors import BenchError


def feature_scale(train: np.ndarray) -> np.ndarray:
    """σ_j: each feature's standard deviation over ``train[T, C]`` (float64)."""
    train = np.asarray(train, dtype=np.float64)
    if train.ndim != 2 or len(train) == 0:
        raise BenchError(f"training data must be a non-empty [T, C] array, got shape {train.shape}")
    return cast(np.ndarray, train.std(axis=0))


def unit_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws, to be scaled by :func:`add_relative_noise`."""
    return rng.standard_normal(shape)


def add_relative_noise(series: np.ndarray, scale: np.ndarray, level: float, unit: np.ndarray) -> np.ndarray:
    """``series + level · scale · unit`` as float32; ``unit`` holds standard normal draws shaped like ``series``."""
    if level < 0 or not np.isfinite(level):
        raise BenchError(f"noise level must be a finite number >= 0, got {level}")
    series = np.asarray(series, dtype=np.float32)
    unit = np.asarray(unit)
    if unit.shape != series.shape:
        raise BenchError(f"noise draws are shaped {unit.shape}, the series {series.shape}")
    scale = np.asarray(scale, dtype=np.float64)
    if scale.shape != series.shape[1:]:
        raise BenchError(f"{scale.shape[0] if scale.ndim else 0} feature scales for {series.shape[1]} features")
    if level == 0:
        return series.copy()
    return cast(np.ndarray, (series + level * scale * unit).astype(np.float32))
