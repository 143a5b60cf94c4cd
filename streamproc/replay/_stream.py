"""Replay one test stream through a trained model, as the live stream would see it."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamproc.thresholds import Spot
from streamproc.training import TrainedModel

SCORE_ARRAYS = ("score", "threshold", "alarm", "contributions")


@dataclass(frozen=True)
class ReplayedChannel:
    """Per test step: ``score`` (NaN before the first full window), the ``threshold`` in force,
    ``alarm`` (score above that threshold) and per-feature ``contributions[T, C]``.
    ``calibrated_threshold`` is the label-free threshold set at training time."""

    score: np.ndarray
    threshold: np.ndarray
    alarm: np.ndarray
    contributions: np.ndarray
    calibrated_threshold: float

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, score=self.score, threshold=self.threshold, alarm=self.alarm, contributions=self.contributions)
        return path


def replay_model(
    model: TrainedModel,
    test: np.ndarray,
    threshold: Spot | None = None,
    batch_size: int = 1024,
    history: np.ndarray | None = None,
) -> ReplayedChannel:
    """Score raw ``test[T, C]`` window by window with ``model.score`` (batched), then step the
    threshold through the scores in time order; ``threshold`` defaults to a copy of the
    model's own, so the stored state is never changed.

    ``history[H, C]`` are the steps before the test stream (the end of the training data, which
    a running worker's window holds): with ``H >= window - 1`` every test step is scored; without
    it the first ``window - 1`` steps have no full window and hold NaN.
    """
    spot = threshold if threshold is not None else model.threshold_state.copy()
    calibrated = spot.threshold
    before = 0 if history is None else len(history)
    series = test if history is None else np.concatenate([np.asarray(history), np.asarray(test)])
    scores, contributions = model.score_series(series, batch_size)
    scores, contributions = scores[before:], contributions[before:]
    thresholds, alarms = spot.run(scores)
    # Thresholds stay float64, the precision alarms were decided in: alarm == (score > threshold) exactly.
    return ReplayedChannel(scores, thresholds, alarms, contributions, float(calibrated))


def random_baseline(channel: str, n_steps: int, n_features: int, rate: float = 0.02, seed: int = 0) -> ReplayedChannel:
    """The sanity row: uniform random scores, alarm on the top ``rate`` share of them.

    The generator is seeded from ``seed`` and the channel's name alone, so a channel gets the
    same draw whichever other channels are replayed with it; nothing here sees the labels.
    """
    rng = np.random.default_rng([seed, zlib.crc32(channel.encode())])
    scores = rng.random(n_steps)
    cut = float(np.quantile(scores, 1.0 - rate))
    return ReplayedChannel(
        scores, np.full(n_steps, cut), scores > cut, np.zeros((n_steps, n_features), np.float32), cut
    )
