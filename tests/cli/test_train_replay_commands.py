"""``streamproc train`` then ``streamproc replay`` on a small synthetic telemanom directory."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from streamproc.cli import main
from streamproc.datasets import SyntheticConfig, generate_synthetic_channels, write_telemanom
from streamproc.training import ModelStore

CHANNELS = ["S-1", "S-2", "S-3"]
WINDOW = 8
TEST_STEPS = 700
N_FEATURES = 3


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["streamproc", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code or 0
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--detector",
        "pca",
        "--data",
        str(data),
        "--out",
        str(out),
        "--set",
        f"window={WINDOW}",
        "--set",
        "max_train_windows=2000",
        *extra,
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=N_FEATURES, train_steps=800, test_steps=TEST_STEPS, anomaly_ratio=0.06, seed=5),
        n_channels=3,
    )
    write_telemanom(data, channels)
    code, out, err = run_cli(*train_args(data, root / "models"))
    assert code == 0, err
    assert "trained 3, skipped 0" in out
    code, out, err = run_cli(
        "replay",
        "--data",
        str(data),
        "--models",
        str(root / "models"),
        "--detectors",
        "pca",
        "--out",
        str(root / "out"),
    )
    assert code == 0, err
    return root, channels, out


def _labels(channels, name):
    return np.asarray(channels[name].labels, bool)


def test_models_are_written_per_channel(run) -> None:
    root, _, _ = run
    for name in CHANNELS:
        assert {p.name for p in (root / "models" / "pca" / name).iterdir()} >= {"versions", "pointers.json"}
        files = {p.name for p in ModelStore(root / "models").live_path("pca", name).iterdir()}
        assert files == {"metadata.json", "arrays.npz", "calibration.npy", "version.json"}
        meta = json.loads((ModelStore(root / "models").live_path("pca", name) / "metadata.json").read_text())
        assert meta["config"]["window"] == WINDOW
        assert meta["training"]["calibration"]["source"] == "validation"


def test_replay_writes_score_arrays_of_the_documented_shapes(run) -> None:
    root, _, _ = run
    for name in CHANNELS:
        with np.load(root / "out" / "scores" / "pca" / f"{name}.npz", allow_pickle=False) as arrays:
            assert set(arrays.files) == {"score", "threshold", "alarm", "contributions"}
            score, threshold, alarm = arrays["score"], arrays["threshold"], arrays["alarm"]
            contributions = arrays["contributions"]
        assert score.shape == threshold.shape == alarm.shape == (TEST_STEPS,)
        assert contributions.shape == (TEST_STEPS, N_FEATURES)
        assert alarm.dtype == bool
        # The window starts full of the end of the training data, as a running worker's does.
        assert np.isfinite(score).all() and np.isfinite(contributions).all()
        np.testing.assert_array_equal(alarm, score > threshold)
        assert len(np.unique(threshold)) == 1, "no adaptation was asked for"


def test_metrics_report_and_plots(run) -> None:
    root, channels, stdout = run
    metrics = json.loads((root / "out" / "metrics.json").read_text())
    assert metrics["headline"] == "micro"
    assert set(metrics["detectors"]) == {"pca", "random_2pct"}
    assert metrics["detectors"]["random_2pct"]["sanity"] and not metrics["detectors"]["pca"]["sanity"]
    pca = metrics["detectors"]["pca"]
    assert set(pca["channels"]) == set(CHANNELS)
    assert pca["micro"]["n_labelled"] == sum(int(_labels(channels, c).sum()) for c in CHANNELS)
    for key in ("point_adjusted", "point_wise", "event_wise", "oracle_best_f1", "oracle_best_f1_point_adjusted"):
        assert 0.0 <= pca["micro"][key]["f1"] <= 1.0
    assert 0.0 <= pca["micro"]["vus_pr"] <= 1.0
    # The planted anomalies are easy: PCA must beat the random sanity row without point adjustment.
    assert pca["micro"]["point_wise"]["f1"] > metrics["detectors"]["random_2pct"]["micro"]["point_wise"]["f1"]
    assert pca["micro"]["vus_pr"] > metrics["detectors"]["random_2pct"]["micro"]["vus_pr"]
    random_rate = metrics["detectors"]["random_2pct"]["micro"]["alarm_rate"]
    assert random_rate == pytest.approx(0.02, abs=0.002)
    report = (root / "out" / "report.md").read_text()
    assert "random_2pct (sanity)" in report and "(oracle)" in report and "Headline: micro" in report
    assert "| **total (micro)** |" in report
    for name in CHANNELS:
        png = root / "out" / "plots" / "pca" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pca: PA-F1" in stdout and "random_2pct (sanity)" in stdout


def _rewrite_labels(data: Path) -> None:
    """Move every labelled span elsewhere: the test labels now say something entirely different."""
    path = data / "labeled_anomalies.csv"
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        steps = int(row["num_values"])
        row["anomaly_sequences"] = json.dumps([[steps // 3, steps // 3 + 40], [steps - 60, steps - 30]])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_thresholds_and_scores_never_depend_on_test_labels(run, tmp_path) -> None:
    root, _, _ = run
    relabelled = tmp_path / "data"
    shutil.copytree(root / "data", relabelled)
    _rewrite_labels(relabelled)
    assert run_cli(*train_args(relabelled, tmp_path / "models"))[0] == 0
    code, _, err = run_cli(
        "replay",
        "--data",
        str(relabelled),
        "--models",
        str(tmp_path / "models"),
        "--detectors",
        "pca",
        "--out",
        str(tmp_path / "out"),
        "--no-plots",
    )
    assert code == 0, err
    for name in CHANNELS:
        original = json.loads((ModelStore(root / "models").live_path("pca", name) / "metadata.json").read_text())
        retrained = json.loads((ModelStore(tmp_path / "models").live_path("pca", name) / "metadata.json").read_text())
        assert retrained["threshold"] == original["threshold"]
        with (
            np.load(root / "out" / "scores" / "pca" / f"{name}.npz") as a,
            np.load(tmp_path / "out" / "scores" / "pca" / f"{name}.npz") as b,
        ):
            for key in ("score", "threshold", "alarm", "contributions"):
                np.testing.assert_array_equal(a[key], b[key])
    before = json.loads((root / "out" / "metrics.json").read_text())["detectors"]["pca"]["micro"]
    after = json.loads((tmp_path / "out" / "metrics.json").read_text())["detectors"]["pca"]["micro"]
    assert before["point_wise"] != after["point_wise"], "the labels did change the evaluation"


def test_up_to_date_channels_are_skipped_unless_forced(run, tmp_path) -> None:
    root, _, _ = run
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    stamp = json.loads((ModelStore(models).live_path("pca", "S-2") / "metadata.json").read_text())["training"][
        "trained_at"
    ]
    code, out, err = run_cli(*train_args(root / "data", models))
    assert code == 0 and "trained 0, skipped 3" in out
    assert "S-2: up to date, skipped" in err
    assert (
        json.loads((ModelStore(models).live_path("pca", "S-2") / "metadata.json").read_text())["training"]["trained_at"]
        == stamp
    )
    code, out, _ = run_cli(*train_args(root / "data", models, "--force", "--channels", "S-2"))
    assert code == 0 and "trained 1, skipped 0 of 1" in out
    code, out, _ = run_cli(*train_args(root / "data", models, "--set", "components=2"))
    assert code == 0 and "trained 3, skipped 0" in out, "a changed config retrains"
    before = json.loads((ModelStore(models).live_path("pca", "S-2") / "metadata.json").read_text())
    code, out, err = run_cli(*train_args(root / "data", models, "--set", "components=2", "--risk", "0.01"))
    assert code == 0 and "trained 0, skipped 3" in out, "changed threshold options only recalibrate"
    assert "S-2: up to date (threshold recalibrated), skipped" in err
    after = json.loads((ModelStore(models).live_path("pca", "S-2") / "metadata.json").read_text())
    assert after["training"]["trained_at"] == before["training"]["trained_at"]
    assert (
        after["threshold"]["config"]["risk"] == 0.01
        and after["threshold"]["threshold"] < before["threshold"]["threshold"]
    )
    code, out, err = run_cli(*train_args(root / "data", models, "--set", "components=2", "--risk", "0.01"))
    assert code == 0 and "trained 0, skipped 3" in out
    assert "S-2: up to date, skipped" in err, "a model recalibrated earlier is not recalibrated again"


def test_replay_can_switch_on_spot_adaptation(run, tmp_path) -> None:
    root, _, _ = run
    code, _, err = run_cli(
        "replay",
        "--data",
        str(root / "data"),
        "--models",
        str(root / "models"),
        "--detectors",
        "pca",
        "--out",
        str(tmp_path / "out"),
        "--adaptation",
        "spot",
        "--no-plots",
        "--channels",
        "S-1,S-3",
        "--vus-max-buffer",
        "10",
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["settings"]["channels"] == ["S-1", "S-3"]
    assert metrics["detectors"]["pca"]["thresholds"]["S-1"]["adaptation"] == "spot"
    moved = False
    for name in ("S-1", "S-3"):
        calibrated = json.loads((ModelStore(root / "models").live_path("pca", name) / "metadata.json").read_text())[
            "threshold"
        ]
        with np.load(tmp_path / "out" / "scores" / "pca" / f"{name}.npz") as arrays:
            threshold = arrays["threshold"]
        assert threshold[0] == pytest.approx(calibrated["threshold"], rel=1e-6)
        moved |= len(np.unique(threshold)) > 1
    assert moved, "SPOT adapts the threshold to the peaks of the stream"


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--detector", "nope", "--data", "{data}", "--out", "{tmp}/m"], "unknown detector 'nope'"),
        (["train", "--detector", "pca", "--data", "{tmp}/missing", "--out", "{tmp}/m"], "no such file or directory"),
        (["train", "--detector", "pca", "--data", "{data}", "--out", "{tmp}/m", "--set", "window"], "key=value"),
        (["train", "--detector", "pca", "--data", "{data}", "--out", "{tmp}/m", "--set", "bogus=1"], "bogus"),
        (["train", "--detector", "pca", "--data", "{data}", "--out", "{tmp}/m", "--channels", "S-9"], "S-9"),
        (["train", "--detector", "pca", "--data", "{data}", "--out", "{tmp}/m", "--risk", "2"], "risk"),
        (
            ["train", "--detector", "pca", "--data", "{data}", "--out", "{tmp}/m", "--adaptation", "kalman"],
            "adaptation",
        ),
        (
            ["replay", "--data", "{data}", "--models", "{models}", "--detectors", "nope", "--out", "{tmp}/o"],
            "no trained 'nope' models",
        ),
        (
            ["replay", "--data", "{data}", "--models", "{tmp}", "--detectors", "pca", "--out", "{tmp}/o"],
            "no trained 'pca' models",
        ),
        (
            [
                "replay",
                "--data",
                "{data}",
                "--models",
                "{models}",
                "--detectors",
                "pca",
                "--out",
                "{tmp}/o",
                "--channels",
                "S-9",
            ],
            "S-9",
        ),
        (
            [
                "replay",
                "--data",
                "{data}",
                "--models",
                "{models}",
                "--detectors",
                "pca",
                "--out",
                "{tmp}/o",
                "--adaptation",
                "kalman",
            ],
            "adaptation",
        ),
        (
            [
                "replay",
                "--data",
                "{data}",
                "--models",
                "{models}",
                "--detectors",
                "pca",
                "--out",
                "{tmp}/o",
                "--set",
                "fusion.open_after=0",
            ],
            "fusion.open_after",
        ),
        (
            [
                "replay",
                "--data",
                "{data}",
                "--models",
                "{models}",
                "--detectors",
                "pca",
                "--out",
                "{tmp}/o",
                "--start-time",
                "yesterday",
            ],
            "--start-time",
        ),
    ],
)
def test_bad_inputs_fail_with_one_line(run, tmp_path, args, message) -> None:
    root, _, _ = run
    filled = [a.format(data=root / "data", models=root / "models", tmp=tmp_path) for a in args]
    code, _, err = run_cli(*filled)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]


def test_replay_backtests_the_fused_pipeline_and_each_detector_alone(run, tmp_path) -> None:
    from streamproc.serde import Codec

    root, channels, _ = run
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    assert (
        run_cli(
            "train",
            "--detector",
            "range",
            "--data",
            str(root / "data"),
            "--out",
            str(models),
            "--set",
            f"window={WINDOW}",
        )[0]
        == 0
    )
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        "replay",
        "--data",
        str(root / "data"),
        "--models",
        str(models),
        "--detectors",
        "pca,range",
        "--out",
        str(out),
        "--set",
        "fusion.open_after=2",
        "--set",
        "window.stride=4",
        "--start-time",
        "2026-01-01T00:00:00",
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    pipeline = metrics["pipeline"]
    assert pipeline["detectors"] == ["pca", "range"] and pipeline["alerts_file"] == "alerts.jsonl"
    assert (pipeline["window"], pipeline["stride"], pipeline["fusion"]["open_after"]) == (WINDOW, 4, 2)
    assert pipeline["micro"]["incidents"] == sum(len(c.events) for c in channels.values())
    assert pipeline["micro"]["incidents_caught"] > 0, "the planted anomalies are easy"
    records = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    assert records and {r["state"] for r in records} >= {"OPEN", "RESOLVED"}
    codec = Codec()
    for record in records:  # every line is an Alert record of the Avro contract
        assert codec.decode(codec.encode("Alert", record)).record == record
    opened = min(r["opened_at"] for r in records)
    assert opened >= 1_767_225_600_000, "test steps are timed from --start-time"
    assert sum(r["state"] == "OPEN" for r in records) == pipeline["micro"]["alerts"]
    for detector in ("pca", "range"):
        alone = metrics["detectors"][detector]["alerts"]
        assert alone["detectors"] == [detector] and alone["fusion"]["policy"] == "max"
        lines = (out / "alerts" / f"{detector}.jsonl").read_text().splitlines()
        assert sum('"state":"OPEN"' in line for line in lines) == alone["micro"]["alerts"]
    assert (out / "plots" / "pipeline" / "S-1.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "## Alerts: what operators would have received" in report and "range alone" in report
    assert "pca + range (alerts): " in stdout and "incidents caught" in stdout


def test_replay_refuses_to_fuse_detectors_of_different_windows(run, tmp_path) -> None:
    root, _, _ = run
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    assert run_cli("train", "--detector", "range", "--data", str(root / "data"), "--out", str(models))[0] == 0
    code, _, err = run_cli(
        "replay",
        "--data",
        str(root / "data"),
        "--models",
        str(models),
        "--detectors",
        "pca,range",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1 and "cannot fuse detectors with different windows (pca: 8, range: 2)" in err
    assert not (tmp_path / "o" / "alerts.jsonl").exists()


def test_replay_refuses_channels_without_a_model(run, tmp_path) -> None:
    root, _, _ = run
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    shutil.rmtree(models / "pca" / "S-3")
    code, _, err = run_cli(
        "replay",
        "--data",
        str(root / "data"),
        "--models",
        str(models),
        "--detectors",
        "pca",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1
    assert err.strip().splitlines() == [
        "error: no trained model for some channels (pca: S-3); train them or pass --channels"
    ]


def test_training_warns_about_scored_features_that_never_varied(tmp_path) -> None:
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=N_FEATURES, train_steps=400, test_steps=100, anomaly_ratio=0.06, seed=6),
        n_channels=2,
    )
    flat = channels["S-1"]
    flat.train[:, 0] = 1.0  # a sensor that sat still through the whole training period
    write_telemanom(tmp_path / "data", channels)
    code, out, err = run_cli(*train_args(tmp_path / "data", tmp_path / "models"))
    assert code == 0, err
    assert "S-1:" in err and "1 scored feature(s) did not vary in training" in err
    assert "S-2:" in err and err.count("did not vary in training") == 1


def test_ctrl_c_in_train_says_what_was_kept(run, tmp_path, monkeypatch) -> None:
    import streamproc.cli._train as train_command

    root, _, _ = run
    real = train_command.train_channel
    calls = []

    def interrupted_on_the_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_command, "train_channel", interrupted_on_the_second)
    code, _, err = run_cli(*train_args(root / "data", tmp_path / "models"))
    assert code == 130
    assert "pca: interrupted; 1 channel(s) trained and saved in" in err and "2 left" in err
    assert (ModelStore(tmp_path / "models").live_path("pca", calls[0]) / "metadata.json").exists()


def test_training_names_the_features_structure_aware_reads_relative(tmp_path) -> None:
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=N_FEATURES, train_steps=400, test_steps=100, anomaly_ratio=0.06, seed=6),
        n_channels=1,
    )
    warming = channels["S-1"]
    warming.train[:, 0] = np.linspace(0.0, 50.0, len(warming.train))  # a temperature warming through the run
    write_telemanom(tmp_path / "data", channels)
    small = ("window=16", "d_model=8", "layers=1", "kernel_sizes=[3]", "dilations=[1]", "epochs=1")
    args = ["train", "--detector", "structure_aware", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m")]
    code, _, err = run_cli(*args, *(part for setting in small for part in ("--set", setting)))
    assert code == 0, err
    (line,) = [line for line in err.splitlines() if "S-1:" in line]
    assert "1 feature(s) drift between training quarters: read relative to their latest value" in line
