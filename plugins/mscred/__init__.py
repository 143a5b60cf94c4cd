"""``mscred``: multi-scale convolutional recurrent encoder-decoder (Zhang et al., AAAI 2019)."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import MSCREDDetector

__all__ = ["MSCREDDetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="mscred",
        summary="Attention ConvLSTM encoder-decoder over multi-scale signature matrices (MSCRED)",
        factory=MSCREDDetector,
        default_config={
            "window": 100,
            "scales": [10, 30, 60],
            "steps": 5,
            "gap": 10,
            "filters": 4,
            "rescale": 5.0,
            "epochs": 15,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "patience": 3,
            "validation_tail": 0.1,
            "max_train_windows": 20000,
            "train_stride": 10,
            "score_batch_size": 256,
            "device": "auto",
            "seed": 0,
        },
        small_config={
            "window": 16,
            "scales": [4, 8],
            "steps": 3,
            "gap": 4,
            "filters": 4,
            "rescale": 5.0,
            "epochs": 5,
            "batch_size": 32,
            "learning_rate": 3e-3,
            "patience": 5,
            "validation_tail": 0.0,
            "max_train_windows": 20000,
            "train_stride": 4,
            "score_batch_size": 256,
            "device": "cpu",
            "seed": 0,
        },
    )
