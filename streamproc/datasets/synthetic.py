"""A seeded generator of industrial-looking multichannel signals with planted, labelled anomalies.

Normal behaviour: a few shared latent factors (two seasonal harmonics plus a slow
mean-reverting process each) mixed into every feature, independent sensor noise on top, and
each feature expressed in its own units (offset and scale), as a plant's sensors would be.
Training data is normal only; the test stream continues the same process and carries the
planted anomalies:

- ``spike``: one to three samples far outside the normal range;
- ``level_shift``: a constant offset over a span;
- ``drift``: a ramp that grows over the span (small at first, large at its end);
- ``periodic``: a fast oscillation added over the span;
- ``collective``: several features leave their cycle together and hold levels that are each
  within the normal range but contradict how those features co-vary in training (features that
  rise together are held on opposite sides of their means, and vice versa).

Magnitudes are in units of each feature's normal standard deviation. ``labels`` marks exactly
the samples of the planted spans (``PlantedAnomaly.end`` is inclusive, as in telemanom).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ._errors import DatasetError

ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "drift", "periodic", "collective")

# kind -> (typical span length, shortest span), in samples. Spans are drawn around the typical
# length and then rescaled so that the planted samples add up exactly to the requested ratio.
_SPAN_LENGTHS: dict[str, tuple[int, int]] = {
    "spike": (2, 1),
    "level_shift": (30, 8),
    "drift": (50, 12),
    "periodic": (40, 12),
    "collective": (35, 10),
}
_MAX_SPIKE_LENGTH = 3


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. ``anomaly_ratio`` is the share of test samples inside planted spans."""

    n_features: int = 8
    train_steps: int = 5000
    test_steps: int = 3000
    anomaly_ratio: float = 0.05
    seed: int = 0
    n_factors: int = 2
    period: int = 100
    noise: float = 0.1
    magnitude: float = 1.0
    min_gap: int = 32
    kinds: tuple[str, ...] = ANOMALY_KINDS

    def __post_init__(self) -> None:
        checks = [
            (self.n_features >= 1, "n_features must be >= 1"),
            (self.train_steps >= 1, "train_steps must be >= 1"),
            (self.test_steps >= 1, "test_steps must be >= 1"),
            (0.0 <= self.anomaly_ratio < 1.0, "anomaly_ratio must be in [0, 1)"),
            (self.n_factors >= 1, "n_factors must be >= 1"),
            (self.period >= 4, "period must be >= 4"),
            (self.noise >= 0.0, "noise must be >= 0"),
            (self.magnitude > 0.0, "magnitude must be > 0"),
            (self.min_gap >= 1, "min_gap must be >= 1"),
            (len(self.kinds) > 0, "kinds must not be empty"),
        ]
        for ok, message in checks:
            if not ok:
                raise DatasetError(f"synthetic config: {message}")
        unknown = sorted(set(self.kinds) - set(ANOMALY_KINDS))
        if unknown:
            raise DatasetError(f"synthetic config: unknown anomaly kinds {unknown}; known: {list(ANOMALY_KINDS)}")
        object.__setattr__(self, "kinds", tuple(self.kinds))


@dataclass(frozen=True)
class PlantedAnomaly:
    """One planted event: test samples ``start..end`` (inclusive) of the listed feature indices."""

    kind: str
    start: int
    end: int
    features: tuple[int, ...]
    magnitude: float

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class SyntheticData:
    """``train``/``test`` are ``float32[T, C]``; ``labels[t]`` is true inside a planted event."""

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    events: list[PlantedAnomaly]
    config: SyntheticConfig

    @property
    def segments(self) -> list[tuple[int, int]]:
        """The planted spans as ``(start, end_inclusive)``, in time order."""
        return sorted((e.start, e.end) for e in self.events)


def generate_synthetic(config: SyntheticConfig | None = None) -> SyntheticData:
    """Generate one channel: clean ``train``, ``test`` with planted anomalies, and ``labels``."""
    config = config or SyntheticConfig()
    rng = np.random.default_rng(config.seed)
    normal = _normal_signal(rng, config)
    # Units are drawn before the anomalies so that a seed gives the same normal signal whatever
    # the anomaly settings: tests compare the two to prove that labels mark exactly what changed.
    offset = rng.uniform(-50.0, 150.0, size=config.n_features)
    scale = np.exp(rng.uniform(np.log(0.2), np.log(20.0), size=config.n_features))
    train = normal[: config.train_steps]
    test = normal[config.train_steps :].copy()
    sigma = train.std(axis=0) if config.train_steps > 1 else np.ones(config.n_features)
    sigma = np.where(sigma > 1e-9, sigma, 1.0)
    baseline = train.mean(axis=0)
    correlation = _correlation(train)

    events = _place_events(rng, config)
    labels = np.zeros(config.test_steps, dtype=bool)
    for event in events:
        _apply(rng, event, test, baseline, sigma, correlation, config.noise)
        labels[event.start : event.end + 1] = True

    return SyntheticData(
        train=(train * scale + offset).astype(np.float32),
        test=(test * scale + offset).astype(np.float32),
        labels=labels,
        feature_names=[f"sensor_{i + 1}" for i in range(config.n_features)],
        events=sorted(events, key=lambda e: e.start),
        config=config,
    )


def generate_synthetic_channels(
    config: SyntheticConfig | None = None, n_channels: int = 3, prefix: str = "S"
) -> dict[str, SyntheticData]:
    """Several independent channels (``"S-1"``, ``"S-2"``, ...), each with a seed derived from ``config.seed``.

    Each channel gets its own latent structure, units and anomalies; the result can be written
    in the telemanom layout with :func:`streamproc.datasets.write_telemanom`.
    """
    if n_channels < 1:
        raise DatasetError("n_channels must be >= 1")
    config = config or SyntheticConfig()
    channels = {}
    for index in range(n_channels):
        seed = int(np.random.SeedSequence([config.seed, index]).generate_state(1)[0])
        channels[f"{prefix}-{index + 1}"] = generate_synthetic(dataclasses.replace(config, seed=seed))
    return channels


def _normal_signal(rng: np.random.Generator, config: SyntheticConfig) -> np.ndarray:
    steps = config.train_steps + config.test_steps
    t = np.arange(steps, dtype=np.float64)
    factors = np.empty((steps, config.n_factors))
    for k in range(config.n_factors):
        # Each factor has its own slow cycle and a harmonic, so factors are not collinear.
        period = config.period * rng.uniform(0.6, 1.8)
        seasonal = np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + rng.uniform(0.2, 0.5) * np.sin(
            4 * np.pi * t / period + rng.uniform(0, 2 * np.pi)
        )
        factors[:, k] = seasonal / seasonal.std() + 0.3 * _mean_reverting(rng, steps, memory=config.period / 2)
    loadings = rng.normal(size=(config.n_features, config.n_factors))
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True)
    signal = factors @ loadings.T
    signal /= signal.std(axis=0)
    return signal + config.noise * rng.normal(size=signal.shape)


def _mean_reverting(rng: np.random.Generator, steps: int, memory: float) -> np.ndarray:
    """A unit-variance AR(1) process whose correlation decays over about ``memory`` steps."""
    phi = float(np.exp(-1.0 / max(memory, 1.0)))
    shocks = rng.normal(scale=np.sqrt(1 - phi * phi), size=steps)
    out = np.empty(steps)
    out[0] = rng.normal()
    for i in range(1, steps):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def _place_events(rng: np.random.Generator, config: SyntheticConfig) -> list[PlantedAnomaly]:
    budget = int(round(config.anomaly_ratio * config.test_steps))
    kinds = _plan_kinds(rng, budget, config.kinds)
    if not kinds:
        return []
    lengths = _plan_lengths(rng, budget, kinds)
    free = config.test_steps - budget
    # Every event is preceded by a gap, and the last one followed by one, so that spans never
    # touch and the stream begins normally.
    gap = min(config.min_gap, free // (len(kinds) + 1))
    if gap < 1:
        raise DatasetError(
            f"anomaly_ratio {config.anomaly_ratio} leaves no room for normal samples "
            f"between {len(kinds)} events in {config.test_steps} test steps"
        )
    spare = free - gap * (len(kinds) + 1)
    extra = np.floor(rng.dirichlet(np.ones(len(kinds) + 1)) * spare).astype(int)
    extra[-1] += spare - extra.sum()
    events = []
    cursor = 0
    for kind, length, pad in zip(kinds, lengths, extra[:-1], strict=False):
        cursor += gap + int(pad)
        features = _pick_features(rng, kind, config.n_features)
        events.append(
            PlantedAnomaly(kind, cursor, cursor + length - 1, features, _magnitude(rng, kind) * config.magnitude)
        )
        cursor += length
    return events


def _plan_kinds(rng: np.random.Generator, budget: int, allowed: Sequence[str]) -> list[str]:
    """Event kinds in time order: every allowed kind at least once when the budget allows."""
    if budget == 0:
        return []
    mean_typical = np.mean([_SPAN_LENGTHS[k][0] for k in allowed])
    count = max(len(allowed), int(round(budget / mean_typical)))
    kinds: list[str] = []
    while len(kinds) < count:
        kinds.extend(rng.permutation(list(allowed)).tolist())
    kinds = kinds[:count]
    while len(kinds) > 1 and sum(_SPAN_LENGTHS[k][1] for k in kinds) > budget:
        # Drop the longest-minimum kind first so short events (spikes) survive small budgets.
        kinds.remove(max(kinds, key=lambda k: _SPAN_LENGTHS[k][1]))
    return kinds


def _plan_lengths(rng: np.random.Generator, budget: int, kinds: list[str]) -> list[int]:
    """Span lengths that add up to exactly ``budget``."""
    lengths = np.array([_SPAN_LENGTHS[k][1] for k in kinds])
    lengths = np.minimum(lengths, budget)  # a single event may have to shrink below its usual minimum
    spikes = np.array([k == "spike" for k in kinds])
    stretchable = ~spikes if (~spikes).any() else spikes
    remaining = budget - int(lengths.sum())
    if spikes.any() and (~spikes).any():
        # Spikes stay short: draw them first, then give everything else to the longer events.
        for i in np.flatnonzero(spikes):
            grow = min(int(rng.integers(0, _MAX_SPIKE_LENGTH)), remaining)
            lengths[i] += grow
            remaining -= grow
    weights = np.array([_SPAN_LENGTHS[k][0] * rng.uniform(0.6, 1.4) for k in kinds]) * stretchable
    share = weights / weights.sum() * remaining
    grow = np.floor(share).astype(int)
    leftover = remaining - int(grow.sum())
    grow[np.argsort(share - grow)[::-1][:leftover]] += 1
    return cast(list[int], (lengths + grow).astype(int).tolist())


def _pick_features(rng: np.random.Generator, kind: str, n_features: int) -> tuple[int, ...]:
    if kind == "collective":
        count = max(2, n_features // 2) if n_features >= 2 else 1
    elif kind == "level_shift":
        count = int(rng.integers(1, max(1, n_features // 2) + 1))
    else:
        count = int(rng.integers(1, min(2, n_features) + 1))
    return tuple(sorted(int(i) for i in rng.choice(n_features, size=count, replace=False)))


def _magnitude(rng: np.random.Generator, kind: str) -> float:
    """Peak deviation in normal standard deviations (for ``collective``: the held level)."""
    low, high = {
        "spike": (5.0, 8.0),
        "level_shift": (3.0, 5.0),
        "drift": (5.0, 8.0),
        "periodic": (2.5, 4.0),
        "collective": (1.2, 1.8),
    }[kind]
    return float(rng.uniform(low, high))


def _correlation(train: np.ndarray) -> np.ndarray:
    if train.shape[0] < 2 or train.shape[1] < 2:
        return np.ones((train.shape[1], train.shape[1]))
    return cast(np.ndarray, np.nan_to_num(np.corrcoef(train.T), nan=0.0))


def _apply(
    rng: np.random.Generator,
    event: PlantedAnomaly,
    test: np.ndarray,
    baseline: np.ndarray,
    sigma: np.ndarray,
    correlation: np.ndarray,
    noise: float,
) -> None:
    span = slice(event.start, event.end + 1)
    feats = list(event.features)
    n = event.length
    signs = rng.choice([-1.0, 1.0], size=len(feats))
    size = event.magnitude * sigma[feats] * signs
    if event.kind in ("spike", "level_shift"):
        test[span, feats] += size
    elif event.kind == "drift":
        ramp = np.arange(1, n + 1, dtype=np.float64) / n
        test[span, feats] += ramp[:, None] * size
    elif event.kind == "periodic":
        period = rng.uniform(4.0, 10.0)
        wave = np.sin(2 * np.pi * np.arange(n) / period + rng.uniform(0, 2 * np.pi))
        test[span, feats] += wave[:, None] * size
    elif event.kind == "collective":
        # Signs relative to the first feature oppose each partner's training correlation with it.
        lead = feats[0]
        signs = signs[0] * np.array([1.0] + [-np.sign(correlation[lead, f]) or 1.0 for f in feats[1:]])
        held = baseline[feats] + event.magnitude * sigma[feats] * signs
        test[span, feats] = held + noise * sigma[feats] * rng.normal(size=(n, len(feats)))
    else:  # guarded by SyntheticConfig; kept so that a new kind cannot be silently ignored
        raise NotImplementedError(event.kind)


__all__ = [
    "ANOMALY_KINDS",
    "PlantedAnomaly",
    "SyntheticConfig",
    "SyntheticData",
    "generate_synthetic",
    "generate_synthetic_channels",
]
