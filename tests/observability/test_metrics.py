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
    metrics.track_open_alerts(lambda: 2)
    metrics.track_consumer_lag(lambda: {("readings", 1): 5, ("readings", 0): -1})
    found = samples(metrics)
    assert found[("streamproc_readings_total", (("outcome", "accepted"),))] == 3
    assert found[("streamproc_dead_letters_total", (("reason", "non-finite"),))] == 1
    assert found[("streamproc_scoring_seconds_count", (("detector", "pca"),))] == 1
    assert found[("streamproc_reading_to_alert_seconds_bucket", (("le", "0.5"),))] == 1
    assert found[("streamproc_open_alerts", ())] == 2
    assert found[("streamproc_consumer_lag", (("partition", "1"), ("topic", "readings")))] == 5
    assert found[("streamproc_consumer_lag", (("partition", "0"), ("topic", "readings")))] == 0
    assert "charset" not in metrics.content_type and metrics.content_type.startswith("text/plain")


def test_registries_are_per_worker():
    first, second = WorkerMetrics(), WorkerMetrics()
    first.readings.labels("accepted").inc()
    assert ("streamproc_readings_total", (("outcome", "accepted"),)) not in samples(second)


TP = namedtuple("TP", "topic partition")


def fake_app(**state):
    tp = TP
    defaults = {"crashed": False, "started": True, "rebalancing": False, "in_recovery": False,
                "consumer": SimpleNamespace(assignment=lambda: {tp(topic="r", partition=1), tp(topic="r", partition=0),
                                                                tp(topic="app-windows-changelog", partition=0)})}
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
