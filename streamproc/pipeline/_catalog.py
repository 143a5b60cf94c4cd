"""The trained models a worker scores with, found in the model store and loaded on first use."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamproc.errors import StreamprocError
from streamproc.training import ModelStore, TrainedModel

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelModels:
    """The usable models of one channel; ``problem`` says why there are none."""

    models: dict[str, TrainedModel] = field(default_factory=dict)
    problem: str | None = None
    # shadow versions, scored beside the live ones and never fused (``streamproc models shadow``)
    shadows: dict[str, TrainedModel] = field(default_factory=dict)

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


@dataclass
class Reloaded:
    """What :meth:`ModelCatalog.reload` did, a line per model: swapped in, or refused (and why)."""

    swapped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class ModelCatalog:
    """Per-channel models of the enabled detectors, loaded once and kept.

    A channel whose models are missing or unusable is remembered as such for
    ``retry_after_s`` seconds, then looked up again: models trained while the worker runs are
    picked up without a restart. Models must use the pipeline's window size, and a channel's
    models must agree on its number of features. With ``device``, every model loaded is moved
    there (a device this machine lacks makes the channel unusable, with the reason).

    :meth:`changed` and :meth:`reload` follow the store's pointers (``streamproc models
    promote`` / ``rollback`` / ``shadow``): a channel whose live or shadow version changed gets the
    new model in place of the old one, in one assignment, so a batch is scored wholly by one or the
    other. A version that cannot be loaded, does not fit (window, features) or breaks the scoring
    contract on a normal window (a finite score, finite non-negative contributions) is refused
    with the reason, once per pointer change, and the model it was to replace keeps scoring.
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
        shadows: bool = True,
    ) -> None:
        if not detectors:
            raise StreamprocError("detectors.enabled: no detector to score with")
        self.store = store
        self.detectors = list(detectors)
        self.window = int(window)
        self.device = device
        self.retry_after_s = retry_after_s
        self.shadows = shadows  # load and score shadow versions (a worker does, a backtest does not)
        self._clock = clock
        self._entries: dict[str, ChannelModels] = {}
        self._missing_since: dict[str, float] = {}
        self._available: dict[str, tuple[float, list[str]]] = {}  # channel -> (looked up at, detectors)
        # per channel, each detector's (live, shadow) versions when last looked at (loaded or refused)
        self._seen: dict[str, dict[str, tuple[int | None, int | None]]] = {}

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
        """Enabled detectors with a live model for ``channel`` (without loading them); looked up
        in the store at most every ``retry_after_s`` per channel, since fusion asks per score."""
        now = self._clock()
        cached = self._available.get(channel)
        if cached is not None and now - cached[0] < self.retry_after_s:
            return cached[1]
        found = [detector for detector, (live, _) in self._versions(channel).items() if live is not None]
        self._available[channel] = (now, found)
        return found

    def changed(self) -> list[str]:
        """Usable channels whose live or shadow versions in the store differ from what was last
        seen (blocking: it reads each detector's pointers)."""
        return [
            channel
            for channel, entry in self._entries.items()
            if entry.problem is None and self._versions(channel) != self._seen.get(channel)
        ]

    def reload(self, channels: Iterable[str]) -> Reloaded:
        """Swap in the live and shadow models of ``channels`` (see :meth:`changed`) and say what
        changed."""
        said = Reloaded()
        for channel in channels:
            old = self._entries.get(channel, ChannelModels())
            seen = self._seen.get(channel, {})
            versions = self._versions(channel)
            models, shadows = dict(old.models), dict(old.shadows)
            swapped: list[str] = []
            for detector, (live, shadow) in versions.items():
                before = seen.get(detector, (None, None))
                if live != before[0]:
                    self._swap(models, "live", detector, channel, live, swapped, said)
                if shadow != before[1]:
                    self._swap(shadows, "shadow", detector, channel, shadow, swapped, said)
            self._seen[channel] = versions
            if len({m.n_features for m in models.values()}) > 1:
                said.refused.append(f"{channel}: the new models disagree on its number of features; the old ones stay")
                continue
            for detector, shadow_model in list(shadows.items()):
                if not _shadows(shadow_model, models.get(detector)):
                    del shadows[detector]
                    said.refused.append(f"{detector} {channel}: its shadow does not fit the live model; not scored")
            said.swapped += swapped
            if models:
                self._entries[channel] = ChannelModels(models, shadows=shadows)
                continue
            entry = self._entries[channel] = self._load(channel)
            if entry.problem is not None:  # looked up again later, as any channel without a model
                self._missing_since[channel] = self._clock()
        return said

    def _swap(
        self,
        models: dict[str, TrainedModel],
        role: str,
        detector: str,
        channel: str,
        version: int | None,
        swapped: list[str],
        said: Reloaded,
    ) -> None:
        """Put ``version`` of ``detector``'s model in ``models`` (its live or shadow ones)."""
        current = models.get(detector)
        if version is None:
            if models.pop(detector, None) is not None:
                swapped.append(f"{detector} {channel}: no {role} model any more")
            return
        model, problem = self._load_model(detector, channel, version)
        if model is None:
            kept = f"version {current.version} stays" if current else "none is scored"
            said.refused.append(f"{detector} {channel}: {role} version {version} refused ({problem}); {kept}")
            return
        models[detector] = model
        swapped.append(f"{detector} {channel}: now scoring with {role} version {version} ({model.version})")

    def _versions(self, channel: str) -> dict[str, tuple[int | None, int | None]]:
        """Per detector, the store's (live, shadow) versions of ``channel``'s model; where the
        pointers cannot be read just now (a shared volume's hiccup), what was seen before."""
        seen = self._seen.get(channel, {})
        versions: dict[str, tuple[int | None, int | None]] = {}
        for detector in self.detectors:
            try:
                pointers = self.store.pointers(detector, channel)
                versions[detector] = (pointers.live, pointers.shadow if self.shadows else None)
            except StreamprocError:  # an invalid channel name (never a model) or unreadable pointers
                versions[detector] = seen.get(detector, (None, None))
        return versions

    def _load_model(self, detector: str, channel: str, version: int | None) -> tuple[TrainedModel | None, str]:
        """The model, or None and why it is not usable here."""
        try:
            model = self.store.load(detector, channel, version)
            if self.device is not None:
                model.detector.use_device(self.device)
        except StreamprocError as exc:
            return None, str(exc)
        except Exception as exc:  # a corrupt artifact must not stop the worker
            return None, f"the {detector!r} model of channel {channel!r} cannot be loaded: {exc!r}"
        if model.window != self.window:
            return None, (
                f"the {detector!r} model of channel {channel!r} uses windows of "
                f"{model.window} samples but window.size is {self.window}"
            )
        problem = _contract_problem(model)
        if problem:
            return None, f"the {detector!r} model of channel {channel!r} {problem}"
        return model, ""

    def _load(self, channel: str) -> ChannelModels:
        models: dict[str, TrainedModel] = {}
        shadows: dict[str, TrainedModel] = {}
        problems = []
        versions = self._versions(channel)
        self._seen[channel] = versions
        for detector, (live, shadow) in versions.items():
            model, problem = self._load_model(detector, channel, live)
            if model is None:
                problems.append(problem)
                continue
            models[detector] = model
            if shadow is not None:
                candidate, problem = self._load_model(detector, channel, shadow)
                if candidate is None or not _shadows(candidate, model):
                    _LOG.warning(
                        "%s %s: shadow version %s not scored: %s",
                        detector,
                        channel,
                        shadow,
                        problem or "its features differ",
                    )
                else:
                    shadows[detector] = candidate
        if not models:
            return ChannelModels(problem="; ".join(problems) or f"no model for channel {channel!r}")
        sizes = {d: m.n_features for d, m in models.items()}
        if len(set(sizes.values())) > 1:
            return ChannelModels(
                problem=f"the models of channel {channel!r} disagree on its number of features: {sizes}"
            )
        return ChannelModels(models, shadows=shadows)


def _shadows(candidate: TrainedModel, live: TrainedModel | None) -> bool:
    """Whether ``candidate`` can be scored in the shadow of ``live``: only a shadow of a live
    model, and of its shape, reads the same windows."""
    return live is not None and candidate.n_features == live.n_features


def _contract_problem(model: TrainedModel) -> str:
    """Why ``model`` breaks the scoring contract on one window of its training medians (the
    scaler's centre), or "" when it keeps it: one finite score, finite non-negative
    contributions, one per feature, and a finite threshold. Checked before a model is trusted
    with a channel."""
    try:
        window = np.repeat(np.asarray(model.scaler.center)[None, None, :], model.window, axis=1).astype(np.float32)
        scores, contributions = model.score(window)
    except Exception as exc:  # a model that cannot score is refused, whatever it raised
        return f"cannot score a window: {exc!r}"
    scores, contributions = np.asarray(scores), np.asarray(contributions)
    if scores.shape != (1,) or contributions.shape != (1, model.n_features):
        return f"scores one window as {scores.shape} / {contributions.shape}, not (1,) / (1, {model.n_features})"
    if not (np.isfinite(scores).all() and np.isfinite(contributions).all() and (contributions >= 0).all()):
        return "gives a non-finite score or a negative or non-finite contribution on normal data"
    if not np.isfinite(model.threshold):
        return f"has no finite threshold ({model.threshold})"  # every window would be judged anomalous
    return ""
