"""``streamproc broker start``: the embedded broker in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
from confluent_kafka.admin import AdminClient


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_") and k != "KAFKA_BOOTSTRAP"}


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first stdout line, or "" when none comes in time (a blocking read cannot time out)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@pytest.mark.broker
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_start_prints_bootstrap_serves_topics_and_stops_cleanly(stop_signal):
    process = subprocess.Popen(
        [sys.executable, "-m", "streamproc", "broker", "start", "--topics", "default,extra.topic:3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        line = _first_line(process, timeout=60)
        match = re.fullmatch(r"bootstrap: (127\.0\.0\.1:(\d+))\n", line)
        assert match, f"unexpected first line {line!r}"
        bootstrap, port = match.group(1), int(match.group(2))
        topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
        assert len(topics["extra.topic"].partitions) == 3
        assert len(topics["sensors.readings"].partitions) == 4  # topics.partitions default

        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert err.rstrip().endswith("broker stopped")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_bad_topics_option_is_one_error_line():
    result = subprocess.run(
        [sys.executable, "-m", "streamproc", "broker", "start", "--topics", "readings:0"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: --topics: 'readings:0' is not 'default' or NAME:PARTITIONS "
        "(a positive partition count, e.g. sensors.readings:4)"
    ]
