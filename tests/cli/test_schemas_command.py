from __future__ import annotations

import json
import subprocess
import sys


def streamproc(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "streamproc", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_list_show_and_check():
    listed = streamproc("schemas", "list")
    assert listed.returncode == 0
    assert {"SensorReading", "AnomalyScore", "Alert", "Feedback", "DeadLetter"} <= {
        line.split()[0] for line in listed.stdout.splitlines()[1:]
    }
    shown = streamproc("schemas", "show", "Alert")
    assert shown.returncode == 0 and json.loads(shown.stdout)["name"] == "Alert"
    checked = streamproc("schemas", "check")
    assert checked.returncode == 0 and checked.stdout.count(": ok") == 6


def test_unknown_schema_is_one_error_line():
    result = streamproc("schemas", "show", "Nope")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: unknown schema 'Nope'; known: Alert, AnomalyScore, "
        "DeadLetter, Feedback, SensorReading, SensorReadingBatch"
    ]


def test_check_against_an_incompatible_previous_contract_fails_with_one_line(tmp_path):
    previous = {
        "type": "record",
        "name": "Feedback",
        "namespace": "io.streamproc",
        "doc": "d",
        "fields": [{"name": "alert_id", "type": "long", "doc": "d"}],
    }
    (tmp_path / "feedback.avsc").write_text(json.dumps(previous))
    result = streamproc("schemas", "check", "--against", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: feedback.avsc: cannot read data written with")
