"""``omnianomaly``: stochastic recurrent network with planar flow (Su et al., KDD 2019)."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import OmniAnomalyDetector

__all__ = ["OmniAnomalyDetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="omnianomaly",
        summary="GRU + VAE with linked latents and planar flow, scored by reconstruction probability (OmniAnomaly)",
        factory=OmniAnomalyDetector,
        default_config={
            "window": 100,
            "hidden": 64,
            "dense": 64,
            "latent": 3,
            "flows": 20,
            "min_std": 0.1,
            "samples": 4,
            "epochs": 10,
            "batch_size": 64,
            "learning_rate": 1e-3,
            "patience": 3,
            "validation_tail": 0.1,
            "max_train_windows": 20000,
            "train_stride": 5,
            "score_batch_size": 1024,
            "device": "auto",
            "seed": 0,
        },
        small_config={
            "window": 16,
            "hidden": 16,
            "dense": 16,
            "latent": 3,
            "flows": 4,
            "min_std": 0.1,
            "samples": 4,
            "epochs": 3,
            "batch_size": 32,
            "learning_rate": 3e-3,
            "patience": 3,
            "validation_tail": 0.0,
            "max_train_windows": 20000,
            "train_stride": 4,
            "score_batch_size": 1024,
            "device": "cpu",
            "seed": 0,
        },
    )
