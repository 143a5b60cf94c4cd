"""The embedded broker's life cycle: start, readiness, and stopping however its owner ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from confluent_kafka.admin import AdminClient

from streamproc.kafka import BrokerStartError, EmbeddedBroker


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped by its new parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.broker
def test_started_broker_answers_kafka_metadata_on_loopback():
    with EmbeddedBroker() as broker:
        assert broker.running
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
        assert broker.startup_seconds is not None and broker.startup_seconds > 0
        metadata = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5)
        assert [b.port for b in metadata.brokers.values()] == [broker.port]


@pytest.mark.broker
def test_exception_in_block_stops_broker_and_frees_its_port():
    with pytest.raises(RuntimeError, match="boom"):
        with EmbeddedBroker() as broker:
            pid, port = broker.pid, broker.port
            raise RuntimeError("boom")
    assert _gone_within(pid, 5)
    assert not _accepts(port)
    # The port is free for the next broker.
    with EmbeddedBroker(port) as again:
        assert again.port == port and _accepts(port)


@pytest.mark.broker
def test_keyboard_interrupt_in_block_stops_broker():
    with pytest.raises(KeyboardInterrupt):
        with EmbeddedBroker() as broker:
            pid = broker.pid
            raise KeyboardInterrupt
    assert _gone_within(pid, 5)
    assert not broker.running


@pytest.mark.broker
def test_stop_is_idempotent_and_a_broker_starts_once():
    broker = EmbeddedBroker().start()
    pid = broker.pid
    with pytest.raises(BrokerStartError, match="already started"):
        broker.start()
    broker.stop()
    broker.stop()
    assert not _alive(pid)
    with pytest.raises(BrokerStartError, match="not running"):
        _ = broker.bootstrap


@pytest.mark.broker
def test_port_in_use_is_an_error_naming_the_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerStartError, match=f"port {port}: .*in use"):
            EmbeddedBroker(port).start()


def test_out_of_range_port_is_rejected():
    with pytest.raises(BrokerStartError, match="between 1 and 65535, got 70000"):
        EmbeddedBroker(70000)


def test_missing_binary_is_a_start_error(tmp_path):
    missing = tmp_path / "tansu"
    with pytest.raises(BrokerStartError, match=f"cannot run the broker binary {missing}"):
        EmbeddedBroker(binary=str(missing)).start()


def test_binary_that_exits_during_start_up_is_reported_with_its_output(tmp_path):
    fake = tmp_path / "fake-broker"
    fake.write_text("#!/bin/sh\necho 'no storage engine' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerStartError, match="status 3; its output:\nno storage engine"):
        EmbeddedBroker(binary=str(fake)).start()


def test_broker_that_never_answers_times_out(tmp_path):
    fake = tmp_path / "silent-broker"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    broker = EmbeddedBroker(binary=str(fake), startup_timeout=0.3)
    with pytest.raises(BrokerStartError, match="did not accept Kafka connections within 0.3s"):
        broker.start()
    assert not broker.running


_OWNER = textwrap.dedent("""
    import sys, time
    from streamproc.kafka import EmbeddedBroker
    broker = EmbeddedBroker().start()
    print(broker.pid, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)        # never stopped explicitly: the exit handlers must do it
    time.sleep(60)         # waits to be killed
""")


@pytest.mark.broker
@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_broker_outlives_its_owner_process(ending):
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, ending], stdout=subprocess.PIPE, text=True)
    pid = None
    try:
        pid = int(owner.stdout.readline())
        if ending == "sigkill":
            os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        assert _gone_within(pid, 5), f"broker {pid} survived its owner ({ending})"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)
