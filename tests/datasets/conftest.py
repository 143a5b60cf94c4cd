"""A tiny telemanom "upstream": a generated data.zip and label file served by a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from telemanom_upstream import build_archive, label_csv, upstream_members


@dataclass
class Upstream:
    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def publish(self, archive: bytes, labels: bytes) -> dict[str, str]:
        (self.root / "data.zip").write_bytes(archive)
        (self.root / "labeled_anomalies.csv").write_bytes(labels)
        return {"archive": hashlib.sha256(archive).hexdigest(), "labels": hashlib.sha256(labels).hexdigest()}


@pytest.fixture
def upstream(tmp_path):
    root = tmp_path / "upstream"
    root.mkdir()
    served = Upstream(root, "")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            served.requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    served.publish(build_archive(upstream_members()), label_csv())
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def no_known_checksums(monkeypatch):
    """Tests of the trust-on-first-use path must not depend on what sources.json records."""
    from streamproc.datasets import _fetch

    original = _fetch.telemanom_sources

    def sources():
        data = original()
        for entry in data["files"].values():
            entry["sha256"] = None
        return data

    monkeypatch.setattr(_fetch, "telemanom_sources", sources)
