from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest

from streamproc.datasets import DatasetError, load_tabular

CSV = """timestamp,temp,pressure,label
2024-01-01T00:00:00Z,20.5,1.01,0
2024-01-01T00:00:01Z,20.6,,0
2024-01-01T00:00:02+00:00,20.7,1.03,1
2024-01-01T00:00:03,nan,1.04,true
2024-01-01T00:00:04Z,20.9,1.05,false
"""


def _write(tmp_path, text, name="readings.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_iso_timestamps_labels_and_gaps(tmp_path):
    ds = load_tabular(_write(tmp_path, CSV), label_column="label")
    assert ds.feature_names == ["temp", "pressure"]
    assert ds.values.dtype == np.float32 and ds.values.shape == (5, 2)
    assert np.isnan(ds.values[1, 1]) and np.isnan(ds.values[3, 0])
    assert ds.values[2, 1] == pytest.approx(1.03)
    start = 1704067200.0  # 2024-01-01T00:00:00Z; text without an offset is read as UTC too
    np.testing.assert_allclose(ds.timestamps, start + np.arange(5))
    assert ds.labels.tolist() == [False, False, True, True, False]
    assert ds.segments == [(2, 3)]
    assert len(ds) == 5


def test_numeric_timestamps_value_selection_and_no_labels(tmp_path):
    path = _write(tmp_path, "t,a,b,c\n10,1,2,3\n20,4,5,6\n20,7,8,9\n")
    ds = load_tabular(path, timestamp_column="t", value_columns=["c", "a"])
    assert ds.feature_names == ["c", "a"]
    np.testing.assert_array_equal(ds.values, [[3, 1], [6, 4], [9, 7]])
    np.testing.assert_array_equal(ds.timestamps, [10, 20, 20])
    assert ds.labels is None and ds.segments == []


def test_without_timestamp_column_rows_are_numbered(tmp_path):
    ds = load_tabular(_write(tmp_path, "a\n1\n2\n"), timestamp_column=None)
    np.testing.assert_array_equal(ds.timestamps, [0, 1])


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("timestamp,a\n1,x\n", {}, r"data row 1, column 'a': not a number: 'x'"),
    ("timestamp,a\n2,1\n1,1\n", {}, "timestamps go backwards at data row 1"),
    ("timestamp,a\nyesterday,1\n", {}, "not a number or ISO 8601 time: 'yesterday'"),
    ("timestamp,a\n1,1\n", {"label_column": "label"}, "no label column 'label'; columns: timestamp, a"),
    ("time,a\n1,1\n", {}, "no timestamp column 'timestamp'"),
    ("timestamp,a\n1,1\n", {"value_columns": ["b"]}, "no value column.s. b"),
    ("timestamp,label\n1,0\n", {"label_column": "label"}, "no value columns"),
    ("timestamp,a,label\n1,1,maybe\n", {"label_column": "label"}, "label must be 0/1 or true/false, got 'maybe'"),
    ("timestamp,a\n1,1,3\n", {}, r"readings.csv:2: 3 fields, the header has 2"),
    ("timestamp,a\n", {}, "no data rows"),
    ("", {}, "empty file"),
    ("timestamp,a,a\n1,2,3\n", {}, "duplicate column names"),
])
def test_bad_csv_names_the_problem(tmp_path, text, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        load_tabular(_write(tmp_path, text), **kwargs)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        load_tabular(tmp_path / "absent.csv")
    with pytest.raises(DatasetError, match="unsupported file type '.xlsx'"):
        load_tabular(_write(tmp_path, "x", name="data.xlsx"))


def test_to_channel_splits_train_and_test(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},{int(i in (7, 8))}" for i in range(10))
    ds = load_tabular(_write(tmp_path, "timestamp,v,label\n" + rows + "\n"), label_column="label")
    ch = ds.to_channel(5, name="line-1")
    assert ch.name == "line-1" and ch.train.shape == (5, 1) and ch.test.shape == (5, 1)
    assert ch.labels.tolist() == [False, False, True, True, False] and ch.segments == [(2, 3)]
    assert ds.to_channel(5).name == "readings"
    with pytest.raises(DatasetError, match="row 7 of the training part is labelled anomalous"):
        ds.to_channel(8)
    with pytest.raises(DatasetError, match="train_steps must be between 1 and 9"):
        ds.to_channel(10)


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "readings.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="reading Parquet needs pyarrow"):
        load_tabular(path)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="pyarrow not installed")
def test_parquet_round_trip(tmp_path):
    from datetime import datetime, timezone

    import pyarrow as pa
    import pyarrow.parquet as pq

    times = [datetime(2024, 1, 1, 0, 0, s, tzinfo=timezone.utc) for s in range(3)]
    table = pa.table({"timestamp": times, "a": [1.0, None, 3.0], "b": [1, 2, 3], "label": [False, True, False]})
    pq.write_table(table, tmp_path / "r.parquet")
    ds = load_tabular(tmp_path / "r.parquet", label_column="label")
    np.testing.assert_allclose(ds.timestamps, 1704067200.0 + np.arange(3))
    assert ds.feature_names == ["a", "b"] and np.isnan(ds.values[1, 0])
    assert ds.labels.tolist() == [False, True, False]
