"""Scoring windows with their channels' models, grouped so each model runs once per batch."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streamproc.fusion import DetectorVerdict
from streamproc.windows import Window

from ._catalog import ModelCatalog


@dataclass
class ScoredBatch:
    """The verdicts of a batch of windows.

    ``verdicts[i]`` holds window ``i``'s verdicts (one per detector that scored it);
    ``failures`` maps a window's index to why a detector could not score it; ``seconds`` is
    the time each detector spent on the batch and ``windows`` how many windows it scored.
    ``shadow_verdicts[i]`` are the shadow models' verdicts on window ``i`` (published, never
    fused); a shadow model that fails is only counted in ``shadow_failures``, per detector.
    """

    verdicts: list[list[DetectorVerdict]]
    failures: dict[int, str] = field(default_factory=dict)
    shadow_verdicts: list[list[DetectorVerdict]] = field(default_factory=list)
    shadow_failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    windows: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def score_windows(catalog: ModelCatalog, windows: Sequence[Window]) -> ScoredBatch:
    """Score ``windows`` (of channels :meth:`ModelCatalog.prepare` has loaded) with every model.

    Blocking and CPU- or GPU-bound: the worker runs it in an executor.
    """
    result = ScoredBatch([[] for _ in windows], shadow_verdicts=[[] for _ in windows])
    by_channel: dict[str, list[int]] = defaultdict(list)
    for index, window in enumerate(windows):
        by_channel[window.channel].append(index)
    for channel, indices in by_channel.items():
        stacked = np.stack([windows[i].values for i in indices])
        for detector, model in catalog.get(channel).models.items():
            start = time.perf_counter()
            try:
                scores, contributions = model.score(stacked)
            except Exception as exc:  # a model failing on some input must not stop the worker
                for i in indices:
                    result.failures[i] = f"{detector} failed on channel {channel!r}: {exc!r}"
                continue
            finally:
                result.seconds[detector] += time.perf_counter() - start
            result.windows[detector] += len(indices)
            threshold = model.threshold
            for row, i in enumerate(indices):
                result.verdicts[i].append(
                    DetectorVerdict(detector, model.version, float(scores[row]), threshold, contributions[row])
                )
        for detector, model in catalog.get(channel).shadows.items():
            try:
                scores, contributions = model.score(stacked)
            except Exception as exc:  # a shadow must never cost the live scores anything
                result.shadow_failures[detector] = f"shadow {detector} failed on channel {channel!r}: {exc!r}"
                continue
            for row, i in enumerate(indices):
                result.shadow_verdicts[i].append(
                    DetectorVerdict(detector, model.version, float(scores[row]), model.threshold, contributions[row])
                )
    return result
