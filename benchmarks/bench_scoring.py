"""Scoring throughput and peak memory of a detector on the CPU.

Fits the detector (spec defaults, optionally overridden) on synthetic scaled data, then
scores batches of windows and prints a markdown table of windows per second per batch size,
the peak resident memory, and the machine. Run it alone on the machine; on a shared one,
under the CPU lock::

    flock /tmp/streamproc-cpu.lock python benchmarks/bench_scoring.py --threads 2

Overrides are ``--set key=value`` (JSON values): ``--set d_model=24 --set layers=2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time

import numpy as np
import torch

from streamproc.detection import DetectorRegistry, sliding_windows


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _synthetic(steps: int, features: int, seed: int) -> np.ndarray:
    """Sines of assorted periods plus noise, roughly on the robust scaler's scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    periods = rng.uniform(20, 200, features)
    phases = rng.uniform(0, 2 * np.pi, features)
    return (np.sin(2 * np.pi * t / periods + phases) + 0.1 * rng.standard_normal((steps, features))).astype(np.float32)


def _throughput(
    detector, windows: np.ndarray, batch: int, repeats: int, min_seconds: float
) -> tuple[list[float], list[float]]:
    """Windows per wall-clock second and per process-CPU second, one of each per timed round."""
    batches = [np.ascontiguousarray(windows[i : i + batch]) for i in range(0, len(windows) - batch + 1, batch)]
    detector.score(batches[0])  # warm-up: lazy initialisation, allocator
    rates, cpu_rates = [], []
    for _ in range(repeats):
        scored, calls, started, cpu_started = 0, 0, time.perf_counter(), time.process_time()
        while True:
            chunk = batches[calls % len(batches)]
            detector.score(chunk)
            scored += len(chunk)
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        rates.append(scored / elapsed)
        cpu_rates.append(scored / (time.process_time() - cpu_started))
    return rates, cpu_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", default="structure_aware")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--batches", default="1,64,1024", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per batch size (median reported)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="shortest timed round")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (JSON value), repeatable"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    spec = DetectorRegistry([args.detector]).spec(args.detector)
    overrides = {"window": args.window}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    if "device" in spec.default_config:
        overrides.setdefault("device", "cpu")
    detector = spec.build(**overrides)

    train = _synthetic(args.train_steps, args.features, seed=0)
    report = detector.fit(train)
    fit_rss = _peak_rss_mib()
    windows = sliding_windows(_synthetic(args.window + 4096, args.features, seed=1), args.window)

    load_before = f"{os.getloadavg()[0]:.2f}"
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        rates, cpu_rates = _throughput(detector, windows, batch, args.repeats, args.min_seconds)
        rows.append(
            (
                batch,
                statistics.median(rates),
                max(rates),
                statistics.median(cpu_rates),
                1000.0 * batch / statistics.median(rates),
                _peak_rss_mib(),
            )
        )

    print(f"## {args.detector} scoring on CPU: window {args.window}, {args.features} features\n")
    print(f"config overrides: `{json.dumps(overrides, sort_keys=True)}`\n")
    print("| batch | windows/s (median) | windows/s (best) | windows per CPU-s | ms per batch | peak RSS after (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch, median, best, per_cpu, latency, rss in rows:
        print(f"| {batch} | {median:,.0f} | {best:,.0f} | {per_cpu:,.0f} | {latency:.2f} | {rss:.0f} |")
    print()
    print(
        f"- fit: {report.seconds:.1f} s on {args.train_steps} synthetic steps "
        f"({report.train_windows} windows, {report.epochs} epochs); peak RSS after fit {fit_rss:.0f} MiB"
    )
    print(f"- load average before/after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(
        f"- machine: {_cpu_model()}, {os.cpu_count()} logical cores "
        f"({len(os.sched_getaffinity(0))} usable), torch {torch.__version__} with {torch.get_num_threads()} "
        f"threads, numpy {np.__version__}, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
