"""``streamproc bench table1`` end to end on a tiny synthetic telemanom directory with ``pca`` and ``range``."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from streamproc.bench import PUBLISHED_SMAP, published_figure, render_table1
from streamproc.datasets import SyntheticConfig, generate_synthetic, generate_synthetic_channels, write_telemanom
from streamproc.replay import ReplaySettings, replay
from streamproc.training import ModelStore

TINY = ["--vus-max-buffer", "40"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """S-1 and S-2 with 700 training steps; S-3 with only 150, too few for a 200-step window."""
    config = SyntheticConfig(n_features=3, train_steps=700, test_steps=1600, anomaly_ratio=0.06, seed=11)
    channels = generate_synthetic_channels(config, 2)
    channels["S-3"] = generate_synthetic(dataclasses.replace(config, train_steps=150, seed=5))
    return write_telemanom(tmp_path_factory.mktemp("tiny") / "data", channels)


def _bounded(value: float | None) -> bool:
    return value is not None and 0.0 <= value <= 1.0


def test_table_measures_every_row_reuses_its_cache_and_matches_the_replay(data, tmp_path, run_cli):
    out = tmp_path / "table"
    args = [
        "bench",
        "table1",
        "--data",
        str(data),
        "--out",
        str(out),
        "--detectors",
        "pca",
        "--channels",
        "S-1,S-2",
        "--set",
        "pca.window=16",
        *TINY,
    ]
    code, stdout, err = run_cli(*args)
    assert code == 0, err
    assert "pca: PA-F1" in stdout and "range (sanity): PA-F1" in stdout and "random_2pct (sanity): PA-F1" in stdout

    result = json.loads((out / "table1.json").read_text())
    assert result["complete"] and result["settings"]["channels"] == ["S-1", "S-2"]
    assert result["settings"]["detectors"] == ["pca", "range"]  # range added: every table carries it
    rows = result["detectors"]
    assert set(rows) == {"pca", "range", "random_2pct"}
    assert {name: row["sanity"] for name, row in rows.items()} == {"pca": False, "range": True, "random_2pct": True}
    for row in rows.values():
        assert row["status"] == "ok" and row["failures"] == []
        micro = row["micro"]
        for protocol in ("point_adjusted", "point_wise"):
            assert all(_bounded(micro[protocol][k]) for k in ("precision", "recall", "f1"))
        assert _bounded(micro["event_wise"]["f1"]) and _bounded(micro["vus_pr"])
        assert _bounded(micro["oracle_best_f1"]["f1"]) and set(row["channels"]) == {"S-1", "S-2"}
    # pca finds the planted anomalies far better than the random baseline.
    assert rows["pca"]["micro"]["point_wise"]["f1"] > rows["random_2pct"]["micro"]["point_wise"]["f1"] + 0.3

    # Training seconds are the ones stored with each model; speed counts every full window.
    store = ModelStore(out / "models")
    training, scoring = rows["pca"]["training"], rows["pca"]["scoring"]
    stored = {c: store.load("pca", c).metadata["training"]["seconds"] for c in ("S-1", "S-2")}
    assert training["per_channel"] == stored and training["seconds"] == pytest.approx(sum(stored.values()))
    assert training["models_trained"] == 2 and training["models_reused"] == 0
    assert scoring["windows"] == 2 * 1600 and scoring["windows_per_second"] > 0, "every test step is scored"
    assert rows["random_2pct"]["training"] is None and rows["random_2pct"]["published"] is None

    markdown = (out / "table1.md").read_text()
    assert "published PA F1 (quoted)" in markdown and "## Quoted figures (published, not measured here)" in markdown
    assert "≈ 0.84 (approx.)" in markdown and "(oracle)" in markdown
    assert "| range (sanity) |" in markdown and "| random_2pct (sanity) |" in markdown
    assert "Partial" not in markdown

    # The models are `streamproc train`'s layout: the replay scores them to the same metrics.
    replayed = replay(
        data,
        out / "models",
        ["pca"],
        tmp_path / "replay",
        channels=["S-1", "S-2"],
        settings=ReplaySettings(plots=False, vus_max_buffer=40),
    )
    assert replayed["detectors"]["pca"]["micro"] == rows["pca"]["micro"]
    # ... and the same alerts: Table 1's alert columns are the backtest of the detector alone.
    assert replayed["detectors"]["pca"]["alerts"]["micro"] == rows["pca"]["alerts"]["micro"]
    assert "## Alerts over 2 channel(s)" in markdown and "| alert F1 |" in markdown

    # A rerun trains and scores nothing and reports the same table.
    code, _, err = run_cli(*args)
    assert code == 0, err
    again = json.loads((out / "table1.json").read_text())
    assert again["run"]["models_trained"] == 0 and again["run"]["models_reused"] == 4
    assert again["run"]["streams_scored"] == 0 and again["run"]["streams_reused"] == 4
    for name in rows:
        assert again["detectors"][name]["micro"] == rows[name]["micro"]
    # The speed column keeps the time measured when the streams were scored.
    kept = again["detectors"]["pca"]["scoring"]
    assert (kept["windows"], kept["seconds"]) == (scoring["windows"], scoring["seconds"])


def test_a_detector_that_fails_to_train_is_reported_not_dropped(data, tmp_path, run_cli):
    out = tmp_path / "table"
    code, stdout, err = run_cli(
        "bench",
        "table1",
        "--data",
        str(data),
        "--out",
        str(out),
        "--detectors",
        "pca",
        "--set",
        "pca.window=200",
        *TINY,
    )
    assert code == 0, err
    assert "pca: FAILED on 1 channel(s)" in stdout and "FAILED in training" in err

    rows = json.loads((out / "table1.json").read_text())["detectors"]
    pca = rows["pca"]
    assert pca["status"] == "failed" and "micro" not in pca
    [failure] = pca["failures"]
    assert failure["channel"] == "S-3" and failure["stage"] == "training" and "window=200" in failure["error"]
    assert pca["training"]["models_trained"] == 2  # the channels that could be trained are kept for a rerun
    assert rows["range"]["status"] == "ok" and set(rows["range"]["channels"]) == {"S-1", "S-2", "S-3"}

    markdown = (out / "table1.md").read_text()
    assert "| pca | **failed** (training) on 1 of 3 channel(s), e.g. S-3:" in markdown
    assert "## Failures" in markdown and "`pca` on S-3 (training)" in markdown


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--detectors", "nope"], "unknown detector(s) nope"),
        (["--detectors", "pca", "--set", "range.nope=1"], "nope"),
        (["--detectors", "pca", "--set", "usad.epochs=1"], "--set names detector(s) not being run: usad"),
        (["--detectors", "pca", "--channels", "S-9"], "unknown channel(s) S-9"),
    ],
)
def test_user_errors_end_in_one_line_before_any_training(data, tmp_path, run_cli, extra, message):
    out = tmp_path / "table"
    code, _, err = run_cli("bench", "table1", "--data", str(data), "--out", str(out), *extra)
    assert code == 1 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_quoted_figures_sit_beside_their_detector_and_say_when_they_are_approximate(data, tmp_path, run_cli):
    out = tmp_path / "table"
    code, _, err = run_cli(
        "bench",
        "table1",
        "--data",
        str(data),
        "--out",
        str(out),
        "--detectors",
        "pca",
        "--channels",
        "S-1",
        "--set",
        "pca.window=16",
        *TINY,
    )
    assert code == 0, err
    result = json.loads((out / "table1.json").read_text())
    # Present the measured pca row under the names of published methods.
    for name in ("usad", "tranad", "mscred"):
        row = copy.deepcopy(result["detectors"]["pca"])
        row["published"] = published_figure(name).to_json()
        result["detectors"][name] = row
    headline = render_table1(result).split("## Micro", 1)[1].split("\n## ", 1)[0]
    row_of = {line.split(" | ")[0][2:]: line.split(" | ") for line in headline.splitlines() if line.startswith("| ")}
    published_column = row_of["detector"].index("published PA F1 (quoted)")
    assert row_of["usad"][published_column] == "≈ 0.84 (approx.)"
    assert row_of["tranad"][published_column] == "0.8915"
    assert row_of["mscred"][published_column] == "not quoted"
    assert row_of["pca"][published_column] == "-"

    # Only the rounded, unverified figures are quoted for USAD and OmniAnomaly, and marked so.
    assert {f.detector for f in PUBLISHED_SMAP if f.approximate and f.pa_f1 is not None} == {"usad", "omnianomaly"}
    assert published_figure("structure_aware").pa_f1 == pytest.approx(0.930)
