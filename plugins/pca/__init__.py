"""``pca``: reconstruction error of a PCA model of training windows."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import PCADetector

__all__ = ["PCADetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="pca",
        summary="Reconstruction error of a PCA model of flattened training windows",
        factory=PCADetector,
        default_config={"window": 100, "components": 0.95, "max_train_windows": 20000, "seed": 0},
        small_config={"window": 16, "components": 0.95, "max_train_windows": 2000, "seed": 0},
    )
