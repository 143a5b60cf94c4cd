"""Parity: a data set streamed through the real worker raises exactly the alerts the offline
backtest writes for it, ids included; and clean streams' false alerts stay within the bound."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic, generate_synthetic_channels, write_telemanom
from streamproc.training import ModelStore, train_channel

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

WINDOW = 16
STRIDE = 4
TEST_STEPS = 400
START = "2026-01-01T00:00:00+00:00"
CLEAN = ("C-1", "C-2")
# The bound of tests/replay/test_backtest.py: at most one false alert per window the POT risk
# (1e-3) lets through, i.e. risk * 10,000 / stride false alerts per 10,000 steps.
FALSE_ALERTS_PER_10K_STEPS = 1e-3 * 10_000 / STRIDE


def alert_key(record: dict) -> tuple:
    return (
        record["alert_id"],
        record["channel"],
        record["state"],
        record["opened_at"],
        record["updated_at"],
        record["resolved_at"],
        record["severity"],
        [f["name"] for f in record["top_features"]],
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A telemanom data set of three anomalous and two clean channels, and their pca models."""
    root = tmp_path_factory.mktemp("parity")
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=4, train_steps=1500, test_steps=TEST_STEPS, anomaly_ratio=0.06, seed=21),
        n_channels=3,
    )
    for i, name in enumerate(CLEAN):
        channels[name] = generate_synthetic(
            SyntheticConfig(n_features=4, train_steps=4000, test_steps=TEST_STEPS, anomaly_ratio=0.0, seed=60 + i)
        )
    write_telemanom(root / "data", channels)
    store = ModelStore(root / "models")
    for name, data in channels.items():
        store.save(train_channel("pca", name, data.train, config={"window": WINDOW}, feature_names=data.feature_names))
    return root, channels


def test_the_worker_raises_the_alerts_the_backtest_writes(recorded, make_pipeline, tmp_path, run_cli):
    root, channels = recorded
    models = SimpleNamespace(root=root / "models", window=WINDOW, stride=STRIDE)
    pipeline = make_pipeline(tmp_path, "parity", models)
    try:
        pipeline.start_worker()
        feed = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamproc",
                "replay",
                "--to-kafka",
                "--data",
                str(root / "data"),
                "--start-time",
                START,
            ],
            env=pipeline.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert feed.returncode == 0, feed.stderr
        # The warm-up fills each window, so every test step from the first on ends a window.
        expected_windows = len(channels) * math.ceil(TEST_STEPS / STRIDE)
        pipeline.wait_for(
            lambda: sum(map(len, pipeline.scored_windows().values())) >= expected_windows,
            timeout=120,
            what="every window scored",
        )

        code, _, err = run_cli(
            "replay",
            "--data",
            str(root / "data"),
            "--models",
            str(root / "models"),
            "--detectors",
            "pca",
            "--out",
            str(tmp_path / "offline"),
            "--no-plots",
            "--start-time",
            START,
            "--set",
            f"window.stride={STRIDE}",
        )
        assert code == 0, err
        offline = [json.loads(line) for line in (tmp_path / "offline" / "alerts.jsonl").read_text().splitlines()]
        assert any(r["state"] == "OPEN" for r in offline), "the planted anomalies raise alerts"
        pipeline.wait_for(
            lambda: len(pipeline.records("alerts")) >= len(offline), timeout=30, what="the backtest's number of alerts"
        )
        streamed = [r.record for r in pipeline.records("alerts")]
        for name in channels:
            assert [alert_key(r) for r in streamed if r["channel"] == name] == [
                alert_key(r) for r in offline if r["channel"] == name
            ], name
        assert sorted(pipeline.scored_windows()) == sorted(channels)
        assert all(len(ends) == len(set(ends)) for ends in pipeline.scored_windows().values())

        # Clean streams through the worker: false alerts within the bound the offline test states.
        false_alerts = sum(r["state"] == "OPEN" for r in streamed if r["channel"] in CLEAN)
        assert false_alerts / (len(CLEAN) * TEST_STEPS) * 10_000 <= FALSE_ALERTS_PER_10K_STEPS
    finally:
        pipeline.close()
