"""Start-up and stop time of the embedded broker.

Starts and stops :class:`streamproc.kafka.EmbeddedBroker` repeatedly and prints a markdown table:
time until the broker answers a Kafka metadata request (what ``start()`` waits for), time to stop
it, and time for a consumer group's first member to receive its first message with the embedded
client overrides. Also times ``streamproc broker start`` until it prints its bootstrap address
(dominated by Python imports). Run it under the CPU lock on a shared machine::

    flock /tmp/streamproc-cpu.lock python benchmarks/bench_broker_startup.py
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer

from streamproc.bench import describe_machine, machine_line
from streamproc.kafka import EMBEDDED_OVERRIDES, EmbeddedBroker, KafkaCluster, create_topics


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{statistics.median(ordered) * 1000:.0f} | {p90 * 1000:.0f} | "
        f"{ordered[0] * 1000:.0f} | {ordered[-1] * 1000:.0f}"
    )


def _broker_cycles(runs: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    for _ in range(runs):
        broker = EmbeddedBroker().start()
        starts.append(broker.startup_seconds)
        began = time.perf_counter()
        broker.stop()
        stops.append(time.perf_counter() - began)
    return starts, stops


def _group_join(runs: int) -> list[float]:
    joins = []
    with EmbeddedBroker() as broker:
        cluster = KafkaCluster(broker.bootstrap, embedded=True)
        create_topics(broker.bootstrap, {"join": 1})
        producer = Producer(cluster.producer_config())
        producer.produce("join", b"x")
        producer.flush(10)
        for run in range(runs):
            consumer = Consumer(cluster.consumer_config(f"join-{run}", {"auto.offset.reset": "earliest"}))
            began = time.perf_counter()
            consumer.subscribe(["join"])
            while True:
                message = consumer.poll(0.1)
                if message is not None and message.error() is None:
                    break
            joins.append(time.perf_counter() - began)
            consumer.close()
    return joins


def _cli_until_bootstrap(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "streamproc", "broker", "start"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = process.stdout.readline()
        samples.append(time.perf_counter() - began)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if not line.startswith("bootstrap: "):
            raise SystemExit(f"unexpected output from broker start: {line!r}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="broker start/stop cycles")
    parser.add_argument("--joins", type=int, default=3, help="consumer-group joins to time")
    parser.add_argument("--cli-runs", type=int, default=3, help="`broker start` launches to time")
    args = parser.parse_args()

    starts, stops = _broker_cycles(args.runs)
    joins = _group_join(args.joins)
    cli = _cli_until_bootstrap(args.cli_runs)
    session = EMBEDDED_OVERRIDES.consumer["session.timeout.ms"]
    print(f"machine: {machine_line(describe_machine())}; load average {os.getloadavg()[0]:.1f}")
    print()
    print("| measurement | runs | median ms | p90 ms | min ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| EmbeddedBroker.start() until metadata answers | {len(starts)} | {_summary(starts)} |")
    print(f"| EmbeddedBroker.stop() | {len(stops)} | {_summary(stops)} |")
    print(f"| first group member's first message (session {session} ms) | {len(joins)} | {_summary(joins)} |")
    print(f"| `streamproc broker start` until bootstrap printed | {len(cli)} | {_summary(cli)} |")


if __name__ == "__main__":
    main()
