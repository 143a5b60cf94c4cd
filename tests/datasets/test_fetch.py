from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from telemanom_upstream import UPSTREAM_ROWS, build_archive, label_csv, npy_bytes, upstream_members

from streamproc.datasets import ChecksumError, DatasetError, fetch_telemanom, load_telemanom


def _leftovers(parent, name):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def test_fetch_unpacks_only_the_requested_spacecraft(upstream, tmp_path, no_known_checksums):
    messages = []
    result = fetch_telemanom("smap", tmp_path / "SMAP", base_url=upstream.url, log=messages.append)

    assert result.channels == ["A-1", "P-1", "P-2"]
    assert sorted(p.name for p in (tmp_path / "SMAP" / "train").iterdir()) == ["A-1.npy", "P-1.npy", "P-2.npy"]
    assert sorted(p.name for p in (tmp_path / "SMAP" / "test").iterdir()) == ["A-1.npy", "P-1.npy", "P-2.npy"]
    with (tmp_path / "SMAP" / "labeled_anomalies.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["chan_id"] for r in rows] == ["P-1", "P-2", "A-1", "P-2"]  # raw rows kept, MSL's dropped
    ds = load_telemanom(tmp_path / "SMAP")
    assert ds.channels == ["A-1", "P-1", "P-2"]
    np.testing.assert_array_equal(ds.channel("P-1").test.shape, (60, 3))
    assert not (tmp_path / "SMAP" / ".downloads").exists()
    assert _leftovers(tmp_path, "SMAP") == []


def test_fetch_msl(upstream, tmp_path, no_known_checksums):
    result = fetch_telemanom("MSL", tmp_path / "msl", base_url=upstream.url)
    assert result.spacecraft == "MSL" and result.channels == ["M-1"]


def test_unknown_checksum_warns_with_the_digest_and_records_it_unverified(upstream, tmp_path, no_known_checksums):
    sums = upstream.publish(build_archive(upstream_members()), label_csv())
    messages = []
    fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url, log=messages.append)
    warnings = [m for m in messages if m.startswith("warning:")]
    assert len(warnings) == 2
    assert any(sums["archive"] in m and "--archive-sha256" in m for m in warnings)
    record = json.loads((tmp_path / "d" / "fetch.json").read_text())
    assert {f["name"]: (f["sha256"], f["verified"]) for f in record["files"]} == {
        "data.zip": (sums["archive"], False),
        "labeled_anomalies.csv": (sums["labels"], False),
    }


def test_matching_checksums_are_verified(upstream, tmp_path, no_known_checksums):
    sums = upstream.publish(build_archive(upstream_members()), label_csv())
    messages = []
    result = fetch_telemanom(
        "smap", tmp_path / "d", base_url=upstream.url, checksums=sums, require_checksums=True, log=messages.append
    )
    assert all(f.verified for f in result.files)
    assert not [m for m in messages if m.startswith("warning:")]


def test_checksum_mismatch_fails_and_leaves_nothing(upstream, tmp_path, no_known_checksums):
    sums = upstream.publish(build_archive(upstream_members()), label_csv())
    wrong = {"archive": "0" * 64, "labels": sums["labels"]}
    with pytest.raises(ChecksumError, match="SHA-256 mismatch for data.zip") as err:
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url, checksums=wrong)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "d").exists()
    assert _leftovers(tmp_path, "d") == []


def test_recorded_checksum_is_used_when_none_is_given(upstream, tmp_path, monkeypatch):
    from streamproc.datasets import _fetch

    original = _fetch.telemanom_sources

    def sources():
        data = original()
        data["files"]["labels"]["sha256"] = "f" * 64
        return data

    monkeypatch.setattr(_fetch, "telemanom_sources", sources)
    with pytest.raises(ChecksumError, match="labeled_anomalies.csv"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url, checksums={"archive": None})
    assert not (tmp_path / "d").exists()


def test_require_checksums_fails_before_downloading(upstream, tmp_path, no_known_checksums):
    with pytest.raises(DatasetError, match="no known SHA-256 for data.zip, labeled_anomalies.csv"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url, require_checksums=True)
    assert upstream.requests == []
    assert not (tmp_path / "d").exists()


def test_malformed_checksum_is_rejected(upstream, tmp_path):
    with pytest.raises(DatasetError, match="64 hex digits"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url, checksums={"archive": "abc"})


@pytest.mark.parametrize(
    "evil",
    ["../escape.npy", "/abs/train/P-1.npy", "data/../../train/P-1.npy", "C:/train/P-1.npy", "..\\train\\P-1.npy"],
)
def test_archive_with_traversing_member_is_refused(upstream, tmp_path, no_known_checksums, evil):
    members = upstream_members()
    members[evil] = npy_bytes(np.zeros((3, 3)))
    upstream.publish(build_archive(members), label_csv())
    dest = tmp_path / "work" / "d"
    with pytest.raises(DatasetError, match="points outside the archive"):
        fetch_telemanom("smap", dest, base_url=upstream.url)
    assert not dest.exists()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == []
    assert not (tmp_path / "escape.npy").exists() and not (tmp_path / "train").exists()


def test_archive_missing_a_labelled_channel(upstream, tmp_path, no_known_checksums):
    members = upstream_members()
    del members["data/test/A-1.npy"]
    upstream.publish(build_archive(members), label_csv())
    with pytest.raises(DatasetError, match="lacks arrays for labelled channels: test/A-1.npy"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url)
    assert not (tmp_path / "d").exists()


def test_member_that_is_not_an_array(upstream, tmp_path, no_known_checksums):
    members = upstream_members()
    members["data/train/P-1.npy"] = b"import os"
    upstream.publish(build_archive(members), label_csv())
    with pytest.raises(DatasetError, match="not a readable .npy array"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url)
    assert _leftovers(tmp_path, "d") == []


def test_not_a_zip(upstream, tmp_path, no_known_checksums):
    upstream.publish(b"<html>not found</html>", label_csv())
    with pytest.raises(DatasetError, match="not a valid zip archive"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url)


def test_http_error_is_one_line(upstream, tmp_path, no_known_checksums):
    (upstream.root / "labeled_anomalies.csv").unlink()
    with pytest.raises(DatasetError, match=r"could not download .*labeled_anomalies.csv: HTTP 404"):
        fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url)
    assert not (tmp_path / "d").exists()


def test_labels_without_the_spacecraft(upstream, tmp_path, no_known_checksums):
    upstream.publish(build_archive(upstream_members()), label_csv([r for r in UPSTREAM_ROWS if r[1] == "SMAP"]))
    with pytest.raises(DatasetError, match="no rows for spacecraft MSL"):
        fetch_telemanom("msl", tmp_path / "d", base_url=upstream.url)
    assert upstream.requests == ["/labeled_anomalies.csv"]  # the archive is never downloaded


def test_existing_directory_needs_force_and_force_replaces_only_data_sets(upstream, tmp_path, no_known_checksums):
    dest = tmp_path / "d"
    fetch_telemanom("smap", dest, base_url=upstream.url)
    (dest / "stale.txt").write_text("old")
    with pytest.raises(DatasetError, match="not empty; pass --force"):
        fetch_telemanom("smap", dest, base_url=upstream.url)
    fetch_telemanom("smap", dest, base_url=upstream.url, force=True)
    assert not (dest / "stale.txt").exists()
    assert _leftovers(tmp_path, "d") == []

    unrelated = tmp_path / "home"
    unrelated.mkdir()
    (unrelated / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="holds no telemanom data set"):
        fetch_telemanom("smap", unrelated, base_url=upstream.url, force=True)
    assert (unrelated / "notes.txt").read_text() == "keep me"


def test_empty_existing_directory_is_used(upstream, tmp_path, no_known_checksums):
    (tmp_path / "d").mkdir()
    fetch_telemanom("smap", tmp_path / "d", base_url=upstream.url)
    assert (tmp_path / "d" / "labeled_anomalies.csv").is_file()


def test_unknown_dataset_and_scheme(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'smd'"):
        fetch_telemanom("smd", tmp_path / "d")
    with pytest.raises(DatasetError, match="unsupported URL scheme"):
        fetch_telemanom("smap", tmp_path / "d", base_url="ftp://example.invalid")


def test_default_sources_point_upstream():
    from streamproc.datasets import telemanom_sources

    files = telemanom_sources()["files"]
    assert files["archive"]["url"].endswith("/telemanom/data.zip")
    assert files["labels"]["url"].endswith("/labeled_anomalies.csv")
