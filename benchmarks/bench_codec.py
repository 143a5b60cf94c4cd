"""Encode and decode throughput of the Avro codec, one thread.

Encodes and decodes realistic SensorReading and AnomalyScore records in both wire formats
(single-object, and Confluent through confluent-kafka's in-memory mock registry), with and
without full validation, and prints a markdown table of messages per CPU-second of one core. Run it alone on
the machine; on a shared one, under the CPU lock::

    flock /tmp/streamproc-cpu.lock python benchmarks/bench_codec.py
"""

from __future__ import annotations

import argparse
import random
import time

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamproc.bench import describe_machine, machine_line
from streamproc.serde import Codec


def _records(features: int, count: int) -> dict[str, list[dict]]:
    rng = random.Random(0)
    names = [f"sensor_{i}" for i in range(features)]
    readings = [
        {
            "channel": f"M-{i % 50}",
            "timestamp": 1_700_000_000_000 + i,
            "values": [rng.gauss(0, 1) for _ in range(features)],
            "feature_names": names,
        }
        for i in range(count)
    ]
    scores = [
        {
            "channel": f"M-{i % 50}",
            "window_end": 1_700_000_000_000 + i,
            "detector": "pca",
            "model_version": "1.0.0",
            "score": rng.random(),
            "threshold": 0.9,
            "anomalous": False,
            "contributions": [rng.random() for _ in range(features)],
            "feature_names": None,
        }
        for i in range(count)
    ]
    return {"SensorReading": readings, "AnomalyScore": scores}


def _rate(action, items, repeats: int) -> float:
    # CPU time of this (single-threaded) process: robust to other load on a shared machine.
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for item in items:
            action(item)
        best = min(best, time.process_time() - start)
    return len(items) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=25, help="values per reading (SMAP has 25)")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many passes")
    args = parser.parse_args()

    records = _records(args.features, args.messages)
    print(
        f"machine: {machine_line(describe_machine())}; {args.features} features, "
        f"{args.messages} messages, best of {args.repeats}\n"
    )
    print("| schema | wire format | validate | encode msg/CPU-s | decode msg/CPU-s | bytes/msg |")
    print("|---|---|---|---:|---:|---:|")
    for name, items in records.items():
        for wire in ("single-object", "confluent"):
            for validate in (True, False):
                registry = SchemaRegistryClient.new_client({"url": "mock://bench"}) if wire == "confluent" else None
                codec = Codec(registry=registry, validate=validate)
                encoded = [codec.encode(name, record) for record in items]
                encode = _rate(lambda r, codec=codec, name=name: codec.encode(name, r), items, args.repeats)
                decode = _rate(codec.decode, encoded, args.repeats)
                size = sum(map(len, encoded)) / len(encoded)
                print(f"| {name} | {wire} | {validate} | {encode:,.0f} | {decode:,.0f} | {size:.0f} |")


if __name__ == "__main__":
    main()
