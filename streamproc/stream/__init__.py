"""The streaming pipeline on Kafka (Faust): windows, detectors, fusion, alerts, dead letters.

:class:`PipelineApp` builds the Faust app of one worker role; :func:`run_worker` runs it in the
foreground. :class:`ReadingFeed` produces series onto the readings topic (``streamproc demo``,
``streamproc replay --to-kafka`` through :func:`replay_to_kafka`); :func:`send_verdict` sends an
operator's verdict on an alert to the feedback topic.
"""

from ._app import ROLES, PipelineApp, WorkerOptions, faust_settings
from ._demo import DemoOptions, DemoResult, run_demo
from ._feed import ChannelSeries, FeedReport, ReadingFeed, replay_to_kafka
from ._history import read_history
from ._reader import TopicReader, TopicRecord
from ._tail import format_alert, tail_alerts
from ._verdict import send_verdict
from ._worker import prepare_topics, run_worker, with_bootstrap, worker_cluster

__all__ = [
    "ROLES",
    "ChannelSeries",
    "DemoOptions",
    "DemoResult",
    "FeedReport",
    "PipelineApp",
    "ReadingFeed",
    "TopicReader",
    "TopicRecord",
    "WorkerOptions",
    "faust_settings",
    "format_alert",
    "prepare_topics",
    "read_history",
    "run_demo",
    "replay_to_kafka",
    "run_worker",
    "send_verdict",
    "tail_alerts",
    "with_bootstrap",
    "worker_cluster",
]
