"""CSV and Parquet files as data sets: detection, time, split, labels and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streamproc.datasets import DatasetError, TableOptions, open_dataset, open_table_dataset, record
from streamproc.training import ModelStore


def write_csv(path, rows, header="datetime;a;b;anomaly;changepoint", sep=";"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header] + [sep.join(str(c) for c in row) for row in rows]) + "\n")
    return path


def skab_like(n=60, anomalous=range(40, 50), start=datetime(2020, 3, 9, 10, 14, 33)):
    """Rows like SKAB's: local time a second apart (one 3-second gap), two sensors, two labels."""
    rows = []
    moment = start
    for i in range(n):
        moment += timedelta(seconds=3 if i == 20 else 1)
        flag = 1 if i in anomalous else 0
        rows.append(
            [moment.strftime("%Y-%m-%d %H:%M:%S"), 0.1 * i, 2.0 + np.sin(i), flag, 1 if i == anomalous.start else 0]
        )
    return rows


def test_a_folder_of_skab_like_files_is_detected_and_split(tmp_path):
    for name in ("0", "2", "10"):
        write_csv(tmp_path / "valve1" / f"{name}.csv", skab_like())
    dataset = open_dataset(tmp_path / "valve1", TableOptions(train_rows=30, timezone="Europe/Moscow"))
    assert dataset.channels == ["valve1-0", "valve1-2", "valve1-10"]
    assert dataset.detected == [
        "3 file(s), one channel each",
        "delimiter ';'",
        "timestamp column 'datetime'",
        "label column(s) anomaly, changepoint (never features)",
    ]
    channel = dataset.channel("valve1-2")
    assert channel.feature_names == ["a", "b"], "labels never become features"
    assert channel.train.shape == (30, 2) and channel.test.shape == (30, 2)
    assert channel.labels.sum() == 10 and channel.segments == [(10, 19)]
    # Local Moscow time (UTC+3) in epoch ms; the recording carries the real times.
    first = int(datetime(2020, 3, 9, 7, 14, 34, tzinfo=UTC).timestamp() * 1000)
    assert channel.train_timestamps[0] == first
    assert channel.train_timestamps[20] - channel.train_timestamps[19] == 3000
    recording = record(channel, warmup=5)
    np.testing.assert_array_equal(
        recording.timestamps_ms, np.concatenate([channel.train_timestamps[-5:], channel.test_timestamps])
    )


def test_split_by_fraction_or_time_and_numeric_epochs(tmp_path):
    rows = [[1_600_000_000 + i, i, i * 2, 0, 0] for i in range(50)]
    path = write_csv(tmp_path / "plant.csv", rows, header="timestamp,a,b,label,changepoint", sep=",")
    name = f"{tmp_path.name}-plant"  # a file is named as it would be inside its folder
    by_fraction = open_table_dataset(path, TableOptions(train_fraction=0.6)).channel(name)
    assert by_fraction.train.shape == (30, 2) and by_fraction.test_timestamps[0] == 1_600_000_030_000
    by_time = open_table_dataset(path, TableOptions(train_until=1_600_000_010_000)).channel(name)
    assert len(by_time.train) == 10
    assert open_dataset(tmp_path, TableOptions(train_rows=5)).channels == [name]


def test_train_until_is_read_in_the_files_time_zone(tmp_path):
    write_csv(tmp_path / "v" / "0.csv", skab_like())  # local times from 2020-03-09 10:14:34
    options = TableOptions(train_until="2020-03-09 10:14:44", timezone="Europe/Moscow")
    assert len(open_dataset(tmp_path / "v", options).channel("v-0").train) == 10


def test_parquet_files_read_like_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    times = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(40)]
    table = pa.table({"time": times, "flow": np.arange(40.0), "anomaly": [0] * 30 + [1] * 10})
    pq.write_table(table, tmp_path / "pump.parquet")
    channel = open_dataset(tmp_path, TableOptions(train_rows=20)).channel(f"{tmp_path.name}-pump")
    assert channel.feature_names == ["flow"] and channel.labels.sum() == 10
    assert channel.test_timestamps[0] - channel.train_timestamps[-1] == 60_000


@pytest.mark.parametrize(
    "rows, options, message",
    [
        (None, {}, "say how to split"),
        ([["2020-03-09 10:00:00", "x", 1, 0, 0]] * 3, {"train_rows": 2}, "data row 1, column 'a': not a number: 'x'"),
        (
            [
                ["2020-03-09 10:00:00", 1, 1, 0, 0],
                ["2020-03-09 10:00:00", 1, 1, 0, 0],
                ["2020-03-09 10:00:01", 1, 1, 0, 0],
            ],
            {"train_rows": 2},
            "data row 2, column 'datetime': time does not increase",
        ),
        (
            [["2020-03-09 10:00:0" + str(i), 1, 1, int(i == 0), 0] for i in range(4)],
            {"train_rows": 2},
            "data row 1 of the training part is labelled anomalous",
        ),
        ([["yesterday", 1, 1, 0, 0]] * 3, {"train_rows": 2}, "not a time: 'yesterday'"),
        ([["inf", 1, 1, 0, 0]] * 3, {"train_rows": 2}, "not a time: 'inf'"),
        ([["1e30", 1, 1, 0, 0]] * 3, {"train_rows": 2}, "not a time: '1e30'"),
        (
            [["2020-03-09 10:00:0" + str(i), 1, 1, 0, 0] for i in range(4)],
            {"train_rows": 4},
            "both parts must have rows",
        ),
        (
            [["2020-03-09 10:00:0" + str(i), 1, 1, 0, 0] for i in range(4)],
            {"train_rows": 2, "label_columns": ("oops",)},
            "no column 'oops'",
        ),
    ],
)
def test_bad_files_are_one_line_errors_naming_file_row_and_column(tmp_path, rows, options, message):
    path = write_csv(tmp_path / "x.csv", rows or skab_like())
    with pytest.raises(DatasetError) as error:
        dataset = open_table_dataset(path, TableOptions(**options))
        dataset.channel(dataset.channels[0])
    assert message in str(error.value) and "\n" not in str(error.value)
    if rows is not None:
        assert str(path) in str(error.value)


def test_a_file_of_another_kind_is_named_as_such(tmp_path):
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DatasetError, match="not a .csv or .parquet file"):
        open_dataset(tmp_path / "x.tsv", TableOptions(train_rows=2))


def test_a_folder_without_data_files_or_labels_file(tmp_path):
    with pytest.raises(DatasetError, match="no .csv or .parquet files"):
        open_dataset(tmp_path, TableOptions(train_rows=10))
    with pytest.raises(DatasetError, match="not a telemanom directory"):
        open_dataset(tmp_path)


def test_train_and_replay_a_csv_folder_from_the_command_line(tmp_path, run_cli):
    rng = np.random.default_rng(0)
    for name in ("0", "1"):
        rows = []
        moment = datetime(2021, 5, 1, 8, 0, 0)
        for i in range(900):
            # File 1 has a two-minute gap in its test part, 100 steps before its incident.
            moment += timedelta(seconds=121 if name == "1" and i == 600 else 1)
            level = 5.0 if 700 <= i < 760 else 0.0
            rows.append(
                [
                    moment.isoformat(sep=" "),
                    np.sin(i / 9) + 0.05 * rng.normal() + level,
                    np.cos(i / 9) + 0.05 * rng.normal(),
                    int(700 <= i < 760),
                    int(i == 700),
                ]
            )
            # File 0 has blank cells: two in training (filled), ten in a row in its test part
            # (longer than the policy's limit of 3: the windows holding them are not scored).
            if name == "0" and (i in (300, 301) or 620 <= i < 630):
                rows[-1][2 if i < 500 else 1] = ""
        write_csv(tmp_path / "plant" / f"{name}.csv", rows)
    models, out = tmp_path / "models", tmp_path / "out"
    code, _, err = run_cli(
        "train",
        "--detector",
        "pca",
        "--data",
        str(tmp_path / "plant"),
        "--out",
        str(models),
        "--train-rows",
        "500",
        "--set",
        "window=20",
    )
    assert code == 0, err
    assert "timestamp column 'datetime'" in err and "label column(s) anomaly, changepoint" in err
    code, stdout, err = run_cli(
        "replay",
        "--data",
        str(tmp_path / "plant"),
        "--models",
        str(models),
        "--detectors",
        "pca",
        "--out",
        str(out),
        "--train-rows",
        "500",
    )
    assert code == 0, err
    import json

    metadata = json.loads((ModelStore(models).live_path("pca", "plant-1") / "metadata.json").read_text())
    assert metadata["training"]["sampling_period_ms"] == 1000
    filled = json.loads((ModelStore(models).live_path("pca", "plant-0") / "metadata.json").read_text())["training"][
        "missing_values"
    ]
    assert filled == {"filled": 2, "rows_left_out": 0}
    metrics = json.loads((out / "metrics.json").read_text())
    # The gap restarted file 1's window: reported, and no window spans it.
    assert metrics["pipeline"]["window_restarts"] == 1
    # Windows holding more than 3 of the 10 blank steps (rows 620-629) are not scored, and said so.
    assert metrics["pipeline"]["windows_not_scored"] > 0
    assert "test step 130: window not scored: missing values: feature a: missing for 10 consecutive steps" in err
    assert "plant-1: 1 gap(s) in the readings restarted the window (the longest 121 s" in err
    alerts = metrics["pipeline"]["micro"]
    assert alerts["incidents"] == 2 and alerts["incidents_caught"] == 2
    assert alerts["false_alerts_per_day"] is not None and alerts["delay_seconds"]["median"] is not None
    records = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    first_open = min(r["opened_at"] for r in records if r["state"] == "OPEN")
    test_start = datetime(2021, 5, 1, 8, 8, 21, tzinfo=UTC)  # row 500
    assert first_open >= int(test_start.timestamp() * 1000), "alerts carry the data's own time"


def test_times_are_iso_epoch_milliseconds_or_a_span_back_from_now() -> None:
    from streamproc.datasets import parse_time

    assert parse_time("--since", "2026-01-01T00:00:00") == 1767225600000
    assert parse_time("--since", "1767225600000") == 1767225600000
    now = 1767225600000
    assert parse_time("--since", "7d", now_ms=now) == now - 7 * 86_400_000
    assert parse_time("--since", "90s", now_ms=now) == now - 90_000
    with pytest.raises(DatasetError, match="a span like 7d"):
        parse_time("--since", "last week")
