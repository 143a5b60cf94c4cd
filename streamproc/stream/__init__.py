"""The streaming pipeline on Kafka (Faust): windows, detectors, fusion, alerts, dead letters.

:class:`PipelineApp` builds the Faust app of one worker role; :func:`run_worker` runs it in the
foreground. :class:`ReadingFeed` produces series onto the readings topic (``streamproc demo``,
``streamproc replay --to-kafka``).
"""

from ._app import ROLES, PipelineApp, WorkerOptions, faust_settings
from ._catalog import ChannelModels, ModelCatalog
from ._feed import ChannelSeries, FeedReport, ReadingFeed
from ._records import PRODUCED_AT_HEADER, RawMessage, dead_letter_record, score_record
from ._scoring import ScoredBatch, score_windows
from ._stages import KEY_MISMATCH, NO_MODEL, PROCESSING_ERROR, FusionStage, IngestStage, StateBuffer
from ._worker import prepare_topics, run_worker, with_bootstrap, worker_cluster

__all__ = [
    "KEY_MISMATCH",
    "NO_MODEL",
    "PROCESSING_ERROR",
    "PRODUCED_AT_HEADER",
    "ROLES",
    "ChannelModels",
    "ChannelSeries",
    "FeedReport",
    "FusionStage",
    "IngestStage",
    "ModelCatalog",
    "PipelineApp",
    "RawMessage",
    "ReadingFeed",
    "ScoredBatch",
    "StateBuffer",
    "WorkerOptions",
    "dead_letter_record",
    "faust_settings",
    "prepare_topics",
    "run_worker",
    "score_record",
    "score_windows",
    "with_bootstrap",
    "worker_cluster",
]
