"""Trained models on disk: ``MODELS/<detector>/<channel>/``."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from streamproc.detection import METADATA_FILE, ArtifactError, DetectorRegistry, read_metadata
from streamproc.thresholds import ThresholdConfig

from ._model import TrainedModel


class Reused(NamedTuple):
    """A stored model :meth:`ModelStore.reuse` found usable, and whether this call recalibrated it."""

    model: TrainedModel
    recalibrated: bool


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _json_normal(value: Any) -> Any:
    # Configs compare as JSON sees them: a tuple read back from metadata.json is a list.
    return json.loads(json.dumps(value, sort_keys=True))


class ModelStore:
    """A directory of trained models, one per detector and channel."""

    def __init__(self, root: Path | str, registry: DetectorRegistry | None = None) -> None:
        self.root = Path(root)
        self._registry = registry

    @property
    def registry(self) -> DetectorRegistry:
        if self._registry is None:
            self._registry = DetectorRegistry()
        return self._registry

    def path(self, detector: str, channel: str) -> Path:
        for kind, name in (("detector", detector), ("channel", channel)):
            if not _NAME.match(name):
                raise ArtifactError(f"invalid {kind} name {name!r} for a model path")
        return self.root / detector / channel

    def detectors(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def channels(self, detector: str) -> list[str]:
        """Channels with a model for ``detector``, sorted."""
        base = self.root / detector
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / METADATA_FILE).is_file() and _NAME.match(p.name))

    def load(self, detector: str, channel: str) -> TrainedModel:
        path = self.path(detector, channel)
        if not (path / METADATA_FILE).is_file():
            raise ArtifactError(f"no {detector!r} model for channel {channel!r} under {self.root}")
        return TrainedModel.load(path, self.registry)

    def save(self, model: TrainedModel) -> Path:
        """Write ``model`` to its path, replacing any previous one only once it is complete."""
        target = self.path(model.detector_name, model.channel)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model.channel}.", dir=target.parent))
        try:
            model.save(staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def reuse(
        self,
        detector: str,
        channel: str,
        *,
        config: Mapping[str, Any],
        options: Mapping[str, Any],
        fingerprint: Mapping[str, Any],
        covariates: Sequence[int] = (),
    ) -> Reused | None:
        """The stored model if it can stand for one trained now with this config, these training
        options, this data and these covariates; ``None`` when it must be (re)trained.

        When only the threshold settings differ, the stored model is reused with its threshold
        recalibrated on its stored calibration scores (and saved so): the scores a threshold is
        fitted to do not depend on those settings, so retraining would only reproduce them.
        """
        try:
            meta = read_metadata(self.path(detector, channel))
        except (ArtifactError, OSError, ValueError):
            return None
        training = meta.get("training", {})
        if (
            _json_normal(meta.get("config")) != _json_normal(dict(config))
            or training.get("data_fingerprint") != _json_normal(dict(fingerprint))
            or sorted(meta.get("covariates", [])) != sorted(int(c) for c in covariates)
        ):
            return None
        stored, wanted = _json_normal(training.get("options")) or {}, _json_normal(dict(options))
        if stored == wanted:
            return Reused(self.load(detector, channel), recalibrated=False)
        if _without_threshold(stored) != _without_threshold(wanted) or "threshold" not in wanted:
            return None
        model = self.load(detector, channel)
        model.recalibrate(ThresholdConfig.from_json(wanted["threshold"]))
        self.save(model)
        return Reused(model, recalibrated=True)


def _without_threshold(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key != "threshold"}
