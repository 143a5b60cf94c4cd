"""`streamproc demo` end to end: its own embedded broker, a worker, alerts for planted anomalies."""

from __future__ import annotations

import socket

import pytest

from streamproc.config import Settings
from streamproc.stream import DemoOptions, run_demo

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def test_demo_alerts_on_planted_anomalies_and_ends_by_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.load(env={}, overrides={"window.size": 16, "window.stride": 4, "worker.web_port": port})
    lines: list[str] = []
    result = run_demo(
        settings, DemoOptions(synthetic_channels=1, rate=5000, models_dir=tmp_path / "models"), lines.append
    )
    assert result.finished and result.windows_scored == result.windows_expected > 0
    assert result.caught >= result.planted // 2 > 0
    assert result.opened == result.resolved >= result.caught
    opened = [line for line in lines if " OPEN " in line]
    assert len(opened) == result.opened and any("<- planted" in line for line in opened)
    assert lines[-1].startswith("done:")
    # the default pair of detectors (detectors.enabled), each trained once and scoring every window
    assert {p.name for p in (tmp_path / "models").iterdir()} >= {"structure_aware", "pca"}
    assert (tmp_path / "models" / "structure_aware" / "plant-1").is_dir()
    assert (tmp_path / "cache" / "streamproc" / "demo" / "worker.log").is_file()
