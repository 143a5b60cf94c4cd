"""The pipeline core: what decides, as plain code on in-memory state, for two shells to drive.

Readings are admitted to per-channel windows (:class:`IngestStage`), due windows are scored by
each channel's models (:func:`score_windows`, models from a :class:`ModelCatalog`), and each
window's verdicts are fused into alert events (:class:`FusionStage`). The Faust worker
(:mod:`streamproc.stream`) feeds it messages from Kafka and publishes what it returns; the
offline backtest (:mod:`streamproc.replay`) feeds it recorded series and writes the same
records to files. Nothing here imports a Kafka client.
"""

from ._catalog import ChannelModels, ModelCatalog, Reloaded
from ._drift import DRIFT_LIMIT, DriftCheck, DriftMonitor, ks_statistic
from ._ledger import DeadLetterLedger
from ._pipeline import Pipeline, missing_policy
from ._records import (
    DEAD_LETTER_PAYLOAD_BYTES,
    PRODUCED_AT_HEADER,
    RawMessage,
    dead_letter_record,
    produced_at_header,
    score_record,
)
from ._scoring import ScoredBatch, score_windows
from ._stages import (
    KEY_MISMATCH,
    NO_MODEL,
    NOT_HERE,
    PROCESSING_ERROR,
    DecodedBatch,
    FusionStage,
    Gap,
    IngestResult,
    IngestStage,
    Sample,
    StateBuffer,
    WindowOutcome,
    describe_gaps,
    open_alerts_by_severity,
)
from ._stale import StaleWatch, stale_alert_id

__all__ = [
    "DRIFT_LIMIT",
    "DriftCheck",
    "DriftMonitor",
    "ks_statistic",
    "DEAD_LETTER_PAYLOAD_BYTES",
    "KEY_MISMATCH",
    "NO_MODEL",
    "NOT_HERE",
    "PROCESSING_ERROR",
    "PRODUCED_AT_HEADER",
    "ChannelModels",
    "DeadLetterLedger",
    "DecodedBatch",
    "FusionStage",
    "Gap",
    "describe_gaps",
    "IngestResult",
    "IngestStage",
    "ModelCatalog",
    "Reloaded",
    "Pipeline",
    "RawMessage",
    "Sample",
    "ScoredBatch",
    "StaleWatch",
    "StateBuffer",
    "WindowOutcome",
    "open_alerts_by_severity",
    "dead_letter_record",
    "produced_at_header",
    "score_record",
    "missing_policy",
    "score_windows",
    "stale_alert_id",
]
