"""``structure_aware``: the paper's method — multi-scale convolutions, structural attention,
and a reconstruction head trained jointly with a next-step prediction head."""

from streamproc.detection import DetectorSpec, hookimpl

from ._detector import StructureAwareConfigError, StructureAwareDetector, drifting_features
from ._network import ChannelLayerNorm, MultiScaleBlock, NetworkOutput, StructuralAttention, StructureAwareNetwork

__all__ = [
    "ChannelLayerNorm",
    "MultiScaleBlock",
    "NetworkOutput",
    "StructuralAttention",
    "StructureAwareConfigError",
    "StructureAwareDetector",
    "StructureAwareNetwork",
    "drifting_features",
    "streamproc_detectors",
]

# Chosen by measurement on development splits of SMAP and SKAB (BENCHMARKS.md); training is sized
# so that one channel of a few thousand steps trains in well under a minute on two CPU cores.
DEFAULT_CONFIG = {
    "window": 100,
    "d_model": 24,
    "layers": 3,
    "kernel_sizes": [3, 3, 3],
    "dilations": [1, 2, 4],
    "dropout": 0.1,
    "alpha": 0.5,
    "rec_loss_weight": 0.5,
    "recency_halflife": 5.0,
    "normalize_errors": True,
    "error_scale_floor": 1.0,
    "mask_steps": 0,
    "bottleneck_steps": 0,
    "error_scale_source": "train",
    "known_covariates": True,
    "drift_ratio": 0.5,
    "level_weight": 1.0,
    "extreme_weight": 0.0,
    "threads": 0,
    "epochs": 10,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "patience": 3,
    "validation_tail": 0.1,
    "max_train_windows": 3000,
    "train_stride": 1,
    "score_batch_size": 1024,
    "device": "auto",
    "seed": 0,
}

# What the shared contract suite trains: a few seconds on a CPU.
SMALL_CONFIG = {
    **DEFAULT_CONFIG,
    "window": 16,
    "d_model": 8,
    "layers": 2,
    "kernel_sizes": [3, 3],
    "dilations": [1, 2],
    "dropout": 0.0,
    "epochs": 4,
    "max_train_windows": 1000,
    "device": "cpu",
}


@hookimpl
def streamproc_detectors():
    yield DetectorSpec(
        name="structure_aware",
        summary="Multi-scale convolutions with structural attention; reconstruction + next-step prediction",
        factory=StructureAwareDetector,
        default_config=DEFAULT_CONFIG,
        small_config=SMALL_CONFIG,
        # Its half-models judge drift and level on half the data and score the other half far
        # above what the whole model will meet (SKAB, BENCHMARKS.md): in-sample, with a margin.
        short_calibration="in-sample",
    )
