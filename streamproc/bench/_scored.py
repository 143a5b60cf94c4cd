"""Replayed test streams of a table run, kept on disk with the wall time their scoring took.

``ROOT/<detector>/<channel>.npz`` is the replay's own format (:meth:`ReplayedChannel.save`,
the layout ``streamproc replay`` writes under ``scores/``); ``<channel>.json`` beside it says
which model version, threshold and test data produced it, with which batch size, and how long it
took. A rerun reuses a stored stream only while all of those are unchanged, so the final,
combined invocation of a long benchmark neither retrains nor rescores; its speed column keeps
the time measured when the stream was scored.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamproc.replay import SCORE_ARRAYS, ReplayedChannel, replay_model
from streamproc.training import TrainedModel, data_fingerprint


@dataclass(frozen=True)
class TimedReplay:
    """A replayed test stream, how many full windows were scored and the wall time it took."""

    replayed: ReplayedChannel
    windows: int
    seconds: float
    reused: bool


class ScoreCache:
    def __init__(self, root: Path | str, batch_size: int) -> None:
        self.root = Path(root)
        self.batch_size = batch_size

    def replay(self, model: TrainedModel, test: np.ndarray, history: np.ndarray) -> TimedReplay:
        """``model``'s replay of raw ``test[T, C]`` after ``history`` (the end of the training data)
        with its own label-free threshold: the stored one when it is current, else scored now
        (``replay_model``, timed) and stored."""
        history = history[len(history) - (model.window - 1) :]
        arrays = self.root / model.detector_name / f"{model.channel}.npz"
        record_path = arrays.with_suffix(".json")
        # Normalised through JSON so that it compares equal to what was read back from disk.
        identity = json.loads(
            json.dumps(
                {
                    "detector": model.detector_name,
                    "channel": model.channel,
                    "model_version": model.version,
                    "threshold": model.threshold_state.to_json(),
                    "test_fingerprint": data_fingerprint(test),
                    "history_fingerprint": data_fingerprint(history),
                    "batch_size": self.batch_size,
                }
            )
        )
        stored = _read_record(record_path)
        if stored is not None and {k: stored.get(k) for k in identity} == identity and arrays.is_file():
            with np.load(arrays, allow_pickle=False) as saved:
                # The ignore: mypy cannot tell that the starred arrays (the four SCORE_ARRAYS) stop
                # short of calibrated_threshold.
                replayed = ReplayedChannel(  # type: ignore[misc]
                    *(saved[name] for name in SCORE_ARRAYS), calibrated_threshold=float(stored["calibrated_threshold"])
                )
            return TimedReplay(replayed, int(stored["windows"]), float(stored["seconds"]), reused=True)

        started = time.perf_counter()
        replayed = replay_model(model, test, batch_size=self.batch_size, history=history)
        seconds = time.perf_counter() - started
        windows = max(0, len(history) + len(test) - model.window + 1)
        replayed.save(arrays)
        record = {
            **identity,
            "windows": windows,
            "seconds": seconds,
            "calibrated_threshold": replayed.calibrated_threshold,
            "scored_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        record_path.write_text(json.dumps(record, indent=2) + "\n")
        return TimedReplay(replayed, windows, seconds, reused=False)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
