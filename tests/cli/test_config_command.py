from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib


def streamproc(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_") and k != "KAFKA_BOOTSTRAP"}
    return subprocess.run(
        [sys.executable, "-m", "streamproc", *args], capture_output=True, text=True, env={**clean, **env}, timeout=60
    )


def test_show_prints_resolved_settings_with_secrets_masked(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[window]\nsize = 32\n")
    result = streamproc(
        "config",
        "show",
        "--config",
        str(config),
        KAFKA_BOOTSTRAP="k:9092",
        STREAMPROC_KAFKA__SECURITY_PROTOCOL="SASL_SSL",
        STREAMPROC_KAFKA__SASL_USERNAME="u",
        STREAMPROC_KAFKA__SASL_PASSWORD="hunter2",
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    shown = tomllib.loads(result.stdout)
    assert shown["window"]["size"] == 32 and shown["kafka"]["bootstrap"] == "k:9092"
    assert shown["kafka"]["sasl_password"] == "***"
    as_json = json.loads(streamproc("config", "show", "--json", STREAMPROC_CONFIG=str(config)).stdout)
    assert as_json["window"]["size"] == 32


def test_bad_value_is_one_error_line_naming_the_key():
    result = streamproc("config", "show", STREAMPROC_WINDOW__SIZE="abc")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: window.size: expected an integer of at least 2, got 'abc' (from STREAMPROC_WINDOW__SIZE)"
    ]
