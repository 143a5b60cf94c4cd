from __future__ import annotations

from streamproc.metrics import markdown_table, metric_cell


def test_metric_cell_tells_missing_from_undefined():
    metrics = {"point_wise": {"f1": 0.12345}, "vus_pr": None, "alarm_rate": 0.0, "alerts": 12}
    assert metric_cell(metrics, ("point_wise", "f1")) == "0.123"
    assert metric_cell(metrics, ("alarm_rate",)) == "0.000"
    assert metric_cell(metrics, ("alerts",)) == "12", "a count is shown as a count"
    assert metric_cell(metrics, ("vus_pr",)) == "n/a"
    assert metric_cell(metrics, ("event_wise", "f1")) == "-"
    assert metric_cell(metrics, ("point_wise", "f1", "deeper")) == "-"


def test_markdown_table_aligns_text_left_and_numbers_right():
    lines = markdown_table(
        ["detector", "level", "F1"], [["pca", "2%", "0.500"], ["range", "5%", "n/a"]], text_columns=2
    )
    assert lines == ["| detector | level | F1 |", "|---|---|---:|", "| pca | 2% | 0.500 |", "| range | 5% | n/a |"]
    assert markdown_table(["a", "b"], [], text_columns=0) == ["| a | b |", "|---:|---:|"]
