"""The trained models a worker scores with, found in the model store and loaded on first use."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from streamproc.errors import StreamprocError
from streamproc.training import ModelStore, TrainedModel

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelModels:
    """The usable models of one channel; ``problem`` says why there are none."""

    models: dict[str, TrainedModel] = field(default_factory=dict)
    problem: str | None = None

    @property
    def n_features(self) -> int:
        return next(iter(self.models.values())).n_features

    @property
    def feature_names(self) -> list[str] | None:
        return next(iter(self.models.values())).feature_names if self.models else None

    @property
    def sampling_period_ms(self) -> int | None:
        """The channel's sampling period, as its models learned it (the shortest, should they
        have been trained on different data; None when none knows it)."""
        periods = [m.sampling_period_ms for m in self.models.values() if m.sampling_period_ms]
        return min(periods) if periods else None


class ModelCatalog:
    """Per-channel models of the enabled detectors, loaded once and kept.

    A channel whose models are missing or unusable is remembered as such for
    ``retry_after_s`` seconds, then looked up again: models trained while the worker runs are
    picked up without a restart. Models must use the pipeline's window size, and a channel's
    models must agree on its number of features. With ``device``, every model loaded is moved
    there (a device this machine lacks makes the channel unusable, with the reason).
    """

    def __init__(
        self,
        store: ModelStore,
        detectors: Sequence[str],
        window: int,
        *,
        device: str | None = None,
        retry_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not detectors:
            raise StreamprocError("detectors.enabled: no detector to score with")
        self.store = store
        self.detectors = list(detectors)
        self.window = int(window)
        self.device = device
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._entries: dict[str, ChannelModels] = {}
        self._missing_since: dict[str, float] = {}

    def unknown(self, channels: Iterable[str]) -> list[str]:
        """Channels among ``channels`` that :meth:`prepare` would (re)load."""
        now = self._clock()
        return [
            c
            for c in dict.fromkeys(channels)
            if c not in self._entries
            or (c in self._missing_since and now - self._missing_since[c] >= self.retry_after_s)
        ]

    def prepare(self, channels: Iterable[str]) -> None:
        """Load the models of ``channels`` not known yet (blocking: disk and model set-up)."""
        for channel in self.unknown(channels):
            entry = self._load(channel)
            self._entries[channel] = entry
            if entry.problem is None:
                self._missing_since.pop(channel, None)
            else:
                if channel not in self._missing_since:
                    _LOG.warning("channel %r cannot be scored: %s", channel, entry.problem)
                self._missing_since[channel] = self._clock()

    def get(self, channel: str) -> ChannelModels:
        """The models of a channel :meth:`prepare` has seen."""
        return self._entries[channel]

    def available(self, channel: str) -> list[str]:
        """Enabled detectors with a model file for ``channel`` (without loading them)."""
        found = []
        for detector in self.detectors:
            try:
                if self.store.live_version(detector, channel) is not None:
                    found.append(detector)
            except StreamprocError:
                continue
        return found

    def _load(self, channel: str) -> ChannelModels:
        models: dict[str, TrainedModel] = {}
        problems = []
        for detector in self.detectors:
            try:
                model = self.store.load(detector, channel)
                if self.device is not None:
                    model.detector.use_device(self.device)
            except StreamprocError as exc:
                problems.append(str(exc))
                continue
            except Exception as exc:  # a corrupt artifact must not stop the worker
                problems.append(f"the {detector!r} model of channel {channel!r} cannot be loaded: {exc!r}")
                continue
            if model.window != self.window:
                problems.append(
                    f"the {detector!r} model of channel {channel!r} uses windows of "
                    f"{model.window} samples but window.size is {self.window}"
                )
                continue
            models[detector] = model
        if not models:
            return ChannelModels(problem="; ".join(problems) or f"no model for channel {channel!r}")
        sizes = {d: m.n_features for d, m in models.items()}
        if len(set(sizes.values())) > 1:
            return ChannelModels(
                problem=f"the models of channel {channel!r} disagree on its number of features: {sizes}"
            )
        return ChannelModels(models)
