"""Commands that talk to Kafka end with one line, not a traceback, when the cluster is not there."""

from __future__ import annotations

import pytest

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1


@pytest.mark.parametrize(
    "args",
    [
        ("alerts", "tail"),
        ("alerts", "feedback", "some-alert", "--verdict", "unsure"),
    ],
)
def test_an_unreachable_cluster_is_one_line_and_a_failure(run_cli, monkeypatch, args):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", UNREACHABLE)
    code, _, err = run_cli(*args)
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")
