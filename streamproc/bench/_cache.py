"""Trained models of a sensitivity run, kept on disk so that studies and reruns share them.

A model is identified by (detector, channel, window, training-noise level, seed) and lives in
``ROOT/window<W>_train-noise<L>_seed<S>/<detector>/<channel>/`` (its versions) as a
:class:`streamproc.training.ModelStore` artifact. It is reused only while
:meth:`ModelStore.reuse` holds: same detector config (which carries the window and the
seed), same training options and same training data (fingerprint of the possibly noisy
series); a change of the threshold settings alone recalibrates the stored model. Anything
else is retrained and stored as a new live version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamproc.detection import DetectorRegistry, DetectorSpec
from streamproc.training import ModelStore, TrainedModel, TrainingOptions, data_fingerprint, train_channel


@dataclass(frozen=True)
class ModelKey:
    """``seed`` is the seed the model depends on (its detector's, or that of the noise drawn into its
    training data); None when it depends on none (no ``seed`` in the detector's config and clean
    training data): such a model serves every seed of a run."""

    detector: str
    channel: str
    window: int
    train_noise: float
    seed: int | None

    @property
    def variant(self) -> str:
        seed = "any" if self.seed is None else str(self.seed)
        return f"window{self.window}_train-noise{self.train_noise:g}_seed{seed}"


class ModelCache:
    def __init__(self, root: Path | str, options: TrainingOptions, registry: DetectorRegistry | None = None) -> None:
        self.root = Path(root)
        self.options = options
        self.registry = registry
        self.trained = 0
        self.reused = 0

    def store(self, key: ModelKey) -> ModelStore:
        return ModelStore(self.root / key.variant, self.registry)

    def model(
        self, key: ModelKey, spec: DetectorSpec, config: Mapping[str, Any], train: np.ndarray, feature_names: list[str]
    ) -> TrainedModel:
        """The cached model for ``key`` if it is current, else a freshly trained (and stored) one."""
        store = self.store(key)
        reused = store.reuse(
            key.detector,
            key.channel,
            config=config,
            options=self.options.to_json(),
            fingerprint=data_fingerprint(train),
        )
        if reused is not None:
            self.reused += 1
            return reused.model
        model = train_channel(
            spec,
            key.channel,
            train,
            config=config,
            options=self.options,
            feature_names=feature_names,
            registry=self.registry,
        )
        store.save(model)
        self.trained += 1
        return model
