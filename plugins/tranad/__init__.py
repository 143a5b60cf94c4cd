"""``tranad``: transformer encoder-decoders with focus scores and adversarial training (Tuli et al., VLDB 2022)."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import TranADDetector

__all__ = ["TranADDetector", "streamproc_detectors"]


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="tranad",
        summary="Transformer encoder-decoders with focus-score self-conditioning, trained adversarially (TranAD)",
        factory=TranADDetector,
        default_config={
            "window": 10,
            "d_model": 32,
            "heads": 4,
            "layers": 1,
            "feedforward": 64,
            "dropout": 0.1,
            "epochs": 5,
            "batch_size": 128,
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
            "window": 10,
            "d_model": 16,
            "heads": 2,
            "layers": 1,
            "feedforward": 32,
            "dropout": 0.1,
            "epochs": 3,
            "batch_size": 32,
            "learning_rate": 3e-3,
            "patience": 5,
            "validation_tail": 0.0,
            "max_train_windows": 20000,
            "train_stride": 4,
            "score_batch_size": 4096,
            "device": "cpu",
            "seed": 0,
        },
    )
