"""The worker's Faust app, built without a broker: roles, groups, topics and settings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from streamproc.config import Settings
from streamproc.errors import StreamprocError
from streamproc.serde import Codec
from streamproc.stream import PipelineApp, WorkerOptions, faust_settings


@pytest.fixture
def settings(stream_models) -> Settings:
    return Settings.load(
        env={},
        overrides={"kafka.bootstrap": "broker-1:9092,broker-2:9092", "detectors.models_dir": str(stream_models.root)},
    )


@pytest.mark.parametrize(
    "options, group",
    [
        (WorkerOptions(), "streamproc"),
        (WorkerOptions(role="window", app_id="plant"), "plant-window"),
        (WorkerOptions(role="detect"), "streamproc-detect"),
        (WorkerOptions(role="detect", detectors=("usad",)), "streamproc-detect-usad"),
        (WorkerOptions(role="fuse"), "streamproc-fuse"),
    ],
)
def test_each_role_is_its_own_consumer_group(options, group):
    assert options.group() == group
    assert options.windows_topic() == f"{options.app_id}-windows"


def test_bad_options():
    with pytest.raises(StreamprocError, match="--role"):
        WorkerOptions(role="score")
    with pytest.raises(StreamprocError, match="--detector"):
        WorkerOptions(detectors=())


def test_faust_settings(settings):
    plain = faust_settings(settings, WorkerOptions())
    assert plain["broker"] == ["streamproc-kafka://broker-1:9092", "streamproc-kafka://broker-2:9092"]
    assert plain["topic_partitions"] == 4 and plain["web_port"] == 6066
    assert "producer_max_batch_size" not in plain
    assert plain["broker_commit_interval"] == settings.worker.commit_interval_s == 2.8
    embedded = faust_settings(settings, WorkerOptions(embedded_broker=True))
    assert embedded["broker"] == ["streamproc-tansu://broker-1:9092", "streamproc-tansu://broker-2:9092"]
    assert embedded["producer_max_batch_size"] == 1 and embedded["broker_session_timeout"] <= 6


def test_faust_files_go_to_the_data_dir_or_a_temporary_folder(settings, tmp_path):
    temporary = Path(faust_settings(settings, WorkerOptions())["datadir"])
    assert temporary.is_dir() and temporary.parent == Path(tempfile.gettempdir())
    chosen = Settings.load(env={}, overrides={"kafka.bootstrap": "broker:9092", "worker.data_dir": str(tmp_path)})
    assert faust_settings(chosen, WorkerOptions())["datadir"] == str(tmp_path)


@pytest.mark.parametrize(
    "role, agents, tables, internal",
    [
        ("all", 1, {"windows", "fusion", "dead-letters"}, False),
        ("window", 1, {"windows", "dead-letters"}, True),
        ("detect", 1, {"dead-letters"}, True),
        ("fuse", 1, {"fusion", "dead-letters"}, True),
    ],
)
def test_roles_declare_their_agents_tables_and_topics(settings, role, agents, tables, internal):
    pipeline = PipelineApp(settings, WorkerOptions(role=role, web_enabled=False))
    assert len(pipeline.app.agents) == agents
    assert set(pipeline.app.tables) == tables
    topics = pipeline.topics()
    assert ("streamproc-windows" in topics) is internal
    assert topics[settings.topics.readings] == settings.topics.partitions
    assert pipeline.catalog.detectors == settings.detectors.enabled == ["structure_aware", "pca"]


class CommitRecorder(PipelineApp):
    """The worker's app with its commit step recording what a batch would publish (no broker)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.published: list[tuple[str, bytes]] = []

    async def _commit_batch(self, latencies, *changes) -> None:
        self.published += [(topic.get_topic_name(), value) for topic, _, value, _ in self._outputs]
        for counter, amount in self._counts:
            counter.inc(amount)
        self._outputs, self._counts = [], []
        self.changelog = [*getattr(self, "changelog", []), *self.ledger.changes()]


def test_a_failing_message_is_dead_lettered_alone_and_failed_attempts_publish_nothing(settings):
    import asyncio

    app = CommitRecorder(settings, WorkerOptions(web_enabled=False))
    handler = scoring_handler(app)
    events = [message_event(offset, value) for offset, value in enumerate([b"a", b"poison", b"c"])]
    asyncio.run(app._guarded(handler, events))
    scores = [value for topic, value in app.published if topic == settings.topics.scores]
    assert scores == [b"score of a", b"score of c"], "the failed batch's outputs were published"
    letters = [Codec().decode(value).record for topic, value in app.published if topic == settings.topics.dead_letter]
    assert [(d["offset"], d["reason"], d["payload"]) for d in letters] == [(1, "processing-error", b"poison")]
    assert "a plugin bug" in letters[0]["detail"]
    assert app.changelog == [(b"readings/0", 0, b"1 0")]  # recorded with the batch's states


def test_a_restarted_worker_does_not_dead_letter_a_message_again(settings):
    import asyncio

    first = CommitRecorder(settings, WorkerOptions(web_enabled=False))
    asyncio.run(first._guarded(scoring_handler(first), [message_event(0, b"a"), message_event(1, b"poison")]))
    # The restarted worker restores the ledger from its changelog, then reads both messages again
    # (their offsets were not committed) and a new one.
    second = CommitRecorder(settings, WorkerOptions(web_enabled=False))
    second.dead_letter_table.data.update({key: data for key, _, data in first.changelog})
    events = [message_event(0, b"a"), message_event(1, b"poison"), message_event(2, b"poison")]
    asyncio.run(second._guarded(scoring_handler(second), events))
    letters = [value for topic, value in second.published if topic == settings.topics.dead_letter]
    assert [Codec().decode(v).record["offset"] for v in letters] == [2]
    assert second.metrics.dead_letters_repeated._value.get() == 1


def message_event(offset: int, value: bytes):
    from types import SimpleNamespace

    return SimpleNamespace(
        message=SimpleNamespace(
            key=b"c", value=value, topic="readings", partition=0, offset=offset, timestamp=0.0, headers=None
        )
    )


def scoring_handler(app):
    """A batch handler that scores each message and fails on a poison one (a plugin bug)."""

    async def handler(messages) -> None:
        for message in messages:
            app._outputs.append((app.scores_topic, message.key, b"score of " + message.value, None))
        if any(message.value == b"poison" for message in messages):
            raise RuntimeError("a plugin bug")
        await app._commit_batch([])

    return handler
