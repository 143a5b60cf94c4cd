"""Real outputs to report on: a replay, a Table 1 and a sensitivity run of ``pca`` on tiny synthetic data,
and a Table 1 in the flat format first announced for it (the report reads both)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamproc.bench import SensitivitySettings, Table1Settings, run_sensitivity, run_table1
from streamproc.datasets import SyntheticConfig, generate_synthetic_channels, write_telemanom
from streamproc.replay import ReplaySettings, replay
from streamproc.training import ModelStore, train_channel

TABLE1 = {
    "detectors": {
        "structure_aware": {
            "pa_f1": 0.812,
            "pa_precision": 0.75,
            "pa_recall": 0.885,
            "pw_f1": 0.41,
            "event_f1": 0.52,
            "vus_pr": 0.334,
            "train_seconds": 125.5,
            "windows_per_s": 15234.0,
            "brand_new_metric": 0.777,
        },
        "pca": {"pa_f1": 0.7, "pw_f1": 0.3, "vus_pr": None},
        "random_2pct": {"pa_f1": 0.69, "pw_f1": 0.03, "sanity": True},
    },
    "quoted": {"paper": {"pa_f1": 0.956, "pa_precision": 0.94}},
}


@pytest.fixture(scope="session")
def outputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("outputs")
    config = SyntheticConfig(n_features=3, train_steps=600, test_steps=1200, anomaly_ratio=0.06, seed=3)
    data = write_telemanom(root / "data", generate_synthetic_channels(config, 2))

    store = ModelStore(root / "models")
    from streamproc.datasets import load_telemanom

    for channel in load_telemanom(data):
        store.save(
            train_channel("pca", channel.name, channel.train, config={"window": 8}, feature_names=channel.feature_names)
        )
    replay(data, root / "models", ["pca"], root / "replay", settings=ReplaySettings(vus_max_buffer=20))

    settings = SensitivitySettings(
        detectors=("pca",),
        seeds=1,
        ratios=(0.02, 0.1),
        noise_levels=(0.0, 0.2),
        windows=(8, 12),
        overrides={"pca": {"window": 8}},
        min_length=300,
        vus_max_buffer=20,
    )
    run_sensitivity(data, root / "sensitivity", settings)

    run_table1(
        data,
        root / "table1-run",
        Table1Settings(detectors=("pca",), overrides={"pca": {"window": 8}}, vus_max_buffer=20),
    )

    table1 = root / "table1"
    table1.mkdir()
    (table1 / "table1.json").write_text(json.dumps(TABLE1))
    (table1 / "table1.md").write_text("| detector | PA F1 |\n|---|---:|\n| pca | 0.700 |\n")
    return {
        "data": data,
        "replay": root / "replay",
        "sensitivity": root / "sensitivity",
        "table1": table1,
        "table1_run": root / "table1-run",
    }
