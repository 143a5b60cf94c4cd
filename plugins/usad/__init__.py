"""``usad``: UnSupervised Anomaly Detection with adversarially trained autoencoders (Audibert et al., KDD 2020)."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import USADDetector

__all__ = ["USADDetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="usad",
        summary="Two autoencoders sharing an encoder, trained adversarially (USAD, KDD 2020)",
        factory=USADDetector,
        default_config={
            "window": 5,
            "latent": 16,
            "alpha": 0.5,
            "beta": 0.5,
            "epochs": 30,
            "batch_size": 64,
            "learning_rate": 1e-3,
            "patience": 5,
            "validation_tail": 0.1,
            "max_train_windows": 20000,
            "train_stride": 1,
            "score_batch_size": 4096,
            "device": "auto",
            "seed": 0,
        },
        small_config={
            "window": 5,
            "latent": 4,
            "alpha": 0.5,
            "beta": 0.5,
            "epochs": 3,
            "batch_size": 32,
            "learning_rate": 3e-3,
            "patience": 5,
            "validation_tail": 0.0,
            "max_train_windows": 20000,
            "train_stride": 1,
            "score_batch_size": 4096,
            "device": "cpu",
            "seed": 0,
        },
    )
