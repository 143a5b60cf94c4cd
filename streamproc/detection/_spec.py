"""The typed spec a plugin returns to declare a detector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import Detector


SHORT_CALIBRATIONS = ("cross-fit", "in-sample")


@dataclass(frozen=True)
class DetectorSpec:
    """A detector declared by a plugin.

    Example::

        @hookimpl
        def streamproc_detectors():
            yield DetectorSpec(
                name="pca",
                summary="Reconstruction error of a PCA model of training windows",
                factory=PCADetector,
                default_config={"window": 100, "components": 0.95},
            )

    ``factory(**config)`` builds an unfitted detector; ``default_config`` holds every key
    the factory accepts, so a configuration file can be checked against it.
    ``small_config`` is what the shared contract suite uses (a few seconds on a CPU).
    ``sanity`` marks a reference score with no learned model (such as ``range``): reports show
    it as a sanity row, and the contract suite holds it to a lower planted-anomaly floor,
    since by design it cannot see anomalies that stay inside the normal range.
    ``short_calibration`` says how a channel too short to hold out calibration data is
    calibrated: ``"cross-fit"`` (two models, each fitted on one half, score the other half) or
    ``"in-sample"`` (the model's own training windows, inflated by the training margin) — for
    a detector whose half-models are a poor stand-in for the whole.
    """

    name: str
    summary: str
    factory: Callable[..., Detector]
    default_config: Mapping[str, Any] = field(default_factory=dict)
    small_config: Mapping[str, Any] | None = None
    wants_gpu: bool = False
    sanity: bool = False
    short_calibration: str = "cross-fit"

    def __post_init__(self) -> None:
        if self.short_calibration not in SHORT_CALIBRATIONS:
            raise ValueError(
                f"detector {self.name!r}: short_calibration must be one of {SHORT_CALIBRATIONS}, "
                f"got {self.short_calibration!r}"
            )
        if not self.name.isidentifier():
            raise ValueError(f"detector name {self.name!r} must be a Python identifier")
        if not callable(self.factory):
            raise TypeError(f"detector {self.name!r}: factory must be callable")

    def build(self, **overrides: Any) -> Detector:
        """Build an unfitted detector from the defaults updated by ``overrides``."""
        unknown = set(overrides) - set(self.default_config)
        if unknown:
            raise ValueError(
                f"detector {self.name!r}: unknown config key(s) {sorted(unknown)}; known: {sorted(self.default_config)}"
            )
        return self.factory(**{**self.default_config, **overrides})
