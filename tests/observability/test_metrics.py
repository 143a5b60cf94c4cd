from collections import namedtuple
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from streamproc.observability import WorkerMetrics, assigned_partitions, readiness


def samples(metrics: WorkerMetrics) -> dict:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_exposition_has_every_metric():
    metrics = WorkerMetrics()
    metrics.readings.labels("accepted").inc(3)
    metrics.dead_letters.labels("non-finite").inc()
    metrics.scoring_seconds.labels("pca").observe(0.002)
    metrics.reading_to_alert_seconds.observe(0.3)
    metrics.track_open_alerts(lambda: {"HIGH": 2})
    metrics.track_consumer_lag(lambda: {("readings", 1): 5, ("readings", 0): -1})
    found = samples(metrics)
    assert found[("streamproc_readings_total", (("outcome", "accepted"),))] == 3
    assert found[("streamproc_dead_letters_total", (("reason", "non-finite"),))] == 1
    assert found[("streamproc_scoring_seconds_count", (("detector", "pca"),))] == 1
    assert found[("streamproc_reading_to_alert_seconds_bucket", (("le", "0.5"),))] == 1
    assert found[("streamproc_open_alerts", (("severity", "HIGH"),))] == 2
    assert found[("streamproc_open_alerts", (("severity", "LOW"),))] == 0
    assert found[("streamproc_consumer_lag_messages", (("partition", "1"), ("topic", "readings")))] == 5
    assert found[("streamproc_consumer_lag_messages", (("partition", "0"), ("topic", "readings")))] == 0
    assert "charset" not in metrics.content_type and metrics.content_type.startswith("text/plain")


def test_process_and_build_metrics_are_exposed():
    from streamproc import __version__

    found = samples(WorkerMetrics())
    assert found[("process_resident_memory_bytes", ())] > 0
    assert ("python_gc_objects_collected_total", (("generation", "0"),)) in found
    assert [labels for name, labels in found if name == "streamproc_build_info"][0][1] == ("version", __version__)


def test_channel_series_are_bounded_and_say_what_they_left_out():
    metrics = WorkerMetrics(channel_limit=2)
    metrics.channels.score("a", "pca", 3.0, 1.5)
    metrics.channels.reading("a", 100.0)
    metrics.channels.reading("a", 90.0)  # an older reading does not move the time back
    metrics.channels.models("b", {"pca": "v1", "range": "v2"})
    metrics.channels.score("c", "pca", 9.0, 1.0)  # a third channel: over the limit
    found = samples(metrics)
    assert found[("streamproc_channel_score_ratio", (("channel", "a"), ("detector", "pca")))] == 2.0
    assert found[("streamproc_channel_threshold", (("channel", "a"), ("detector", "pca")))] == 1.5
    assert found[("streamproc_channel_last_reading_timestamp_seconds", (("channel", "a"),))] == 100.0
    assert found[("streamproc_model_info", (("channel", "b"), ("detector", "range"), ("model_version", "v2")))] == 1
    assert not any(labels and dict(labels).get("channel") == "c" for _, labels in found)
    assert found[("streamproc_channel_metrics_skipped_total", ())] == 1
    # A channel whose partition leaves takes its series with it; the others stay.
    metrics.channels.located("a", "readings", 0)
    metrics.channels.located("b", "readings", 1)
    metrics.channels.forget([("readings", 0)])
    found = samples(metrics)
    assert not any(labels and dict(labels).get("channel") == "a" for _, labels in found)
    assert found[("streamproc_model_info", (("channel", "b"), ("detector", "pca"), ("model_version", "v1")))] == 1


def test_every_metric_name_states_its_unit_or_what_it_counts():
    units = ("_seconds", "_messages", "_total", "_bytes", "_ratio", "_info", "_count", "_sum", "_bucket", "_created")
    counted = {"streamproc_open_alerts", "streamproc_channel_threshold"}
    metrics = WorkerMetrics()
    metrics.track_open_alerts(dict)
    metrics.track_consumer_lag(dict)
    metrics.channels.score("a", "pca", 1.0, 1.0)
    names = {name for name, _ in samples(metrics) if name.startswith("streamproc_")}
    assert names and all(n.endswith(units) or n in counted for n in names), sorted(names)


def test_registries_are_per_worker():
    first, second = WorkerMetrics(), WorkerMetrics()
    first.readings.labels("accepted").inc()
    assert ("streamproc_readings_total", (("outcome", "accepted"),)) not in samples(second)


TP = namedtuple("TP", "topic partition")


def fake_app(**state):
    tp = TP
    defaults = {
        "crashed": False,
        "started": True,
        "rebalancing": False,
        "in_recovery": False,
        "consumer": SimpleNamespace(
            assignment=lambda: {
                tp(topic="r", partition=1),
                tp(topic="r", partition=0),
                tp(topic="app-windows-changelog", partition=0),
            }
        ),
    }
    return SimpleNamespace(**{**defaults, **state})


def test_readiness():
    assert readiness(fake_app()) == (True, "ready")
    assert readiness(fake_app(started=False)) == (False, "starting")
    assert readiness(fake_app(rebalancing=True)) == (False, "rebalancing")
    assert readiness(fake_app(in_recovery=True)) == (False, "recovering tables")
    assert readiness(fake_app(crashed=True)) == (False, "crashed")
    assert readiness(fake_app(consumer=SimpleNamespace(assignment=set))) == (False, "no partitions assigned")


def test_assigned_partitions_leave_out_changelogs():
    assert assigned_partitions(fake_app()) == {"r": [0, 1]}
