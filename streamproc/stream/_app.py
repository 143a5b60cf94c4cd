"""The Faust application of one worker role: topics, tables, agents and web pages.

Roles (``all`` runs the whole pipeline in one agent, without internal topics):

- ``window``: readings -> per-channel window state -> due windows on the internal windows topic;
- ``detect``: windows -> each enabled detector (or ``--detector``) -> ``scores``;
- ``fuse``: ``scores`` -> per-channel fusion state -> ``alerts``.

Roles that fuse (``all``, ``fuse``) also read operators' verdicts from the feedback topic, every
partition of it in every worker (it is keyed by alert, not by channel); the worker that owns the
channel remembering the alert applies the verdict to that channel's fusion state (see
:class:`streamproc.fusion.FeedbackTuner`). Verdicts no owned channel remembers wait, and are
tried again after each rebalance, since the channel may come to this worker.

Each batch follows the same order, which is what makes restarts safe: outputs are published
and flushed first, then the changed states are written to their changelogs, and only then are
the batch's source offsets acknowledged (Faust flushes the producer again before committing).
A crash can therefore repeat a batch's outputs but never lose them; repeated readings are
recognised by their offsets in the window state, repeated windows by their end in the fusion
state and messages dead-lettered before by the dead-letter ledger (the highest such offset per
source partition), so a restarted worker neither skips nor re-alerts a window, nor dead-letters
a message twice. What a crash between a flush and its changelog write can still repeat carries
the same ``record_id`` as its first copy (:func:`streamproc.serde.record_id`): delivery is at
least once, and consumers drop repeats by that id.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust

from streamproc.config import MESSAGE_OVERHEAD_BYTES, Settings
from streamproc.detection import DetectorRegistry, PluginError
from streamproc.errors import StreamprocError
from streamproc.fusion import ChannelFusion
from streamproc.kafka import EMBEDDED_OVERRIDES
from streamproc.observability import WorkerMetrics, add_health_views
from streamproc.pipeline import (
    NOT_HERE,
    PROCESSING_ERROR,
    DeadLetterLedger,
    DriftMonitor,
    Pipeline,
    RawMessage,
    ScoredBatch,
    StateBuffer,
    dead_letter_record,
    describe_gaps,
    open_alerts_by_severity,
    produced_at_header,
    score_record,
    score_windows,
)
from streamproc.serde import Codec, DecodeError
from streamproc.training import ModelStore
from streamproc.windows import ChannelWindow, Window, WindowStateError

from ._reader import TopicReader
from ._transport import broker_urls

ROLES = ("all", "window", "detect", "fuse")
# Feedback messages kept for another try after a rebalance, newest last.
MAX_WAITING_FEEDBACK = 10_000
FEEDBACK_RETRY_S = 5.0
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker process runs, beyond the settings.

    ``app_id`` names the consumer group and prefixes the changelog and internal topics; roles
    other than ``all`` append their name (and ``detect`` its detector) so that each role is its
    own group. ``embedded_broker`` applies the embedded broker's client workarounds.
    """

    role: str = "all"
    detectors: tuple[str, ...] | None = None
    app_id: str = "streamproc"
    embedded_broker: bool = False
    web_enabled: bool = True

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise StreamprocError(f"--role: {self.role!r} is not one of {', '.join(ROLES)}")
        if self.detectors is not None and not self.detectors:
            raise StreamprocError("--detector: give at least one detector name")

    def group(self) -> str:
        """The consumer group (Faust app id): one per role, and per detector set for ``detect``."""
        if self.role == "all":
            return self.app_id
        if self.role == "detect" and self.detectors:
            return f"{self.app_id}-detect-{'-'.join(self.detectors)}"
        return f"{self.app_id}-{self.role}"

    def windows_topic(self) -> str:
        """The internal topic linking the window role to the detect roles."""
        return f"{self.app_id}-windows"


def detector_registry(detectors: Sequence[str]) -> DetectorRegistry:
    """A registry of just the plugins named like ``detectors`` (faster to start and unaffected
    by unrelated broken plugins), or of every plugin when a detector comes from a plugin of
    another name."""
    try:
        registry = DetectorRegistry(enabled=detectors)
        for name in detectors:
            registry.spec(name)
        return registry
    except (PluginError, KeyError):
        return DetectorRegistry()


def faust_settings(settings: Settings, options: WorkerOptions) -> dict[str, Any]:
    """The ``faust.App`` settings of a worker."""
    kafka = settings.kafka
    conf: dict[str, Any] = {
        "broker": broker_urls(kafka.bootstrap_servers(), embedded=options.embedded_broker),
        "broker_credentials": kafka.faust_credentials(),
        "topic_partitions": settings.topics.partitions,
        "topic_replication_factor": settings.topics.replication,
        "topic_disable_leader": True,
        "store": "memory://",
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": settings.worker.commit_interval_s,
        "web_enabled": options.web_enabled,
        "web_port": settings.worker.web_port,
        "web_bind": "0.0.0.0",
        "datadir": settings.worker.data_dir or _temporary_datadir(),
        # A batch holds up to batch_size windows' worth of readings; the stream buffer must fit one.
        "stream_buffer_maxsize": max(4096, 2 * _readings_per_batch(settings)),
        # Every message the cluster accepts can be fetched (and so dead-lettered if bad); what a
        # worker produces is small (dead letters keep a bounded prefix of what they report).
        "consumer_max_fetch_size": kafka.max_message_bytes + MESSAGE_OVERHEAD_BYTES,
        "producer_max_request_size": kafka.max_message_bytes + MESSAGE_OVERHEAD_BYTES,
    }
    if options.embedded_broker:
        conf = EMBEDDED_OVERRIDES.faust_settings(conf)
    return conf


def _temporary_datadir() -> str:
    # Faust creates its data folder even with in-memory stores; left to its default it would
    # litter the working directory with one folder per app id.
    path = tempfile.mkdtemp(prefix="streamproc-faust-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _readings_per_batch(settings: Settings) -> int:
    return settings.worker.batch_size * settings.window.stride


class PipelineApp:
    """A worker's Faust app for one role; ``app`` is what ``faust.Worker`` runs."""

    def __init__(
        self, settings: Settings, options: WorkerOptions | None = None, *, store: ModelStore | None = None
    ) -> None:
        self.settings = settings
        self.options = options = options or WorkerOptions()
        detectors = list(options.detectors or settings.detectors.enabled)
        self.metrics = WorkerMetrics(channel_limit=settings.worker.channel_metrics_limit)
        self.codec = Codec(validate=False)
        pipeline = Pipeline.from_settings(
            settings,
            store or ModelStore(settings.detectors.models_dir, detector_registry(detectors)),
            detectors,
            self.codec,
        )
        self.catalog, self.ingest, self.fusion = pipeline.catalog, pipeline.ingest, pipeline.fusion
        # Batches and feedback change the same states, across awaits: one at a time.
        self._state_lock = asyncio.Lock()
        # One thread: models are not assumed thread-safe, and batches are scored in order.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamproc-score")
        self.app = faust.App(options.group(), **faust_settings(settings, options))
        self.window_table: Any = None
        self.fusion_table: Any = None
        # The current batch's output messages and counter increments, sent and counted when it
        # commits: an attempt that fails before then leaves nothing behind (see ``_guarded``).
        self._outputs: list[tuple[Any, bytes | None, bytes, dict[str, bytes] | None]] = []
        self._counts: list[Any] = []
        self._reading_partitions: dict[str, int] = {}  # channel -> its readings partition
        self._shadow_failed: set[str] = set()  # detectors whose shadow failure was logged
        self.drift = DriftMonitor()
        self._declare()
        if options.web_enabled:
            add_health_views(self.app, self.metrics)
        self.metrics.track_consumer_lag(self._consumer_lag)
        # The ignore: mode's handler type has no room for the argument faust sends (the revoked set).
        self.app.on_partitions_revoked.connect(self._partitions_revoked)  # type: ignore[arg-type]

    # -- topology -------------------------------------------------------------------------

    def _topic(self, name: str) -> Any:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.topics.partitions,
        )

    def _table(self, name: str) -> Any:
        # Keys are channel names and values encoded states, both raw bytes: the stages decode.
        return self.app.Table(name, partitions=self.settings.topics.partitions, key_type=bytes, value_type=bytes)

    def _declare(self) -> None:
        topics = self.settings.topics
        role = self.options.role
        self.scores_topic = self._topic(topics.scores)
        self.alerts_topic = self._topic(topics.alerts)
        self.dead_letter_topic = self._topic(topics.dead_letter)
        self.dead_letter_table = self._table("dead-letters")
        self.ledger = DeadLetterLedger(self.dead_letter_table.data)
        if role != "all":
            self.windows_topic = self._topic(self.options.windows_topic())
        batch, within = self.settings.worker.batch_size, self.settings.worker.batch_within_s
        if role in ("all", "window"):
            self.window_table = self._table("windows")
            readings = self._topic(topics.readings)
            handler = self._run_all if role == "all" else self._run_window

            async def readings_agent(stream: Any) -> None:
                async for events in stream.take_events(_readings_per_batch(self.settings), within=within):
                    await self._guarded(handler, events)

            self.app.agent(readings, name=f"{role}-readings")(readings_agent)
            watch = self.ingest.stale
            if watch is not None:
                # Often enough that a silence is announced within a quarter of its limit (10 s at most).
                interval = min(10.0, max(0.2, watch.after_ms / 4000))

                async def stale_timer() -> None:
                    await self._announce_silences()

                self.app.timer(interval, name="stale-channels")(stale_timer)
        if role in ("all", "fuse"):
            self.fusion_table = self._table("fusion")
            self.metrics.track_open_alerts(lambda: open_alerts_by_severity(self.fusion_table.data.values()))

            async def feedback_task() -> None:
                await self._read_feedback()

            self.app.task(feedback_task)
        interval = self.settings.detectors.reload_interval_s
        if role in ("all", "detect") and interval > 0:

            async def reload_timer() -> None:
                # An exception would end faust's timer for good, silently: log it, look again later.
                try:
                    await self._reload_models()
                except Exception:
                    _LOG.exception("models: looking for promoted or rolled-back models failed")

            self.app.timer(interval, name="model-reload")(reload_timer)
        if role == "detect":

            async def windows_agent(stream: Any) -> None:
                async for events in stream.take_events(batch, within=within):
                    await self._guarded(self._run_detect, events)

            self.app.agent(self.windows_topic, name="detect-windows")(windows_agent)
        if role == "fuse":

            async def scores_agent(stream: Any) -> None:
                async for events in stream.take_events(batch * len(self.catalog.detectors), within=within):
                    await self._guarded(self._run_fuse, events)

            self.app.agent(self.scores_topic, name="fuse-scores")(scores_agent)

    def topics(self) -> dict[str, int]:
        """The topics this role reads or writes, with their partition counts, to create up front."""
        topics, partitions = self.settings.topics, self.settings.topics.partitions
        names = [topics.readings, topics.scores, topics.alerts, topics.dead_letter, topics.feedback]
        if self.options.role != "all":
            names.append(self.options.windows_topic())
        return dict.fromkeys(names, partitions)

    # -- batch handlers -------------------------------------------------------------------

    async def _guarded(self, handler: Any, events: Sequence[Any]) -> None:
        """Run a batch handler; if it fails, run it again one message at a time, and dead-letter
        each message that fails alone, then carry on.

        Expected bad input never gets here (the stages dead-letter it one message at a time);
        this is for the unexpected, so that no message can stop the worker or take the rest of
        its batch down with it (Faust acknowledges a batch's events even when its handler
        raises). No state change of a failed attempt is kept: states are only stored once the
        attempt's outputs are flushed.
        """
        messages = [RawMessage.from_faust(e.message) for e in events]
        async with self._state_lock:
            try:
                await handler(messages)
                self._locate(messages)
                return
            except Exception:
                self._discard_batch()
                if len(messages) == 1:
                    await self._dead_letter_failure(messages[0])
                    return
                _LOG.warning("a batch of %d messages failed; retrying them one at a time", len(messages))
            for message in messages:
                try:
                    await handler([message])
                    self._locate([message])
                except Exception:
                    self._discard_batch()
                    await self._dead_letter_failure(message)

    def _locate(self, messages: Sequence[RawMessage]) -> None:
        """Note where each channel's messages come from (every topic is keyed by channel), so
        that its metric series and its silence watch leave with its partition."""
        readings = self.settings.topics.readings
        for message in messages:
            if message.key:
                channel = message.key.decode(errors="replace")
                self.metrics.channels.located(channel, message.topic, message.partition)
                if message.topic == readings:
                    self._reading_partitions[channel] = message.partition

    async def _partitions_revoked(self, _app: Any, revoked: Any, **_: Any) -> None:
        self.metrics.channels.forget((tp.topic, tp.partition) for tp in revoked)
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.topics.readings}
        left = [channel for channel, partition in self._reading_partitions.items() if partition in gone]
        for channel in left:
            del self._reading_partitions[channel]
        if self.ingest.stale is not None:
            self.ingest.stale.forget(left)

    async def _owned_window_states(self) -> list[tuple[str, ChannelWindow]]:
        """The window states of the channels whose readings partitions this worker holds and has
        read to their end: those it read this run, and those restored from the changelog (the
        memory store remembers their partition; a worker restarted while a sensor is silent
        knows it only that way). A partition with unread messages (or whose end is not known
        yet) is left out: a worker behind its input would take every channel there for silent."""
        readings = self.settings.topics.readings
        held = {partition for (topic, partition) in await self._read_to_end() if topic == readings}
        restored = getattr(self.window_table.data, "_key_partition", {})
        states = []
        for key, raw in list(self.window_table.data.items()):
            channel = key.decode(errors="replace")
            partition = self._reading_partitions.get(channel, restored.get(key))
            if partition not in held:
                continue
            try:
                states.append((channel, ChannelWindow.from_bytes(raw)))
            except WindowStateError:
                continue
        return states

    async def _announce_silences(self) -> None:
        """Raise a STALE alert for each owned channel silent for longer than the limit."""
        # The ignore (also below): faust's TableManagerT leaves out the TableManager's recovery.
        if self.app.rebalancing or not self.app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            return
        assert self.ingest.stale is not None  # the timer that calls this runs only with a limit
        async with self._state_lock:
            events = self.ingest.stale.overdue(await self._owned_window_states(), int(time.time() * 1000))
            if events:
                self._send_alerts(events)
                await self._commit_batch([])

    def _discard_batch(self) -> None:
        self._outputs.clear()
        self._counts.clear()
        self.ledger.discard()

    async def _dead_letter_failure(self, message: RawMessage) -> None:
        _LOG.exception(
            "message %s[%d]@%d failed; sending it to the dead-letter topic",
            message.topic,
            message.partition,
            message.offset,
        )
        error = sys.exc_info()[1]
        self._send_dead_letter(message, dead_letter_record(message, PROCESSING_ERROR, repr(error)))
        await self._commit_batch([])

    async def _prepare(self, channels: Sequence[str]) -> None:
        """Load the models of ``channels`` (off the event loop) and report their versions."""
        await self._in_executor(self.catalog.prepare, channels)
        for channel in channels:
            entry = self.catalog.get(channel)
            if entry.problem is None:
                self.metrics.channels.models(channel, {d: m.version for d, m in entry.models.items()})

    async def _reload_models(self) -> None:
        """Swap in models promoted or rolled back in the store since they were loaded. On the
        scoring thread, so between two batches: a batch is scored by the old models or the new."""
        changed = await self._in_executor(self.catalog.changed)
        if not changed:
            return
        reloaded = await self._in_executor(self.catalog.reload, changed)
        self._shadow_failed.clear()
        for line in reloaded.swapped:
            _LOG.info("models: %s", line)
        for line in reloaded.refused:
            _LOG.warning("models: %s", line)
        for channel in changed:
            entry = self.catalog.get(channel)
            if entry.problem is None:
                self.metrics.channels.models(channel, {d: m.version for d, m in entry.models.items()})

    async def _in_executor(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _ingest(self, messages: Sequence[RawMessage]) -> tuple[Any, StateBuffer[ChannelWindow]]:
        self.metrics.batch_messages.labels("readings").observe(len(messages))
        decoded = self.ingest.decode(messages)
        unknown = self.catalog.unknown(decoded.channels)
        if unknown:
            await self._prepare(unknown)
        latest: dict[str, int] = {}
        for sample in decoded.readings:
            reading = sample.reading
            latest[reading.channel] = max(reading.timestamp, latest.get(reading.channel, reading.timestamp))
        for channel, timestamp_ms in latest.items():
            self.metrics.channels.reading(channel, timestamp_ms / 1000.0)
        states = StateBuffer(self.window_table.data, ChannelWindow)
        result = self.ingest.apply(decoded, states)
        for outcome, count in result.outcomes.items():
            self._counts.append((self.metrics.readings.labels(outcome), count))
        if result.unfilled:
            self._counts.append((self.metrics.windows_unscored.labels("missing-values"), len(result.unfilled)))
            window, _, problem = result.unfilled[-1]
            _LOG.info(
                "%d window(s) not scored for missing values; the last, of %r: %s",
                len(result.unfilled),
                window.channel,
                problem,
            )
        for channel in dict.fromkeys(gap.channel for gap in result.gaps):
            _LOG.info("channel %r: %s", channel, describe_gaps([g for g in result.gaps if g.channel == channel]))
        for message, record in result.dead_letters:
            self._send_dead_letter(message, record)
        return result, states

    async def _score(self, windows: Sequence[Window]) -> ScoredBatch:
        if not windows:
            return ScoredBatch([])
        self.metrics.batch_messages.labels("windows").observe(len(windows))
        scored: ScoredBatch = await self._in_executor(score_windows, self.catalog, windows)
        for detector, seconds in scored.seconds.items():
            self.metrics.scoring_seconds.labels(detector).observe(seconds)
            self.metrics.windows_scored.labels(detector).inc(scored.windows[detector])
        return scored

    async def _run_all(self, messages: Sequence[RawMessage]) -> None:
        result, window_states = await self._ingest(messages)
        scored = await self._score([window for window, _ in result.windows])
        fusion_states = StateBuffer(self.fusion_table.data, ChannelFusion)
        latencies: list[tuple[Any, float]] = self._send_alerts(result.stale_events)
        for outcome in self.fusion.fuse_scored(result.windows, scored, fusion_states):
            window, message = outcome.window, outcome.message
            if outcome.failure is not None:
                self._send_dead_letter(
                    message, dead_letter_record(message, PROCESSING_ERROR, outcome.failure, part=window.end)
                )
            for verdict in outcome.verdicts:
                self._send_score(window.channel, window.end, verdict, window.feature_names, window.produced_at)
                latencies.append((self.metrics.reading_to_score_seconds, window.produced_at))
            latencies += self._send_alerts(outcome.events)
        self._send_shadow_scores([window for window, _ in result.windows], scored)
        await self._commit_batch(latencies, (self.window_table, window_states), (self.fusion_table, fusion_states))

    async def _run_window(self, messages: Sequence[RawMessage]) -> None:
        result, window_states = await self._ingest(messages)
        self._send_alerts(result.stale_events)
        for window, _ in result.windows:
            self._outputs.append(
                (self.windows_topic, window.channel.encode(), window.to_bytes(), produced_at_header(window.produced_at))
            )
        await self._commit_batch([], (self.window_table, window_states))

    async def _run_detect(self, messages: Sequence[RawMessage]) -> None:
        windows, sources = [], []
        for message in messages:
            try:
                windows.append(Window.from_bytes(message.value or b""))
                sources.append(message)
            except WindowStateError as exc:
                self._send_dead_letter(message, dead_letter_record(message, "malformed", str(exc)))
        unknown = self.catalog.unknown(w.channel for w in windows)
        if unknown:
            await self._prepare(unknown)
        # The window role only emits windows of channels with a model, so a channel without one
        # here has no model of this worker's detector(s): another detect group scores it.
        usable = [(w, m) for w, m in zip(windows, sources, strict=False) if self.catalog.get(w.channel).problem is None]
        scored = await self._score([w for w, _ in usable])
        latencies = []
        for index, (window, message) in enumerate(usable):
            if index in scored.failures:
                self._send_dead_letter(message, dead_letter_record(message, PROCESSING_ERROR, scored.failures[index]))
            for verdict in scored.verdicts[index]:
                self._send_score(window.channel, window.end, verdict, window.feature_names, window.produced_at)
                latencies.append((self.metrics.reading_to_score_seconds, window.produced_at))
        self._send_shadow_scores([w for w, _ in usable], scored)
        await self._commit_batch(latencies)

    async def _run_fuse(self, messages: Sequence[RawMessage]) -> None:
        self.metrics.batch_messages.labels("scores").observe(len(messages))
        states = StateBuffer(self.fusion_table.data, ChannelFusion)
        latencies = []
        for message in messages:
            try:
                record = self.codec.decode(message.value or b"", expect="AnomalyScore").record
            except DecodeError as exc:
                self._send_dead_letter(message, dead_letter_record(message, exc.reason, exc.detail))
                continue
            if record.get("shadow"):
                continue  # a shadow model's score is for comparison, never fused
            expected = self.catalog.available(record["channel"])
            latencies += self._send_alerts(self.fusion.join(message, record, expected, states))
        await self._commit_batch(latencies, (self.fusion_table, states))

    # -- feedback -------------------------------------------------------------------------

    async def _read_feedback(self) -> None:
        """Follow the feedback topic for as long as the worker runs, starting over (from the
        topic's beginning: verdicts apply once) after a failure."""
        while True:
            try:
                await self._follow_feedback()
            except Exception:
                _LOG.exception("reading the feedback topic failed; starting over in %gs", FEEDBACK_RETRY_S)
                await asyncio.sleep(FEEDBACK_RETRY_S)

    async def _follow_feedback(self) -> None:
        loop = asyncio.get_running_loop()
        config, topic = self.settings.kafka.confluent_config(), self.settings.topics.feedback
        reader = await loop.run_in_executor(None, lambda: TopicReader(config, [topic], codec=self.codec))
        unread: list[RawMessage] = []  # arrived while the states were not all there (a rebalance)
        waiting: list[RawMessage] = []  # tried, but no channel of this worker remembered the alert
        tried_with: Any = None  # the consumer generation the waiting ones were tried in
        poll: asyncio.Future[list[RawMessage]] | None = None
        try:
            while True:
                poll = loop.run_in_executor(None, reader.poll_raw, 0.5)
                # Shielded: cancelled, the poll must still finish before the client is closed.
                unread = (unread + await asyncio.shield(poll))[-MAX_WAITING_FEEDBACK:]
                poll = None
                # Recovery's event stays set after the first one; the flag spans each rebalance.
                if self.app.rebalancing or not self.app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
                    continue
                retry: list[RawMessage] = []
                if self.app.consumer_generation_id != tried_with:
                    retry, waiting, tried_with = waiting, [], self.app.consumer_generation_id
                if unread or retry:
                    async with self._state_lock:
                        if self.app.rebalancing:  # began while waiting for the lock: next time
                            waiting = retry + waiting
                            tried_with = None
                            continue
                        new, unread = unread, []
                        try:
                            left = await self._apply_feedback(retry, new)
                        except Exception:
                            self._discard_batch()  # a failed attempt leaves nothing for the next batch
                            raise
                    waiting = (waiting + left)[-MAX_WAITING_FEEDBACK:]
        finally:
            if poll is not None:  # cancelled while a poll runs in its thread: the client is not shareable
                await asyncio.wait([poll], timeout=5)
            reader.close()

    async def _apply_feedback(self, retry: Sequence[RawMessage], new: Sequence[RawMessage]) -> list[RawMessage]:
        """Apply feedback messages; return those no channel of this worker remembers. Outcomes
        are counted when a message first arrives, and again if a retry applies it."""
        source = self.settings.topics.readings if self.options.role == "all" else self.settings.topics.scores
        owned = {tp.partition for tp in self.app.consumer.assignment() if tp.topic == source}
        states = StateBuffer(self.fusion_table.data, ChannelFusion)
        messages = [*retry, *new]
        result = self.fusion.feedback(messages, self.codec, states, owned)
        for message, record in result.dead_letters:
            self._send_dead_letter(message, record)
        left = []
        for index, (message, outcome) in enumerate(zip(messages, result.outcomes, strict=False)):
            if outcome == NOT_HERE:
                left.append(message)
                if index < len(retry):
                    continue
            if outcome is not None:
                self.metrics.feedback.labels(outcome).inc()
        await self._commit_batch([], (self.fusion_table, states))
        return left

    # -- output ---------------------------------------------------------------------------

    def _send_score(
        self, channel: str, window_end: int, verdict: Any, feature_names: Any, produced_at: float, shadow: bool = False
    ) -> None:
        value = self.codec.encode(
            "AnomalyScore", score_record(channel, window_end, verdict, feature_names, shadow=shadow)
        )
        if not shadow:  # the channel's gauges show what decides alerts
            self.metrics.channels.score(channel, verdict.detector, verdict.score, verdict.threshold)
            self._watch_drift(channel, verdict)
        self._outputs.append((self.scores_topic, channel.encode(), value, produced_at_header(produced_at)))

    def _watch_drift(self, channel: str, verdict: Any) -> None:
        model = self.catalog.get(channel).models.get(verdict.detector)
        if model is None or model.version != verdict.model_version:
            return
        check = self.drift.observe(channel, verdict.detector, model.version, verdict.score, model.reference_scores)
        if check is None:
            return
        self.metrics.channels.drift(channel, verdict.detector, check.statistic)
        if check.changed and check.drifting:
            _LOG.warning(
                "model drift on %s (%s, version %s): its last %d scores differ from its calibration scores "
                "(KS %.2f > %.2f); retrain it on recent data (streamproc train --from-topic ... --shadow)",
                channel,
                verdict.detector,
                model.version,
                check.scores,
                check.statistic,
                self.drift.limit,
            )
        elif check.changed:
            _LOG.info("model drift on %s (%s) is over (KS %.2f)", channel, verdict.detector, check.statistic)

    def _send_shadow_scores(self, windows: Sequence[Window], scored: ScoredBatch) -> None:
        for window, verdicts in zip(windows, scored.shadow_verdicts, strict=False):
            for verdict in verdicts:
                self._send_score(
                    window.channel, window.end, verdict, window.feature_names, window.produced_at, shadow=True
                )
        for detector, failure in scored.shadow_failures.items():
            if detector not in self._shadow_failed:  # once until the models change, not per batch
                self._shadow_failed.add(detector)
                _LOG.warning("models: %s", failure)

    def _send_alerts(self, events: Sequence[Any]) -> list[tuple[Any, float]]:
        for event in events:
            self._outputs.append(
                (
                    self.alerts_topic,
                    event.channel.encode(),
                    self.codec.encode("Alert", event.to_record()),
                    produced_at_header(event.produced_at),
                )
            )
            self._counts.append((self.metrics.alerts.labels(event.state), 1))
        return [(self.metrics.reading_to_alert_seconds, event.produced_at) for event in events]

    def _send_dead_letter(self, message: RawMessage, record: dict[str, Any]) -> None:
        """Queue a dead letter, unless the ledger shows it was sent before a restart. (Feedback
        is read whole by every fusing worker, but only the owner of the partition of the same
        number dead-letters it, so its ledger entry moves with that partition too.)"""
        if not self.ledger.admit(message):
            self._counts.append((self.metrics.dead_letters_repeated, 1))
            return
        self._outputs.append((self.dead_letter_topic, message.key, self.codec.encode("DeadLetter", record), None))
        self._counts.append((self.metrics.dead_letters.labels(record["reason"]), 1))

    async def _commit_batch(
        self,
        latencies: Sequence[tuple[Any, float]],
        # (table, its changed states); typed with the ledger too, which is appended to them below.
        *changes: tuple[Any, StateBuffer[Any] | DeadLetterLedger],
    ) -> None:
        """Wait until the batch's outputs are delivered, then record its state changes (see the
        module's docstring).

        Only this batch's outputs are awaited, not the whole producer: the previous batch's
        changelog records may still be on their way, which does not matter for this batch.
        States are written to the changelog of the partition of the message that changed them
        (Faust's ``table[key] = value`` would use the partition of whichever event is current,
        which in a batch is only the last one).
        """
        outputs, self._outputs = self._outputs, []
        counts, self._counts = self._counts, []
        if outputs:
            await asyncio.gather(
                *(topic.send_soon(key=key, value=value, headers=headers) for topic, key, value, headers in outputs)
            )
        for counter, amount in counts:
            counter.inc(amount)
        now = time.time()
        for histogram, produced_at in latencies:
            if produced_at > 0:
                histogram.observe(max(now - produced_at, 0.0))
        for table, buffer in (*changes, (self.dead_letter_table, self.ledger)):
            for key, partition, data in buffer.changes():
                table.send_changelog(partition, key, data)

    async def _read_to_end(self) -> set[tuple[str, int]]:
        """The assigned partitions whose every message this worker has processed: by its read
        offset when it read any this run, else by its position (nothing read, nothing due)."""
        consumer = self.app.consumer
        lag = self._consumer_lag()
        done = set()
        for tp in consumer.assignment():
            key = (tp.topic, tp.partition)
            if key in lag:
                if lag[key] <= 0:
                    done.add(key)
                continue
            try:
                highwater, position = consumer.highwater(tp), await consumer.position(tp)
            except Exception:  # not fetched yet, or the consumer is rebalancing
                continue
            if highwater is not None and position is not None and position >= highwater:
                done.add(key)
        return done

    def _consumer_lag(self) -> dict[tuple[str, int], int]:
        consumer = self.app.consumer
        read = self.app.monitor.tp_read_offsets
        lag = {}
        for tp in consumer.assignment():
            if tp.topic.endswith("-changelog"):
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # not fetched yet, or the consumer is rebalancing
                continue
            if highwater is not None and tp in read:
                lag[(tp.topic, tp.partition)] = highwater - read[tp] - 1
        return lag
