"""``streamproc bench sensitivity`` end to end on a tiny synthetic telemanom directory with ``pca``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamproc.bench import figure_file
from streamproc.datasets import SyntheticConfig, generate_synthetic_channels, write_telemanom

GRID = ["--ratios", "0.02,0.1", "--noise-levels", "0,0.2", "--windows", "8,16"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    config = SyntheticConfig(n_features=3, train_steps=700, test_steps=1600, anomaly_ratio=0.06, seed=11)
    return write_telemanom(tmp_path_factory.mktemp("tiny") / "data", generate_synthetic_channels(config, 2))


def test_pipeline_writes_every_study_with_spread_over_seeds(data, tmp_path, run_cli):
    out = tmp_path / "sens"
    args = [
        "bench",
        "sensitivity",
        "--data",
        str(data),
        "--out",
        str(out),
        "--detectors",
        "pca",
        "--seeds",
        "2",
        "--set",
        "pca.window=8",
        "--set",
        "pca.components=0.9",
        "--min-length",
        "300",
        "--vus-max-buffer",
        "40",
        *GRID,
    ]
    code, stdout, err = run_cli(*args)
    assert code == 0, err
    assert "ratio/crop pca PW-F1" in stdout
    result = json.loads((out / "sensitivity.json").read_text())
    assert result["settings"]["detector_configs"]["pca"]["components"] == 0.9
    assert set(result["studies"]) == {"ratio", "noise", "window"}

    ratio = result["studies"]["ratio"]
    assert ratio["levels"] == [0.02, 0.1] and ratio["channels"] == ["S-1", "S-2"]
    for point in ratio["construction"]:
        for seed in point["per_seed"]:
            assert seed["anomalous"] / seed["steps"] == pytest.approx(point["target"], abs=1e-12)
            for crop in seed["channels"].values():
                assert crop["achieved"] == pytest.approx(point["target"], abs=1e-12) and crop["length"] >= 300
    assert set(result["studies"]["noise"]["variants"]) == {"eval_only", "train_and_eval"}

    for study in result["studies"].values():
        for variant in study["variants"].values():
            assert set(variant["detectors"]) == {"pca", "random_2pct"}
            for curve in variant["detectors"].values():
                assert [p["level"] for p in curve] == study["levels"]
                for point in curve:
                    for name in ("pa_precision", "pa_recall", "pa_f1", "pw_precision", "pw_recall", "pw_f1", "vus_pr"):
                        summary = point["metrics"][name]
                        assert len(summary["values"]) == 2
                        assert 0.0 <= summary["mean"] <= 1.0
                        assert summary["std"] == pytest.approx(np.std(summary["values"], ddof=1))
    # pca finds the planted anomalies far better than the random baseline, whatever the setting.
    window8 = result["studies"]["window"]["variants"]["retrained"]["detectors"]
    assert window8["pca"][0]["metrics"]["pw_f1"]["mean"] > window8["random_2pct"][0]["metrics"]["pw_f1"]["mean"] + 0.3

    markdown = (out / "sensitivity.md").read_text()
    assert "| pca | 10% |" in markdown and "1/10" in markdown
    for study in ("ratio", "noise", "window"):
        image = np.asarray(Image.open(out / figure_file(study)).convert("L"), dtype=float)
        assert image.shape[1] > 1000 and image.std() > 10  # drawn, not blank

    # A rerun trains nothing: the ratio, noise and window studies reuse the cached models.
    code, _, err = run_cli(*args, "--studies", "ratio")
    assert code == 0, err
    rerun = json.loads((out / "sensitivity.json").read_text())
    assert rerun["run"]["models_trained"] == 0 and rerun["run"]["models_reused"] > 0
    assert rerun["studies"]["ratio"] == result["studies"]["ratio"]


def test_seeds_change_the_noise_and_the_slices_but_a_seed_repeats(data, tmp_path, run_cli):
    def run(out: Path, seeds: str) -> dict:
        code, _, err = run_cli(
            "bench",
            "sensitivity",
            "--data",
            str(data),
            "--out",
            str(out),
            "--seeds",
            seeds,
            "--studies",
            "ratio,noise",
            "--set",
            "pca.window=8",
            "--min-length",
            "300",
            "--vus-max-buffer",
            "10",
            "--ratios",
            "0.05",
            "--noise-levels",
            "0.2",
            "--cache",
            str(tmp_path / "cache"),
        )
        assert code == 0, err
        return json.loads((out / "sensitivity.json").read_text())

    first, again = run(tmp_path / "a", "2"), run(tmp_path / "b", "2")
    assert first["studies"] == again["studies"]
    slices = [s["channels"] for s in first["studies"]["ratio"]["construction"][0]["per_seed"]]
    assert slices[0] != slices[1]
    noisy = first["studies"]["noise"]["variants"]["eval_only"]["detectors"]["pca"][0]["metrics"]["vus_pr"]["values"]
    assert noisy[0] != noisy[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--studies", "ratio,speed"], "unknown study speed"),
        (["--set", "components=0.9"], "--set expects detector.key=value"),
        (["--set", "usad.epochs=1"], "--set names detector(s) not being run: usad"),
        (["--set", "pca.colour=1"], "unknown config key"),
        (["--detectors", "nosuch"], "unknown detector 'nosuch'"),
        (["--channels", "S-9"], "unknown channel(s) S-9"),
        (["--ratios", "0.02,x"], "--ratios expects comma-separated numbers"),
        (["--windows", "1"], "windows must be integers >= 2"),
        (["--min-length", "5000", "--studies", "ratio"], "no channel reaches every target ratio"),
    ],
)
def test_bad_requests_end_in_one_line(data, tmp_path, extra, message, run_cli):
    code, _, err = run_cli(
        "bench", "sensitivity", "--data", str(data), "--out", str(tmp_path / "o"), "--seeds", "1", *extra
    )
    assert code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_models_are_trained_only_where_a_study_needs_them(data, tmp_path, run_cli):
    def run(out: str, *extra: str) -> dict:
        code, _, err = run_cli(
            "bench",
            "sensitivity",
            "--data",
            str(data),
            "--out",
            str(tmp_path / out),
            "--seeds",
            "2",
            "--studies",
            "ratio,noise",
            "--set",
            "pca.window=8",
            "--min-length",
            "300",
            "--vus-max-buffer",
            "10",
            "--ratios",
            "0.05",
            "--noise-levels",
            "0,0.1",
            *extra,
        )
        assert code == 0, err
        return json.loads((tmp_path / out / "sensitivity.json").read_text())

    # 2 channels x 2 seeds x (clean + training noise 10%)
    assert run("all")["run"]["models_trained"] == 8
    shared = run("shared", "--no-reseed-models", "--noise-variants", "eval_only", "--channels", "S-2")
    assert shared["run"]["models_trained"] == 1  # one clean model serves both seeds
    assert shared["settings"]["channel_subset"] and shared["studies"]["ratio"]["channels"] == ["S-2"]
    assert "**a subset: 1 of the 2 channels** (S-2)" in (tmp_path / "shared" / "sensitivity.md").read_text()
    assert list(shared["studies"]["noise"]["variants"]) == ["eval_only"]
    clean = shared["studies"]["noise"]["variants"]["eval_only"]["detectors"]["pca"][0]["metrics"]["pw_f1"]
    assert clean["values"][0] == clean["values"][1] and clean["std"] == 0.0
    assert "every seed uses the models trained with detector seed 0" in shared["procedures"]["seeds"]
