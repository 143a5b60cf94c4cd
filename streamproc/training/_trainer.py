"""Train one channel: scale, split, fit, calibrate a label-free threshold."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streamproc.detection import DetectorRegistry, DetectorSpec, ProgressCallback, RobustScaler
from streamproc.thresholds import Spot, ThresholdConfigError
from streamproc.windows import MissingPolicy, fill_series

from ._errors import TrainingError
from ._fingerprint import data_fingerprint
from ._model import TrainedModel
from ._options import TrainingOptions


def resolve_spec(detector: str | DetectorSpec, registry: DetectorRegistry | None = None) -> DetectorSpec:
    if isinstance(detector, DetectorSpec):
        return detector
    try:
        return (registry or DetectorRegistry()).spec(detector)
    except KeyError as exc:
        raise TrainingError(exc.args[0]) from None


def resolve_config(spec: DetectorSpec, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The full config a detector is built with: the spec's defaults updated by ``overrides``."""
    overrides = dict(overrides or {})
    try:
        return dict(spec.build(**overrides).config)
    except (TypeError, ValueError) as exc:
        raise TrainingError(_config_error(spec, overrides, exc)) from None


def _config_error(spec: DetectorSpec, overrides: Mapping[str, Any], exc: Exception) -> str:
    message = str(exc)
    if message.startswith(f"detector {spec.name!r}"):
        return message
    # A detector's own check may not say which setting it rejected ("invalid literal for int()"):
    # find the override that fails on its own and name it.
    for key, value in overrides.items():
        try:
            spec.build(**{key: value})
        except (TypeError, ValueError):
            return f"detector {spec.name!r}: {key}={value!r}: {message}"
    return f"detector {spec.name!r}: {message}"


def seed_everything(seed: int) -> None:
    """Seed the global RNGs a detector might draw from (Python, NumPy, and torch if loaded)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def split_validation(steps: int, window: int, fraction: float) -> int:
    """How many final training steps to hold out: ``fraction`` of them, while leaving the fit
    part more than one window long."""
    held_out = int(round(steps * fraction))
    return max(0, min(held_out, steps - (window + 1)))


# A scored feature whose training values spread less than this (relative to their size, at
# least 1) never showed the model its normal variation: any movement later scores as anomalous.
FLAT_FEATURE_SPREAD = 1e-3


def flat_features(train: np.ndarray, names: Sequence[str], covariates: Sequence[int] = ()) -> list[str]:
    """The scored features that were (nearly) constant in ``train``: standard deviation at most
    :data:`FLAT_FEATURE_SPREAD` times ``max(1, |median|)``."""
    spread = np.std(train, axis=0)
    size = np.maximum(1.0, np.abs(np.median(train, axis=0)))
    skipped = set(covariates)
    return [names[i] for i in range(train.shape[1]) if i not in skipped and spread[i] <= FLAT_FEATURE_SPREAD * size[i]]


def sampling_period_ms(timestamps: np.ndarray | None) -> int | None:
    """A channel's usual time between samples: the median of its positive steps (robust to the
    few gaps and bursts a historian export holds), or None without timestamps."""
    if timestamps is None or len(timestamps) < 2:
        return None
    steps = np.diff(np.asarray(timestamps, dtype=np.int64))
    steps = steps[steps > 0]
    return int(np.median(steps)) if len(steps) else None


def _named_notes(channel: str, notes: Mapping[str, Sequence[int]], names: Sequence[str]) -> dict[str, list[str]]:
    """A detector's feature notes (phrase -> feature indices) with the features named."""
    named = {}
    for phrase, indices in notes.items():
        if any(not 0 <= int(i) < len(names) for i in indices):
            raise TrainingError(f"channel {channel}: a detector's note names features {list(indices)} of {len(names)}")
        named[phrase] = [names[int(i)] for i in indices]
    return named


def _window_scores(
    model: Any, scaler: RobustScaler, threshold: Spot, train: np.ndarray, start: int, stop: int, window: int
) -> np.ndarray:
    """Scores of the windows of ``train`` that end in steps ``[start, stop)`` (each read with its
    ``window - 1`` steps of context), through the stream's code path."""
    scores, _ = TrainedModel(model, scaler, threshold, np.zeros(0), {}).score_series(train[start - (window - 1) : stop])
    return scores[window - 1 :]


def _cross_fit_scores(
    spec: DetectorSpec,
    config: Mapping[str, Any],
    scaler: RobustScaler,
    threshold: Spot,
    train: np.ndarray,
    covariates: Sequence[int],
    window: int,
    seed: int,
) -> np.ndarray:
    """Out-of-sample scores of every training window from two models, each fitted on one half of
    ``train`` and scoring the windows that end in the other half.

    A channel whose held-out tail is too short to calibrate on would otherwise be calibrated on
    scores of windows its model fitted, which understate the errors of unseen normal data (on
    short plant experiments by a factor that floods the stream with alarms). Each half-model is
    weaker than the final one, so these scores err on the high side: a conservative threshold.
    """
    half = len(train) // 2
    scaled = scaler.transform(train)
    pooled = []
    for fit, (start, stop) in (((0, half), (half, len(train))), ((half, len(train)), (window - 1, half))):
        seed_everything(seed)
        model = spec.build(**config)
        try:
            model.fit(scaled[fit[0] : fit[1]], covariates=covariates)
        except ValueError as exc:
            raise TrainingError(f"{spec.name} cannot be fitted on half of the training data: {exc}") from None
        pooled.append(_window_scores(model, scaler, threshold, train, start, stop, window))
    return np.concatenate(pooled)


def train_channel(
    detector: str | DetectorSpec,
    channel: str,
    train: np.ndarray,
    *,
    config: Mapping[str, Any] | None = None,
    options: TrainingOptions | None = None,
    feature_names: list[str] | None = None,
    covariates: Sequence[int] = (),
    timestamps: np.ndarray | None = None,
    missing: MissingPolicy | None = None,
    registry: DetectorRegistry | None = None,
    progress: ProgressCallback | None = None,
) -> TrainedModel:
    """Fit ``detector`` on one channel's raw training series ``train[T, C]``; ``covariates`` are
    the features it sees but never scores or blames (see :meth:`Detector.fit`).

    1. A :class:`RobustScaler` is fitted on ``train`` (training data only).
    2. The last ``options.validation_fraction`` of the steps is held out; the detector is
       fitted on the rest and given the held-out tail (with ``window - 1`` steps of context)
       as ``validation``.
    3. The held-out windows are scored through :meth:`TrainedModel.score_series`, the code
       path of the stream, and POT sets the threshold on those scores. When the tail holds
       fewer than ``options.min_calibration`` windows, the scores come from cross-fitting
       instead (two models, each fitted on one half and scoring the other: out-of-sample
       scores of every training window) where the detector's spec asks for it and a half is
       longer than a window, else from the final model's own training windows, multiplied by
       ``options.in_sample_margin``. No test data and no label is involved.

    Missing values (NaN) are filled by ``missing`` (the worker's policy, default
    :class:`MissingPolicy`) as a window would be; the rows of runs it cannot fill are left out
    (the metadata counts both).

    ``timestamps`` (epoch ms of the training rows, when the data has real time) give the
    channel's sampling period (:func:`sampling_period_ms`), which the stream uses to tell a gap
    from a late reading.

    Global RNGs are seeded from the config's ``seed`` (0 when the detector has none) so that
    a run gives the same model whatever was trained before it in the same process.
    """
    started = time.perf_counter()
    options = options or TrainingOptions()
    spec = resolve_spec(detector, registry)
    resolved = resolve_config(spec, config)
    train = np.asarray(train, dtype=np.float32)
    if train.ndim != 2:
        raise TrainingError(f"channel {channel}: training data must be [T, C], got shape {train.shape}")
    if np.isinf(train).any():
        raise TrainingError(f"channel {channel}: training data contains infinite values")
    names = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(train.shape[1])]
    if len(names) != train.shape[1]:
        raise TrainingError(f"channel {channel}: {len(names)} feature names for {train.shape[1]} features")
    fingerprint = data_fingerprint(train)  # of the data as given, which is what reruns compare
    filled, kept, filled_count = fill_series(train, missing or MissingPolicy(), names)
    train = filled[kept].astype(np.float32)
    if timestamps is not None:
        timestamps = np.asarray(timestamps)[kept]
    window = int(resolved["window"])
    if len(train) < window + 1:
        dropped = f" ({int((~kept).sum())} left out for missing values)" if not kept.all() else ""
        raise TrainingError(
            f"channel {channel}: {len(train)} training steps{dropped}, {spec.name} needs more than window={window}"
        )

    seed = int(resolved.get("seed", 0))
    seed_everything(seed)
    model = spec.build(**resolved)
    scaler = RobustScaler.fit(train)
    scaled = scaler.transform(train)
    held_out = split_validation(len(train), window, options.validation_fraction)
    fit_end = len(train) - held_out
    validation = scaled[fit_end - (window - 1) :] if held_out else None
    try:
        report = model.fit(scaled[:fit_end], progress=progress, validation=validation, covariates=covariates)
    except ValueError as exc:
        raise TrainingError(f"channel {channel}: {spec.name} cannot be fitted: {exc}") from None

    threshold = Spot(options.threshold)
    if held_out >= options.min_calibration:
        source = "validation"
        calibration = _window_scores(model, scaler, threshold, train, fit_end, len(train), window)
    elif spec.short_calibration == "cross-fit" and len(train) // 2 > window:
        source = "cross-fit"
        calibration = _cross_fit_scores(spec, resolved, scaler, threshold, train, covariates, window, seed)
    else:
        source = "in-sample"
        in_sample = _window_scores(model, scaler, threshold, train, window - 1, len(train), window)
        calibration = in_sample * np.float32(options.in_sample_margin)
    try:
        threshold.fit(calibration)
    except ThresholdConfigError as exc:
        raise TrainingError(f"channel {channel}: {exc}") from None

    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    version = hashlib.sha256(
        json.dumps(
            [fingerprint["sha256"], resolved, options.to_json(), trained_at], sort_keys=True, default=str
        ).encode()
    ).hexdigest()[:12]
    metadata = {
        "channel": channel,
        "feature_names": names,
        "version": version,
        "training": {
            "options": options.to_json(),
            "data_fingerprint": fingerprint,
            "fit_steps": fit_end,
            "validation_steps": held_out,
            "calibration": {"source": source, "scores": int(np.isfinite(calibration).sum())},
            "flat_features": flat_features(train, names, covariates),
            "feature_notes": _named_notes(channel, report.feature_notes, names),
            "sampling_period_ms": sampling_period_ms(timestamps),
            "missing_values": {"filled": filled_count, "rows_left_out": int((~kept).sum())},
            # numpy scalars in a plugin's report become plain floats for metadata.json
            "fit_report": json.loads(
                json.dumps({k: v for k, v in asdict(report).items() if k != "feature_notes"}, default=float)
            ),
            "seconds": time.perf_counter() - started,
            "trained_at": trained_at,
            "seed": seed,
        },
    }
    return TrainedModel(model, scaler, threshold, calibration, metadata)
