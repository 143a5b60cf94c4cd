"""A trained model: detector, scaler and label-free threshold of one channel, as one artifact.

On disk (one version of a :class:`ModelStore`, ``MODELS/<detector>/<channel>/versions/<n>/``),
written by :meth:`Detector.save` plus one file:

- ``metadata.json``: the detector's config and format, and under our keys the channel, the
  feature names, the scaler statistics, the threshold state (:class:`Spot`), the training
  options, the training-data fingerprint, the fit report and timings;
- ``arrays.npz``: the detector's learned arrays;
- ``calibration.npy``: the calibration scores, so a threshold can be recalibrated with other
  settings (risk, adaptation) without retraining.

Everything loads with ``allow_pickle=False``: no untrusted bytes are unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from streamproc.detection import (
    ArtifactError,
    Detector,
    DetectorRegistry,
    RobustScaler,
    ScoreBatch,
    read_metadata,
    sliding_windows,
)
from streamproc.thresholds import Spot, ThresholdConfig

CALIBRATION_FILE = "calibration.npy"
DEFAULT_BATCH_SIZE = 1024


class TrainedModel:
    """What the stream and the replay score with: ``score`` takes raw (unscaled) windows."""

    def __init__(
        self,
        detector: Detector,
        scaler: RobustScaler,
        threshold_state: Spot,
        calibration_scores: np.ndarray,
        metadata: dict[str, Any],
    ) -> None:
        self.detector = detector
        self.scaler = scaler
        self.threshold_state = threshold_state
        self.calibration_scores = np.asarray(calibration_scores, dtype=np.float64)
        self.metadata = metadata

    # -- identity ------------------------------------------------------------------------
    @property
    def detector_name(self) -> str:
        return self.detector.name

    @property
    def channel(self) -> str:
        return cast(str, self.metadata["channel"])

    @property
    def window(self) -> int:
        return self.detector.window

    @property
    def n_features(self) -> int:
        n_features = self.detector.n_features
        assert n_features is not None  # a trained model's detector is fitted
        return int(n_features)

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def sampling_period_ms(self) -> int | None:
        """The time between the training data's samples (None: it had no timestamps, or the
        model was trained before this was recorded)."""
        return cast(int | None, self.metadata.get("training", {}).get("sampling_period_ms"))

    @property
    def version(self) -> str:
        """Short id of this training run (data fingerprint, config and time of training)."""
        return cast(str, self.metadata["version"])

    @property
    def reference_scores(self) -> np.ndarray:
        """Scores of unseen normal windows as this model gives them, what drift is measured
        against: the calibration scores when they were held out (validation or cross-fit), none
        when they are the model's own training windows (in-sample: unseen data scores higher than
        those even without drift, so a comparison would cry wolf)."""
        if self.metadata.get("training", {}).get("calibration", {}).get("source") == "in-sample":
            return np.zeros(0)
        return self.calibration_scores

    @property
    def threshold(self) -> float:
        """The label-free threshold calibrated at training time (POT on held-out scores)."""
        return float(self.threshold_state.threshold)

    # -- scoring -------------------------------------------------------------------------
    def score(self, raw_windows: np.ndarray) -> ScoreBatch:
        """Scores of raw windows ``[B, W, C]``: the stored scaler, then the detector."""
        raw_windows = np.asarray(raw_windows, dtype=np.float32)
        if raw_windows.ndim != 3 or raw_windows.shape[1:] != (self.window, self.n_features):
            raise ValueError(f"windows must be [B, {self.window}, {self.n_features}], got {raw_windows.shape}")
        return self.detector.score(self.scaler.transform(raw_windows))

    def score_series(self, series: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """Score every full window of raw ``series[T, C]`` in batches.

        Returns ``scores[T]`` and ``contributions[T, C]``, each window's values placed at its
        last step; the first ``window - 1`` steps have no full window and hold NaN.
        """
        series = np.asarray(series, dtype=np.float32)
        if series.ndim != 2 or series.shape[1] != self.n_features:
            raise ValueError(f"series must be [T, {self.n_features}], got {series.shape}")
        steps = len(series)
        scores = np.full(steps, np.nan, dtype=np.float32)
        contributions = np.full((steps, self.n_features), np.nan, dtype=np.float32)
        windows = sliding_windows(series, self.window)
        for start in range(0, len(windows), batch_size):
            batch = self.score(np.ascontiguousarray(windows[start : start + batch_size]))
            at = slice(self.window - 1 + start, self.window - 1 + start + len(batch.scores))
            scores[at] = batch.scores
            contributions[at] = batch.contributions
        return scores, contributions

    def recalibrated(self, config: ThresholdConfig) -> Spot:
        """A threshold calibrated on the stored calibration scores with other settings."""
        return Spot(config).fit(self.calibration_scores)

    def recalibrate(self, config: ThresholdConfig) -> None:
        """Replace the threshold by one calibrated with ``config``; the metadata records it."""
        self.threshold_state = self.recalibrated(config)
        training = self.metadata.setdefault("training", {})
        training.setdefault("options", {})["threshold"] = config.to_json()

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: Path | str) -> Path:
        directory = Path(directory)
        metadata = {**self.metadata, "scaler": self.scaler.to_json(), "threshold": self.threshold_state.to_json()}
        self.detector.save(directory, metadata=metadata)
        np.save(directory / CALIBRATION_FILE, self.calibration_scores)
        return directory

    @classmethod
    def load(cls, directory: Path | str, registry: DetectorRegistry | None = None) -> TrainedModel:
        directory = Path(directory)
        meta = read_metadata(directory)
        for key in ("channel", "scaler", "threshold", "version", "feature_names"):
            if key not in meta:
                raise ArtifactError(f"{directory}: not a trained model ({key!r} missing from metadata)")
        registry = registry or DetectorRegistry()
        try:
            spec = registry.spec(meta["detector"])
        except KeyError as exc:
            raise ArtifactError(f"{directory}: {exc.args[0]}") from None
        factory = spec.factory
        detector_class: type[Detector] = factory if isinstance(factory, type) else type(factory(**meta["config"]))
        detector = detector_class.load(directory)
        try:
            calibration = np.load(directory / CALIBRATION_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{directory}: cannot read {CALIBRATION_FILE} ({exc})") from None
        scaler = RobustScaler.from_json(meta["scaler"])
        threshold = Spot.from_json(meta["threshold"])
        extra = {k: v for k, v in meta.items() if k not in ("scaler", "threshold")}
        return cls(detector, scaler, threshold, calibration, extra)

    def __repr__(self) -> str:
        return (
            f"TrainedModel({self.detector_name!r}, channel={self.channel!r}, window={self.window}, "
            f"features={self.n_features}, threshold={self.threshold:.6g}, version={self.version!r})"
        )
