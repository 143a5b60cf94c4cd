"""Commands that talk to Kafka end with one line, not a traceback, when the cluster is not there.

Run as a user runs them, in a process of their own: in-process, pytest's log capture would hide
what an unconfigured command prints (librdkafka's every failed connection attempt, once)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1


@pytest.mark.parametrize(
    "args",
    [
        ("alerts", "tail"),
        ("alerts", "feedback", "some-alert", "--verdict", "unsure"),
        ("models", "compare", "pca"),
        ("train", "--detector", "pca", "--from-topic", "sensors.readings", "--out", "models"),
    ],
)
@pytest.mark.timeout(90)
def test_an_unreachable_cluster_is_one_line_and_a_failure(tmp_path, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMPROC_", "KAFKA_"))}
    done = subprocess.run(
        [sys.executable, "-m", "streamproc", *args],
        env={**env, "KAFKA_BOOTSTRAP": UNREACHABLE},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr[-2000:]
