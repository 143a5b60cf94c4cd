"""``range``: how far each value lies outside the range seen in training (a sanity baseline, no model)."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import RangeDetector

__all__ = ["RangeDetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="range",
        summary="Distance of the latest values outside the per-feature range seen in training (sanity baseline)",
        factory=RangeDetector,
        default_config={"window": 2, "min_range": 1.0},
        small_config={"window": 2, "min_range": 1.0},
        sanity=True,
    )
