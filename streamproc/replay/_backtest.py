"""The offline shell of the pipeline: recorded series through the stages a worker runs.

A worker gets readings from Kafka, batch by batch, and publishes what the pipeline core returns;
here a recording is cut into the same batches (``worker.batch_size`` windows' worth of readings)
and handed to the same :class:`~streamproc.pipeline.Pipeline` objects, built from the same
settings, so the alerts written are the alerts a worker would have published.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamproc.config import Settings
from streamproc.datasets import DEFAULT_START_MS, DEFAULT_STEP_MS, ChannelData, Recording, record
from streamproc.fusion import AlertEvent, ChannelFusion
from streamproc.metrics import AlertCounts, alert_counts
from streamproc.pipeline import DecodedBatch, Gap, Pipeline, RawMessage, Sample, StateBuffer, score_windows
from streamproc.training import ModelStore
from streamproc.windows import ChannelWindow, Reading

from ._alerts import ChannelAlert, channel_alerts
from ._errors import ReplayError

# The topic name recorded readings carry where a worker's would carry the readings topic's.
RECORDED = "recorded"


@dataclass
class ChannelBacktest:
    """What the pipeline did with one channel's recording: the alert events it emitted, in
    order, the windows scored (and ``unscored``: a detector failed on them), readings by outcome
    (``accepted``, ``rejected``, ...), the gaps that restarted the window, the STALE alerts of
    silences longer than ``worker.stale_after_s`` in the recording's message times (kept apart
    from ``events``: they are not detections), and why anything was rejected or not scored (by
    test step)."""

    events: list[AlertEvent] = field(default_factory=list)
    windows: int = 0
    unscored: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    gaps: list[Gap] = field(default_factory=list)
    stale_events: list[AlertEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BacktestAlerts:
    """A channel's backtest judged against its labels: the events, the alerts they make on the
    test steps, and the alert-level counts."""

    result: ChannelBacktest
    recording: Recording
    alerts: list[ChannelAlert]
    counts: AlertCounts

    @property
    def rejected(self) -> int:
        return sum(
            n for outcome, n in self.result.outcomes.items() if outcome not in ("accepted", "restarted", "replayed")
        )


class Backtest:
    """One pipeline (``detectors`` fused as ``settings`` say) run offline, channel by channel.

    Channel states live in plain dictionaries standing in for the worker's tables; each channel
    starts fresh, as on a worker that never saw it before its recording began.
    """

    def __init__(self, settings: Settings, store: ModelStore, detectors: Sequence[str]) -> None:
        self.settings = settings
        self.detectors = list(detectors)
        # a backtest measures the live models: shadows would be scored for nothing
        self.pipeline = Pipeline.from_settings(settings, store, self.detectors, shadows=False)
        self.batch_readings = settings.worker.batch_size * settings.window.stride

    @classmethod
    def of_models(cls, config: Settings, store: ModelStore, windows: Mapping[str, int]) -> Backtest:
        """The pipeline a worker configured like ``config`` runs for the detectors of ``windows``
        (detector -> its models' window), with that window size: a worker scores one window
        size, so detectors fused must share it. Alone, a detector's own normalised score
        decides (weights and ``k`` mean nothing for one)."""
        detectors = list(windows)
        if len(set(windows.values())) > 1:
            sizes = ", ".join(f"{d}: {w}" for d, w in windows.items())
            raise ReplayError(
                f"cannot fuse detectors with different windows ({sizes}): a worker scores one "
                f"window size; train them with the same window"
            )
        fusion = config.fusion
        if len(detectors) == 1:
            fusion = dataclasses.replace(fusion, policy="max", k=1)
        config = dataclasses.replace(
            config, window=dataclasses.replace(config.window, size=windows[detectors[0]]), fusion=fusion
        )
        return cls(config, store, detectors)

    def judge(
        self,
        channel: ChannelData,
        *,
        early_warning: int = 0,
        start_ms: int = DEFAULT_START_MS,
        step_ms: int = DEFAULT_STEP_MS,
    ) -> BacktestAlerts:
        """Run ``channel``'s test stream, after the end of its training data (a running worker's
        window holds it), and count its alerts against the channel's labels."""
        recording = record(channel, warmup=self.settings.window.size - 1, start_ms=start_ms, step_ms=step_ms)
        result = self.run(recording)
        alerts = channel_alerts(result.events, recording.test_timestamps_ms)
        timestamps = recording.test_timestamps_ms if channel.test_timestamps is not None else None
        counts = alert_counts(
            [a.span for a in alerts], channel.labels, early_warning=early_warning, timestamps_ms=timestamps
        )
        return BacktestAlerts(result, recording, alerts, counts)

    def run(self, recording: Recording) -> ChannelBacktest:
        channel = recording.channel
        catalog = self.pipeline.catalog
        catalog.prepare([channel])
        problem = catalog.get(channel).problem
        if problem is not None:
            raise ReplayError(problem)
        window_store: dict[bytes, bytes] = {}
        fusion_store: dict[bytes, bytes] = {}
        result = ChannelBacktest()
        key = channel.encode()
        names = tuple(recording.feature_names) if recording.feature_names else None
        values = np.asarray(recording.values, dtype=np.float64)
        missing = np.isnan(values)
        rows = np.nan_to_num(values, nan=0.0).tolist()
        gaps = [tuple(np.flatnonzero(row).tolist()) for row in missing] if missing.any() else None
        timestamps = recording.timestamps_ms.tolist()
        for start in range(0, len(rows), self.batch_readings):
            samples = []
            for offset in range(start, min(start + self.batch_readings, len(rows))):
                message = RawMessage(key, None, RECORDED, 0, offset, timestamps[offset] / 1000.0)
                reading = Reading(
                    channel, timestamps[offset], rows[offset], names, offset, missing=gaps[offset] if gaps else ()
                )
                samples.append(Sample(message, reading))
            window_states = StateBuffer(window_store, ChannelWindow)
            ingested = self.pipeline.ingest.apply(DecodedBatch(samples), window_states)
            result.outcomes.update(ingested.outcomes)
            result.gaps.extend(ingested.gaps)
            result.stale_events.extend(ingested.stale_events)
            for _, message, problem in ingested.unfilled:
                step = message.offset - recording.warmup
                result.failures.append(f"test step {step}: window not scored: missing values: {problem}")
                result.unscored += 1
            for message, letter in ingested.dead_letters:
                step = message.offset - recording.warmup
                result.failures.append(f"test step {step}: {letter['reason']}: {letter['detail']}")
            scored = score_windows(catalog, [window for window, _ in ingested.windows])
            fusion_states = StateBuffer(fusion_store, ChannelFusion)
            for outcome in self.pipeline.fusion.fuse_scored(ingested.windows, scored, fusion_states):
                result.windows += bool(outcome.verdicts)
                if outcome.failure is not None:
                    step = outcome.message.offset - recording.warmup
                    result.failures.append(f"test step {step}: window not scored: {outcome.failure}")
                    result.unscored += 1
                result.events.extend(outcome.events)
            # The worker stores changed states once the batch's outputs are out; so does this.
            window_states.commit()
            fusion_states.commit()
        return result
