"""Soak: one worker fed in real time for a long while, with bad input mixed in.

Readings of ``--channels`` channels arrive at ``--rate`` readings/s (set it to half the
throughput ``bench_stream.py`` measured) for ``--minutes``; every ``--bad-every`` seconds a few
bad messages of different kinds (garbage, a truncated record, a reading of an unknown channel,
a non-finite value, a 1 MB message) go to the same topic. Every ``--sample-seconds`` the run
records the worker's resident memory, its consumer lag (``streamproc_consumer_lag_messages``), the
reading-to-score latency of the scores received in that interval (p50/p99, from the
``streamproc-produced-at`` header, by an outside consumer) and the counts of scores, alerts and
dead letters. It writes the samples as CSV and prints a summary: whether memory, lag and latency
stay flat (first third against last third) and whether every bad message was dead-lettered.

    OMP_NUM_THREADS=1 python benchmarks/bench_soak.py --rate 1400 --minutes 30 --out runs/soak
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stream import OutputConsumer, Run, Variant, rss_mib, test_series, train_models  # noqa: E402

from streamproc.kafka import EmbeddedBroker  # noqa: E402
from streamproc.pipeline import PRODUCED_AT_HEADER  # noqa: E402
from streamproc.serde import Codec  # noqa: E402
from streamproc.stream import ChannelSeries  # noqa: E402

CODEC = Codec()


def bad_messages(channel: str, n_features: int, when_ms: int) -> list[tuple[bytes, bytes]]:
    """One of each kind of bad input a plant's network delivers, as ``(key, value)``."""
    good = CODEC.encode("SensorReading", {"channel": channel, "timestamp": when_ms, "values": [0.0] * n_features})
    return [
        (channel.encode(), b"not avro at all"),
        (channel.encode(), good[:-3]),
        (
            b"no-such-channel",
            CODEC.encode(
                "SensorReading", {"channel": "no-such-channel", "timestamp": when_ms, "values": [0.0] * n_features}
            ),
        ),
        (
            channel.encode(),
            CODEC.encode(
                "SensorReading", {"channel": channel, "timestamp": when_ms, "values": [float("nan")] * n_features}
            ),
        ),
        (channel.encode(), b"\xc3\x01" + os.urandom(1_000_000)),
    ]


class Sampler:
    """An outside consumer of scores, alerts and dead letters: counts, and score latencies."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.counts = {"scores": 0, "alerts": 0, "dead_letter": 0}
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        # Dead letters of 1 MB messages keep a 64 KiB prefix; fetches leave room for several.
        self._consumer = OutputConsumer(
            bootstrap,
            topics,
            tuple(self.counts),
            self._count,
            **{"fetch.max.bytes": 4_000_000, "max.partition.fetch.bytes": 2_000_000},
        )

    def _count(self, kind: str, message) -> None:
        received = time.time()
        with self._lock:
            self.counts[kind] += 1
            produced = dict(message.headers() or []).get(PRODUCED_AT_HEADER) if kind == "scores" else None
            if produced is not None:
                self.latencies.append(received - struct.unpack(">d", produced)[0])

    def take(self) -> tuple[dict[str, int], list[float]]:
        with self._lock:
            latencies, self.latencies = self.latencies, []
            return dict(self.counts), latencies

    def close(self) -> None:
        self._consumer.close()


def consumer_lag(worker) -> float:
    total = 0.0
    for line in worker.get("/metrics").decode().splitlines():
        if line.startswith("streamproc_consumer_lag_messages{"):
            total += float(line.split()[-1])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soak(args: argparse.Namespace, broker: EmbeddedBroker, workdir: Path, samples: list[dict]) -> None:
    """Run the soak, appending a row to ``samples`` every ``--sample-seconds``."""
    bootstrap = broker.bootstrap
    names = [f"s{i:03d}" for i in range(args.channels)]
    models = workdir / "models"
    train_models(models, "pca", names, args.window, args.features)
    run = Run(bootstrap, workdir, models, "pca", args.window, args.stride, Variant())
    worker = run.start()
    sampler = Sampler(bootstrap, run.topics)
    chunk_steps = 2000
    template = test_series(names, chunk_steps, args.features)
    stop = threading.Event()
    sent_bad = [0]
    start_ms = 1_700_000_000_000

    def feed() -> None:
        step = 0
        while not stop.is_set():
            series = [ChannelSeries(s.channel, s.values, s.feature_names) for s in template]
            run.feed.produce(series, rate=args.rate, start_ms=start_ms + step * 1000, step_ms=1000, stop=stop)
            step += chunk_steps

    def inject() -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000})
        while not stop.wait(args.bad_every):
            for key, value in bad_messages(names[0], args.features, int(time.time() * 1000)):
                producer.produce(run.topics["readings"], key=key, value=value)
                sent_bad[0] += 1
            producer.flush(10)

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=inject, daemon=True)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    last_cpu = {"worker": cpu_seconds(worker.process.pid), "broker": cpu_seconds(broker.pid)}
    last_scores, last_time = 0, time.monotonic()
    try:
        while time.monotonic() - began < args.minutes * 60:
            time.sleep(args.sample_seconds)
            counts, latencies = sampler.take()
            ms = 1000 * np.asarray(latencies) if latencies else np.zeros(0)
            now = time.monotonic()
            interval, last_time = now - last_time, now  # the real interval: sampling itself takes time
            alive = worker.process.poll() is None
            cpu = {
                "worker": cpu_seconds(worker.process.pid) if alive else last_cpu["worker"],
                "broker": cpu_seconds(broker.pid),
            }
            busy = {k: round(100 * (cpu[k] - last_cpu[k]) / interval) for k in cpu}
            last_cpu = cpu
            row = {
                "t_s": round(time.monotonic() - began, 1),
                "rss_mib": round(worker.rss_mib(), 1) if alive else None,
                "worker_cpu_pct": busy["worker"],
                "broker_rss_mib": round(rss_mib(broker.pid), 1),
                "broker_cpu_pct": busy["broker"],
                "scores_per_s": round((counts["scores"] - last_scores) / interval, 1),
                "lag": consumer_lag(worker) if alive else None,
                "scores": counts["scores"],
                "alerts": counts["alerts"],
                "dead_letters": counts["dead_letter"],
                "bad_sent": sent_bad[0],
                "score_p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
                "score_p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
                "worker_alive": alive,
            }
            last_scores = counts["scores"]
            samples.append(row)
            print(json.dumps(row), flush=True)
            if not row["worker_alive"]:
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        time.sleep(5)
        counts, _ = sampler.take()
        if samples:  # what arrived once the feed stopped; memory, lag and latency as last sampled
            samples.append(
                {
                    **samples[-1],
                    "scores": counts["scores"],
                    "alerts": counts["alerts"],
                    "dead_letters": counts["dead_letter"],
                    "bad_sent": sent_bad[0],
                    "t_s": "end",
                }
            )
        sampler.close()
        worker.stop()


def summary(samples: list[dict]) -> str:
    timed = [s for s in samples if s.get("t_s") != "end"]
    third = max(1, len(timed) // 3)
    first, last = timed[:third], timed[-third:]

    def mean(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(values)) if values else float("nan")

    end = samples[-1]
    lines = ["| measure | first third | last third |", "|---|---:|---:|"]
    for key, label in (
        ("rss_mib", "worker RSS (MiB)"),
        ("worker_cpu_pct", "worker CPU (% of a core)"),
        ("broker_rss_mib", "broker RSS (MiB)"),
        ("broker_cpu_pct", "broker CPU (% of a core)"),
        ("lag", "consumer lag (readings)"),
        ("scores_per_s", "scores received per second"),
        ("score_p50_ms", "score latency p50 (ms)"),
        ("score_p99_ms", "score latency p99 (ms)"),
    ):
        lines.append(f"| {label} | {mean(first, key):,.1f} | {mean(last, key):,.1f} |")
    lines.append("")
    lines.append(
        f"{len(timed)} samples; scores {end['scores']:,}, alerts {end['alerts']:,}; bad messages sent "
        f"{end['bad_sent']}, dead letters {end['dead_letters']}; worker alive at the end: "
        f"{timed[-1]['worker_alive']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, required=True, help="Readings per second (half the throughput).")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--stride", type=int, default=10)
    parser.add_argument("--bad-every", type=float, default=30.0, help="Seconds between bursts of bad messages.")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, help="Folder for samples.csv and summary.md.")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    samples: list[dict] = []
    try:
        with EmbeddedBroker() as broker:
            soak(args, broker, workdir, samples)
    except KeyboardInterrupt:
        print("interrupted: the samples so far", flush=True)
    if not samples:
        return
    text = summary(samples)
    machine = f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    print(text)
    print(machine)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with (args.out / "samples.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(samples[0]))
            writer.writeheader()
            writer.writerows(samples)
        (args.out / "summary.md").write_text(f"{text}\n\n{machine}\n")


if __name__ == "__main__":
    main()
