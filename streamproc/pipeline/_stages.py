"""The pipeline's stages as plain code: readings to windows, verdicts to alerts.

The Faust agents only move messages in and out; everything they decide is decided here, on
in-memory state objects, so it can be tested without a broker.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar, cast

import numpy as np

from streamproc.errors import StreamprocError
from streamproc.fusion import (
    VERDICTS,
    AlertEvent,
    ChannelFusion,
    DetectorVerdict,
    FeedbackOutcome,
    FeedbackTuner,
    Fuser,
    WindowVerdicts,
)
from streamproc.serde import Codec, DecodeError
from streamproc.windows import Admission, ChannelWindow, MissingPolicy, Reading, Window, WindowAssembler, seen_ms

from ._catalog import ModelCatalog
from ._records import RawMessage, dead_letter_record, verdict_from_score
from ._scoring import ScoredBatch
from ._stale import StaleWatch

State = TypeVar("State")
_LOG = logging.getLogger(__name__)

NO_MODEL = "no-model"
KEY_MISMATCH = "key-mismatch"
# The records a readings topic carries.
READING_SCHEMAS = ("SensorReading", "SensorReadingBatch")
PROCESSING_ERROR = "processing-error"


class StateBuffer(Generic[State]):
    """Per-channel states of one batch, read from a table's store and written back changed.

    ``store`` maps UTF-8 channel names to encoded states (a Faust table's in-memory data).
    States are decoded on first use in the batch; :meth:`changes` encodes the changed ones once,
    writes them to the store and yields each with the partition whose changelog must record
    it: the partition of the message that changed it. An unreadable stored state is logged
    and replaced by a fresh one rather than stopping the worker.
    """

    def __init__(self, store: MutableMapping[bytes, bytes], state_class: type[State]) -> None:
        self.store = store
        self.state_class = state_class
        self._states: dict[bytes, State | None] = {}
        self._changed: dict[bytes, int] = {}

    def get(self, channel: str) -> State | None:
        key = channel.encode()
        if key not in self._states:
            raw = self.store.get(key)
            state = None
            if raw is not None:
                try:
                    state = self.state_class.from_bytes(raw)  # type: ignore[attr-defined]
                except StreamprocError as exc:
                    _LOG.error(
                        "discarding the unreadable %s of channel %r: %s", self.state_class.__name__, channel, exc
                    )
            self._states[key] = state
        return self._states[key]

    def put(self, channel: str, partition: int, state: State) -> None:
        key = channel.encode()
        self._states[key] = state
        self._changed[key] = partition

    def changes(self) -> Iterator[tuple[bytes, int, bytes]]:
        """``(key, partition, encoded state)`` of each changed state, stored as it is yielded."""
        for key, partition in self._changed.items():
            data = self._states[key].to_bytes()  # type: ignore[union-attr]
            self.store[key] = data
            yield key, partition, data

    def commit(self) -> None:
        """Store the changed states, where no changelog records them (the offline backtest)."""
        for _ in self.changes():
            pass


class Sample(NamedTuple):
    """One reading of a batch with its source message; ``label`` names it within a
    SensorReadingBatch (empty for a SensorReading), for the dead letter's detail; ``first`` is
    false for a SensorReadingBatch's later samples, which share the message's fate."""

    message: RawMessage
    reading: Reading
    label: str = ""
    first: bool = True


@dataclass
class DecodedBatch:
    readings: list[Sample] = field(default_factory=list)
    dead_letters: list[tuple[RawMessage, dict[str, Any]]] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(sample.reading.channel for sample in self.readings))


class Gap(NamedTuple):
    """A channel's step from ``after_ms`` to ``resumed_ms``, longer than its gap limit: the
    window restarted there."""

    channel: str
    after_ms: int
    resumed_ms: int


def describe_gaps(gaps: Sequence[Gap]) -> str:
    """One line on a channel's gaps: how many, the longest, and when the first one began."""
    longest = max(gap.resumed_ms - gap.after_ms for gap in gaps)
    first = datetime.fromtimestamp(gaps[0].after_ms / 1000, UTC).isoformat(timespec="seconds")
    return (
        f"{len(gaps)} gap(s) in the readings restarted the window (the longest {longest / 1000:g} s; "
        f"the first after {first})"
    )


@dataclass
class IngestResult:
    """Windows now due (each with the message that completed it; missing values filled),
    rejected readings, the gaps that restarted a window, the STALE alert events of channels back
    from a silence, the due windows left unscored because their missing values could not be
    filled (with why), and counts of readings by outcome (``accepted``, ``restarted``,
    ``replayed``, ``rejected``)."""

    windows: list[tuple[Window, RawMessage]] = field(default_factory=list)
    dead_letters: list[tuple[RawMessage, dict[str, Any]]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    stale_events: list[AlertEvent] = field(default_factory=list)
    unfilled: list[tuple[Window, RawMessage, str]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


class IngestStage:
    """Decodes readings, validates them against their channel's models and window state, and
    emits the windows due for scoring. Readings that cannot be used become dead letters."""

    def __init__(
        self,
        codec: Codec,
        catalog: ModelCatalog,
        assembler: WindowAssembler,
        stale: StaleWatch | None = None,
        missing: MissingPolicy | None = None,
    ) -> None:
        self.codec = codec
        self.catalog = catalog
        self.assembler = assembler
        self.stale = stale
        self.missing = missing or MissingPolicy()

    def decode(self, messages: Iterable[RawMessage]) -> DecodedBatch:
        batch = DecodedBatch()
        for message in messages:
            try:
                if message.value is None:
                    raise DecodeError("truncated", "message has no value")
                schema, record = self.codec.decode(message.value)
                if schema not in READING_SCHEMAS:
                    raise DecodeError("schema-mismatch", f"expected {' or '.join(READING_SCHEMAS)}, got {schema}")
                if schema == "SensorReadingBatch" and len(record["timestamps"]) != len(record["values"]):
                    raise DecodeError(
                        "malformed", f"{len(record['timestamps'])} timestamps but {len(record['values'])} value arrays"
                    )
                if schema == "SensorReadingBatch" and not record["timestamps"]:
                    raise DecodeError("malformed", "a SensorReadingBatch without samples")
                missing = _missing_positions(schema, record)
            except DecodeError as exc:
                batch.dead_letters.append((message, dead_letter_record(message, exc.reason, exc.detail)))
                continue
            channel = record["channel"]
            if message.key is None or message.key != channel.encode():
                detail = (
                    f"message key {message.key!r} is not the reading's channel {channel!r}; readings "
                    f"must be keyed by channel so that each channel stays on one partition"
                )
                batch.dead_letters.append((message, dead_letter_record(message, KEY_MISMATCH, detail)))
                continue
            names = record.get("feature_names")
            names = tuple(names) if names else None
            if schema == "SensorReading":
                batch.readings.append(
                    Sample(
                        message,
                        Reading(
                            channel,
                            record["timestamp"],
                            record["values"],
                            names,
                            message.offset,
                            message.timestamp,
                            missing[0],
                        ),
                    )
                )
                continue
            count = len(record["timestamps"])
            for index, (timestamp, values) in enumerate(zip(record["timestamps"], record["values"], strict=False)):
                batch.readings.append(
                    Sample(
                        message,
                        Reading(channel, timestamp, values, names, message.offset, message.timestamp, missing[index]),
                        f"sample {index + 1} of {count}: ",
                        first=index == 0,
                    )
                )
        return batch

    def apply(self, batch: DecodedBatch, states: StateBuffer[ChannelWindow]) -> IngestResult:
        """Apply decoded readings to their channels' states (the catalog must know the channels)."""
        result = IngestResult(dead_letters=list(batch.dead_letters))
        if batch.dead_letters:
            result.outcomes["rejected"] += len(batch.dead_letters)
        # Whether a message was applied before is decided on its first sample: a batch's samples
        # share its offset, and its later ones may be late within the grace (so not newer).
        replayed = False
        for message, reading, label, first in batch.readings:
            models = self.catalog.get(reading.channel)
            if models.problem is not None:
                if first:  # the channel's fault, not a sample's: one dead letter per message
                    result.dead_letters.append((message, dead_letter_record(message, NO_MODEL, models.problem)))
                result.outcomes["rejected"] += 1
                continue
            state = states.get(reading.channel)
            if state is None or state.n_features != models.n_features:
                state = self.assembler.new_state(models.n_features)
            if not first and replayed:
                result.outcomes[Admission.REPLAYED.value] += 1
                continue
            if reading.feature_names is None or len(reading.feature_names) != models.n_features:
                names = models.feature_names
                reading = dataclasses.replace(reading, feature_names=tuple(names) if names else None)
            previous, previous_seen = state.last_timestamp, state.last_seen_ms
            admission, window = self.assembler.add(
                state, reading, check_replay=first, period_ms=models.sampling_period_ms
            )
            if first:
                replayed = admission is Admission.REPLAYED
            if admission.rejected:
                detail = label + describe_rejection(admission, reading, state, self.assembler.grace_ms)
                result.dead_letters.append((message, dead_letter_record(message, admission.value, detail, part=label)))
                result.outcomes["rejected"] += 1
                continue
            result.outcomes[admission.value] += 1
            if admission is Admission.RESTARTED:
                assert previous is not None
                result.gaps.append(Gap(reading.channel, previous, reading.timestamp))
            if admission.appended:
                states.put(reading.channel, message.partition, state)
                seen = seen_ms(reading)
                if self.stale is not None and seen is not None:
                    result.stale_events += self.stale.returned(
                        reading.channel, previous_seen, previous, seen, reading.timestamp
                    )
            if window is not None:
                values, problem = self.missing.fill(window.values, window.feature_names)
                if problem is not None:
                    result.unfilled.append((window, message, problem))
                    continue
                if values is not window.values:
                    window = dataclasses.replace(window, values=values.astype(np.float32))
                result.windows.append((window, message))
        return result


def _missing_positions(schema: str, record: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The positions of missing features of each sample of a reading record (its ``missing``
    field: a list of positions, per sample in a batch; absent from older writers). A position
    outside the sample, or given twice, makes the record malformed."""
    if schema == "SensorReading":
        samples, given = [record["values"]], [record.get("missing") or []]
    else:
        samples, given = record["values"], record.get("missing") or []
        if given and len(given) != len(samples):
            raise DecodeError("malformed", f"{len(given)} missing-value lists for {len(samples)} samples")
        given = given or [[] for _ in samples]
    positions = []
    for index, (values, missing) in enumerate(zip(samples, given, strict=True)):
        if any(not 0 <= p < len(values) for p in missing) or len(set(missing)) != len(missing):
            where = f"sample {index + 1}: " if schema != "SensorReading" else ""
            raise DecodeError(
                "malformed", f"{where}missing positions {list(missing)[:10]} must be distinct and below {len(values)}"
            )
        positions.append(tuple(sorted(missing)))
    return positions


def describe_rejection(admission: Admission, reading: Reading, state: ChannelWindow, grace_ms: int) -> str:
    """A human-readable explanation of why ``reading`` was rejected."""
    if admission is Admission.WRONG_LENGTH:
        return (
            f"channel {reading.channel!r} has {state.n_features} features; the reading has {len(reading.values)} values"
        )
    if admission is Admission.NON_FINITE:
        bad = [i for i, v in enumerate(reading.values) if not math.isfinite(v) or abs(v) > 3.4e38]
        return f"values at positions {bad[:10]} are NaN, infinite or beyond float32 range"
    if admission is Admission.TIMESTAMP_REPEATED:
        return f"timestamp {reading.timestamp} repeats the channel's newest timestamp"
    # Left: a timestamp behind the channel's newest, so the channel has one.
    newest = cast(int, state.last_timestamp)
    return (
        f"timestamp {reading.timestamp} is {newest - reading.timestamp} ms older than the "
        f"channel's newest ({state.last_timestamp}); the grace is {grace_ms} ms"
    )


NOT_HERE = "not-here"


@dataclass(frozen=True)
class WindowOutcome:
    """What one scored window yields: its detectors' verdicts (each an AnomalyScore record to
    publish), why a detector could not score it (``failure``, a dead letter of ``message``),
    and the alert events fusing it produced."""

    window: Window
    message: RawMessage
    verdicts: Sequence[DetectorVerdict]
    failure: str | None
    events: Sequence[AlertEvent]


@dataclass
class FeedbackResult:
    """Per message, its outcome: ``applied``, ``repeated`` (the alert had a verdict),
    ``not-here`` (no channel of this worker remembers the alert), ``rejected``, or None for an
    unusable message another worker dead-letters; and the dead letters to send."""

    outcomes: list[str | None] = field(default_factory=list)
    dead_letters: list[tuple[RawMessage, dict[str, Any]]] = field(default_factory=list)


class FusionStage:
    """Fuses each window's verdicts into alert events, with per-channel state, and applies
    operators' feedback to that state."""

    def __init__(self, fuser: Fuser, tuner: FeedbackTuner | None = None) -> None:
        self.fuser = fuser
        self.tuner = tuner or FeedbackTuner()

    def fuse_scored(
        self, windows: Sequence[tuple[Window, RawMessage]], scored: ScoredBatch, states: StateBuffer[ChannelFusion]
    ) -> list[WindowOutcome]:
        """Fuse a batch of windows with their verdicts (``scored[i]`` of ``windows[i]``), in order."""
        outcomes = []
        for index, (window, message) in enumerate(windows):
            verdicts = scored.verdicts[index]
            events: list[AlertEvent] = []
            if verdicts:
                events = self.fuse(
                    WindowVerdicts(window.channel, window.end, verdicts, window.feature_names, window.produced_at),
                    message.partition,
                    states,
                )
            outcomes.append(WindowOutcome(window, message, verdicts, scored.failures.get(index), events))
        return outcomes

    def fuse(self, window: WindowVerdicts, partition: int, states: StateBuffer[ChannelFusion]) -> list[AlertEvent]:
        state = states.get(window.channel) or ChannelFusion()
        before = state.last_window_end
        events = self.fuser.fuse(state, window)
        if state.last_window_end != before:
            self._store(states, window.channel, partition, state)
        return events

    @staticmethod
    def _store(states: StateBuffer[ChannelFusion], channel: str, partition: int, state: ChannelFusion) -> None:
        # The state records its partition too: feedback, which arrives on other partitions,
        # must write it to the same changelog partition.
        state.partition = partition
        states.put(channel, partition, state)

    def feedback(
        self,
        messages: Sequence[RawMessage],
        codec: Codec,
        states: StateBuffer[ChannelFusion],
        owned_partitions: Collection[int],
    ) -> FeedbackResult:
        """Apply Feedback messages to the channels that remember their alerts, among those of
        the partitions this worker owns (``owned_partitions`` of its source topic).

        Every fusing worker reads every feedback message, so one that cannot be used is
        dead-lettered (and counted) only by the worker owning the partition of the same number.
        """
        result = FeedbackResult()
        index: dict[str, str] | None = None
        for message in messages:
            try:
                if message.value is None:
                    raise DecodeError("truncated", "message has no value")
                record = codec.decode(message.value, expect="Feedback").record
                if record["verdict"] not in VERDICTS:  # a symbol of the schema that fusion does not handle
                    raise DecodeError("malformed", f"unknown verdict {record['verdict']!r}")
            except DecodeError as exc:
                owner = message.partition in owned_partitions
                result.outcomes.append("rejected" if owner else None)
                if owner:
                    result.dead_letters.append((message, dead_letter_record(message, exc.reason, exc.detail)))
                continue
            if index is None:
                index = self._remembered_alerts(states, owned_partitions)
            channel = index.get(record["alert_id"])
            if channel is None:
                result.outcomes.append(NOT_HERE)
                continue
            state = states.get(channel)
            assert state is not None and state.partition is not None
            outcome = self.tuner.apply(state, record["alert_id"], record["verdict"])
            if outcome is FeedbackOutcome.APPLIED:
                self._store(states, channel, state.partition, state)
            result.outcomes.append(outcome.value)
        return result

    @staticmethod
    def _remembered_alerts(states: StateBuffer[ChannelFusion], owned_partitions: Collection[int]) -> dict[str, str]:
        """alert id -> channel, over the states of the owned partitions (decoded once per call)."""
        index: dict[str, str] = {}
        for key in list(states.store.keys()):
            channel = key.decode()
            state = states.get(channel)
            if state is not None and state.partition in owned_partitions:
                index.update((alert.alert_id, channel) for alert in state.remembered)
        return index

    def join(
        self, message: RawMessage, record: dict[str, Any], expected: Sequence[str], states: StateBuffer[ChannelFusion]
    ) -> list[AlertEvent]:
        """Add one AnomalyScore record; fuse the windows that are now complete."""
        channel = record["channel"]
        state = states.get(channel) or ChannelFusion()
        verdict: DetectorVerdict = verdict_from_score(record)
        ready = self.fuser.join(
            state, channel, record["window_end"], verdict, expected, record.get("feature_names"), message.produced_at()
        )
        events = []
        for window in ready:
            events += self.fuser.fuse(state, window)
        self._store(states, channel, message.partition, state)
        return events


def open_alerts_by_severity(encoded_states: Iterable[bytes]) -> Counter[str]:
    """Open alerts among encoded fusion states, by severity (unreadable states count as none)."""
    found: Counter[str] = Counter()
    for raw in encoded_states:
        try:
            alert = ChannelFusion.from_bytes(raw).alert
        except StreamprocError:
            continue
        if alert is not None:
            found[alert.severity] += 1
    return found
