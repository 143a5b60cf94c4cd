from __future__ import annotations

from telemanom_upstream import build_archive, label_csv, upstream_members

from streamproc.datasets import load_telemanom


def test_synth_then_info(tmp_path, run_cli):
    code, out, _ = run_cli(
        "datasets",
        "synth",
        "--to",
        str(tmp_path / "syn"),
        "--channels",
        "2",
        "--features",
        "3",
        "--train-steps",
        "400",
        "--test-steps",
        "1000",
        "--anomaly-ratio",
        "0.1",
        "--seed",
        "4",
    )
    assert code == 0 and "wrote 2 channels" in out
    code, out, _ = run_cli("datasets", "info", str(tmp_path / "syn"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CHANNEL", "TRAIN", "TEST", "FEATURES", "SEGMENTS", "ANOMALOUS", "SPANS"]
    ds = load_telemanom(tmp_path / "syn")
    first = lines[1].split()
    segments = ds.labels("S-1").segments
    assert first[:6] == ["S-1", "400", "1000", "3", str(len(segments)), "10.00%"]
    assert first[6:] == [f"{a}-{b}" for a, b in segments]
    total_segments = sum(len(ds.labels(c).segments) for c in ds.channels)
    assert lines[3] == (
        f"total: 2 channels, 800 train steps, 2000 test steps, {total_segments} segments, "
        f"200 anomalous test steps (10.00%)"
    )


def test_info_on_a_bad_directory_is_one_line(tmp_path, run_cli):
    code, out, err = run_cli("datasets", "info", str(tmp_path))
    assert code == 1 and out == ""
    assert err == f"error: {tmp_path}: not a telemanom directory (train/ missing)\n"


def test_fetch_via_environment_base_url_and_info(upstream, tmp_path, monkeypatch, no_known_checksums, run_cli):
    monkeypatch.setenv("STREAMPROC_DATASETS_URL", upstream.url)
    code, out, err = run_cli("datasets", "fetch", "smap", "--to", str(tmp_path / "SMAP"))
    assert code == 0, err
    assert out == f"SMAP: 3 channels in {tmp_path / 'SMAP'}\n"
    assert err.count("warning: no known SHA-256") == 2
    code, out, _ = run_cli("datasets", "info", str(tmp_path / "SMAP"))
    assert code == 0
    assert "note: P-2 is listed 2 times in the labels; spans merged" in out
    assert "(NOT verified)" in out
    code, out, _ = run_cli("datasets", "info", str(tmp_path / "SMAP"), "--duplicates", "drop")
    assert "note: dropped channels listed more than once: P-2" in out


def test_fetch_checksum_mismatch_is_one_line_and_leaves_nothing(upstream, tmp_path, run_cli):
    sums = upstream.publish(build_archive(upstream_members()), label_csv())
    code, out, err = run_cli(
        "datasets",
        "fetch",
        "smap",
        "--to",
        str(tmp_path / "d"),
        "--base-url",
        upstream.url,
        "--archive-sha256",
        sums["archive"],
        "--labels-sha256",
        "1" * 64,
    )
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "SHA-256 mismatch for labeled_anomalies.csv" in error_lines[0]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream"]


def test_fetch_with_pinned_checksums_reports_verified(upstream, tmp_path, run_cli):
    sums = upstream.publish(build_archive(upstream_members()), label_csv())
    code, _, err = run_cli(
        "datasets",
        "fetch",
        "msl",
        "--to",
        str(tmp_path / "d"),
        "--base-url",
        upstream.url,
        "--archive-sha256",
        sums["archive"],
        "--labels-sha256",
        sums["labels"],
        "--require-checksums",
    )
    assert code == 0 and "warning" not in err
    _, out, _ = run_cli("datasets", "info", str(tmp_path / "d"))
    assert out.count("(verified)") == 2
