"""The contract every detector honours (see DESIGN.md, "Plugin API")."""

from __future__ import annotations

import abc
import functools
import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from streamproc.errors import StreamprocError

ARTIFACT_FORMAT = 1
METADATA_FILE = "metadata.json"
ARRAYS_FILE = "arrays.npz"

ProgressCallback = Callable[[int, int, Mapping[str, float]], None]
"""``progress(step, total, values)``: called by ``fit`` as training advances."""


@dataclass(frozen=True)
class FitReport:
    """What ``fit`` learned, for logs and benchmark tables."""

    seconds: float
    train_windows: int
    epochs: int = 0
    final_loss: float | None = None
    history: list[float] = field(default_factory=list)
    validation_loss: float | None = None
    feature_notes: dict[str, list[int]] = field(default_factory=dict)
    """What the fit decided about some features, for the training line: a phrase (structure_aware:
    ``"drift between training quarters: ..."``) to the indices it applies to. Training names them."""


@dataclass(frozen=True)
class ScoreBatch:
    """Scores for a batch of windows: one score and one contribution row per window.

    ``contributions[b, c]`` is feature ``c``'s share of window ``b``'s score (non-negative);
    alerts report the largest ones.
    """

    scores: np.ndarray
    contributions: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.scores
        yield self.contributions


class ArtifactError(StreamprocError):
    """A model artifact is missing, of another format or for another detector."""


class Detector(abc.ABC):
    """A window-based anomaly detector.

    Windows are ``float32`` arrays ``[B, W, C]``; a window's score belongs to its last time
    step. Subclasses implement ``_fit``, ``_score``, ``_arrays``/``_restore`` and expose
    their constructor arguments as ``config`` so that ``save``/``load`` can rebuild them.
    Artifacts hold a JSON metadata file and an ``.npz`` of plain arrays, loaded with
    ``allow_pickle=False``: no untrusted bytes are ever unpickled.
    """

    name: ClassVar[str]
    # Whether a window's score is the sum of its per-feature contributions: then the base class
    # leaves covariates out of the score by itself; a detector whose score is not a sum reads
    # ``covariates`` in its own ``_score``.
    additive: ClassVar[bool] = True
    # Settings added after artifacts were first written, with the value that reproduces how those
    # artifacts were trained where the new default differs: applied when an artifact's stored
    # config lacks the key, so an old model scores as it was calibrated.
    added_settings: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, *, window: int, **config: Any) -> None:
        if int(window) < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self.window = int(window)
        self.config: dict[str, Any] = {"window": self.window, **config}
        self.n_features: int | None = None
        self.covariates: tuple[int, ...] = ()

    @property
    def fitted(self) -> bool:
        return self.n_features is not None

    def fit(
        self,
        train: np.ndarray,
        *,
        progress: ProgressCallback | None = None,
        validation: np.ndarray | None = None,
        covariates: Sequence[int] = (),
    ) -> FitReport:
        """Learn normal behaviour from ``train[T, C]`` (already scaled).

        ``covariates`` are the indices of features that are inputs only (commands, set points,
        operating modes): the detector sees them but never scores or blames them, so their
        contributions are zero and they add nothing to a score.

        ``validation[T_v, C]`` is held-out normal data that follows ``train`` (its first
        ``window - 1`` steps may repeat the end of ``train`` so that every held-out step ends a
        window), for detectors that stop early or report a held-out loss. It reaches ``_fit``
        as the ``validation`` keyword; a detector whose ``_fit`` has no such parameter (written
        before it existed) is fitted without it.
        """
        train = np.asarray(train, dtype=np.float32)
        if train.ndim != 2:
            raise ValueError(f"train must be [T, C], got shape {train.shape}")
        if train.shape[0] < self.window + 1:
            raise ValueError(f"need more than window={self.window} training steps, got {train.shape[0]}")
        if not np.isfinite(train).all():
            raise ValueError("train contains NaN or infinite values")
        if validation is not None:
            validation = np.asarray(validation, dtype=np.float32)
            if validation.ndim != 2 or validation.shape[1] != train.shape[1]:
                raise ValueError(f"validation must be [T, {train.shape[1]}], got shape {validation.shape}")
            if not np.isfinite(validation).all():
                raise ValueError("validation contains NaN or infinite values")
        covariates = tuple(sorted({int(c) for c in covariates}))
        if covariates and not (0 <= covariates[0] and covariates[-1] < train.shape[1]):
            raise ValueError(f"covariates must be feature indices in 0..{train.shape[1] - 1}, got {list(covariates)}")
        if len(covariates) >= train.shape[1]:
            raise ValueError("every feature is a covariate: nothing is left to score")
        self.covariates = covariates
        self.n_features = int(train.shape[1])
        if _accepts_validation(type(self)):
            return self._fit(train, progress, validation=validation)
        return self._fit(train, progress)

    def score(self, windows: np.ndarray) -> ScoreBatch:
        """Score ``windows[B, W, C]``; non-finite inputs are treated as zero (the scaled median)."""
        if not self.fitted:
            raise RuntimeError(f"detector {self.name!r} is not fitted")
        assert self.n_features is not None  # fitted
        windows = np.asarray(windows, dtype=np.float32)
        expected = (self.window, self.n_features)
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise ValueError(f"windows must be [B, {expected[0]}, {expected[1]}], got {windows.shape}")
        if windows.shape[0] == 0:
            return ScoreBatch(np.zeros(0, np.float32), np.zeros((0, self.n_features), np.float32))
        if not np.isfinite(windows).all():
            windows = np.nan_to_num(windows, nan=0.0, posinf=0.0, neginf=0.0)
        scores, contributions = self._score(windows)
        scores, contributions = np.asarray(scores, np.float32), np.asarray(contributions, np.float32)
        if self.covariates:
            contributions = contributions.copy()
            contributions[:, list(self.covariates)] = 0.0
            if self.additive:
                scores = contributions.sum(axis=1, dtype=np.float32)
        return ScoreBatch(scores, contributions)

    def use_device(self, device: str) -> None:  # noqa: B027 - optional: most detectors have no device
        """Score on ``device`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``) from now on.

        A worker calls it on every model it loads, so that where a model runs is the worker's
        choice, not the training machine's. Detectors without a device have nothing to move.
        """

    def save(self, directory: Path | str, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the artifact to ``directory``; ``metadata`` is stored beside the config."""
        if not self.fitted:
            raise RuntimeError(f"detector {self.name!r} is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        from streamproc import __version__

        meta = {
            "format": ARTIFACT_FORMAT,
            "detector": self.name,
            "library_version": __version__,
            "config": self.config,
            "n_features": self.n_features,
            "covariates": list(self.covariates),
            **(metadata or {}),
        }
        # The ignore: numpy's stub lets **arrays fill savez's allow_pickle; these keys are array names.
        np.savez(directory / ARRAYS_FILE, **{k: np.asarray(v) for k, v in self._arrays().items()})  # type: ignore[arg-type]
        (directory / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory: Path | str) -> Detector:
        """Rebuild a fitted detector from an artifact written by ``save``."""
        meta = read_metadata(directory)
        if meta.get("detector") != cls.name:
            raise ArtifactError(f"{directory} holds a {meta.get('detector')!r} model, not {cls.name!r}")
        detector = cls(**{**cls.added_settings, **meta["config"]})
        detector.n_features = int(meta["n_features"])
        detector.covariates = tuple(int(c) for c in meta.get("covariates", ()))
        with np.load(Path(directory) / ARRAYS_FILE, allow_pickle=False) as arrays:
            detector._restore({k: arrays[k] for k in arrays.files})
        return detector

    @abc.abstractmethod
    def _fit(
        self, train: np.ndarray, progress: ProgressCallback | None, validation: np.ndarray | None = None
    ) -> FitReport: ...

    @abc.abstractmethod
    def _score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    @abc.abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The learned state as named plain arrays."""

    @abc.abstractmethod
    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Inverse of ``_arrays``."""


@functools.cache
def _accepts_validation(cls: type[Detector]) -> bool:
    return "validation" in inspect.signature(cls._fit).parameters


def read_metadata(directory: Path | str) -> dict[str, Any]:
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"no model artifact at {directory} ({METADATA_FILE} missing)")
    meta: dict[str, Any] = json.loads(path.read_text())
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{directory}: artifact format {meta.get('format')!r}, expected {ARTIFACT_FORMAT}")
    return meta


def sliding_windows(series: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """All windows ``[N, window, C]`` of ``series[T, C]`` (a view, no copy)."""
    series = np.asarray(series)
    if series.shape[0] < window:
        return np.empty((0, window, series.shape[1]), dtype=series.dtype)
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)
    return view.transpose(0, 2, 1)[::stride]
